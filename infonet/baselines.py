"""Classical MI estimators, with the call shape of ``infonet.estimate_mi``: ``fn(x, y) -> float``.

x: (n,) or (n, dx), y: (n,) or (n, dy); all return nats and raise ``ValueError`` on bad input.

- ``ksg``: Kraskov-Stoegbauer-Grassberger, algorithm 1 (k nearest neighbours, max-norm).
  Unlike scikit-learn's ``mutual_info_regression`` it does not clip negative values to 0,
  so its bias can be measured. Tied values put many points at distance 0, where the neighbour
  counts break down (independent bools gave -4.6 nats), so a coordinate whose values repeat is
  replaced by its ranks with ties broken in a seeded random order, as InfoNet does
  (:func:`infonet.copula.rank_transform`); coordinates without ties are used as they are.
- ``kde``: resubstitution estimate with Gaussian kernel densities (scipy, Scott's bandwidth).
- ``mine``: MINE (Belghazi et al. 2018), a critic network trained on this one sample.
- ``gaussian``: -1/2 log(1 - rho^2) from the correlation of normal scores (exact for any
  Gaussian copula; in d dimensions, the Gaussian MI of the normal-score correlation matrix).
- ``pearson``: the same formula on the raw values (plain Pearson correlation).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import special
from scipy.spatial import cKDTree

from .copula import rank_transform, rank_transform_np
from .interface import FunctionEstimator, check_batch, check_pair

__all__ = [
    "ksg",
    "kde",
    "mine",
    "gaussian",
    "pearson",
    "GaussianEstimator",
    "PearsonEstimator",
    "KSGEstimator",
    "ksg_sklearn",
    "SklearnKSGEstimator",
]


def _standardise(a: np.ndarray) -> np.ndarray:
    std = a.std(axis=0)
    return (a - a.mean(axis=0)) / np.where(std > 0, std, 1.0)


def _is_constant(a: np.ndarray) -> bool:
    return bool(np.all(a.max(axis=0) == a.min(axis=0)))


def _untie(a: np.ndarray, gen: torch.Generator) -> np.ndarray:
    """(n, d) -> float64 (n, d): each coordinate whose float64 values repeat (ties, or a cast that lost
    precision) replaced by its exact ranks with ties in a random order; the others as they are."""
    out = a.astype(np.float64)
    for j in range(a.shape[1]):
        if np.unique(out[:, j]).size < len(out):
            out[:, j] = rank_transform(np.ascontiguousarray(a[:, j]), ties="random", seed=gen).double().numpy()
    return out


def ksg(x, y, k: int = 3, seed: int = 0) -> float:
    """KSG estimator (algorithm 1) with k neighbours; each variable is scaled to unit variance.

    Args:
        seed: seed of the tie-break of coordinates with repeated values (see the module notes).
    """
    x, y = check_pair(x, y, keep_dtype=True)
    n = len(x)
    if not 1 <= k < n:
        raise ValueError(f"k must be between 1 and n - 1 = {n - 1}, got {k}")
    if _is_constant(x) or _is_constant(y):
        return 0.0
    gen = torch.Generator().manual_seed(seed)
    x, y = _standardise(_untie(x, gen)), _standardise(_untie(y, gen))
    xy = np.hstack([x, y])
    dist, _ = cKDTree(xy).query(xy, k=k + 1, p=np.inf)
    radius = np.nextafter(dist[:, -1], 0)  # neighbours strictly closer than the k-th
    counts = [_count_within(a, radius) for a in (x, y)]
    return float(
        special.digamma(k) + special.digamma(n) - np.mean(special.digamma(counts[0]) + special.digamma(counts[1]))
    )


def _count_within(a: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """For each point, the number of points within ``radius`` (max-norm), itself included."""
    # distances, not x +- radius: the sum can round across a neighbour sitting on the boundary
    return cKDTree(a).query_ball_point(a, radius, p=np.inf, return_length=True)


def _normal_scores(a: np.ndarray) -> np.ndarray:
    return special.ndtri(rank_transform_np(a, axis=0))


def kde(x, y, normal_scores: bool = True) -> float:
    """Resubstitution KDE estimate: mean of log f(x, y) - log f(x) - log f(y) at the samples.

    Args:
        normal_scores: estimate on normal scores (the copula mapped to Gaussian margins),
            which removes most of the bias heavy or skewed margins cause; False: standardised values.
    """
    x, y = check_pair(x, y)
    if _is_constant(x) or _is_constant(y):
        return 0.0
    x, y = (_normal_scores(x), _normal_scores(y)) if normal_scores else (_standardise(x), _standardise(y))
    xy = np.hstack([x, y])
    from scipy import stats  # here, not at import: scipy.stats alone takes 0.3 s to import

    try:
        log_joint = stats.gaussian_kde(xy.T).logpdf(xy.T)
        log_x = stats.gaussian_kde(x.T).logpdf(x.T)
        log_y = stats.gaussian_kde(y.T).logpdf(y.T)
    except np.linalg.LinAlgError:  # perfectly collinear data: degenerate covariance
        return float("inf")
    return float(np.mean(log_joint - log_x - log_y))


def mine(x, y, steps: int = 500, batch_size: int = 100, lr: float = 1e-3, hidden: int = 100, seed: int = 0) -> float:
    """MINE: trains a critic T(x, y) on this sample by the DV bound, with the paper's moving-average
    gradient correction, then reads the bound out on the whole sample.

    Args:
        steps: optimisation steps (the paper's MINE-500 is the default).
        batch_size: joint samples per step (the marginal batch shuffles y).
    """
    x, y = check_pair(x, y)
    if _is_constant(x) or _is_constant(y):
        return 0.0
    if steps < 1 or batch_size < 2:
        raise ValueError(f"steps must be >= 1 and batch_size >= 2, got {steps} and {batch_size}")
    g = torch.Generator().manual_seed(seed)
    torch_x = torch.as_tensor(_standardise(x), dtype=torch.float32)
    torch_y = torch.as_tensor(_standardise(y), dtype=torch.float32)
    n = len(torch_x)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the critic's initial weights, without touching the global stream
        critic = torch.nn.Sequential(
            torch.nn.Linear(torch_x.shape[1] + torch_y.shape[1], hidden),
            torch.nn.ELU(),
            torch.nn.Linear(hidden, hidden),
            torch.nn.ELU(),
            torch.nn.Linear(hidden, 1),
        )
    opt = torch.optim.Adam(critic.parameters(), lr=lr)
    ema, alpha = None, 0.01
    for _ in range(steps):
        idx = torch.randint(n, (min(batch_size, n),), generator=g)
        perm = torch.randint(n, (len(idx),), generator=g)
        t_joint = critic(torch.cat([torch_x[idx], torch_y[idx]], 1)).squeeze(-1)
        t_marg = critic(torch.cat([torch_x[idx], torch_y[perm]], 1)).squeeze(-1)
        exp_marg = t_marg.exp().mean()
        ema = exp_marg.detach() if ema is None else (1 - alpha) * ema + alpha * exp_marg.detach()
        # gradient of log E[exp T] with the denominator replaced by its moving average
        loss = -(t_joint.mean() - exp_marg / ema)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        perm = torch.randperm(n, generator=g)
        t_joint = critic(torch.cat([torch_x, torch_y], 1)).squeeze(-1)
        t_marg = critic(torch.cat([torch_x, torch_y[perm]], 1)).squeeze(-1)
        return float(t_joint.mean() - (torch.logsumexp(t_marg, 0) - np.log(n)))


def _gaussian_mi_of(x: np.ndarray, y: np.ndarray) -> float:
    dx = x.shape[1]
    corr = np.atleast_2d(np.corrcoef(np.hstack([x, y]), rowvar=False))
    _, logdet = np.linalg.slogdet(corr)
    _, logdet_x = np.linalg.slogdet(corr[:dx, :dx])
    _, logdet_y = np.linalg.slogdet(corr[dx:, dx:])
    return float(max(0.0, -0.5 * (logdet - logdet_x - logdet_y)))


def gaussian(x, y) -> float:
    """Gaussian-copula MI: -1/2 log(1 - rho^2) with rho the correlation of normal scores."""
    x, y = check_pair(x, y)
    if _is_constant(x) or _is_constant(y):
        return 0.0
    return _gaussian_mi_of(_normal_scores(x), _normal_scores(y))


def pearson(x, y) -> float:
    """-1/2 log(1 - r^2) with r the Pearson correlation of the raw values."""
    x, y = check_pair(x, y)
    if _is_constant(x) or _is_constant(y):
        return 0.0
    return _gaussian_mi_of(x, y)


def _batched_correlation_mi(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """-1/2 log(1 - r^2) row by row for (B, n) arrays; constant rows give 0."""
    xc = x - x.mean(1, keepdims=True)
    yc = y - y.mean(1, keepdims=True)
    denom = np.sqrt((xc**2).sum(1) * (yc**2).sum(1))
    r = np.divide((xc * yc).sum(1), denom, out=np.zeros(len(x)), where=denom > 0)
    with np.errstate(divide="ignore"):
        return -0.5 * np.log1p(-np.minimum(r**2, 1.0))


class GaussianEstimator(FunctionEstimator):
    """Normal-score Gaussian MI with a vectorised batch path."""

    batched = True

    def __init__(self):
        super().__init__("gaussian", gaussian)

    def estimate_batch(self, x, y, progress=None) -> np.ndarray:
        x, y = check_batch(x, y)
        out = _batched_correlation_mi(special.ndtri(rank_transform_np(x)), special.ndtri(rank_transform_np(y)))
        if progress is not None:
            progress(len(x), len(x))
        return out


class PearsonEstimator(FunctionEstimator):
    """Pearson-correlation Gaussian MI with a vectorised batch path."""

    batched = True

    def __init__(self):
        super().__init__("pearson", pearson)

    def estimate_batch(self, x, y, progress=None) -> np.ndarray:
        x, y = check_batch(x, y)
        out = _batched_correlation_mi(x, y)
        if progress is not None:
            progress(len(x), len(x))
        return out


class KSGEstimator(FunctionEstimator):
    def __init__(self, k: int = 3, seed: int = 0):
        super().__init__("ksg", ksg, k=k, seed=seed)


def ksg_sklearn(x, y, k: int = 3) -> float:
    """scikit-learn's KSG (``mutual_info_regression``, k neighbours; it clips negative values to 0).

    Raises:
        ValueError: bad input, or scikit-learn is not installed.
    """
    x, y = check_pair(x, y)
    if x.shape[1] != 1 or y.shape[1] != 1:
        raise ValueError("ksg-sklearn takes one-dimensional x and y")
    try:
        from sklearn.feature_selection import mutual_info_regression
    except ImportError:
        raise ValueError("ksg-sklearn needs scikit-learn: pip install scikit-learn") from None
    if _is_constant(x) or _is_constant(y):
        return 0.0
    return float(mutual_info_regression(x, y[:, 0], n_neighbors=k, random_state=0)[0])


class SklearnKSGEstimator(FunctionEstimator):
    def __init__(self, k: int = 3):
        super().__init__("ksg-sklearn", ksg_sklearn, k=k)
