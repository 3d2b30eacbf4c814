"""Tracks into objects: threshold the MI matrix into a graph and group its nodes.

Shapes: N tracks, K groups.

Two groupings of the graph whose edges join tracks with MI >= threshold:

- ``components`` (the paper): objects are the connected components. Simple, but one
  spurious high-MI pair chains two objects into one.
- ``louvain``: Louvain communities of the same graph, edges weighted by their MI (seeded,
  networkx). It can split a component that is two dense groups joined by a few edges.

Labels follow the project's convention (``segmentation.labels``): groups are 1..K by size, groups
smaller than ``min_size`` tracks are noise (-1: isolated, corrupted or ambiguous tracks rarely
carry enough MI to anything to form a real object), and 0, the background, is given only by
:func:`group_moving` (the tracks that move with the camera).

The threshold is chosen per video (:func:`auto_threshold`); MI levels differ between
estimators (KSG, InfoNet and correlation estimators live on different scales) and between
videos (length, motion), so no constant suits them all. Criteria:

- ``modularity`` (default): lower the threshold through every level where the component
  partition changes (the merges of single-linkage clustering: the edges of the maximum
  spanning tree of MI, N - 1 of them) and keep the partition with the highest weighted
  modularity Q (Newman) on the full graph with weights max(MI - b, 0), where b is the MI
  of a typical unrelated pair (:func:`unrelated_level`, the mean of the lower Otsu class
  of the MI values). Q rewards groups whose tracks depend on each other more than the
  groups' total weight would predict at random, at any MI scale; removing b sharpens the
  contrast that a saturating estimator leaves between objects. Partitions within 0.5 % of the best Q
  count as ties, won by the highest threshold: a straggler joining an object barely moves
  Q and is safer left out as noise than merged wrongly. The threshold returned is the
  middle of the interval that yields the chosen partition (the widest margin both ways).
- ``otsu``: Otsu's threshold on the off-diagonal MI values (skimage). It ignores the graph;
  and since the pairs are dominated by the largest object, it often cuts inside a mode.

Measured on 10 generated sequences (datasets.generate_sequence: 1-8 objects, 24-48 frames,
300 tracks; MI from Pearson and KSG on all, InfoNet on 3: 23 matrices), the mean FBMS F
at the automatic threshold was 0.977 with ``modularity`` (0.962 with b = 0; InfoNet alone
0.973 against 0.906), 0.82 with ``otsu``, and 0.988 at the best threshold picked with the
ground truth. Louvain at the same threshold scored 0.905: it splits large objects (the
background, articulated bodies) at modularity's resolution, though on some scenes it
repairs a chained merge. On planted block matrices (1-3 blocks, one of them up to 90 % of
the tracks, plus noise tracks) the partition was exact in 39 of 40 draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy.sparse.csgraph import minimum_spanning_tree

from .labels import GroupCounts

__all__ = [
    "METHODS",
    "CRITERIA",
    "Grouping",
    "check_mi",
    "group",
    "auto_threshold",
    "trusted_mi",
    "merge_levels",
    "threshold_candidates",
    "group_moving",
    "relabel_by_size",
    "modularity",
    "unrelated_level",
]

METHODS = ("components", "louvain")
TOLERANCE = 0.005  # relative: near-ties of modularity go to the higher threshold
END_MARGIN = 1e-3  # relative: the end thresholds lie this far beyond the strongest / weakest merge (scale >= 1 nat)
MIN_EDGE_WEIGHT = 1e-12  # Louvain needs positive edge weights; an MI of 0 or below still joins at this weight
CRITERIA = ("modularity", "otsu")
GROUP_MIN_SHARED = 24  # pairs of partial tracks that share fewer frames join no group (trusted_mi)


@dataclass
class Grouping(GroupCounts):
    """Tracks grouped into objects.

    Attributes:
        labels: (N,) int64, groups 1..K ordered by size (largest first), -1 noise, 0 the
            background (only with ``moving``: the still tracks).
        threshold: the MI threshold of the graph (nats).
        method: "components" or "louvain".
    """

    labels: np.ndarray
    threshold: float
    method: str


def check_mi(mi) -> np.ndarray:
    """Validates an MI matrix: square (N, N), N >= 2, finite; returns a symmetric float64 copy."""
    mi = np.array(mi, dtype=np.float64)
    if mi.ndim != 2 or mi.shape[0] != mi.shape[1]:
        raise ValueError(f"mi must be a square (N, N) matrix; got shape {mi.shape}")
    if len(mi) < 2:
        raise ValueError(f"need at least 2 tracks; got {len(mi)}")
    if not np.isfinite(mi).all():
        raise ValueError(f"mi contains {int((~np.isfinite(mi)).sum())} NaN or infinite value(s)")
    mi = (mi + mi.T) / 2
    np.fill_diagonal(mi, 0.0)
    return mi


def relabel_by_size(raw, min_size: int = 1) -> np.ndarray:
    """Renumbers group ids 1..K by size (largest first, ties by first track); small groups -> -1.

    Args:
        raw: (N,) any integer ids; negative ids are noise already.
        min_size: groups with fewer tracks become noise.
    Returns:
        (N,) int64 labels.
    """
    raw = np.asarray(raw)
    labels = np.full(len(raw), -1, dtype=np.int64)
    valid = raw >= 0
    ids, first, counts = np.unique(raw[valid], return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))  # size descending, then first appearance
    new = 1
    for k in order:
        if counts[k] < min_size:
            continue
        labels[raw == ids[k]] = new
        new += 1
    return labels


def merge_levels(mi) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The single-linkage merges of the MI graph, strongest first.

    Lowering the threshold from +inf, two components join exactly when it passes an edge of
    the maximum spanning tree of MI; these N - 1 edges are all the changes of the partition.

    Returns:
        rows (N-1,), cols (N-1,), levels (N-1,): tree edges sorted by MI, descending.
    """
    mi = check_mi(mi)
    cost = (mi.max() + 1.0) - mi  # > 0 off the diagonal: the MST of cost is the max-MI tree
    np.fill_diagonal(cost, 0.0)
    tree = minimum_spanning_tree(cost).tocoo()
    levels = mi[tree.row, tree.col]
    order = np.argsort(-levels, kind="stable")
    return tree.row[order].astype(np.int64), tree.col[order].astype(np.int64), levels[order]


def threshold_candidates(mi, max_count: int | None = None) -> np.ndarray:
    """Thresholds between consecutive merge levels: each gives a distinct component partition.

    Args:
        max_count: keep at most this many: half at the widest gaps between levels, the rest
            evenly spread over the ranks of the levels.
    Returns:
        (C,) thresholds, descending: above the strongest merge (all singletons) down to below
        the weakest (one group).
    """
    _, _, levels = merge_levels(mi)
    levels = np.unique(levels)[::-1]  # distinct, descending
    gap = max(float(levels[0] - levels[-1]), 1.0) * END_MARGIN
    edges = np.concatenate([[levels[0] + gap], levels, [levels[-1] - gap]])
    cuts = (edges[:-1] + edges[1:]) / 2
    if max_count is not None and len(cuts) > max_count:
        # half at the widest gaps (the partitions that hold over the widest range of
        # thresholds, where a good one usually is), half evenly over the merge ranks
        widest = np.argsort(-(edges[:-1] - edges[1:]), kind="stable")[: max_count // 2]
        even = np.round(np.linspace(0, len(cuts) - 1, max_count - len(widest))).astype(int)
        cuts = cuts[np.union1d(widest, even)]  # at most max_count, still descending
    return cuts


def modularity(mi, labels, *, baseline: float = 0.0) -> float:
    """Weighted modularity of a partition on the graph with weights max(MI - baseline, 0).

    Args:
        mi: (N, N) MI matrix. labels: (N,) group ids; -1 tracks count as singletons.
        baseline: MI level subtracted from every pair (0 gives networkx's weighted modularity).
    """
    w = np.maximum(check_mi(mi) - baseline, 0.0)
    np.fill_diagonal(w, 0.0)
    labels = np.asarray(labels).copy()
    noise = labels < 0
    labels[noise] = labels.max(initial=0) + 1 + np.arange(noise.sum())
    two_m = w.sum()
    if two_m <= 0:
        return 0.0
    _, ids = np.unique(labels, return_inverse=True)
    member = np.zeros((len(labels), ids.max() + 1))
    member[np.arange(len(labels)), ids] = 1.0  # (N, K)
    inside = np.einsum("ik,ij,jk->", member, w, member)
    degree = member.T @ w.sum(1)  # (K,)
    return float(inside / two_m - ((degree / two_m) ** 2).sum())


def unrelated_level(mi) -> float:
    """The MI of a typical pair of unrelated tracks: the mean of the lower mode of the MI values.

    The off-diagonal values are split in two by Otsu's threshold; the lower class holds the
    pairs of different objects (however the tracks are shared between objects, unlike a
    quantile), and its mean is their level: estimator bias plus the chance dependence of
    smooth motions over a short clip.
    """
    from skimage.filters import threshold_otsu

    values = np.asarray(mi)[np.triu_indices(len(mi), k=1)]
    if values.min() == values.max():
        return float(values[0])
    low = values[values < threshold_otsu(values)]
    return float(low.mean()) if low.size else float(values.min())


def _modularity_threshold(mi: np.ndarray) -> float:
    """Threshold whose component partition has the highest modularity (see module docstring)."""
    rows, cols, levels = merge_levels(mi)
    w = np.maximum(mi - unrelated_level(mi), 0.0)
    np.fill_diagonal(w, 0.0)
    two_m = w.sum()
    if two_m <= 0:  # all pairs equal: nothing stands out, one group
        return float(levels[-1])
    N = len(mi)
    between = w.copy()  # (N, N) weight between clusters, indexed by cluster root
    degree = w.sum(1) / two_m
    parent = np.arange(N)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    qs = np.empty(N)  # qs[k]: modularity after k merges
    qs[0] = -(degree**2).sum()  # all singletons
    for k, (i, j) in enumerate(zip(rows, cols, strict=True), start=1):
        a, b = root(i), root(j)
        qs[k] = qs[k - 1] + 2 * between[a, b] / two_m - 2 * degree[a] * degree[b]
        between[a] += between[b]
        between[:, a] += between[:, b]
        degree[a] += degree[b]
        parent[b] = a
    best_k = int(np.flatnonzero(qs >= qs.max() - TOLERANCE * abs(qs.max()))[0])
    upper = levels[best_k - 1] if best_k > 0 else levels[0] + max(abs(levels[0]), 1.0) * END_MARGIN
    lower = levels[best_k] if best_k < len(levels) else levels[-1] - max(abs(levels[-1]), 1.0) * END_MARGIN
    return float((upper + lower) / 2)


def auto_threshold(mi, *, criterion: str = "modularity") -> float:
    """An MI threshold for this video alone (see the module docstring for the criteria).

    Args:
        mi: (N, N) MI matrix.
        criterion: "modularity" (default) or "otsu".
    Returns:
        The threshold in nats; edges need MI >= threshold.
    """
    mi = check_mi(mi)
    if criterion == "modularity":
        return _modularity_threshold(mi)
    if criterion == "otsu":
        from skimage.filters import threshold_otsu

        values = mi[np.triu_indices(len(mi), k=1)]
        if values.min() == values.max():
            return float(values[0])
        return float(threshold_otsu(values))
    raise ValueError(f"unknown threshold criterion {criterion!r}; choose from {', '.join(CRITERIA)}")


def _resolved(mi: np.ndarray, threshold: float | str, criterion: str) -> float:
    """The threshold as a finite number ("auto": :func:`auto_threshold`)."""
    if isinstance(threshold, str):
        if threshold != "auto":
            raise ValueError(f"threshold must be a number or 'auto', got {threshold!r}")
        threshold = auto_threshold(mi, criterion=criterion)
    threshold = float(threshold)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold}")
    return threshold


def trusted_mi(mi, shared=None, min_shared: int = GROUP_MIN_SHARED) -> np.ndarray:
    """The MI matrix the grouping reads: ``mi`` with the pairs that share fewer than ``min_shared``
    frames at the lowest MI of the others, so that they join no group.

    Their MI is estimated and kept (it ranks them: davis-dev's tracker tracks share 8-15 frames in two
    thirds of the compared pairs), but edges of so short an overlap chained tracks of different objects:
    the F of the default labels fell by 0.023 when the grouping read them. 24 frames was chosen among
    12, 16, 24 and 32 by leaving davis-dev videos out (docs/video.md).

    Args:
        mi: (N, N) MI matrix. shared: (N, N) frames both tracks are seen in, or None (every pair is
            compared on every frame: ``mi`` as it is). min_shared: fewest shared frames of a pair that
            joins tracks; when no pair shares that many, every pair is read (``mi`` as it is).
    Raises:
        ValueError: a bad matrix, or ``shared`` of another shape.
    """
    mi = check_mi(mi)
    if shared is None:
        return mi
    shared = np.asarray(shared)
    if shared.shape != mi.shape:
        raise ValueError(
            f"shared must hold one count per pair, shape {mi.shape} like the MI matrix; got {shared.shape}"
        )
    short = shared < min_shared
    np.fill_diagonal(short, False)
    if not short.any() or short.sum() == short.size - len(mi):  # none, or every pair (then all are read)
        return mi
    return np.where(short, mi[~short & ~np.eye(len(mi), dtype=bool)].min(), mi)


def _graph(mi: np.ndarray, threshold: float) -> nx.Graph:
    rows, cols = np.nonzero(np.triu(mi >= threshold, k=1))
    g = nx.Graph()
    g.add_nodes_from(range(len(mi)))
    g.add_weighted_edges_from(
        zip(rows.tolist(), cols.tolist(), np.maximum(mi[rows, cols], MIN_EDGE_WEIGHT).tolist(), strict=True)
    )
    return g


def group(
    mi,
    *,
    threshold: float | str = "auto",
    min_size: int = 5,
    method: str = "components",
    criterion: str = "modularity",
    resolution: float = 1.0,
    seed: int = 0,
    moving: np.ndarray | None = None,
) -> Grouping:
    """Groups tracks into objects from their pairwise MI.

    Args:
        mi: (N, N) symmetric MI matrix (diagonal ignored).
        threshold: edges join tracks with MI >= threshold; "auto" picks it per video with
            :func:`auto_threshold`.
        min_size: groups with fewer tracks are labelled -1 (noise).
        method: "components" (connected components, the paper) or "louvain".
        criterion: criterion of the automatic threshold ("modularity" or "otsu").
        resolution: Louvain's resolution (higher gives more, smaller groups).
        seed: Louvain's random seed.
        moving: optional (N,) bool, the tracks that move unlike the camera: then only they are
            grouped, and the others are the background (:func:`group_moving`).
    Returns:
        :class:`Grouping` with labels (N,) 1..K by size, -1 noise, and the threshold used
        (with ``moving``: 0 the still background, 1..K the moving tracks' groups).
    Raises:
        ValueError: a bad matrix, method, criterion or threshold.
    """
    if moving is not None:
        options = dict(method=method, criterion=criterion, resolution=resolution, seed=seed)
        return group_moving(mi, moving, threshold=threshold, min_size=min_size, **options)
    mi = check_mi(mi)
    if method not in METHODS:
        raise ValueError(f"unknown grouping method {method!r}; choose from {', '.join(METHODS)}")
    if min_size < 1:
        raise ValueError(f"min_size must be >= 1, got {min_size}")
    threshold = _resolved(mi, threshold, criterion)
    g = _graph(mi, threshold)
    if method == "components":
        parts = nx.connected_components(g)
    else:
        parts = nx.community.louvain_communities(g, weight="weight", resolution=resolution, seed=seed)
    raw = np.empty(len(mi), dtype=np.int64)
    for k, nodes in enumerate(parts):
        raw[list(nodes)] = k
    return Grouping(labels=relabel_by_size(raw, min_size), threshold=threshold, method=method)


def group_moving(mi, moving, *, min_size: int = 5, **options) -> Grouping:
    """Only the moving tracks grouped by their MI, into labels 1..K; the others are 0 (the background).

    Args:
        mi: (N, N) MI matrix. moving: (N,) bool, the tracks that move unlike the camera
            (``segmentation.motion.moving_tracks``).
        min_size, options: of :func:`group`, applied to the moving tracks.
    Returns:
        :class:`Grouping`: labels 0 background, 1..K the groups of the moving tracks by size
        (the threshold's groups of at least ``min_size``), and the threshold of the moving
        tracks' graph (NaN when fewer than 2 move). At the automatic threshold a moving track in
        no group joins the group it has the highest mean MI with, and when no group forms the
        moving tracks make one object together if there are at least ``min_size`` of them (else
        they are background). A threshold given as a number means what it says: a moving track
        in no group is noise (-1), and a threshold above every MI gives no object.
    """
    mi, moving = check_mi(mi), np.asarray(moving, bool)
    if moving.shape != (len(mi),):
        raise ValueError(f"moving must have shape ({len(mi)},), one flag per track; got {moving.shape}")
    labels = np.zeros(len(mi), np.int64)
    inside = np.flatnonzero(moving)
    auto = isinstance(options.get("threshold", "auto"), str)
    threshold, method = math.nan, options.get("method", "components")
    if len(inside) >= 2:
        sub_mi = mi[np.ix_(inside, inside)]
        sub = group(sub_mi, min_size=min_size, **options)
        sub_labels = sub.labels.copy()
        if sub.num_groups and auto:  # a moving track left as noise joins the group it shares most MI with
            noise = np.flatnonzero(sub_labels < 0)
            groups = range(1, sub.num_groups + 1)
            share = np.stack([sub_mi[np.ix_(noise, sub_labels == k)].mean(axis=1) for k in groups], 1)
            sub_labels[noise] = share.argmax(axis=1) + 1
        labels[inside] = sub_labels
        threshold = sub.threshold
    if auto and not (labels > 0).any():
        labels[inside] = 1 if len(inside) >= min_size else 0
    return Grouping(labels=labels, threshold=threshold, method=method)
