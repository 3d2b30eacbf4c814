"""Precision-recall and mask scores of object discovery for several MI estimators, on sequences with ground truth.

    python scripts/pr_curves.py --out runs/pr                          # the bundled sample
    python scripts/pr_curves.py --data path/to/val --estimators infonet,ksg,pearson --out runs/pr
    python scripts/pr_curves.py --data davis-dev --frames 48,96,192 --out runs/davis

--data is one PointOdyssey- or DAVIS-layout sequence or a folder of them; every estimator runs the
pipeline (whose options are this script's flags) on the same tracks (``benchmarks.tracks.score_sequences``).
Writes to --out (locked meanwhile, every file whole or not at all): options.json, summary.csv,
sweep_<sequence>_<estimator>.csv, pr_<sequence>.png, with --frames frames.png, with --save-results result_*.npz.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import segmentation
from benchmarks.tracks import SUMMARY_COLUMNS, score_sequences
from infonet import available_estimators, cli


@dataclass
class PRCurveOptions:
    data: str = field(default="", metadata={"help": "sequence folder or folder of them (default: bundled sample)"})
    estimators: str = field(default="infonet,ksg,pearson", metadata={"help": "comma-separated estimator names"})
    out: str = field(default="runs/pr_curves", metadata={"help": "output folder"})
    max_frames: int | None = field(default=None, metadata={"help": "use only the first frames"})
    frames: str = field(default="", metadata={"help": "clip lengths to sweep, comma-separated (e.g. 48,96,192)"})
    num_thresholds: int = field(default=48, metadata={"help": "thresholds in the sweep"})
    save_results: bool = field(default=False, metadata={"help": "also save every run's result_<seq>_<est>.npz"})
    device: str = field(default="auto", metadata={"help": "InfoNet device"})
    weights: str = field(default="", metadata={"help": "InfoNet weights (default: shipped, or $INFONET_WEIGHTS)"})
    overwrite: bool = field(default=False, metadata={"help": "replace this script's outputs in a non-empty --out"})
    pipeline: segmentation.VideoOptions = field(default_factory=segmentation.VideoOptions, metadata={"flatten": True})

    def __post_init__(self):
        self.names = cli.comma_list(self.estimators, "estimators", choices=available_estimators())
        if not self.names:
            raise ValueError(f"--estimators names none; choose from {', '.join(available_estimators())}")
        self.lengths = sorted(set(cli.comma_list(self.frames, "frames", type=int, minimum=2))) or [None]
        cli.check_number("--num-thresholds", self.num_thresholds, low=2, why="a sweep needs two ends")
        if self.max_frames is not None:
            cli.check_number("--max-frames", self.max_frames, low=2)
        if self.frames.strip() and self.max_frames is not None:
            raise ValueError("give --frames (clip lengths to sweep) or --max-frames (one limit), not both")
        self.scoring = dict(
            num_thresholds=self.num_thresholds, save_results=self.save_results, max_frames=self.max_frames
        )


def main(opts: PRCurveOptions) -> None:
    data = Path(opts.data) if opts.data else datasets.SAMPLE_SEQUENCE
    sequences = datasets.find_sequences(data)
    longest = max(map(datasets.count_frames, sequences))
    if opts.lengths[-1] is not None and opts.lengths[-1] > longest:
        raise ValueError(f"--frames {opts.lengths[-1]}: no sequence has that many frames (the longest has {longest})")
    out = cli.check_out_dir(opts.out, overwrite=opts.overwrite, inputs=[data, *sequences])
    estimators = {n: cli.load_estimator(n, device=opts.device, weights=opts.weights) for n in opts.names}
    with cli.locked_out_dir(out):
        cli.save_options(opts, out)
        rows = score_sequences(sequences, opts.lengths, estimators, opts.pipeline, out, **opts.scoring)
    if not rows:
        raise ValueError(f"no sequence in {data} has {min(opts.lengths)} frames or more")
    extra = [
        "frames",
        "auto_f",
        "pair_auc",
        "anchor_auc",
        "anchor_auc_compared",
        "one_group_f",
        "top_f_objects",
        *(["j", "boundary_f"] if "j" in rows[0] else []),
    ]
    columns = [*SUMMARY_COLUMNS, *extra]
    print("\n".join("  ".join(f"{row.get(c, c):>17}" for c in columns) for row in [{}, *rows]))
    print(f"wrote {out / 'summary.csv'} and {len(sequences)} plot(s) to {out}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    cli.run_cli(main, cli.parse_options(PRCurveOptions, description=__doc__.splitlines()[0]))
