"""Discover the moving objects of a video from pairwise MI between point tracks.

    python scripts/discover.py --video clip.mp4 --out runs/discover
    python scripts/discover.py --video frames/ --tracks tracks.npz --out runs/discover
    python scripts/discover.py --video path/to/pointodyssey/seq --estimator ksg --out runs/discover

--video is a video file, a folder of frames, or a PointOdyssey sequence folder (its own tracks,
filtered). Without --tracks the points are tracked with datasets.track_points. Writes
result.npz (tracks (T, N, 2), labels (N,), mi (N, N), visibility, kept, threshold),
overlay.mp4, first_frame.png, mi_matrix.png and options.json to --out.
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
from infonet.estimators import INFONET_NAMES
from segmentation import CRITERIA, FEATURES, METHODS, discover, score_grouping, visible_throughout
from segmentation import visualize as vis
from segmentation._imports import require_toolkit_datasets
from segmentation.progress import progress_bar


@dataclass
class DiscoverOptions:
    video: str = field(default="", metadata={"help": "video file, folder of frames, or PointOdyssey sequence folder"})
    tracks: str = field(default="", metadata={"help": "track file (T, N, 2) .npz/.npy; default: track the video"})
    out: str = field(default="runs/discover", metadata={"help": "output folder"})
    estimator: str = field(default="infonet", metadata={"help": "MI estimator (infonet, ksg, pearson, ...)"})
    feature: str = field(default="coords", metadata={"help": "coords, velocity or sliced"})
    method: str = field(default="components", metadata={"help": "components or louvain"})
    threshold: str = field(default="auto", metadata={"help": "MI threshold in nats, or auto"})
    criterion: str = field(default="modularity", metadata={"help": "auto threshold criterion: modularity or otsu"})
    min_size: int = field(default=5, metadata={"help": "smaller groups are noise"})
    max_tracks: int = field(default=400, metadata={"help": "seeded subsample of given tracks"})
    num_points: int = field(default=400, metadata={"help": "points to track when no tracks are given"})
    track_method: str = field(default="grid", metadata={"help": "where tracking starts: grid or features"})
    flow: str = field(default="lk", metadata={"help": "optical flow of the tracker: lk (Lucas-Kanade) or dis (dense)"})
    min_share: float = field(
        default=0.25,
        metadata={"help": "if fewer tracked points survive the clip, cut it to the frames where this share does"},
    )
    max_frames: int = field(default=120, metadata={"help": "use at most this many frames"})
    max_side: int = field(
        default=640, metadata={"help": "shrink video frames to this longest side (not with --tracks)"}
    )
    seed: int = 0
    device: str = field(default="auto", metadata={"help": "InfoNet device"})
    weights: str = field(default="", metadata={"help": "InfoNet weights (default: shipped, or $INFONET_WEIGHTS)"})
    fps: float = 12.0
    overwrite: bool = field(default=False, metadata={"help": "replace the outputs in a non-empty --out folder"})


def load_input(opts: DiscoverOptions, datasets):
    """Frames (T of them, (H, W, 3) each, indexable) and a TrackSet in their pixel coordinates."""
    video = Path(opts.video)
    if any((video / name).is_file() for name in datasets.ANNOTATION_FILES):
        seq = datasets.load_pointodyssey(video, max_tracks=opts.max_tracks, seed=opts.seed, max_frames=opts.max_frames)
        frames = seq.frames
        if not opts.tracks:
            return frames, seq.tracks
    else:
        # given tracks are in the pixels of the original video: keep its size
        max_side = None if opts.tracks else opts.max_side
        frames = datasets.read_video(video, max_frames=opts.max_frames, max_side=max_side)
    if not opts.tracks:
        with progress_bar("tracking", unit="frame") as progress:
            tracked = datasets.track_points(
                frames, num_points=opts.num_points, method=opts.track_method, flow=opts.flow, progress=progress
            )
        tracked = visible_throughout(tracked, min_share=opts.min_share)
        return frames[: tracked.num_frames], tracked
    tracks = datasets.load_tracks(opts.tracks, image_size=frames[0].shape[:2])
    T = min(len(frames), tracks.num_frames)
    if tracks.num_frames != len(frames):
        logging.warning(
            "%s has %d frames of tracks, the video %d: using the first %d",
            opts.tracks,
            tracks.num_frames,
            len(frames),
            T,
        )
        tracks = tracks.first_frames(T)
    if tracks.num_tracks > opts.max_tracks:
        keep = np.random.default_rng(opts.seed).choice(tracks.num_tracks, opts.max_tracks, replace=False)
        tracks = tracks.subset(np.sort(keep))
    return (frames if len(frames) == T else [frames[t] for t in range(T)]), tracks


def main(opts: DiscoverOptions) -> None:
    datasets = require_toolkit_datasets()
    if not opts.video:
        raise ValueError("--video is required (a video file, a folder of frames or a PointOdyssey sequence)")
    for flag, given in (("--video", opts.video), ("--tracks", opts.tracks)):
        if given and not Path(given).exists():
            raise FileNotFoundError(f"{flag} not found: {given}")
    threshold = opts.threshold if opts.threshold == "auto" else _number(opts.threshold)
    _check_options(opts, datasets)
    out = check_out_dir(opts.out, overwrite=opts.overwrite)
    _check_out(out, [Path(opts.video)] + ([Path(opts.tracks)] if opts.tracks else []))
    estimator = get_estimator(opts.estimator, **_estimator_kwargs(opts))
    if opts.estimator.strip().lower() in INFONET_NAMES:
        preload_infonet(opts.weights, opts.device)
    frames, tracks = load_input(opts, datasets)
    if tracks.dropped:  # NaN/inf, invalid or insane tracks the loader left out
        print(f"{tracks.num_tracks} tracks; dropped when loading: {datasets.tracks.describe_dropped(tracks.dropped)}")
    with progress_bar(f"MI ({estimator.name})", unit="pair") as progress:
        result = discover(
            tracks,
            estimator,
            feature=opts.feature,
            threshold=threshold,
            min_size=opts.min_size,
            method=opts.method,
            criterion=opts.criterion,
            seed=opts.seed,
            progress=progress,
        )
    out.mkdir(parents=True, exist_ok=True)
    save_options(opts, out)
    np.savez_compressed(
        out / "result.npz",
        tracks=result.tracks.astype(np.float32),
        labels=result.labels,
        mi=result.mi.astype(np.float32),
        visibility=result.visibility,
        kept=result.kept,
        threshold=np.float64(result.threshold),
        **({} if result.object_ids is None else {"object_ids": result.object_ids, "ambiguous": result.ambiguous}),
    )
    vis.save_image(
        vis.draw_points(frames[0], result.tracks[0], result.labels, visible=result.visibility[0]),
        out / "first_frame.png",
    )
    vis.sorted_mi_matrix_figure(result.mi, result.labels).savefig(out / "mi_matrix.png", dpi=110)
    overlay = vis.overlay_frames(frames, result.tracks, result.visibility, result.labels)
    video = datasets.write_video(overlay, out / "overlay.mp4", fps=opts.fps)
    print(result.summary())
    for k, size in enumerate(result.sizes):
        print(f"  object {k}: {size} tracks")
    if result.object_ids is not None:
        score = score_grouping(result.labels, result.object_ids, result.ambiguous)
        print(
            f"against the ground truth: P {score.precision:.3f}  R {score.recall:.3f}  F {score.f:.3f}  "
            f"objects extracted {score.objects_extracted} ({score.num_objects} ground-truth regions, background included)"
        )
    print(f"wrote {out / 'result.npz'}, {video}, {out / 'first_frame.png'}, {out / 'mi_matrix.png'}")


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
    check_number("--min-share", opts.min_share, low=0, high=1)
    check_choice("--feature", opts.feature, FEATURES)
    check_choice("--method", opts.method, METHODS)
    check_choice("--criterion", opts.criterion, CRITERIA)
    check_choice("--flow", opts.flow, datasets.FLOWS, what="optical flow")


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--threshold must be a number or 'auto', got {text!r}") from None
    check_number("--threshold", value, low=0, why="MI in nats, never negative; or 'auto'")
    return value


def _estimator_kwargs(opts) -> dict:
    if opts.estimator.strip().lower() not in INFONET_NAMES:
        return {}
    return {"device": opts.device, "weights": opts.weights or None}


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run_cli(main, parse_options(DiscoverOptions, description=__doc__.splitlines()[0]))
