"""All-pairs MI between N series with one trained InfoNet: the fast path of video segmentation.

Shapes: N series, T samples, P pairs in one chunk.

The rank transform is computed once per series (N of them, in the input's own precision), not
once per pair (N(N-1)/2). Pairs then run in fixed-size chunks built by indexing on the device:
each pair's two rank rows are splatted onto the copula grid and read by the network, so memory
is bounded by the chunk size and nothing returns to the host inside the loop. Averaging over
the copula square's symmetries (see :mod:`infonet.copula`) reuses the same ranks: a swap
exchanges the two series, a reversal reads 1 - u.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import torch

from .copula import is_constant, rank_transform, symmetry_maps
from .model import InfoNet

__all__ = ["pairwise_mi", "pair_chunk", "autocast_for"]


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
CPU_CHUNK_PAIRS = 256  # and at most this many pairs per CPU pass


def pair_chunk(n: int, device: torch.device) -> int:
    """Pairs of n samples per forward pass, sized to the device."""
    if device.type == "cuda":
        return max(1, GPU_CHUNK_SAMPLES // max(n, 1))
    return max(1, min(CPU_CHUNK_PAIRS, CPU_CHUNK_SAMPLES // max(n, 1)))


@torch.no_grad()
def pairwise_mi(
    model: InfoNet,
    series,
    *,
    symmetries: int = 1,
    chunk_size: int | None = None,
    precision: str = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """MI between every two rows of ``series``.

    Args:
        model: a trained InfoNet (its device is used).
        series: (N, T) array or tensor of finite values, validated by the caller.
        symmetries: average over the first 1, 2, 4 or 8 symmetries of the copula square
            (k times the compute; 2 makes the estimate exactly symmetric in the two series).
        chunk_size: pairs per forward pass (default: sized to the device and ``symmetries``).
        precision: "auto" (bf16 on CUDA, fp32 on CPU), "bf16" or "fp32".
        progress: optional callback ``progress(done_pairs, total_pairs)``.
    Returns:
        (N, N) symmetric float64 numpy array, 0 on the diagonal and for constant series.
    """
    maps = symmetry_maps(symmetries)
    device = next(model.parameters()).device
    s = torch.as_tensor(series, device=device)
    if s.ndim != 2:
        raise ValueError(f"series must have shape (N, T), got {tuple(s.shape)}")
    N, T = s.shape
    rows, cols = torch.triu_indices(N, N, offset=1, device=device)
    total = rows.numel()
    chunk = chunk_size or max(1, pair_chunk(T, device) // len(maps))
    u = rank_transform(s).float()  # (N, T), once per series, ranked in the input's precision
    ranks = {False: u, True: 1 - u}
    mi = torch.zeros(total, device=device)
    for start in range(0, total, chunk):
        i, j = rows[start : start + chunk], cols[start : start + chunk]
        sides = [((j, i) if swap else (i, j), (flip_a, flip_b)) for swap, flip_a, flip_b in maps]
        ua = torch.cat([ranks[fa][a] for (a, _), (fa, _) in sides])  # (k * P, T)
        ub = torch.cat([ranks[fb][b] for (_, b), (_, fb) in sides])
        with autocast_for(device, precision):
            out = model(ua, ub).mi.float()
        mi[start : start + chunk] = out.unflatten(0, (len(maps), -1)).mean(0)
        if progress is not None:
            progress(min(start + chunk, total), total)
    dead = is_constant(s)
    mi = mi.masked_fill(dead[rows] | dead[cols], 0.0)
    out = torch.zeros(N, N, device=device)
    out[rows, cols] = mi
    out[cols, rows] = mi
    return out.cpu().numpy().astype(np.float64)
