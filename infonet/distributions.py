"""Named 1-D pair distributions with known mutual information (the paper's appendix families).

Each constructor returns a :class:`Distribution` whose ``mi`` is exact (closed form, or one
integral to machine precision for ``additive_laplace``) and whose
``sample(n, seed)`` draws n paired samples with an explicit seed. MI is invariant to strictly
monotone maps of each variable, so the half-cube and asinh families share the Gaussian's MI
while reshaping its marginals; the copula transform inside InfoNet should make them equivalent.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

__all__ = [
    "Distribution",
    "gaussian",
    "half_cube",
    "asinh",
    "additive_uniform",
    "additive_laplace",
    "student_t",
    "wiggly",
    "bimodal",
    "gaussian_mi",
]

Sampler = Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Distribution:
    """A pair distribution with exact MI (nats)."""

    name: str
    mi: float
    sampler: Sampler

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Draws n pairs. Returns x, y of shape (n,)."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        return self.sampler(n, np.random.default_rng(seed))


def gaussian_mi(rho: float) -> float:
    """MI of a bivariate normal with correlation rho: -1/2 log(1 - rho^2)."""
    return -0.5 * math.log1p(-rho * rho)


def _check_rho(rho: float) -> None:
    if not -1.0 < rho < 1.0:
        raise ValueError(f"correlation must lie in (-1, 1), got {rho}")


def _correlated_normals(rho: float) -> Sampler:
    def draw(n: int, rng: np.random.Generator):
        z = rng.standard_normal((2, n))
        return z[0], rho * z[0] + math.sqrt(1 - rho * rho) * z[1]

    return draw


def _mapped(name: str, rho: float, fn: Callable[[np.ndarray], np.ndarray]) -> Distribution:
    _check_rho(rho)
    draw = _correlated_normals(rho)

    def mapped(n: int, rng: np.random.Generator):
        x, y = draw(n, rng)
        return fn(x), fn(y)

    return Distribution(name, gaussian_mi(rho), mapped)


def gaussian(rho: float) -> Distribution:
    """Bivariate standard normal with correlation rho."""
    _check_rho(rho)
    return Distribution(f"gaussian(rho={rho:g})", gaussian_mi(rho), _correlated_normals(rho))


def half_cube(rho: float) -> Distribution:
    """The Gaussian pushed through t -> sign(t) |t|^(3/2) on both axes (heavier tails)."""
    return _mapped(f"half_cube(rho={rho:g})", rho, lambda t: np.sign(t) * np.abs(t) ** 1.5)


def asinh(rho: float) -> Distribution:
    """The Gaussian pushed through asinh on both axes (lighter tails)."""
    return _mapped(f"asinh(rho={rho:g})", rho, np.arcsinh)


def wiggly(rho: float) -> Distribution:
    """The Gaussian pushed through the increasing wiggle t -> t + 0.4 sin(2 t) on both axes."""
    return _mapped(f"wiggly(rho={rho:g})", rho, lambda t: t + 0.4 * np.sin(2 * t))


def _to_bimodal(t: np.ndarray) -> np.ndarray:
    """The increasing map taking N(0, 1) to the mixture 1/2 N(-1.5, 0.5^2) + 1/2 N(1.5, 0.5^2)."""
    z = np.linspace(-5.0, 5.0, 4001)
    cdf = 0.5 * (special.ndtr((z + 1.5) / 0.5) + special.ndtr((z - 1.5) / 0.5))
    return np.interp(special.ndtr(t), cdf, z)


def bimodal(rho: float) -> Distribution:
    """The Gaussian with bimodal marginals (each pushed through an increasing map to a two-peak mixture)."""
    return _mapped(f"bimodal(rho={rho:g})", rho, _to_bimodal)


def additive_uniform(eps: float) -> Distribution:
    """X ~ U(0, 1), Y = X + N with N ~ U(-eps, eps).

    I(X; Y) = eps - log(2 eps) for eps <= 1/2, and 1 / (4 eps) otherwise.
    """
    if eps <= 0:
        raise ValueError(f"noise half-width must be > 0, got {eps}")
    mi = eps - math.log(2 * eps) if eps <= 0.5 else 1 / (4 * eps)

    def draw(n: int, rng: np.random.Generator):
        x = rng.uniform(0.0, 1.0, n)
        return x, x + rng.uniform(-eps, eps, n)

    return Distribution(f"additive_uniform(eps={eps:g})", mi, draw)


def additive_laplace(scale: float) -> Distribution:
    """X ~ U(0, 1), Y = X + N with N ~ Laplace(0, scale): noise with heavier tails than ``additive_uniform``'s.

    I = h(Y) - h(N), h(N) = 1 + log(2 scale). Y's density is g(y) = 1 - e^(-y/b)/2 - e^(-(1-y)/b)/2 on
    [0, 1] and c e^(-d/b) at a distance d outside it, c = (1 - e^(-1/b)) / 2: the two tails give
    -2 c b (log c - 1) in closed form, [0, 1] is one integral (scipy's quad, symmetric about 1/2).
    """
    if not 0 < scale <= 10:
        raise ValueError(f"noise scale must be in (0, 10], got {scale}")
    from scipy import integrate

    b = scale
    c = -math.expm1(-1 / b) / 2
    g = lambda y: 1 - (math.exp(-y / b) + math.exp(-(1 - y) / b)) / 2  # noqa: E731
    inner, _ = integrate.quad(lambda y: g(y) * math.log(g(y)), 0, 0.5, points=[min(b, 0.25)], limit=200, epsabs=1e-13)
    h_y = -2 * inner - 2 * c * b * (math.log(c) - 1)
    mi = h_y - (1 + math.log(2 * b))

    def draw(n: int, rng: np.random.Generator):
        x = rng.uniform(0.0, 1.0, n)
        return x, x + rng.laplace(0.0, b, n)

    return Distribution(f"additive_laplace(scale={scale:g})", float(mi), draw)


def _t_shift(nu: float) -> float:
    return special.gammaln(nu / 2) - nu / 2 * special.digamma(nu / 2)


def student_t(rho: float, dof: float) -> Distribution:
    """Bivariate Student-t with correlation parameter rho and dof degrees of freedom.

    I = -1/2 log(1 - rho^2) + f(nu) + f(nu + 2) - 2 f(nu + 1), f(a) = log G(a/2) - a/2 psi(a/2):
    the Gaussian part plus the dependence the shared chi-square scale adds (nonzero at rho = 0).
    """
    _check_rho(rho)
    if dof <= 0:
        raise ValueError(f"degrees of freedom must be > 0, got {dof}")
    mi = gaussian_mi(rho) + _t_shift(dof) + _t_shift(dof + 2) - 2 * _t_shift(dof + 1)
    normals = _correlated_normals(rho)

    def draw(n: int, rng: np.random.Generator):
        x, y = normals(n, rng)
        scale = np.sqrt(dof / rng.chisquare(dof, n))
        return x * scale, y * scale

    return Distribution(f"student_t(rho={rho:g}, dof={dof:g})", float(mi), draw)
