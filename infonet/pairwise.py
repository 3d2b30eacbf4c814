"""The network over many pairs, the one chunk loop of every entry point, and all-pairs MI.

Shapes: N series, T samples, P pairs, k symmetries, c pairs in one chunk.

:func:`symmetric_pass` runs the network on c pairs under the first k symmetries of the copula
square (see :mod:`infonet.copula`) in one batched pass and averages them; the differentiable MI
calls it as it is. :func:`run_pairs` is the loop around it that ``estimate_mi``,
``estimate_mi_batch`` and :func:`pairwise_mi` share: pair p reads row ``rows[p]`` of u and row
``cols[p]`` of v, in chunks built by indexing on the device, so memory is bounded by the chunk
size. Each chunk's estimates that the network puts near the top of its range are then lifted to
Kendall's floor where it reads more (:func:`infonet.copula.floor_lift`); finding those pairs is the
loop's one return to the host, a count per chunk.

All-pairs MI ranks each series once (N of them), not once per pair (N(N-1)/2): u = v = the
ranks, and the pairs are the upper triangle.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import torch

from .copula import exact_tensor, floor_lift, is_constant, symmetric_copies, symmetry_maps
from .interface import check_statistic, pick_statistic
from .model import QUANTILES, InfoNet
from .order import ordered_pairs, series_ranks
from .threads import on_cores

__all__ = ["pairwise_mi", "run_pairs", "symmetric_pass", "pair_chunk", "autocast_for"]

QUANTILE_SCORES = tuple(float(torch.special.ndtri(torch.tensor(p, dtype=torch.float64))) for p in QUANTILES)


def autocast_for(device: torch.device, precision: str = "auto"):
    """bf16 autocast on CUDA (or when asked for), a no-op context otherwise."""
    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', got {precision!r}")
    use_bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    if use_bf16:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


GPU_CHUNK_SAMPLES = 2**24  # samples per forward pass on a GPU
CPU_CHUNK_SAMPLES = (
    2**16
)  # ... on a CPU, where splatting is cache-bound (measured: 40 us per pair at T = 1000 in chunks of 64, 100+ in chunks of 128)
CPU_CHUNK_PAIRS = 64  # and at most this many pairs per CPU pass (one pass per core, infonet.threads.on_cores:
# measured on 2 cores, 40 series of T = 50 / 200 / 1000: 5,692 / 5,578 / 3,974 pairs/s in passes of 64 pairs,
# 3,468 / 3,719 / 4,103 in passes of 256)


def pair_chunk(n: int, device: torch.device) -> int:
    """Pairs of n samples per forward pass, sized to the device."""
    if device.type == "cuda":
        return max(1, GPU_CHUNK_SAMPLES // max(n, 1))
    return max(1, min(CPU_CHUNK_PAIRS, CPU_CHUNK_SAMPLES // max(n, 1)))


def symmetric_pass(model: InfoNet, u: torch.Tensor, v: torch.Tensor, symmetries: int = 1):
    """The network on copula samples u, v (c, n) averaged over the first k symmetries: (mi, dv, quantiles).

    Returns (c,), (c,) and (c, Q) float32 tensors, and the raw output of the pass (k * c pairs,
    map-major). Gradients flow when enabled.
    """
    k = len(symmetry_maps(symmetries))
    out = model(*symmetric_copies(u, v, k))
    mean = lambda t: t.float().unflatten(0, (k, -1)).mean(0)  # noqa: E731
    return mean(out.mi), mean(out.dv), mean(out.quantiles), out


@torch.no_grad()
def run_pairs(
    model: InfoNet,
    u: torch.Tensor,
    v: torch.Tensor,
    rows: torch.Tensor,
    cols: torch.Tensor,
    *,
    symmetries: int = 1,
    chunk_size: int | None = None,
    precision: str = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, torch.Tensor]:
    """The network on P pairs (u[rows[p]], v[cols[p]]) of copula samples u, v (N, T), in chunks.

    An estimate below the pair's Kendall floor, where the floor is above
    :data:`infonet.copula.FLOOR_FROM`, is lifted to it, and its quantiles become the floor's
    (its value +- its standard error at the quantiles' normal scores); ``dv``, the network's own
    read-out, is left as it is.

    Args:
        rows, cols: (P,) long indices on u's device.
        chunk_size: pairs per forward pass (default: sized to the device and ``symmetries``).
    Returns:
        dict of float32 tensors on the device: ``mi`` (P,), ``dv`` (P,), ``quantiles`` (P, Q).
    Raises:
        ValueError: a chunk size that is not a positive integer, bad symmetries or precision.
    """
    maps = symmetry_maps(symmetries)
    if chunk_size is not None and not (isinstance(chunk_size, int) and chunk_size >= 1):
        raise ValueError(f"chunk_size must be a positive integer or None (sized to the device), got {chunk_size!r}")
    device = u.device
    total, T = rows.numel(), u.shape[-1]
    chunk = chunk_size or max(1, pair_chunk(T, device) // len(maps))
    autocast_for(device, precision)  # refuses a bad precision before any work
    mi, dv, qs = (
        [torch.zeros(0, device=device)],
        [torch.zeros(0, device=device)],
        [torch.zeros(0, len(QUANTILES), device=device)],
    )

    def read(start: int):
        i, j = rows[start : start + chunk], cols[start : start + chunk]
        with autocast_for(device, precision):
            m, d, q, _ = symmetric_pass(model, u[i], v[j], len(maps))
        return *floor_lift(m, u[i], v[j], q, QUANTILE_SCORES), d

    starts = range(0, total, chunk)
    for start, (m, q, d) in zip(starts, on_cores(read, starts, device), strict=True):
        mi.append(m)
        dv.append(d)
        qs.append(q)
        if progress is not None:
            progress(min(start + chunk, total), total)
    return {"mi": torch.cat(mi), "dv": torch.cat(dv), "quantiles": torch.cat(qs)}


@torch.no_grad()
def pairwise_mi(
    model: InfoNet,
    series,
    *,
    symmetries: int = 1,
    chunk_size: int | None = None,
    precision: str = "auto",
    ties: str = "random",
    seed: int = 0,
    statistic: str = "estimate",
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """MI between every two rows of ``series``.

    Args:
        model: a trained InfoNet (its device is used).
        series: (N, T) array or tensor of finite real values, validated by the caller.
        symmetries: average over the first 1, 2, 4 or 8 symmetries of the copula square
            (k times the compute).
        chunk_size: pairs per forward pass (default: sized to the device and ``symmetries``).
        precision: "auto" (bf16 on CUDA, fp32 on CPU), "bf16" or "fp32".
        ties: "random" (ties broken in a seeded random order, as each pair alone would break them:
            :mod:`infonet.order`) or "average" (mid-ranks); see :func:`infonet.copula.rank_transform`.
        seed: seed of the tie-break.
        statistic: "estimate", or "lower" / "upper", an end of each pair's 90 % interval.
        progress: optional callback ``progress(done_pairs, total_pairs)``.
    Returns:
        (N, N) symmetric float64 numpy array, 0 on the diagonal and for constant series. Entry (i, j)
        is the estimate of the pair alone, read in its canonical order, so the matrix follows a
        reordering of the series.
    """
    check_statistic(statistic)
    device = next(model.parameters()).device
    s = exact_tensor(series).to(device)
    if s.ndim != 2:
        raise ValueError(f"series must have shape (N, T), got {tuple(s.shape)}")
    N = s.shape[0]
    mid, first, second = (r[..., 0] for r in series_ranks(s[..., None], ties=ties, seed=seed))  # (N, T) each, exact
    rows, cols = ordered_pairs(mid[..., None], *torch.triu_indices(N, N, offset=1, device=device))
    out = run_pairs(
        model,
        first.float(),
        second.float(),
        rows,
        cols,
        symmetries=symmetries,
        chunk_size=chunk_size,
        precision=precision,
        progress=progress,
    )
    dead = is_constant(s)
    mi = pick_statistic(out["mi"], out["quantiles"], statistic).masked_fill(dead[rows] | dead[cols], 0.0)
    matrix = torch.zeros(N, N, device=device)
    matrix[rows, cols] = mi
    matrix[cols, rows] = mi
    return matrix.cpu().numpy().astype(np.float64)
