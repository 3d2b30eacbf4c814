"""MI between vectors with the multivariate InfoNet: X (n, dx) against Y (n, dy), one pair or a batch.

Shapes: B pairs, n samples, dx / dy dimensions.

Each coordinate is ranked along the samples in its own precision (ties broken as the 1-D
estimator breaks them, :func:`infonet.copula.rank_transform`), turned into normal scores, and the
network (:mod:`infonet.vector_model`) reads the canonical coordinates. Pairs run in chunks of a
bounded number of samples (:func:`vector_chunk`), so memory stays bounded at any n and B.

The shipped weights are three networks routed by domain (:class:`~infonet.vector_model.DomainRouted`):
a narrow one (8 latents of width 64) answers up to 4 dimensions a side and 512 samples, where point
tracks are compared (its pass costs about 40 % of the full network's); the full one the other pairs of
up to 512 samples; and the same network fine-tuned for long samples, whose neighbour counts read up to
4,096 samples instead of 256, everything longer.
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
from .order import ordered_pairs, pair_ranks, series_ranks
from .threads import on_cores
from .vector_model import MAX_DIM, DomainRouted, VectorInfoNet, VectorNetConfig, normal_scores
from .weights import packaged, weights_file

__all__ = [
    "DEFAULT_VECTOR_WEIGHTS",
    "MAX_DIM",
    "check_vector_batch",
    "check_vector_series",
    "load_vector_model",
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
    :class:`~infonet.vector_model.DomainRouted` set, a checkpoint of one network loads as that network.

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


def scores(x, ties: str = "random", seed: int | torch.Generator = 0, device=None) -> torch.Tensor:
    """(B, n, d) raw samples (any real dtype) -> float32 normal scores of each coordinate's ranks along n.

    Ranks are taken in the input's own type (:func:`infonet.copula.exact_tensor`), ties broken as
    ``ties`` says (keys shared along B); a constant coordinate so becomes a random order: noise that
    carries no information. The estimators rank a pair's two sides through :func:`infonet.order.pair_ranks`.
    """
    x = exact_tensor(x)
    if device is not None:
        x = x.to(device)
    return normal_scores(rank_transform(x, dim=1, ties=ties, seed=seed, batch_dims=1).float())


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
        seed: seed of the tie-break (the side read first draws first, :mod:`infonet.order`).
    Returns:
        dict of numpy arrays: ``mi`` (B,), ``quantiles`` (B, 3) at (5 %, 50 %, 95 %), ``gc`` (B,) the
        Gaussian-copula MI of the same ranks.
    """
    device = next(model.parameters()).device
    u, v = pair_ranks(exact_tensor(x).to(device), exact_tensor(y).to(device), ties=ties, seed=seed)
    zx, zy = normal_scores(u.float()), normal_scores(v.float())  # each pair in its canonical order
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
    interval). Entry (i, j) is the estimate of the pair alone, read once in its canonical order
    (:mod:`infonet.order`), so the matrix follows a reordering of the series.
    """
    check_statistic(statistic)
    device = next(model.parameters()).device
    mid, first, second = series_ranks(exact_tensor(series).to(device), ties=ties, seed=seed)  # (N, T, d) each
    z1, z2 = normal_scores(first.float()), normal_scores(second.float())
    N, T, _ = mid.shape
    rows, cols = ordered_pairs(mid, *torch.triu_indices(N, N, offset=1, device=device))
    total = rows.numel()
    chunk = chunk_size or vector_chunk(T, device)
    mi = torch.zeros(total, device=device)

    def read(start: int) -> torch.Tensor:
        i, j = rows[start : start + chunk], cols[start : start + chunk]
        out = model(z1[i], z2[j])
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
