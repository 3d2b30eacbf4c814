"""InfoNet object discovery: a video in, its moving objects out, grouped by mutual information.

    python app.py                                   # http://127.0.0.1:7860, the bundled sample ready
    python app.py --port 8080 --host 0.0.0.0        # or INFONET_PORT / GRADIO_SERVER_PORT
    INFONET_WEIGHTS=runs/main/last.pt python app.py

The input is read by ``datasets.load_input`` (a video, or a zip of a DAVIS or PointOdyssey
sequence), its objects found by ``segmentation.discover_video`` (points tracked, the MI between
every two tracks, tracks that share information grouped, the objects carried to per-pixel
masks), the same call the scripts make. Its result stays in the session, so moving the threshold
or the minimum group size is ``segmentation.regroup`` (the masks redrawn, no tracking and no MI
again), and the download is the scripts' ``result.npz``. Pictures come from
``segmentation.visualize``, the module the scripts use too.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import logging
import os
import shutil
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import gradio as gr
import numpy as np
import pandas as pd

import infonet
import segmentation
from infonet.cli import parse_options
from segmentation import MIN_FRAMES
from segmentation import visualize as vis
from segmentation._imports import datasets  # a clear error if another `datasets` (Hugging Face's) shadows ours

log = logging.getLogger("app")

# Limits that keep one session from starving the others.
MAX_UPLOAD_MB = 500  # MB are 10^6 bytes in every limit and message of the demo
# Gradio's own refusal prints sizes in units of 2^20 bytes ("500.0 Mb" for this cap), so that the
# number it shows is the demo's 500: files of 500-524 MB pass it and _checked_upload refuses them.
GRADIO_MAX_FILE_BYTES = MAX_UPLOAD_MB * 2**20
# A zip may unpack to this much: 300 frames (MAX_FRAMES) of 1080p JPEG at up to 1.5 MB each, their
# masks and the annotations fit, and the few concurrent runs cannot fill the disk.
MAX_UNPACKED_MB = 1000
MAX_SIDE = 640  # uploaded videos are shrunk to this longest side
MAX_POINTS, DEFAULT_POINTS = 1000, 150  # InfoNet on a CPU: about 4 ms per pair of series
MAX_FRAMES, DEFAULT_FRAMES = 300, 120
MAX_MIN_SIZE = 50
FPS = 12
RUN_CONCURRENCY = 2  # discoveries at once; regrouping and clicks are cheap and not limited
SESSION_TTL_S = 4 * 3600

ESTIMATORS = {  # value -> label; KDE and MINE are too slow for all pairs of a video
    "infonet": "InfoNet (neural, one forward pass per pair)",
    "ksg": "KSG (k nearest neighbours)",
    "gaussian": "Gaussian copula",
    "pearson": "Pearson correlation",
}
EXAMPLES = {  # what a run without an upload shows: value -> (label, path)
    "bikes": (
        "Real footage: bikes, a walker and passing cars (no ground truth)",
        datasets.SAMPLE_VIDEO,
    ),
    "sample": ("Generated sample (ground truth: scored)", datasets.SAMPLE_SEQUENCE),
}
CLICK_HINT = (
    "Click a point on the key frame (the one where the most tracks are seen) to see its MI to every other point."
)
TABLE_COLUMNS = ["object", "tracks", "share", "ground-truth match (F)"]


@dataclass
class Session:
    """One browser session's result, kept in a ``gr.State``: regrouping and clicks reuse it.

    Attributes:
        workdir: this session's temporary folder (downloads, video), removed with the session.
        frames: (T, H, W, 3) uint8 RGB.
        result: the pipeline's result (``segmentation.VideoResult``); regrouping replaces it.
        truth: the input's ground truth (``datasets.GroundTruth``: names, masks), or None.
        sweep: the P-R sweep of the grouped tracks for ``sweep_min_size`` (ground truth only).
        source: a line describing the input.
    """

    workdir: Path
    frames: np.ndarray
    result: segmentation.VideoResult | None
    truth: datasets.GroundTruth | None = None
    sweep: segmentation.Sweep | None = None
    sweep_min_size: int = 0
    source: str = ""


class Views(NamedTuple):
    """What the events show, in the order of their ``outputs`` (gr.update / gr.skip where partial)."""

    video: str
    key_frame: np.ndarray
    mi_matrix: object  # matplotlib Figure
    table: pd.DataFrame
    downloads: list[str]
    pr_curve: dict
    summary: str
    auto: dict
    threshold: dict
    mi_map: object
    point_info: object
    session: Session


@contextlib.contextmanager
def user_errors(*folders):
    """Shows data errors in the page (gr.Error) instead of a bare 'Error', without the server's ``folders``."""
    try:
        yield
    except gr.Error:
        raise
    except (ValueError, FileNotFoundError) as err:  # DataError is a ValueError
        message = str(err)
        for folder in folders:
            message = message.replace(f"{folder}{os.sep}", "")
        raise gr.Error(message) from None


def _reporter(progress: gr.Progress, estimator: str):
    """``progress(stage, done, total)`` of the pipeline on Gradio's progress bar."""
    words = {
        "tracking": ("Tracking points", "frames"),
        "motion": ("Measuring the motion", "frames"),
        "mi": (f"MI between tracks ({estimator})", "pairs"),
        "masks": ("Drawing the masks", "frames"),
    }
    return lambda stage, done, total: progress((done, total), desc=words[stage][0], unit=words[stage][1])


# ----------------------------------------------------------------------------- input


def _checked_upload(path, suffixes) -> Path:
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise datasets.DataError(f"{path.name}: unsupported file type; use one of {', '.join(suffixes)}")
    size_mb = path.stat().st_size / 1e6
    if size_mb > MAX_UPLOAD_MB:
        raise datasets.DataError(f"{path.name} is {size_mb:.0f} MB; the demo accepts up to {MAX_UPLOAD_MB} MB")
    return path


def load_input(
    video, tracks, example: str = "bikes", *, num_points: int, max_frames: int, workdir: Path, refused: str = ""
):
    """The input of a run (``datasets.load_input``): an upload, or the chosen example without one.

    Uploads are shrunk to ``MAX_SIDE``; a track file is scaled with its video. ``refused`` names a
    file the browser refused to upload (too large or of another type): the run is refused too, not
    quietly replaced by the example.
    """
    if video is None and refused:
        raise datasets.DataError(
            f"{refused} was not uploaded (over {MAX_UPLOAD_MB} MB, or not a video or .zip); upload another "
            "file, or remove it and choose an example to run without an upload"
        )
    if video is None and tracks is not None:
        raise datasets.DataError("a track file needs its video: upload the video too")
    if video is None:
        name, path = EXAMPLES.get(example, EXAMPLES["bikes"])
    else:
        path = _checked_upload(video, (*datasets.VIDEO_SUFFIXES, ".zip"))
    if tracks is not None:
        tracks = _checked_upload(tracks, (".npz", ".npy"))
    inp = datasets.load_input(
        path,
        tracks=tracks,
        max_frames=max_frames,
        max_tracks=num_points,
        max_side=MAX_SIDE,
        strict=True,  # a truncated upload is refused, the page has no place for a warning
        workdir=workdir,
        max_unpacked_bytes=MAX_UNPACKED_MB * 10**6,
    )
    if video is None:
        inp.source = f"{name.split(' (')[0]}"
    if not isinstance(inp.frames, np.ndarray):
        inp.frames = np.stack(list(inp.frames))
    if len(inp.frames) < MIN_FRAMES:
        raise datasets.DataError(f"{inp.source} has {len(inp.frames)} frames; MI needs at least {MIN_FRAMES}")
    return inp


# ----------------------------------------------------------------------------- views


def _scores(session: Session) -> segmentation.VideoScores:
    truth = session.truth
    return segmentation.score_video(session.result, None if truth is None else truth.masks)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _objects(session: Session) -> tuple[list[int], list[int]]:
    """The objects (labels 1..K) of the grouped tracks with at least the minimum group size, and
    the labels of the smaller ones (the masks can leave an object few tracks): only the first are
    counted and listed as objects."""
    r = session.result
    labels, min_size = r.labels[r.grouped], int(r.options.get("min_size", 1))
    sizes = {k: int((labels == k).sum()) for k in segmentation.object_labels(labels)}
    return [k for k, n in sizes.items() if n >= min_size], [k for k, n in sizes.items() if n < min_size]


def _table(session: Session, scores: segmentation.VideoScores) -> pd.DataFrame:
    """One row per object (at least the minimum group size), then the background and the tracks in
    no group, of the grouped tracks; the match is the ground-truth region a found object overlaps best."""
    labels = session.result.labels[session.result.grouped]
    matched = {}
    if scores.tracks is not None:
        names = session.truth.name
        matched = {g: f"{names(o)} ({2 * p * r / (p + r):.2f})" for g, o, p, r in scores.tracks.pairs if p + r > 0}
    rows = []
    for k in [*_objects(session)[0], segmentation.BACKGROUND, segmentation.UNLABELLED]:
        size = int((labels == k).sum())
        if size == 0:
            continue
        swatch = '<span style="color:#{:02x}{:02x}{:02x}">&#9679;</span> '.format(*vis.label_colors([k])[0])
        name = segmentation.label_name(k) + (" (in no group)" if k < 0 else "")
        rows.append([swatch + name, size, f"{100 * size / len(labels):.0f} %", matched.get(k, "")])
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def _downloads(session: Session, folder: Path) -> list[str]:
    """labels.csv (each grouped track's label, and the frame and place it is first seen) and mi_matrix.csv
    of the grouped tracks, and the whole result.npz."""
    r = session.result
    tracks, seen, labels = r.grouped_tracks()
    labels_csv, mi_csv = folder / "labels.csv", folder / "mi_matrix.csv"
    born = seen.argmax(axis=0)  # (N,) the first frame each track is seen in
    first = tracks[born, np.arange(len(labels))]
    table = np.column_stack([np.arange(len(labels)), labels, born, first, r.source_index[r.grouped]])
    header = "track,label,first_seen_frame,x_first_seen,y_first_seen,source_index"
    formats = ["%d", "%d", "%d", "%.2f", "%.2f", "%d"]
    np.savetxt(labels_csv, table, fmt=formats, delimiter=",", comments="", header=header)
    header = ",".join(f"track_{i}" for i in range(len(r.mi)))
    np.savetxt(mi_csv, r.mi, fmt="%.6g", delimiter=",", comments="", header=header)
    npz = segmentation.save_result(r, folder / "result.npz")
    return [str(labels_csv), str(mi_csv), str(npz)]


def _summary(session: Session, scores: segmentation.VideoScores) -> str:
    """What the run found, in the words of the table and the plot: found objects (the background is
    never one), ground-truth objects, and the ones recovered (matched with F >= 0.75)."""
    r = session.result
    labels = r.labels[r.grouped]
    objects, small = _objects(session)
    background, loose = int((labels == segmentation.BACKGROUND).sum()), int((labels < segmentation.BACKGROUND).sum())
    found = [f"{background} tracks on the background"]
    if small:
        tracks = int(np.isin(labels, small).sum())
        found.append(
            f"{tracks} tracks in {_plural(len(small), 'smaller object')} (under {r.options['min_size']} tracks)"
        )
    if loose:
        found.append(f"{loose} noise tracks (in no group)")
    how = "automatic" if r.threshold == r.auto_threshold else f"chosen; automatic {r.auto_threshold:.3g}"
    lines = [
        f"**Found: {_plural(len(objects), 'object')}** with {r.estimator}; " + ", ".join(found) + ".",
        f"**Input:** {session.source}; {len(session.frames)} frames of "
        f"{session.frames.shape[2]}x{session.frames.shape[1]}, {len(r.grouped)} of its {r.visibility.shape[1]} "
        f"tracks grouped by MI. Threshold **{r.threshold:.3g} nats** ({how}). "
        f"Foreground: {r.foreground}.",
    ]
    if scores.tracks is not None:
        lines.append(_truth_line(session, scores.tracks))
    if scores.masks is not None:
        lines.append(
            f"**Masks against the ground truth:** J (IoU) **{scores.masks.j:.3f}**, boundary F {scores.masks.f:.3f} "
            "(DAVIS measures, mean over frames)."
        )
    lines.append("Seconds: " + ", ".join(f"{stage} {s:.1f}" for stage, s in r.timings.items()) + ".")
    return "\n\n".join(lines)


def _truth_line(session: Session, score: segmentation.Score) -> str:
    """The tracks against the ground truth: the shown labels (they follow the masks), then MI's
    grouping alone over the thresholds, whose sweep holds the current threshold (the P-R plot)."""
    r, sweep = session.result, session.sweep
    g = r.grouped
    ids = r.truth_ids[g]
    ambiguous = None if r.ambiguous is None else r.ambiguous[g]
    truth_objects = len(np.unique(ids[segmentation.scored_mask(ids, ambiguous) & (ids > 0)]))
    line = (
        f"**Against the ground truth:** {score.objects_extracted} of {_plural(truth_objects, 'ground-truth object')} "
        f"recovered (matched by a found object with F >= {segmentation.scoring.EXTRACTED_F}); the labels shown: "
        f"F {score.f:.3f} (P {score.precision:.3f}, R {score.recall:.3f})."
    )
    here = _sweep_index(session)
    if here is not None:
        best = sweep.scores[sweep.best]
        line += (
            f" MI grouping alone: F {sweep.scores[here].f:.3f} at this threshold, best **{best.f:.3f}** at "
            f"{sweep.thresholds[sweep.best]:.3g} nats over {len(sweep.thresholds)} thresholds; AP {sweep.ap:.3f} "
            "(the P-R curve)."
        )
    return line


def _sweep_index(session: Session) -> int | None:
    """The sweep's entry at the current threshold (the sweep is built to hold it), or None."""
    return None if session.sweep is None else session.sweep.index_of(session.result.threshold)


def _pr_curve(session: Session, scores: segmentation.VideoScores) -> dict:
    if scores.tracks is None or session.sweep is None:
        return gr.update(value=None, visible=False)
    r, sweep = session.result, session.sweep
    here = _sweep_index(session)
    marks = {}
    if here is not None:  # MI grouping alone at the current threshold: a point of the curve's own sweep
        how = "automatic" if r.threshold == r.auto_threshold else "chosen"
        point = sweep.scores[here]
        marks[r.estimator] = (point.recall, point.precision, f"{how} threshold {r.threshold:.3g} nats")
    fig = vis.pr_curve_figure(
        {r.estimator: (sweep.recall, sweep.precision)},
        marks=marks,
        title="MI grouping against the ground truth, over thresholds",
    )
    return gr.update(value=fig, visible=True)


def render(session: Session, progress=None) -> Views:
    """Draws everything that depends on the grouping and writes the downloads."""
    r = session.result
    labels = r.labels[r.grouped]
    # Gradio copies returned files to its cache; older renders can go (the newest two may be in flight)
    for old in sorted(session.workdir.glob("render-*"), key=lambda p: p.stat().st_mtime)[:-2]:
        shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix="render-", dir=session.workdir))
    if progress is not None:
        progress(0.95, desc="Drawing the video")
    video = datasets.write_video(vis.result_overlay(session.frames, r), folder / "objects.mp4", fps=FPS)
    scores = _scores(session)
    lo, hi = np.floor(r.mi.min() * 1e4) / 1e4, np.ceil(r.mi.max() * 1e4) / 1e4  # a readable slider
    return Views(
        video=str(video),
        key_frame=vis.key_frame_picture(session.frames, r),
        mi_matrix=vis.sorted_mi_matrix_figure(r.mi, labels),
        table=_table(session, scores),
        downloads=_downloads(session, folder),
        pr_curve=_pr_curve(session, scores),
        summary=_summary(session, scores),
        auto=gr.update(label=f"Automatic threshold ({r.auto_threshold:.3g} nats)"),
        threshold=gr.update(minimum=lo, maximum=hi, value=round(r.threshold, 4), step=1e-4),
        mi_map=gr.skip(),
        point_info=gr.skip(),
        session=session,
    )


# ----------------------------------------------------------------------------- handlers


def make_estimator(name: str, model: infonet.InfoNet | None) -> infonet.MIEstimator:
    """The estimator of the dropdown; InfoNet reuses the model loaded at start."""
    if name == "infonet":
        if model is None:
            raise gr.Error("InfoNet weights are not loaded on this server; choose another estimator")
        return infonet.get_estimator("infonet", model=model)
    return infonet.get_estimator(name)


def run_discovery(
    video,
    tracks,
    estimator_name: str,
    num_points,
    max_frames,
    min_size,
    session: Session | None,
    example: str = "bikes",
    refused: str = "",
    progress=gr.Progress(),  # noqa: B008 (the Gradio idiom: it is replaced per event)
    *,
    model: infonet.InfoNet | None = None,
) -> Views:
    """The run button: ``segmentation.discover_video`` on the upload (or the chosen ``example``), then drawn.

    ``refused``: the name of a file the browser refused to upload since the last example was chosen.
    """
    workdir = session.workdir if session is not None else _new_workdir()
    try:
        uploads = {str(Path(f).parent) for f in (video, tracks) if f is not None}
        with user_errors(workdir, *uploads):
            estimator = make_estimator(estimator_name, model)
            progress(0, desc="Reading the input")
            inp = load_input(
                video,
                tracks,
                example,
                num_points=int(num_points),
                max_frames=int(max_frames),
                workdir=workdir,
                refused=refused or "",
            )
            options = segmentation.VideoOptions(max_tracks=int(num_points), min_size=int(min_size))
            result = segmentation.discover_video(inp, estimator, options, progress=_reporter(progress, estimator.name))
            if inp.tracks is None:
                inp.source += f", points tracked by {options.flow.upper()} flow (re-seeded)"
            new = Session(workdir=workdir, frames=inp.frames, result=result, truth=inp.truth, source=inp.source)
            _update_sweep(new)
            views = render(new, progress)
    except BaseException:
        if session is None:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    return views._replace(auto=gr.update(value=True, label=views.auto["label"]), mi_map=None, point_info=CLICK_HINT)


def _new_workdir() -> Path:
    # removed with its session, and at the latest when the server stops (Ctrl-C, SIGTERM mid-run included)
    folder = Path(tempfile.mkdtemp(prefix="infonet-demo-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _update_sweep(session: Session) -> None:
    """The P-R sweep of MI grouping for the ground truth at the result's minimum group size, with the
    current threshold among its thresholds (recomputed when the minimum size changes or the threshold
    leaves it)."""
    r = session.result
    min_size = int(r.options["min_size"])  # resolved by the pipeline (the slider's 0 is a share of the tracks)
    if r.truth_ids is None:
        return
    if session.sweep is not None and session.sweep_min_size == min_size and _sweep_index(session) is not None:
        return
    g = r.grouped
    ambiguous = None if r.ambiguous is None else r.ambiguous[g]
    grouped_mi = r.grouping_mi()  # what the grouping reads at the slider's threshold
    cuts = segmentation.threshold_candidates(grouped_mi, max_count=48)
    if np.isfinite(r.threshold):
        cuts = np.union1d(cuts, [r.threshold])
    session.sweep = segmentation.sweep_thresholds(
        grouped_mi,
        r.truth_ids[g],
        ambiguous,
        thresholds=cuts,
        min_size=min_size,
        method=r.options.get("method", "components"),
        seed=r.options.get("seed", 0),
    )
    session.sweep_min_size = min_size


def regroup(auto: bool, threshold, min_size, session: Session | None) -> Views:
    """Threshold or minimum size changed: ``segmentation.regroup`` (no tracking, no MI), masks redrawn."""
    if session is None:
        raise gr.Error("Run the discovery first: the grouping needs an MI matrix")
    with user_errors():
        result = segmentation.regroup(
            session.result, session.frames, threshold="auto" if auto else float(threshold), min_size=int(min_size)
        )
        session = dataclasses.replace(session, result=result)
        _update_sweep(session)
        return render(session)


def set_threshold(threshold, min_size, session: Session | None) -> Views:
    """The threshold slider moved: group at that value, automatic threshold off."""
    views = regroup(False, threshold, min_size, session)
    return views._replace(auto=gr.update(value=False, label=views.auto["label"]))


def show_mi_map(session: Session | None, evt: gr.SelectData) -> tuple[np.ndarray, str]:
    """A click on the key frame: the MI of the nearest track seen there to every other, as a heat map over
    the tracks seen there."""
    if session is None:
        raise gr.Error("Run the discovery first, then click a point on the key frame")
    r = session.result
    k = r.key_frame()
    tracks, seen, labels = r.grouped_tracks()
    shown = np.flatnonzero(seen[k])  # the tracks drawn on the key frame
    points = tracks[k, shown]
    x, y = evt.index
    nearest = int(np.argmin(np.hypot(points[:, 0] - x, points[:, 1] - y)))
    query = int(shown[nearest])
    heat = vis.mi_heatmap(session.frames[k], points, r.mi[query, shown], nearest)
    others = np.delete(r.mi[query], query)
    text = (
        f"Track {query} at ({points[nearest, 0]:.0f}, {points[nearest, 1]:.0f}) in frame {k + 1}, "
        f"{segmentation.label_name(labels[query])}; MI to the other tracks {others.min():.3g} to "
        f"{others.max():.3g} nats (median {np.median(others):.3g})."
    )
    if r.truth_ids is not None:
        ids = r.truth_ids[r.grouped]
        ambiguous = None if r.ambiguous is None else r.ambiguous[r.grouped]
        if segmentation.scored_mask(ids, ambiguous)[query]:
            query_pr = segmentation.query_pr_curve(r.mi, ids, query, ambiguous)
            text += f" Ground truth: {session.truth.name(int(ids[query]))}; ranking AP {query_pr.ap:.3f}."
    return heat, text


def _forget(session: Session | None) -> None:
    if session is not None:
        shutil.rmtree(session.workdir, ignore_errors=True)


# ----------------------------------------------------------------------------- layout


INTRO = """# InfoNet: object discovery from point tracks
Points that move together share information. The demo tracks points through a video, estimates
the mutual information (MI) between every two tracks, groups tracks whose MI passes a threshold
into objects, and masks the objects that move unlike the camera. **Press *Discover objects*** to
run the example (real footage by default; the generated sample has ground truth and is scored),
or upload your own video, or a zip of a sequence with its masks (DAVIS layout: frames/ and masks/;
or PointOdyssey layout) to see J and F."""


# The browser refuses an upload that is too large or of another type before it reaches the server,
# and the file box stays empty: without this, Discover would quietly run the example instead.
REFUSAL_JS = """
() => {
  window.infonetRefused = '';
  const note = (files) => { if (files && files.length) window.infonetRefused = files[0].name; };
  document.addEventListener('change', (e) => {
    if (e.target.closest && e.target.closest('#video-input')) note(e.target.files);
  }, true);
  document.addEventListener('drop', (e) => {
    if (e.target.closest && e.target.closest('#video-input')) note(e.dataTransfer && e.dataTransfer.files);
  }, true);
}
"""
# the run's last input is the refused file's name (empty after a good upload, an example or a removal)
RUN_JS = "(...args) => { args[args.length - 1] = window.infonetRefused || ''; return args; }"


def _input_column(choices, default_points: int) -> dict:
    """The left column's inputs and settings; returns the components by name."""
    c = {}
    c["video"] = gr.File(
        label="Video (mp4, avi, mov, webm), or a sequence as a .zip (DAVIS: frames/ + masks/, or PointOdyssey)",
        file_types=[*datasets.VIDEO_SUFFIXES, ".zip"],
        elem_id="video-input",
    )
    c["tracks"] = gr.File(
        label="Tracks (optional): anno.npz, or .npz / .npy of shape (T, N, 2); empty: tracked here",
        file_types=[".npz", ".npy"],
        elem_id="tracks-input",
    )
    c["example"] = gr.Radio(
        [(label, name) for name, (label, _) in EXAMPLES.items()],
        value="bikes",
        label="Without an upload, run",
        elem_id="example",
    )
    c["estimator"] = gr.Dropdown(choices, value=choices[0][1], label="MI estimator", elem_id="estimator")
    c["num_points"] = gr.Slider(
        10,
        MAX_POINTS,
        value=min(max(default_points, 10), MAX_POINTS),
        step=10,
        label="Tracks grouped by MI",
        info="pairs grow with the square",
        elem_id="num-points",
    )
    c["max_frames"] = gr.Slider(
        MIN_FRAMES, MAX_FRAMES, value=DEFAULT_FRAMES, step=1, label="Max frames", elem_id="max-frames"
    )
    c["run"] = gr.Button("Discover objects", variant="primary", elem_id="run")
    with gr.Group():
        c["auto"] = gr.Checkbox(True, label="Automatic threshold", elem_id="auto-threshold")
        c["threshold"] = gr.Slider(0, 1, value=0, label="MI threshold (nats)", elem_id="threshold")
        c["min_size"] = gr.Slider(
            0,
            MAX_MIN_SIZE,
            value=0,
            step=1,
            label="Minimum group size (0: a fifteenth of the tracks)",
            elem_id="min-size",
        )
    # the name of a file the browser refused to upload (too large, wrong type), set by REFUSAL_JS
    c["refused"] = gr.Textbox("", visible=False, elem_id="refused-upload")
    return c


def _result_column() -> dict:
    """The right column's views; returns the components by name."""
    c = {}
    c["summary"] = gr.Markdown("Press *Discover objects*: what it finds is summed up here.", elem_id="summary")
    with gr.Row():
        c["video_out"] = gr.Video(label="Objects: masks and tracks", autoplay=True, loop=True, elem_id="overlay-video")
        c["key_frame"] = gr.Image(
            label="Key frame (the most tracks seen): click a point", interactive=False, elem_id="key-frame"
        )
    c["point_info"] = gr.Markdown(CLICK_HINT, elem_id="point-info")
    with gr.Row():
        c["mi_map"] = gr.Image(label="MI to the clicked point", interactive=False, elem_id="mi-map")
        c["mi_matrix"] = gr.Plot(show_label=False, elem_id="mi-matrix")
    c["table"] = gr.Dataframe(
        headers=TABLE_COLUMNS,
        datatype=["html", "number", "str", "str"],
        label="Objects",
        interactive=False,
        elem_id="objects",
    )
    with gr.Row():
        c["pr_curve"] = gr.Plot(show_label=False, visible=False, elem_id="pr-curve")
        c["downloads"] = gr.File(
            label="Downloads: labels, MI matrix, masks", file_count="multiple", interactive=False, elem_id="downloads"
        )
    return c


def _wire_events(c: dict, session, model) -> None:
    """The run button, regrouping and clicks; every event updates the views of ``Views``, in its order."""
    outputs = [c[name] for name in ("video_out", "key_frame", "mi_matrix", "table", "downloads", "pr_curve", "summary")]
    outputs += [c["auto"], c["threshold"], c["mi_map"], c["point_info"], session]
    inputs = [c[name] for name in ("video", "tracks", "estimator", "num_points", "max_frames", "min_size")]
    c["run"].click(
        functools.partial(run_discovery, model=model),
        [*inputs, session, c["example"], c["refused"]],
        outputs,
        js=RUN_JS,  # hands the name of a refused upload to the run
        show_progress_on=c["video_out"],  # progress and errors over the video, the other views stay readable
        concurrency_limit=RUN_CONCURRENCY,
    )
    # regrouping is cheap: any number at once, and no estimation (the MI matrix is in the session)
    quick = dict(outputs=outputs, show_progress_on=c["video_out"], concurrency_limit=None)
    c["auto"].input(regroup, [c["auto"], c["threshold"], c["min_size"], session], **quick)
    c["min_size"].release(regroup, [c["auto"], c["threshold"], c["min_size"], session], **quick)
    c["threshold"].release(set_threshold, [c["threshold"], c["min_size"], session], **quick)
    c["key_frame"].select(show_mi_map, session, [c["mi_map"], c["point_info"]], concurrency_limit=None)
    # choosing an example, or removing the upload, is a choice to run without one
    c["example"].input(None, js="() => { window.infonetRefused = ''; }")
    c["video"].clear(None, js="() => { window.infonetRefused = ''; }")


def build_demo(model: infonet.InfoNet | None = None, *, default_points: int = DEFAULT_POINTS) -> gr.Blocks:
    """The demo's page and events. ``model``: the loaded InfoNet, or None to offer only the baselines."""
    choices = [(label, name) for name, label in ESTIMATORS.items() if name != "infonet" or model is not None]
    with gr.Blocks(title="InfoNet object discovery", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO)
        if model is None:
            gr.Markdown("**InfoNet weights were not found on this server; the classical estimators remain.**")
        session = gr.State(None, time_to_live=SESSION_TTL_S, delete_callback=_forget)
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                inputs = _input_column(choices, default_points)
            with gr.Column(scale=2):
                views = _result_column()
        _wire_events(inputs | views, session, model)
        demo.load(None, js=REFUSAL_JS)  # listens for uploads the browser refuses
    return demo


# ----------------------------------------------------------------------------- command line


def _env_port() -> int:
    return int(os.environ.get("INFONET_PORT") or os.environ.get("GRADIO_SERVER_PORT") or 7860)


@dataclass
class AppOptions:
    host: str = field(default="127.0.0.1", metadata={"help": "address to serve on (0.0.0.0 for the network)"})
    port: int = field(
        default_factory=_env_port, metadata={"help": "port (default $INFONET_PORT, $GRADIO_SERVER_PORT or 7860)"}
    )
    weights: str = field(default="", metadata={"help": "InfoNet weights (default: shipped, or $INFONET_WEIGHTS)"})
    device: str = field(default="auto", metadata={"help": "InfoNet device: auto, cpu, cuda"})
    points: int = field(default=DEFAULT_POINTS, metadata={"help": "default number of points (the slider's start)"})


def load_model(weights: str = "", device: str = "auto") -> infonet.InfoNet | None:
    """The InfoNet weights, loaded once; None (logged) when there are none to load."""
    try:
        return infonet.load_pretrained(weights or None, device=device)
    except (FileNotFoundError, ValueError) as err:
        log.warning("InfoNet disabled: %s", err)
        return None


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: atexit removes the session folders


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    opts = parse_options(AppOptions, description=__doc__.splitlines()[0])
    demo = build_demo(load_model(opts.weights, opts.device), default_points=opts.points)
    demo.launch(server_name=opts.host, server_port=opts.port, max_file_size=GRADIO_MAX_FILE_BYTES)
