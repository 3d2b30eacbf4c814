"""Object discovery in video from point tracks: pairwise MI, graph grouping, masks, scoring.

import datasets, infonet, segmentation
result = segmentation.discover(trackset, infonet.get_estimator("infonet"))
result.labels                                          # (N,) object per track, -1 noise
segmentation.score_grouping(result.labels, gt_ids)     # FBMS precision / recall / F
found = segmentation.discover_video(datasets.load_input("davis/soapbox"), "pearson")
found.masks, found.foreground                          # (T, H, W) object ids, primary objects
segmentation.mask_scores(found.foreground, truth)      # DAVIS J and boundary F

Pictures for the scripts and the demo live in ``segmentation.visualize``.
"""

__infonet_toolkit__ = True  # tells this package from a namesake on the path

from .affinity import FEATURES, MIN_OVERLAP, check_tracks, dominant_motion, track_mi, track_views
from .benchmark import TrackResult, evaluate_tracks, find_sequences
from .discovery import Discovery, discover, finite_tracks
from .grouping import (
    CRITERIA,
    METHODS,
    Grouping,
    auto_threshold,
    group,
    group_moving,
    merge_levels,
    modularity,
    relabel_by_size,
    threshold_candidates,
    unrelated_level,
)
from .masks import MaskOptions, object_masks, primary_objects, spread_labels
from .motion import camera_residuals, dense_residuals, motion_saliency, moving_tracks
from .pipeline import (
    VideoOptions,
    VideoResult,
    discover_tracked,
    discover_video,
    segment_objects,
    select_tracks,
    track_video,
)
from .scoring import (
    MaskScore,
    QueryPR,
    Score,
    Sweep,
    average_precision,
    boundary_f,
    mask_scores,
    mean_query_ap,
    pair_auc,
    query_pr_curve,
    region_similarity,
    score_grouping,
    scored_mask,
    sweep_thresholds,
)

__all__ = [
    "MaskOptions",
    "MaskScore",
    "VideoOptions",
    "VideoResult",
    "boundary_f",
    "discover_tracked",
    "discover_video",
    "mask_scores",
    "object_masks",
    "primary_objects",
    "region_similarity",
    "segment_objects",
    "select_tracks",
    "track_video",
    "spread_labels",
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
    "group_moving",
    "camera_residuals",
    "dense_residuals",
    "motion_saliency",
    "moving_tracks",
    "mean_query_ap",
    "merge_levels",
    "modularity",
    "pair_auc",
    "track_mi",
    "dominant_motion",
    "MIN_OVERLAP",
    "query_pr_curve",
    "relabel_by_size",
    "score_grouping",
    "scored_mask",
    "sweep_thresholds",
    "threshold_candidates",
    "track_views",
    "unrelated_level",
]
