"""Pairwise mutual information between point tracks: the affinity that groups them into objects.

Shapes: T frames, N tracks, K one-dimensional views of a track (coordinates or projections).

Every feature reduces a track to K scalar time series of length T (or T - 1), runs the
estimator's all-pairs ``pairwise`` on each view, and averages the K matrices:

- ``coords`` (the paper): the x series and the y series, MI(x_i, x_j) and MI(y_i, y_j) averaged.
- ``velocity``: the same on frame-to-frame displacements. Positions of smooth motions are
  strongly autocorrelated, so over a few dozen frames two unrelated drifting points can look
  dependent; displacements are closer to independent samples.
- ``sliced``: positions projected on ``num_projections`` directions evenly spread over a half
  turn (the first is the x axis), one view per direction: a sliced MI of the 2-D positions
  that does not depend on the orientation of the image axes. With 2 directions it equals
  ``coords``.

Any :class:`infonet.MIEstimator` works; the InfoNet estimator has a fast all-pairs path.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from infonet.interface import MIEstimator

__all__ = ["FEATURES", "MIN_FRAMES", "check_tracks", "track_views", "pairwise_mi"]

FEATURES = ("coords", "velocity", "sliced")
MIN_FRAMES = 8  # samples the estimators need per series


def check_tracks(tracks, *, min_frames: int = MIN_FRAMES) -> np.ndarray:
    """Validates point tracks and returns them as a float64 (T, N, 2) array.

    Raises:
        ValueError: naming the problem: wrong shape, fewer than 2 tracks or ``min_frames``
            frames, NaN or infinite coordinates (with the first offending track).
    """
    try:
        arr = np.asarray(tracks, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"tracks must be a numeric (T, N, 2) array: {err}") from None
    if arr.ndim != 3 or arr.shape[2] != 2:
        raise ValueError(f"tracks must have shape (T, N, 2) (frames, tracks, x/y); got {arr.shape}")
    T, N, _ = arr.shape
    if N < 2:
        raise ValueError(f"need at least 2 tracks to compare; got {N}")
    if T < min_frames:
        raise ValueError(f"need at least {min_frames} frames per track; got {T}")
    bad = ~np.isfinite(arr).all(axis=(0, 2))  # (N,)
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} of {N} tracks contain NaN or infinite coordinates (first: track "
            f"{int(np.flatnonzero(bad)[0])}); drop or fill them before computing MI"
        )
    return arr


def track_views(tracks, feature: str = "coords", *, num_projections: int = 4) -> np.ndarray:
    """The one-dimensional series a feature compares, from validated tracks.

    Args:
        tracks: (T, N, 2) finite pixel coordinates.
        feature: "coords", "velocity" or "sliced" (see the module docstring).
        num_projections: directions of the "sliced" feature.
    Returns:
        (K, N, T') array: K views, N series each, T' = T (T - 1 for "velocity").
    """
    tracks = np.asarray(tracks, dtype=np.float64)
    if feature == "coords":
        return tracks.transpose(2, 1, 0)  # (2, N, T)
    if feature == "velocity":
        return np.diff(tracks, axis=0).transpose(2, 1, 0)  # (2, N, T - 1)
    if feature == "sliced":
        if num_projections < 1:
            raise ValueError(f"num_projections must be >= 1, got {num_projections}")
        angles = np.pi * np.arange(num_projections) / num_projections
        directions = np.stack([np.cos(angles), np.sin(angles)])  # (2, K)
        return np.einsum("tnc,ck->knt", tracks, directions)  # (K, N, T)
    raise ValueError(f"unknown feature {feature!r}; choose from {', '.join(FEATURES)}")


def pairwise_mi(
    tracks,
    estimator: MIEstimator,
    *,
    feature: str = "coords",
    num_projections: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """MI between every two point tracks.

    Args:
        tracks: (T, N, 2) pixel coordinates (x, y), finite, N >= 2, T >= 8 (9 for "velocity").
        estimator: any MI estimator (``infonet.get_estimator(name)``).
        feature: "coords" (per-coordinate MI averaged over x and y, the paper's affinity),
            "velocity" or "sliced"; see the module docstring.
        num_projections: directions of the "sliced" feature.
        progress: optional callback ``progress(done, total)`` over the pairs of all views.
    Returns:
        (N, N) symmetric float64 array of MI in nats, 0 on the diagonal. Infinite values
        (correlation estimators on exactly dependent pairs) become the largest finite value + 1.
    Raises:
        ValueError: bad tracks, an unknown feature, or NaN from the estimator.
    """
    if feature not in FEATURES:
        raise ValueError(f"unknown feature {feature!r}; choose from {', '.join(FEATURES)}")
    tracks = check_tracks(tracks, min_frames=MIN_FRAMES + (feature == "velocity"))
    views = track_views(tracks, feature, num_projections=num_projections)  # (K, N, T')
    K, N, _ = views.shape
    pairs = N * (N - 1) // 2
    total = np.zeros((N, N))
    for k, series in enumerate(views):
        report = None
        if progress is not None:
            report = lambda done, _total, k=k: progress(k * pairs + done, K * pairs)
        mi = np.asarray(estimator.pairwise(series, progress=report), dtype=np.float64)
        if mi.shape != (N, N):
            raise ValueError(f"{estimator!r}.pairwise returned shape {mi.shape}, expected {(N, N)}")
        total += mi
    mi = total / K
    mi = (mi + mi.T) / 2  # exact symmetry whatever the estimator's rounding
    np.fill_diagonal(mi, 0.0)
    return _finite(mi, estimator)


def _finite(mi: np.ndarray, estimator: MIEstimator) -> np.ndarray:
    # Deterministic pairs (two points of one translating object) give |r| = 1 and infinite
    # MI under correlation estimators: keep them strictly above every finite pair (1 nat more),
    # so that no threshold can join them with the strongest finite pair.
    if np.isnan(mi).any():
        raise ValueError(f"{estimator!r} returned NaN MI for {int(np.isnan(mi).sum()) // 2} pair(s)")
    inf = np.isposinf(mi)
    if inf.any():
        finite = mi[np.isfinite(mi)]
        mi = np.where(inf, (finite.max() if finite.size else 0.0) + 1.0, mi)
    return np.maximum(mi, np.finfo(np.float64).min)  # -inf (never seen) to the lowest float
