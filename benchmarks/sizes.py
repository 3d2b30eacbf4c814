"""Section "sizes" of the MI benchmark: accuracy against the sample size n, every estimator on the same samples.

Shapes: S sequences of the base length N (the largest n), c disjoint chunks of n samples each.

Point tracks give an estimator 30-200 samples, so error at n = 2000 alone says little about the
application. For each n in ``sizes`` every base sequence is cut into its first c = min(max_chunks,
N // n) disjoint chunks of n samples (independent samples of the same distribution), and:

- mixtures binned by true MI at the levels 0.0-1.0 (fresh seed): MAE per level, then the mean over
  levels (the issue's target compares this to KSG's at every n);
- exactly independent pairs (each level-set sequence with its y shuffled): the mean estimate at
  true MI 0, the bias that reads dependence into independent data;
- the standard families with closed-form MI (Gaussian, half-cube, asinh, wiggly, bimodal marginals,
  additive noise, Student-t), chunked the same way: MAE per family, then the mean;
- for estimators with intervals (``estimate_interval_batch``), the share of 90 % intervals that hold
  the truth.
"""

from __future__ import annotations

import time

import numpy as np

from infonet import distributions
from infonet.evaluation import LevelSet
from infonet.interface import MIEstimator

from .common import Progress, plain, relay

SIZES = (32, 64, 128, 256, 1000, 2000)
SIZE_LEVELS = tuple(round(0.1 * i, 1) for i in range(11))  # 0.0-1.0: the target range


def size_families() -> list[distributions.Distribution]:
    """Families with exact MI for the sample-size section (Gaussian copulas with several marginals,
    bounded noise, heavy tails)."""
    d = distributions
    return [
        *(d.gaussian(r) for r in (0.0, 0.3, 0.6, 0.9)),
        d.half_cube(0.5),
        d.asinh(0.9),
        d.wiggly(0.7),
        d.bimodal(0.7),
        d.additive_uniform(0.3),
        d.additive_uniform(0.75),
        d.student_t(0.0, 2.0),
        d.student_t(0.6, 5.0),
    ]


def chunks(a: np.ndarray, n: int, c: int) -> np.ndarray:
    """(S, N) -> (S * c, n): the first c disjoint chunks of n samples of every sequence."""
    return a[:, : c * n].reshape(-1, n)


def _estimate(est: MIEstimator, x: np.ndarray, y: np.ndarray, progress) -> tuple[np.ndarray, np.ndarray | None]:
    """(estimates (S,), 90 % intervals (S, 2) or None) of one batched call."""
    if hasattr(est, "estimate_interval_batch"):
        return est.estimate_interval_batch(x, y, progress=progress)
    return est.estimate_batch(x, y, progress=progress), None


def size_rows(
    estimators: dict[str, MIEstimator],
    levels: LevelSet,
    *,
    sizes=SIZES,
    families: list[distributions.Distribution] | None = None,
    family_seed: int = 0,
    family_repeats: int = 4,
    max_chunks: int = 16,
    progress: Progress | None = None,
) -> list[dict]:
    """Per estimator and n: level, family and independence rows (``kind`` tells which).

    Args:
        levels: a level set whose sequences are at least max(sizes) long.
        families: distributions with exact MI (default :func:`size_families`); ``family_repeats``
            base samples of length max(sizes) each, seeds ``family_seed + 1000 * i + r``.
    Returns:
        rows with estimator, n, kind ("level", "family", "independent"), group (the level or the
        family's name), true_mi, count, mean_error, mae, coverage90 (NaN without intervals), seconds.
    """
    base = max(sizes)
    if levels.x.shape[1] < base:
        raise ValueError(f"the level set holds {levels.x.shape[1]} samples per sequence, fewer than n = {base}")
    families = size_families() if families is None else families
    seeds = [(dist, family_seed + 1000 * i + r) for i, dist in enumerate(families) for r in range(family_repeats)]
    fam = [dist.sample(base, seed) for dist, seed in seeds]
    fx, fy = np.stack([p[0] for p in fam]), np.stack([p[1] for p in fam])
    fam_mi = np.repeat([dist.mi for dist in families], family_repeats)
    fam_name = np.repeat([dist.name for dist in families], family_repeats)
    rng = np.random.default_rng(family_seed + 7)
    shuffled = np.take_along_axis(levels.y, rng.random(levels.y.shape).argsort(axis=1), axis=1)

    rows = []
    for n in sizes:
        c = max(1, min(max_chunks, base // n))
        kinds = {  # kind -> (x, y, truth, group)
            "level": (
                chunks(levels.x, n, c),
                chunks(levels.y, n, c),
                np.repeat(levels.mi, c),
                np.repeat(levels.level, c),
            ),
            "independent": (chunks(levels.x, n, c), chunks(shuffled, n, c), np.zeros(len(levels.mi) * c), None),
            "family": (chunks(fx, n, c), chunks(fy, n, c), np.repeat(fam_mi, c), np.repeat(fam_name, c)),
        }
        x = np.concatenate([k[0] for k in kinds.values()])
        y = np.concatenate([k[1] for k in kinds.values()])
        for name, est in estimators.items():
            start = time.perf_counter()
            mi, interval = _estimate(est, x, y, relay(progress, f"sizes n={n}: {name}"))
            seconds = (time.perf_counter() - start) / len(x)
            offset = 0
            for kind, (kx, _, truth, group) in kinds.items():
                part = slice(offset, offset + len(kx))
                offset += len(kx)
                rows += _group_rows(
                    name, n, kind, mi[part], None if interval is None else interval[part], truth, group, seconds
                )
    return rows


def _group_rows(name, n, kind, mi, interval, truth, group, seconds) -> list[dict]:
    groups = np.zeros(len(mi)) if group is None else group
    rows = []
    for g in dict.fromkeys(groups.tolist()):
        sel = groups == g
        err = mi[sel] - truth[sel]
        inside = np.nan
        if interval is not None:
            inside = ((interval[sel, 0] <= truth[sel]) & (truth[sel] <= interval[sel, 1])).mean()
        row = {"estimator": name, "n": n, "kind": kind, "group": "MI 0" if group is None else g}
        row |= {"true_mi": truth[sel].mean(), "count": int(sel.sum()), "mean_error": err.mean()}
        rows.append(plain({**row, "mae": np.abs(err).mean(), "coverage90": inside, "seconds": seconds}))
    return rows


def size_summary(rows: list[dict]) -> list[dict]:
    """Per estimator and n: MAE over levels 0.0-1.0 (mean of the per-level MAEs), worst level, the mean
    estimate at true MI 0, MAE over the families (mean of the per-family MAEs), 90 % coverage over levels
    and independent pairs, and seconds per estimate."""
    out = []
    keys = dict.fromkeys((r["estimator"], r["n"]) for r in rows)
    for name, n in keys:
        mine = [r for r in rows if r["estimator"] == name and r["n"] == n]
        lv = [r for r in mine if r["kind"] == "level"]
        fam = [r for r in mine if r["kind"] == "family"]
        null = [r for r in mine if r["kind"] == "independent"]
        held = [r for r in lv + null if not np.isnan(r["coverage90"])]
        coverage = sum(r["coverage90"] * r["count"] for r in held) / sum(r["count"] for r in held) if held else np.nan
        out.append(
            plain(
                {
                    "estimator": name,
                    "n": n,
                    "level_mae": np.mean([r["mae"] for r in lv]),
                    "worst_level_mae": max(r["mae"] for r in lv),
                    "mean_at_zero": null[0]["mean_error"] if null else np.nan,
                    "family_mae": np.mean([r["mae"] for r in fam]),
                    "coverage90": coverage,
                    "seconds": mine[0]["seconds"],
                }
            )
        )
    return out
