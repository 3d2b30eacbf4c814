"""Render a synthetic sequence with exact point tracks in the PointOdyssey layout.

    python scripts/make_sequence.py --out data/synthetic/seq000 --seed 0
    python scripts/make_sequence.py --out datasets/samples/sample --seed 7 --frames 40 --size 270 480 --tracks 600 --jpeg-quality 85

Every option of MakeSequenceOptions is a flag (see --help). The scene is described in
datasets/synthetic.py.
"""

import logging
from dataclasses import dataclass, field

from infonet.cli import check_out_dir, parse_options, run_cli, save_options
from segmentation._imports import datasets


@dataclass
class MakeSequenceOptions:
    out: str = field(default="", metadata={"help": "sequence folder to write (must be empty unless --overwrite)"})
    seed: int = field(default=0, metadata={"help": "random seed: the same options give the same files"})
    frames: int = field(default=48, metadata={"help": "number of frames T"})
    size: tuple[int, int] = field(default=(540, 960), metadata={"help": "frame height and width"})
    objects: int = field(default=3, metadata={"help": "moving objects; object 0 is articulated"})
    tracks: int = field(default=1024, metadata={"help": "number of point tracks N"})
    corrupt_fraction: float = field(default=0.02, metadata={"help": "share of tracks given corrupted entries"})
    jpeg_quality: int = field(default=90, metadata={"help": "JPEG quality of the frames"})
    motion: str = field(
        default="sweep",
        metadata={
            "help": "sweep: one pass across the view per clip; wander: slow turns at a fixed pace; spin: objects turn in place"
        },
    )
    convoy: bool = field(default=False, metadata={"help": "object 1 follows object 0's path (needs 2+ objects)"})
    perspective: bool = field(default=False, metadata={"help": "object sizes follow their depths"})
    overwrite: bool = field(default=False, metadata={"help": "replace the sequence files of a non-empty folder"})


def main(opts: MakeSequenceOptions) -> None:
    if not opts.out:
        raise ValueError("--out is required")
    check_out_dir(opts.out, overwrite=opts.overwrite)  # names --overwrite, not the library's overwrite=True
    out = datasets.generate_sequence(
        opts.out,
        seed=opts.seed,
        num_frames=opts.frames,
        size=opts.size,
        num_objects=opts.objects,
        num_tracks=opts.tracks,
        corrupt_fraction=opts.corrupt_fraction,
        overwrite=opts.overwrite,
        jpeg_quality=opts.jpeg_quality,
        motion=opts.motion,
        convoy=opts.convoy,
        perspective=opts.perspective,
    )
    save_options(opts, out / "make_sequence.json")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run_cli(main, parse_options(MakeSequenceOptions, description=__doc__.splitlines()[0]))
