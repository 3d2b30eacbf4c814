"""Copula (empirical-CDF) transform: each variable is replaced by its normalised rank.

MI is invariant under strictly increasing maps of either variable, so estimating it on
ranks changes nothing in theory and puts every input on the same footing, u in (0, 1).
Ranks are mid-ranks: the i-th smallest of n values maps to (i + 0.5) / n, and tied values
share the mean of their positions, so the transform does not depend on the input order.

MI is also invariant under the symmetries of the copula square: swapping the two variables
and reversing either one (u -> 1 - u). A trained network is only nearly invariant, so the
estimators average it over the first k of :data:`SYMMETRIES` (k = 1, 2, 4 or 8, each a
subgroup), which cancels part of the network's own error at k times the compute.

Ties. A discrete or rounded variable repeats values, and mid-ranks then stack every tied sample
on one copula position: the copula has atoms, which no continuous copula (and none the network
was trained on) has. An estimator reads the atoms as extreme dependence (independent bools gave
4.2 nats). ``ties="random"`` breaks each tie in a random order instead, which is the same as
adding to a discrete X an independent uniform jitter that stays inside its own level:
U = F(X-) + J P(X = x), J ~ U(0, 1). U determines X and J is independent noise, so
I(U; V) = I(X; Y) exactly, for discrete, continuous and mixed variables alike: the copula of a
k-level variable becomes a picture of k blocks whose MI is the discrete MI. Without ties the
random order changes nothing (the ranks are bit for bit the mid-ranks) and no random number is
drawn. The tie-break is seeded (``seed``), so a call is reproducible.

Above the grid: Kendall's floor. A network reads its copula on a G x G density grid, and a grid
with uniform marginals holds at most log G nats (3.5 for G = 32), so near-deterministic pairs read
near there whatever their MI. For a Gaussian copula MI = -log cos(pi tau / 2) exactly, tau Kendall's
rank correlation (rho = sin(pi tau / 2) for every elliptical copula, so for those it is their
Gaussian part, a lower bound). Kendall's tau is a U-statistic, unbiased at every n, and it counts
exactly what a near-deterministic sample shows: which pairs of samples swap order. (The normal-score
correlation, the other rank estimate of rho, weighs a swap of neighbours by the squared gap of their
scores and reads 4-nat Gaussians as 3.4 at n = 128.) It is not a bound for every copula: on the
near-deterministic families measured (docs/benchmarks.md) additive Laplace noise reads 0.13-0.15
nats high, bounded noise 0.03 low, where KSG reads up to 2.4 below. :func:`kendall_mi` is that
formula; the estimators lift an estimate to it where it reads more than :data:`FLOOR_FROM` nats,
the level where the networks begin to level off, and compute it only for pairs the network already
puts above :data:`SCREEN_FROM` (O(n^2) comparisons a pair up to ``KENDALL_MAX_N`` samples; above,
tau is averaged over strided chunks, still unbiased). Ranks that agree exactly (a monotone
relation) read as if one compared pair were swapped, the least the sample can show: about
log(n^2 / 2 pi) nats (5.1 at n = 32; 10.6 at n = 1000, four chunks of 250).

Exact ranks. Values are compared in their own type: float64, int64 (timestamps in nanoseconds
near 1.7e18 differ in the last digits, which float64 loses), bool. NumPy types torch cannot hold
exactly are mapped to an order-preserving integer code first (uint64 beyond 2^63 by flipping
its top bit, long double through its sorted distinct values), so every real dtype ranks exactly.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "TIES",
    "rank_transform",
    "rank_transform_np",
    "exact_tensor",
    "is_constant",
    "SYMMETRIES",
    "symmetry_maps",
    "symmetric_copies",
    "kendall_tau",
    "kendall_mi",
    "floor_lift",
    "FLOOR_FROM",
    "SCREEN_FROM",
]

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


TIES = ("average", "random")  # mid-ranks, or ties broken in a seeded random order


def rank_transform(
    x, dim: int = -1, *, ties: str = "average", seed: int | torch.Generator = 0, batch_dims: int = 0
) -> torch.Tensor:
    """Ranks scaled to (0, 1) along ``dim``, batched, on any device, exact for every real dtype.

    The i-th smallest of n values maps to (i + 0.5) / n. Tied values share the mean of their
    positions (``ties="average"``, mid-ranks: the result does not depend on the input order), or
    take their positions in a random order (``ties="random"``: the copula of a discrete variable
    becomes a block picture whose MI is the discrete MI; see the module notes). Without ties both
    give the same values, bit for bit.

    Args:
        x: (..., n) tensor, or NumPy array of any real dtype (bool, integers, uint64, float16 to
            long double); ``dim`` selects the sample axis.
        ties: "average" or "random".
        seed: the random tie-break's seed, or a ``torch.Generator`` on x's device (drawn from in
            turn, so successive calls break ties independently).
        batch_dims: how many leading dimensions of x index independent estimates (pairs of a batch):
            the tie-break's random keys are drawn once for the rest of the shape and shared along
            them, so that a row's ranks depend on its own values and the seed, not on the other rows
            or its place among them. 0: every row draws its own keys (series compared with each
            other, whose tie-breaks must differ).
    Returns:
        Tensor of x's shape: float64 for float64 input, float32 for any other; values in (0, 1).
    Raises:
        ValueError: an unknown ``ties``, a non-real array, or NaN (infinities rank at the ends).
    """
    if ties not in TIES:
        raise ValueError(f"ties must be 'average' or 'random', got {ties!r}")
    x = exact_tensor(x).movedim(dim, -1)
    n = x.shape[-1]
    xs = (x.to(torch.uint8) if x.dtype == torch.bool else x).contiguous()  # compared in their own type
    sorted_x, order = xs.sort(dim=-1)
    if n and sorted_x.is_floating_point() and bool(sorted_x[..., -1].isnan().any()):  # NaN sorts last
        raise ValueError("x holds NaN, which has no rank; drop or fill the missing values first")
    out_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32  # float16 cannot tell 1000 ranks apart
    # positions count in float64: float32 holds integers only up to 2^24
    has_ties = n > 1 and bool((sorted_x[..., 1:] == sorted_x[..., :-1]).any())
    # the keys are drawn whether or not x has ties, so a shared generator moves on the same way for
    # any data: the next call's tie-break (y's after x's) does not hang on whether x had ties
    keys = _tie_keys(xs, seed, batch_dims) if ties == "random" else None
    if not has_ties:  # each value's position is where the sort put it (a scatter, no searches)
        positions = torch.arange(n, device=x.device, dtype=torch.float64).expand(order.shape) + 0.5
        ranks = torch.empty(order.shape, device=x.device, dtype=torch.float64).scatter_(-1, order, positions)
    elif keys is not None:
        ranks = _random_order_ranks(xs, keys)
    else:
        lo = torch.searchsorted(sorted_x, xs, right=False)  # first position of each value
        hi = torch.searchsorted(sorted_x, xs, right=True)  # one past its last position
        ranks = (lo + hi).to(torch.float64) * 0.5  # mean of the tied positions, plus 0.5
    return (ranks / n).to(out_dtype).movedim(-1, dim)


def _tie_keys(x: torch.Tensor, seed: int | torch.Generator, batch_dims: int = 0) -> torch.Tensor:
    """Uniform random keys of x's shape (..., n), drawn once for the dimensions after the first
    ``batch_dims`` and shared along those (a 1-D x draws its own)."""
    gen = seed if isinstance(seed, torch.Generator) else torch.Generator(x.device).manual_seed(int(seed))
    return torch.rand(x.shape[min(batch_dims, x.dim() - 1) :], generator=gen, device=x.device).expand(x.shape)


def _random_order_ranks(x: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """(..., n) -> float64 positions + 0.5, ties in a random order: a stable sort of a random permutation
    (the order of ``keys``)."""
    perm = keys.argsort(dim=-1)
    order = perm.gather(-1, x.gather(-1, perm).argsort(dim=-1, stable=True))  # sample indices by (value, key)
    positions = torch.arange(x.shape[-1], device=x.device, dtype=torch.float64) + 0.5
    return torch.empty(x.shape, dtype=torch.float64, device=x.device).scatter_(-1, order, positions.expand(x.shape))


def exact_tensor(x) -> torch.Tensor:
    """A tensor holding x, or an order-preserving integer code of it where torch cannot hold its values exactly.

    Tensors pass unchanged. NumPy uint64 becomes int64 with the top bit flipped (so 2^63 and above
    keep their order), long double (float96/float128) the index of each value among the sorted
    distinct values; bool, every other integer and float16/32/64 convert as they are.
    """
    if isinstance(x, torch.Tensor):
        return x
    a = np.asarray(x)
    if a.dtype == np.uint64:
        a = (a ^ np.uint64(1 << 63)).view(np.int64)
    elif a.dtype.kind == "f" and a.dtype.itemsize > 8:
        a = np.unique(a, return_inverse=True)[1].reshape(a.shape).astype(np.int64)
    elif a.dtype.kind not in "biuf":
        raise ValueError(f"ranks need real numbers, got an array of dtype {a.dtype}")
    a = np.ascontiguousarray(a)
    # a read-only array (pandas' copy-on-write values, a memory map) would share its memory with a
    # tensor torch warns it cannot protect; it is only read here, but copied so that no warning reaches users
    return torch.from_numpy(a if a.flags.writeable else a.copy())


def rank_transform_np(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """NumPy twin of :func:`rank_transform` with mid-ranks (float64 output)."""
    return rank_transform(np.asarray(x, dtype=np.float64), dim=axis).numpy()


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


FLOOR_FROM = 3.0  # nats: estimates are lifted to Kendall's floor only where it reads more
SCREEN_FROM = 2.5  # nats: the floor is computed only for pairs the network reads above this
KENDALL_MAX_N = 256  # longer samples: tau is the mean over strided chunks of at most this many
KENDALL_CHUNK = 2**18  # pair comparisons per pass on a CPU (1 MiB of float32: in cache, 6x faster than 2**20)
KENDALL_CHUNK_GPU = 2**26  # ... on a GPU, where the Python loop over passes would cost more than the work


def _chunks(n: int) -> tuple[int, int]:
    """(k, m): Kendall's tau of n samples is the mean over k strided chunks of m samples (k = 1: all n)."""
    k = -(-n // KENDALL_MAX_N)
    return k, n // k


def kendall_tau(u: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Kendall's tau (tau-a: tied pairs count 0) of paired rows u, v (c, n) and its sampling variance,
    float64 (c,) each.

    O(n^2) comparisons a pair, in passes of ``KENDALL_CHUNK`` (``KENDALL_CHUNK_GPU`` on CUDA); above ``KENDALL_MAX_N`` samples the
    mean over k strided chunks (samples j, j + k, ...): each chunk's tau is unbiased, and the mean's
    variance has the whole sample's leading term, at O(n) comparisons. The variance is the
    U-statistic's first-order one, 4 var_i(h_i) / m per chunk (h_i: sample i's mean concordance with
    the others), over k.
    """
    c, n = u.shape
    k, m = _chunks(n)
    if k > 1:
        u, v = (t[:, : m * k].unflatten(1, (m, k)).transpose(1, 2).reshape(c * k, m) for t in (u, v))
    step = max(1, (KENDALL_CHUNK_GPU if u.is_cuda else KENDALL_CHUNK) // (m * m))
    rows = [  # (rows, m): each sample's summed concordance with the others
        (torch.sign(a.unsqueeze(-1) - a.unsqueeze(-2)) * torch.sign(b.unsqueeze(-1) - b.unsqueeze(-2))).sum(-1)
        for a, b in zip(u.split(step), v.split(step), strict=True)
    ]
    h = torch.cat(rows).double() / (m - 1)  # (c k, m)
    tau = h.mean(-1).view(c, k).mean(1)
    var = (4 * h.var(-1) / m).view(c, k).mean(1) / k
    return tau, var


def kendall_mi(u: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The Gaussian-copula MI of Kendall's tau, -log cos(pi tau / 2), of paired rows u, v (c, n), its
    standard error (delta method), float64 (c,) each, and (c,) bool: the ranks agree exactly.

    Ranks that agree exactly read as if one of the k m (m - 1) / 2 compared pairs were swapped
    (see :func:`kendall_tau` for k and m), so the value is finite (see the module notes).
    """
    k, m = _chunks(u.shape[-1])
    tau, var = kendall_tau(u, v)
    one_swap = 4 / (k * m * (m - 1))  # 1 - |tau| is twice the share of swapped pairs
    swaps = (1 - tau.abs()).clamp_min(one_swap)
    half = torch.pi / 2 * swaps
    slope = torch.pi / 2 / torch.tan(half)  # |d MI / d tau|
    return -torch.log(torch.sin(half)), slope * var.sqrt(), swaps <= one_swap


NO_SWAP_MARGIN = math.log(3)  # nats below the one-swap value: zero swaps seen bound the share at 3 / pairs (95 %)


def floor_lift(
    mi: torch.Tensor, u: torch.Tensor, v: torch.Tensor, quantiles: torch.Tensor | None = None, z=None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Estimates ``mi`` (c,) of copula samples u, v (c, n) lifted to Kendall's floor where it passes
    ``FLOOR_FROM`` and ``mi``; the floor is computed only where ``mi`` passes ``SCREEN_FROM``.

    ``quantiles`` (c, Q), with ``z`` (Q,) their standard normal scores (increasing): where a pair is
    lifted, its quantiles become the floor's, floor + z * its standard error. Where the ranks agree
    exactly nothing bounds MI above: the quantiles below the median are the floor minus
    ``NO_SWAP_MARGIN`` (the rule of three on the share of swapped pairs), those above it inf.
    Returns (mi, quantiles) in their own dtypes; the lift carries no gradient.
    """
    screened = (mi > SCREEN_FROM).nonzero().squeeze(-1)
    if not screened.numel():
        return mi, quantiles
    floor, error, exact = kendall_mi(u[screened].detach(), v[screened].detach())
    lifted = (floor > FLOOR_FROM) & (floor > mi[screened].detach().double())
    rows = screened[lifted]
    mi = mi.index_add(0, rows, (floor[lifted] - mi[rows].detach().double()).to(mi.dtype))
    if quantiles is not None:
        z = torch.as_tensor(z, dtype=torch.float64, device=mi.device)
        spread = floor[lifted, None] + error[lifted, None] * z
        no_swap = torch.where(z < 0, -NO_SWAP_MARGIN, torch.where(z > 0, math.inf, 0.0))
        spread = torch.where(exact[lifted, None], floor[lifted, None] + no_swap, spread)
        quantiles = quantiles.index_put((rows,), spread.to(quantiles.dtype))
    return mi, quantiles
