"""Track features against MI estimators on the same tracks: best F, anchor AUC and default labels.

Shapes: N tracks, T frames.

For every sequence the pipeline (``segmentation.discover_video``) tracks once (or takes the given
tracks), and every (feature, estimator) pair then reuses those tracks and their motion, so the
affinities differ only in what they compare. Each run is scored by
``benchmarks.tracks.evaluate_result`` (best FBMS F over the threshold sweep, F of the automatic
labels, the anchor-track AUC). Beside the best F, the F of every track in one group, which the
sweep's lowest threshold gives any affinity: where the best F is that, no threshold split the tracks
better than leaving them together (every davis-dev video, for InfoNet and |Pearson| alike: there the
anchor AUC is the comparison). :func:`leave_one_out` picks a feature on all sequences but one and
reports the held-out sequence's score, the figure to quote for a chosen default.

Runs are cached under ``cache`` (one JSON row per sequence, feature, estimator and statistic, and
the tracked first run per sequence), so an interrupted sweep resumes where it stopped.
``--statistic`` picks what of each pair's MI the grouping reads (``VideoOptions.statistic``: the
lower end of InfoNet's interval by default, or its estimate); rows of both share the first run.

    python -m benchmarks.features --data ../shared/data/davis-dev --frames 50 --out runs/features/davis
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import pickle
import time
from pathlib import Path

import numpy as np

import datasets
import segmentation
from benchmarks import common
from benchmarks.tracks import anchor_auc_by_object, evaluate_result
from infonet.cli import check_number, run_cli
from infonet.interface import STATISTICS, read_statistic

__all__ = ["feature_rows", "labelled", "leave_one_out", "summarise"]

log = logging.getLogger(__name__)

SCORES = (
    "best_f",
    "one_group_f",
    "top_f_objects",
    "anchor_auc",
    "anchor_auc_compared",
    "compared_share",
    "auto_f",
    "pair_auc",
    "seconds_mi",
)


def _key(*parts) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _object_name(path: Path, object_id: int) -> str:
    """A generated scene's asset name of an object id (0: background), else the id as text."""
    info = path / "scene_info.json"
    if object_id == 0:
        return "background"
    if info.is_file():
        assets = json.loads(info.read_text()).get("assets", [])
        if 0 < object_id <= len(assets):
            return assets[object_id - 1]
    return str(object_id)


def _weights(estimator: str, feature: str) -> tuple:
    """The multivariate weights a neural vector run reads (path and time written), else ()."""
    vector = any(part in segmentation.affinity.VECTOR_FEATURES for part in segmentation.affinity.feature_parts(feature))
    if not (estimator.startswith("infonet") and vector):
        return ()
    from infonet.vector_estimate import DEFAULT_VECTOR_WEIGHTS

    path = Path(os.environ.get("INFONET_VECTOR_WEIGHTS") or DEFAULT_VECTOR_WEIGHTS)
    return (str(path.resolve()), path.stat().st_mtime if path.is_file() else None)


def _run_options(opts: segmentation.VideoOptions) -> dict:
    """The options a features run depends on: all but the mask step's (these runs draw no masks), so
    that a change of the mask defaults leaves the cached tracks and rows valid."""
    return {k: v for k, v in dataclasses.asdict(opts).items() if k != "mask"}


def _track_options(opts: segmentation.VideoOptions) -> dict:
    """The options the tracks and their motion depend on: the run's, less what of each pair's MI the
    grouping reads, the displacements' step and the samples a pair is read on, so that rows of every
    statistic, step and cap share one tracked first run."""
    return {k: v for k, v in _run_options(opts).items() if k not in ("statistic", "step", "max_samples")}


def _first_run(inp, name: str, opts: segmentation.VideoOptions, cache: Path):
    """The tracked run every feature reuses (tracks and motion), cached by sequence and options."""
    path = cache / f"first_{name}_{_key(name, inp.num_frames, _track_options(opts))}.pkl"
    if path.is_file():
        return pickle.loads(path.read_bytes())
    first = segmentation.discover_video(inp, "pearson", dataclasses.replace(opts, feature="coords"))
    path.write_bytes(pickle.dumps(first))
    return first


def feature_rows(
    sequences: list[Path],
    estimators: list[str],
    features: list[str],
    opts: segmentation.VideoOptions,
    cache: Path,
    *,
    max_frames: int | None = None,
    step: int = 1,
) -> list[dict]:
    """One row per sequence, feature and estimator (``SCORES`` and names), cached in ``cache``;
    ``step``: frames of each displacement of the features that take one (``segmentation.affinity.STEPPED``)."""
    from infonet import get_estimator

    cache.mkdir(parents=True, exist_ok=True)
    opts = dataclasses.replace(opts, masks=False)
    made = {}
    rows = []
    for path in sequences:
        inp = datasets.load_input(path, max_frames=max_frames, max_tracks=opts.max_tracks)
        first = None
        for feature in features:
            for name in estimators:
                estimator = made.setdefault(name, get_estimator(name))
                # without intervals an estimator gives its estimate whatever is asked: one row serves all
                run = dataclasses.replace(
                    opts,
                    feature=feature,
                    statistic=read_statistic(estimator, opts.statistic),
                    step=step if segmentation.affinity.takes_step(feature) else 1,
                )
                weights = _weights(name, feature)
                key = _key(path.name, inp.num_frames, feature, name, _run_options(run), *weights)
                row_path = cache / f"row_{path.name}_{key}.json"
                if row_path.is_file():
                    rows.append(json.loads(row_path.read_text()))
                    continue
                first = first or _first_run(inp, path.name, opts, cache)
                start = time.perf_counter()
                result = segmentation.discover_video(inp, estimator, run, reuse=first)
                scored = evaluate_result(result, sequence=path.name)
                summary = scored.summary_row()
                row = {"sequence": path.name, "feature": feature, "estimator": name, "n_tracks": scored.n_tracks}
                row["weights"] = list(weights)
                row["min_overlap"] = opts.min_overlap
                row["statistic"], row["step"], row["max_samples"] = run.statistic, run.step, run.max_samples
                row["options_key"] = _key(_track_options(opts))  # rows of one key share their tracks
                g = result.grouped
                ambiguous = None if result.ambiguous is None else result.ambiguous[g]
                by_object = anchor_auc_by_object(result.mi, result.truth_ids[g], ambiguous)
                row["anchor_auc_by_object"] = {_object_name(path, o): round(v, 4) for o, v in by_object.items()}
                row |= {k: summary[k] for k in (*SCORES, "auto_f_objects", "best_matched", "num_objects")} | {
                    "frames": inp.num_frames
                }
                row["seconds_run"] = round(time.perf_counter() - start, 3)
                row_path.write_text(json.dumps(row))
                log.info("%s", row)
                rows.append(row)
    return rows


def _mean(rows: list[dict], key: str) -> float:
    values = [r[key] for r in rows if key in r and r[key] == r[key]]  # NaN-free; older rows lack some keys
    return float(np.mean(values)) if values else float("nan")


def _one_group(rows: list[dict]) -> str:
    """On how many of the rows the best F is no better than every track in one group ("-": rows
    from before that F was kept)."""
    known = [r for r in rows if "one_group_f" in r]
    return f"{sum(r['best_f'] <= r['one_group_f'] for r in known)} of {len(known)}" if known else "-"


def _aucs_by_kind(rows: list[dict]) -> dict[str, list[float]]:
    """The rows' per-object anchor AUCs, by kind of motion (``_kind`` of the objects' names: a real
    video's are the background and "object")."""
    kinds: dict[str, list[float]] = {}
    for r in rows:
        for obj, auc in r.get("anchor_auc_by_object", {}).items():
            kinds.setdefault(_kind(obj), []).append(auc)
    return kinds


def by_kind(rows: list[dict]) -> dict[str, float]:
    """Mean anchor AUC of each kind of motion over the rows."""
    return {kind: round(float(np.mean(v)), 4) for kind, v in sorted(_aucs_by_kind(rows).items())}


def summarise(rows: list[dict]) -> list[dict]:
    """Mean of ``SCORES`` over sequences per (feature, estimator), on how many of them the best F
    is one group's (``one_group``), and the anchor AUC by kind of motion (``by_kind``)."""
    out = []
    for feature in dict.fromkeys(r["feature"] for r in rows):
        for name in dict.fromkeys(r["estimator"] for r in rows):
            group = [r for r in rows if r["feature"] == feature and r["estimator"] == name]
            if group:
                out.append(
                    {"feature": feature, "estimator": name, "sequences": len(group)}
                    | {k: round(_mean(group, k), 4) for k in SCORES}
                    | {"one_group": _one_group(group), "by_kind": by_kind(group)}
                )
    return out


def leave_one_out(rows: list[dict], estimator: str, score: str = "best_f") -> dict:
    """Picks ``estimator``'s feature on all sequences but one, scores the held-out one; averaged.

    Returns:
        {"chosen": {sequence: feature}, score: held-out mean, "anchor_auc": held-out mean, ...}.
    """
    mine = [r for r in rows if r["estimator"] == estimator]
    names = sorted({r["sequence"] for r in mine})
    features = sorted({r["feature"] for r in mine})
    cells = {(f, s): [r for r in mine if r["feature"] == f and r["sequence"] == s] for f in features for s in names}
    chosen, held = {}, []
    if len(names) > 1:  # one sequence: nothing to choose on
        table = [[_mean(cells[f, s], score) if cells[f, s] else np.nan for s in names] for f in features]
        picks, _ = common.leave_one_out(table)
        chosen = {s: features[p] for s, p in zip(names, picks, strict=True) if p >= 0}
        held = [r for s, f in chosen.items() for r in cells[f, s]]
    return {"estimator": estimator, "chosen": chosen} | {k: round(_mean(held, k), 4) for k in SCORES}


def cached_rows(cache: Path, weights: str | None = None, statistic: str | None = None) -> list[dict]:
    """Every row in ``cache``, with ``dataset`` (its folder's kind and min_overlap) added.

    InfoNet vector rows are kept only for ``weights`` (a path; None: the most recent weights file
    among them) as it was last measured (the newest modification time the rows record for it), so one
    table never mixes networks. With a ``statistic``, only the rows that read it, and those of
    estimators without intervals (which read their estimate whatever is asked)."""
    rows = [json.loads(p.read_text()) for p in sorted(cache.glob("row_*.json"), key=lambda p: p.stat().st_mtime)]
    if statistic is not None:
        from infonet import get_estimator

        read = {name: read_statistic(get_estimator(name), statistic) for name in {r["estimator"] for r in rows}}
        rows = [r for r in rows if r.get("statistic", "estimate") == read[r["estimator"]]]
    # rows without min_overlap came from an older pipeline; on tracked videos its motion options
    # differed, so they are left out (generated scenes are grouped by MI alone, as before)
    rows = [r for r in rows if "min_overlap" in r or r["frames"] == 120]
    vector_features = segmentation.affinity.VECTOR_FEATURES
    # InfoNet vector rows written before the weights were recorded came from an older network
    rows = [r for r in rows if "weights" in r or not (r["estimator"] == "infonet" and r["feature"] in vector_features)]
    for r in rows:
        r.setdefault("min_overlap", 8)  # rows written before the field existed were all at 8
        r["dataset"] = "generated" if r["frames"] == 120 else f"davis (min_overlap {r['min_overlap']})"
    vector = [r for r in rows if r.get("weights")]
    if vector:  # one network: a weights file at its newest modification time (a retrained file keeps its path)
        path = (
            str(Path(weights).resolve()) if weights else max(vector, key=lambda r: r["weights"][1] or 0)["weights"][0]
        )
        stamp = max((r["weights"][1] or 0 for r in vector if r["weights"][0] == path), default=None)
        rows = [
            r for r in rows if not r.get("weights") or (r["weights"][0] == path and (r["weights"][1] or 0) == stamp)
        ]
    # tracked videos: only the rows of the pipeline options most rows have (one key, one set of tracks)
    for dataset in {r["dataset"] for r in rows if r["dataset"] != "generated"}:
        keys = [r["options_key"] for r in rows if r["dataset"] == dataset and r.get("options_key")]
        if keys:  # rows from before the key existed stay: a later run with a new key would have re-tracked
            common = max(set(keys), key=keys.count)
            rows = [r for r in rows if r["dataset"] != dataset or r.get("options_key") in (None, common)]
    latest = {(r["dataset"], r["sequence"], r["feature"], r.get("step", 1), _cap(r), r["estimator"]): r for r in rows}
    return labelled(list(latest.values()))  # the newest of each


def _cap(row: dict) -> int:
    """The samples a row's pairs were read on at most, where its clip had more (0: all of them)."""
    cap = row.get("max_samples") or 0  # rows from before the cap read every sample
    return cap if 0 < cap < row["frames"] else 0


def labelled(rows: list[dict]) -> list[dict]:
    """The rows with each feature named with its step where it has one ("xy-velocity, step 8"), and with
    the samples its pairs were read on where the clip had more ("xy, 64 samples"), so that tables and
    leave-one-out choices tell them apart."""
    out = []
    for r in rows:
        name = r["feature"] + (f", step {r['step']}" if r.get("step", 1) > 1 else "")
        out.append(r | {"feature": name + (f", {_cap(r)} samples" if _cap(r) else "")})
    return out


CHOICES = {"best_f": "best F", "auto_f": "F of the automatic labels", "anchor_auc": "anchor AUC"}


def report(rows: list[dict], choose_by: str = "best_f") -> str:
    """Markdown: per dataset, the mean scores of every (feature, estimator) over the sequences it
    ran on, the leave-one-out choice of each estimator's feature (by mean ``choose_by`` on the other
    sequences), and per sequence the held-out scores of every estimator at its leave-one-out feature
    (the comparison on the same tracks)."""
    if choose_by not in CHOICES:
        raise ValueError(f"choose_by must be one of {', '.join(CHOICES)}, got {choose_by!r}")
    lines = []
    for dataset in sorted({r["dataset"] for r in rows}):
        mine = [r for r in rows if r["dataset"] == dataset]
        names = sorted({r["estimator"] for r in mine})
        # the sequences every estimator ran on: all comparisons on the same tracks
        common = set.intersection(*({r["sequence"] for r in mine if r["estimator"] == e} for e in names))
        mine = [r for r in mine if r["sequence"] in common]
        lines += [f"### {dataset}: {len(common)} sequences ({', '.join(sorted(common))})", ""]
        lines += [
            "| feature | estimator | sequences | best F | best F is one group's | best per-object F | anchor AUC "
            "| anchor AUC over compared pairs | F of auto labels | pair AUC | MI s |"
        ]
        lines += ["|---|---|---|---|---|---|---|---|---|---|---|"]
        for m in sorted(summarise(mine), key=lambda m: (m["feature"], m["estimator"])):
            lines.append(
                f"| {m['feature']} | {m['estimator']} | {m['sequences']} | {m['best_f']:.3f} | {m['one_group']} "
                f"| {m['top_f_objects']:.3f} | {m['anchor_auc']:.3f} | {m['anchor_auc_compared']:.3f} "
                f"| {m['auto_f']:.3f} | {m['pair_auc']:.3f} | {m['seconds_mi']:.2f} |"
            )
        lines += [
            "",
            f"Leave one sequence out (each estimator's feature chosen by mean {CHOICES[choose_by]} on the others):",
            "",
        ]
        lines += ["| sequence | " + " | ".join(f"{e}: feature, best F, anchor AUC, auto F" for e in names) + " |"]
        lines += ["|---|" + "---|" * len(names)]
        held = {e: leave_one_out(mine, e, choose_by) for e in names}
        for seq in sorted({r["sequence"] for r in mine}):
            cells = []
            for e in names:
                f = held[e]["chosen"].get(seq)
                r = next((r for r in mine if r["sequence"] == seq and r["estimator"] == e and r["feature"] == f), None)
                cells.append("-" if r is None else f"{f}, {r['best_f']:.3f}, {r['anchor_auc']:.3f}, {r['auto_f']:.3f}")
            lines.append(f"| {seq} | " + " | ".join(cells) + " |")
        means = [f"{held[e]['best_f']:.3f}, {held[e]['anchor_auc']:.3f}, {held[e]['auto_f']:.3f}" for e in names]
        lines += ["| **mean** | " + " | ".join(means) + " |", ""]
        lines += _by_kind(mine, names, held)
    return "\n".join(lines)


ARTICULATED_KINDS = {  # benchmarks.articulated's figures, named kind_k
    "walker": "walker (swinging arms and legs)",
    "animal": "animal (trotting legs, wagging tail)",
    "wheel": "wheel (turning)",
}


def _kind(name: str) -> str:
    """A generated object's kind of motion from its asset name (datasets.synthetic, benchmarks.articulated)."""
    if name == "background":
        return "background (camera)"
    if figure := ARTICULATED_KINDS.get(name.split("_")[0]):
        return figure
    if name.endswith("_convoy"):
        return "convoy follower"
    if "articulated" in name:
        return "articulated (leads the convoy)"
    return "spinning shape" if name.startswith("object") else "object"


def _by_kind(rows: list[dict], names: list[str], held: dict) -> list[str]:
    """Anchor AUC per kind of motion, each estimator at its held-out feature, over the sequences."""
    kinds: dict[str, dict[str, list]] = {}
    for name in names:
        chosen = [r for r in rows if r["estimator"] == name and held[name]["chosen"].get(r["sequence"]) == r["feature"]]
        for kind, aucs in _aucs_by_kind(chosen).items():
            kinds.setdefault(kind, {})[name] = aucs
    if not kinds:
        return []
    out = ["Anchor AUC by kind of motion (anchors of that kind; each estimator at its held-out feature):", ""]
    out += ["| kind | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for kind in sorted(kinds):
        cells = [f"{np.mean(kinds[kind][e]):.3f} ({len(kinds[kind][e])})" if e in kinds[kind] else "-" for e in names]
        out.append(f"| {kind} | " + " | ".join(cells) + " |")
    return [*out, ""]


def _counts(values) -> list[tuple[str, int]]:
    values = list(values)
    return sorted(((v, values.count(v)) for v in set(values)), key=lambda t: -t[1])


def stage_times(
    estimators: list[str],
    features: list[str],
    num_tracks: int = 300,
    num_frames: int = 50,
    statistic: str | None = None,
) -> list[dict]:
    """Seconds of the MI stage (``segmentation.track_mi``) on planted tracks (T, N, 2), every track
    seen in every frame, and on the same tracks with a quarter of them seen in part (partial path).
    Wall and CPU seconds (the CPU time of this process: on a shared machine, the wall time less
    the waiting for cores), with the 1-minute load average.

    Each estimator reads ``statistic`` (None: what the pipeline groups on, ``VideoOptions().statistic``)
    where it gives intervals, else its estimate. The first call per estimator and feature runs on 8 tracks
    (loads, warms up) and is not timed."""
    from benchmarks.pairwise import planted_tracks
    from infonet import get_estimator

    tracks, _ = planted_tracks(num_tracks, num_frames, 4, seed=0)
    seen = np.ones(tracks.shape[:2], bool)
    seen[: num_frames // 3, : num_tracks // 4] = False  # a quarter start a third of the way in
    rows = []
    for name in estimators:
        estimator = get_estimator(name)
        read = read_statistic(estimator, statistic or segmentation.VideoOptions().statistic)
        for feature in features:
            segmentation.track_mi(tracks[:, :8], estimator, feature=feature, statistic=read)
            for label, kwargs in (("full", {}), ("partial", {"visibility": seen, "min_overlap": 16})):
                start, cpu = time.perf_counter(), time.process_time()
                segmentation.track_mi(tracks, estimator, feature=feature, statistic=read, **kwargs)
                seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
                rows.append(
                    {"estimator": name, "feature": feature, "statistic": read, "tracks": label}
                    | {"seconds": round(seconds, 3)}
                    | {"cpu_seconds": round(cpu, 3), "load_average": round(os.getloadavg()[0], 2)}
                )
                log.info("%s", rows[-1])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="", help="a sequence folder or a folder of them")
    parser.add_argument("--timing", action="store_true", help="only time the MI stage on 300 x 50 planted tracks")
    parser.add_argument("--report", action="store_true", help="only print the tables of the rows in --cache")
    parser.add_argument("--weights", default="", help="with --report: the InfoNet vector weights to report")
    parser.add_argument(
        "--choose-by",
        default="best_f",
        choices=sorted(CHOICES),
        help="with --report: the score leave-one-out chooses by",
    )
    parser.add_argument("--sequences", default="", help="comma-separated names to keep (default: all)")
    parser.add_argument("--frames", type=int, default=None, help="first frames only (default: all)")
    parser.add_argument("--estimators", default="infonet,ksg,pearson")
    parser.add_argument("--features", default="coords,velocity,xy,xy-velocity,xy-residual,xy-posvel")
    parser.add_argument("--max-tracks", type=int, default=300)
    parser.add_argument("--min-overlap", type=int, default=8, help="VideoOptions.min_overlap (tracked videos)")
    parser.add_argument(
        "--statistic",
        default=segmentation.VideoOptions().statistic,
        choices=STATISTICS,
        help="what of each pair's MI the grouping reads (VideoOptions.statistic; estimators without "
        "intervals give their estimate)",
    )
    parser.add_argument(
        "--step", type=int, default=1, help="frames of each displacement of velocity, xy-velocity, xy-posvel"
    )
    parser.add_argument(
        "--max-samples",
        type=int,
        default=segmentation.VideoOptions().max_samples,
        help="frames each pair is read on at most (VideoOptions.max_samples; 0: all)",
    )
    parser.add_argument("--cache", default="runs/discovery-cache/features")
    parser.add_argument("--out", default="runs/features", help="folder for rows.json and summary.json")
    args = parser.parse_args()
    if args.frames is not None:
        check_number("--frames", args.frames, low=1, why="leave it out for all frames")
    check_number("--step", args.step, low=1)
    if args.timing:
        rows = stage_times(
            args.estimators.split(","), args.features.split(","), args.max_tracks, args.frames or 50, args.statistic
        )
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "timing.json").write_text(json.dumps(rows, indent=1))
        return
    if args.report:
        rows = cached_rows(Path(args.cache), args.weights or None, args.statistic)
        keep = set(args.sequences.split(",")) if args.sequences else None
        rows = [r for r in rows if keep is None or r["sequence"] in keep or r["dataset"] == "generated"]
        if args.estimators:
            rows = [r for r in rows if r["estimator"] in args.estimators.split(",")]
        if args.features:
            rows = [r for r in rows if r["feature"].split(",")[0] in args.features.split(",")]
        print(f"Each pair's MI read as: {args.statistic} (estimators without intervals: their estimate)\n")
        print(report(rows, args.choose_by))
        return
    if not args.data:
        parser.error("--data is required (or --timing, --report)")
    sequences = common.named_sequences(args.data, args.sequences)
    opts = segmentation.VideoOptions(
        max_tracks=args.max_tracks, min_overlap=args.min_overlap, statistic=args.statistic, max_samples=args.max_samples
    )
    rows = feature_rows(
        sequences,
        args.estimators.split(","),
        args.features.split(","),
        opts,
        Path(args.cache),
        max_frames=args.frames,
        step=args.step,
    )
    rows = labelled(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "options": vars(args),
        "mean": summarise(rows),
        "leave_one_out": [leave_one_out(rows, e) for e in args.estimators.split(",")],
    }
    (out / "rows.json").write_text(json.dumps(rows, indent=1))
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    for line in summary["mean"]:
        print(line)
    for line in summary["leave_one_out"]:
        print(line)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    run_cli(main)
