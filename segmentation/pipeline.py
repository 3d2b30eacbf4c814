"""Objects of a video end to end: frames in, grouped tracks and per-pixel masks out.

Shapes: T frames, H x W pixels, N tracks grouped by MI, M all tracks (M >= N).

    inp = datasets.load_input("davis/soapbox")
    out = discover_video(inp, infonet.get_estimator("infonet"))
    out.discovery.labels        # (N,) object of each grouped track, -1 noise
    out.masks, out.foreground   # (T, H, W) int16 object ids (0 background), bool
    out.timings                 # seconds per stage

Stages (each timed): **tracking** (``datasets.track_points`` on frames shrunk to ``track_side``,
re-seeded where points are lost; skipped when the input brings tracks; with ``foreground="motion"``
also the motion unlike the camera's of every track and, for the masks, of every pixel:
``segmentation.motion``), **MI** between
``max_tracks`` of the tracks that last at least ``min_overlap`` frames, on the frames both are
seen, **grouping** (``segmentation.group`` at the automatic threshold), and **masks**: which
groups are the primary moving objects, their labels spread to every track, and carried to
pixels (``segmentation.masks``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from infonet.interface import MIEstimator

from ._imports import require_toolkit_datasets
from .affinity import dominant_motion
from .discovery import Discovery, discover
from .masks import MaskOptions, object_masks, primary_objects, spread_labels
from .motion import MIN_FLOW_SIDE, dense_residuals, motion_saliency, moving_tracks

__all__ = [
    "FOREGROUNDS",
    "discover_tracked",
    "Segmented",
    "Tracked",
    "VideoOptions",
    "VideoResult",
    "discover_video",
    "segment_objects",
    "select_tracks",
    "track_video",
]

AWAY_POWER = 1.0  # how strongly the choice of tracks favours motion unlike the camera's
MIN_CELL_PX = 4.5  # the tracker's grid is never finer than this (small videos get fewer points)
AWAY_FLOOR_PX = 1.0  # steps away from the camera's motion count from the tracker's noise level up
FOREGROUNDS = ("motion", "groups")  # how a tracked video's primary objects are told from the background


@dataclass
class VideoOptions:
    """The defaults of object discovery in a video (scripts and the app expose them as options).

    Attributes:
        track_side: longest side of the frames points are tracked on.
        num_points: points of the tracker's grid (re-seeded on its empty cells), at most one per
            ``MIN_CELL_PX`` squared pixels.
        flow: "lk" or "dis" (``datasets.track_points``).
        fb_threshold: forward-backward tolerance of a tracked step, pixels at ``track_side``.
        reseed: frames between re-seedings (0: never).
        min_overlap: frames two tracks share to be compared (and a track's shortest life).
        max_tracks: tracks grouped by MI (a seeded choice among the long enough ones).
        feature, threshold, min_size, method, criterion: of ``segmentation.discover``.
        foreground: how the primary objects are told from the background in a tracked video.
            "motion": the tracks that move unlike the camera (``segmentation.motion``) are the
            foreground, and MI groups them into objects; "groups": MI groups all the tracks and
            ``segmentation.masks.primary_objects`` says which groups are objects (given tracks,
            such as PointOdyssey's, are always grouped so).
        masks: compute the per-pixel masks.
        dense_motion: with ``foreground="motion"``, the masks also weigh the dense optical flow's
            motion unlike the camera (``segmentation.motion.dense_residuals``) against the track vote.
        mask: :class:`segmentation.masks.MaskOptions`.
        seed: seed of the choice of tracks and of Louvain.
    """

    track_side: int = 427
    num_points: int = 4800
    flow: str = "lk"
    fb_threshold: float = 2.0
    reseed: int = 5
    min_overlap: int = 8
    max_tracks: int = 300
    feature: str = "coords"
    threshold: float | str = "auto"
    min_size: int = 5
    method: str = "components"
    criterion: str = "modularity"
    foreground: str = "motion"
    masks: bool = True
    dense_motion: bool = True
    mask: MaskOptions = field(default_factory=MaskOptions)
    seed: int = 0


@dataclass
class VideoResult:
    """The outcome of :func:`discover_video`.

    Attributes:
        discovery: the grouped tracks (``Discovery``: tracks (T, N, 2), labels (N,), mi (N, N), ...).
        all_tracks: every track (a ``datasets.TrackSet``, M tracks), in the input's pixels.
        all_labels: (M,) the groups spread to every track (-1 unlabelled).
        grouped: (N,) index into ``all_tracks`` of each grouped track.
        background: the group that moves with the camera (-1 none); objects: the primary ones.
        masks: (T, H, W) int16 label + 1 of the object at each pixel, 0 background; None if off.
        foreground: (T, H, W) bool, the primary objects; None if off.
        timings: seconds per stage: "tracking", "mi", "grouping", "masks", "total".
    """

    discovery: Discovery
    all_tracks: object
    all_labels: np.ndarray
    grouped: np.ndarray
    background: int
    objects: list[int]
    masks: np.ndarray | None
    foreground: np.ndarray | None
    timings: dict[str, float]


def select_tracks(tracks, visibility, *, min_length: int, max_tracks: int, seed: int = 0) -> np.ndarray:
    """Indices of at most ``max_tracks`` tracks seen in at least ``min_length`` frames (seeded, sorted).

    The choice favours tracks that move unlike the camera: a track's chance is
    (1 + a / max(median a, ``AWAY_FLOOR_PX``)) ** ``AWAY_POWER``, a its mean step (pixels) away
    from the frame's dominant motion
    (``segmentation.dominant_motion``), so that small moving objects, whose points are few and
    short-lived, keep enough tracks to form a group and to cover their masks.

    Raises:
        ValueError: fewer than 2 such tracks.
    """
    seen = np.asarray(visibility, bool)
    life = seen.sum(axis=0)
    long_enough = np.flatnonzero(life >= min_length)
    if len(long_enough) < 2:
        raise ValueError(
            f"no valid tracks left: {len(long_enough)} of {len(life)} points stay tracked for {min_length} frames; "
            "try a steadier video, --flow dis or a lower --min-overlap"
        )
    if len(long_enough) <= max_tracks:
        return long_enough
    tracks = np.asarray(tracks, np.float64)
    steps = seen[:-1] & seen[1:]  # (T - 1, N)
    away = np.linalg.norm(tracks[1:] - dominant_motion(tracks, seen), axis=-1)  # (T - 1, N)
    mean_away = (away * steps).sum(axis=0) / np.maximum(steps.sum(axis=0), 1)
    away = mean_away[long_enough]
    weight = (1.0 + away / max(float(np.median(away)), AWAY_FLOOR_PX)) ** AWAY_POWER
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(long_enough, max_tracks, replace=False, p=weight / weight.sum()))


def _track(frames: np.ndarray, opts: VideoOptions, progress):
    """Tracks points on frames shrunk to ``track_side``; returns them in the frames' pixels."""
    datasets = require_toolkit_datasets()
    import cv2

    H, W = frames.shape[1:3]
    scale = min(1.0, opts.track_side / max(H, W))
    small = frames
    if scale < 1:
        size = (max(1, round(W * scale)), max(1, round(H * scale)))
        small = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
    h, w = small.shape[1:3]
    tracked = datasets.track_points(
        small,
        num_points=max(1, min(opts.num_points, round(h * w / MIN_CELL_PX**2))),
        flow=opts.flow,
        fb_threshold=opts.fb_threshold,
        reseed=opts.reseed,
        progress=progress,
    )
    factor = np.array([W / small.shape[2], H / small.shape[1]], np.float32)
    return datasets.TrackSet(
        tracks=(tracked.tracks + 0.5) * factor - 0.5, visibility=tracked.visibility, image_size=(H, W)
    )


@dataclass
class Tracked:
    """The tracks of a video, before grouping (:func:`track_video`).

    Attributes:
        every: all tracks (a ``datasets.TrackSet``, M tracks) in the input's pixels.
        pick: (N,) indices of the tracks to group by MI.
        min_overlap: frames two of them must share (None: given tracks, compared on all frames).
        seconds: time spent tracking, scoring the motion and choosing.
        moving: (M,) bool, the tracks that move unlike the camera (``foreground="motion"``), or None.
        motion: (T, h, w) the pixels' motion unlike the camera (``dense_motion``;
            ``segmentation.motion.dense_residuals``), or None.
    """

    every: object
    pick: np.ndarray
    min_overlap: int | None
    seconds: float
    moving: np.ndarray | None = None
    motion: np.ndarray | None = None

    def moving_picked(self) -> np.ndarray | None:
        """(N,) ``moving`` of the tracks to group, or None."""
        return None if self.moving is None else self.moving[self.pick]

    def grouped(self):
        """The tracks to group, a ``datasets.TrackSet``."""
        return self.every.subset(self.pick)


def track_video(inp, opts: VideoOptions, progress: Callable[[int, int], None] | None = None) -> Tracked:
    """Tracks the input's frames (unless it brings tracks) and chooses the tracks to group."""
    start = time.perf_counter()
    if opts.foreground not in FOREGROUNDS:
        raise ValueError(f"unknown foreground {opts.foreground!r}; choose from {', '.join(FOREGROUNDS)}")
    if inp.tracks is not None:  # given tracks (PointOdyssey's): true positions in every frame
        every = inp.tracks
        return Tracked(every, np.arange(every.num_tracks), None, time.perf_counter() - start)
    every = _track(inp.frames, opts, progress)
    pick = select_tracks(
        every.tracks, every.visibility, min_length=opts.min_overlap, max_tracks=opts.max_tracks, seed=opts.seed
    )
    moving = motion = None
    if opts.foreground == "motion":
        moving = moving_tracks(motion_saliency(every.tracks, every.visibility, image_size=every.image_size))
        if opts.masks and opts.dense_motion and min(inp.frames.shape[1:3]) >= MIN_FLOW_SIDE:
            motion = dense_residuals(inp.frames, side=opts.mask.work_side)
    return Tracked(every, pick, opts.min_overlap, time.perf_counter() - start, moving, motion)


@dataclass
class Segmented:
    """The masks step's outcome (:func:`segment_objects`): see :class:`VideoResult`."""

    all_labels: np.ndarray
    background: int
    objects: list[int]
    masks: np.ndarray | None
    seconds: float


def _label_movers(every, moving: np.ndarray, labels: np.ndarray, objects: list[int]) -> np.ndarray:
    """Labels of every track when the moving ones are the foreground: still tracks 0 (background);
    a moving track keeps its object, or takes the object its neighbours' steps vote for
    (``spread_labels`` among the object tracks), or else the largest object."""
    labels = np.where(moving, labels, 0)
    if not objects:
        return labels
    known = labels > 0
    voted = spread_labels(every.tracks, every.visibility, np.where(known, labels, -1), known)
    open_ = moving & ~known
    labels[open_] = np.where(voted[open_] > 0, voted[open_], objects[0])
    return labels


def _labels_from_masks(every, masks: np.ndarray) -> np.ndarray:
    """(M,) each track's label from the masks: the object (mask id - 1) or the background (0, which
    is also mask id 0) under the majority of its seen frames.

    Measured on davis-dev (Pearson): these labels score FBMS F 0.822 against 0.739 for the moving
    tracks' own (the masks are refined by colour and edges; the halo of background points that the
    tracker drags along an object's outline falls outside them).
    """
    ids, _ = require_toolkit_datasets().track_object_ids(every.tracks, every.visibility, masks)
    return np.where(ids > 0, ids - 1, 0)


def segment_objects(
    frames, tracked: Tracked, grouped: np.ndarray, labels: np.ndarray, opts: VideoOptions, progress=None
):
    """Primary objects among the groups, their labels spread to every track, and per-pixel masks.

    Args:
        frames: the T frames. tracked: :func:`track_video`'s tracks.
        grouped: (N,) indices into ``tracked.every`` of the grouped tracks. labels: (N,) their
            groups; with ``tracked.moving``, 0 is the background and 1..K the moving objects
            (``segmentation.group_moving``).
    Returns:
        :class:`Segmented`.
    """
    start = time.perf_counter()
    every = tracked.every
    labels = np.asarray(labels)
    all_labels = np.full(every.num_tracks, -1)
    all_labels[grouped] = labels
    if tracked.moving is None:
        tracks, visibility = every.tracks[:, grouped], every.visibility[:, grouped]
        background, objects = primary_objects(tracks, visibility, labels, every.image_size)
    else:
        background, objects = 0, sorted(int(k) for k in np.unique(labels[labels > 0]))
        all_labels = _label_movers(every, tracked.moving, all_labels, objects)
    masks = None
    if opts.masks:
        if tracked.moving is None and tracked.min_overlap is not None:  # spread the groups to all tracks
            is_grouped = np.zeros(every.num_tracks, bool)
            is_grouped[grouped] = True
            all_labels = spread_labels(every.tracks, every.visibility, all_labels, is_grouped)
        masks = object_masks(
            frames,
            every.tracks,
            every.visibility,
            all_labels,
            objects,
            motion=tracked.motion,
            options=opts.mask,
            progress=progress,
        )
        if tracked.moving is not None:  # the tracks take the labels of the masks they lie in
            all_labels = _labels_from_masks(every, masks)
            objects = [k for k in objects if (all_labels == k).any()]
    return Segmented(all_labels, background, objects, masks, time.perf_counter() - start)


def discover_video(
    inp,
    estimator: MIEstimator | str,
    options: VideoOptions | None = None,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> VideoResult:
    """Tracks, groups and segments the objects of one input (see the module docstring).

    Args:
        inp: a ``datasets.VideoInput`` (``datasets.load_input``).
        estimator: an MI estimator or its name.
        options: :class:`VideoOptions`.
        progress: optional callback ``progress(stage, done, total)``; stages "tracking", "mi", "masks".
    Returns:
        :class:`VideoResult`.
    Raises:
        ValueError: too few tracks, or bad options.
    """
    opts = options or VideoOptions()
    report = (lambda stage: lambda done, total: progress(stage, done, total)) if progress else (lambda stage: None)
    tracked = track_video(inp, opts, report("tracking"))
    return discover_tracked(inp, tracked, estimator, opts, report("mi"), report("masks"))


def discover_tracked(
    inp,
    tracked: Tracked,
    estimator,
    opts: VideoOptions,
    mi_progress: Callable[[int, int], None] | None = None,
    masks_progress: Callable[[int, int], None] | None = None,
) -> VideoResult:
    """The stages of :func:`discover_video` after tracking (MI, grouping, masks), on ``tracked``."""
    result = discover(
        tracked.grouped(),
        estimator,
        feature=opts.feature,
        threshold=opts.threshold,
        min_size=opts.min_size,
        method=opts.method,
        criterion=opts.criterion,
        seed=opts.seed,
        min_overlap=tracked.min_overlap,
        moving=tracked.moving_picked(),
        progress=mi_progress,
    )
    grouped = tracked.pick[result.kept]
    seg = segment_objects(inp.frames, tracked, grouped, result.labels, opts, masks_progress)
    if tracked.moving is not None and seg.masks is not None:  # the grouped tracks' labels follow the masks
        result = dataclasses.replace(result, labels=seg.all_labels[grouped])
    timings = {
        "tracking": tracked.seconds,
        "mi": result.timings["mi"],
        "grouping": result.timings["group"],
        "masks": seg.seconds,
    }
    timings["total"] = sum(timings.values())
    return VideoResult(
        discovery=result,
        all_tracks=tracked.every,
        all_labels=seg.all_labels,
        grouped=grouped,
        background=seg.background,
        objects=seg.objects,
        masks=seg.masks,
        foreground=None if seg.masks is None else seg.masks > 0,
        timings=timings,
    )
