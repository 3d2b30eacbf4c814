"""MI between vectors with the multivariate InfoNet: X (n, dx) against Y (n, dy), one pair or a batch.

Shapes: B pairs, n samples, dx / dy dimensions.

Each coordinate is ranked along the samples in its own precision (ties broken as the 1-D
estimator breaks them, :func:`infonet.copula.rank_transform`), turned into normal scores, and the
network (:mod:`infonet.vector_model`) reads the canonical coordinates. Pairs run in chunks of a
bounded number of samples (:func:`vector_chunk`), so memory stays bounded at any n and B.

The shipped weights are two networks routed by domain (:class:`~infonet.vector_model.DomainRouted`):
a narrow one (8 latents of width 64) answers up to 4 dimensions a side and 512 samples, where point
tracks are compared (its pass costs about 40 % of the full network's), and the full one everything else.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_checkpoint, load_weights, usable_device
from .copula import exact_tensor, rank_transform
from .interface import as_real_array, check_finite, check_statistic, pick_statistic
from .threads import on_cores
from .vector_model import MAX_DIM, DomainRouted, VectorInfoNet, VectorNetConfig, normal_scores
from .weights import packaged, weights_file

__all__ = [
    "DEFAULT_VECTOR_WEIGHTS",
    "MAX_DIM",
    "check_vector_batch",
    "check_vector_series",
    "load_vector_model",
    "order_statistic",
    "pairwise_vector",
    "predict_vector",
    "vector_model_from_checkpoint",
]

DEFAULT_VECTOR_WEIGHTS = packaged("infonet_vector.pt")
VECTOR_WEIGHTS_ENV = "INFONET_VECTOR_WEIGHTS"  # overrides the default vector weights path
GPU_CHUNK_TOKENS = 1 << 18  # samples per forward pass (B * n) on a GPU
CPU_CHUNK_TOKENS = 1 << 13  # ... on a CPU, where the activations should stay in cache (measured at n = 50:
# 190 us per pair in chunks of 2^18 samples, 125 in chunks of 2^14 on 2 threads; with one chunk per core
# (infonet.threads.on_cores) the MI stage of 300 x 50 tracks took 2.06 s in chunks of 2^13, 2.18 / 2.79 in 2^14 / 2^12)
VECTOR_MIN_SAMPLES = 16  # the shortest sequences the network was trained on


def vector_model_from_checkpoint(ckpt: dict) -> VectorInfoNet | DomainRouted:
    """Builds the vector network from a checkpoint's own config and loads its weights strictly.

    A config ``{"experts": [...]}`` is a :class:`~infonet.vector_model.DomainRouted` set of networks.
    """
    if ckpt.get("kind") != "vector":
        raise ValueError("this checkpoint holds a 1-D InfoNet, not the multivariate network")
    config = ckpt["config"]
    try:
        if isinstance(config, dict) and "experts" in config:
            model = DomainRouted([VectorInfoNet(VectorNetConfig(**c)) for c in config["experts"]])
        else:
            model = VectorInfoNet(VectorNetConfig(**config))
    except TypeError as err:
        raise ValueError(f"checkpoint config does not match VectorNetConfig: {err}") from None
    return load_weights(model, ckpt["model"])


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, device: str) -> VectorInfoNet | DomainRouted:
    return vector_model_from_checkpoint(load_checkpoint(path)).to(device).eval().requires_grad_(False)


def load_vector_model(path: str | Path | None = None, device=None) -> VectorInfoNet | DomainRouted:
    """The multivariate network in eval mode (cached per path and device): the shipped file holds a
    :class:`~infonet.vector_model.DomainRouted` pair, a checkpoint of one network loads as that network.

    Args:
        path: a checkpoint; default ``$INFONET_VECTOR_WEIGHTS`` or the shipped ``infonet/weights/infonet_vector.pt``.
        device: "cpu", "cuda", ...; default: CUDA when available.
    Raises:
        FileNotFoundError, ValueError: no weights file, a damaged one, or a device this machine lacks.
    """
    path = weights_file(path, VECTOR_WEIGHTS_ENV, DEFAULT_VECTOR_WEIGHTS.name, "python scripts/train_vector.py")
    return _load_cached(path, str(usable_device(device)))


def vector_chunk(n: int, device: torch.device) -> int:
    """Pairs of n samples per forward pass of the vector network, sized to the device."""
    tokens = GPU_CHUNK_TOKENS if device.type == "cuda" else CPU_CHUNK_TOKENS
    return max(1, tokens // max(n, 1))


def scores(
    x, ties: str = "random", seed: int | torch.Generator = 0, device=None, *, pairs: bool = True
) -> torch.Tensor:
    """(B, n, d) raw samples (any real dtype) -> float32 normal scores of each coordinate's ranks along n.

    Ranks are taken in the input's own type (:func:`infonet.copula.exact_tensor`), ties broken as
    ``ties`` says; a constant coordinate so becomes a random order: noise that carries no information.
    ``pairs``: the B rows are sides of B pairs, each estimated on its own, and share the tie-break's keys
    (a pair's estimate does not depend on its batch); False for N series compared with each other.
    """
    x = exact_tensor(x)
    if device is not None:
        x = x.to(device)
    return normal_scores(rank_transform(x, dim=1, ties=ties, seed=seed, batch_dims=int(pairs)).float())


def _mid_ranks(x) -> torch.Tensor:
    """(B, n, d) raw samples -> float64 mid-ranks in (0, 1) of each coordinate along n."""
    return rank_transform(exact_tensor(x), dim=1).double()


ORDER_SEED = 20_261_206  # seeds the fixed weights of :func:`order_statistic`


def order_statistic(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """sum over samples of sin(a u + b v) - sin(a v + b u), mid-ranks u, v (B, n, d) -> (B,) (a, b: fixed
    random weights over the coordinates).

    It is exactly negated when the two sides swap, and depends on the samples' ranks alone, not on a
    monotone map of a coordinate, a batch, or (beyond rounding) the samples' order: it decides in which
    order a pair is read. It is 0 where the swap leaves the samples as they were (up to their order),
    and a sum of separate terms per coordinate would be 0 far more often (for any two rank series that
    differ by swapped pairs of values, as a point track and its neighbour's often do).
    """
    g = torch.Generator().manual_seed(ORDER_SEED)
    a, b = (4 * torch.randn(2, MAX_DIM, generator=g, dtype=torch.float64)[:, : u.shape[-1]]).to(u.device)
    return (torch.sin(u @ a + v @ b) - torch.sin(v @ a + u @ b)).sum(1)


def in_order(x, y, zx: torch.Tensor, zy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The network's inputs zx, zy (B, n, d) of the raw pairs x, y, each pair's sides in a canonical order.

    The network is symmetric in its two sides only up to its training (on point tracks the two orders of
    a pair read 0.14 nats apart on average), so a pair of equal dimensions is read as (y, x) where
    :func:`order_statistic` of (x, y) is negative: the estimate of (x, y) is that of (y, x) (exactly, for
    samples without ties, whose tie-break draws differ by side). Pairs of unequal dimensions as given.
    """
    if zx.shape[-1] != zy.shape[-1]:
        return zx, zy
    swap = (order_statistic(_mid_ranks(x), _mid_ranks(y)) < 0).to(zx.device)[:, None, None]
    return torch.where(swap, zy, zx), torch.where(swap, zx, zy)


def ordered_pairs(series, rows: torch.Tensor, cols: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The pairs (rows[p], cols[p]) of N series (N, T, d), each in the order :func:`in_order` reads it.

    The statistic is summed pair by pair in one order of the terms, so that it is exactly negated when
    the two series swap and does not depend on the other series (a product of the whole matrix would
    round differently with their order).
    """
    u = _mid_ranks(series).to(rows.device)  # (N, T, d)
    swap = torch.cat([order_statistic(u[i], u[j]) < 0 for i, j in zip(rows.split(8192), cols.split(8192), strict=True)])
    return torch.where(swap, cols, rows), torch.where(swap, rows, cols)


@torch.no_grad()
def predict_vector(
    model: VectorInfoNet,
    x,
    y,
    *,
    ties: str = "random",
    seed: int = 0,
    chunk_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Runs the vector network on B pairs, x (B, n, dx) and y (B, n, dy) (validated by the caller).

    Args:
        ties: "random" (seeded random order, the default) or "average" (mid-ranks).
        seed: seed of the tie-break (x's ties draw first, then y's).
    Returns:
        dict of numpy arrays: ``mi`` (B,), ``quantiles`` (B, 3) at (5 %, 50 %, 95 %), ``gc`` (B,) the
        Gaussian-copula MI of the same ranks.
    """
    device = next(model.parameters()).device
    gen = torch.Generator(device).manual_seed(seed)
    zx, zy = in_order(x, y, scores(x, ties, gen, device), scores(y, ties, gen, device))
    B, n, _ = zx.shape
    chunk = chunk_size or vector_chunk(n, device)
    starts = range(0, B, chunk)
    qs, gcs = [], []
    passes = on_cores(lambda start: model(zx[start : start + chunk], zy[start : start + chunk]), starts, device)
    for start, out in zip(starts, passes, strict=True):
        qs.append(out.quantiles.float())
        gcs.append(out.gc.float())
        if progress is not None:
            progress(min(start + chunk, B), B)
    q = torch.cat(qs).cpu().numpy().astype(np.float64)
    return {"mi": q[:, 1], "quantiles": q, "gc": torch.cat(gcs).cpu().numpy().astype(np.float64)}


def check_dims(dx: int, dy: int) -> None:
    """Refuses dimensions the multivariate network does not answer (naming the side)."""
    for name, d in (("x", dx), ("y", dy)):
        if d > MAX_DIM:
            raise ValueError(
                f"{name} has {d} dimensions; the multivariate estimator answers up to {MAX_DIM} per side. "
                "Reduce the dimension (e.g. PCA) or use method='sliced' for sliced MI"
            )


def check_vector_batch(x, y, *, min_samples: int = VECTOR_MIN_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """Validates B pairs of vector samples, x (B, n, dx) and y (B, n, dy); returns them in their own real dtypes.

    Raises:
        ValueError: naming the problem (shape, length, too few samples, too many dimensions, NaN/inf).
    """
    x, y = as_real_array(x, "x", keep_dtype=True), as_real_array(y, "y", keep_dtype=True)
    if x.ndim != 3 or y.ndim != 3:
        raise ValueError(f"x and y must have shape (B, n, dx) and (B, n, dy); got {x.shape} and {y.shape}")
    if x.shape[:2] != y.shape[:2]:
        raise ValueError(f"x and y must have the same pairs and samples (B, n); got {x.shape[:2]} and {y.shape[:2]}")
    if x.shape[0] == 0:
        raise ValueError("x and y hold no pairs (B = 0)")
    if x.shape[1] < min_samples:
        raise ValueError(f"need at least {min_samples} samples per pair of vectors; got {x.shape[1]}")
    if 0 in (x.shape[2], y.shape[2]):
        raise ValueError(f"x and y need at least one dimension; got {x.shape} and {y.shape}")
    check_dims(x.shape[2], y.shape[2])
    check_finite(x.reshape(x.shape[0], -1), "x", rows=True)
    check_finite(y.reshape(y.shape[0], -1), "y", rows=True)
    return x, y


def check_vector_series(series, *, min_samples: int = VECTOR_MIN_SAMPLES) -> np.ndarray:
    """Validates N vector series (N, T, d) for :func:`pairwise_vector`; returns them in their own real dtype."""
    series = as_real_array(series, "series", keep_dtype=True)
    if series.ndim != 3:
        raise ValueError(f"series must have shape (N, T, d); got {series.shape}")
    check_vector_batch(series[:1], series[:1], min_samples=min_samples)  # T, d and the dimension limit
    check_finite(series.reshape(series.shape[0], -1), "series", rows=True)
    return series


@torch.no_grad()
def pairwise_vector(
    model: VectorInfoNet,
    series,
    *,
    ties: str = "random",
    seed: int = 0,
    chunk_size: int | None = None,
    statistic: str = "estimate",
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """MI between every two of N vector series, series (N, T, d) (validated by the caller).

    Each series' coordinates are ranked once (N of them, not once per pair); pairs then run in
    chunks of :func:`vector_chunk` pairs. Returns the (N, N) symmetric float64 matrix, 0 on the
    diagonal, of each pair's ``statistic`` ("estimate", or "lower" / "upper", an end of its 90 %
    interval). The network is symmetric in its two sides only up to its training, so each pair
    is read once, in the order of :func:`in_order`: the matrix follows a reordering of the series.
    """
    check_statistic(statistic)
    device = next(model.parameters()).device
    z = scores(series, ties, torch.Generator(device).manual_seed(seed), device, pairs=False)  # (N, T, d)
    N, T, _ = z.shape
    rows, cols = torch.triu_indices(N, N, offset=1, device=device)
    rows, cols = ordered_pairs(series, rows, cols)
    total = rows.numel()
    chunk = chunk_size or vector_chunk(T, device)
    mi = torch.zeros(total, device=device)

    def read(start: int) -> torch.Tensor:
        i, j = rows[start : start + chunk], cols[start : start + chunk]
        out = model(z[i], z[j])
        return pick_statistic(out.mi, out.quantiles, statistic).float()

    starts = range(0, total, chunk)
    for start, value in zip(starts, on_cores(read, starts, device), strict=True):
        mi[start : start + chunk] = value
        if progress is not None:
            progress(min(start + chunk, total), total)
    out = torch.zeros(N, N, device=device)
    out[rows, cols] = mi
    out[cols, rows] = mi
    return out.cpu().numpy().astype(np.float64)
