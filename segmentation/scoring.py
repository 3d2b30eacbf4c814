"""Scoring object discovery against ground-truth object ids (FBMS style) and per query point.

Shapes: N tracks, K predicted groups, G ground-truth objects, C thresholds of a sweep.

Which tracks count: those with a known ground-truth id (>= 0) that are not flagged
ambiguous (points on a mask edge). Everything else is left out of every count below.

Partition score (:func:`score_grouping`, FBMS, Ochs et al. 2014):

- Predicted groups are the labels >= 0; noise tracks (-1) belong to no group, so they lower
  the recall of their object and nothing else.
- Ground-truth objects are the distinct ids, the background (id 0) included: a method that
  lumps the background with an object is penalised like any other merge.
- Groups and objects are matched one to one by the Hungarian method on the F-measure
  F(g, o) = 2|g ∩ o| / (|g| + |o|) (scipy's linear_sum_assignment, maximising the total).
  It matches min(K, G) pairs, a pair with no overlap included (it scores 0).
- For a matched pair, precision = |g ∩ o| / |g| and recall = |g ∩ o| / |o|. Precision P and
  recall R are the averages over the matched pairs, and F = 2PR / (P + R).
- Unmatched objects (more objects than groups) do not enter P and R, which average over the
  matched pairs only (the project's reference, REFERENCE.md section 5). So a partition that
  finds one object perfectly and leaves the rest as noise scores P = R = F = 1. Unmatched
  objects count as not extracted, and ``f_objects`` reports the stricter mean over *all*
  objects of their pair's F, unmatched objects at 0 (one group holding every track scores a
  fair F through the background, but f_objects = F(background) / G).
- An object is extracted when its pair has F >= 0.75; the background is not counted.

A threshold sweep (:func:`sweep_thresholds`) groups at each threshold and scores the
partition, giving a precision-recall curve; ``ap`` is the area under it with the precision
envelope (the highest precision at this or any higher recall, as in PASCAL VOC), starting
at recall 0 with the envelope's first value. P and R of a partition need not move
monotonically with the threshold, and the envelope lifts the whole curve to its best
points, so this AP saturates near 1 whenever one threshold gets the partition right; the
query-point AP below separates estimators better.

Per query point (:func:`query_pr_curve`): rank all other scored tracks by MI to the query,
sweep the threshold down, and count a track as a true positive when it shares the query's
object; ``ap`` is the average precision (sum over true positives of the precision at their
rank, divided by the number of positives).

Pair separability (:func:`pair_auc`): the ROC AUC of MI as a score of "the two tracks share an
object" over all pairs of scored tracks, ties counted half. It needs no threshold and no
grouping, so it compares affinities (estimators, features) before any graph step.

Masks (DAVIS, Perazzi et al. 2016; the definitions of the davis2017-evaluation toolkit): region
similarity J (:func:`region_similarity`) is the intersection over union of the predicted and the
true foreground of a frame (1 when both are empty); boundary F (:func:`boundary_f`) is the
F-measure of the two masks' one-pixel contours, a contour pixel counting as matched when the other
contour passes within ceil(0.008 x image diagonal) pixels (a disk). Both are averaged over frames
(:func:`mask_scores`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment
from skimage.morphology import disk

from .grouping import Grouping, check_mi, group, threshold_candidates

__all__ = [
    "EXTRACTED_F",
    "Score",
    "Sweep",
    "QueryPR",
    "scored_mask",
    "score_grouping",
    "sweep_thresholds",
    "average_precision",
    "precision_envelope",
    "query_pr_curve",
    "mean_query_ap",
    "pair_auc",
    "BOUNDARY_SHARE",
    "MaskScore",
    "region_similarity",
    "boundary_f",
    "mask_scores",
]

EXTRACTED_F = 0.75
BACKGROUND_ID = 0
BOUNDARY_SHARE = 0.008  # DAVIS: contour match tolerance, as a share of the image diagonal


@dataclass
class Score:
    """FBMS scores of one partition (see the module docstring)."""

    precision: float
    recall: float
    f: float
    f_objects: float
    objects_extracted: int
    num_groups: int
    num_objects: int
    num_scored: int
    pairs: list[tuple[int, int, float, float]] = field(default_factory=list)  # (group, object id, P, R)


@dataclass
class Sweep:
    """Scores over a range of thresholds (C of them, descending)."""

    thresholds: np.ndarray
    scores: list[Score]

    @property
    def precision(self) -> np.ndarray:
        return np.array([s.precision for s in self.scores])

    @property
    def recall(self) -> np.ndarray:
        return np.array([s.recall for s in self.scores])

    @property
    def f(self) -> np.ndarray:
        return np.array([s.f for s in self.scores])

    @property
    def best(self) -> int:
        """Index of the threshold with the highest F.

        Ties (common: F averages over matched pairs only, so several thresholds can reach 1)
        go to the higher ``f_objects``, then to more objects extracted, then to the first.
        """
        keys = [(round(s.f, 12), round(s.f_objects, 12), s.objects_extracted) for s in self.scores]
        return max(range(len(keys)), key=lambda i: (keys[i], -i))

    @property
    def ap(self) -> float:
        return average_precision(self.recall, self.precision)

    def index_of(self, threshold: float) -> int | None:
        """The index of ``threshold`` among the sweep's thresholds (to float precision), or None."""
        if not self.thresholds.size or not np.isfinite(threshold):
            return None
        i = int(np.argmin(np.abs(self.thresholds - threshold)))
        return i if np.isclose(self.thresholds[i], threshold, rtol=1e-9, atol=1e-12) else None

    def rows(self) -> list[dict]:
        """One dict per threshold, for a CSV."""
        return [
            {
                "threshold": float(t),
                "precision": s.precision,
                "recall": s.recall,
                "f": s.f,
                "f_objects": s.f_objects,
                "objects_extracted": s.objects_extracted,
                "num_groups": s.num_groups,
            }
            for t, s in zip(self.thresholds, self.scores, strict=True)
        ]


@dataclass
class QueryPR:
    """Precision-recall of the tracks ranked by MI to one query track."""

    query: int
    thresholds: np.ndarray  # (C,) descending MI values
    precision: np.ndarray  # (C,)
    recall: np.ndarray  # (C,)
    ap: float


def scored_mask(object_ids, ambiguous=None) -> np.ndarray:
    """(N,) bool: tracks with a known object id (>= 0) that are not ambiguous."""
    ids = np.asarray(object_ids)
    mask = ids >= 0
    if ambiguous is not None:
        ambiguous = np.asarray(ambiguous, dtype=bool)
        if ambiguous.shape != ids.shape:
            raise ValueError(f"ambiguous has shape {ambiguous.shape}, object_ids {ids.shape}")
        mask &= ~ambiguous
    return mask


def _check_labels(labels, object_ids) -> tuple[np.ndarray, np.ndarray]:
    labels, ids = np.asarray(labels), np.asarray(object_ids)
    if labels.ndim != 1 or labels.shape != ids.shape:
        raise ValueError(f"labels and object_ids must both have shape (N,); got {labels.shape} and {ids.shape}")
    return labels.astype(np.int64), ids.astype(np.int64)


def score_grouping(labels, object_ids, ambiguous=None) -> Score:
    """FBMS precision, recall and F of a partition of the tracks.

    Args:
        labels: (N,) predicted groups, -1 for noise.
        object_ids: (N,) ground-truth object ids; 0 background, -1 unknown (not scored).
        ambiguous: optional (N,) bool, tracks left out of the score.
    Returns:
        :class:`Score`. With no scored track, or no group at all, P = R = F = 0.
    """
    labels, ids = _check_labels(labels, object_ids)
    keep = scored_mask(ids, ambiguous)
    labels, ids = labels[keep], ids[keep]
    objects = np.unique(ids)
    groups = np.unique(labels[labels >= 0])
    empty = Score(0.0, 0.0, 0.0, 0.0, 0, len(groups), len(objects), int(keep.sum()))
    if len(objects) == 0 or len(groups) == 0:
        return empty
    overlap = np.zeros((len(groups), len(objects)))  # (K, G)
    np.add.at(overlap, (np.searchsorted(groups, labels[labels >= 0]), np.searchsorted(objects, ids[labels >= 0])), 1)
    group_size = np.array([(labels == g).sum() for g in groups], dtype=np.float64)  # (K,)
    object_size = np.array([(ids == o).sum() for o in objects], dtype=np.float64)  # (G,)
    f_matrix = 2 * overlap / (group_size[:, None] + object_size[None, :])
    rows, cols = linear_sum_assignment(f_matrix, maximize=True)
    p = overlap[rows, cols] / group_size[rows]
    r = overlap[rows, cols] / object_size[cols]
    precision, recall = float(p.mean()), float(r.mean())
    f = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    pair_f = f_matrix[rows, cols]
    extracted = int(((pair_f >= EXTRACTED_F) & (objects[cols] != BACKGROUND_ID)).sum())
    pairs = [
        (int(groups[g]), int(objects[o]), float(pp), float(rr)) for g, o, pp, rr in zip(rows, cols, p, r, strict=True)
    ]
    return Score(
        precision=precision,
        recall=recall,
        f=f,
        f_objects=float(pair_f.sum() / len(objects)),
        objects_extracted=extracted,
        num_groups=len(groups),
        num_objects=len(objects),
        num_scored=int(keep.sum()),
        pairs=pairs,
    )


def precision_envelope(recall, precision) -> tuple[np.ndarray, np.ndarray]:
    """A P-R curve as it is drawn and scored: points sorted by recall, each precision raised to the
    highest precision at this or any higher recall (PASCAL VOC), starting at recall 0.

    Args:
        recall, precision: (C,) points in any order (a threshold sweep's order).
    Returns:
        recall (D + 1,) rising from 0 (D distinct recalls, each once, with the best precision
        reached there) and precision (D + 1,) non-increasing: a step curve that
        holds ``precision[i]`` on ``(recall[i - 1], recall[i]]`` (matplotlib's ``where="pre"``), so
        its area is ``sum(diff(recall) * precision[1:])`` = :func:`average_precision`.
    """
    recall, precision = np.asarray(recall, dtype=np.float64), np.asarray(precision, dtype=np.float64)
    if recall.shape != precision.shape or recall.ndim != 1:
        raise ValueError(
            f"recall and precision must be two (C,) arrays, got shapes {recall.shape} and {precision.shape}"
        )
    if recall.size == 0:
        return np.zeros(1), np.zeros(1)
    levels, where = np.unique(recall, return_inverse=True)  # one point per recall: the best precision there
    best = np.full(levels.size, -np.inf)
    np.maximum.at(best, where, precision)
    envelope = np.maximum.accumulate(best[::-1])[::-1]  # best precision at this or a higher recall
    return np.concatenate([[0.0], levels]), np.concatenate([envelope[:1], envelope])


def average_precision(recall, precision) -> float:
    """Area under a precision-recall curve with the precision envelope (VOC style), the area of
    the step curve :func:`precision_envelope` returns.

    Args:
        recall, precision: (C,) points in any order.
    Returns:
        The area in [0, 1]; 0 for no points.
    """
    r, p = precision_envelope(recall, precision)
    return float(np.sum(np.diff(r) * p[1:]))


def sweep_thresholds(
    mi,
    object_ids,
    ambiguous=None,
    *,
    thresholds=None,
    num_thresholds: int = 48,
    min_size: int = 5,
    method: str = "components",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Sweep:
    """Groups at each threshold and scores every partition: the P-R curve of a method.

    Args:
        mi: (N, N) MI matrix. object_ids, ambiguous: as in :func:`score_grouping`.
        thresholds: (C,) thresholds to try (default: up to ``num_thresholds`` of
            :func:`threshold_candidates`, the levels where the components change).
        min_size, method, seed: passed to :func:`group`.
        progress: optional callback ``progress(done, total)`` over thresholds.
    Returns:
        :class:`Sweep` with thresholds in descending order.
    """
    mi = check_mi(mi)
    if thresholds is None:
        thresholds = threshold_candidates(mi, max_count=num_thresholds)
    thresholds = np.sort(np.asarray(thresholds, dtype=np.float64).ravel())[::-1]
    scores = []
    for c, t in enumerate(thresholds):
        grouping: Grouping = group(mi, threshold=float(t), min_size=min_size, method=method, seed=seed)
        scores.append(score_grouping(grouping.labels, object_ids, ambiguous))
        if progress is not None:
            progress(c + 1, len(thresholds))
    return Sweep(thresholds=thresholds, scores=scores)


def query_pr_curve(mi, object_ids, query: int, ambiguous=None) -> QueryPR:
    """P-R curve of one query track: others ranked by MI to it, positives share its object.

    Args:
        mi: (N, N) MI matrix. object_ids, ambiguous: as in :func:`score_grouping`.
        query: index of the query track (must be scored).
    Returns:
        :class:`QueryPR`; a threshold step per distinct MI value (ties enter together).
    Raises:
        ValueError: the query is out of range or not scored.
    """
    mi = check_mi(mi)
    ids = np.asarray(object_ids, dtype=np.int64)
    if ids.shape != (len(mi),):
        raise ValueError(f"object_ids must have shape ({len(mi)},), got {ids.shape}")
    keep = scored_mask(ids, ambiguous)
    if not 0 <= query < len(mi):
        raise ValueError(f"query {query} out of range for {len(mi)} tracks")
    if not keep[query]:
        raise ValueError(f"query track {query} has no usable ground-truth id")
    return _query_pr(mi, ids, keep, int(query))


def _query_pr(mi: np.ndarray, ids: np.ndarray, keep: np.ndarray, query: int) -> QueryPR:
    others = np.flatnonzero(keep & (np.arange(len(mi)) != query))
    scores = mi[query, others]
    positive = ids[others] == ids[query]
    order = np.argsort(-scores, kind="stable")
    scores, positive = scores[order], positive[order]
    tp = np.cumsum(positive)
    last = np.r_[scores[1:] != scores[:-1], True]  # last position of each distinct score
    thresholds, tp_at, n_at = scores[last], tp[last], np.flatnonzero(last) + 1
    n_pos = int(positive.sum())
    precision = tp_at / n_at
    recall = tp_at / n_pos if n_pos else np.zeros(len(tp_at))
    # AP over tied steps: each step's new positives at the step's precision
    new_pos = np.diff(np.r_[0, tp_at])
    ap = float((new_pos * precision).sum() / n_pos) if n_pos else 0.0
    return QueryPR(query=query, thresholds=thresholds, precision=precision, recall=recall, ap=ap)


def mean_query_ap(mi, object_ids, ambiguous=None, *, queries=None) -> float:
    """Mean query-point AP over ``queries`` (default: every scored track whose object has another)."""
    mi = check_mi(mi)
    ids = np.asarray(object_ids, dtype=np.int64)
    if ids.shape != (len(mi),):
        raise ValueError(f"object_ids must have shape ({len(mi)},), got {ids.shape}")
    keep = scored_mask(ids, ambiguous)
    if queries is None:
        counts = {o: (ids[keep] == o).sum() for o in np.unique(ids[keep])}
        queries = [i for i in np.flatnonzero(keep) if counts[ids[i]] > 1]
    elif not all(0 <= q < len(mi) and keep[q] for q in queries):
        raise ValueError("every query must be the index of a track with a usable ground-truth id")
    aps = [_query_pr(mi, ids, keep, int(q)).ap for q in queries]
    return float(np.mean(aps)) if aps else 0.0


def pair_auc(mi, object_ids, ambiguous=None) -> float:
    """ROC AUC of MI separating same-object from different-object pairs of scored tracks.

    The Mann-Whitney form: the probability that a random same-object pair has higher MI than a
    random different-object pair, ties counted half. NaN when either kind of pair is missing.
    """
    mi = check_mi(mi)
    ids = np.asarray(object_ids, dtype=np.int64)
    if ids.shape != (len(mi),):
        raise ValueError(f"object_ids must have shape ({len(mi)},), got {ids.shape}")
    keep = np.flatnonzero(scored_mask(ids, ambiguous))
    i, j = np.triu_indices(len(keep), k=1)
    scores, same = mi[keep[i], keep[j]], ids[keep[i]] == ids[keep[j]]
    positives, negatives = int(same.sum()), int((~same).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    from scipy.stats import rankdata  # here, not at import: scipy.stats alone takes 0.3 s to import

    ranks = rankdata(scores)  # average ranks for ties
    return float((ranks[same].sum() - positives * (positives + 1) / 2) / (positives * negatives))


# ----------------------------------------------------------------------------- masks


@dataclass
class MaskScore:
    """DAVIS scores of a predicted foreground against the truth, averaged over frames.

    Attributes:
        j: mean region similarity (IoU). f: mean boundary F. per_frame_j, per_frame_f: (T,).
    """

    j: float
    f: float
    per_frame_j: np.ndarray
    per_frame_f: np.ndarray


def region_similarity(predicted, truth) -> np.ndarray:
    """J: IoU of boolean masks (..., H, W) -> (...), 1 where both are empty."""
    predicted, truth = np.asarray(predicted, bool), np.asarray(truth, bool)
    inter = (predicted & truth).sum(axis=(-2, -1))
    union = (predicted | truth).sum(axis=(-2, -1))
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))


def _contour(mask: np.ndarray) -> np.ndarray:
    """One-pixel boundary of a boolean (H, W) mask: pixels whose right, lower or lower-right neighbour differs."""
    east, south, south_east = np.zeros_like(mask), np.zeros_like(mask), np.zeros_like(mask)
    east[:, :-1], south[:-1, :], south_east[:-1, :-1] = mask[:, 1:], mask[1:, :], mask[1:, 1:]
    edge = (mask ^ east) | (mask ^ south) | (mask ^ south_east)
    edge[-1, :] = mask[-1, :] ^ east[-1, :]
    edge[:, -1] = mask[:, -1] ^ south[:, -1]
    edge[-1, -1] = False
    return edge


def boundary_f(predicted, truth) -> float:
    """DAVIS boundary F-measure of one frame's boolean (H, W) masks (see the module docstring)."""
    predicted, truth = np.asarray(predicted, bool), np.asarray(truth, bool)
    radius = int(np.ceil(BOUNDARY_SHARE * np.hypot(*predicted.shape)))
    kernel = disk(radius).astype(np.uint8)
    fg, gt = _contour(predicted), _contour(truth)
    n_fg, n_gt = int(fg.sum()), int(gt.sum())
    if n_fg == 0 or n_gt == 0:
        return 1.0 if n_fg == n_gt else 0.0  # both empty: perfect; one empty: P or R is 0
    fg_near = cv2.dilate(fg.astype(np.uint8), kernel).astype(bool)
    gt_near = cv2.dilate(gt.astype(np.uint8), kernel).astype(bool)
    precision = (fg & gt_near).sum() / n_fg
    recall = (gt & fg_near).sum() / n_gt
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))


def mask_scores(predicted, truth) -> MaskScore:
    """J and boundary F of (T, H, W) masks (nonzero = foreground), averaged over the T frames.

    Raises:
        ValueError: the shapes differ.
    """
    predicted, truth = np.asarray(predicted) != 0, np.asarray(truth) != 0
    if predicted.shape != truth.shape or predicted.ndim != 3:
        raise ValueError(f"masks must both be (T, H, W); got {predicted.shape} and {truth.shape}")
    j = region_similarity(predicted, truth)
    f = np.array([boundary_f(p, g) for p, g in zip(predicted, truth, strict=True)])
    return MaskScore(j=float(j.mean()), f=float(f.mean()), per_frame_j=j, per_frame_f=f)
