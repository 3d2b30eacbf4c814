"""The multivariate section: MI between vectors on the BMI benchmark's tasks, independent pairs and
Gaussian mixtures, every estimator on the same samples.

Tasks:
- the tasks of the BMI benchmark (Czyz et al. 2023, PyPI ``benchmark-mi``) with 2 <= dx = dy <= ``max_dim``:
  multinormal dense and sparse, Student-t, and the half-cube, asinh, normal-CDF and spiral transforms
  (exact MI from the package). ``benchmark-mi`` pins an old jax and pydantic 1 (which the demo's gradio
  refuses), so it lives in its own environment (see docs); without it these rows are skipped and the
  report says so;
- exactly independent X, Y (d = 2, 3, 5): standard normal, and Student-t marginals on one side;
- Gaussian mixtures with dx = dy = 2..5 (the InfoNet paper's recipe), MI by Monte Carlo.

Estimators: this project's default ``infonet.estimate_mi`` (batched over the samples of one task and
n), its KSG and the Gaussian-copula formula (``infonet.baselines``), and, where installed, bmi's KSG
(k = 10) and CCA. Seconds per estimate are wall-clock in this run (InfoNet's batched call divided
by its batch).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch

from infonet import baselines
from infonet.mixtures import mixture_mi, random_mixtures

from .common import Progress, markdown_table

log = logging.getLogger(__name__)

SEED = 20_268_000  # + 1_000 * task + repeat (numpy and bmi); mixtures: a torch generator at SEED + 999
NON_GAUSSIAN = ("student-t", "spiral", "mixture")  # families whose copula is not Gaussian
OWN_FAMILIES = ("independent", "mixture")  # this project's tasks; the rest are the BMI benchmark's
MV_ESTIMATORS = ("infonet", "ksg", "gaussian", "bmi-ksg", "bmi-cca")


@dataclass
class Task:
    name: str
    family: str
    dx: int
    dy: int
    mi: float  # exact, or Monte Carlo for mixtures
    sample: object  # sample(n, seed) -> (x (n, dx), y (n, dy))


def _family(name: str) -> str:
    for key, family in (
        ("spiral", "spiral"),
        ("student", "student-t"),
        ("half_cube", "half-cube"),
        ("normal_cdf", "normal-cdf"),
        ("dense", "normal-dense"),
        ("sparse", "normal-sparse"),
    ):
        if key in name:
            return family
    return "other"


def bmi_tasks(max_dim: int) -> list[Task]:
    """The BMI benchmark's tasks with 2 <= dx = dy <= max_dim ([] without ``benchmark-mi``)."""
    try:
        import bmi
    except ImportError:
        return []
    tasks = []
    for name, t in bmi.benchmark.BENCHMARK_TASKS.items():
        if 2 <= t.dim_x == t.dim_y <= max_dim:
            sample = lambda n, seed, t=t: tuple(np.asarray(a, dtype=np.float64) for a in t.sample(n, seed=seed))
            tasks.append(Task(name, _family(name), t.dim_x, t.dim_y, float(t.mutual_information), sample))
    return tasks


def _independent(d: int, heavy: bool) -> Task:
    def sample(n, seed):
        rng = np.random.default_rng(seed)
        x, y = rng.standard_normal((n, d)), rng.standard_normal((n, d))
        return x, (rng.standard_t(1, (n, d)) if heavy else y)

    return Task(f"independent-{'t' if heavy else 'normal'}-{d}-{d}", "independent", d, d, 0.0, sample)


MIXTURE_LEVELS = (0.5, 1.5)  # nats: the truth each pair of mixture tasks per d aims at


def mixture_task(index: int, d: int, mc_samples: int, seed: int = SEED) -> Task:
    """A Gaussian mixture in 2d dimensions (the paper's recipe, 2-8 components) whose MI is near
    ``MIXTURE_LEVELS[index]``: the recipe alone gives 1.5-5 nats at d = 2-5, far above the BMI tasks,
    so isotropic noise is added at the level (of 12, log-spaced) whose rough MI is nearest the aim.
    The truth is then a Monte-Carlo estimate with ``mc_samples`` samples. Another ``seed`` draws other
    mixtures of the same recipe (``benchmarks.long_samples`` checks on such)."""
    g = torch.Generator().manual_seed(seed + 999 + 7 * index + d)
    base = random_mixtures(1, 2 * d, g, num_components=(2, 8))
    noise = torch.logspace(-1, 1.5, 12, dtype=base.covs.dtype)
    eye = torch.eye(2 * d, dtype=base.covs.dtype)
    cands = type(base)(
        base.log_weights.expand(12, -1), base.means.expand(12, -1, -1), base.covs + noise[:, None, None, None] * eye
    )
    rough, _ = mixture_mi(cands, range(d), range(d, 2 * d), g, num_samples=4000)
    pick = int(torch.argmin((rough - MIXTURE_LEVELS[index]).abs()))
    mix = type(base)(cands.log_weights[pick : pick + 1], cands.means[pick : pick + 1], cands.covs[pick : pick + 1])
    mi, _ = mixture_mi(mix, range(d), range(d, 2 * d), g, num_samples=mc_samples)

    def sample(n, seed):
        xy = mix.sample(n, torch.Generator().manual_seed(seed))[0].numpy()
        return xy[:, :d], xy[:, d:]

    return Task(f"mixture-{d}-{d}-#{index}", "mixture", d, d, float(mi[0]), sample)


def own_tasks(mc_samples: int) -> list[Task]:
    """Independent pairs (d = 2, 3, 5) and two Gaussian mixtures per d = 2..5 (near 0.5 and 1.5 nats)."""
    tasks = [_independent(d, heavy) for d in (2, 3, 5) for heavy in (False, True)]
    return tasks + [mixture_task(i, d, mc_samples) for d in (2, 3, 4, 5) for i in range(len(MIXTURE_LEVELS))]


def _bmi_estimators() -> dict:
    try:
        import bmi
    except ImportError:
        return {}
    ksg = bmi.estimators.KSGEnsembleFirstEstimator(neighborhoods=(10,))
    cca = bmi.estimators.CCAMutualInformationEstimator()
    return {"bmi-ksg": ksg.estimate, "bmi-cca": cca.estimate}


def _timed_each(fn, xs, ys) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    est = np.array([fn(x, y) for x, y in zip(xs, ys, strict=True)])
    return est, (time.perf_counter() - start) / len(xs)


def _estimates(name: str, xs, ys, model, external: dict) -> tuple:
    """(estimates, interval lows, interval highs (NaN but for InfoNet), seconds per estimate) of one
    estimator on the samples ``xs``, ``ys``."""
    from infonet.estimate import estimate_mi_batch

    nan = [np.nan] * len(xs)
    if name == "infonet":
        start = time.perf_counter()
        est, interval = estimate_mi_batch(np.stack(xs), np.stack(ys), vector_model=model, return_interval=True)
        return est, interval[:, 0], interval[:, 1], (time.perf_counter() - start) / len(xs)
    own = {"ksg": lambda x, y: baselines.ksg(x, y, k=10), "gaussian": baselines.gaussian}
    est, seconds = _timed_each(own.get(name) or external[name], xs, ys)
    return est, nan, nan, seconds


def multivariate_rows(
    sizes=(128, 1000, 5000),
    repeats: int = 3,
    max_dim: int = 25,
    mc_samples: int = 100_000,
    estimators=MV_ESTIMATORS,
    progress: Progress | None = None,
    model=None,
) -> tuple[list[dict], dict]:
    """One row per (task, n, repeat, estimator): truth, estimate, interval (InfoNet), seconds per estimate.

    ``model``: the multivariate InfoNet (default: the shipped weights).

    Returns (rows, info); info says which estimators and task sets ran.
    """
    tasks = bmi_tasks(max_dim) + own_tasks(mc_samples)
    external = _bmi_estimators()
    chosen = [e for e in estimators if e in external or not e.startswith("bmi-")]
    info = {"bmi": "yes" if external else "no (benchmark-mi not installed: BMI tasks and estimators skipped)"}
    rows, done, total = [], 0, len(tasks) * len(sizes)
    for t_index, task in enumerate(tasks):
        for n in sizes:
            seeds = [SEED + 1_000 * t_index + r + n for r in range(repeats)]
            xs, ys = zip(*(task.sample(n, s) for s in seeds), strict=True)
            for name in chosen:
                est, low, high, seconds = _estimates(name, xs, ys, model, external)
                for r in range(repeats):
                    rows.append(
                        dict(task=task.name, family=task.family, dx=task.dx, dy=task.dy, n=n, repeat=r,
                             true_mi=task.mi, estimator=name, estimate=float(est[r]), low=float(low[r]),
                             high=float(high[r]), seconds=seconds)
                    )  # fmt: skip
            done += 1
            if progress is not None:
                progress("multivariate", done, total)
    return rows, info


def _group(d: int) -> str:
    return "bmi d<=5" if d <= 5 else f"bmi d={d}"


def multivariate_summary(rows: list[dict]) -> list[dict]:
    """Per estimator and n: MAE of the BMI tasks by dimension group, MAE per non-Gaussian family, mean
    estimate at MI 0 (independent pairs), 90 % coverage (all tasks), seconds per estimate at d = 5."""
    out = []
    for name in dict.fromkeys(r["estimator"] for r in rows):
        for n in sorted({r["n"] for r in rows}):
            sel = [r for r in rows if r["estimator"] == name and r["n"] == n]
            err = lambda rs: float(np.mean([abs(r["estimate"] - r["true_mi"]) for r in rs])) if rs else np.nan  # noqa: E731
            bmi = [r for r in sel if r["family"] not in OWN_FAMILIES]  # the BMI tasks alone, as the targets read
            row = {"estimator": name, "n": n}
            for g in dict.fromkeys(_group(r["dx"]) for r in bmi):
                row[f"mae {g}"] = err([r for r in bmi if _group(r["dx"]) == g])
            for fam in NON_GAUSSIAN:
                row[f"mae {fam}"] = err([r for r in sel if r["family"] == fam])
            zero = [r["estimate"] for r in sel if r["family"] == "independent" and r["dx"] <= 5]
            row["mean at MI 0"] = float(np.mean(zero)) if zero else np.nan
            inside = [r["low"] <= r["true_mi"] <= r["high"] for r in sel if not np.isnan(r["low"])]
            row["coverage90"] = float(np.mean(inside)) if inside else np.nan
            five = [r["seconds"] for r in sel if r["dx"] == 5]
            row["seconds (d=5)"] = float(np.median(five)) if five else np.nan
            out.append(row)
    return out


def multivariate_markdown(rows: list[dict], info: dict) -> list[str]:
    """The section's report: the summary per estimator and n, then the MAE per family."""
    summary = multivariate_summary(rows)
    keys = [k for k in summary[0] if k not in ("estimator", "n")]
    spec = lambda k, v: (
        "-" if v != v else (f"{v:+.3f}" if "MI 0" in k else f"{v:.2e}" if "seconds" in k else f"{v:.3f}")
    )  # noqa: E731
    body = [[r["estimator"], str(r["n"]), *(spec(k, r.get(k, np.nan)) for k in keys)] for r in summary]
    out = [
        "",
        "## Multivariate MI (BMI tasks, independent pairs, Gaussian mixtures)",
        "",
        f"bmi installed: {info['bmi']}.",
        "",
        markdown_table(["estimator", "n", *keys], body),
        "",
    ]
    fams = list(dict.fromkeys(r["family"] for r in rows))
    names = list(dict.fromkeys(r["estimator"] for r in rows))
    body = []
    for n in sorted({r["n"] for r in rows}):
        for fam in fams:
            cells = []
            for name in names:
                sel = [
                    abs(r["estimate"] - r["true_mi"])
                    for r in rows
                    if r["n"] == n and r["family"] == fam and r["estimator"] == name
                ]
                cells.append(f"{np.mean(sel):.3f}" if sel else "-")
            body.append([str(n), fam, *cells])
    out += ["**Mean absolute error per family (nats)**", "", markdown_table(["n", "family", *names], body), ""]
    return out


def save_multivariate_plot(rows: list[dict], path) -> None:
    """MAE against n per estimator, one panel for d <= 5 and one for the non-Gaussian families."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    summary = multivariate_summary(rows)
    fig = Figure(figsize=(10, 4))
    panels = fig.subplots(1, 2)
    for name in dict.fromkeys(r["estimator"] for r in summary):
        rs = [r for r in summary if r["estimator"] == name]
        ns = [r["n"] for r in rs]
        panels[0].plot(ns, [r.get("mae bmi d<=5", np.nan) for r in rs], marker="o", label=name)
        nong = [np.nanmean([r.get(f"mae {f}", np.nan) for f in NON_GAUSSIAN]) for r in rs]
        panels[1].plot(ns, nong, marker="o", label=name)
    panels[0].set(xscale="log", xlabel="samples n", ylabel="MAE (nats)", title="BMI tasks, d <= 5")
    panels[1].set(xscale="log", xlabel="samples n", ylabel="MAE (nats)", title="non-Gaussian copulas")
    sizes = sorted({r["n"] for r in summary})
    for ax in panels:  # the sizes themselves as ticks, no log-scale minor labels crowding them
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.xaxis.set_minor_formatter(NullFormatter())
    panels[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
