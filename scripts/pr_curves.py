"""Precision-recall of object discovery for several MI estimators on PointOdyssey-layout sequences.

    python scripts/pr_curves.py --out runs/pr                          # the bundled sample
    python scripts/pr_curves.py --data path/to/val --estimators infonet,ksg,pearson --out runs/pr

--data is one sequence folder (holding anno.npz) or a folder of them. For every sequence and
estimator: pairwise MI between --max-tracks tracks (a seeded subsample), a threshold sweep
scored FBMS-style against the mask ground truth, and the automatic threshold. Writes to --out:
summary.csv (sequence, estimator, n_tracks, best_f, ap, objects_extracted, seconds, then
extras: auto_f, auto_threshold, query_ap, pair_auc, ...), sweep_<sequence>_<estimator>.csv (one row per
threshold), pr_<sequence>.png (the curves; stars mark the automatic threshold), options.json.

--frames 48,96,192 sweeps the clip length instead: every sequence is scored on its first 48, 96
and 192 frames (files get a _T<frames> suffix), and frames.png plots pair AUC and best F
against the length, per estimator.
"""

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks import write_csv
from infonet import available_estimators, get_estimator
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
from segmentation import CRITERIA, FEATURES, METHODS
from segmentation import visualize as vis
from segmentation._imports import require_toolkit_datasets
from segmentation.benchmark import SUMMARY_COLUMNS, evaluate_tracks, find_sequences
from segmentation.progress import progress_bar

log = logging.getLogger("pr_curves")


@dataclass
class PRCurveOptions:
    data: str = field(default="", metadata={"help": "sequence folder or folder of them (default: bundled sample)"})
    estimators: str = field(default="infonet,ksg,pearson", metadata={"help": "comma-separated estimator names"})
    out: str = field(default="runs/pr_curves", metadata={"help": "output folder"})
    max_tracks: int = field(default=300, metadata={"help": "tracks per sequence (seeded subsample)"})
    max_frames: int | None = field(default=None, metadata={"help": "use only the first frames"})
    frames: str = field(default="", metadata={"help": "comma-separated clip lengths to sweep (e.g. 48,96,192)"})
    feature: str = field(default="coords", metadata={"help": "coords, velocity or sliced"})
    method: str = field(default="components", metadata={"help": "components or louvain"})
    criterion: str = field(default="modularity", metadata={"help": "auto threshold criterion: modularity or otsu"})
    min_size: int = field(default=5, metadata={"help": "smaller groups are noise"})
    num_thresholds: int = field(default=48, metadata={"help": "thresholds in the sweep"})
    seed: int = 0
    device: str = field(default="auto", metadata={"help": "InfoNet device"})
    weights: str = field(default="", metadata={"help": "InfoNet weights (default: shipped, or $INFONET_WEIGHTS)"})
    save_mi: bool = field(default=False, metadata={"help": "also save each MI matrix (mi_<sequence>_<estimator>.npz)"})
    overwrite: bool = field(default=False, metadata={"help": "replace the outputs in a non-empty --out folder"})


def _check_out(out: Path, data: Path, sequences: list[Path]) -> None:
    """Outputs never go into the data folder itself or into (or under) a sequence folder."""
    out = out.resolve()
    if out == data.resolve():
        raise ValueError(f"refusing to write into --out {out}: it is the input data folder")
    for p in sequences:
        p = p.resolve()
        if out == p or p in out.parents:
            raise ValueError(f"refusing to write into --out {out}: it is inside the input sequence {p}")


def _check_options(opts: PRCurveOptions) -> None:
    """Every option, before any work: a bad one must not surface after minutes of MI."""
    check_num_tracks("--max-tracks", opts.max_tracks)
    if opts.max_frames is not None:
        check_number("--max-frames", opts.max_frames, low=2)
    check_number("--num-thresholds", opts.num_thresholds, low=2, why="a sweep needs two ends")
    check_number("--min-size", opts.min_size, low=1)
    check_choice("--feature", opts.feature, FEATURES)
    check_choice("--method", opts.method, METHODS)
    check_choice("--criterion", opts.criterion, CRITERIA)


def _check_lengths(lengths: list[int], sequences: list[Path]) -> None:
    """A --frames value longer than every sequence is refused; shorter sequences are skipped later."""
    frames = {p.name: len(list((p / "rgbs").glob("rgb_*"))) for p in sequences}
    longest = max(frames, key=frames.get)
    if lengths[-1] > frames[longest]:
        raise ValueError(
            f"--frames {lengths[-1]}: no sequence has that many frames (the longest, {longest}, has {frames[longest]})"
        )


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def _lengths(opts: PRCurveOptions) -> list[int | None]:
    """The clip lengths to score: the --frames sweep, or just --max-frames (None: all frames)."""
    if not opts.frames.strip():
        return [opts.max_frames]
    if opts.max_frames is not None:
        raise ValueError("give --frames (a sweep of lengths) or --max-frames, not both")
    try:
        lengths = sorted({int(v) for v in opts.frames.split(",") if v.strip()})
    except ValueError:
        raise ValueError(f"--frames must be comma-separated whole numbers, got {opts.frames!r}") from None
    if not lengths or lengths[0] < 2:
        raise ValueError(f"--frames needs lengths of at least 2 frames, got {opts.frames!r}")
    return lengths


def main(opts: PRCurveOptions) -> None:
    datasets = require_toolkit_datasets()
    lengths = _lengths(opts)
    names = [n.strip().lower() for n in opts.estimators.split(",") if n.strip()]
    unknown = [n for n in names if n not in available_estimators()]
    if not names or unknown:
        raise ValueError(f"unknown estimator(s) {unknown or names}; choose from {', '.join(available_estimators())}")
    _check_options(opts)
    data = Path(opts.data) if opts.data else datasets.SAMPLE_SEQUENCE
    sequences = find_sequences(data)
    if opts.frames.strip():
        _check_lengths(lengths, sequences)
    out = check_out_dir(opts.out, overwrite=opts.overwrite)
    _check_out(out, data, sequences)
    estimators = {
        n: get_estimator(n, device=opts.device, weights=opts.weights or None)
        if n in INFONET_NAMES
        else get_estimator(n)
        for n in names
    }
    if any(n in INFONET_NAMES for n in names):
        preload_infonet(opts.weights, opts.device)
    out.mkdir(parents=True, exist_ok=True)
    save_options(opts, out)
    rows = []
    for path, length in [(p, t) for p in sequences for t in lengths]:
        seq = datasets.load_pointodyssey(path, max_tracks=opts.max_tracks, seed=opts.seed, max_frames=length)
        if opts.frames.strip() and seq.num_frames < length:
            log.warning("%s: skipping --frames %d, the sequence has only %d frames", path.name, length, seq.num_frames)
            continue
        label = path.name if len(lengths) == 1 else f"{path.name}_T{length}"
        curves, marks = {}, {}
        for name, estimator in estimators.items():
            with progress_bar(f"{label} {name}", unit="pair") as progress:
                result = evaluate_tracks(
                    seq.tracks,
                    estimator,
                    sequence=path.name,
                    feature=opts.feature,
                    method=opts.method,
                    criterion=opts.criterion,
                    min_size=opts.min_size,
                    num_thresholds=opts.num_thresholds,
                    seed=opts.seed,
                    progress=progress,
                )
            stem = f"{_slug(label)}_{_slug(name)}"
            write_csv(result.sweep.rows(), out / f"sweep_{stem}.csv")
            if opts.save_mi:
                np.savez_compressed(
                    out / f"mi_{stem}.npz",
                    mi=result.mi,
                    object_ids=seq.tracks.object_ids,
                    ambiguous=seq.tracks.ambiguous,
                    source_index=seq.tracks.source_index,
                )
            rows.append({**result.summary_row(), "frames": seq.num_frames})
            write_csv(rows, out / "summary.csv")  # after every result: a long run keeps what it finished
            curves[f"{name} (AP {result.sweep.ap:.2f})"] = (result.sweep.recall, result.sweep.precision)
            marks[f"{name} (AP {result.sweep.ap:.2f})"] = (result.auto.recall, result.auto.precision)
        title = f"{path.name}: {seq.tracks.num_tracks} tracks, {seq.num_frames} frames"
        vis.pr_curve_figure(curves, marks=marks, title=title).savefig(out / f"pr_{_slug(label)}.png", dpi=120)
    if not rows:
        raise ValueError(f"no sequence in {data} has {min(lengths)} frames or more")
    if len(lengths) > 1:
        vis.scores_by_frames_figure(rows).savefig(out / "frames.png", dpi=120)
    columns = [*SUMMARY_COLUMNS, "frames", "auto_f", "pair_auc"]
    print("  ".join(f"{c:>17}" for c in columns))
    for row in rows:
        print("  ".join(f"{row[c]:>17}" for c in columns))
    print(f"wrote {out / 'summary.csv'} and {len(sequences)} plot(s) to {out}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run_cli(main, parse_options(PRCurveOptions, description=__doc__.splitlines()[0]))
