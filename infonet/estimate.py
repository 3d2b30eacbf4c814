"""MI estimation with a trained InfoNet: one pair, many pairs, and sliced (high-dimensional).

Shapes: B pairs, n samples, P random projections.

Every entry point validates its input (``ValueError`` naming the problem), rank-transforms
on the model's device and runs the network in chunks so memory stays bounded. A sequence
holding a single repeated value carries no information: its MI is 0 without asking the
network.

The network is trained with random symmetries of the copula square (swap x and y, reverse
either; see :mod:`infonet.copula`) as augmentation, so one pass is the default estimate.
``symmetries=2, 4, 8`` averages the network over that many of them in the same batched pass,
at that many times the compute, for a little more accuracy.

Ranks are taken in the input's own precision (float64 for float input), before anything is
cast to the network's float32: an offset of 1e8 or timestamps near 1.7e9 must not turn distinct
values into ties.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .checkpoint import load_pretrained, resolve_device
from .copula import is_constant, rank_transform, symmetric_copies, symmetry_maps
from .interface import MIEstimator, check_batch, check_pair
from .model import InfoNet
from .pairwise import autocast_for, pair_chunk, pairwise_mi

__all__ = [
    "estimate_mi",
    "estimate_mi_batch",
    "predict",
    "random_projections",
    "InfoNetEstimator",
    "DEFAULT_SYMMETRIES",
]

DEFAULT_SYMMETRIES = 1  # one pass: the network was trained with the symmetries as augmentation


@torch.no_grad()
def predict(
    model: InfoNet,
    x,
    y,
    *,
    symmetries: int = 1,
    chunk_size: int | None = None,
    precision: str = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Runs the network on B pairs of raw samples, x and y of shape (B, n) (validated by the caller).

    Args:
        symmetries: average the network over the first 1, 2, 4 or 8 symmetries of the copula
            square (:data:`infonet.copula.SYMMETRIES`), all in the same forward pass.
        chunk_size: pairs per forward pass (default: sized to the device and ``symmetries``).
    Returns:
        dict of numpy arrays: ``mi`` (B,), ``dv`` (B,), ``quantiles`` (B, 3) at (5 %, 50 %, 95 %).
    """
    maps = symmetry_maps(symmetries)
    device = next(model.parameters()).device
    x, y = torch.as_tensor(x, device=device), torch.as_tensor(y, device=device)  # ranked in their own precision
    B, n = x.shape
    chunk = chunk_size or max(1, pair_chunk(n, device) // len(maps))
    mi, dv, qs = [], [], []
    for start in range(0, B, chunk):
        xb, yb = x[start : start + chunk], y[start : start + chunk]
        a, b = symmetric_copies(rank_transform(xb).float(), rank_transform(yb).float(), len(maps))
        with autocast_for(device, precision):
            out = model(a, b)  # (k * P) copies, grouped by symmetry
        dead = (is_constant(xb) | is_constant(yb)).unsqueeze(-1)
        q = out.quantiles.float().unflatten(0, (len(maps), -1)).mean(0).masked_fill(dead, 0.0)
        mi.append(q[:, 1])
        dv.append(out.dv.float().unflatten(0, (len(maps), -1)).mean(0).masked_fill(dead[:, 0], 0.0))
        qs.append(q)
        if progress is not None:
            progress(min(start + chunk, B), B)
    cat = lambda ts: torch.cat(ts).cpu().numpy().astype(np.float64)  # noqa: E731
    return {"mi": cat(mi), "dv": cat(dv), "quantiles": cat(qs)}


def _model(model: InfoNet | None, device) -> InfoNet:
    if model is None:
        return load_pretrained(device=device)
    if device is not None:
        model = model.to(resolve_device(device))
    return model


def random_projections(dx: int, dy: int, num: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded unit directions for sliced MI: theta (dx, P) for x and phi (dy, P) for y."""
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal((dx, num))
    phi = rng.standard_normal((dy, num))
    return theta / np.linalg.norm(theta, axis=0, keepdims=True), phi / np.linalg.norm(phi, axis=0, keepdims=True)


def estimate_mi(
    x,
    y,
    *,
    model: InfoNet | None = None,
    device=None,
    num_projections: int = 256,
    seed: int = 0,
    symmetries: int = DEFAULT_SYMMETRIES,
    return_interval: bool = False,
):
    """MI in nats between paired samples.

    Args:
        x: (n,) or (n, dx) samples; y: (n,) or (n, dy), paired row by row.
        model: an InfoNet (default: the shipped weights, loaded once).
        device: where to run (default: CUDA when available).
        num_projections: for dx > 1 or dy > 1, the sliced MI (the mean MI over random 1-D
            projections of x and y) uses this many projection pairs, estimated in one pass.
        seed: seed of the random projections.
        symmetries: average over the first 1, 2, 4 or 8 symmetries of the copula square
            (default 1, one pass; more average the network over that many maps).
        return_interval: also return the 90 % interval (5 % and 95 % quantiles) of the
            network's quantile head (for one pair only).
    Returns:
        float, or (mi, low, high) with ``return_interval``.
    Raises:
        ValueError: mismatched lengths, fewer than 8 samples, NaN/inf, wrong dimensions.
    """
    x, y = check_pair(x, y)
    model = _model(model, device)
    if x.shape[1] == 1 and y.shape[1] == 1:
        out = predict(model, x.T, y.T, symmetries=symmetries)
        if return_interval:
            q = out["quantiles"][0]
            return float(q[1]), float(q[0]), float(q[2])
        return float(out["mi"][0])
    if return_interval:
        raise ValueError("return_interval is only available for one-dimensional x and y")
    if num_projections < 1:
        raise ValueError(f"num_projections must be >= 1, got {num_projections}")
    theta, phi = random_projections(x.shape[1], y.shape[1], num_projections, seed)
    out = predict(model, (x @ theta).T, (y @ phi).T, symmetries=symmetries)  # (P, n) projected pairs
    return float(out["mi"].mean())


def estimate_mi_batch(
    x,
    y,
    *,
    model: InfoNet | None = None,
    device=None,
    chunk_size: int | None = None,
    symmetries: int = DEFAULT_SYMMETRIES,
    return_interval: bool = False,
    progress: Callable[[int, int], None] | None = None,
):
    """MI of B independent 1-D pairs in batched passes.

    Args:
        x, y: (B, n) arrays: row b of x is paired with row b of y.
        chunk_size: pairs per forward pass (default: sized to the device).
        symmetries: average over the first 1, 2, 4 or 8 symmetries of the copula square
            (default 1, one pass; more average the network over that many maps).
        return_interval: also return the (B, 2) 5 % / 95 % quantiles.
        progress: optional callback ``progress(done, total)``.
    Returns:
        (B,) numpy array of MI in nats, or (mi, interval) with ``return_interval``.
    """
    x, y = check_batch(x, y)
    out = predict(_model(model, device), x, y, symmetries=symmetries, chunk_size=chunk_size, progress=progress)
    if return_interval:
        return out["mi"], out["quantiles"][:, [0, 2]]
    return out["mi"]


class InfoNetEstimator(MIEstimator):
    """The neural estimator behind the common interface (the model is loaded on first use).

    ``symmetries`` (1, 2, 4 or 8) applies to every method; the default is one pass.
    """

    name = "infonet"
    neural = True
    batched = True

    def __init__(
        self, model: InfoNet | None = None, device=None, weights: str | None = None, symmetries: int | None = None
    ):
        if symmetries is not None:
            symmetry_maps(symmetries)  # validates
        self._model, self.device, self.weights, self.symmetries = model, device, weights, symmetries

    @property
    def model(self) -> InfoNet:
        if self._model is None:
            self._model = load_pretrained(self.weights, device=self.device)
        return self._model

    def estimate(self, x, y) -> float:
        return estimate_mi(x, y, model=self.model, symmetries=self.symmetries or DEFAULT_SYMMETRIES)

    def estimate_batch(self, x, y, progress=None) -> np.ndarray:
        return estimate_mi_batch(
            x, y, model=self.model, symmetries=self.symmetries or DEFAULT_SYMMETRIES, progress=progress
        )

    def estimate_interval_batch(self, x, y, progress=None) -> tuple[np.ndarray, np.ndarray]:
        """(B,) estimates and their (B, 2) 90 % intervals (the 5 % and 95 % quantiles)."""
        sym = self.symmetries or DEFAULT_SYMMETRIES
        return estimate_mi_batch(x, y, model=self.model, symmetries=sym, return_interval=True, progress=progress)

    def pairwise(self, series, progress=None) -> np.ndarray:
        series = np.asarray(series, dtype=np.float64)
        if series.ndim != 2:
            raise ValueError(f"series must have shape (N, T), got {series.shape}")
        check_batch(series, series)
        return pairwise_mi(self.model, series, symmetries=self.symmetries or DEFAULT_SYMMETRIES, progress=progress)
