"""Accuracy of the point tracker against exact ground truth, one row per sequence and optical flow.

    python scripts/bench_tracker.py --data outputs/fresh --out outputs/bench_tracker

--data is one PointOdyssey-layout sequence folder or a folder of them, e.g. synthetic sequences
from scripts/make_sequence.py, whose tracks are exact. The tracker starts from the true
first-frame positions of the points the ground truth sees in every frame and follows them with
each optical flow of segmentation.track_points; segmentation.tracking_errors scores the result. Writes
summary.csv and options.json to --out and prints the table.
"""

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks import write_csv
from infonet.cli import parse_options, run_cli, save_options
from segmentation import FLOWS, track_points, tracking_errors
from segmentation._imports import datasets


@dataclass
class BenchTrackerOptions:
    data: str = field(default="", metadata={"help": "sequence folder or folder of them (default: bundled sample)"})
    out: str = field(default="outputs/bench_tracker", metadata={"help": "output folder"})
    flows: str = field(default="lk,dis", metadata={"help": "comma-separated optical flows to compare"})
    fb_threshold: float = field(default=1.0, metadata={"help": "forward-backward threshold in pixels"})


def main(opts: BenchTrackerOptions) -> None:
    flows = [f.strip() for f in opts.flows.split(",") if f.strip()]
    unknown = [f for f in flows if f not in FLOWS]
    if unknown or not flows:
        raise ValueError(f"unknown flow(s) {unknown or flows}; choose from {', '.join(FLOWS)}")
    sequences = datasets.find_sequences(Path(opts.data) if opts.data else datasets.SAMPLE_SEQUENCE)
    rows = []
    for path in sequences:
        seq = datasets.load_pointodyssey(path, visible_only=True)
        frames = np.stack([seq.frames[t] for t in range(seq.num_frames)])
        truth = seq.tracks.tracks
        for flow in flows:
            start = time.perf_counter()
            tracked = track_points(frames, points=truth[0], flow=flow, fb_threshold=opts.fb_threshold)
            seconds = time.perf_counter() - start
            scores = tracking_errors(tracked, truth)
            rows.append(
                {"sequence": path.name, "flow": flow, "points": truth.shape[1], "frames": len(frames)}
                | {k: round(v, 4) for k, v in scores.items()}
                | {"ms_per_frame": round(1000 * seconds / len(frames), 1)}
            )
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    save_options(opts, out)
    write_csv(rows, out / "summary.csv")
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for row in rows:
        print("| " + " | ".join(str(v) for v in row.values()) + " |")
    print(f"wrote {out / 'summary.csv'}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run_cli(main, parse_options(BenchTrackerOptions, description=__doc__.splitlines()[0]))
