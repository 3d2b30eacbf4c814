"""The paper's evaluation protocols: test sets with known MI and their statistics, shared by
training-time validation and the benchmarks (``benchmarks/``, ``scripts/benchmark_mi.py``).

- Level sets (paper Table 2): 2-D mixtures binned by true MI; a mixture belongs to level l
  when its Monte-Carlo MI is within +-tolerance of l. Error statistics per level.
- Triplet sets (paper Table 3): 3-D mixtures (X, Y, Z); is MI(X; Y) > MI(X; Z)? Order
  accuracy per number of components K.
- High-dimensional pairs (paper Fig. 5, A.5): dependent and independent (n, d) samples for
  independence testing, scored by ROC AUC.

Shapes: S sequences, n samples, m high-dimensional pairs, d dimensions. An estimator is any
callable ``fn(x, y) -> (S,)`` on (S, n) arrays, e.g. ``MIEstimator.estimate_batch``. Every set
is built from an explicit seed; training, validation and benchmarks use disjoint seeds.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .mixtures import mixture_mi, random_mixtures

__all__ = [
    "HIGHDIM_KINDS",
    "LevelSet",
    "TripletSet",
    "highdim_pairs",
    "level_stats",
    "make_level_set",
    "make_triplet_set",
    "order_accuracy",
    "roc_auc",
]

HIGHDIM_KINDS = ("independent", "one_feature", "two_features", "all_coordinates", "latent_quadratic")

log = logging.getLogger(__name__)


@dataclass
class LevelSet:
    x: np.ndarray  # (S, n) float32
    y: np.ndarray  # (S, n)
    mi: np.ndarray  # (S,) Monte-Carlo truth, nats
    se: np.ndarray  # (S,) its standard error
    level: np.ndarray  # (S,) the level each sequence was binned to
    components: np.ndarray  # (S,) number of mixture components


@dataclass
class TripletSet:
    x: np.ndarray  # (S, n)
    y: np.ndarray  # (S, n)
    z: np.ndarray  # (S, n)
    mi_xy: np.ndarray  # (S,) truth
    mi_xz: np.ndarray  # (S,)
    components: np.ndarray  # (S,)


def _num_components(mix) -> torch.Tensor:
    return torch.isfinite(mix.log_weights).sum(-1)


def make_level_set(
    levels: Sequence[float],
    per_level: int,
    n: int,
    seed: int,
    *,
    num_components: tuple[int, int] = (1, 10),
    tolerance: float = 0.05,
    mc_samples: int = 100_000,
    pool: int = 2048,
    max_rounds: int = 200,
    device: str | torch.device = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> LevelSet:
    """Samples mixtures until every level holds ``per_level`` sequences of length n.

    Candidates are screened with 2,000 Monte-Carlo samples, then the kept ones get the full ``mc_samples``
    truth and must still fall inside their level; a rarely reached level may end short (logged).
    """
    g = torch.Generator(device).manual_seed(seed)
    levels = np.asarray(levels, dtype=np.float64)
    chosen: list[list] = [[] for _ in levels]  # per level: (mixture batch, row)
    xs, ys, mis, ses, lv, ks = [], [], [], [], [], []
    for _ in range(max_rounds):
        missing = [i for i in range(len(levels)) if len(chosen[i]) < per_level]
        if not missing:
            break
        mix = random_mixtures(pool, 2, g, num_components=num_components)
        rough, _ = mixture_mi(mix, [0], [1], g, num_samples=2000, chunk=2000)
        rough = rough.cpu().numpy()
        rows, row_levels = [], []
        for i in missing:
            hits = np.flatnonzero(np.abs(rough - levels[i]) <= tolerance + 0.03)
            hits = hits[: 2 * (per_level - len(chosen[i]))]
            rows += hits.tolist()
            row_levels += [i] * len(hits)
        if not rows:
            continue
        sub = mix.select(rows)
        mi, se = mixture_mi(sub, [0], [1], g, num_samples=mc_samples)
        samples = sub.sample(n, g).float().cpu().numpy()
        mi, se = mi.cpu().numpy(), se.cpu().numpy()
        comps = _num_components(sub).cpu().numpy()
        for j, i in enumerate(row_levels):
            if abs(mi[j] - levels[i]) <= tolerance and len(chosen[i]) < per_level:
                chosen[i].append(j)
                xs.append(samples[j, :, 0])
                ys.append(samples[j, :, 1])
                mis.append(mi[j])
                ses.append(se[j])
                lv.append(levels[i])
                ks.append(comps[j])
        if progress is not None:
            progress(sum(len(c) for c in chosen), per_level * len(levels))
    short = {float(levels[i]): len(c) for i, c in enumerate(chosen) if len(c) < per_level}
    if short:
        log.warning("level set: levels %s got fewer than %d sequences", short, per_level)
    order = np.argsort(np.asarray(lv), kind="stable")
    pick = lambda a: np.asarray(a)[order]  # noqa: E731
    return LevelSet(pick(xs), pick(ys), pick(mis), pick(ses), pick(lv), pick(ks))


def make_triplet_set(
    per_k: int,
    components: Sequence[int],
    n: int,
    seed: int,
    *,
    mc_samples: int = 100_000,
    device: str | torch.device = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> TripletSet:
    """``per_k`` triplets (X, Y, Z) of length n from 3-D mixtures for each K in ``components``."""
    g = torch.Generator(device).manual_seed(seed)
    out = {k: [] for k in ("x", "y", "z", "mi_xy", "mi_xz", "k")}
    for done, k in enumerate(components):
        mix = random_mixtures(per_k, 3, g, num_components=int(k))
        mi_xy, _ = mixture_mi(mix, [0], [1], g, num_samples=mc_samples)
        mi_xz, _ = mixture_mi(mix, [0], [2], g, num_samples=mc_samples)
        s = mix.sample(n, g).float().cpu().numpy()
        out["x"].append(s[..., 0])
        out["y"].append(s[..., 1])
        out["z"].append(s[..., 2])
        out["mi_xy"].append(mi_xy.cpu().numpy())
        out["mi_xz"].append(mi_xz.cpu().numpy())
        out["k"].append(np.full(per_k, int(k)))
        if progress is not None:
            progress(done + 1, len(components))
    cat = {key: np.concatenate(v) for key, v in out.items()}
    return TripletSet(cat["x"], cat["y"], cat["z"], cat["mi_xy"], cat["mi_xz"], cat["k"])


def level_stats(estimates: np.ndarray, data: LevelSet) -> list[dict]:
    """Per level: count, mean error (bias), error variance and mean absolute error."""
    err = np.asarray(estimates, dtype=np.float64) - data.mi
    rows = []
    for level in np.unique(data.level):
        e = err[data.level == level]
        rows.append(
            {
                "level": float(level),
                "count": len(e),
                "mean_error": e.mean(),
                "variance": e.var(),
                "mae": np.abs(e).mean(),
            }
        )
    return rows


ORDER_GAP = 0.02  # the paper's released triplets keep only those whose two true MIs differ by this much


def order_accuracy(
    est_xy: np.ndarray, est_xz: np.ndarray, data: TripletSet, *, min_gap: float = ORDER_GAP
) -> list[dict]:
    """Per K: share of triplets whose estimated order of MI(X;Y) vs MI(X;Z) is the true one, over all
    triplets (``accuracy``) and, as in the paper's protocol, over those whose true MIs differ by at
    least ``min_gap`` nats (``accuracy_gap``, ``count_gap``)."""
    right = (np.asarray(est_xy) > np.asarray(est_xz)) == (data.mi_xy > data.mi_xz)
    apart = np.abs(data.mi_xy - data.mi_xz) >= min_gap
    rows = []
    for k in np.unique(data.components):
        of_k = data.components == k
        rows.append(
            {
                "components": int(k),
                "count": int(of_k.sum()),
                "accuracy": right[of_k].mean(),
                "count_gap": int((of_k & apart).sum()),
                "accuracy_gap": right[of_k & apart].mean() if (of_k & apart).any() else float("nan"),
            }
        )
    return rows


def highdim_pairs(kind: str, m: int, n: int, d: int, seed: int, *, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """m pairs of d-dimensional samples, X ~ N(0, I_d), with Y built from X by ``kind``.

    - ``independent``: Y ~ N(0, I_d) independent of X.
    - ``one_feature`` / ``two_features`` (paper A.5 a, b): Y_j = X_j + noise * E_j for the first
      one / two coordinates, the rest of Y independent noise.
    - ``all_coordinates`` (A.5 c): Y = X + noise * E.
    - ``latent_quadratic``: a shared scalar Z ~ N(0, 1); X = Z a + E, Y = (Z^2 - 1) / sqrt(2) b + E'
      with loadings a, b ~ N(0, I_d), so any unit projection carries signal of variance about 1.
      Y is uncorrelated with X: correlation-based tests cannot see this dependence.

    Returns:
        x, y: (m, n, d) float64 arrays.
    """
    if kind not in HIGHDIM_KINDS:
        raise ValueError(f"unknown dependence {kind!r}; choose from {', '.join(HIGHDIM_KINDS)}")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, n, d))
    e = rng.standard_normal((m, n, d))
    if kind == "independent":
        return x, e
    if kind in ("one_feature", "two_features"):
        k = 1 if kind == "one_feature" else 2
        y = e.copy()
        y[..., :k] = x[..., :k] + noise * e[..., :k]
        return x, y
    if kind == "all_coordinates":
        return x, x + noise * e
    z = rng.standard_normal((m, n, 1))
    a, b = rng.standard_normal((2, m, 1, d))
    return z * a + x, (z**2 - 1) / math.sqrt(2) * b + noise * e  # x (m, n, d) reused as noise


def roc_auc(positive, negative) -> float:
    """Area under the ROC curve of scores that should be higher for ``positive`` than ``negative``.

    The Mann-Whitney statistic: the share of (positive, negative) pairs ranked right, ties counting
    one half. 1.0: perfect separation; 0.5: no better than chance.

    Raises:
        ValueError: no positive or no negative score.
    """
    pos = np.asarray(positive, dtype=np.float64).reshape(-1, 1)
    neg = np.asarray(negative, dtype=np.float64).reshape(1, -1)
    if pos.size == 0 or neg.size == 0:
        raise ValueError("roc_auc needs at least one positive and one negative score")
    return float(((pos > neg) + 0.5 * (pos == neg)).mean())
