"""Discover the moving objects of a video from pairwise MI between point tracks, with per-pixel masks.

    python scripts/discover.py --video clip.mp4 --out runs/discover
    python scripts/discover.py --video frames/ --tracks tracks.npz --out runs/discover
    python scripts/discover.py --video davis/soapbox --out runs/soapbox         # frames/ + masks/: scored
    python scripts/discover.py --video path/to/pointodyssey/seq --estimator ksg --out runs/discover

--video is a video file, a folder of frames, a DAVIS-layout sequence, a PointOdyssey sequence or a
zip of one of those (``datasets.load_input``); the pipeline is ``segmentation.discover_video``
(its options are this script's flags). Writes to --out: options.json, overlay.mp4 (the masks over
the video), first_frame.png, mi_matrix.png and, last, result.npz (``segmentation.save_result``;
schema in docs/video.md); each file is written whole or not at all, and the folder is locked
while the script writes. Prints the objects, the seconds per stage and, with ground truth, the scores.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import segmentation
from infonet.cli import check_out_dir, load_estimator, locked_out_dir, parse_options, run_cli, save_options
from segmentation import visualize as vis
from segmentation.progress import stage_bars

OUTPUTS = ("result.npz", "overlay.mp4", "first_frame.png", "mi_matrix.png", "options.json")


@dataclass
class DiscoverOptions:
    video: str = field(default="", metadata={"help": "video file, frames folder, DAVIS or PointOdyssey sequence, zip"})
    tracks: str = field(default="", metadata={"help": "track file (T, N, 2) .npz/.npy; default: track the video"})
    out: str = field(default="runs/discover", metadata={"help": "output folder"})
    estimator: str = field(default="infonet", metadata={"help": "MI estimator (infonet, ksg, pearson, ...)"})
    max_frames: int = field(default=120, metadata={"help": "use at most this many frames"})
    fps: float = field(default=12.0, metadata={"help": "frames per second of overlay.mp4"})
    device: str = field(default="auto", metadata={"help": "InfoNet device"})
    weights: str = field(default="", metadata={"help": "InfoNet weights (default: shipped, or $INFONET_WEIGHTS)"})
    overwrite: bool = field(default=False, metadata={"help": "replace this script's outputs in a non-empty --out"})
    pipeline: segmentation.VideoOptions = field(default_factory=segmentation.VideoOptions, metadata={"flatten": True})

    def __post_init__(self):
        if not self.video:
            raise ValueError("--video is required (a video file, a folder of frames or a sequence folder)")
        if not self.fps > 0:
            raise ValueError(f"fps must be > 0 frames per second, got {self.fps}")
        if self.max_frames < 2:
            raise ValueError(f"max_frames must be >= 2, got {self.max_frames}")


def main(opts: DiscoverOptions) -> None:
    inputs = [Path(p) for p in (opts.video, opts.tracks) if p]
    for flag, given in zip(("--video", "--tracks"), inputs, strict=False):
        if not given.exists():
            raise FileNotFoundError(f"{flag} not found: {given}")
    out = check_out_dir(opts.out, overwrite=opts.overwrite, inputs=inputs, outputs=OUTPUTS)
    estimator = load_estimator(opts.estimator, device=opts.device, weights=opts.weights)
    with locked_out_dir(out):
        inp = datasets.load_input(
            opts.video, tracks=opts.tracks or None, max_frames=opts.max_frames, max_tracks=opts.pipeline.max_tracks
        )
        if inp.tracks is not None and inp.tracks.dropped:  # NaN/inf, invalid or insane tracks the loader left out
            dropped = datasets.tracks.describe_dropped(inp.tracks.dropped)
            print(f"{inp.tracks.num_tracks} tracks; dropped when loading: {dropped}")
        with stage_bars({"tracking": "frame", "motion": "frame", "mi": "pair", "masks": "frame"}) as progress:
            result = segmentation.discover_video(inp, estimator, opts.pipeline, progress=progress)
        _write(result, inp.frames, opts, out)
    print(result.summary())
    truth_masks = None if inp.truth is None else inp.truth.masks
    print("\n".join(segmentation.score_video(result, truth_masks).lines()))
    print(f"wrote {', '.join(str(out / name) for name in OUTPUTS)}")


def _write(result: segmentation.VideoResult, frames, opts: DiscoverOptions, out: Path) -> None:
    """options.json and the pictures first, result.npz last: each whole or not at all."""
    save_options(opts, out)
    g = result.grouped
    tracks, seen, labels = result.tracks[:, g], result.visibility[:, g], result.labels[g]
    vis.save_image(vis.draw_points(frames[0], tracks[0], labels, visible=seen[0]), out / "first_frame.png")
    vis.save_figure(vis.sorted_mi_matrix_figure(result.mi, labels), out / "mi_matrix.png")
    if result.masks is not None:
        overlay = vis.overlay_masks(frames, result.masks, tracks=tracks, visibility=seen, labels=labels)
    else:
        overlay = vis.overlay_frames(frames, tracks, seen, labels)
    datasets.write_video(overlay, out / "overlay.mp4", fps=opts.fps)
    segmentation.save_result(result, out / "result.npz")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run_cli(main, parse_options(DiscoverOptions, description=__doc__.splitlines()[0]))
