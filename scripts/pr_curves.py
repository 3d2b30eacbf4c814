"""Precision-recall and mask scores of object discovery for several MI estimators, on sequences with ground truth.

    python scripts/pr_curves.py --out runs/pr                          # the bundled sample
    python scripts/pr_curves.py --data path/to/val --estimators infonet,ksg,pearson --out runs/pr
    python scripts/pr_curves.py --data davis-dev --frames 48,96,192 --out runs/davis

--data is one PointOdyssey- or DAVIS-layout sequence or a folder of them. For every sequence the
pipeline (``segmentation.discover_video``, whose options are this script's flags) runs once per
estimator on the same tracks, and ``benchmarks.tracks.evaluate_result`` sweeps the threshold and
scores the grouping FBMS-style; DAVIS masks are scored by J and boundary F. --frames sweeps the clip
length (files get a _T<frames> suffix; frames.png plots pair AUC and best F against it). Writes
to --out (locked while it runs, every file whole or not at all): options.json, summary.csv,
sweep_<sequence>_<estimator>.csv, pr_<sequence>.png, frames.png, with --save-results
result_<sequence>_<estimator>.npz (``segmentation.save_result``).
"""

import dataclasses
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import segmentation
from benchmarks import write_csv
from benchmarks.tracks import SUMMARY_COLUMNS, evaluate_result
from infonet import available_estimators
from infonet.cli import check_out_dir, load_estimator, locked_out_dir, parse_options, run_cli, save_options
from segmentation import visualize as vis
from segmentation.progress import stage_bars

log = logging.getLogger("pr_curves")


@dataclass
class PRCurveOptions:
    data: str = field(default="", metadata={"help": "sequence folder or folder of them (default: bundled sample)"})
    estimators: str = field(default="infonet,ksg,pearson", metadata={"help": "comma-separated estimator names"})
    out: str = field(default="runs/pr_curves", metadata={"help": "output folder"})
    max_frames: int | None = field(default=None, metadata={"help": "use only the first frames"})
    frames: str = field(default="", metadata={"help": "comma-separated clip lengths to sweep (e.g. 48,96,192)"})
    num_thresholds: int = field(default=48, metadata={"help": "thresholds in the sweep"})
    save_results: bool = field(default=False, metadata={"help": "also save every run's result_<seq>_<est>.npz"})
    device: str = field(default="auto", metadata={"help": "InfoNet device"})
    weights: str = field(default="", metadata={"help": "InfoNet weights (default: shipped, or $INFONET_WEIGHTS)"})
    overwrite: bool = field(default=False, metadata={"help": "replace this script's outputs in a non-empty --out"})
    pipeline: segmentation.VideoOptions = field(default_factory=segmentation.VideoOptions, metadata={"flatten": True})

    def __post_init__(self):
        self.names = [n.strip().lower() for n in self.estimators.split(",") if n.strip()]
        unknown = [n for n in self.names if n not in available_estimators()]
        if not self.names or unknown:
            raise ValueError(
                f"estimators {unknown or self.names} unknown; choose from {', '.join(available_estimators())}"
            )
        if self.num_thresholds < 2:
            raise ValueError(f"num_thresholds must be >= 2 (a sweep needs two ends), got {self.num_thresholds}")
        if self.max_frames is not None and self.max_frames < 2:
            raise ValueError(f"max_frames must be >= 2, got {self.max_frames}")
        try:
            self.lengths = sorted({int(v) for v in self.frames.split(",") if v.strip()}) or [self.max_frames]
        except ValueError:
            raise ValueError(f"frames must be comma-separated whole numbers, got {self.frames!r}") from None
        if self.frames.strip() and (self.max_frames is not None or self.lengths[0] < 2):
            raise ValueError(
                f"frames needs lengths of at least 2 frames, and not both --frames and --max-frames; got {self.frames!r}"
            )


def main(opts: PRCurveOptions) -> None:
    data = Path(opts.data) if opts.data else datasets.SAMPLE_SEQUENCE
    sequences = datasets.find_sequences(data)
    longest = max(_frame_count(p) for p in sequences)
    if opts.frames.strip() and opts.lengths[-1] > longest:
        raise ValueError(f"--frames {opts.lengths[-1]}: no sequence has that many frames (the longest has {longest})")
    out = check_out_dir(opts.out, overwrite=opts.overwrite, inputs=[data, *sequences])
    estimators = {n: load_estimator(n, device=opts.device, weights=opts.weights) for n in opts.names}
    with locked_out_dir(out):
        save_options(opts, out)
        rows = []
        for path, length in [(p, t) for p in sequences for t in opts.lengths]:
            inp = datasets.load_input(path, max_frames=length, max_tracks=opts.pipeline.max_tracks)
            if length is not None and inp.num_frames < length:
                log.warning(
                    "%s: skipping --frames %d, the sequence has only %d frames", path.name, length, inp.num_frames
                )
                continue
            label = path.name if len(opts.lengths) == 1 else f"{path.name}_T{length}"
            rows += _score_sequence(inp, path.name, label, estimators, opts, out)
            with datasets.replacing(out / "summary.csv") as tmp:  # after every sequence: a long run keeps its rows
                write_csv(rows, tmp)
        if not rows:
            raise ValueError(f"no sequence in {data} has {min(opts.lengths)} frames or more")
        if len(opts.lengths) > 1:
            vis.save_figure(vis.scores_by_frames_figure(rows), out / "frames.png", dpi=120)
    columns = [
        *SUMMARY_COLUMNS,
        "frames",
        "auto_f",
        "pair_auc",
        "anchor_auc",
        *(["j", "boundary_f"] if "j" in rows[0] else []),
    ]
    print("\n".join("  ".join(f"{row.get(c, c):>17}" for c in columns) for row in [{}, *rows]))
    print(f"wrote {out / 'summary.csv'} and {len(sequences)} plot(s) to {out}")


def _score_sequence(inp, name: str, label: str, estimators: dict, opts: PRCurveOptions, out: Path) -> list[dict]:
    """Every estimator on the same tracks of one sequence: summary rows; sweeps and the P-R plot on disk."""
    truth_masks = None if inp.truth is None else inp.truth.masks
    pipeline = dataclasses.replace(opts.pipeline, masks=opts.pipeline.masks and truth_masks is not None)
    rows, curves, marks, first = [], {}, {}, None
    for est_name, estimator in estimators.items():
        with stage_bars({"tracking": "frame", "motion": "frame", "mi": "pair", "masks": "frame"}) as progress:
            result = segmentation.discover_video(inp, estimator, pipeline, progress=progress, reuse=first)
        first = first or result
        scored = evaluate_result(result, sequence=name, num_thresholds=opts.num_thresholds)
        row = {
            **scored.summary_row(),
            "frames": inp.num_frames,
            "seconds_tracking": round(first.timings["tracking"], 3),
        }
        masks = segmentation.score_video(result, truth_masks).masks
        if masks is not None:
            row |= {
                "j": round(masks.j, 4),
                "boundary_f": round(masks.f, 4),
                "seconds_masks": round(result.timings["masks"], 3),
            }
        rows.append(row)
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{label}_{est_name}")
        with datasets.replacing(out / f"sweep_{stem}.csv") as tmp:
            write_csv(scored.sweep.rows(), tmp)
        if opts.save_results:
            segmentation.save_result(result, out / f"result_{stem}.npz")
        curves[est_name] = (scored.sweep.recall, scored.sweep.precision)
        how = "automatic" if result.threshold == result.auto_threshold else "given"
        here = scored.sweep.index_of(result.threshold)  # MI grouping at the chosen threshold: a point of the sweep
        point, what = (scored.auto, "labels at") if here is None else (scored.sweep.scores[here], "")
        chosen = f"{what} {how} threshold {result.threshold:.3g} nats".strip()
        marks[est_name] = (point.recall, point.precision, chosen)
    title = f"{name}: {len(first.grouped)} tracks, {inp.num_frames} frames"
    figure = vis.pr_curve_figure(curves, marks=marks, title=title)
    vis.save_figure(figure, out / f"pr_{re.sub(r'[^A-Za-z0-9._-]+', '_', label)}.png", dpi=120)
    return rows


def _frame_count(sequence: Path) -> int:
    return len(list((sequence / "rgbs").glob("rgb_*"))) or len(list((sequence / "frames").glob("*")))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run_cli(main, parse_options(PRCurveOptions, description=__doc__.splitlines()[0]))
