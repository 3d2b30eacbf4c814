"""Object discovery in one call: point tracks in, objects out.

Shapes: T frames, N tracks (after filtering), N0 tracks given.

    result = discover(trackset, infonet.get_estimator("infonet"))
    result.labels        # (N,) object of each kept track, -1 noise
    result.tracks        # (T, N, 2) the kept tracks

Tracks with a NaN or infinite coordinate in any frame cannot enter the MI estimate; they are
dropped (``kept`` says which survive). The rest is :func:`track_mi` then :func:`group`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from infonet.interface import MIEstimator

from .affinity import FEATURES, MIN_FRAMES, track_mi
from .grouping import CRITERIA, METHODS, Grouping, group

__all__ = ["Discovery", "discover", "finite_tracks", "visible_throughout"]

log = logging.getLogger(__name__)


@dataclass
class Discovery:
    """The outcome of :func:`discover`.

    Attributes:
        tracks: (T, N, 2) pixel x, y of the kept tracks.
        visibility: (T, N) bool of the kept tracks.
        labels: (N,) object labels 0..K-1 by size, -1 noise.
        mi: (N, N) pairwise MI (nats).
        threshold: MI threshold of the graph.
        kept: (N,) indices of the kept tracks in the input.
        method, feature, estimator: how it was computed.
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

    @property
    def num_objects(self) -> int:
        return int(self.labels.max(initial=-1) + 1)

    @property
    def sizes(self) -> np.ndarray:
        """(K,) tracks per object, largest first."""
        return np.bincount(self.labels[self.labels >= 0], minlength=self.num_objects)

    def summary(self) -> str:
        """A few human-readable lines: objects, sizes, threshold, time."""
        sizes = ", ".join(str(s) for s in self.sizes) or "none"
        noise = int((self.labels < 0).sum())
        return (
            f"{self.num_objects} object(s) from {len(self.labels)} tracks x {len(self.tracks)} frames "
            f"(sizes {sizes}; {noise} noise)\n"
            f"estimator {self.estimator}, feature {self.feature}, {self.method} at MI >= {self.threshold:.4g} nats\n"
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


def visible_throughout(trackset, *, min_tracks: int = 2, min_share: float = 0.0, min_frames: int = 2 * MIN_FRAMES):
    """The tracks of a ``datasets.TrackSet`` that are visible in every frame.

    For tracks from an optical-flow tracker (``datasets.track_points``), where a point is
    lost for good at its first invisible frame and its position then freezes: the frozen
    tail is not a trajectory and would fake dependence between lost points. (PointOdyssey's
    occluded points keep true positions; do not filter those.)

    With ``min_share`` > 0, a clip over which fewer than that share of the points survive (a
    fast pan, a long occlusion) is first cut to its longest beginning, of at least
    ``min_frames`` frames, over which that share does: it costs frames instead of most of the
    points. The result then has fewer frames than the input (cut the video to ``num_frames``).

    Raises:
        ValueError: fewer than ``min_tracks`` tracks survive, or ``min_share`` outside [0, 1].
    """
    if not 0 <= min_share <= 1:
        raise ValueError(f"min_share must be between 0 and 1, got {min_share}")
    visibility = np.asarray(trackset.visibility, dtype=bool)
    T, N = visibility.shape
    surviving = np.logical_and.accumulate(visibility, axis=0).sum(axis=1)  # (T,) visible in frames 0..t
    need = int(np.ceil(min_share * N))
    if surviving[-1] < need:
        enough = np.flatnonzero(surviving >= need)
        frames = max(min(min_frames, T), int(enough[-1]) + 1 if enough.size else 0)
        log.warning(
            "only %d of %d points stay tracked through all %d frames; using the first %d frames, where %d do",
            surviving[-1],
            N,
            T,
            frames,
            surviving[frames - 1],
        )
        trackset, visibility = trackset.first_frames(frames), visibility[:frames]
    keep = visibility.all(axis=0)
    if keep.sum() < min_tracks:
        raise ValueError(
            f"no valid tracks left: {int(keep.sum())} of {len(keep)} points stay visible (tracked) in all "
            f"{len(visibility)} frames; try fewer frames or a steadier video"
        )
    if not keep.all():
        log.info("keeping %d of %d tracks visible in every frame", int(keep.sum()), len(keep))
    return trackset.subset(keep)


def discover(
    trackset,
    estimator: MIEstimator | str,
    *,
    feature: str = "coords",
    threshold: float | str = "auto",
    min_size: int = 5,
    method: str = "components",
    criterion: str = "modularity",
    seed: int = 0,
    min_overlap: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Discovery:
    """Discovers objects from point tracks by pairwise MI and graph grouping.

    Args:
        trackset: a ``datasets.TrackSet`` (tracks (T, N0, 2), visibility (T, N0)) or a plain
            (T, N0, 2) array of pixel x, y.
        estimator: an MI estimator or its name (``infonet.get_estimator``).
        feature: "coords", "velocity" or "sliced" (see ``segmentation.affinity``).
        threshold: MI threshold, or "auto" to choose it for this video.
        min_size: smaller groups are noise (-1).
        method: "components" or "louvain".
        criterion: criterion of the automatic threshold ("modularity" or "otsu").
        seed: seed of the Louvain grouping.
        min_overlap: None: every track's positions count in every frame (PointOdyssey's, where
            occluded points keep true positions); a number: the tracks are partial (a tracker's,
            frozen where lost), and two are compared on the frames where both are visible, if
            they share at least that many (``segmentation.track_mi``).
        progress: optional callback ``progress(done, total)`` over the MI pairs.
    Returns:
        :class:`Discovery`.
    Raises:
        ValueError: bad tracks, fewer than 2 tracks left after dropping non-finite ones, too
            few frames, or bad options.
    """
    start = time.perf_counter()
    # options first: the MI matrix is the expensive part
    for name, value, choices in (
        ("feature", feature, FEATURES),
        ("method", method, METHODS),
        ("criterion", criterion, CRITERIA),
    ):
        if value not in choices:
            raise ValueError(f"unknown {name} {value!r}; choose from {', '.join(choices)}")
    if isinstance(threshold, str) and threshold != "auto":
        raise ValueError(f"threshold must be a number or 'auto', got {threshold!r}")
    tracks, visibility, object_ids, ambiguous = _unpack(trackset)
    ok = finite_tracks(tracks)
    if tracks.shape[0] < MIN_FRAMES:
        raise ValueError(f"need at least {MIN_FRAMES} frames; the tracks span {tracks.shape[0]}")
    if ok.sum() < 2:
        raise ValueError(
            f"no valid tracks left: {int(ok.sum())} of {len(ok)} tracks are finite in every frame (need at least 2)"
        )
    if not ok.all():
        log.info("dropping %d of %d tracks with NaN or infinite coordinates", int((~ok).sum()), len(ok))
    kept = np.flatnonzero(ok)
    tracks = tracks[:, kept]
    if visibility is None:
        visibility = np.ones(tracks.shape[:2], dtype=bool)
    else:
        visibility = np.asarray(visibility, dtype=bool)[:, kept]
    if isinstance(estimator, str):
        from infonet import get_estimator

        estimator = get_estimator(estimator)
    if min_overlap is None:
        mi = track_mi(tracks, estimator, feature=feature, progress=progress)
    else:
        mi = track_mi(
            tracks, estimator, visibility=visibility, feature=feature, min_overlap=min_overlap, progress=progress
        )
    t_mi = time.perf_counter()
    grouping: Grouping = group(
        mi, threshold=threshold, min_size=min_size, method=method, criterion=criterion, seed=seed
    )
    t_group = time.perf_counter()
    return Discovery(
        tracks=tracks,
        visibility=visibility,
        labels=grouping.labels,
        mi=mi,
        threshold=grouping.threshold,
        kept=kept,
        method=method,
        feature=feature,
        estimator=getattr(estimator, "name", type(estimator).__name__),
        timings={"mi": t_mi - start, "group": t_group - t_mi, "total": t_group - start},
        object_ids=None if object_ids is None else np.asarray(object_ids)[kept],
        ambiguous=None if ambiguous is None else np.asarray(ambiguous)[kept],
    )
