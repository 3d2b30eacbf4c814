"""The training prior: the distributions InfoNet learns from, each with its true MI, batched in torch.

Shapes: B sequences, n samples.

A batch mixes four kinds of joint distributions of (X, Y), drawn afresh at every step:

- the paper's random 2-D Gaussian mixtures (:func:`infonet.mixtures.flat_mixtures`, resampled
  towards a flat MI histogram; MI from Monte Carlo with exact densities). Computing that truth
  costs more than the network's step on a CPU, so by default the mixtures come from a
  :class:`MixtureBank`: ``bank_size`` mixtures drawn once from the seed, with their MI from
  ``bank_mc_samples`` samples (more accurate than a per-step truth), from which every step draws
  fresh samples. ``bank_size=0`` draws fresh mixtures at every step;
- exactly independent pairs (MI = 0): a mixture sample whose y is shuffled within the sequence.
  Without a point mass at 0 a regression trained on a flat MI histogram reads dependence into
  independent data at small n (the prior says "some MI" where the data cannot say "none");
- bivariate Student-t copulas (tail dependence; nonzero MI even at rho = 0), exact MI;
- additive noise, Y = X + U(-eps, eps) with X ~ U(0, 1) (a sharp-edged copula), exact MI.

Only the copula of (X, Y) reaches the network, so these cover the Gaussian-copula families
(normal, half-cube, asinh, ...), heavy tails and bounded noise without listing marginal maps.
All randomness comes from an explicit ``torch.Generator``, on its device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .mixtures import MixtureBatch, flat_mixtures, mixture_mi, random_mixtures, sample_training_batch

__all__ = [
    "PriorConfig",
    "MixtureBank",
    "sample_prior_batch",
    "student_t_batch",
    "additive_noise_batch",
    "student_t_mi",
]

MAX_DOF = 30  # Student-t degrees of freedom are drawn from 1..MAX_DOF (integers: a chi-square is a sum of squares)
MAX_GAUSSIAN_MI = 2.5  # the Gaussian part of a Student-t pair's MI is uniform in [0, this]
NOISE_WIDTHS = (0.02, 4.0)  # additive noise half-widths, log-uniform: MI from about 3.3 down to 0.06 nats


@dataclass
class PriorConfig:
    independent: float = 0.15  # share of exactly independent pairs
    student_t: float = 0.15  # share of Student-t copulas
    additive: float = 0.10  # share of additive-noise pairs
    max_components: int = 20  # mixtures have K ~ U{1..max_components}
    flatten: bool = True  # mixtures resampled towards a flat MI histogram
    mc_samples: int = 2048  # Monte-Carlo samples of a mixture's MI, drawn per step (bank_size = 0)
    bank_size: int = 8192  # mixtures in the bank (0: fresh mixtures every step)
    bank_mc_samples: int = 2048  # Monte-Carlo samples of each banked mixture's MI

    def __post_init__(self):
        shares = (self.independent, self.student_t, self.additive)
        if min(shares) < 0 or sum(shares) > 1:
            raise ValueError(f"prior shares must be >= 0 and sum to at most 1, got {shares}")
        if self.bank_size < 0 or self.max_components < 1 or min(self.mc_samples, self.bank_mc_samples) < 64:
            raise ValueError("prior: bank_size must be >= 0, max_components >= 1, Monte-Carlo samples >= 64")


BANK_CHUNK = 256  # mixtures per build step of a bank


class MixtureBank:
    """A fixed set of random mixtures with their true MI, computed once; batches are fresh samples of them.

    Built deterministically from ``seed`` (so a resumed run rebuilds the same bank), on ``device``.
    """

    def __init__(self, cfg: PriorConfig, seed: int, device: torch.device):
        g = torch.Generator(device).manual_seed(seed)
        parts, truth = [], []
        for start in range(0, cfg.bank_size, BANK_CHUNK):
            size = min(BANK_CHUNK, cfg.bank_size - start)
            comps = (1, cfg.max_components)
            if cfg.flatten:
                mix = flat_mixtures(size, g, num_components=comps)
            else:
                mix = random_mixtures(size, 2, g, num_components=comps, dtype=torch.float32)
            mi, _ = mixture_mi(mix, [0], [1], g, num_samples=cfg.bank_mc_samples, chunk=cfg.bank_mc_samples)
            parts.append(mix)
            truth.append(mi.float())
        self.mixtures = MixtureBatch(
            *(torch.cat([getattr(p, f) for p in parts]) for f in ("log_weights", "means", "covs"))
        )
        self.mi = torch.cat(truth)  # (S,)

    def sample(self, batch: int, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``batch`` banked mixtures drawn at random, n fresh samples each: x, y (B, n) and MI (B,)."""
        rows = torch.randint(len(self.mi), (batch,), generator=g, device=g.device)
        xy = self.mixtures.select(rows).sample(n, g)
        return xy[..., 0].float(), xy[..., 1].float(), self.mi[rows]


def _t_shift(a: torch.Tensor) -> torch.Tensor:
    return torch.lgamma(a / 2) - a / 2 * torch.digamma(a / 2)


def student_t_mi(rho: torch.Tensor, dof: torch.Tensor) -> torch.Tensor:
    """Exact MI of a bivariate Student-t: -1/2 log(1 - rho^2) + f(nu) + f(nu + 2) - 2 f(nu + 1)."""
    return -0.5 * torch.log1p(-rho * rho) + _t_shift(dof) + _t_shift(dof + 2) - 2 * _t_shift(dof + 1)


def student_t_batch(batch: int, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Bivariate Student-t pairs with random correlation and integer dof: x, y (B, n) and MI (B,)."""
    dev = g.device
    gauss_mi = torch.rand(batch, generator=g, device=dev, dtype=torch.float64) * MAX_GAUSSIAN_MI
    sign = torch.where(torch.rand(batch, generator=g, device=dev) < 0.5, -1.0, 1.0).double()
    rho = sign * torch.sqrt(-torch.expm1(-2 * gauss_mi))
    dof = torch.randint(1, MAX_DOF + 1, (batch,), generator=g, device=dev)
    z = torch.randn(2, batch, n, generator=g, device=dev)
    r = rho.float().unsqueeze(-1)
    x, y = z[0], r * z[0] + torch.sqrt(1 - r * r) * z[1]
    squares = torch.randn(batch, n, MAX_DOF, generator=g, device=dev).square()
    used = torch.arange(MAX_DOF, device=dev) < dof.view(-1, 1, 1)
    scale = torch.rsqrt((squares * used).sum(-1) / dof.unsqueeze(-1))  # sqrt(nu / chi2_nu), shared by x and y
    return x * scale, y * scale, student_t_mi(rho, dof.double()).float()


def additive_noise_batch(batch: int, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """X ~ U(0, 1), Y = X + U(-eps, eps), eps log-uniform: x, y (B, n) and the exact MI (B,)."""
    dev = g.device
    lo, hi = math.log(NOISE_WIDTHS[0]), math.log(NOISE_WIDTHS[1])
    eps = torch.exp(lo + (hi - lo) * torch.rand(batch, generator=g, device=dev, dtype=torch.float64))
    mi = torch.where(eps <= 0.5, eps - torch.log(2 * eps), 1 / (4 * eps))
    x = torch.rand(batch, n, generator=g, device=dev)
    y = x + (torch.rand(batch, n, generator=g, device=dev) * 2 - 1) * eps.float().unsqueeze(-1)
    return x, y, mi.float()


def _shuffle_rows(y: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    order = torch.rand(y.shape, generator=g, device=y.device).argsort(dim=-1)
    return y.gather(-1, order)


@torch.no_grad()
def sample_prior_batch(
    batch: int, n: int, g: torch.Generator, cfg: PriorConfig | None = None, bank: MixtureBank | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A training batch from the prior: x, y (B, n) float32 samples and their true MI (B,), shuffled.

    The counts of each kind are the shares of ``cfg`` rounded down; the rest are mixtures, from
    ``bank`` when given, else fresh ones.
    """
    cfg = cfg or PriorConfig()
    n_ind, n_t, n_add = (int(share * batch) for share in (cfg.independent, cfg.student_t, cfg.additive))
    n_mix = batch - n_t - n_add  # independent pairs are shuffled mixtures
    if bank is not None:
        x, y, mi = bank.sample(n_mix, n, g)
    else:
        x, y, mi = sample_training_batch(
            n_mix, n, g, num_components=(1, cfg.max_components), mc_samples=cfg.mc_samples, flatten=cfg.flatten
        )
    if n_ind:
        y = torch.cat([_shuffle_rows(y[:n_ind], g), y[n_ind:]])
        mi = torch.cat([torch.zeros_like(mi[:n_ind]), mi[n_ind:]])
    parts = [(x, y, mi)]
    if n_t:
        parts.append(student_t_batch(n_t, n, g))
    if n_add:
        parts.append(additive_noise_batch(n_add, n, g))
    x, y, mi = (torch.cat(t) for t in zip(*parts, strict=True))
    order = torch.randperm(batch, generator=g, device=g.device)
    return x[order], y[order], mi[order]
