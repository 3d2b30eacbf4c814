"""Discover the moving objects of a video from pairwise MI between point tracks, with per-pixel masks.

    python scripts/discover.py --video clip.mp4 --out runs/discover
    python scripts/discover.py --video frames/ --tracks tracks.npz --out runs/discover
    python scripts/discover.py --video davis/soapbox --out runs/soapbox         # frames/ + masks/: scored
    python scripts/discover.py --video path/to/pointodyssey/seq --estimator ksg --out runs/discover

--video is a video file, a folder of frames, a DAVIS-layout sequence (frames/ and masks/), a
PointOdyssey sequence folder (its own tracks, filtered) or a zip of one of those folders
(``datasets.load_input``). Without --tracks, points are tracked (``segmentation.discover_video``:
a grid re-seeded where points are lost, partial tracks compared on the frames they share).
Writes to --out: result.npz (tracks (T, N, 2), labels (N,), mi (N, N), visibility, kept,
threshold, masks (T, H, W) int16 object id per pixel, 0 background, foreground (T, H, W) bool,
objects, background, seconds_<stage>), overlay.mp4 (the masks over the video), first_frame.png,
mi_matrix.png and options.json. It prints the seconds of every stage, and with ground truth the
scores (FBMS F of the tracks; with masks, J and boundary F).
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from infonet import get_estimator
from infonet.cli import (
    check_choice,
    check_num_tracks,
    check_number,
    check_out_dir,
    parse_options,
    preload_infonet,
    run_cli,
    save_options,
)
from segmentation import CRITERIA, FEATURES, METHODS, mask_scores, pipeline, score_grouping
from segmentation import visualize as vis
from segmentation._imports import require_toolkit_datasets
from segmentation.progress import stage_bars

DEFAULTS = pipeline.VideoOptions()


@dataclass
class DiscoverOptions:
    video: str = field(default="", metadata={"help": "video file, frames folder, DAVIS or PointOdyssey sequence, zip"})
    tracks: str = field(default="", metadata={"help": "track file (T, N, 2) .npz/.npy; default: track the video"})
    out: str = field(default="runs/discover", metadata={"help": "output folder"})
    estimator: str = field(default="infonet", metadata={"help": "MI estimator (infonet, ksg, pearson, ...)"})
    feature: str = field(default=DEFAULTS.feature, metadata={"help": ", ".join(FEATURES)})
    method: str = field(default="components", metadata={"help": "components or louvain"})
    threshold: str = field(default="auto", metadata={"help": "MI threshold in nats, or auto"})
    criterion: str = field(default="modularity", metadata={"help": "auto threshold criterion: modularity or otsu"})
    foreground: str = field(
        default=DEFAULTS.foreground,
        metadata={"help": "motion (tracks moving unlike the camera, grouped by MI) or groups (MI groups alone)"},
    )
    min_size: int = field(default=DEFAULTS.min_size, metadata={"help": "smaller groups are noise"})
    max_tracks: int = field(default=DEFAULTS.max_tracks, metadata={"help": "tracks grouped by MI"})
    num_points: int = field(default=DEFAULTS.num_points, metadata={"help": "grid points of the tracker"})
    flow: str = field(default="lk", metadata={"help": "optical flow of the tracker: lk (Lucas-Kanade) or dis (dense)"})
    reseed: int = field(
        default=DEFAULTS.reseed, metadata={"help": "frames between re-seedings of lost points (0: never)"}
    )
    min_overlap: int = field(
        default=DEFAULTS.min_overlap, metadata={"help": "frames two tracks must share to be compared"}
    )
    max_frames: int = field(default=120, metadata={"help": "use at most this many frames"})
    max_side: int = field(
        default=DEFAULTS.track_side, metadata={"help": "longest side of the frames points are tracked on"}
    )
    masks: bool = field(default=True, metadata={"help": "per-pixel masks of the primary objects"})
    seed: int = 0
    device: str = field(default="auto", metadata={"help": "InfoNet device"})
    weights: str = field(default="", metadata={"help": "InfoNet weights (default: shipped, or $INFONET_WEIGHTS)"})
    fps: float = 12.0
    overwrite: bool = field(default=False, metadata={"help": "replace the outputs in a non-empty --out folder"})


def video_options(opts: DiscoverOptions, threshold) -> pipeline.VideoOptions:
    """The pipeline's options from the command line's."""
    return pipeline.VideoOptions(
        track_side=opts.max_side,
        num_points=opts.num_points,
        flow=opts.flow,
        reseed=opts.reseed,
        min_overlap=opts.min_overlap,
        max_tracks=opts.max_tracks,
        feature=opts.feature,
        threshold=threshold,
        min_size=opts.min_size,
        method=opts.method,
        criterion=opts.criterion,
        foreground=opts.foreground,
        masks=opts.masks,
        seed=opts.seed,
    )


def main(opts: DiscoverOptions) -> None:
    datasets = require_toolkit_datasets()
    if not opts.video:
        raise ValueError("--video is required (a video file, a folder of frames or a sequence folder)")
    for flag, given in (("--video", opts.video), ("--tracks", opts.tracks)):
        if given and not Path(given).exists():
            raise FileNotFoundError(f"{flag} not found: {given}")
    threshold = opts.threshold if opts.threshold == "auto" else _number(opts.threshold)
    _check_options(opts, datasets)
    out = check_out_dir(opts.out, overwrite=opts.overwrite)
    _check_out(out, [Path(opts.video)] + ([Path(opts.tracks)] if opts.tracks else []))
    estimator = get_estimator(opts.estimator, device=opts.device, weights=opts.weights)
    if estimator.neural:
        preload_infonet(opts.weights, opts.device)
    inp = datasets.load_input(
        opts.video, tracks=opts.tracks or None, max_frames=opts.max_frames, max_tracks=opts.max_tracks, seed=opts.seed
    )
    if inp.tracks is not None and inp.tracks.dropped:  # NaN/inf, invalid or insane tracks the loader left out
        print(
            f"{inp.tracks.num_tracks} tracks; dropped when loading: {datasets.tracks.describe_dropped(inp.tracks.dropped)}"
        )
    with stage_bars({"tracking": "frame", "mi": "pair", "masks": "frame"}) as progress:
        found = pipeline.discover_video(inp, estimator, video_options(opts, threshold), progress=progress)
    _write(found, inp, opts, out, datasets)
    _report(found, inp, out)


def _write(found, inp, opts: DiscoverOptions, out: Path, datasets) -> None:
    """result.npz, overlay.mp4, first_frame.png, mi_matrix.png, options.json."""
    r = found.discovery
    out.mkdir(parents=True, exist_ok=True)
    save_options(opts, out)
    extras = {} if found.masks is None else {"masks": found.masks, "foreground": found.foreground}
    if r.object_ids is not None:
        extras |= {"object_ids": r.object_ids, "ambiguous": r.ambiguous}
    np.savez_compressed(
        out / "result.npz",
        tracks=r.tracks.astype(np.float32),
        labels=r.labels,
        mi=r.mi.astype(np.float32),
        visibility=r.visibility,
        kept=found.grouped,
        threshold=np.float64(r.threshold),
        objects=np.asarray(found.objects, np.int64),
        background=np.int64(found.background),
        **{f"seconds_{stage}": np.float64(s) for stage, s in found.timings.items()},
        **extras,
    )
    vis.save_image(
        vis.draw_points(inp.frames[0], r.tracks[0], r.labels, visible=r.visibility[0]), out / "first_frame.png"
    )
    vis.sorted_mi_matrix_figure(r.mi, r.labels).savefig(out / "mi_matrix.png", dpi=110)
    if found.masks is not None:
        overlay = vis.overlay_masks(inp.frames, found.masks, tracks=r.tracks, visibility=r.visibility, labels=r.labels)
    else:
        overlay = vis.overlay_frames(inp.frames, r.tracks, r.visibility, r.labels)
    datasets.write_video(overlay, out / "overlay.mp4", fps=opts.fps)


def _report(found, inp, out: Path) -> None:
    r = found.discovery
    print(r.summary())
    for k, size in enumerate(r.sizes):
        role = "primary object" if k in found.objects else "background" if k == found.background else "other"
        print(f"  object {k}: {size} tracks ({role})")
    print("seconds: " + ", ".join(f"{stage} {s:.2f}" for stage, s in found.timings.items()))
    truth = inp.truth
    if r.object_ids is not None:
        score = score_grouping(r.labels, r.object_ids, r.ambiguous)
        print(
            f"against the ground truth: P {score.precision:.3f}  R {score.recall:.3f}  F {score.f:.3f}  "
            f"objects extracted {score.objects_extracted} ({score.num_objects} ground-truth regions, background included)"
        )
    if truth is not None and truth.masks is not None and found.foreground is not None:
        datasets = require_toolkit_datasets()
        ids, ambiguous = datasets.track_object_ids(r.tracks, r.visibility, truth.masks)
        score = score_grouping(r.labels, ids, ambiguous)
        masks = mask_scores(found.foreground, truth.masks)
        print(
            f"against the ground-truth masks: J {masks.j:.3f}  boundary F {masks.f:.3f}  tracks: FBMS F {score.f:.3f}"
        )
    print(f"wrote {out / 'result.npz'}, {out / 'overlay.mp4'}, {out / 'first_frame.png'}, {out / 'mi_matrix.png'}")


OUTPUTS = ("result.npz", "overlay.mp4", "first_frame.png", "mi_matrix.png", "options.json")


def _check_out(out: Path, inputs: list[Path]) -> None:
    """Outputs never go into an input folder nor replace an input file."""
    out = out.resolve()
    for p in inputs:
        p = p.resolve()
        if p.is_dir() and (out == p or p in out.parents):
            raise ValueError(f"refusing to write into --out {out}: it is inside the input folder {p}")
        if any(out / name == p for name in OUTPUTS):
            raise ValueError(f"refusing to write into --out {out}: it would overwrite the input {p}")


def _check_options(opts: DiscoverOptions, datasets) -> None:
    """Every option, before any work: a bad one must not surface after minutes of MI."""
    check_number("--fps", opts.fps, low=0, low_open=True)
    check_number("--max-side", opts.max_side, low=1)
    check_num_tracks("--num-points", opts.num_points)
    check_num_tracks("--max-tracks", opts.max_tracks)
    check_number("--max-frames", opts.max_frames, low=2)
    check_number("--min-size", opts.min_size, low=1)
    check_number("--min-overlap", opts.min_overlap, low=8, why="the estimators need 8 samples")
    check_number("--reseed", opts.reseed, low=0)
    check_choice("--feature", opts.feature, FEATURES)
    check_choice("--method", opts.method, METHODS)
    check_choice("--criterion", opts.criterion, CRITERIA)
    check_choice("--foreground", opts.foreground, pipeline.FOREGROUNDS)
    check_choice("--flow", opts.flow, datasets.FLOWS, what="optical flow")


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--threshold must be a number or 'auto', got {text!r}") from None
    check_number("--threshold", value, low=0, why="MI in nats, never negative; or 'auto'")
    return value


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run_cli(main, parse_options(DiscoverOptions, description=__doc__.splitlines()[0]))
