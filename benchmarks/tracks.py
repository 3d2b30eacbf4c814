"""Benchmarking MI estimators at object discovery on sequences with ground-truth objects.

Shapes: T frames, N tracks, C thresholds.

For one sequence and one estimator, :func:`evaluate_result` takes one run of the pipeline
(``segmentation.discover_video``: its MI matrix and its labels), sweeps the threshold over the
same matrix for the precision-recall curve, and scores everything FBMS-style
(``segmentation.scoring``). :func:`anchor_auc` judges the affinity apart from any threshold
(InfoAtlas's trajectory protocol). :func:`score_sequences` drives it over folders of sequences and
clip lengths for ``scripts/pr_curves.py``.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

import datasets
import segmentation
from segmentation import (
    Score,
    Sweep,
    VideoResult,
    mean_query_ap,
    pair_auc,
    score_grouping,
    scored_mask,
    sweep_thresholds,
    threshold_candidates,
)
from segmentation import visualize as vis
from segmentation.progress import stage_bars

from .common import write_csv

__all__ = [
    "SUMMARY_COLUMNS",
    "TrackResult",
    "anchor_auc",
    "anchor_auc_by_object",
    "evaluate_result",
    "score_sequence",
    "score_sequences",
]

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ("sequence", "estimator", "n_tracks", "best_f", "ap", "objects_extracted", "seconds")


@dataclass
class TrackResult:
    """One estimator on one sequence.

    Attributes:
        sequence, estimator: names.
        n_tracks: N, the tracks compared.
        num_objects: ground-truth objects among the scored tracks (background included).
        sweep: scores over the threshold sweep (the P-R curve).
        auto: score at the automatic threshold; auto_threshold: that threshold.
        query_ap: mean query-point AP over all scored tracks.
        pair_auc: ROC AUC of MI separating same-object from different-object pairs.
        seconds: MI matrix plus automatic grouping (the cost of one discovery).
        sweep_seconds: the threshold sweep and the query-point scores.
        mi: (N, N) the MI matrix.
        auto_labels: (N,) the groups at the automatic threshold (what ``discover`` returns).
        seconds_mi: the MI matrix alone (``seconds`` minus the automatic grouping).
        anchor_auc: mean over anchor tracks of the ROC AUC of the anchor's row (:func:`anchor_auc`).
        anchor_auc_compared: the same over the pairs the estimator compared (for a tracker's partial
            tracks, those sharing ``min_overlap`` frames; the others all hold the matrix's floor, tied):
            how well the affinity ranks where it has evidence. Equal to ``anchor_auc`` for given tracks.
        compared_share: the share of the pairs of tracks that were compared (1 for given tracks).
        one_group_f: F of every scored track in one group, which any affinity's lowest threshold
            gives: where ``best_f`` equals it, no threshold split the tracks better than not at all.
        top_f_objects: the best over the sweep of the per-object F (``Score.f_objects``: the matched
            pairs' F summed over every ground-truth object, so one group scores at most half of it on
            two objects), which an unsplit background cannot win as it wins ``best_f``.
    """

    sequence: str
    estimator: str
    n_tracks: int
    num_objects: int
    sweep: Sweep
    auto: Score
    auto_threshold: float
    query_ap: float
    pair_auc: float
    seconds: float
    sweep_seconds: float
    mi: np.ndarray
    auto_labels: np.ndarray | None = None
    seconds_mi: float = float("nan")
    anchor_auc: float = float("nan")
    one_group_f: float = float("nan")
    anchor_auc_compared: float = float("nan")
    compared_share: float = 1.0

    @property
    def top_f_objects(self) -> float:
        return max(score.f_objects for score in self.sweep.scores)

    def summary_row(self) -> dict:
        """The row of summary.csv: ``SUMMARY_COLUMNS`` first, then extras.

        ``best_f`` and ``objects_extracted`` are at the threshold of highest F in the sweep;
        ``ap`` is the area under the sweep's P-R curve; ``auto_*`` are at the automatic
        threshold.
        """
        best = self.sweep.scores[self.sweep.best]
        return {
            "sequence": self.sequence,
            "estimator": self.estimator,
            "n_tracks": self.n_tracks,
            "best_f": round(best.f, 4),
            "ap": round(self.sweep.ap, 4),
            "objects_extracted": best.objects_extracted,
            "seconds": round(self.seconds, 3),
            "num_objects": self.num_objects,
            "best_threshold": round(float(self.sweep.thresholds[self.sweep.best]), 5),
            "best_precision": round(best.precision, 4),
            "best_recall": round(best.recall, 4),
            "best_f_objects": round(best.f_objects, 4),
            "best_matched": len(best.pairs),  # objects (background included) matched at the best F, of num_objects
            "auto_threshold": round(self.auto_threshold, 5),
            "auto_f": round(self.auto.f, 4),
            "auto_precision": round(self.auto.precision, 4),
            "auto_recall": round(self.auto.recall, 4),
            "auto_f_objects": round(self.auto.f_objects, 4),
            "auto_objects_extracted": self.auto.objects_extracted,
            "auto_groups": self.auto.num_groups,
            "query_ap": round(self.query_ap, 4),
            "pair_auc": round(self.pair_auc, 4),
            "anchor_auc": round(self.anchor_auc, 4),
            "anchor_auc_compared": round(self.anchor_auc_compared, 4),
            "compared_share": round(self.compared_share, 4),
            "one_group_f": round(self.one_group_f, 4),
            "top_f_objects": round(self.top_f_objects, 4),
            "sweep_seconds": round(self.sweep_seconds, 3),
            "seconds_mi": round(self.seconds_mi, 3),
            "seconds_grouping": round(self.seconds - self.seconds_mi, 3),
        }


def evaluate_result(result: VideoResult, *, sequence: str = "", num_thresholds: int = 48) -> TrackResult:
    """Scores one pipeline run (``segmentation.discover_video``) on an input with ground truth.

    The automatic row scores the run's own labels of the grouped tracks (what ``result.npz``
    holds); the sweep groups the matrix the run's grouping read (``result.grouping_mi()``) at
    ``num_thresholds`` thresholds (plus the automatic one), every grouped track by MI alone, for
    the P-R curve. The AUCs and the query AP judge the MI matrix itself (``result.mi``).

    Args:
        result: a run on an input with ground truth (``result.truth_ids``).
        sequence: name for the result. num_thresholds: thresholds of the sweep.
    Returns:
        :class:`TrackResult`.
    Raises:
        ValueError: the input had no ground truth.
    """
    if result.truth_ids is None:
        raise ValueError(f"{sequence or 'the input'}: no ground-truth objects (the sequence has no masks)")
    g = result.grouped
    ids = result.truth_ids[g]
    ambiguous = None if result.ambiguous is None else result.ambiguous[g]
    mi, options = result.mi, result.options
    grouped_mi = result.grouping_mi()  # what the grouping reads: the sweep groups it at every threshold
    start = time.perf_counter()
    cuts = threshold_candidates(grouped_mi, max_count=num_thresholds)
    if np.isfinite(result.auto_threshold):  # the automatic threshold joins the sweep
        cuts = np.union1d(cuts, [result.auto_threshold])
    sweep = sweep_thresholds(
        grouped_mi,
        ids,
        ambiguous,
        thresholds=cuts,
        min_size=options["min_size"],
        method=options["method"],
        seed=options["seed"],
    )
    auto_score = score_grouping(result.labels[g], ids, ambiguous)
    compared = None if result.shared is None else result.shared >= options["min_overlap"]
    every_pair = anchor_auc(mi, ids, ambiguous)
    return TrackResult(
        sequence=sequence,
        estimator=result.estimator,
        n_tracks=len(g),
        num_objects=auto_score.num_objects,
        sweep=sweep,
        auto=auto_score,
        auto_threshold=result.threshold,
        query_ap=mean_query_ap(mi, ids, ambiguous),
        pair_auc=pair_auc(mi, ids, ambiguous),
        seconds=result.timings["mi"] + result.timings["grouping"],
        sweep_seconds=time.perf_counter() - start,
        mi=mi,
        auto_labels=result.labels[g],
        seconds_mi=result.timings["mi"],
        anchor_auc=every_pair,
        one_group_f=score_grouping(np.ones(len(g), np.int64), ids, ambiguous).f,
        anchor_auc_compared=every_pair if compared is None else anchor_auc(mi, ids, ambiguous, compared=compared),
        compared_share=1.0 if compared is None else float(compared[np.triu_indices(len(g), 1)].mean()),
    )


def anchor_auc(affinity, object_ids, ambiguous=None, *, compared=None) -> float:
    """Anchor-track ROC AUC (InfoAtlas): per anchor, the AUC of its affinity row for "same object".

    For every scored track (``segmentation.scored_mask``) whose object has another scored track and
    that has a scored track of another object, the probability that a random track of its object
    has a higher affinity to it than a random track of another object (ties count half), over the
    other scored tracks; averaged over those anchors. Unlike the pair AUC, every anchor weighs the
    same, whatever the size of its object.

    Args:
        affinity: (N, N) MI or any affinity (higher: more alike); the diagonal is ignored.
        object_ids: (N,) ground-truth object of each track (< 0: unknown).
        ambiguous: optional (N,) bool, tracks left out of the score.
        compared: optional (N, N) bool, the pairs the affinity was estimated on: each anchor's row
            is then read over the tracks compared with it only (partial tracks that share too few
            frames are not, and all hold the matrix's floor).
    Returns:
        The mean AUC in [0, 1]; NaN when no track can be an anchor (one object only, or no anchor
        compared with tracks of its object and of another).
    Raises:
        ValueError: shapes that do not match, or NaN in the affinity.
    """
    a = np.asarray(affinity, dtype=np.float64)
    ids = np.asarray(object_ids, dtype=np.int64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"affinity must be a square (N, N) array, got shape {a.shape}")
    if ids.shape != (len(a),):
        raise ValueError(f"object_ids must have shape ({len(a)},), one per row of the affinity; got {ids.shape}")
    if np.isnan(a).any():
        raise ValueError("affinity contains NaN")
    if compared is not None and np.shape(compared) != a.shape:
        raise ValueError(f"compared must have the affinity's shape {a.shape}; got {np.shape(compared)}")
    aucs = _anchor_aucs(a, ids, ambiguous, compared)
    return float(np.mean(list(aucs.values()))) if aucs else float("nan")


def anchor_auc_by_object(affinity, object_ids, ambiguous=None) -> dict[int, float]:
    """:func:`anchor_auc` averaged over the anchors of each ground-truth object: {object id: AUC}."""
    ids = np.asarray(object_ids, dtype=np.int64)
    aucs = _anchor_aucs(np.asarray(affinity, dtype=np.float64), ids, ambiguous)
    return {int(o): float(np.mean([v for i, v in aucs.items() if ids[i] == o])) for o in sorted({ids[i] for i in aucs})}


def _anchor_aucs(a: np.ndarray, ids: np.ndarray, ambiguous, compared=None) -> dict[int, float]:
    """{anchor index: AUC of its row} over the scored tracks (see :func:`anchor_auc`), and with
    ``compared`` (N, N) bool over those compared with the anchor."""
    keep = np.flatnonzero(scored_mask(ids, ambiguous))
    aucs = {}
    for i in keep:
        others = keep[keep != i]
        if compared is not None:
            others = others[np.asarray(compared)[i, others]]
        same = ids[others] == ids[i]
        pos, neg = int(same.sum()), int((~same).sum())
        if pos == 0 or neg == 0:
            continue
        ranks = rankdata(a[i, others])  # average ranks: ties count half
        aucs[int(i)] = (ranks[same].sum() - pos * (pos + 1) / 2) / (pos * neg)
    return aucs


# ----------------------------------------------------------------------------- driving sequences


def score_sequences(
    sequences, lengths, estimators: dict, pipeline, out: Path, *, num_thresholds=48, save_results=False, max_frames=None
) -> list[dict]:
    """Every estimator on every sequence at every clip length (None: all frames up to ``max_frames``,
    without skipping shorter sequences), on the same tracks:
    summary rows; summary.csv (rewritten after every sequence, so a long run keeps its rows), the
    sweeps and P-R plots in ``out`` (see :func:`score_sequence`)."""
    rows = []
    for path, length in [(p, t) for p in sequences for t in lengths]:
        inp = datasets.load_input(path, max_frames=length or max_frames, max_tracks=pipeline.max_tracks)
        if length is not None and inp.num_frames < length:
            log.warning("%s: skipping --frames %d, the sequence has only %d frames", path.name, length, inp.num_frames)
            continue
        label = path.name if len(lengths) == 1 else f"{path.name}_T{length}"
        rows += score_sequence(inp, path.name, label, estimators, pipeline, out, num_thresholds, save_results)
        with datasets.replacing(out / "summary.csv") as tmp:
            write_csv(rows, tmp)
    if rows and len(lengths) > 1:
        vis.save_figure(vis.scores_by_frames_figure(rows), out / "frames.png", dpi=120)
    return rows


def score_sequence(inp, name, label, estimators, pipeline, out: Path, num_thresholds=48, save_results=False):
    """Every estimator on the same tracks of one sequence (tracking once): one summary row each
    (FBMS scores, pair and anchor AUC, J and boundary F where the input has masks); in ``out`` the
    sweep_<label>_<estimator>.csv files, pr_<label>.png and, with ``save_results``, result_*.npz.

    ``name`` is the sequence's (the rows' "sequence"), ``label`` the files' (the name, with the clip
    length when several are swept); ``pipeline`` the ``VideoOptions``."""
    truth_masks = None if inp.truth is None else inp.truth.masks
    pipeline = dataclasses.replace(pipeline, masks=pipeline.masks and truth_masks is not None)
    rows, curves, marks, first = [], {}, {}, None
    for est_name, estimator in estimators.items():
        with stage_bars({"tracking": "frame", "motion": "frame", "mi": "pair", "masks": "frame"}) as progress:
            result = segmentation.discover_video(inp, estimator, pipeline, progress=progress, reuse=first)
        first = first or result
        scored = evaluate_result(result, sequence=name, num_thresholds=num_thresholds)
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
        stem = _file_stem(f"{label}_{est_name}")
        with datasets.replacing(out / f"sweep_{stem}.csv") as tmp:
            write_csv(scored.sweep.rows(), tmp)
        if save_results:
            segmentation.save_result(result, out / f"result_{stem}.npz")
        curves[est_name] = (scored.sweep.recall, scored.sweep.precision)
        marks[est_name] = _chosen_point(result, scored)
    title = f"{name}: {len(first.grouped)} tracks, {inp.num_frames} frames"
    vis.save_figure(vis.pr_curve_figure(curves, marks=marks, title=title), out / f"pr_{_file_stem(label)}.png", dpi=120)
    return rows


def _chosen_point(result: VideoResult, scored: TrackResult) -> tuple[float, float, str]:
    """(recall, precision, caption) of the run's own threshold: a point of the sweep, else the labels'."""
    how = "automatic" if result.threshold == result.auto_threshold else "given"
    here = scored.sweep.index_of(result.threshold)
    point, what = (scored.auto, "labels at") if here is None else (scored.sweep.scores[here], "")
    return point.recall, point.precision, f"{what} {how} threshold {result.threshold:.3g} nats".strip()


def _file_stem(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)
