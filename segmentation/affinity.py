"""Pairwise mutual information between point tracks: the affinity that groups them into objects.

Shapes: T frames, N tracks, K one-dimensional views of a track (coordinates or projections),
P pairs of tracks.

Every feature reduces a track to K scalar time series of length T (or T - 1), estimates the MI
of every pair of tracks on each view, and averages the K matrices:

- ``coords`` (the paper): the x series and the y series, MI(x_i, x_j) and MI(y_i, y_j) averaged.
- ``velocity``: the same on frame-to-frame displacements. Positions of smooth motions are
  strongly autocorrelated, so over a few dozen frames two unrelated drifting points can look
  dependent; displacements are closer to independent samples.
- ``residual``: displacements minus the camera's motion (``segmentation.motion.camera_motion``,
  the project's one camera model): on footage from a moving camera this removes the motion
  every track shares, and leaves what each object adds to it.
- ``sliced``: positions projected on ``num_projections`` directions evenly spread over a half
  turn (the first is the x axis), one view per direction: a sliced MI of the 2-D positions
  that does not depend on the orientation of the image axes. With 2 directions it equals
  ``coords``.

Partial tracks (real video: points start late and get lost): with a ``visibility`` the MI of
two tracks is estimated on the frames where both are seen (for displacements, the steps where
both are seen at both ends), provided there are at least ``min_overlap`` of them; pairs that
overlap less get the lowest MI of the matrix (no evidence that they move together). Pairs are
batched by their overlap length through the estimator's ``estimate_batch``; tracks seen in
every frame use its all-pairs ``pairwise`` (InfoNet has a fast path there).

Any :class:`infonet.MIEstimator` works.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from infonet.interface import MIEstimator

from .motion import camera_motion

__all__ = ["FEATURES", "MIN_FRAMES", "MIN_OVERLAP", "check_tracks", "track_views", "track_mi"]

FEATURES = ("coords", "velocity", "residual", "sliced")
MIN_FRAMES = 8  # samples the estimators need per series
MIN_OVERLAP = 16  # default frames two partial tracks must share to be compared
PAIR_CHUNK = 8192  # pairs per estimate_batch call of the partial-track path


def check_tracks(tracks, *, min_frames: int = MIN_FRAMES, finite: bool = True) -> np.ndarray:
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
    if finite and bad.any():
        raise ValueError(
            f"{int(bad.sum())} of {N} tracks contain NaN or infinite coordinates (first: track "
            f"{int(np.flatnonzero(bad)[0])}); drop or fill them before computing MI"
        )
    return arr


def track_views(tracks, feature: str = "coords", *, visibility=None, num_projections: int = 4):
    """The one-dimensional series a feature compares, from validated tracks.

    Args:
        tracks: (T, N, 2) pixel coordinates, finite where seen.
        feature: "coords", "velocity", "residual" or "sliced" (see the module docstring).
        visibility: (T, N) bool, or None (every track seen in every frame).
        num_projections: directions of the "sliced" feature.
    Returns:
        views (K, N, T'), and seen (N, T') bool: which samples of each series exist; T' = T,
        or T - 1 for the displacement features.
    """
    tracks = np.asarray(tracks, dtype=np.float64)
    seen = np.ones(tracks.shape[:2], bool) if visibility is None else np.asarray(visibility, bool)
    if feature == "coords":
        return tracks.transpose(2, 1, 0), seen.T  # (2, N, T)
    if feature in ("velocity", "residual"):
        step = seen[:-1] & seen[1:]  # (T - 1, N)
        if feature == "velocity":
            moves = np.diff(tracks, axis=0)
        else:
            moves = tracks[1:] - camera_motion(tracks, seen)[0]
        return moves.transpose(2, 1, 0), step.T  # (2, N, T - 1)
    if feature == "sliced":
        if num_projections < 1:
            raise ValueError(f"num_projections must be >= 1, got {num_projections}")
        angles = np.pi * np.arange(num_projections) / num_projections
        directions = np.stack([np.cos(angles), np.sin(angles)])  # (2, K)
        return np.einsum("tnc,ck->knt", tracks, directions), seen.T  # (K, N, T)
    raise ValueError(f"unknown feature {feature!r}; choose from {', '.join(FEATURES)}")


def track_mi(
    tracks,
    estimator: MIEstimator,
    *,
    visibility=None,
    feature: str = "coords",
    min_overlap: int = MIN_OVERLAP,
    num_projections: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """MI between every two point tracks.

    Args:
        tracks: (T, N, 2) pixel coordinates (x, y), N >= 2, T >= 8 (9 for the displacement
            features); finite where seen.
        estimator: any MI estimator (``infonet.get_estimator(name)``).
        visibility: (T, N) bool, where each track is seen; None: all of them in every frame.
            Pairs are then compared on the frames both are seen in (module docstring).
        feature: "coords" (per-coordinate MI averaged over x and y, the paper's affinity),
            "velocity", "residual" or "sliced"; see the module docstring.
        min_overlap: fewest shared samples of a compared pair of partial tracks (>= 8).
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
    if min_overlap < MIN_FRAMES:
        raise ValueError(f"min_overlap must be at least {MIN_FRAMES} samples, got {min_overlap}")
    moving = feature in ("velocity", "residual")
    partial = visibility is not None and not np.asarray(visibility, bool).all()
    tracks = check_tracks(tracks, min_frames=MIN_FRAMES + moving, finite=not partial)
    if partial and not np.isfinite(tracks[np.asarray(visibility, bool)]).all():
        raise ValueError("tracks contain NaN or infinite coordinates in frames where they are seen")
    views, seen = track_views(
        tracks, feature, visibility=visibility if partial else None, num_projections=num_projections
    )
    if partial:
        mi = _partial_mi(views, seen, estimator, min_overlap, progress)
    else:
        mi = _full_mi(views, estimator, progress)
    mi = (mi + mi.T) / 2  # exact symmetry whatever the estimator's rounding
    np.fill_diagonal(mi, 0.0)
    return _finite(mi, estimator)


def _full_mi(views: np.ndarray, estimator: MIEstimator, progress) -> np.ndarray:
    """The mean over views of the estimator's all-pairs MI: views (K, N, T) -> (N, N)."""
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
    return total / K


def _partial_mi(views: np.ndarray, seen: np.ndarray, estimator: MIEstimator, min_overlap: int, progress) -> np.ndarray:
    """MI of every pair on the samples both series have: views (K, N, T), seen (N, T) -> (N, N)."""
    K, N, T = views.shape
    rows, cols = np.triu_indices(N, k=1)  # (P,)
    s = seen.astype(np.float32)
    overlap = (s @ s.T)[rows, cols].round().astype(int)  # (P,) shared samples
    compared = overlap >= min_overlap
    values = np.full(len(rows), np.nan)
    done, total = 0, int(compared.sum()) * K
    for length in np.unique(overlap[compared]):
        which = np.flatnonzero(overlap == length)
        for start in range(0, len(which), PAIR_CHUNK):
            p = which[start : start + PAIR_CHUNK]
            i, j = rows[p], cols[p]
            frames = np.nonzero(seen[i] & seen[j])[1].reshape(len(p), length)  # (B, length), in order
            mi = np.zeros(len(p))
            for k in range(K):
                mi += estimator.estimate_batch(views[k, i[:, None], frames], views[k, j[:, None], frames])
                done += len(p)
                if progress is not None:
                    progress(done, total)
            values[p] = mi / K
    if not compared.any():
        values[:] = 0.0
    else:
        values[~compared] = np.nanmin(values[compared])
    out = np.zeros((N, N))
    out[rows, cols] = values
    out[cols, rows] = values
    return out


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
