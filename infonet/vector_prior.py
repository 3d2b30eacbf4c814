"""The multivariate training prior: X (n, dx) and Y (n, dy) with their exact MI, batched in torch.

Shapes: B sequences, n samples, dx / dy dimensions of the two sides, k = min(dx, dy).

MI is unchanged by invertible maps of X and of Y separately, so every family starts from a base
distribution whose MI is known and pushes each side through random invertible maps:

- **Gaussian**: canonical correlations rho_1..rho_k whose total MI -1/2 sum log(1 - rho_i^2) is
  uniform in [0, MAX_MI], spread over the pairs by a Dirichlet with a random concentration (many
  equal pairs: dense; a few: sparse; one: low rank);
- **Student-t**: that Gaussian divided by one shared sqrt(chi2_nu / nu) per sample, with
  MI = Gaussian part + f(nu) + f(nu + dx + dy) - f(nu + dx) - f(nu + dy), f(a) = lgamma(a/2) -
  a/2 digamma(a/2) (the entropy of the multivariate t; Arellano-Valle et al. 2013): nonzero even
  when every correlation is 0, as it is for ``T_UNCORRELATED`` of them (all their MI is the shared
  scale, which the Gaussian-copula formula reads as 0);
- **Gaussian mixtures** (dx, dy <= MIXTURE_MAX_DIM): a :class:`VectorMixtureBank` drawn once, with
  Monte-Carlo truth;
- **exactly independent pairs**: any of these with Y shuffled within the sequence (MI = 0). Without
  a real share of them a regression reads dependence into independent data at small n.

Each side is then mixed by a random invertible linear map, and with some probability bent by a
spiral (a rotation whose angle grows with the radius, in a random plane) and by an additive coupling
layer (half the coordinates shifted by a smooth function of the other half). Coordinate-wise monotone
maps (half-cube, asinh, the normal CDF) are not drawn: the network reads per-coordinate ranks, which
they do not change. None of the BMI benchmark's fixed task parameters is used: every correlation,
speed and map is random.

All randomness comes from an explicit ``torch.Generator``, on its device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .mixtures import mixture_mi, random_mixtures

__all__ = [
    "VectorPriorConfig",
    "VectorMixtureBank",
    "sample_vector_batch",
    "student_t_excess_mi",
    "gaussian_canonical",
    "FAMILIES",
]

MAX_DIM = 32  # dimensions per side the estimator answers
MAX_MI = 4.0  # nats: the prior's largest true MI
MIXTURE_MAX_DIM = 5  # mixtures are drawn for dx, dy <= this (their Monte-Carlo truth is costly beyond)
MAX_DOF = 20  # Student-t degrees of freedom are integers in 1..MAX_DOF
T_UNCORRELATED = 0.4  # share of Student-t pairs with no correlation at all: all their MI is the shared scale
FAMILIES = ("gaussian", "student_t", "mixture", "independent")  # family codes 0..3 of a batch


@dataclass
class VectorPriorConfig:
    independent: float = 0.15  # share of exactly independent pairs
    student_t: float = 0.15  # share of Student-t pairs
    mixture: float = 0.1  # share of Gaussian mixtures (where dx, dy <= MIXTURE_MAX_DIM)
    linear_mix: float = 0.75  # probability that a side is mixed by a random linear map
    spiral: float = 0.08  # probability that a side (d >= 2) is bent by a spiral
    spiral_speed: float = 1.0  # the largest spiral speed (log-uniform in [0.05, this]; radians at the mean radius)
    coupling: float = 0.05  # probability that a side (d >= 2) goes through a coupling layer
    bank_per_dims: int = 96  # mixtures per (dx, dy) in the bank
    bank_mc_samples: int = 2048  # Monte-Carlo samples of each banked mixture's MI
    mixture_noise: float = 4.0  # the isotropic noise added to a banked mixture is log-uniform in [0.01, this]

    def __post_init__(self):
        shares = (self.independent, self.student_t, self.mixture)
        if min(shares) < 0 or sum(shares) > 1:
            raise ValueError(f"prior shares must be >= 0 and sum to at most 1, got {shares}")
        if not 0.05 <= self.spiral_speed <= 20:
            raise ValueError(f"spiral_speed must be in [0.05, 20], got {self.spiral_speed}")
        for name in ("linear_mix", "spiral", "coupling"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1], got {getattr(self, name)}")
        if self.bank_per_dims < 0 or self.bank_mc_samples < 64:
            raise ValueError("bank_per_dims must be >= 0 and bank_mc_samples >= 64")
        if not 0.01 < self.mixture_noise <= 100:
            raise ValueError(f"mixture_noise must be in (0.01, 100], got {self.mixture_noise}")


def _uniform(shape, g: torch.Generator, lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=g, device=g.device)


# ----------------------------------------------------------------------------- base distributions


def _t_shift(a: torch.Tensor) -> torch.Tensor:
    return torch.lgamma(a / 2) - a / 2 * torch.digamma(a / 2)


def student_t_excess_mi(dof: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """The MI a shared chi-square scale adds to a Gaussian's: f(nu) + f(nu+dx+dy) - f(nu+dx) - f(nu+dy)."""
    dof = dof.double()
    return _t_shift(dof) + _t_shift(dof + dx + dy) - _t_shift(dof + dx) - _t_shift(dof + dy)


def canonical_correlations(batch: int, k: int, g: torch.Generator, max_mi: float = MAX_MI) -> torch.Tensor:
    """(B, k) canonical correlations with total Gaussian MI uniform in [0, max_mi], dense to sparse."""
    total = _uniform(batch, g, 0.0, max_mi).double()
    concentration = torch.exp(_uniform((batch, 1), g, math.log(0.05), math.log(5.0))).double()
    share = torch._standard_gamma(concentration.expand(batch, k).contiguous(), generator=g).clamp_min(
        1e-12
    )  # Dirichlet
    share = share / share.sum(-1, keepdim=True)
    per_pair = total.unsqueeze(-1) * share  # -1/2 log(1 - rho^2) for each pair
    sign = torch.where(torch.rand(batch, k, generator=g, device=g.device) < 0.5, -1.0, 1.0).double()
    return sign * torch.sqrt(-torch.expm1(-2 * per_pair))


def gaussian_canonical(rho: torch.Tensor, n: int, dx: int, dy: int, g: torch.Generator):
    """Standard normal X (B, n, dx), Y (B, n, dy) whose first k coordinates pair up with correlations ``rho``
    (B, k), the rest independent; returns x, y and the exact MI (B,)."""
    B, k = rho.shape
    x = torch.randn(B, n, dx, generator=g, device=g.device)
    noise = torch.randn(B, n, dy, generator=g, device=g.device)
    r = rho.float().unsqueeze(1)  # (B, 1, k)
    y = noise.clone()
    y[..., :k] = r * x[..., :k] + torch.sqrt(1 - r * r) * noise[..., :k]
    return x, y, -0.5 * torch.log1p(-rho.square()).sum(-1)


def _shared_t_scale(batch: int, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, n, 1) factors sqrt(nu / chi2_nu), one per sample, and the integer dof (B,)."""
    dof = torch.randint(1, MAX_DOF + 1, (batch,), generator=g, device=g.device)
    squares = torch.randn(batch, n, MAX_DOF, generator=g, device=g.device).square()
    used = torch.arange(MAX_DOF, device=g.device) < dof.view(-1, 1, 1)
    return torch.rsqrt((squares * used).sum(-1, keepdim=True) / dof.view(-1, 1, 1)), dof


class VectorMixtureBank:
    """Random Gaussian mixtures on dx + dy coordinates for every dx, dy <= MIXTURE_MAX_DIM, with
    Monte-Carlo MI, drawn once from ``seed``; batches are fresh samples of them.

    The recipe is the InfoNet paper's (K ~ U{1..8}, Dirichlet weights, means uniform in a random
    box, covariances A A^T plus a random multiple of I), kept where the MI is at most MAX_MI.
    """

    def __init__(self, cfg: VectorPriorConfig, seed: int, device: torch.device):
        g = torch.Generator(device).manual_seed(seed)
        self.banks: dict[tuple[int, int], tuple] = {}
        for dx in range(1, MIXTURE_MAX_DIM + 1):
            for dy in range(1, MIXTURE_MAX_DIM + 1):
                if cfg.bank_per_dims == 0 or dx == dy == 1:
                    continue
                pool = random_mixtures(
                    2 * cfg.bank_per_dims,
                    dx + dy,
                    g,
                    num_components=(1, 8),
                    mean_range=float(_uniform((), g, 1.0, 6.0)),
                    dtype=torch.float32,
                )
                # extra isotropic noise per mixture spreads the MI down from the recipe's 2-4 nats in 10-D
                high = math.log(cfg.mixture_noise)
                noise = torch.exp(_uniform((len(pool.covs), 1, 1, 1), g, math.log(0.01), high))
                pool.covs = pool.covs + noise * torch.eye(dx + dy, device=device)
                mi, _ = mixture_mi(pool, range(dx), range(dx, dx + dy), g, num_samples=cfg.bank_mc_samples, chunk=512)
                keep = torch.nonzero(mi <= MAX_MI).squeeze(-1)[: cfg.bank_per_dims]
                self.banks[(dx, dy)] = (pool.select(keep), mi[keep].float())

    def has(self, dx: int, dy: int) -> bool:
        return (dx, dy) in self.banks and len(self.banks[(dx, dy)][1]) > 0

    def sample(self, batch: int, n: int, dx: int, dy: int, g: torch.Generator):
        """x (B, n, dx), y (B, n, dy) from ``batch`` banked mixtures drawn at random, and their MI (B,)."""
        mixtures, mi = self.banks[(dx, dy)]
        rows = torch.randint(len(mi), (batch,), generator=g, device=g.device)
        xy = mixtures.select(rows).sample(n, g).float()
        return xy[..., :dx], xy[..., dx:], mi[rows]


# ----------------------------------------------------------------------------- invertible maps


def _random_linear(batch: int, d: int, g: torch.Generator) -> torch.Tensor:
    """(B, d, d) random invertible maps: a Gaussian matrix, well away from singular."""
    a = torch.randn(batch, d, d, generator=g, device=g.device) / math.sqrt(d)
    return a + 0.3 * torch.eye(d, device=g.device) * torch.sign(torch.linalg.det(a)).view(-1, 1, 1)


def _random_planes(batch: int, d: int, g: torch.Generator) -> torch.Tensor:
    """(B, d, 2) orthonormal pairs of directions."""
    q, _ = torch.linalg.qr(torch.randn(batch, d, 2, generator=g, device=g.device))
    return q


def spiral(z: torch.Tensor, g: torch.Generator, max_speed: float = 1.0) -> torch.Tensor:
    """Rotates each sample of z (B, n, d) in a random plane by an angle proportional to its squared
    radius (a random speed per sequence, log-uniform in [0.05, max_speed]: the angle in radians at the
    mean radius): invertible, since the rotation keeps the radius."""
    B, n, d = z.shape
    plane = _random_planes(B, d, g)  # (B, d, 2)
    speed = torch.exp(_uniform((B, 1), g, math.log(0.05), math.log(max_speed)))
    z = z / z.square().mean((1, 2), keepdim=True).sqrt().clamp_min(1e-6)  # unit scale per sequence
    angle = speed * z.square().sum(-1) / d  # (B, n)
    coords = z @ plane  # (B, n, 2)
    c, s = torch.cos(angle), torch.sin(angle)
    turned = torch.stack([c * coords[..., 0] - s * coords[..., 1], s * coords[..., 0] + c * coords[..., 1]], -1)
    return z + (turned - coords) @ plane.transpose(1, 2)


def coupling(z: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """An additive coupling layer: the second half of a random split shifted by a smooth random
    function of the first half (invertible: subtract the same shift)."""
    B, n, d = z.shape
    z = z / z.square().mean((1, 2), keepdim=True).sqrt().clamp_min(1e-6)
    perm = torch.randperm(d, generator=g, device=g.device)
    first, second = perm[: d // 2], perm[d // 2 :]
    w = torch.randn(B, len(first), len(second), generator=g, device=g.device) / math.sqrt(len(first))
    b = torch.randn(B, 1, len(second), generator=g, device=g.device)
    amp = _uniform((B, 1, 1), g, 0.2, 1.0)
    out = z.clone()
    out[..., second] = z[..., second] + amp * torch.sin(z[..., first] @ w + b)
    return out


def _bend(z: torch.Tensor, g: torch.Generator, cfg: VectorPriorConfig) -> torch.Tensor:
    """A side's random invertible maps: linear mixing, then a spiral and a coupling layer, each per sequence."""
    B, n, d = z.shape
    pick = lambda p: (torch.rand(B, 1, 1, generator=g, device=g.device) < p).float()  # noqa: E731
    z = torch.where(pick(cfg.linear_mix) > 0, z @ _random_linear(B, d, g), z)
    if d >= 2:
        z = torch.where(pick(cfg.spiral) > 0, spiral(z, g, cfg.spiral_speed), z)
        z = torch.where(pick(cfg.coupling) > 0, coupling(z, g), z)
    return z


# ----------------------------------------------------------------------------- the batch


@torch.no_grad()
def sample_vector_batch(
    batch: int,
    n: int,
    dx: int,
    dy: int,
    g: torch.Generator,
    cfg: VectorPriorConfig | None = None,
    bank: VectorMixtureBank | None = None,
):
    """A training batch: x (B, n, dx), y (B, n, dy) float32, true MI (B,) float32 and family codes (B,)
    (indices into :data:`FAMILIES`), in random order.

    The counts of each family are the shares of ``cfg`` rounded down (mixtures only where the bank
    has the dimensions); the rest are Gaussians.
    """
    cfg = cfg or VectorPriorConfig()
    k = min(dx, dy)
    n_ind = int(cfg.independent * batch)
    n_t = int(cfg.student_t * batch)
    n_mix = int(cfg.mixture * batch) if bank is not None and bank.has(dx, dy) else 0
    n_gauss = batch - n_t - n_mix
    rho = canonical_correlations(n_gauss + n_t, k, g)
    uncorrelated = torch.rand(n_t, 1, generator=g, device=g.device) < T_UNCORRELATED
    rho[n_gauss:] = torch.where(uncorrelated, torch.zeros_like(rho[n_gauss:]), rho[n_gauss:])
    x, y, mi = gaussian_canonical(rho, n, dx, dy, g)
    scale, dof = _shared_t_scale(n_t, n, g)
    x[n_gauss:], y[n_gauss:] = x[n_gauss:] * scale, y[n_gauss:] * scale
    mi = mi.clone()
    mi[n_gauss:] += student_t_excess_mi(dof, dx, dy)
    family = torch.cat([torch.zeros(n_gauss), torch.ones(n_t)]).long().to(g.device)
    if n_mix:
        xm, ym, mim = bank.sample(n_mix, n, dx, dy, g)
        x, y, mi = torch.cat([x, xm]), torch.cat([y, ym]), torch.cat([mi.float(), mim])
        family = torch.cat([family, torch.full((n_mix,), 2, device=g.device)])
    mi, family = mi.float(), family.clone()
    if n_ind:  # shuffle y within the first sequences of every family
        rows = torch.randperm(batch, generator=g, device=g.device)[:n_ind]
        order = torch.rand(n_ind, n, generator=g, device=g.device).argsort(-1)
        y[rows] = torch.gather(y[rows], 1, order.unsqueeze(-1).expand(-1, -1, dy))
        mi[rows], family[rows] = 0.0, 3
    x, y = _bend(x, g, cfg), _bend(y, g, cfg)
    order = torch.randperm(batch, generator=g, device=g.device)
    return x[order].float(), y[order].float(), mi[order], family[order]
