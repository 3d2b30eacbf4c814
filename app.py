"""InfoNet object discovery: a video in, its moving objects out, grouped by mutual information.

    python app.py                                   # http://127.0.0.1:7860, the bundled sample ready
    python app.py --port 8080 --host 0.0.0.0        # or INFONET_PORT / GRADIO_SERVER_PORT
    INFONET_WEIGHTS=runs/main/last.pt python app.py

Points are tracked through the video (or read from a track file), the MI between every two
tracks is estimated, and tracks that share information are grouped into objects
(``segmentation.discover``). The MI matrix stays in the session, so moving the threshold or
the minimum group size regroups without estimating it again. Pictures come from
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
from segmentation import visualize as vis
from segmentation._imports import require_toolkit_datasets
from segmentation.affinity import MIN_FRAMES
from segmentation.benchmark import find_sequences

datasets = require_toolkit_datasets()  # a clear error if another `datasets` (Hugging Face's) shadows ours

log = logging.getLogger("app")

# Limits that keep one session from starving the others.
MAX_UPLOAD_MB = 500  # MB are 10^6 bytes in every limit and message of the demo
# A zip may unpack to this much: 300 frames (MAX_FRAMES) of 1080p JPEG at up to 1.5 MB each, their
# masks and the annotations fit, and the few concurrent runs cannot fill the disk.
MAX_UNPACKED_MB = 1000
MAX_SIDE = 640  # uploaded videos are shrunk to this longest side
FLOW = "lk"  # optical flow of the point tracker (datasets.track_points)
MIN_SHARE = 0.25  # a clip that loses more of its tracked points is cut to the frames that keep them
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
CLICK_HINT = "Click a point on the first frame to see its MI to every other point."
TABLE_COLUMNS = ["object", "tracks", "share", "ground truth (F)"]


@dataclass
class Session:
    """One browser session's result, kept in a ``gr.State``: regrouping and clicks reuse it.

    Attributes:
        workdir: this session's temporary folder (downloads, video), removed with the session.
        frames: (T, H, W, 3) uint8 RGB.
        result: the discovery; ``labels`` and ``threshold`` follow the current grouping.
        auto_threshold: the automatic threshold of this MI matrix.
        source_index: (N,) index of each track in the input track set.
        ground_truth: (object_ids (N,), ambiguous (N,) or None, id -> name), or None.
        sweep: the P-R sweep for ``sweep_min_size`` (ground truth only).
        source: a line describing the input.
    """

    workdir: Path
    frames: np.ndarray
    result: segmentation.Discovery
    auto_threshold: float
    source_index: np.ndarray
    ground_truth: tuple | None = None
    sweep: segmentation.Sweep | None = None
    sweep_min_size: int = 0
    source: str = ""


class Views(NamedTuple):
    """What the events show, in the order of their ``outputs`` (gr.update / gr.skip where partial)."""

    video: str
    first_frame: np.ndarray
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


def _reporter(progress: gr.Progress, desc: str, unit: str):
    return lambda done, total: progress((done, total), desc=desc, unit=unit)


# ----------------------------------------------------------------------------- input


def _checked_upload(path, suffixes) -> Path:
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise datasets.DataError(f"{path.name}: unsupported file type; use one of {', '.join(suffixes)}")
    size_mb = path.stat().st_size / 1e6
    if size_mb > MAX_UPLOAD_MB:
        raise datasets.DataError(f"{path.name} is {size_mb:.0f} MB; the demo accepts up to {MAX_UPLOAD_MB} MB")
    return path


def _user_tracks(path, source_size, frames: np.ndarray, num_points: int) -> tuple[np.ndarray, datasets.TrackSet]:
    """A track file on the (maybe shrunk) frames: scaled, cut to the shorter length, subsampled."""
    given = datasets.load_tracks(_checked_upload(path, (".npz", ".npy")), image_size=source_size)
    T = min(len(frames), given.num_frames)
    H, W = frames.shape[1:3]
    scale = np.array([W / source_size[1], H / source_size[0]], dtype=np.float32)
    tracks = datasets.TrackSet(
        tracks=given.tracks[:T] * scale,
        visibility=given.visibility[:T],
        image_size=(H, W),
        dropped=given.dropped,
        source_index=given.source_index,
    )
    if tracks.num_tracks > num_points:
        tracks = tracks.subset(np.sort(np.random.default_rng(0).choice(tracks.num_tracks, num_points, replace=False)))
    return frames[:T], tracks


def _one_sequence(folder: Path, name: str) -> Path:
    try:
        found = find_sequences(folder)
    except ValueError:
        raise datasets.DataError(
            f"{name}: no PointOdyssey sequence inside (a folder holding anno.npz and rgbs/rgb_00000.jpg ...)"
        ) from None
    if len(found) > 1:
        raise datasets.DataError(f"{name} holds {len(found)} sequences; upload one at a time")
    return found[0]


def load_input(video, tracks, *, num_points: int, max_frames: int, workdir: Path, progress=None):
    """Frames (T, H, W, 3), a TrackSet on them, ground truth or None, and a line naming the input.

    ``video`` None means the bundled sample sequence; a ``.zip`` is a PointOdyssey sequence.
    Without ``tracks`` the sequence's own tracks are used, or points are tracked.
    """
    if video is None and tracks is not None:
        raise datasets.DataError("a track file needs its video: upload the video too")
    sequence = None
    if video is None:
        sequence = datasets.load_pointodyssey(datasets.SAMPLE_SEQUENCE, max_tracks=num_points, max_frames=max_frames)
        frames, name = np.stack(list(sequence.frames)), "bundled sample sequence"
    elif (path := _checked_upload(video, (*datasets.VIDEO_SUFFIXES, ".zip"))).suffix.lower() == ".zip":
        folder = datasets.extract_zip(path, workdir, max_bytes=MAX_UNPACKED_MB * 10**6)
        try:
            sequence = datasets.load_pointodyssey(
                _one_sequence(folder, path.name), max_tracks=num_points, max_frames=max_frames
            )
            frames = np.stack(list(sequence.frames))  # read before the folder goes
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        name = f"PointOdyssey sequence {path.name}"
    else:
        # strict: a truncated upload is refused, the page has no place for a warning
        frames, name = datasets.read_video(path, max_frames=max_frames, max_side=MAX_SIDE, strict=True), path.name
        if tracks is not None:  # the track file's pixels are the video's before shrinking
            source_size = datasets.read_video(path, max_frames=2).shape[1:3]
    if sequence is not None:
        source_size = sequence.image_size
    if len(frames) < MIN_FRAMES:
        raise datasets.DataError(f"{name} has {len(frames)} frames; MI needs at least {MIN_FRAMES}")

    ground_truth = None
    if tracks is not None:
        frames, trackset = _user_tracks(tracks, source_size, frames, num_points)
        name += f" with tracks from {Path(tracks).name}"
    elif sequence is not None:
        trackset = sequence.tracks
        if trackset.object_ids is not None:
            ids = trackset.object_ids
            ground_truth = (ids, trackset.ambiguous, {int(i): sequence.object_name(int(i)) for i in np.unique(ids)})
    else:
        report = _reporter(progress, "Tracking points", "frames") if progress else None
        tracked = datasets.track_points(frames, num_points=num_points, flow=FLOW, progress=report)
        trackset = segmentation.visible_throughout(tracked, min_share=MIN_SHARE)
        name += f", {trackset.num_tracks} of {tracked.num_tracks} points tracked ({FLOW.upper()} flow)"
        if trackset.num_frames < len(frames):
            frames = frames[: trackset.num_frames]
            name += f" through its first {len(frames)} frames (the rest lost most points)"
    if len(frames) < MIN_FRAMES:
        raise datasets.DataError(f"the tracks span {len(frames)} frames; MI needs at least {MIN_FRAMES}")
    return frames, trackset, ground_truth, name


# ----------------------------------------------------------------------------- views


def _table(session: Session) -> pd.DataFrame:
    labels = session.result.labels
    matched = {}
    if session.ground_truth is not None:
        ids, ambiguous, names = session.ground_truth
        score = segmentation.score_grouping(labels, ids, ambiguous)
        matched = {g: f"{names.get(o, o)} ({2 * p * r / (p + r):.2f})" for g, o, p, r in score.pairs if p + r > 0}
    colors = vis.label_colors(np.arange(-1, session.result.num_objects))
    rows = []
    for k in [*range(session.result.num_objects), -1]:
        size = int((labels == k).sum())
        if k < 0 and size == 0:
            continue
        swatch = '<span style="color:#{:02x}{:02x}{:02x}">&#9679;</span> '.format(*colors[k + 1])
        name = swatch + (f"object {k}" if k >= 0 else "noise (groups too small)")
        rows.append([name, size, f"{100 * size / len(labels):.0f} %", matched.get(k, "")])
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def _downloads(session: Session, folder: Path) -> list[str]:
    r = session.result
    labels_csv, mi_csv, npz = folder / "labels.csv", folder / "mi_matrix.csv", folder / "result.npz"
    table = np.column_stack([np.arange(len(r.labels)), r.labels, r.tracks[0], session.source_index])
    np.savetxt(
        labels_csv,
        table,
        fmt=["%d", "%d", "%.2f", "%.2f", "%d"],
        delimiter=",",
        comments="",
        header="track,label,x_first_frame,y_first_frame,source_index",
    )
    np.savetxt(
        mi_csv, r.mi, fmt="%.6g", delimiter=",", comments="", header=",".join(f"track_{i}" for i in range(len(r.mi)))
    )
    np.savez_compressed(
        npz,
        tracks=r.tracks.astype(np.float32),
        visibility=r.visibility,
        labels=r.labels,
        mi=r.mi.astype(np.float32),
        threshold=np.float64(r.threshold),
        auto_threshold=np.float64(session.auto_threshold),
        source_index=session.source_index,
    )
    return [str(labels_csv), str(mi_csv), str(npz)]


def _summary(session: Session) -> str:
    r = session.result
    lines = [
        f"**Input:** {session.source}; {len(session.frames)} frames of "
        f"{session.frames.shape[2]}x{session.frames.shape[1]}, {len(r.labels)} tracks.",
        "**Result:** " + "  \n".join(r.summary().splitlines()),
        f"Automatic threshold: **{session.auto_threshold:.4g} nats**; grouping at **{r.threshold:.4g} nats**.",
    ]
    if session.ground_truth is not None:
        ids, ambiguous, _ = session.ground_truth
        score = segmentation.score_grouping(r.labels, ids, ambiguous)
        sweep = session.sweep
        best = sweep.scores[sweep.best]
        lines.append(
            f"**Against the ground truth:** F {score.f:.3f} (P {score.precision:.3f}, R {score.recall:.3f}), "
            f"{score.objects_extracted} object(s) extracted at this threshold; best F over thresholds "
            f"**{best.f:.3f}** at {sweep.thresholds[sweep.best]:.4g} nats; AP {sweep.ap:.3f}."
        )
    return "\n\n".join(lines)


def _pr_curve(session: Session) -> dict:
    if session.ground_truth is None:
        return gr.update(value=None, visible=False)
    ids, ambiguous, _ = session.ground_truth
    score = segmentation.score_grouping(session.result.labels, ids, ambiguous)
    name = session.result.estimator
    fig = vis.pr_curve_figure(
        {name: (session.sweep.recall, session.sweep.precision)},
        marks={name: (score.recall, score.precision)},
        title="Precision-recall over thresholds (star: current)",
    )
    return gr.update(value=fig, visible=True)


def render(session: Session, progress=None) -> Views:
    """Draws everything that depends on the grouping and writes the downloads."""
    r = session.result
    # Gradio copies returned files to its cache; older renders can go (the newest two may be in flight)
    for old in sorted(session.workdir.glob("render-*"), key=lambda p: p.stat().st_mtime)[:-2]:
        shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix="render-", dir=session.workdir))
    if progress is not None:
        progress(0.95, desc="Drawing the video")
    overlay = vis.overlay_frames(session.frames, r.tracks, r.visibility, r.labels)
    video = datasets.write_video(overlay, folder / "objects.mp4", fps=FPS)
    lo, hi = np.floor(r.mi.min() * 1e4) / 1e4, np.ceil(r.mi.max() * 1e4) / 1e4  # a readable slider
    return Views(
        video=str(video),
        first_frame=vis.draw_points(session.frames[0], r.tracks[0], r.labels, visible=r.visibility[0]),
        mi_matrix=vis.sorted_mi_matrix_figure(r.mi, r.labels),
        table=_table(session),
        downloads=_downloads(session, folder),
        pr_curve=_pr_curve(session),
        summary=_summary(session),
        auto=gr.update(label=f"Automatic threshold ({session.auto_threshold:.4g} nats)"),
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
    progress=gr.Progress(),  # noqa: B008 (the Gradio idiom: it is replaced per event)
    *,
    model: infonet.InfoNet | None = None,
) -> Views:
    """The run button: load, track, estimate all pairwise MI, group at the automatic threshold."""
    workdir = session.workdir if session is not None else _new_workdir()
    try:
        uploads = {str(Path(f).parent) for f in (video, tracks) if f is not None}
        with user_errors(workdir, *uploads):
            estimator = make_estimator(estimator_name, model)
            progress(0, desc="Reading the input")
            frames, trackset, ground_truth, source = load_input(
                video,
                tracks,
                num_points=int(num_points),
                max_frames=int(max_frames),
                workdir=workdir,
                progress=progress,
            )
            result = segmentation.discover(
                trackset,
                estimator,
                min_size=int(min_size),
                progress=_reporter(progress, f"MI between tracks ({estimator.name})", "pairs"),
            )
            if ground_truth is not None:
                ids, ambiguous, names = ground_truth
                ground_truth = (ids[result.kept], None if ambiguous is None else ambiguous[result.kept], names)
            source_index = np.arange(trackset.num_tracks) if trackset.source_index is None else trackset.source_index
            new = Session(
                workdir=workdir,
                frames=frames,
                result=result,
                auto_threshold=result.threshold,
                source_index=source_index[result.kept],
                ground_truth=ground_truth,
                source=source,
            )
            _update_sweep(new, int(min_size))
            views = render(new, progress)
    except BaseException:
        if session is None:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    return views._replace(auto=gr.update(value=True, label=views.auto["label"]), mi_map=None, point_info=CLICK_HINT)


def _new_workdir() -> Path:
    # removed with its session, and at the latest when the server stops (Ctrl-C mid-run included)
    folder = Path(tempfile.mkdtemp(prefix="infonet-demo-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _update_sweep(session: Session, min_size: int) -> None:
    if session.ground_truth is not None and (session.sweep is None or session.sweep_min_size != min_size):
        ids, ambiguous, _ = session.ground_truth
        session.sweep = segmentation.sweep_thresholds(session.result.mi, ids, ambiguous, min_size=min_size)
        session.sweep_min_size = min_size


def regroup(auto: bool, threshold, min_size, session: Session | None) -> Views:
    """Threshold or minimum size changed: group the cached MI matrix again (no MI estimation)."""
    if session is None:
        raise gr.Error("Run the discovery first: the grouping needs an MI matrix")
    with user_errors():
        grouping = segmentation.group(
            session.result.mi, threshold="auto" if auto else float(threshold), min_size=int(min_size)
        )
        session = dataclasses.replace(
            session, result=dataclasses.replace(session.result, labels=grouping.labels, threshold=grouping.threshold)
        )
        _update_sweep(session, int(min_size))
        return render(session)


def set_threshold(threshold, min_size, session: Session | None) -> Views:
    """The threshold slider moved: group at that value, automatic threshold off."""
    views = regroup(False, threshold, min_size, session)
    return views._replace(auto=gr.update(value=False, label=views.auto["label"]))


def show_mi_map(session: Session | None, evt: gr.SelectData) -> tuple[np.ndarray, str]:
    """A click on the first frame: the MI of the nearest track to every other, as a heat map."""
    if session is None:
        raise gr.Error("Run the discovery first, then click a point on the first frame")
    r = session.result
    points = r.tracks[0]
    x, y = evt.index
    query = int(np.argmin(np.hypot(points[:, 0] - x, points[:, 1] - y)))
    heat = vis.mi_heatmap(session.frames[0], points, r.mi[query], query)
    others = np.delete(r.mi[query], query)
    label = r.labels[query]
    text = (
        f"Track {query} at ({points[query, 0]:.0f}, {points[query, 1]:.0f}), "
        f"{'noise' if label < 0 else f'object {label}'}; MI to the other tracks "
        f"{others.min():.3g} to {others.max():.3g} nats (median {np.median(others):.3g})."
    )
    if session.ground_truth is not None:
        ids, ambiguous, names = session.ground_truth
        if segmentation.scored_mask(ids, ambiguous)[query]:
            query_pr = segmentation.query_pr_curve(r.mi, ids, query, ambiguous)
            text += f" Ground truth: {names.get(int(ids[query]), ids[query])}; ranking AP {query_pr.ap:.3f}."
    return heat, text


def _forget(session: Session | None) -> None:
    if session is not None:
        shutil.rmtree(session.workdir, ignore_errors=True)


# ----------------------------------------------------------------------------- layout


INTRO = """# InfoNet: object discovery from point tracks
Points that move together share information. The demo tracks points through a video, estimates
the mutual information (MI) between every two tracks, and groups tracks whose MI passes a
threshold into objects. **Press *Discover objects*** to run the bundled sample (a synthetic
PointOdyssey-style sequence with ground-truth masks), or upload your own video."""


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
                video_in = gr.File(
                    label="Video (mp4, avi, mov, webm) or PointOdyssey sequence (.zip); empty: the bundled sample",
                    file_types=[*datasets.VIDEO_SUFFIXES, ".zip"],
                    elem_id="video-input",
                )
                tracks_in = gr.File(
                    label="Tracks (optional): anno.npz, or .npz / .npy of shape (T, N, 2); empty: tracked here",
                    file_types=[".npz", ".npy"],
                    elem_id="tracks-input",
                )
                estimator = gr.Dropdown(choices, value=choices[0][1], label="MI estimator", elem_id="estimator")
                num_points = gr.Slider(
                    10,
                    MAX_POINTS,
                    value=min(max(default_points, 10), MAX_POINTS),
                    step=10,
                    label="Points (tracks)",
                    info="pairs grow with the square",
                    elem_id="num-points",
                )
                max_frames = gr.Slider(
                    MIN_FRAMES, MAX_FRAMES, value=DEFAULT_FRAMES, step=1, label="Max frames", elem_id="max-frames"
                )
                run = gr.Button("Discover objects", variant="primary", elem_id="run")
                with gr.Group():
                    auto = gr.Checkbox(True, label="Automatic threshold", elem_id="auto-threshold")
                    threshold = gr.Slider(0, 1, value=0, label="MI threshold (nats)", elem_id="threshold")
                    min_size = gr.Slider(
                        1, MAX_MIN_SIZE, value=5, step=1, label="Minimum group size", elem_id="min-size"
                    )
                summary = gr.Markdown(elem_id="summary")
            with gr.Column(scale=2):
                with gr.Row():
                    video_out = gr.Video(
                        label="Tracks coloured by object", autoplay=True, loop=True, elem_id="overlay-video"
                    )
                    first_frame = gr.Image(label="First frame: click a point", interactive=False, elem_id="first-frame")
                point_info = gr.Markdown(CLICK_HINT, elem_id="point-info")
                with gr.Row():
                    mi_map = gr.Image(label="MI to the clicked point", interactive=False, elem_id="mi-map")
                    mi_matrix = gr.Plot(show_label=False, elem_id="mi-matrix")
                table = gr.Dataframe(
                    headers=TABLE_COLUMNS,
                    datatype=["html", "number", "str", "str"],
                    label="Objects",
                    interactive=False,
                    elem_id="objects",
                )
                with gr.Row():
                    pr_curve = gr.Plot(show_label=False, visible=False, elem_id="pr-curve")
                    downloads = gr.File(
                        label="Downloads: labels and MI matrix",
                        file_count="multiple",
                        interactive=False,
                        elem_id="downloads",
                    )

        outputs = [
            video_out,
            first_frame,
            mi_matrix,
            table,
            downloads,
            pr_curve,
            summary,
            auto,
            threshold,
            mi_map,
            point_info,
            session,
        ]
        run.click(
            functools.partial(run_discovery, model=model),
            [video_in, tracks_in, estimator, num_points, max_frames, min_size, session],
            outputs,
            show_progress_on=video_out,  # progress and errors over the video, the other views stay readable
            concurrency_limit=RUN_CONCURRENCY,
        )
        # regrouping is cheap: any number at once, and no estimation (the MI matrix is in the session)
        quick = dict(outputs=outputs, show_progress_on=video_out, concurrency_limit=None)
        auto.input(regroup, [auto, threshold, min_size, session], **quick)
        min_size.release(regroup, [auto, threshold, min_size, session], **quick)
        threshold.release(set_threshold, [threshold, min_size, session], **quick)
        first_frame.select(show_mi_map, session, [mi_map, point_info], concurrency_limit=None)
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


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    opts = parse_options(AppOptions, description=__doc__.splitlines()[0])
    demo = build_demo(load_model(opts.weights, opts.device), default_points=opts.points)
    demo.launch(server_name=opts.host, server_port=opts.port, max_file_size=MAX_UPLOAD_MB * 10**6)
