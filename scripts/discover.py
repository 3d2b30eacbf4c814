"""Discover the moving objects of a video from pairwise MI between point tracks, with per-pixel masks.

    python scripts/discover.py --video clip.mp4 --out runs/discover       # also: frames/, DAVIS, PointOdyssey, zip
    python scripts/discover.py --video frames/ --tracks tracks.npz --estimator ksg --out runs/discover

One call of ``segmentation.discover_video`` (its options are this script's flags). Writes options.json,
overlay.mp4, key_frame.png (the grouped tracks in the frame where the most of them are seen),
mi_matrix.png and, last, result.npz (schema in docs/video.md) to --out: all of them or, if the run
fails, none (the folder's earlier outputs stay), the folder locked meanwhile; prints the objects,
seconds per stage, scores.
"""

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import segmentation
from infonet import cli
from segmentation import visualize as vis
from segmentation.progress import stage_bars

OUTPUTS = (
    "options.json",
    "overlay.mp4",
    "key_frame.png",
    "mi_matrix.png",
    "result.npz",
)  # renamed in place in this order
MAX_FPS = 1000  # an overlay video's frame rate; OpenCV's writer fails far above it, after all the work


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
        cli.check_number("--fps", self.fps, low=0, low_open=True, high=MAX_FPS)
        cli.check_number(
            "--max-frames", self.max_frames, low=segmentation.MIN_FRAMES, why="MI between tracks needs that many frames"
        )
        self.inputs = [Path(p) for p in (self.video, self.tracks) if p]
        missing = [str(p) for p in self.inputs if not p.exists()]
        if missing:
            raise ValueError(f"not found: {', '.join(missing)}")


def main(opts: DiscoverOptions) -> None:
    out = cli.check_out_dir(opts.out, overwrite=opts.overwrite, inputs=opts.inputs, outputs=OUTPUTS)
    estimator = cli.load_estimator(opts.estimator, device=opts.device, weights=opts.weights)
    with cli.locked_out_dir(out):
        limits = dict(max_frames=opts.max_frames, max_tracks=opts.pipeline.max_tracks)
        inp = datasets.load_input(opts.video, tracks=opts.tracks or None, **limits)
        if inp.tracks is not None and inp.tracks.dropped:  # NaN/inf, invalid or insane tracks the loader left out
            print(f"{inp.tracks.num_tracks} tracks; dropped: {datasets.tracks.describe_dropped(inp.tracks.dropped)}")
        with stage_bars({"tracking": "frame", "motion": "frame", "mi": "pair", "masks": "frame"}) as progress:
            result = segmentation.discover_video(inp, estimator, opts.pipeline, progress=progress)
        labels = result.labels[result.grouped]
        # all of this run's outputs or none of them: each is written aside, then all are renamed in place
        with datasets.replacing_all([out / name for name in OUTPUTS]) as tmp, ThreadPoolExecutor(1) as pool:
            to = dict(zip(OUTPUTS, tmp, strict=True))
            cli.save_options(opts, to["options.json"])
            saved = pool.submit(segmentation.save_result, result, to["result.npz"])  # zlib frees the GIL
            vis.save_image(vis.key_frame_picture(inp.frames, result), to["key_frame.png"])
            vis.save_figure(vis.sorted_mi_matrix_figure(result.mi, labels), to["mi_matrix.png"])
            datasets.write_video(vis.result_overlay(inp.frames, result), to["overlay.mp4"], fps=opts.fps)
            saved.result()
    print(result.summary())
    print("\n".join(segmentation.score_video(result, None if inp.truth is None else inp.truth.masks).lines()))
    print(
        f"wrote {', '.join(str(out / name) for name in OUTPUTS)} (key frame: {result.key_frame() + 1} of {len(inp.frames)})"
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    cli.run_cli(main, cli.parse_options(DiscoverOptions, description=__doc__.splitlines()[0]))
