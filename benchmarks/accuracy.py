"""Sections 2-5 of the MI benchmark: accuracy on data with known MI, after the paper's section 5.

Shapes: S sequences, n samples, m high-dimensional pairs, d dimensions, P random projections.

- :func:`level_rows`: mean error, variance and MAE on mixtures binned by true MI (Table 2).
- :func:`triplet_rows`: order accuracy, is MI(X;Y) > MI(X;Z)?, per number of components K (Table 3).
- :func:`distribution_rows`: Gaussians against the closed form (Fig. 4) and other families (A.4).
- :func:`highdim_rows`: independence testing with sliced MI, ROC AUC (Fig. 5).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import fields

import numpy as np

from infonet import distributions
from infonet.estimate import sliced_projections
from infonet.evaluation import HIGHDIM_KINDS, LevelSet, TripletSet, highdim_pairs, level_stats, order_accuracy, roc_auc
from infonet.interface import MIEstimator

from .common import SEEDS, Progress, plain, relay

LEVELS = tuple(round(0.1 * i, 1) for i in range(10))  # the paper's Table 2
HIGH_LEVELS = (1.0, 1.2, 1.4, 1.6, 1.8, 2.0)  # beyond the paper: where under-estimation shows
RHOS = tuple(round(0.1 * i, 1) for i in range(-9, 10))  # correlations of the Gaussian sweep
HIGHDIM_ESTIMATORS = ("infonet", "infonet-sym8", "ksg", "gaussian", "pearson")  # cheap enough for P projections each


def per_group(groups: np.ndarray, cap: int | None) -> np.ndarray:
    """Indices of the first ``cap`` items of every group (all with None), in group order."""
    if cap is None:
        return np.arange(len(groups))
    return np.concatenate([np.flatnonzero(groups == g)[:cap] for g in np.unique(groups)] + [np.zeros(0, int)])


def _subset(data, idx: np.ndarray):
    """The rows ``idx`` of a dataclass whose fields are all arrays of one length (LevelSet, TripletSet)."""
    return type(data)(**{f.name: getattr(data, f.name)[idx] for f in fields(data)})


def _capped(
    estimators: dict[str, MIEstimator], groups: np.ndarray, caps: dict[str, int | None] | None
) -> Iterator[tuple[str, MIEstimator, np.ndarray]]:
    """(name, estimator, indices of its first ``caps[name]`` items per group), skipping empty selections."""
    caps = caps or {}
    for name, est in estimators.items():
        idx = per_group(groups, caps.get(name))
        if idx.size:
            yield name, est, idx


def _timed_batch(est: MIEstimator, x: np.ndarray, y: np.ndarray, progress) -> tuple[np.ndarray, float]:
    """(estimates (S,), seconds per estimate) of one ``estimate_batch`` call on x, y (S, n)."""
    start = time.perf_counter()
    mi = est.estimate_batch(x, y, progress=progress)
    return mi, (time.perf_counter() - start) / len(x)


# ----------------------------------------------------------------------------- 2-3. mixtures (Tables 2, 3)


def level_rows(
    estimators: dict[str, MIEstimator],
    data: LevelSet,
    *,
    caps: dict[str, int | None] | None = None,
    progress: Progress | None = None,
) -> list[dict]:
    """Per estimator and level: count, mean error (bias), variance, MAE and the mean true MI.

    Args:
        estimators: name -> estimator; each estimates the whole set in one ``estimate_batch``.
        data: a level set (``infonet.evaluation.make_level_set``), S sequences (S, n).
        caps: name -> most sequences per level (the first ones of each level); None: all, 0: skip.
    Returns:
        rows: estimator, level, count, mean_error, variance, mae, true_mi, seconds (per estimate).
    """
    rows = []
    for name, est, idx in _capped(estimators, data.level, caps):
        sub = _subset(data, idx)
        mi, seconds = _timed_batch(est, sub.x, sub.y, relay(progress, f"levels: {name}"))
        for stat in level_stats(mi, sub):
            true_mi = sub.mi[sub.level == stat["level"]].mean()
            rows.append(plain({"estimator": name, **stat, "true_mi": true_mi, "seconds": seconds}))
    return rows


def triplet_rows(
    estimators: dict[str, MIEstimator],
    data: TripletSet,
    *,
    caps: dict[str, int | None] | None = None,
    progress: Progress | None = None,
) -> list[dict]:
    """Per estimator and K: the share of triplets whose order MI(X;Y) > MI(X;Z) is the true one.

    Args:
        data: a triplet set (``infonet.evaluation.make_triplet_set``), S triplets (S, n).
        caps: name -> most triplets per K; None: all, 0: skip.
    Returns:
        rows: estimator, components (K), count, accuracy (fraction), seconds (per estimate).
    """
    rows = []
    for name, est, idx in _capped(estimators, data.components, caps):
        sub = _subset(data, idx)
        x, y = np.concatenate([sub.x, sub.x]), np.concatenate([sub.y, sub.z])  # (2S, n): X;Y then X;Z
        both, seconds = _timed_batch(est, x, y, relay(progress, f"triplets: {name}"))
        for stat in order_accuracy(both[: len(idx)], both[len(idx) :], sub):
            rows.append(plain({"estimator": name, **stat, "seconds": seconds}))
    return rows


# ----------------------------------------------------------------------------- 4. known-MI families


def default_families() -> list[distributions.Distribution]:
    """The appendix-A.4 families (and Student-t) at a few parameters."""
    d = distributions
    return [
        *(d.half_cube(p) for p in (0.5, 0.9)),
        *(d.asinh(p) for p in (0.5, 0.9)),
        *(d.additive_uniform(p) for p in (0.1, 0.3, 0.75)),
        d.student_t(0.0, 2.0),
        d.student_t(0.6, 5.0),
    ]


NEAR_DETERMINISTIC_SIZES = (128, 1000)  # sample sizes of the near-deterministic table (and the benchmark's n)


def near_deterministic_families() -> list[distributions.Distribution]:
    """Pairs with MI of 3-8 nats, where grid-read networks level off: Gaussians, bounded and Laplace noise, a Student-t."""
    d = distributions
    return [
        *(d.gaussian(float(np.sqrt(-np.expm1(-2.0 * mi)))) for mi in (3, 4, 5, 6, 8)),
        *(d.additive_uniform(eps) for eps in (0.02, 0.005)),
        *(d.additive_laplace(scale) for scale in (0.002, 0.0005)),
        d.student_t(0.9999, 3.0),
    ]


def distribution_rows(
    estimators: dict[str, MIEstimator],
    dists: Sequence[distributions.Distribution],
    *,
    n: int,
    seeds: int,
    seed: int,
    params: Sequence[float] | None = None,
    caps: dict[str, int | None] | None = None,
    label: str = "distributions",
    progress: Progress | None = None,
) -> list[dict]:
    """Estimates on ``seeds`` independent samples of each distribution, against its exact MI.

    Sample r of distribution i uses the seed ``seed + 1000 * i + r``.

    Args:
        params: one number per distribution kept in the rows (e.g. rho of a Gaussian sweep).
        caps: name -> most samples per distribution; None: all, 0: skip.
    Returns:
        rows: estimator, distribution, param, true_mi, mean_estimate, sd, mae, max_abs_error, count.
    """
    group = np.repeat(np.arange(len(dists)), seeds)  # (S,)
    pairs = [dist.sample(n, seed + 1000 * i + r) for i, dist in enumerate(dists) for r in range(seeds)]
    x = np.stack([p[0] for p in pairs])  # (S, n)
    y = np.stack([p[1] for p in pairs])
    rows = []
    for name, est, idx in _capped(estimators, group, caps):
        mi = est.estimate_batch(x[idx], y[idx], progress=relay(progress, f"{label}: {name}"))
        for i, dist in enumerate(dists):
            e = mi[group[idx] == i]
            err = np.abs(e - dist.mi)
            row = {"estimator": name, "distribution": dist.name, "param": "" if params is None else params[i]}
            with np.errstate(invalid="ignore"):  # an estimator's inf (a correlation of 1) has no spread: NaN
                row |= {"true_mi": dist.mi, "mean_estimate": e.mean(), "sd": e.std()}
            rows.append(plain({**row, "mae": err.mean(), "max_abs_error": err.max(), "count": len(e)}))
    return rows


# ----------------------------------------------------------------------------- 5. high-dimensional independence


def sliced_scores(
    estimator: MIEstimator,
    x: np.ndarray,
    y: np.ndarray,
    *,
    num_projections: int,
    seed: int,
    max_batch: int = 4096,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Sliced MI of m pairs x (m, n, dx), y (m, n, dy) -> (m,) with any estimator; pair i uses
    projection seed ``seed + i``.

    The projections are ``infonet.estimate.sliced_projections``, the ones ``infonet.estimate_mi(method="sliced")``
    makes of (n, d) input, so with an InfoNet estimator pair i scores as
    ``infonet.estimate_mi(x[i], y[i], method="sliced", num_projections=P, seed=seed + i)``. Projections of several
    pairs go through one ``estimate_batch`` call (up to ``max_batch`` 1-D pairs);
    ``progress(done, total)`` counts projected pairs, m * P in all.
    """
    m, n, _ = x.shape
    per_call = max(1, max_batch // num_projections)
    total = m * num_projections  # progress counts projected 1-D pairs
    if progress is not None:
        progress(0, total)
    out = np.empty(m)
    for start in range(0, m, per_call):
        px, py = [], []
        for i in range(start, min(start + per_call, m)):
            xs, ys = sliced_projections(x[i], y[i], num_projections, seed + i)  # (P, n) each
            px.append(xs)
            py.append(ys)
        inner = None
        if progress is not None:
            inner = lambda done, _total, base=start * num_projections: progress(base + done, total)
        mi = estimator.estimate_batch(np.concatenate(px), np.concatenate(py), progress=inner)
        out[start : start + len(px)] = mi.reshape(len(px), num_projections).mean(1)
    return out


def highdim_rows(
    estimators: dict[str, MIEstimator],
    *,
    dims: Sequence[int] = (16, 128),
    n: int = 2000,
    pairs: int = 50,
    num_projections: int = 256,
    kinds: Sequence[str] = HIGHDIM_KINDS[1:],
    seed: int = SEEDS["highdim"],
    progress: Progress | None = None,
) -> list[dict]:
    """Independence testing by sliced MI: ROC AUC of ``pairs`` dependent against ``pairs``
    independent pairs, per dimension, kind of dependence and estimator (all on the same data
    and the same projections).

    Returns:
        rows: estimator, d, dependence, n, pairs, projections, auc, mean_dependent, mean_independent.
    """
    rows = []
    for d in dims:
        scores: dict[str, dict[str, np.ndarray]] = {name: {} for name in estimators}  # estimator -> kind -> (m,)
        for kind in ("independent", *kinds):  # one kind's data in memory at a time: (m, n, d) is large
            x, y = highdim_pairs(kind, pairs, n, d, seed + 1_000_000 * d + 10_000 * HIGHDIM_KINDS.index(kind))
            for name, est in estimators.items():
                step = relay(progress, f"highdim d={d} {kind}: {name}")
                scores[name][kind] = sliced_scores(est, x, y, num_projections=num_projections, seed=seed, progress=step)
        for name in estimators:
            null = scores[name]["independent"]
            for kind in kinds:
                dep = scores[name][kind]
                row = {"estimator": name, "d": d, "dependence": kind, "n": n, "pairs": pairs}
                row |= {"projections": num_projections, "auc": roc_auc(dep, null)}
                rows.append(plain({**row, "mean_dependent": dep.mean(), "mean_independent": null.mean()}))
    return rows
