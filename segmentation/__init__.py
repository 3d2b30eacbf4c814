"""Object discovery in video from point tracks: pairwise MI, graph grouping, FBMS scoring.

import infonet, segmentation
result = segmentation.discover(trackset, infonet.get_estimator("infonet"))
result.labels                                          # (N,) object per track, -1 noise
segmentation.score_grouping(result.labels, gt_ids)     # FBMS precision / recall / F

Pictures for the scripts and the demo live in ``segmentation.visualize``.
"""

__infonet_toolkit__ = True  # tells this package from a namesake on the path

from .affinity import FEATURES, check_tracks, pairwise_mi, track_views
from .benchmark import TrackResult, evaluate_tracks, find_sequences
from .discovery import Discovery, discover, finite_tracks, visible_throughout
from .evaluation import (
    QueryPR,
    Score,
    Sweep,
    average_precision,
    mean_query_ap,
    pair_auc,
    query_pr_curve,
    score_grouping,
    scored_mask,
    sweep_thresholds,
)
from .grouping import (
    CRITERIA,
    METHODS,
    Grouping,
    auto_threshold,
    group,
    merge_levels,
    modularity,
    relabel_by_size,
    threshold_candidates,
    unrelated_level,
)

__all__ = [
    "CRITERIA",
    "FEATURES",
    "METHODS",
    "Discovery",
    "Grouping",
    "QueryPR",
    "Score",
    "Sweep",
    "TrackResult",
    "auto_threshold",
    "average_precision",
    "check_tracks",
    "discover",
    "evaluate_tracks",
    "find_sequences",
    "finite_tracks",
    "group",
    "mean_query_ap",
    "merge_levels",
    "modularity",
    "pair_auc",
    "pairwise_mi",
    "query_pr_curve",
    "relabel_by_size",
    "score_grouping",
    "scored_mask",
    "sweep_thresholds",
    "threshold_candidates",
    "track_views",
    "unrelated_level",
    "visible_throughout",
]
