"""Object discovery in one call: point tracks in, objects out.

Shapes: T frames, N tracks (after filtering), N0 tracks given.

    result = discover(trackset, infonet.get_estimator("infonet"))
    result.labels        # (N,) group of each kept track: 1..K, -1 noise (0: background, with moving)
    result.tracks        # (T, N, 2) the kept tracks

Tracks with a NaN or infinite coordinate in any frame cannot enter the MI estimate; they are
dropped (``kept`` says which survive). The rest is :func:`track_mi` then :func:`group`.

Given which tracks move unlike the camera (``moving``, ``segmentation.motion``), only the moving
tracks are grouped by their MI, into the objects 1..K; the others are the background, label 0.
On real footage that split is what the per-track motion score does well, and what MI does well is
telling which moving tracks move *together*.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from infonet.interface import MIEstimator, check_statistic, read_statistic

from .affinity import (
    MIN_FRAMES,
    STEPPED,
    VECTOR_FEATURES,
    check_max_samples,
    check_step,
    feature_parts,
    shared_samples,
    takes_step,
    track_mi,
)
from .grouping import CRITERIA, METHODS, Grouping, group, trusted_mi
from .labels import GroupCounts

__all__ = ["Discovery", "discover", "finite_tracks", "usable_feature"]

# a vector feature's per-coordinate counterpart, for clips too short for the multivariate network
ONE_D = {"xy": "coords", "xy-posvel": "coords", "xy-velocity": "velocity", "xy-residual": "residual"}
# the fewest samples per track a clip's vector feature is read on by InfoNet's multivariate network (trained
# from 16): on davis-dev's first 12 frames `xy` ranked as `coords` does (anchor AUC 0.639 against 0.644, labels'
# F 0.719 / 0.729) at a tenth of the MI time (1.9 against 18.0 s a video); on the first 8 it ranked worse
# (0.617 against 0.672), so shorter clips go per coordinate
VECTOR_MIN_CLIP = 12

log = logging.getLogger(__name__)


@dataclass
class Discovery(GroupCounts):
    """The outcome of :func:`discover`.

    Attributes:
        tracks: (T, N, 2) pixel x, y of the kept tracks.
        visibility: (T, N) bool of the kept tracks.
        labels: (N,) groups 1..K by size, -1 noise; with ``moving`` (:func:`discover`) also 0,
            the still background (``segmentation.labels``).
        mi: (N, N) pairwise MI (nats): each pair's ``statistic``.
        shared: (N, N) frames each two tracks are both seen in, for partial tracks (``min_overlap``);
            None when every pair is compared on every frame. The grouping reads
            ``segmentation.trusted_mi(mi, shared)``: pairs sharing fewer than 24 frames join no group.
        threshold: MI threshold of the graph.
        kept: (N,) indices of the kept tracks in the input.
        method, feature, estimator, statistic, step: how it was computed (``statistic``: "lower",
            the 5 % end of each pair's 90 % interval, or "estimate"; ``step``: frames of each
            displacement; see :func:`discover`).
        timings: seconds per stage ("mi", "group", "total").
        object_ids, ambiguous: (N,) ground truth of the kept tracks when the input had it
            (``datasets.TrackSet`` from a PointOdyssey sequence), else None.
    """

    tracks: np.ndarray
    visibility: np.ndarray
    labels: np.ndarray
    mi: np.ndarray
    threshold: float
    kept: np.ndarray
    method: str
    feature: str
    estimator: str
    timings: dict[str, float] = field(default_factory=dict)
    object_ids: np.ndarray | None = None
    ambiguous: np.ndarray | None = None
    statistic: str = "estimate"
    step: int = 1
    shared: np.ndarray | None = None

    def summary(self) -> str:
        """A few human-readable lines: groups, sizes, background, noise, threshold, time."""
        sizes = ", ".join(str(s) for s in self.sizes) or "none"
        background, noise = int((self.labels == 0).sum()), int((self.labels < 0).sum())
        return (
            f"{self.num_groups} group(s) from {len(self.labels)} tracks x {len(self.tracks)} frames "
            f"(sizes {sizes}; {background} background, {noise} noise)\n"
            f"estimator {self.estimator} ({self.statistic}), feature {self.feature}, "
            f"{self.method} at MI >= {self.threshold:.4g} nats\n"
            f"{self.timings.get('mi', 0):.2f} s MI + {self.timings.get('group', 0):.2f} s grouping"
        )


def _unpack(trackset) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """tracks (T, N0, 2), and visibility (T, N0), object_ids (N0,), ambiguous (N0,) or None."""
    if hasattr(trackset, "tracks"):
        get = lambda name: getattr(trackset, name, None)
        return np.asarray(trackset.tracks, dtype=np.float64), get("visibility"), get("object_ids"), get("ambiguous")
    return np.asarray(trackset, dtype=np.float64), None, None, None


def finite_tracks(tracks) -> np.ndarray:
    """(N0,) bool: tracks whose coordinates are finite in every frame. ``tracks``: (T, N0, 2)."""
    tracks = np.asarray(tracks, dtype=np.float64)
    if tracks.ndim != 3 or tracks.shape[2] != 2:
        raise ValueError(f"tracks must have shape (T, N, 2) (frames, tracks, x/y); got {tracks.shape}")
    return np.isfinite(tracks).all(axis=(0, 2))


def _check_options(feature: str, method: str, criterion: str, threshold) -> None:
    feature_parts(feature)
    for name, value, choices in (
        ("method", method, METHODS),
        ("criterion", criterion, CRITERIA),
    ):
        if value not in choices:
            raise ValueError(f"unknown {name} {value!r}; choose from {', '.join(choices)}")
    if isinstance(threshold, str) and threshold != "auto":
        raise ValueError(f"threshold must be a number or 'auto', got {threshold!r}")


def _finite_kept(tracks: np.ndarray) -> np.ndarray:
    """(N,) indices of the tracks finite in every frame; refuses too few frames or tracks."""
    ok = finite_tracks(tracks)
    if tracks.shape[0] < MIN_FRAMES:
        raise ValueError(f"need at least {MIN_FRAMES} frames; the tracks span {tracks.shape[0]}")
    if ok.sum() < 2:
        raise ValueError(
            f"no valid tracks left: {int(ok.sum())} of {len(ok)} tracks are finite in every frame (need at least 2)"
        )
    if not ok.all():
        log.info("dropping %d of %d tracks with NaN or infinite coordinates", int((~ok).sum()), len(ok))
    return np.flatnonzero(ok)


def _named_estimator(name: str) -> MIEstimator:
    from infonet import get_estimator

    return get_estimator(name)


def _flags(moving, count: int) -> np.ndarray:
    moving = np.asarray(moving, bool)
    if moving.shape != (count,):
        raise ValueError(f"moving must have shape ({count},), one flag per track; got {moving.shape}")
    return moving


def usable_feature(feature: str, estimator: MIEstimator, num_frames: int, step: int = 1) -> str:
    """The feature MI is estimated on: ``feature``, except that a vector feature with fewer samples
    per track than ``VECTOR_MIN_CLIP`` (a displacement feature has ``num_frames - step``) goes to its
    per-coordinate counterpart for a neural estimator (``xy`` to ``coords``; in a joined feature, each
    such part), with a warning. From 12 samples the multivariate network reads the clip, below the
    16 it was trained on, as it reads partial tracks' short overlaps (measured: ``VECTOR_MIN_CLIP``)."""
    parts = []
    for part in feature_parts(feature):
        samples = num_frames - (step if part in STEPPED else 0)
        if part in VECTOR_FEATURES and getattr(estimator, "neural", False) and samples < VECTOR_MIN_CLIP:
            log.warning(
                "%d samples per track are fewer than the %d InfoNet's multivariate network reads a clip on: "
                "feature %r becomes %r",
                samples,
                VECTOR_MIN_CLIP,
                part,
                ONE_D[part],
            )
            part = ONE_D[part]
        parts.append(part)
    return "+".join(dict.fromkeys(parts))  # xy+xy-posvel would name coords twice


def discover(
    trackset,
    estimator: MIEstimator | str,
    *,
    feature: str = "xy",
    threshold: float | str = "auto",
    min_size: int = 5,
    method: str = "components",
    criterion: str = "modularity",
    seed: int = 0,
    min_overlap: int | None = None,
    moving: np.ndarray | None = None,
    statistic: str = "lower",
    step: int = 1,
    max_samples: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Discovery:
    """Discovers objects from point tracks by pairwise MI and graph grouping.

    Args:
        trackset: a ``datasets.TrackSet`` (tracks (T, N0, 2), visibility (T, N0)) or a plain
            (T, N0, 2) array of pixel x, y.
        estimator: an MI estimator or its name (``infonet.get_estimator``).
        feature: one of ``segmentation.affinity.FEATURES``: the 1-D views "coords", "velocity",
            "residual", "sliced", or the vector features "xy", "xy-velocity", "xy-residual",
            "xy-posvel" (each track one 2-D or 4-D variable; see ``segmentation.affinity``).
            InfoNet on fewer than 12 frames compares a vector feature per coordinate instead
            (:func:`usable_feature`); the result's ``feature`` says which was used.
        threshold: MI threshold, or "auto" to choose it for this video.
        min_size, method, criterion, seed: of ``segmentation.group``.
        min_overlap: None: every track's positions count in every frame (PointOdyssey's, where
            occluded points keep true positions); a number: the tracks are partial (a tracker's,
            frozen where lost), and two are compared on the frames where both are visible, if
            they share at least that many (``segmentation.track_mi``); the grouping joins tracks only
            on pairs that share 24 frames or more (``segmentation.trusted_mi``).
        moving: optional (N0,) bool, the tracks that move unlike the camera: only they are grouped
            by MI (labels 1..K), the rest is the background (label 0); see the module docstring.
        statistic: what of each pair's MI the graph reads: "lower" (the default), the 5 % end of
            its 90 % interval, for estimators that give one (InfoNet; the others' estimate), which
            ranks pairs by how surely they are dependent; or "estimate". Measured in docs/video.md.
        step: frames of each displacement of the features ``velocity``, ``xy-velocity`` and
            ``xy-posvel`` (1: frame to frame).
        max_samples: None, or read each pair on at most this many of its samples, evenly spread
            (``segmentation.track_mi``; the video pipeline's default is 64).
        progress: optional callback ``progress(done, total)`` over the MI pairs.
    Returns:
        :class:`Discovery`.
    Raises:
        ValueError: bad tracks, fewer than 2 tracks left after dropping non-finite ones, too
            few frames, or bad options.
    """
    start = time.perf_counter()
    _check_options(feature, method, criterion, threshold)  # first: MI is the expensive part
    check_statistic(statistic)
    check_max_samples(max_samples, MIN_FRAMES if min_overlap is None else min_overlap)
    tracks, visibility, object_ids, ambiguous = _unpack(trackset)
    kept = _finite_kept(tracks)
    moving = None if moving is None else _flags(moving, tracks.shape[1])[kept]
    tracks = tracks[:, kept]
    visibility = np.ones(tracks.shape[:2], bool) if visibility is None else np.asarray(visibility, bool)[:, kept]
    if isinstance(estimator, str):
        estimator = _named_estimator(estimator)
    check_step(feature, step, len(tracks))
    feature = usable_feature(feature, estimator, len(tracks), step)
    step = step if takes_step(feature) else 1  # a short clip's per-coordinate feature may take none
    # whole tracks share every frame: compared on any clip the estimators read (KSG's matrix was all zeros
    # below 16 frames, the partial tracks' default min_overlap)
    partial = (
        {"min_overlap": MIN_FRAMES} if min_overlap is None else {"visibility": visibility, "min_overlap": min_overlap}
    )
    statistic = read_statistic(estimator, statistic)
    mi = track_mi(
        tracks,
        estimator,
        feature=feature,
        statistic=statistic,
        step=step,
        max_samples=max_samples,
        progress=progress,
        **partial,
    )
    t_mi = time.perf_counter()
    shared = None if min_overlap is None else shared_samples(visibility.T)
    grouping: Grouping = group(
        trusted_mi(mi, shared),
        threshold=threshold,
        min_size=min_size,
        method=method,
        criterion=criterion,
        seed=seed,
        moving=moving,
    )
    t_group = time.perf_counter()
    truth = [None if a is None else np.asarray(a)[kept] for a in (object_ids, ambiguous)]
    name = getattr(estimator, "name", type(estimator).__name__)
    timings = {"mi": t_mi - start, "group": t_group - t_mi, "total": t_group - start}
    return Discovery(
        tracks,
        visibility,
        grouping.labels,
        mi,
        grouping.threshold,
        kept,
        method,
        feature,
        name,
        timings,
        *truth,
        statistic=statistic,
        step=step,
        shared=shared,
    )
