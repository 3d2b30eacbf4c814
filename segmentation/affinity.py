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

Vector features compare each track as one d-dimensional variable per frame (a 2-D motion is
not two independent 1-D ones; a spinning object's points have uncorrelated x series but
dependent (x, y) positions):

- ``xy``: the position (x, y); ``xy-velocity``: the displacement (dx, dy), which removes the
  trend every drifting track shares; ``xy-residual``: the displacement minus the camera's;
  ``xy-posvel``: position and displacement together, (x, y, dx, dy).

Features join with "+": ``xy+xy-velocity`` is the mean of the two MI matrices, positions and
displacements each compared on their own (not one 4-D variable, as ``xy-posvel`` is), at the cost of
both. Each part that takes a ``step`` takes it.

The displacement features ``velocity``, ``xy-velocity`` and ``xy-posvel`` take each displacement over
``step`` frames, x(t + step) - x(t) (1: frame to frame). A longer step keeps the motion a part adds
over a stride or a swing, which one frame's jitter drowns, and still removes the shared trend
(measured in docs/video.md). The residual features are frame to frame (the camera is fitted per frame).

Vector MI goes through :func:`vector_estimates`: InfoNet (``estimator.neural``) gets the
(N, T, d) series or (B, n, d) batches, which it routes to its multivariate network (weights
from ``$INFONET_VECTOR_WEIGHTS`` or the shipped file); "pearson" is the Gaussian MI of the raw
values (canonical correlations), "gaussian" the same on normal scores, "ksg" a batched KSG
(algorithm 1, max-norm), all in closed or vectorised form.

Partial tracks (real video: points start late and get lost): with a ``visibility`` the MI of
two tracks is estimated on the frames where both are seen (for displacements, the steps where
both are seen at both ends), provided there are at least ``min_overlap`` of them; pairs that
overlap less get the lowest MI of the matrix (no evidence that they move together). Pairs are
batched by their overlap length through the estimator's ``estimate_batch``; tracks seen in
every frame use its all-pairs ``pairwise`` (InfoNet has a fast path there). InfoNet's multivariate
network reads pairs from ``min_overlap`` samples on, below the 16 it was trained on and its
estimators accept: on a tracker's short tracks most compared pairs share 8-15 frames, and read so
they rank "same object" better than left at the floor (docs/video.md); the grouping joins tracks
only on pairs sharing 24 frames or more (``segmentation.trusted_mi``).

Any :class:`infonet.MIEstimator` works. Those with intervals (``estimator.intervals``: InfoNet)
can give each pair's ``statistic="lower"`` instead of its estimate: the 5 % end of its 90 %
interval, which ranks a pair by how surely it is dependent rather than by how dependent it looks
(a short or ambiguous overlap reads lower); the video pipeline groups on it (docs/video.md).

Long clips: with ``max_samples`` a pair is read on at most that many of its samples, evenly spread
over those it has (:func:`spread_samples`). Consecutive frames of a smooth motion repeat each other,
and InfoNet's cost grows with the samples it reads: the video pipeline reads at most 64, which
takes about a quarter off the MI stage of a 120-frame clip (measured in docs/video.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from infonet.interface import MIEstimator, check_statistic, pick_statistic
from infonet.threads import on_cores

from .motion import camera_motion

__all__ = [
    "FEATURES",
    "MIN_FRAMES",
    "MIN_OVERLAP",
    "STEPPED",
    "VECTOR_FEATURES",
    "check_step",
    "check_tracks",
    "feature_parts",
    "shared_samples",
    "spread_samples",
    "takes_step",
    "track_views",
    "track_mi",
    "vector_estimates",
]

log = logging.getLogger(__name__)

VECTOR_FEATURES = ("xy", "xy-velocity", "xy-residual", "xy-posvel")  # one d-dimensional variable per track
FEATURES = ("coords", "velocity", "residual", "sliced", *VECTOR_FEATURES)
STEPPED = ("velocity", "xy-velocity", "xy-posvel")  # the features whose displacements take ``step``
VECTOR_MIN_SAMPLES = 16  # the shortest series the multivariate InfoNet was trained on
KSG_NEIGHBOURS = 3
MIN_FRAMES = 8  # samples the estimators need per series
MIN_OVERLAP = 16  # default frames two partial tracks must share to be compared
PAIR_CHUNK = 1024  # pairs per estimate_batch call of the partial-track path: small enough that the batches
# share out evenly over the cores (measured on 4 davis-dev videos' tracks: InfoNet 7.1-7.2 s in chunks of 8192,
# 6.0-6.4 s in 1024, 6.2-6.4 s in 512; KSG and |Pearson| the same); a pair's MI does not depend on its chunk


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


def feature_parts(feature: str) -> tuple[str, ...]:
    """The features a feature name joins with "+" ("xy+xy-velocity" -> ("xy", "xy-velocity")); a plain
    feature is its own one part.

    Raises:
        ValueError: a part that is no feature of ``FEATURES``, or one named twice.
    """
    if feature == "auto":
        raise ValueError(
            "feature 'auto' is chosen by the video pipeline from where the tracks come from "
            "(segmentation.VideoOptions); name a feature here, e.g. 'xy' or 'xy+xy-velocity'"
        )
    parts = tuple(str(feature).split("+"))
    for part in parts:
        if part not in FEATURES:
            raise ValueError(f"unknown feature {part!r}; choose from {', '.join(FEATURES)}, or join them with '+'")
    if len(set(parts)) < len(parts):
        raise ValueError(f"feature {feature!r} names a part twice")
    return parts


def takes_step(feature: str) -> bool:
    """Whether a (validated) feature has displacements over ``step`` frames: one of its parts is in ``STEPPED``."""
    return any(part in STEPPED for part in feature_parts(feature))


def check_step(feature: str, step, num_frames: int | None = None) -> None:
    """Raises ValueError for a step that is not a whole number of frames >= 1, one other than 1 for
    a feature without displacements over a step, or one that leaves no displacement."""
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 1:
        raise ValueError(f"step must be a whole number of frames >= 1, got {step!r}")
    if step != 1 and not takes_step(feature):
        raise ValueError(f"step={step} applies to the features {', '.join(STEPPED)}, not {feature!r}")
    if num_frames is not None and step >= num_frames:
        raise ValueError(f"step={step} leaves no displacement in {num_frames} frames")


def track_views(tracks, feature: str = "coords", *, visibility=None, num_projections: int = 4, step: int = 1):
    """The one-dimensional series a feature compares, from validated tracks.

    Args:
        tracks: (T, N, 2) pixel coordinates, finite where seen.
        feature: one of ``FEATURES`` (see the module docstring).
        visibility: (T, N) bool, or None (every track seen in every frame).
        num_projections: directions of the "sliced" feature.
        step: frames of each displacement of ``velocity``, ``xy-velocity`` and ``xy-posvel``.
    Returns:
        views (K, N, T'), and seen (N, T') bool: which samples of each series exist; T' = T, or
        T - step for the displacement features (a displacement exists where both ends are seen).
    """
    tracks = np.asarray(tracks, dtype=np.float64)
    seen = np.ones(tracks.shape[:2], bool) if visibility is None else np.asarray(visibility, bool)
    if len(feature_parts(feature)) > 1:
        raise ValueError(f"feature {feature!r} joins several: take the views of each part")
    check_step(feature, step, len(tracks))
    if feature in VECTOR_FEATURES:  # the same series, read as one (K = d)-dimensional variable
        if feature == "xy":
            return track_views(tracks, "coords", visibility=visibility)
        one_d = "residual" if feature == "xy-residual" else "velocity"
        moves, both = track_views(tracks, one_d, visibility=visibility, step=step)
        if feature == "xy-posvel":
            return np.concatenate([tracks[step:].transpose(2, 1, 0), moves]), both  # (4, N, T - step)
        return moves, both
    if feature == "coords":
        return tracks.transpose(2, 1, 0), seen.T  # (2, N, T)
    if feature in ("velocity", "residual"):
        both = seen[:-step] & seen[step:]  # (T - step, N)
        if feature == "velocity":
            moves = tracks[step:] - tracks[:-step]
        else:
            moves = tracks[1:] - camera_motion(tracks, seen)[0]
        return moves.transpose(2, 1, 0), both.T  # (2, N, T - step)
    if feature == "sliced":
        if num_projections < 1:
            raise ValueError(f"num_projections must be >= 1, got {num_projections}")
        angles = np.pi * np.arange(num_projections) / num_projections
        directions = np.stack([np.cos(angles), np.sin(angles)])  # (2, K)
        return np.einsum("tnc,ck->knt", tracks, directions), seen.T  # (K, N, T)
    raise ValueError(f"unknown feature {feature!r}; choose from {', '.join(FEATURES)}")


def shared_samples(seen) -> np.ndarray:
    """(N, N) int64: how many samples each two series both have, from ``seen`` (N, T) bool."""
    s = np.asarray(seen, np.float32)
    return (s @ s.T).round().astype(np.int64)


def spread_samples(length: int, max_samples: int | None = None) -> np.ndarray:
    """Indices of at most ``max_samples`` of ``length`` samples, evenly spread from the first to the
    last (all of them when there are no more, or ``max_samples`` is None)."""
    if max_samples is None or length <= max_samples:
        return np.arange(length)
    return np.linspace(0, length - 1, max_samples).round().astype(np.int64)


def check_max_samples(max_samples: int | None, min_overlap: int = MIN_FRAMES, *, every: str = "None") -> None:
    """Raises ValueError unless ``max_samples`` is None or an integer of at least ``VECTOR_MIN_SAMPLES``
    and ``min_overlap`` (a pair must be readable on the samples it keeps); ``every``: how the caller
    spells "every sample", for the message."""
    if max_samples is None:
        return
    low = max(VECTOR_MIN_SAMPLES, min_overlap)
    whole = not isinstance(max_samples, bool) and isinstance(max_samples, (int, np.integer))
    if whole and VECTOR_MIN_SAMPLES <= max_samples < min_overlap:  # the two options disagree: name both
        raise ValueError(
            f"min_overlap ({min_overlap}) is above max_samples ({max_samples}): a pair is compared only on "
            f"{min_overlap} shared frames or more and read on at most {max_samples}; lower min_overlap or raise "
            "max_samples"
        )
    if not whole or max_samples < low:
        raise ValueError(
            f"max_samples must be an integer >= {low} (the samples a compared pair needs), or {every} for every "
            f"sample; got {max_samples!r}"
        )


def track_mi(
    tracks,
    estimator: MIEstimator,
    *,
    visibility=None,
    feature: str = "coords",
    min_overlap: int = MIN_OVERLAP,
    num_projections: int = 4,
    statistic: str = "estimate",
    step: int = 1,
    max_samples: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """MI between every two point tracks.

    Args:
        tracks: (T, N, 2) pixel coordinates (x, y), N >= 2, T >= 8 (9 for the displacement
            features); finite where seen.
        estimator: any MI estimator (``infonet.get_estimator(name)``).
        visibility: (T, N) bool, where each track is seen; None: all of them in every frame.
            Pairs are then compared on the frames both are seen in (module docstring).
        feature: one of ``FEATURES`` ("coords", per-coordinate MI averaged over x and y, is the
            paper's affinity; "xy" compares positions as 2-D variables), or several joined with "+"
            (the mean of their matrices); see the module docstring.
        min_overlap: fewest shared samples of a compared pair of partial tracks (>= 8).
        num_projections: directions of the "sliced" feature.
        statistic: "estimate" (each pair's MI), or "lower" / "upper", an end of its 90 % interval
            (estimators with intervals only, ``estimator.intervals``).
        step: frames of each displacement of ``velocity``, ``xy-velocity`` and ``xy-posvel``
            (1: frame to frame; others refuse a step other than 1, unless joined with one of these).
        max_samples: None, or read each pair on at most this many of its samples (>= 16), evenly
            spread over them (:func:`spread_samples`): InfoNet's time grows with the samples.
        progress: optional callback ``progress(done, total)`` over the pairs of all views (and parts).
    Returns:
        (N, N) symmetric float64 array of MI in nats, 0 on the diagonal. Infinite values
        (correlation estimators on exactly dependent pairs) become the largest finite value + 1.
    Raises:
        ValueError: bad tracks, an unknown feature or statistic, an interval asked of an estimator
            without them, a bad ``max_samples``, or NaN from the estimator.
    """
    parts = feature_parts(feature)
    _check_statistic(estimator, statistic)
    if min_overlap < MIN_FRAMES:
        raise ValueError(f"min_overlap must be at least {MIN_FRAMES} samples, got {min_overlap}")
    check_max_samples(max_samples, min_overlap if visibility is not None else MIN_FRAMES)
    check_step(feature, step)
    if len(parts) > 1:  # the mean of the parts' matrices, each part checked and estimated on its own
        options = {
            "visibility": visibility,
            "min_overlap": min_overlap,
            "num_projections": num_projections,
            "max_samples": max_samples,
        }
        matrices = []
        for k, part in enumerate(parts):
            report = None if progress is None else lambda done, n, k=k: progress(k * n + done, len(parts) * n)
            step_k = step if part in STEPPED else 1
            matrices.append(
                track_mi(tracks, estimator, feature=part, statistic=statistic, step=step_k, progress=report, **options)
            )
        return np.mean(matrices, axis=0)
    extra = 0 if feature in ("coords", "sliced", "xy") else step  # frames a displacement spans
    partial = visibility is not None and not np.asarray(visibility, bool).all()
    tracks = check_tracks(tracks, min_frames=MIN_FRAMES + extra, finite=not partial)
    if partial and not np.isfinite(tracks[np.asarray(visibility, bool)]).all():
        raise ValueError("tracks contain NaN or infinite coordinates in frames where they are seen")
    views, seen = track_views(
        tracks, feature, visibility=visibility if partial else None, num_projections=num_projections, step=step
    )
    read = _Reader(estimator, statistic)
    if not partial:  # every pair has every sample: keep the same evenly spread ones for all
        views = views[..., spread_samples(views.shape[-1], max_samples)]
    if feature in VECTOR_FEATURES:
        mi = _vector_mi(views.transpose(1, 2, 0), seen if partial else None, read, min_overlap, max_samples, progress)
    elif partial:
        mi = _partial_mi(views, seen, read, min_overlap, max_samples, progress)
    else:
        mi = _full_mi(views, read, progress)
    mi = (mi + mi.T) / 2  # exact symmetry whatever the estimator's rounding
    np.fill_diagonal(mi, 0.0)
    return _finite(mi, estimator)


def _check_statistic(estimator: MIEstimator, statistic: str) -> None:
    """Raises ValueError for an unknown statistic, or an interval's end asked of an estimator without them."""
    check_statistic(statistic)
    if statistic != "estimate" and not getattr(estimator, "intervals", False):
        name = getattr(estimator, "name", type(estimator).__name__)
        raise ValueError(f"statistic={statistic!r} needs an estimator with intervals (InfoNet); {name} has none")


class _Reader:
    """An estimator's all-pairs and batched reads of one statistic (its estimate or an interval end)."""

    def __init__(self, estimator: MIEstimator, statistic: str = "estimate"):
        self.estimator, self.statistic = estimator, statistic

    def pairwise(self, series, progress=None) -> np.ndarray:
        if self.statistic == "estimate":
            return self.estimator.pairwise(series, progress=progress)
        return self.estimator.pairwise(series, progress=progress, statistic=self.statistic)

    def batch(self, x, y) -> np.ndarray:
        if self.statistic == "estimate":
            return self.estimator.estimate_batch(x, y)
        return pick_statistic(*self.estimator.estimate_interval_batch(x, y), self.statistic)  # (B, 2) interval


def _full_mi(views: np.ndarray, read: _Reader, progress) -> np.ndarray:
    """The mean over views of the estimator's all-pairs MI: views (K, N, T) -> (N, N)."""
    K, N, _ = views.shape
    pairs = N * (N - 1) // 2
    total = np.zeros((N, N))
    for k, series in enumerate(views):
        report = None
        if progress is not None:
            report = lambda done, _total, k=k: progress(k * pairs + done, K * pairs)
        mi = np.asarray(read.pairwise(series, progress=report), dtype=np.float64)
        if mi.shape != (N, N):
            raise ValueError(f"{read.estimator!r}.pairwise returned shape {mi.shape}, expected {(N, N)}")
        total += mi
    return total / K


def _partial_mi(views: np.ndarray, seen: np.ndarray, read: _Reader, min_overlap: int, max_samples, progress):
    """MI of every pair on the samples both series have (at most ``max_samples`` of them): views
    (K, N, T), seen (N, T) -> (N, N)."""
    K, N, T = views.shape
    rows, cols, compared, batches = _overlap_batches(seen, min_overlap, max_samples)
    values = np.full(len(rows), np.nan)
    done, total = 0, int(compared.sum()) * K

    def estimate(batch):
        p, i, j, frames = batch
        return p, sum(read.batch(views[k, i[:, None], frames], views[k, j[:, None], frames]) for k in range(K)) / K

    for p, value in _over_batches(estimate, batches, read.estimator, "model"):
        values[p] = value
        done += len(p) * K
        if progress is not None:
            progress(done, total)
    if not compared.any():
        values[:] = 0.0
    else:
        values[~compared] = np.nanmin(values[compared])
    out = np.zeros((N, N))
    out[rows, cols] = values
    out[cols, rows] = values
    return out


def _over_batches(work: Callable, batches, estimator: MIEstimator, network: str):
    """``work(batch)`` for each of :func:`_overlap_batches`' batches, in order: one batch per core for
    InfoNet (``infonet.threads.on_cores``; most overlap lengths fill one pass of its ``network``, "model"
    or "vector_model", or less), in turn for other estimators."""
    model = getattr(estimator, network, None) if getattr(estimator, "neural", False) else None  # loaded here, once
    if model is None:
        return map(work, batches)
    return on_cores(work, batches, next(model.parameters()).device)


def _overlap_batches(seen: np.ndarray, min_overlap: int, max_samples: int | None = None):
    """Pairs of series grouped by how many samples both have, for batched estimation on those samples.

    Args: seen (N, T) bool; min_overlap: pairs sharing fewer samples are left out; max_samples: a
    pair sharing more reads that many of them, evenly spread (:func:`spread_samples`).
    Returns: rows, cols (P,) the pairs i < j; compared (P,) bool; and an iterator of batches
    (p, i, j, frames): pair indices (B,), their series, and the frames they are read on (B, length'),
    in order.
    """
    rows, cols = np.triu_indices(seen.shape[0], k=1)  # (P,)
    overlap = shared_samples(seen)[rows, cols]  # (P,)
    compared = overlap >= min_overlap

    def batches():
        for length in np.unique(overlap[compared]):
            which = np.flatnonzero(overlap == length)
            for start in range(0, len(which), PAIR_CHUNK):
                p = which[start : start + PAIR_CHUNK]
                i, j = rows[p], cols[p]
                frames = np.nonzero(seen[i] & seen[j])[1].reshape(len(p), length)
                yield p, i, j, frames[:, spread_samples(length, max_samples)]

    return rows, cols, compared, batches()


def _vector_mi(series: np.ndarray, seen: np.ndarray | None, read: _Reader, min_overlap: int, max_samples, progress):
    """MI of every pair of d-dimensional series (N, T, d); with ``seen`` (N, T), on shared samples (at
    most ``max_samples`` of them) -> (N, N)."""
    N, T, d = series.shape
    estimator = read.estimator
    neural = getattr(estimator, "neural", False)
    if seen is None and neural and T >= VECTOR_MIN_SAMPLES:  # (N, T, d) series: its multivariate network
        return np.asarray(read.pairwise(series, progress=progress), dtype=np.float64)
    if seen is None and getattr(estimator, "name", "") in ("pearson", "gaussian"):
        return _gaussian_pairwise(series, normal=estimator.name == "gaussian")
    if seen is None:
        seen = np.ones((N, T), bool)
    rows, cols, compared, batches = _overlap_batches(seen, min_overlap, max_samples)
    values = np.full(len(rows), np.nan)
    done, total = 0, int(compared.sum())

    def estimate(batch):
        p, i, j, frames = batch
        x, y = series[i[:, None], frames], series[j[:, None], frames]
        if neural and frames.shape[1] < VECTOR_MIN_SAMPLES:
            return p, _short_vector_reads(x, y, estimator, read.statistic)
        return p, vector_estimates(x, y, estimator, statistic=read.statistic)

    for p, value in _over_batches(estimate, batches, estimator, "vector_model"):
        values[p] = value
        done += len(p)
        if progress is not None:
            progress(done, total)
    if not compared.any():
        log.warning(
            "no pair of tracks shares the %d samples min_overlap asks for: every MI is 0 (compare per "
            "coordinate, e.g. feature='coords', on shorter series)",
            min_overlap,
        )
    values[~compared] = np.nanmin(values[compared]) if compared.any() else 0.0
    out = np.zeros((N, N))
    out[rows, cols] = values
    out[cols, rows] = values
    return out


def _short_vector_reads(x, y, estimator: MIEstimator, statistic: str) -> np.ndarray:
    """InfoNet's multivariate network on B pairs of fewer samples than it was trained on (``min_overlap``
    to 15; its estimators refuse them): on the tracker's short tracks they are two thirds of the pairs
    compared, and read so, they rank "same object" better than left at the matrix's floor (docs/video.md)."""
    from infonet.vector_estimate import predict_vector

    out = predict_vector(estimator.vector_model, x, y, ties=getattr(estimator, "ties", "random"))
    return np.asarray(pick_statistic(out["mi"], out["quantiles"], statistic), dtype=np.float64)


def vector_estimates(x, y, estimator: MIEstimator, *, statistic: str = "estimate") -> np.ndarray:
    """MI of B pairs of vector samples, x (B, n, dx) and y (B, n, dy) -> (B,) nats.

    InfoNet (``estimator.neural``) runs the multivariate network; "pearson" and "gaussian" give
    the Gaussian MI of the raw values or of normal scores; "ksg" a batched KSG. ``statistic`` as
    in :func:`track_mi`.
    Raises:
        ValueError: an estimator with no vector form, or an interval asked of one without them.
    """
    _check_statistic(estimator, statistic)
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    name = getattr(estimator, "name", type(estimator).__name__)
    if getattr(estimator, "neural", False):  # (B, n, d) batches: its multivariate network
        return np.asarray(_Reader(estimator, statistic).batch(x, y), dtype=np.float64)
    if name in ("pearson", "gaussian"):
        if name == "gaussian":
            x, y = _normal_scores(x), _normal_scores(y)
        return _gaussian_batch(x, y)
    if name == "ksg":
        return np.concatenate(
            [_ksg_batch(x[s : s + 256], y[s : s + 256], KSG_NEIGHBOURS) for s in range(0, len(x), 256)]
        )
    raise ValueError(f"estimator {name!r} has no vector form; use infonet, ksg, pearson or gaussian")


def _normal_scores(a: np.ndarray) -> np.ndarray:
    """(B, n, d) -> normal scores of each coordinate's ranks along n (ties: average)."""
    from scipy import stats

    n = a.shape[1]
    return stats.norm.ppf((stats.rankdata(a, axis=1) - 0.5) / n)


def _whiten(a: np.ndarray) -> np.ndarray:
    """(..., n, d) -> centred series whose sample covariance is the identity on their span."""
    a = a - a.mean(-2, keepdims=True)
    cov = np.einsum("...ni,...nj->...ij", a, a) / a.shape[-2]
    w, v = np.linalg.eigh(cov)
    scale = np.where(w > 1e-12 * np.maximum(w.max(-1, keepdims=True), 1e-300), 1 / np.sqrt(np.maximum(w, 1e-300)), 0.0)
    return np.einsum("...ni,...ij,...j->...nj", a, v, scale)


def _gaussian_mi_of_cross(c: np.ndarray) -> np.ndarray:
    """-1/2 log det(I - C C^T) for cross-covariances C (..., dx, dy) of whitened series."""
    eye = np.eye(c.shape[-2])
    det = np.linalg.det(eye - c @ np.swapaxes(c, -1, -2))
    with np.errstate(divide="ignore"):
        return -0.5 * np.log(np.maximum(det, 0.0))


def _gaussian_batch(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    zx, zy = _whiten(x), _whiten(y)
    return _gaussian_mi_of_cross(np.einsum("bni,bnj->bij", zx, zy) / x.shape[1])


def _gaussian_pairwise(series: np.ndarray, normal: bool) -> np.ndarray:
    """All pairs of (N, T, d) series, each whitened once: (N, N) Gaussian MI."""
    z = _whiten(_normal_scores(series) if normal else series)  # (N, T, d)
    N, T, _ = z.shape
    out = np.zeros((N, N))
    for start in range(0, N, 64):  # (64, N, d, d) cross-covariances at a time
        c = np.einsum("ati,btj->abij", z[start : start + 64], z) / T
        out[start : start + 64] = _gaussian_mi_of_cross(c)
    return out


def _ksg_batch(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """KSG (algorithm 1, max-norm, each coordinate scaled to unit variance) of B pairs at once."""
    from scipy.special import digamma

    B, n, _ = x.shape
    scale = lambda a: (a - a.mean(1, keepdims=True)) / np.maximum(a.std(1, keepdims=True), 1e-12)  # noqa: E731
    jitter = np.random.default_rng(0)  # breaks ties (frozen points) the same way in every call and batch:
    x = scale(x) + 1e-10 * jitter.standard_normal(x.shape[1:])  # one draw per side, shared by the pairs
    y = scale(y) + 1e-10 * jitter.standard_normal(y.shape[1:])
    dx, dy = _max_distances(x), _max_distances(y)  # (B, n, n)
    eps = np.partition(np.maximum(dx, dy), k, axis=-1)[..., k : k + 1]  # k-th neighbour (0: the point)
    nx = (dx < eps).sum(-1)  # itself included: n_x + 1
    ny = (dy < eps).sum(-1)
    return digamma(k) + digamma(n) - (digamma(nx) + digamma(ny)).mean(-1)


def _max_distances(a: np.ndarray) -> np.ndarray:
    """(B, n, d) -> (B, n, n) max-norm distances, one coordinate at a time (memory: two (B, n, n))."""
    out = np.abs(a[:, :, None, 0] - a[:, None, :, 0])
    for c in range(1, a.shape[-1]):
        np.maximum(out, np.abs(a[:, :, None, c] - a[:, None, :, c]), out=out)
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
