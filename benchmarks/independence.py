"""Permutation tests of independence (``infonet.independence_test``) with each estimator as the statistic.

For each kind of data and sample size n: ``--datasets`` fresh samples, each tested with ``--permutations``
shuffles; the share of samples the test rejects at level 0.05. On independent data that share is the
test's size (it should be near 0.05: the test is exact); on dependent data it is its power. Every
estimator tests the same samples. The dependent kinds are weak on purpose (power well below 1), and
three of them have no correlation at all: a ring, a variance that grows with x, and a parabola.

    python -m benchmarks.independence                                  # about 7 min on 2 cores
    python -m benchmarks.independence --sizes 50 --datasets 40 --permutations 99 --estimators infonet,pearson
    python -m benchmarks.independence --plot assets/independence.png     # the shares rejected, as bars
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.common import SEEDS, plot_path
from infonet import available_estimators, get_estimator, independence_test
from infonet.cli import comma_list
from segmentation.visualize import save_figure

__all__ = ["KINDS", "independence_figure", "rejection_rows"]

LEVEL = 0.05


def _ring(rng, n):
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.cos(angle) + 0.4 * rng.standard_normal(n), np.sin(angle) + 0.4 * rng.standard_normal(n)


def _independent_ties(rng, n):
    return rng.binomial(3, 0.5, n), rng.poisson(2.0, n)


# name -> (sampler rng, n -> (x, y), whether x and y are independent)
KINDS: dict[str, tuple[Callable, bool]] = {
    "independent Gaussian": (lambda rng, n: (rng.standard_normal(n), rng.standard_normal(n)), True),
    "independent counts (ties)": (_independent_ties, True),
    "independent Cauchy": (lambda rng, n: (rng.standard_cauchy(n), rng.standard_cauchy(n)), True),
    "linear, rho 0.25": (
        lambda rng, n: (x := rng.standard_normal(n), 0.25 * x + 0.968 * rng.standard_normal(n)),
        False,
    ),
    "sine": (lambda rng, n: (x := rng.uniform(-3, 3, n), np.sin(3 * x) + 1.2 * rng.standard_normal(n)), False),
    "ring": (_ring, False),
    "variance grows with x": (lambda rng, n: (x := rng.uniform(-1, 1, n), x * rng.standard_normal(n)), False),
    "parabola": (lambda rng, n: (x := rng.uniform(-1, 1, n), x**2 + 0.4 * rng.standard_normal(n)), False),
}


def rejection_rows(estimators: list[str], sizes: list[int], *, datasets: int, permutations: int) -> list[dict]:
    """One row per (kind, n, estimator): the share of ``datasets`` samples rejected at ``LEVEL``, seconds per test."""
    models = {name: get_estimator(name) for name in estimators}
    rows = []
    for kind, (sample, independent) in KINDS.items():
        for n in sizes:
            rng = np.random.default_rng([SEEDS["independence"], n, list(KINDS).index(kind)])
            samples = [sample(rng, n) for _ in range(datasets)]
            for name, model in models.items():
                start = time.perf_counter()
                p = [independence_test(x, y, estimator=model, permutations=permutations, seed=i).p_value
                     for i, (x, y) in enumerate(samples)]  # fmt: skip
                seconds = (time.perf_counter() - start) / datasets
                rejected = float(np.mean(np.asarray(p) <= LEVEL))
                rows.append(
                    {"kind": kind, "independent": independent, "n": n, "estimator": name,
                     "rejected": rejected, "seconds_per_test": seconds}
                )  # fmt: skip
    return rows


def table(rows: list[dict]) -> str:
    """Markdown: one line per kind and n, one column per estimator (share rejected; its seconds per test below)."""
    names = list(dict.fromkeys(r["estimator"] for r in rows))
    lines = [
        "| data | n | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for kind in dict.fromkeys(r["kind"] for r in rows):
        for n in dict.fromkeys(r["n"] for r in rows):
            cells = {r["estimator"]: r["rejected"] for r in rows if r["kind"] == kind and r["n"] == n}
            what = "size" if next(r["independent"] for r in rows if r["kind"] == kind) else "power"
            lines.append(f"| {kind} ({what}) | {n} | " + " | ".join(f"{cells[m]:.2f}" for m in names) + " |")
    for n in dict.fromkeys(r["n"] for r in rows):
        secs = {m: np.mean([r["seconds_per_test"] for r in rows if r["n"] == n and r["estimator"] == m]) for m in names}
        lines.append(f"| seconds per test | {n} | " + " | ".join(f"{secs[m]:.3f}" for m in names) + " |")
    return "\n".join(lines)


def independence_figure(rows: list[dict]):
    """One panel per n: for each kind of data, the share each estimator's test rejected (bars), the
    level 0.05 dashed; the independent kinds first (their bars should reach the line, no further)."""
    from matplotlib.figure import Figure

    sizes = list(dict.fromkeys(r["n"] for r in rows))
    names = list(dict.fromkeys(r["estimator"] for r in rows))
    kinds = list(dict.fromkeys(r["kind"] for r in rows))
    fig = Figure(figsize=(11, 3.2 * len(sizes)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(sizes), 1, sharex=True))
    width = 0.8 / len(names)
    for ax, n in zip(axes, sizes, strict=True):
        for k, name in enumerate(names):
            share = [next(r["rejected"] for r in rows if r["n"] == n and r["kind"] == kind and r["estimator"] == name)
                     for kind in kinds]  # fmt: skip
            ax.bar(np.arange(len(kinds)) + (k - (len(names) - 1) / 2) * width, share, width, label=name, color=f"C{k}")
        ax.axhline(LEVEL, color="black", linestyle="--", linewidth=0.8)
        ax.set(ylim=(0, 1.02), ylabel="share rejected")
        ax.set_title(f"n = {n}: size on independent data (left), power on dependent data", fontsize=10)
    axes[-1].set_xticks(np.arange(len(kinds)), kinds, rotation=20, ha="right", fontsize=8)
    axes[0].legend(fontsize=8, ncol=len(names))
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--estimators", default="infonet,ksg,gaussian,pearson")
    parser.add_argument("--sizes", default="50,200", help="comma-separated sample sizes n (>= 8)")
    parser.add_argument("--datasets", type=int, default=100, help="fresh samples per kind and n")
    parser.add_argument("--permutations", type=int, default=199, help="shuffles per test")
    parser.add_argument("--out", default="", help="also write rows.json and table.md to this folder")
    parser.add_argument("--plot", default="", help="also draw the shares rejected here (.png, .svg or .pdf)")
    args = parser.parse_args(argv)
    try:
        sizes = comma_list(args.sizes, "sizes", type=int, minimum=8)
        estimators = comma_list(args.estimators, "estimators", choices=available_estimators())
    except ValueError as err:
        parser.error(str(err))
    if not sizes or not estimators or args.datasets < 1 or args.permutations < 1:
        parser.error("--sizes and --estimators name at least one each; --datasets and --permutations are at least 1")
    out = Path(args.out) if args.out else None
    if out and out.exists() and not out.is_dir():
        parser.error(f"--out {out} is a file, not a folder")
    try:
        plot = plot_path(args.plot)
    except ValueError as err:
        parser.error(str(err))
    try:
        rows = rejection_rows(estimators, sizes, datasets=args.datasets, permutations=args.permutations)
    except ValueError as err:
        parser.exit(2, f"error: {err}\n")
    text = table(rows)
    print(text)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "rows.json").write_text(json.dumps({"options": vars(args), "rows": rows}, indent=1))
        (out / "table.md").write_text(text + "\n")
        print(f"wrote {out / 'rows.json'}, {out / 'table.md'}")
    if plot:
        save_figure(independence_figure(rows), plot)
        print(f"wrote {plot}")


if __name__ == "__main__":
    main()
