"""Precision-recall and mask scores of object discovery for several MI estimators, on sequences with ground truth.

    python scripts/pr_curves.py --out runs/pr                          # the bundled sample
    python scripts/pr_curves.py --data path/to/val --estimators infonet,ksg,pearson --out runs/pr
    python scripts/pr_curves.py --data davis-dev --estimators infonet,ksg,pearson --out runs/davis

--data is one sequence folder or a folder of them, in PointOdyssey layout (anno.npz: its own
tracks, --max-tracks of them, a seeded subsample) or DAVIS layout (frames/ and masks/: the frames
are tracked once and every estimator groups the same tracks, each track labelled by the majority
of the mask under it). For every sequence and estimator: pairwise MI, a threshold sweep scored
FBMS-style against the ground truth, and the automatic threshold; for DAVIS sequences also the
masks of the primary objects at the automatic threshold, scored by J (IoU) and boundary F as the
DAVIS benchmark defines them. Writes to --out: summary.csv (sequence, estimator, n_tracks, best_f,
ap, objects_extracted, seconds, then extras: auto_f, auto_threshold, query_ap, pair_auc, j,
boundary_f, seconds_tracking, seconds_mi, seconds_grouping, seconds_masks, ...),
sweep_<sequence>_<estimator>.csv (one row per threshold), pr_<sequence>.png (the curves; stars
mark the automatic threshold), options.json.

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
from segmentation import CRITERIA, FEATURES, METHODS, mask_scores, pipeline
from segmentation import visualize as vis
from segmentation._imports import require_toolkit_datasets
from segmentation.benchmark import SUMMARY_COLUMNS, evaluate_tracks, find_sequences
from segmentation.progress import progress_bar

log = logging.getLogger("pr_curves")

DEFAULTS = pipeline.VideoOptions()


@dataclass
class PRCurveOptions:
    data: str = field(default="", metadata={"help": "sequence folder or folder of them (default: bundled sample)"})
    estimators: str = field(default="infonet,ksg,pearson", metadata={"help": "comma-separated estimator names"})
    out: str = field(default="runs/pr_curves", metadata={"help": "output folder"})
    max_tracks: int = field(default=DEFAULTS.max_tracks, metadata={"help": "tracks grouped per sequence"})
    max_frames: int | None = field(default=None, metadata={"help": "use only the first frames"})
    frames: str = field(default="", metadata={"help": "comma-separated clip lengths to sweep (e.g. 48,96,192)"})
    feature: str = field(default=DEFAULTS.feature, metadata={"help": ", ".join(FEATURES)})
    num_points: int = field(default=DEFAULTS.num_points, metadata={"help": "DAVIS: grid points of the tracker"})
    reseed: int = field(default=DEFAULTS.reseed, metadata={"help": "DAVIS: frames between re-seedings (0: never)"})
    min_overlap: int = field(default=DEFAULTS.min_overlap, metadata={"help": "DAVIS: frames two tracks must share"})
    max_side: int = field(default=DEFAULTS.track_side, metadata={"help": "DAVIS: longest side of the tracked frames"})
    masks: bool = field(default=True, metadata={"help": "DAVIS: score per-pixel masks (J, boundary F)"})
    method: str = field(default="components", metadata={"help": "components or louvain"})
    criterion: str = field(default="modularity", metadata={"help": "auto threshold criterion: modularity or otsu"})
    foreground: str = field(
        default=DEFAULTS.foreground,
        metadata={"help": "motion (tracks moving unlike the camera, grouped by MI) or groups (MI groups alone)"},
    )
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
    check_choice("--foreground", opts.foreground, pipeline.FOREGROUNDS)


def _check_lengths(lengths: list[int], sequences: list[Path]) -> None:
    """A --frames value longer than every sequence is refused; shorter sequences are skipped later."""
    count = lambda p: len(list((p / "rgbs").glob("rgb_*"))) or len(list((p / "frames").glob("*")))  # noqa: E731
    frames = {p.name: count(p) for p in sequences}
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


def _video_options(opts: PRCurveOptions) -> pipeline.VideoOptions:
    return pipeline.VideoOptions(
        track_side=opts.max_side,
        num_points=opts.num_points,
        reseed=opts.reseed,
        min_overlap=opts.min_overlap,
        max_tracks=opts.max_tracks,
        feature=opts.feature,
        min_size=opts.min_size,
        method=opts.method,
        criterion=opts.criterion,
        foreground=opts.foreground,
        masks=opts.masks,
        seed=opts.seed,
    )


def _score_sequence(inp, name: str, label: str, estimators: dict, opts: PRCurveOptions, out: Path) -> list[dict]:
    """Every estimator on the same tracks of one sequence: summary rows; sweeps, MI and the P-R plot on disk."""
    datasets = require_toolkit_datasets()
    video = _video_options(opts)
    with progress_bar(f"{label} tracking", unit="frame") as progress:
        tracked = pipeline.track_video(inp, video, progress)
    tracks = tracked.grouped()
    masks = inp.truth.masks if inp.truth is not None else None
    if masks is not None:  # DAVIS: each track's object is the mask's majority under it
        ids, ambiguous = datasets.track_object_ids(tracks.tracks, tracks.visibility, masks)
        tracks.object_ids, tracks.ambiguous = ids, ambiguous
    rows, curves, marks = [], {}, {}
    for est_name, estimator in estimators.items():
        with progress_bar(f"{label} {est_name}", unit="pair") as progress:
            result = evaluate_tracks(
                tracks,
                estimator,
                sequence=name,
                feature=opts.feature,
                method=opts.method,
                criterion=opts.criterion,
                min_size=opts.min_size,
                num_thresholds=opts.num_thresholds,
                seed=opts.seed,
                min_overlap=tracked.min_overlap,
                moving=tracked.moving_picked(),
                progress=progress,
            )
        row = {**result.summary_row(), "frames": inp.num_frames, "seconds_tracking": round(tracked.seconds, 3)}
        if masks is not None and opts.masks:
            seg = pipeline.segment_objects(inp.frames, tracked, tracked.pick, result.auto_labels, video)
            score = mask_scores(seg.masks > 0, masks)
            if tracked.moving is not None:  # the default labels follow the masks, as discover.py writes them
                result = result.with_labels(seg.all_labels[tracked.pick], tracks.object_ids, tracks.ambiguous)
                row |= {k: v for k, v in result.summary_row().items() if k.startswith("auto_")}
            row |= {"j": round(score.j, 4), "boundary_f": round(score.f, 4), "seconds_masks": round(seg.seconds, 3)}
            row["seconds_total"] = round(tracked.seconds + result.seconds + seg.seconds, 3)
        rows.append(row)
        stem = f"{_slug(label)}_{_slug(est_name)}"
        write_csv(result.sweep.rows(), out / f"sweep_{stem}.csv")
        if opts.save_mi:
            np.savez_compressed(
                out / f"mi_{stem}.npz",
                mi=result.mi,
                object_ids=tracks.object_ids,
                ambiguous=tracks.ambiguous,
                source_index=tracks.source_index if tracks.source_index is not None else tracked.pick,
            )
        curves[f"{est_name} (AP {result.sweep.ap:.2f})"] = (result.sweep.recall, result.sweep.precision)
        marks[f"{est_name} (AP {result.sweep.ap:.2f})"] = (result.auto.recall, result.auto.precision)
    title = f"{name}: {tracks.num_tracks} tracks, {inp.num_frames} frames"
    vis.pr_curve_figure(curves, marks=marks, title=title).savefig(out / f"pr_{_slug(label)}.png", dpi=120)
    return rows


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
    estimators = {n: get_estimator(n, device=opts.device, weights=opts.weights) for n in names}
    if any(est.neural for est in estimators.values()):
        preload_infonet(opts.weights, opts.device)
    out.mkdir(parents=True, exist_ok=True)
    save_options(opts, out)
    rows = []
    for path, length in [(p, t) for p in sequences for t in lengths]:
        inp = datasets.load_input(path, max_frames=length, max_tracks=opts.max_tracks, seed=opts.seed)
        if opts.frames.strip() and inp.num_frames < length:
            log.warning("%s: skipping --frames %d, the sequence has only %d frames", path.name, length, inp.num_frames)
            continue
        label = path.name if len(lengths) == 1 else f"{path.name}_T{length}"
        rows += _score_sequence(inp, path.name, label, estimators, opts, out)
        write_csv(rows, out / "summary.csv")  # after every sequence: a long run keeps what it finished
    if not rows:
        raise ValueError(f"no sequence in {data} has {min(lengths)} frames or more")
    if len(lengths) > 1:
        vis.scores_by_frames_figure(rows).savefig(out / "frames.png", dpi=120)
    columns = [*SUMMARY_COLUMNS, "frames", "auto_f", "pair_auc"]
    if any("j" in row for row in rows):
        columns += ["j", "boundary_f"]
    print("  ".join(f"{c:>17}" for c in columns))
    for row in rows:
        print("  ".join(f"{row.get(c, ''):>17}" for c in columns))
    print(f"wrote {out / 'summary.csv'} and {len(sequences)} plot(s) to {out}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run_cli(main, parse_options(PRCurveOptions, description=__doc__.splitlines()[0]))
