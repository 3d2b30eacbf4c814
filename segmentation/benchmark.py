"""Benchmarking MI estimators at object discovery on sequences with ground-truth objects.

Shapes: T frames, N tracks, C thresholds.

For one sequence and one estimator, :func:`evaluate_tracks` computes the MI matrix once,
groups at the automatic threshold (what :func:`discover` would return), sweeps the
threshold for the precision-recall curve, and scores everything FBMS-style
(``segmentation.scoring``). :func:`find_sequences` resolves a folder into the
PointOdyssey-layout sequences below it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infonet.interface import MIEstimator

from ._imports import require_toolkit_datasets
from .affinity import track_mi
from .grouping import group, threshold_candidates
from .scoring import Score, Sweep, mean_query_ap, pair_auc, score_grouping, sweep_thresholds

__all__ = ["SUMMARY_COLUMNS", "TrackResult", "evaluate_tracks", "find_sequences"]

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

    def with_labels(self, labels: np.ndarray, object_ids, ambiguous=None) -> TrackResult:
        """The result with other default labels (for example the masks', ``segment_objects``), rescored."""
        labels = np.asarray(labels)
        return dataclasses.replace(self, auto=score_grouping(labels, object_ids, ambiguous), auto_labels=labels)

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
            "auto_threshold": round(self.auto_threshold, 5),
            "auto_f": round(self.auto.f, 4),
            "auto_precision": round(self.auto.precision, 4),
            "auto_recall": round(self.auto.recall, 4),
            "auto_f_objects": round(self.auto.f_objects, 4),
            "auto_objects_extracted": self.auto.objects_extracted,
            "auto_groups": self.auto.num_groups,
            "query_ap": round(self.query_ap, 4),
            "pair_auc": round(self.pair_auc, 4),
            "sweep_seconds": round(self.sweep_seconds, 3),
            "seconds_mi": round(self.seconds_mi, 3),
            "seconds_grouping": round(self.seconds - self.seconds_mi, 3),
        }


def find_sequences(path) -> list[Path]:
    """The sequences with ground truth at ``path`` (PointOdyssey or DAVIS layout; ``datasets.find_sequences``)."""
    return require_toolkit_datasets().find_sequences(path)


def evaluate_tracks(
    trackset,
    estimator: MIEstimator,
    *,
    sequence: str = "",
    feature: str = "coords",
    method: str = "components",
    criterion: str = "modularity",
    min_size: int = 5,
    num_thresholds: int = 48,
    seed: int = 0,
    min_overlap: int | None = None,
    moving: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> TrackResult:
    """Scores one estimator on tracks with ground truth: auto threshold, sweep, query points.

    Args:
        trackset: a ``datasets.TrackSet`` with ``object_ids`` (and optionally ``ambiguous``).
        estimator: the MI estimator.
        sequence: name for the result.
        feature, method, criterion, min_size, seed: as in :func:`segmentation.discover`.
        num_thresholds: thresholds of the sweep (plus the automatic one).
        min_overlap: None, or partial tracks compared on the frames both are seen (``track_mi``).
        moving: optional (N,) bool, the tracks that move unlike the camera: the automatic
            grouping is then ``group_moving``'s (the still tracks are the background), as in
            ``segmentation.discover``; the sweep always groups all tracks by MI alone.
        progress: optional callback ``progress(done, total)`` over the MI pairs.
    Returns:
        :class:`TrackResult`.
    Raises:
        ValueError: tracks without ground truth, or bad tracks / options.
    """
    if getattr(trackset, "object_ids", None) is None:
        raise ValueError(f"{sequence or 'the tracks'}: no ground-truth object ids (the sequence has no masks/)")
    ids, ambiguous = trackset.object_ids, trackset.ambiguous
    start = time.perf_counter()
    visibility = None if min_overlap is None else trackset.visibility
    overlap = {} if min_overlap is None else {"min_overlap": min_overlap}
    mi = track_mi(trackset.tracks, estimator, visibility=visibility, feature=feature, progress=progress, **overlap)
    seconds_mi = time.perf_counter() - start
    auto = group(mi, threshold="auto", min_size=min_size, method=method, criterion=criterion, seed=seed, moving=moving)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    # the automatic threshold joins the sweep, so the best F is never below the automatic F
    thresholds = np.union1d(threshold_candidates(mi, max_count=num_thresholds), [auto.threshold])
    sweep = sweep_thresholds(mi, ids, ambiguous, thresholds=thresholds, min_size=min_size, method=method, seed=seed)
    auto_score = score_grouping(auto.labels, ids, ambiguous)
    query_ap = mean_query_ap(mi, ids, ambiguous)
    return TrackResult(
        sequence=sequence,
        estimator=getattr(estimator, "name", type(estimator).__name__),
        n_tracks=mi.shape[0],
        num_objects=auto_score.num_objects,
        sweep=sweep,
        auto=auto_score,
        auto_threshold=auto.threshold,
        query_ap=query_ap,
        pair_auc=pair_auc(mi, ids, ambiguous),
        seconds=seconds,
        sweep_seconds=time.perf_counter() - start,
        mi=mi,
        auto_labels=auto.labels,
        seconds_mi=seconds_mi,
    )
