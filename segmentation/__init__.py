"""Object discovery in video from point tracks: one pipeline from an input to objects and masks.

    import datasets, segmentation
    inp = datasets.load_input("davis/soapbox")                 # frames, given tracks, ground truth
    result = segmentation.discover_video(inp, "infonet")       # every stage's product, timed
    result.labels, result.masks                                # -1 unlabelled, 0 background, 1..K objects
    segmentation.score_video(result, inp.truth.masks)          # FBMS F of the tracks, J and F of the masks
    again = segmentation.regroup(result, inp.frames, threshold=0.3)   # no tracking, no MI
    segmentation.save_result(result, "runs/x/result.npz")      # the one writer; load_result reads it

Modules, in the order the data flows through them:

- ``tracking``: the point tracker (OpenCV optical flow, forward-backward check, re-seeding).
- ``motion``: the camera's motion (one model: a RANSAC homography per frame step) and how much
  each track and each pixel moves unlike it.
- ``affinity``: MI between tracks, on the frames both are seen, through any ``infonet`` estimator.
- ``grouping``: the MI graph thresholded and grouped; ``discovery``: MI then grouping, on tracks.
- ``masks``: which groups are objects, labels spread to every track and carried to pixels.
- ``labels``: the one label convention, and the labels of tracks read from masks.
- ``pipeline``: :func:`discover_video`, :func:`regroup`, :func:`score_video`, ``VideoOptions``.
- ``result``: :class:`VideoResult` and ``result.npz`` (:func:`save_result`, :func:`load_result`).
- ``scoring``: FBMS scores of groupings, P-R curves, DAVIS J and boundary F of masks.
- ``visualize``: pictures for the scripts and the demo; ``progress``: tqdm bars for the scripts.
"""

__infonet_toolkit__ = True  # tells this package from a namesake on the path

from .affinity import FEATURES, MIN_FRAMES, check_tracks, track_mi, track_views
from .discovery import Discovery, discover, finite_tracks, usable_feature
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
    trusted_mi,
    unrelated_level,
)
from .labels import BACKGROUND, UNLABELLED, label_name, object_labels, track_object_ids
from .masks import MaskOptions, object_masks, primary_objects, spread_labels
from .motion import camera_motion, camera_residuals, dense_residuals, motion_saliency, moving_tracks
from .pipeline import (
    FOREGROUNDS,
    MAX_TRACKS,
    VideoOptions,
    VideoScores,
    discover_video,
    regroup,
    score_video,
    select_tracks,
)
from .result import RESULT_VERSION, VideoResult, load_result, save_result
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
    precision_envelope,
    query_pr_curve,
    region_similarity,
    score_grouping,
    scored_mask,
    sweep_thresholds,
)
from .tracking import FLOWS, track_frames, track_points, tracking_errors

__all__ = [
    "BACKGROUND",
    "CRITERIA",
    "FEATURES",
    "FLOWS",
    "FOREGROUNDS",
    "MAX_TRACKS",
    "METHODS",
    "MIN_FRAMES",
    "RESULT_VERSION",
    "UNLABELLED",
    "Discovery",
    "Grouping",
    "MaskOptions",
    "MaskScore",
    "QueryPR",
    "Score",
    "Sweep",
    "VideoOptions",
    "VideoResult",
    "VideoScores",
    "auto_threshold",
    "average_precision",
    "precision_envelope",
    "boundary_f",
    "camera_motion",
    "camera_residuals",
    "check_tracks",
    "dense_residuals",
    "discover",
    "discover_video",
    "finite_tracks",
    "group",
    "group_moving",
    "label_name",
    "load_result",
    "mask_scores",
    "mean_query_ap",
    "merge_levels",
    "modularity",
    "motion_saliency",
    "moving_tracks",
    "object_labels",
    "object_masks",
    "pair_auc",
    "primary_objects",
    "query_pr_curve",
    "regroup",
    "region_similarity",
    "relabel_by_size",
    "save_result",
    "score_grouping",
    "score_video",
    "scored_mask",
    "select_tracks",
    "spread_labels",
    "sweep_thresholds",
    "threshold_candidates",
    "trusted_mi",
    "track_frames",
    "track_mi",
    "track_object_ids",
    "track_points",
    "track_views",
    "usable_feature",
    "tracking_errors",
    "unrelated_level",
]
