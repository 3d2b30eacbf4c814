"""Differentiable MI: an InfoNet estimate that gradients flow through, for use as a loss.

Shapes: B pairs, n samples, c rows of one chunk, d dimensions, P random projections.

    x, y (B, n) raw samples
      -> soft copula: u_i = (1/n) sum_j sigmoid((x_i - x_j) / h_i)      (B, n) each
      -> the frozen network: model(u, v).mi                              (B,)

The hard copula (mid-ranks, :func:`infonet.copula.rank_transform`) is piecewise constant, so
no gradient reaches the data through it. Replacing the step function of each pairwise
comparison by a logistic sigmoid gives a smooth rank that tends to the mid-rank as the
temperature goes to 0 (sigmoid(0) = 1/2 is exactly the share a tie gets in a mid-rank), and
whose derivative du_i/dx_i is a kernel density estimate of x at x_i: the derivative of the
smoothed empirical CDF. The width is one per sample: ``temperature`` times its robust scale (IQR / 1.349), so the
soft copula is a smoothed empirical CDF, an increasing function of x whatever the width, and
the copula of (u, v) is exactly that of (x, y); only the margins of u are slightly non-uniform.
A width set in rank space (the local gap between order statistics at each sample) was measured
and dropped: it makes u a non-monotone function of x, which adds noise to the copula and pulled
the estimate down by 0.06 nats at n = 512 where the single width moved it by 0.003. With
``hard_forward=True`` the forward value uses the exact mid-ranks (the estimate is then exactly
invariant to every monotone map, as the numpy API is) and only the gradient comes from the
soft rank (straight-through).

Ties. Tied values get equal soft ranks (sigmoid(0) = 1/2, as in a mid-rank), which stacks them
on one copula position, as mid-ranks do (see :mod:`infonet.copula`). With ``ties="random"`` (the
default) each tied sample is moved by the constant offset that takes its mid-rank to its place in
a seeded random order: the forward value is then that of ``rank_transform(ties="random")`` up to
the softening, the gradient is the soft rank's, and data without ties are not touched.

Large offsets. Each row is centred on its median (a constant: ranks do not see a shift) before
the comparisons, so x + 1e15 compares differences, not values 1e17 times the width.

The pairwise comparisons cost O(n^2) per pair; they run in row chunks with a hand-written
backward that recomputes each chunk, so memory stays O(B * c * n) in both passes.

The network's gradient. A trained InfoNet's point estimate ``.mi`` may be read out through a
calibration head that is cut from the inputs' graph (the shipped weights' head reads the trunk
through stopped gradients). Then ``.mi`` carries no gradient to u and v, and :func:`mi` takes
its value from ``.mi`` and its gradient from the Donsker-Varadhan read-out ``.dv`` of the same
pass (straight-through; ``readout="dv"`` uses the DV value itself). When ``.mi`` is
differentiable, its own gradient is used.

Slope near independence. The point estimate is the quantile head's median, softplus(raw) >= 0,
whose slope sigmoid(raw) = 1 - exp(-mi) vanishes where the estimate does: at the uniform start of
a feature search (MI 6e-5 nats) the gradient was 0.002 and gradient ascent never moved. The
missing share exp(-mi) of the slope is filled with the gradient of a cross-fitted critic: the
network's critic table is built (without gradient) from the even samples and read out on the odd
ones, and the other way round; the mean of the table at the held-out samples grows as they
move towards the dependence the other half shows, which noise in one half does not share. The
value is unchanged (the median); only the gradient gains this term, which fades as the estimate
grows (weight 0.37 at 1 nat). Read on the same samples it was built from, the table fits their
noise (its DV value is 0.85 nats at that start) and its gradient pointed nowhere.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from .checkpoint import load_pretrained
from .copula import TIES, floor_lift, is_constant, rank_transform, symmetry_maps
from .estimate import random_projections
from .interface import as_real_array, check_batch_shapes, check_finite, check_pair_shapes
from .model import InfoNet, SizeRouted, log_n_feature, splat
from .order import in_read_order, ordered_ranks, swapped
from .pairwise import symmetric_pass
from .readout import lookup
from .vector_estimate import VECTOR_MIN_SAMPLES, check_dims, load_vector_model
from .vector_model import VectorInfoNet, normal_scores

__all__ = ["soft_rank", "soft_copula", "mi", "MILoss", "DEFAULT_TEMPERATURE"]

DEFAULT_TEMPERATURE = 0.01  # comparison width in robust standard deviations; docs/notes/issue-15.md
CHUNK_ELEMENTS = 2**22  # pairwise comparisons held at once (16 MiB in float32)


# ----------------------------------------------------------------------------- soft ranks


class _SoftRank(torch.autograd.Function):
    """u_i = (1/n) sum_j sigmoid((x_i - x_j) / t) for x (B, n) and one width t (B, 1) per row, in chunks of rows i."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, t: torch.Tensor, chunk: int) -> torch.Tensor:
        B, n = x.shape
        xs = x / t  # (B, n) in units of the width: one division per sample, not per comparison
        u = torch.empty_like(x)
        for start in range(0, n, chunk):
            rows = slice(start, start + chunk)
            z = xs[:, rows, None] - xs[:, None, :]  # (B, c, n)
            u[:, rows] = torch.sigmoid_(z).sum(-1)  # in place: one buffer per chunk
        ctx.save_for_backward(x, t)
        ctx.chunk = chunk
        return u / n

    @staticmethod
    def backward(ctx, grad_u: torch.Tensor):
        x, t = ctx.saved_tensors
        B, n = x.shape
        grad_u = grad_u.contiguous()
        xs = x / t
        grad_x = torch.empty_like(x)
        grad_t = torch.zeros_like(t)
        for start in range(0, n, ctx.chunk):
            rows = slice(start, start + ctx.chunk)
            z = xs[:, rows, None] - xs[:, None, :]  # (B, c, n)
            ds = torch.sigmoid(z)
            ds.mul_(1 - ds)  # sigmoid'(z), symmetric in i and j
            # du_i/dx_k = (delta_ik sum_j ds_ij - ds_ik) / (n t), so grad_x_i = sum_j ds_ij (g_i - g_j) / (n t)
            grad_x[:, rows] = grad_u[:, rows] * ds.sum(-1) - (ds @ grad_u.unsqueeze(-1)).squeeze(-1)
            # du_i/dt = -sum_j ds_ij z_ij / (n t)
            grad_t -= (grad_u[:, rows] * ds.mul_(z).sum(-1)).sum(-1, keepdim=True)
        scale = 1 / (n * t)
        return grad_x * scale, grad_t * scale, None


def _robust_scale(x: torch.Tensor) -> torch.Tensor:
    """(B, n) -> (B, 1): IQR / 1.349 (the standard deviation of a normal), or the std where the IQR is 0."""
    q = torch.quantile(x, torch.tensor([0.25, 0.75], dtype=x.dtype, device=x.device), dim=-1)  # (2, B)
    iqr = ((q[1] - q[0]) / 1.349).unsqueeze(-1)
    std = x.std(dim=-1, keepdim=True)
    scale = torch.where(iqr > 0, iqr, std)
    # a constant row has scale 0: use 1 there, so no 0/0 reaches the gradient through either branch
    return torch.where(scale > 0, scale, torch.ones_like(scale))


def soft_rank(x: torch.Tensor, temperature: float = DEFAULT_TEMPERATURE, *, dim: int = -1) -> torch.Tensor:
    """Differentiable mid-ranks scaled to (0, 1) along ``dim``: the soft twin of ``rank_transform``.

    Each pairwise comparison's step function becomes a logistic sigmoid of width
    ``temperature`` times the sample's robust scale (IQR / 1.349, or the standard deviation when
    the IQR is 0). The result is a smoothed empirical CDF evaluated at the samples, so it is an
    increasing function of x (the copula of two soft-ranked variables is exactly theirs; only
    the margins are slightly non-uniform), invariant to affine maps of x. As the temperature
    goes to 0 it tends to ``rank_transform(x)``, ties included (a tie compares at
    sigmoid(0) = 1/2, exactly its share of a mid-rank).

    Args:
        x: (..., n) floating tensor (``dim`` selects the sample axis), on any device.
        temperature: width of the comparisons, in robust standard deviations of x (> 0).
    Returns:
        Tensor of x's shape and dtype, values in (0, 1), differentiable in x (first order).
    Raises:
        ValueError: for a non-floating or empty tensor, NaN or infinite values, or a temperature that is
            not a positive number.
    """
    if not x.is_floating_point():
        raise ValueError(f"soft_rank needs a floating tensor, got {x.dtype}")
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    moved = x.movedim(dim, -1)
    if moved.shape[-1] == 0:
        raise ValueError("soft_rank needs at least one sample")
    if not bool(torch.isfinite(moved).all()):  # a comparison with NaN or inf has no width: NaN ranks
        raise ValueError("x holds NaN or infinite values; soft ranks need finite samples")
    flat = moved.reshape(-1, moved.shape[-1]).contiguous()  # (B, n)
    flat = flat - flat.detach().median(dim=-1, keepdim=True).values  # ranks ignore a shift; x + 1e15 keeps its digits
    B, n = flat.shape
    chunk = max(1, CHUNK_ELEMENTS // max(B * n, 1))
    u = _SoftRank.apply(flat, temperature * _robust_scale(flat), chunk)
    return u.reshape(moved.shape).movedim(-1, dim)


def soft_copula(
    x: torch.Tensor,
    temperature: float = DEFAULT_TEMPERATURE,
    hard_forward: bool = False,
    ties: str = "average",
    seed: int | torch.Generator = 0,
    batch_dims: int = 1,
) -> torch.Tensor:
    """Copula samples of x (B, n) with gradients: soft ranks, or exact ranks carrying the soft ranks' gradient.

    With ``ties="random"`` tied samples are spread as :func:`infonet.copula.rank_transform` spreads
    them (a constant offset per sample, zero without ties); ``seed`` seeds that order, whose keys the
    B rows (pairs) share as the estimators' do (``batch_dims``).
    """
    u, fixed = soft_rank(x, temperature), x.detach()
    if not (hard_forward or ties == "random"):
        return u
    exact = rank_transform(fixed, ties=ties, seed=seed, batch_dims=batch_dims)
    return _with_exact(u, exact, None if hard_forward else rank_transform(fixed), hard_forward, ties)


def _with_exact(soft: torch.Tensor, exact: torch.Tensor, mid, hard_forward: bool, ties: str) -> torch.Tensor:
    """Soft ranks carrying what the exact ranks ``exact`` say: their values with the soft ranks' gradient
    (``hard_forward``), or, with ``ties="random"``, the spread of tied samples from their mid-ranks ``mid``
    (a constant offset per sample, 0 without ties)."""
    if hard_forward:
        return exact.to(soft) + (soft - soft.detach())
    if ties == "random":
        return soft + (exact - mid).to(soft)
    return soft


# ----------------------------------------------------------------------------- MI


def _check_tensor(a, name: str) -> torch.Tensor:
    """A floating tensor of a (kept on its graph); integers in float64, half precisions in float32."""
    if not isinstance(a, torch.Tensor) or a.is_complex():
        a = torch.as_tensor(as_real_array(a, name, keep_dtype=False))  # refuses complex and non-numeric input
    if not a.is_floating_point():
        a = a.double()  # int64 timestamps keep 53 bits, float32 would keep 24
    elif a.element_size() < 4:
        a = a.float()  # soft ranks in bfloat16 would round the comparisons
    check_finite(a, name)
    return a


def _check_options(temperature, symmetries: int, readout: str, ties: str = "random") -> None:
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    symmetry_maps(symmetries)  # raises for anything but 1, 2, 4, 8
    if readout not in ("mi", "dv"):
        raise ValueError(f"readout must be 'mi' or 'dv', got {readout!r}")
    if ties not in TIES:
        raise ValueError(f"ties must be 'random' or 'average', got {ties!r}")


def _resolve_model(model: InfoNet | None, device: torch.device) -> InfoNet:
    # the shipped weights are cached per device by load_pretrained, so this loads once per device
    return load_pretrained(device=device) if model is None else model


CROSSFIT_SPLITS = 1  # random halvings averaged by the low-MI gradient


def _crossfit_joint(model: InfoNet, u: torch.Tensor, v: torch.Tensor, splits: int = CROSSFIT_SPLITS) -> torch.Tensor:
    """(B,) mean critic at held-out samples: each half's table (no gradient) read at the other half's (u, v).

    Averaged over ``splits`` fixed random halvings (seeded; the noise each table fits differs between them).
    """
    n = u.shape[1]
    m = n // 2
    net = model.expert_for(m) if isinstance(model, SizeRouted) else model
    gen = torch.Generator().manual_seed(0)
    joint = 0.0
    for _ in range(splits):
        perm = torch.randperm(n, generator=gen).to(u.device)
        halves = [(u[:, perm[:m]], v[:, perm[:m]]), (u[:, perm[m : 2 * m]], v[:, perm[m : 2 * m]])]
        for (a, b), (c, d) in ((halves[0], halves[1]), (halves[1], halves[0])):
            with torch.no_grad():
                density = splat(a, b, net.cfg.grid_size).to(net.embed.weight.dtype)
                _, table = net.trunk(density, log_n_feature(m, density))
            joint = joint + lookup(table, c, d).mean(-1) / (2 * splits)
    return joint


def _network_mi(
    model: InfoNet, u: torch.Tensor, v: torch.Tensor, symmetries: int, readout: str, floor_slope: bool
) -> torch.Tensor:
    """(B,) MI of copula samples u, v (B, n) from one pass over the symmetries, carrying gradients to u and v.

    The "mi" read-out is lifted to Kendall's floor as the numpy API's estimates are
    (:func:`infonet.copula.floor_lift`); the lift carries no gradient (the slope stays the network's).
    """
    value, dv, _, _ = symmetric_pass(model, u, v, symmetries)
    if readout == "dv":
        return dv
    est = _slope(model, u, v, value, dv, floor_slope)
    return floor_lift(est, u, v)[0]


def _slope(model: InfoNet, u, v, value: torch.Tensor, dv: torch.Tensor, floor_slope: bool) -> torch.Tensor:
    """The network's estimate ``value`` (B,) with the gradient it should carry back to u and v."""
    if not (torch.is_grad_enabled() and (u.requires_grad or v.requires_grad)):
        return value
    if not value.requires_grad:
        # the calibrated estimate is cut from the inputs' graph: its value, the DV read-out's gradient
        return value + (dv - dv.detach())
    if not floor_slope:
        return value
    # the share of the slope the median's softplus floor takes away, from the cross-fitted critic
    joint = _crossfit_joint(model, u, v).float()
    return value + torch.exp(-value.detach()) * (joint - joint.detach())


def _batch_mi(x, y, model, temperature, hard_forward, symmetries, readout, ties, seed, floor_slope) -> torch.Tensor:
    """(B,) differentiable MI of validated pairs x, y (B, n)."""
    param = next(model.parameters(), None)
    device = param.device if param is not None else x.device
    dtype = param.dtype if param is not None else x.dtype
    u, v = (c[..., 0] for c in _pair_copulas(x[..., None], y[..., None], temperature, hard_forward, ties, seed))
    est = _network_mi(model, u.to(device, dtype), v.to(device, dtype), symmetries, readout, floor_slope)  # (B,)
    dead = (is_constant(x) | is_constant(y)).to(est.device)
    # a constant sequence carries no information: 0, with a zero gradient
    return torch.where(dead, torch.zeros_like(est), est).to(x.device)


def mi(
    x,
    y,
    *,
    temperature: float = DEFAULT_TEMPERATURE,
    hard_forward: bool = False,
    symmetries: int = 1,
    readout: str = "mi",
    ties: str = "random",
    floor_slope: bool = True,
    sliced: bool = False,
    num_projections: int = 64,
    seed: int = 0,
    model: InfoNet | None = None,
    vector_model: VectorInfoNet | None = None,
) -> torch.Tensor:
    """Differentiable MI in nats between paired samples, as a torch tensor.

    Args:
        x, y: tensors (n,) for one pair, (B, n) for B pairs (row b of x with row b of y),
            (B, n, dx) and (B, n, dy) for B pairs of vectors (the multivariate network; one pair
            of vectors is ``x[None], y[None]``), or, with ``sliced=True``, (n,) or (n, dx) and
            (n,) or (n, dy), paired row by row.
            Any device and real dtype (integers in float64, half precisions in float32);
            gradients flow back to both.
        temperature: width of the soft ranks' comparisons, in robust standard deviations.
        hard_forward: exact ranks in the forward pass, the soft ranks' gradient backwards
            (the value then equals the hard-rank estimate; the gradient is a surrogate).
        symmetries: average the network over the first 1, 2, 4 or 8 symmetries of the copula
            square (default 1, as in the numpy API). For optimisation prefer 2 or more: each pair
            is then read both ways round, and the estimate has no step where the order the
            samples decide (:mod:`infonet.order`) flips along the path.
        readout: "mi", the network's calibrated estimate (see the module notes for its
            gradient), or "dv", its Donsker-Varadhan read-out.
        ties: "random" (default: tied samples spread in a seeded random order, as in the numpy
            API) or "average" (stacked, as mid-ranks stack them).
        floor_slope: fill the slope that the estimate's floor at 0 takes away with the gradient
            of a cross-fitted critic (default; see the module notes), so that ascent can start
            from independence. False: the exact derivative of the value.
        sliced: sliced MI, the mean MI over ``num_projections`` seeded random projections of x and y.
        seed: seed of the projections and of the tie-break.
        model: an InfoNet (default: the shipped weights on x's device). Its parameters are not
            trained here; inputs move to its device and the result comes back to x's.
        vector_model: the multivariate InfoNet for vector pairs (default: the shipped weights).
            Vectors are soft-ranked per coordinate and turned into normal scores; ``symmetries``
            averages the multivariate network over the same maps (reversing a side negates its
            scores); ``readout`` and ``floor_slope`` concern the 1-D networks only.
    Returns:
        A 0-d tensor for one pair or sliced MI, else (B,); on x's device.
    Raises:
        ValueError: wrong shapes, mismatched lengths, fewer than 8 samples, NaN/inf, or a bad option.
    """
    x, y = _check_tensor(x, "x"), _check_tensor(y, "y")
    _check_options(temperature, symmetries, readout, ties)
    options = (temperature, hard_forward, symmetries, readout, ties, seed, floor_slope)
    if not sliced and (x.ndim >= 3 or y.ndim >= 3):
        return _vector_mi(x, y, vector_model, temperature, hard_forward, symmetries, ties, seed)
    if not sliced:  # the 1-D networks: d_x = d_y = 1
        single = x.ndim == 1
        x, y = _as_pairs(x, y)
        out = _batch_mi(x, y, _resolve_model(model, x.device), *options)
        return out[0] if single else out
    return _sliced_mi(x, y, _resolve_model(model, x.device), num_projections, seed, options)


def _sliced_mi(x, y, model: InfoNet, num_projections: int, seed: int, options: tuple) -> torch.Tensor:
    """0-d sliced MI of x (n,) or (n, dx) and y (n,) or (n, dy): the mean over seeded random projection pairs."""
    check_pair_shapes(x.shape, y.shape)
    if num_projections < 1:
        raise ValueError(f"num_projections must be >= 1, got {num_projections}")
    x, y = x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1)
    if swapped(x.detach()[None], y.detach()[None]).item():  # as infonet.estimate_mi's sliced MI: symmetric
        x, y = y, x
    theta, phi = random_projections(x.shape[1], y.shape[1], num_projections, seed)
    theta = torch.as_tensor(theta, dtype=x.dtype, device=x.device)  # (dx, P)
    phi = torch.as_tensor(phi, dtype=y.dtype, device=y.device)  # (dy, P)
    xs, ys = (x @ theta).T.contiguous(), (y @ phi).T.contiguous()  # (P, n) projected pairs
    return _batch_mi(xs, ys, model, *options).mean()


def _vector_mi(x, y, vector_model, temperature, hard_forward, symmetries, ties, seed) -> torch.Tensor:
    """(B,) differentiable MI of B pairs of vectors x (B, n, dx), y (B, n, dy), averaged over the
    first ``symmetries`` maps of their normal scores (:func:`_vector_maps`)."""
    if x.ndim != 3 or y.ndim != 3 or x.shape[:2] != y.shape[:2]:
        raise ValueError(
            f"x and y must have shape (B, n, dx) and (B, n, dy); got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    check_batch_shapes(x.shape[:2], y.shape[:2], min_samples=VECTOR_MIN_SAMPLES)
    check_dims(x.shape[2], y.shape[2])
    net = load_vector_model(device=x.device) if vector_model is None else vector_model
    param = next(net.parameters())
    u, v = _pair_copulas(x, y, temperature, hard_forward, ties, seed)
    zx, zy = normal_scores(u.to(param.device, param.dtype)), normal_scores(v.to(param.device, param.dtype))
    reads = [net(a, b).mi for a, b in _vector_maps(zx, zy, symmetries)]
    return torch.stack(reads).mean(0).to(x.device)


def _vector_maps(zx: torch.Tensor, zy: torch.Tensor, symmetries: int):
    """The first ``symmetries`` maps of the copula's symmetries (:data:`infonet.copula.SYMMETRIES`: swap the
    sides, then reverse the first, the second) on normal scores, where reversing a side negates it.

    The MI is the same under each; the network only up to its training. Two maps read a pair both ways
    round: the estimate of an optimisation path then has no step where the order the samples decide
    flips (:mod:`infonet.order`).
    """
    for swap, reverse_first, reverse_second in symmetry_maps(symmetries):
        a, b = (zy, zx) if swap else (zx, zy)
        yield (-a if reverse_first else a), (-b if reverse_second else b)


def _pair_copulas(x, y, temperature, hard_forward: bool, ties: str, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Copula samples of B pairs, x (B, n, dx) and y (B, n, dy), with gradients: soft ranks of each
    coordinate along n (or exact ranks carrying their gradient), each pair's sides in the order the
    estimators read them and its ties broken as theirs (:func:`infonet.order.ordered_ranks`).

    The sides are put in order after the soft ranks, so a side that needs no gradient gets none.
    """
    hard = ordered_ranks(x.detach(), y.detach(), ties=ties, seed=seed)
    first, second = in_read_order(soft_rank(x, temperature, dim=1), soft_rank(y, temperature, dim=1), hard.swap)
    return (
        _with_exact(first, hard.first, hard.mid_first, hard_forward, ties),
        _with_exact(second, hard.second, hard.mid_second, hard_forward, ties),
    )


def _as_pairs(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x, y (n,) or (B, n), the same shape -> (B, n) each (the checks of the numpy API's batches)."""
    if x.ndim not in (1, 2) or y.ndim not in (1, 2):
        raise ValueError(
            f"x and y must have shape (n,), (B, n) or (B, n, d) (for sliced MI of (n, d) pass sliced=True); "
            f"got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape; got {tuple(x.shape)} and {tuple(y.shape)}")
    x, y = x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1])
    check_batch_shapes(x.shape, y.shape)
    return x, y


class MILoss(nn.Module):
    """The frozen estimator as a loss term: ``MILoss()(x, y)`` is a differentiable MI in nats.

    Minimise it to make x and y independent (a regulariser), or minimise its negative to make
    them informative. The estimator's weights are not parameters of this module: they are never
    trained, moved or saved with it (``state_dict`` is empty); the shipped weights are loaded
    on the device of the inputs at the first call, once per device.

    Args:
        model: an InfoNet to use instead (kept as given; inputs move to its device).
        weights: a checkpoint path to load instead of the shipped weights.
        reduction: "mean" or "sum" over pairs, or "none" for the (B,) estimates.
        **options: passed to :func:`mi` (temperature, hard_forward, symmetries, readout, ties,
            floor_slope, sliced, num_projections, seed).
    """

    def __init__(self, model: InfoNet | None = None, weights: str | None = None, reduction: str = "mean", **options):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        unknown = set(options) - {
            "temperature",
            "hard_forward",
            "symmetries",
            "readout",
            "ties",
            "floor_slope",
            "sliced",
            "num_projections",
            "seed",
        }
        if unknown:
            raise ValueError(f"unknown MILoss options: {sorted(unknown)}")
        _check_options(
            options.get("temperature", DEFAULT_TEMPERATURE),
            options.get("symmetries", 1),
            options.get("readout", "mi"),
            options.get("ties", "random"),
        )
        self._estimator = (model,)  # a tuple, so nn.Module does not register (and train or move) it
        self.weights, self.reduction, self.options = weights, reduction, options

    def estimator(self, device) -> InfoNet:
        """The frozen InfoNet used for inputs on ``device``."""
        if self._estimator[0] is not None:
            return self._estimator[0]
        return load_pretrained(self.weights, device=device)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x, y as for :func:`mi`; returns a 0-d tensor (or (B,) with ``reduction="none"``)."""
        device = x.device if isinstance(x, torch.Tensor) else torch.device("cpu")
        out = mi(x, y, model=self.estimator(device), **self.options)
        if self.reduction == "none" or out.ndim == 0:
            return out
        return out.mean() if self.reduction == "mean" else out.sum()

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, options={self.options}"
