"""Copula (empirical-CDF) transform: each variable is replaced by its normalised rank.

MI is invariant under strictly increasing maps of either variable, so estimating it on
ranks changes nothing in theory and puts every input on the same footing, u in (0, 1).
Ranks are mid-ranks: the i-th smallest of n values maps to (i + 0.5) / n, and tied values
share the mean of their positions, so the transform does not depend on the input order.

MI is also invariant under the symmetries of the copula square: swapping the two variables
and reversing either one (u -> 1 - u). A trained network is only nearly invariant, so the
estimators average it over the first k of :data:`SYMMETRIES` (k = 1, 2, 4 or 8, each a
subgroup), which cancels part of the network's own error at k times the compute.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["rank_transform", "rank_transform_np", "is_constant", "SYMMETRIES", "symmetry_maps", "symmetric_copies"]

# (swap, reverse the first, reverse the second), applied in that order. The first 1, 2, 4 and 8
# form subgroups: identity; + swap; + rotation by 180 degrees; the whole dihedral group.
SYMMETRIES = (
    (False, False, False),
    (True, False, False),
    (False, True, True),
    (True, True, True),
    (False, True, False),
    (True, True, False),
    (False, False, True),
    (True, False, True),
)


def rank_transform(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Mid-ranks scaled to (0, 1) along ``dim``, batched, on any device.

    Args:
        x: (..., n) tensor (``dim`` selects the sample axis).
    Returns:
        Tensor of x's shape and floating dtype (float32 for integer input), values in (0, 1).
    """
    x = x.movedim(dim, -1)
    n = x.shape[-1]
    # searchsorted needs a contiguous float sequence; compare in float64 when x is float64
    xs = x.contiguous() if x.is_floating_point() else x.float().contiguous()
    sorted_x = xs.sort(dim=-1).values
    lo = torch.searchsorted(sorted_x, xs, right=False)  # first position of each value
    hi = torch.searchsorted(sorted_x, xs, right=True)  # one past its last position
    ranks = (lo + hi).to(xs.dtype) * 0.5  # mean of the tied positions, plus 0.5
    out_dtype = x.dtype if x.is_floating_point() else torch.float32
    return (ranks / n).to(out_dtype).movedim(-1, dim)


def rank_transform_np(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """NumPy twin of :func:`rank_transform` (float64 output)."""
    return rank_transform(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)), dim=axis).numpy()


def is_constant(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """True where a sequence holds a single repeated value (its MI with anything is 0)."""
    return x.amax(dim=dim) == x.amin(dim=dim)


def symmetry_maps(k: int) -> tuple[tuple[bool, bool, bool], ...]:
    """The first k maps of :data:`SYMMETRIES`; k must be 1, 2, 4 or 8.

    Raises:
        ValueError: for any other k.
    """
    if k not in (1, 2, 4, 8):
        raise ValueError(f"symmetries must be 1, 2, 4 or 8, got {k!r}")
    return SYMMETRIES[:k]


def symmetric_copies(u: torch.Tensor, v: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Copula samples u, v (B, n) under the first k symmetries: two (k * B, n) tensors, map-major."""
    firsts, seconds = [], []
    for swap, flip_first, flip_second in symmetry_maps(k):
        first, second = (v, u) if swap else (u, v)
        firsts.append(1 - first if flip_first else first)
        seconds.append(1 - second if flip_second else second)
    return torch.cat(firsts), torch.cat(seconds)
