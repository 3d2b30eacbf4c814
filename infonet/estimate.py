"""MI estimation with a trained InfoNet: one pair, many pairs, and sliced (high-dimensional).

Shapes: B pairs, n samples, P random projections.

Every entry point validates its input (``ValueError`` naming the problem), rank-transforms
on the model's device and runs the network in chunks so memory stays bounded
(:func:`infonet.pairwise.run_pairs`, the loop all entry points share). A sequence holding a
single repeated value carries no information: its MI is 0 without asking the network.

The network is trained with random symmetries of the copula square (swap x and y, reverse
either; see :mod:`infonet.copula`) as augmentation, so one pass is the default estimate.
``symmetries=2, 4, 8`` averages the network over that many of them in the same batched pass,
at that many times the compute, for a little more accuracy.

Ranks are exact: taken in the input's own type (float64, int64, bool; uint64 and long double
through an order-preserving code), before anything is cast to the network's float32, so an
offset of 1e8 or nanosecond timestamps near 1.7e18 do not turn distinct values into ties.

Ties (discrete, counted or rounded data) are broken in a seeded random order by default
(``ties="random"``), which makes the estimate that of the discrete (or mixed) MI instead of the
absurd values mid-ranks give (see :mod:`infonet.copula` and docs/robustness.md). Data without
ties get exactly the same ranks, and so the same estimate, either way.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .checkpoint import load_pretrained, usable_device
from .copula import TIES, exact_tensor, is_constant, symmetry_maps
from .interface import MIEstimator, as_real_array, check_batch, check_pair, check_statistic
from .model import InfoNet
from .order import pair_ranks, swapped
from .pairwise import pairwise_mi, run_pairs
from .vector_estimate import (
    check_vector_batch,
    check_vector_series,
    load_vector_model,
    pairwise_vector,
    predict_vector,
)
from .vector_model import VectorInfoNet

__all__ = [
    "estimate_mi",
    "estimate_mi_batch",
    "predict",
    "random_projections",
    "sliced_projections",
    "InfoNetEstimator",
    "DEFAULT_SYMMETRIES",
]

DEFAULT_SYMMETRIES = 1  # one pass: the network was trained with the symmetries as augmentation
METHODS = ("auto", "sliced")  # how estimate_mi answers vectors: the multivariate network, or sliced MI


@torch.no_grad()
def predict(
    model: InfoNet,
    x,
    y,
    *,
    symmetries: int = 1,
    chunk_size: int | None = None,
    precision: str = "auto",
    ties: str = "random",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Runs the network on B pairs of raw samples, x and y of shape (B, n) (validated by the caller).

    Args:
        x, y: arrays or tensors of any real dtype (ranked exactly, in their own type).
        symmetries: average the network over the first 1, 2, 4 or 8 symmetries of the copula
            square (:data:`infonet.copula.SYMMETRIES`), all in the same forward pass.
        chunk_size: pairs per forward pass (default: sized to the device and ``symmetries``).
        ties: "random" (seeded random order) or "average" (mid-ranks).
        seed: seed of the tie-break (the side read first draws first, :mod:`infonet.order`).
    Returns:
        dict of numpy arrays: ``mi`` (B,), ``dv`` (B,), ``quantiles`` (B, 3) at (5 %, 50 %, 95 %).
    """
    device = next(model.parameters()).device
    x, y = exact_tensor(x).to(device), exact_tensor(y).to(device)
    # (B, n) each, every pair in its canonical order; a pair's ties broken as it alone would break them
    u, v = (r[..., 0].float() for r in pair_ranks(x[..., None], y[..., None], ties=ties, seed=seed))
    pairs = torch.arange(x.shape[0], device=device)
    out = run_pairs(
        model, u, v, pairs, pairs, symmetries=symmetries, chunk_size=chunk_size, precision=precision, progress=progress
    )
    dead = is_constant(x) | is_constant(y)  # (B,)
    as_numpy = lambda t: t.cpu().numpy().astype(np.float64)  # noqa: E731
    quantiles = out["quantiles"].masked_fill(dead.unsqueeze(-1), 0.0)
    return {
        "mi": as_numpy(quantiles[:, 1]),
        "dv": as_numpy(out["dv"].masked_fill(dead, 0.0)),
        "quantiles": as_numpy(quantiles),
    }


def _ready(model, device, load):
    """``model`` on ``device`` (kept where it is without one), or the shipped weights through ``load``."""
    if model is None:
        return load(device=device)
    return model if device is None else model.to(usable_device(device))


def _model(model: InfoNet | None, device) -> InfoNet:
    return _ready(model, device, load_pretrained)


def _vector_model(model: VectorInfoNet | None, device) -> VectorInfoNet:
    return _ready(model, device, load_vector_model)


def random_projections(dx: int, dy: int, num: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded unit directions for sliced MI: theta (dx, P) for x and phi (dy, P) for y."""
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal((dx, num))
    phi = rng.standard_normal((dy, num))
    return theta / np.linalg.norm(theta, axis=0, keepdims=True), phi / np.linalg.norm(phi, axis=0, keepdims=True)


def _check_options(symmetries: int, ties: str, chunk_size: int | None = None, method: str = "auto") -> None:
    """Refuses a bad option before the model loads or any sample is ranked."""
    symmetry_maps(symmetries)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if ties not in TIES:
        raise ValueError(f"ties must be 'random' or 'average', got {ties!r}")
    if chunk_size is not None and not (isinstance(chunk_size, int) and chunk_size >= 1):
        raise ValueError(f"chunk_size must be a positive integer or None (sized to the device), got {chunk_size!r}")


def estimate_mi(
    x,
    y,
    *,
    model: InfoNet | None = None,
    vector_model: VectorInfoNet | None = None,
    device=None,
    method: str = "auto",
    num_projections: int = 256,
    seed: int = 0,
    symmetries: int = DEFAULT_SYMMETRIES,
    ties: str = "random",
    return_interval: bool = False,
):
    """MI in nats between paired samples: scalars or vectors.

    Routed by dimension: one scalar against one scalar goes to the 1-D networks (themselves routed
    by n); anything else to the multivariate network (X (n, dx) against Y (n, dy), 1 to 32 each,
    n >= 16), which estimates MI(X; Y) itself.

    Args:
        x: (n,) or (n, dx) samples; y: (n,) or (n, dy), paired row by row. Any real dtype
            (ranked exactly), NumPy arrays, lists or torch tensors (any device, with gradients).
        model: a 1-D InfoNet (default: the shipped weights, loaded once).
        vector_model: a multivariate InfoNet (default: the shipped weights, loaded once).
        device: where to run (default: CUDA when available).
        method: "auto" (the above) or "sliced": for vectors, the sliced MI instead (the mean MI of
            ``num_projections`` random 1-D projection pairs, a different and smaller quantity).
        num_projections: projection pairs of the sliced MI, estimated in one pass.
        seed: seed of the tie-break and of the random projections.
        symmetries: (1-D networks) average over the first 1, 2, 4 or 8 symmetries of the copula
            square (default 1, one pass; more average the network over that many maps).
        ties: "random" (default: tied values in a seeded random order, so discrete and rounded
            data get the discrete MI) or "average" (mid-ranks).
        return_interval: also return the 90 % interval (5 % and 95 % quantiles) of the
            network's quantile head (not for sliced MI); where the estimate is lifted to Kendall's
            floor, the floor's own interval (its upper end inf where the ranks agree exactly).
    Returns:
        float, or (mi, low, high) with ``return_interval``.
    Raises:
        ValueError: mismatched lengths, too few samples (8; 16 for vectors), NaN/inf, wrong
            dimensions, more than 32 dimensions a side, a masked array with masked values, a bad
            option or a device this machine lacks.
    """
    x, y = check_pair(x, y, keep_dtype=True)
    _check_options(symmetries, ties, method=method)
    if x.shape[1] == 1 and y.shape[1] == 1:  # the 1-D networks: d_x = d_y = 1
        out = predict(_model(model, device), x.T, y.T, symmetries=symmetries, ties=ties, seed=seed)
    elif method == "auto":
        xs, ys = check_vector_batch(x[None], y[None])  # dimensions and sample count of the vector network
        out = predict_vector(_vector_model(vector_model, device), xs, ys, ties=ties, seed=seed)
    else:
        if return_interval:
            raise ValueError("return_interval is not available for sliced MI")
        return _sliced_mi(_model(model, device), x, y, num_projections, symmetries, ties, seed)
    if return_interval:
        q = out["quantiles"][0]
        return float(q[1]), float(q[0]), float(q[2])
    return float(out["mi"][0])


def _sliced_mi(model: InfoNet, x, y, num_projections: int, symmetries: int, ties: str, seed: int) -> float:
    """The mean 1-D MI over seeded random unit projections of x (n, dx) and y (n, dy)."""
    if num_projections < 1:
        raise ValueError(f"num_projections must be >= 1, got {num_projections}")
    xs, ys = sliced_projections(x, y, num_projections, seed)
    return float(predict(model, xs, ys, symmetries=symmetries, ties=ties, seed=seed)["mi"].mean())


def sliced_projections(x: np.ndarray, y: np.ndarray, num_projections: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The P 1-D pairs of sliced MI of x (n, dx) and y (n, dy): two (P, n) float64 arrays.

    The side the samples read first (:func:`infonet.order.swapped`) is projected on the first
    directions :func:`random_projections` draws, so sliced MI of (x, y) is that of (y, x).
    """
    if swapped(x[None], y[None]).item():
        x, y = y, x
    theta, phi = random_projections(x.shape[1], y.shape[1], num_projections, seed)
    return (x.astype(np.float64) @ theta).T, (y.astype(np.float64) @ phi).T


def estimate_mi_batch(
    x,
    y,
    *,
    model: InfoNet | None = None,
    vector_model: VectorInfoNet | None = None,
    device=None,
    chunk_size: int | None = None,
    symmetries: int = DEFAULT_SYMMETRIES,
    ties: str = "random",
    seed: int = 0,
    return_interval: bool = False,
    progress: Callable[[int, int], None] | None = None,
):
    """MI of B independent pairs in batched passes: scalars (B, n) or vectors (B, n, d).

    Args:
        x, y: (B, n) arrays of scalar pairs, or (B, n, dx) and (B, n, dy) of vector pairs (dx, dy
            up to 32, n >= 16; (B, n, 1) on both sides goes to the 1-D networks). Any real
            dtype, ranked exactly: row b of x is paired with row b of y.
        model, vector_model: the 1-D and the multivariate network (default: the shipped weights).
        chunk_size: pairs per forward pass (default: sized to the device).
        symmetries: (1-D networks) average over the first 1, 2, 4 or 8 symmetries of the copula
            square (default 1, one pass; more average the network over that many maps).
        ties: "random" (default) or "average", as in :func:`estimate_mi`.
        seed: seed of the tie-break.
        return_interval: also return the (B, 2) 5 % / 95 % quantiles.
        progress: optional callback ``progress(done, total)``.
    Returns:
        (B,) numpy array of MI in nats, or (mi, interval) with ``return_interval``.
    Raises:
        ValueError: as :func:`estimate_mi`, and for no pairs (B = 0) or a bad ``chunk_size``.
    """
    _check_options(symmetries, ties, chunk_size)
    x, y = as_real_array(x, "x", keep_dtype=True), as_real_array(y, "y", keep_dtype=True)
    common = {"chunk_size": chunk_size, "ties": ties, "seed": seed, "progress": progress}
    if _is_vector_batch(x, y):
        x, y = check_vector_batch(x, y)
        out = predict_vector(_vector_model(vector_model, device), x, y, **common)
    else:
        if np.ndim(x) == np.ndim(y) == 3:  # (B, n, 1) pairs of scalars
            x, y = np.asarray(x)[..., 0], np.asarray(y)[..., 0]
        x, y = check_batch(x, y, keep_dtype=True)
        out = predict(_model(model, device), x, y, symmetries=symmetries, **common)
    if return_interval:
        return out["mi"], out["quantiles"][:, [0, 2]]
    return out["mi"]


class InfoNetEstimator(MIEstimator):
    """The neural estimators behind the common interface (each model is loaded on first use).

    Scalars go to the 1-D networks, vectors ((n, d) pairs, (B, n, d) batches, (N, T, d) series) to
    the multivariate network. ``symmetries`` (1, 2, 4 or 8, 1-D networks) and ``ties`` ("random" or
    "average") apply to every method; the default is one pass with ties broken at random (seed 0).
    """

    name = "infonet"
    neural = True
    batched = True
    intervals = True
    vectors = True

    def __init__(
        self,
        model: InfoNet | None = None,
        device=None,
        weights: str | None = None,
        symmetries: int | None = None,
        ties: str = "random",
        vector_model: VectorInfoNet | None = None,
        vector_weights: str | None = None,
    ):
        _check_options(symmetries or DEFAULT_SYMMETRIES, ties)
        self._model, self.device, self.weights, self.symmetries, self.ties = model, device, weights, symmetries, ties
        self._vector_model, self.vector_weights = vector_model, vector_weights

    @property
    def model(self) -> InfoNet:
        if self._model is None:
            self._model = load_pretrained(self.weights, device=self.device)
        return self._model

    @property
    def vector_model(self) -> VectorInfoNet:
        if self._vector_model is None:
            self._vector_model = load_vector_model(self.vector_weights, device=self.device)
        return self._vector_model

    def _options(self, vectors: bool) -> dict:
        """The models a call needs (only those: the other is never loaded) and the shared options."""
        nets = {"vector_model": self.vector_model} if vectors else {"model": self.model}
        return {**nets, "symmetries": self.symmetries or DEFAULT_SYMMETRIES, "ties": self.ties}

    def estimate(self, x, y) -> float:
        x, y = as_real_array(x, "x", keep_dtype=True), as_real_array(y, "y", keep_dtype=True)
        vectors = x.ndim == 2 and x.shape[1] > 1 or y.ndim == 2 and y.shape[1] > 1
        return estimate_mi(x, y, **self._options(vectors))

    def estimate_batch(self, x, y, progress=None) -> np.ndarray:
        return self._batch(x, y, progress=progress)

    def estimate_interval_batch(self, x, y, progress=None) -> tuple[np.ndarray, np.ndarray]:
        """(B,) estimates and their (B, 2) 90 % intervals (the 5 % and 95 % quantiles)."""
        return self._batch(x, y, progress=progress, return_interval=True)

    def _batch(self, x, y, **kwargs):
        """:func:`estimate_mi_batch` with the network the pairs' shape asks for (the other is not loaded)."""
        x, y = as_real_array(x, "x", keep_dtype=True), as_real_array(y, "y", keep_dtype=True)
        return estimate_mi_batch(x, y, **kwargs, **self._options(_is_vector_batch(x, y)))

    def pairwise(self, series, progress=None, statistic: str = "estimate") -> np.ndarray:
        """MI between every two of N series: scalars (N, T) or vectors (N, T, d), each ranked once (any real dtype).

        ``statistic``: "estimate", or "lower" / "upper", an end of each pair's 90 % interval.
        """
        check_statistic(statistic)
        series = as_real_array(series, "series", keep_dtype=True)
        ndim = series.ndim
        if ndim == 3 and series.shape[2] == 1:
            series, ndim = series[..., 0], 2
        if ndim == 3:
            series = check_vector_series(series)
            return pairwise_vector(self.vector_model, series, ties=self.ties, statistic=statistic, progress=progress)
        if ndim != 2:
            raise ValueError(f"series must have shape (N, T) or (N, T, d), got {series.shape}")
        series = exact_tensor(check_batch(series, series, keep_dtype=True)[0])
        options = self._options(vectors=False)
        return pairwise_mi(options.pop("model"), series, statistic=statistic, progress=progress, **options)


def _is_vector_batch(x, y) -> bool:
    """True for (B, n, d) batches that are not (B, n, 1) on both sides."""
    if np.ndim(x) != 3 and np.ndim(y) != 3:
        return False
    return not (np.ndim(x) == np.ndim(y) == 3 and np.shape(x)[2] == np.shape(y)[2] == 1)
