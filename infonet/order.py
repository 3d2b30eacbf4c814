"""Which side of a pair a network reads first, and the ranks it reads.

Shapes: B pairs, N series, n samples, d coordinates a side.

MI is symmetric; a trained network is so only up to its training (on point tracks the two orders of
a pair read 0.14 nats apart on average with the multivariate network, 0.018 with the 1-D one at
n = 32). Every entry point therefore reads a pair in one order its samples decide: as (y, x) where
:func:`order_statistic` of the two sides' mid-ranks is negative. The statistic is exactly negated by
a swap and depends on the ranks alone, so the estimate of (x, y) is that of (y, x), and an MI
matrix follows a reordering of its series.

The random tie-break (:func:`infonet.copula.rank_transform`) is drawn after the order is known:
the side read first takes the first draw of keys, the other the second, each shared along the
batch. So a pair with ties also reads the same both ways round, alone, in a batch, or as an entry
of an all-pairs matrix (:func:`series_ranks`), wherever its series stand.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .copula import rank_transform

__all__ = [
    "ORDER_SEED",
    "OrderedRanks",
    "order_statistic",
    "ordered_ranks",
    "in_read_order",
    "swapped",
    "pair_ranks",
    "series_ranks",
    "ordered_pairs",
]

ORDER_SEED = 20_261_206  # seeds the fixed weights of :func:`order_statistic`
ORDER_DIMS = 32  # weights are drawn for this many coordinates (the multivariate network's limit)
ORDER_CHUNK_SAMPLES = 2**16  # samples (pairs x T) whose statistic is summed at once in an all-pairs matrix
# the fixed random weights a, b of :func:`order_statistic`, one of each per coordinate
_WEIGHTS = 4 * torch.randn(2, ORDER_DIMS, generator=torch.Generator().manual_seed(ORDER_SEED), dtype=torch.float64)


def order_statistic(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """sum over samples of sin(a u + b v) - sin(a v + b u), mid-ranks u, v (B, n, d) -> (B,) (a, b: fixed
    random weights over the coordinates).

    It is exactly negated when the two sides swap, and depends on the samples' ranks alone, not on a
    monotone map of a coordinate, a batch, or (beyond rounding) the samples' order. It is 0 where the
    swap leaves the samples as they were (up to their order); a sum of separate terms per coordinate
    would be 0 far more often (for any two rank series that differ by swapped pairs of values, as a
    point track and its neighbour's often do).
    """
    (au, bu), (av, bv) = _projections(u), _projections(v)
    return _statistic(au, bu, av, bv)


def _projections(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(a u, b u) of mid-ranks u (..., n, d): two (..., n) float32 tensors, each row on its own (a sum over
    the d coordinates, the same in any batch)."""
    a, b = _WEIGHTS[:, : u.shape[-1]].to(u.device)
    return (u * a).sum(-1).float(), (u * b).sum(-1).float()


def _statistic(au: torch.Tensor, bu: torch.Tensor, av: torch.Tensor, bv: torch.Tensor) -> torch.Tensor:
    return (torch.sin(au + bv) - torch.sin(av + bu)).sum(-1)


def _mid_ranks(x) -> torch.Tensor:
    """(B, n, d) raw samples of any real dtype -> float64 mid-ranks in (0, 1) of each coordinate along n."""
    return rank_transform(x, dim=1).double()


def _swapped(mx: torch.Tensor, my: torch.Tensor) -> torch.Tensor:
    """(B,) bool: the pairs of mid-ranks mx (B, n, dx), my (B, n, dy) read as (y, x). Sides of unequal
    dimensions are read the wider first (neither order was the more accurate on Gaussian pairs of
    2-15 dimensions: mean error 0.0505 against 0.0508 nats)."""
    if mx.shape[-1] != my.shape[-1]:
        return torch.full((mx.shape[0],), mx.shape[-1] < my.shape[-1], dtype=torch.bool, device=mx.device)
    return order_statistic(mx, my) < 0


def _tie_broken(mid: torch.Tensor, ties: str, gen: torch.Generator) -> torch.Tensor:
    """Ranks of mid-ranks (B, n, d) along n with ties broken by the next draw of ``gen`` (keys shared along B)."""
    return rank_transform(mid, dim=1, ties=ties, seed=gen, batch_dims=1)


class OrderedRanks(NamedTuple):
    """The ranks of B pairs in the order they are read (:func:`ordered_ranks`), float64 (B, n, d) each."""

    first: torch.Tensor  # the side read first, ties broken with the first draw of keys
    second: torch.Tensor  # the other side, with the second draw
    mid_first: torch.Tensor  # their mid-ranks (ties share the mean of their positions)
    mid_second: torch.Tensor
    swap: torch.Tensor  # (B,) bool: the pair is read as (y, x)


def ordered_ranks(x, y, *, ties: str = "random", seed: int | torch.Generator = 0) -> OrderedRanks:
    """The ranks a network reads of B pairs, x (B, n, dx) and y (B, n, dy) on one device: float64 (0, 1)
    of each coordinate along n, each pair's sides in the order :func:`order_statistic` decides (sides
    of unequal dimensions the wider first); the side read first breaks its ties with the first draw of keys.
    """
    mx, my = _mid_ranks(x), _mid_ranks(y)  # exact in each side's own type; ties stay ties
    gen = seed if isinstance(seed, torch.Generator) else torch.Generator(mx.device).manual_seed(int(seed))
    swap = _swapped(mx, my)
    mx, my = in_read_order(mx, my, swap)
    first = _tie_broken(mx, ties, gen)  # drawn first, then the second side's
    return OrderedRanks(first, _tie_broken(my, ties, gen), mx, my, swap)


def in_read_order(a: torch.Tensor, b: torch.Tensor, swap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two sides a (B, n, da), b (B, n, db) of B pairs with the ``swap``ped pairs (B,) read as (b, a);
    sides of unequal dimensions swap as a whole batch (:func:`ordered_ranks` swaps all or none of them)."""
    if a.shape != b.shape:
        return (b, a) if swap.all() else (a, b)
    if not swap.any():
        return a, b
    swap = swap.to(a.device)[:, None, None]
    return torch.where(swap, b, a), torch.where(swap, a, b)


def swapped(x, y) -> torch.Tensor:
    """(B,) bool: which of B pairs x (B, n, dx), y (B, n, dy) of raw samples :func:`ordered_ranks` reads
    as (y, x). For callers that transform the sides themselves before a network reads them (sliced MI
    projects each side with its own seeded directions), so that they can hand them over in that order."""
    return _swapped(_mid_ranks(x), _mid_ranks(y))


def pair_ranks(x, y, *, ties: str = "random", seed: int | torch.Generator = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The first two fields of :func:`ordered_ranks`: the ranks of the side read first and of the other."""
    return ordered_ranks(x, y, ties=ties, seed=seed)[:2]


def series_ranks(series, *, ties: str = "random", seed: int | torch.Generator = 0):
    """Mid-ranks of N series (N, T, d) and their ranks as a pair's first and second side: three float64
    (N, T, d) tensors. Pair (i, j) read as :func:`ordered_pairs` orders it, on (first[i], second[j]), is
    the pair :func:`pair_ranks` gives of the two series alone, ties and all."""
    mid = _mid_ranks(series)
    gen = seed if isinstance(seed, torch.Generator) else torch.Generator(mid.device).manual_seed(int(seed))
    first = _tie_broken(mid, ties, gen)
    return mid, first, _tie_broken(mid, ties, gen)


def ordered_pairs(mid: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The pairs (rows[p], cols[p]) of N series with mid-ranks ``mid`` (N, T, d), each as (first, second).

    Each series is projected once; the statistic is then summed pair by pair, in chunks of
    ``ORDER_CHUNK_SAMPLES`` samples, exactly as :func:`order_statistic` sums it for the pair alone.
    """
    a, b = _projections(mid.to(rows.device))  # (N, T) each
    chunk = max(1, ORDER_CHUNK_SAMPLES // max(a.shape[-1], 1))
    swap = torch.cat(
        [_statistic(a[i], b[i], a[j], b[j]) < 0 for i, j in zip(rows.split(chunk), cols.split(chunk), strict=True)]
    )
    return torch.where(swap, cols, rows), torch.where(swap, rows, cols)
