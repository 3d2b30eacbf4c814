"""The MI benchmark (``scripts/benchmark_mi.py``): options and presets, the driver that runs the
sections, and its report (CSV, Markdown and plots)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from infonet import distributions
from infonet.estimators import INFONET_NAMES, available_estimators, get_estimator
from infonet.evaluation import make_level_set, make_triplet_set
from infonet.interface import MIEstimator
from infonet.model import InfoNet

from .accuracy import (
    HIGH_LEVELS,
    HIGHDIM_ESTIMATORS,
    LEVELS,
    NEAR_DETERMINISTIC_SIZES,
    RHOS,
    default_families,
    distribution_rows,
    highdim_rows,
    level_rows,
    near_deterministic_families,
    triplet_rows,
)
from .common import (
    SEEDS,
    Progress,
    apply_preset,
    cell,
    load_model,
    markdown_table,
    model_info,
    option,
    relay,
    report_header,
    run_info,
    write_csv,
)
from .multivariate import MV_ESTIMATORS, multivariate_markdown, multivariate_rows, save_multivariate_plot
from .sizes import SIZE_LEVELS, SIZES, size_rows, size_summary
from .speed import speed_rows
from .targets import check_targets, pooled_mae, targets_table

log = logging.getLogger(__name__)

SECTIONS = ("speed", "sizes", "levels", "triplets", "distributions", "highdim", "multivariate")


@dataclass
class MIBenchmarkConfig:
    """Options of the MI benchmark; None fields take the preset of the mode (quick, CPU or GPU)."""

    quick: bool = option(False, "small sizes: minutes on a CPU (says so in the output)")
    out: str = option("outputs/benchmark_mi", "output folder")
    device: str = option("auto", "InfoNet device: auto, cpu, cuda (speed is also timed on the CPU)")
    weights: str = option(
        "", "InfoNet checkpoint (default: $INFONET_WEIGHTS or the shipped infonet/weights/infonet.pt)"
    )
    estimators: tuple[str, ...] = option(
        ("infonet", "infonet-sym8", "ksg", "ksg-sklearn", "kde", "mine", "gaussian"), "estimators to compare"
    )
    sections: tuple[str, ...] = option(SECTIONS, "sections to run")
    n: int = option(2000, "samples per sequence (levels, triplets, distributions)")
    sizes: tuple[int, ...] = option(SIZES, "sample sizes of the sizes section")
    size_per_level: int | None = option(
        None, "mixtures per MI level 0.0-1.0 in the sizes section (preset: quick 8, else 32)"
    )
    size_chunks: int = option(16, "disjoint chunks of n samples per base sequence in the sizes section (at small n)")
    per_level: int | None = option(None, "mixtures per MI level 0.0-0.9 (preset: quick 40, CPU 200, GPU 1000)")
    per_level_high: int | None = option(None, "mixtures per MI level 1.0-2.0 (preset: quick 10, CPU 100, GPU 500)")
    per_k: int | None = option(None, "triplets per K (preset: quick 60, CPU 500, GPU 2000)")
    mc_samples: int | None = option(None, "Monte-Carlo samples of the true MI (preset: quick 20000, else 100000)")
    speed_lengths: tuple[int, ...] = option((200, 500, 1000, 2000, 5000), "sequence lengths timed")
    speed_batches: tuple[int, ...] = option((16, 256), "pairs per call of the batched timings")
    speed_repeats: int | None = option(None, "timed repeats per cell, median reported (preset: quick 3, else 10)")
    speed_budget_s: float | None = option(None, "stop repeating a cell after this many seconds (preset: 2 / 10)")
    sweep_seeds: int | None = option(None, "samples per Gaussian rho and per family (preset: quick 3, else 10)")
    highdim_dims: tuple[int, ...] = option((16, 128), "dimensions of the independence test")
    highdim_n: int | None = option(None, "samples per high-dimensional pair (preset: quick 1000, else 2000)")
    highdim_pairs: int | None = option(None, "pairs per class in the independence test (preset: quick 10, else 50)")
    highdim_projections: int | None = option(None, "random projections of sliced MI (preset: quick 64, else 256)")
    mv_sizes: tuple[int, ...] | None = option(None, "sample sizes of the multivariate section (preset: quick 128 1000)")
    mv_repeats: int | None = option(
        None, "samples per task and n in the multivariate section (preset: quick 1, else 3)"
    )
    mv_max_dim: int = option(25, "largest dimension per side of the BMI tasks in the multivariate section")
    mv_estimators: tuple[str, ...] = option(MV_ESTIMATORS, "estimators of the multivariate section")
    vector_weights: str = option("", "multivariate InfoNet checkpoint (default: the shipped weights)")
    mine_per_group: int | None = option(None, "MINE estimates per level / K / distribution (preset: quick 2, else 20)")
    mine_sections: tuple[str, ...] | None = option(None, "sections MINE runs in (preset: quick speed levels)")
    kde_per_group: int | None = option(None, "KDE estimates per level / K / distribution (preset: quick 2, else 50)")

    def cap(self, estimator: str, section: str) -> int | None:
        """Most estimates per group (level, K, distribution) for ``estimator`` in ``section``; None: all."""
        if section == "highdim":
            return None if estimator in HIGHDIM_ESTIMATORS else 0
        if estimator == "mine":
            return self.mine_per_group if section in self.mine_sections and section != "sizes" else 0
        if estimator == "kde":
            return 0 if section == "sizes" else self.kde_per_group
        return None


_PRESETS = {
    "quick": dict(size_per_level=8, per_level=40, per_level_high=10, per_k=60, mc_samples=20_000, speed_repeats=3, speed_budget_s=2.0,
                  sweep_seeds=3, highdim_n=1000, highdim_pairs=10, highdim_projections=64,
                  mv_sizes=(128, 1000), mv_repeats=1, mine_per_group=2, mine_sections=("speed", "levels"), kde_per_group=2),
    "cpu": dict(size_per_level=32, per_level=200, per_level_high=100, per_k=500, mc_samples=100_000, speed_repeats=10, speed_budget_s=10.0,
                sweep_seeds=10, highdim_n=2000, highdim_pairs=50, highdim_projections=256,
                mv_sizes=(128, 1000, 5000), mv_repeats=3, mine_per_group=20, mine_sections=("speed", "levels", "triplets", "distributions"), kde_per_group=50),
}  # fmt: skip
_PRESETS["gpu"] = {**_PRESETS["cpu"], "per_level": 1000, "per_level_high": 500, "per_k": 2000}


def _check_choices(name: str, values, choices) -> None:
    bad = [v for v in values if v not in choices]
    if bad or not values:
        raise ValueError(f"unknown {name} {bad or list(values)}; choose from {', '.join(choices)}")


def resolve_mi_config(cfg: MIBenchmarkConfig) -> MIBenchmarkConfig:
    """Fills the None options from the preset of the mode and resolves the device.

    Raises:
        ValueError: unknown estimators or sections, or sizes out of range.
    """
    cfg = apply_preset(cfg, _PRESETS)
    _check_choices("estimator(s)", cfg.estimators, available_estimators())
    _check_choices("section(s)", cfg.sections, SECTIONS)
    _check_choices("MINE section(s)", cfg.mine_sections, SECTIONS)
    _check_choices("multivariate estimator(s)", cfg.mv_estimators, MV_ESTIMATORS)
    if not cfg.sizes or min(cfg.sizes) < 8:
        raise ValueError(f"sizes must be >= 8 samples, got {cfg.sizes}")
    for name in (
        "n",
        "size_per_level",
        "size_chunks",
        "per_level",
        "per_level_high",
        "per_k",
        "mc_samples",
        "speed_repeats",
        "sweep_seeds",
    ):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(cfg, name)}")
    for name in ("highdim_n", "highdim_pairs", "highdim_projections"):
        if getattr(cfg, name) < 2:
            raise ValueError(f"{name} must be >= 2, got {getattr(cfg, name)}")
    if min(cfg.speed_lengths + cfg.speed_batches + cfg.highdim_dims) < 1:
        raise ValueError("speed lengths, batch sizes and dimensions must be >= 1")
    return cfg


@dataclass
class MIReport:
    """What :func:`run_mi_benchmark` measured: rows per section ("speed", "levels", "triplets",
    "gaussian_sweep", "families", "highdim", "targets", "timings"), run info, Markdown and files."""

    results: dict[str, list[dict]]
    info: dict
    markdown: str
    files: list[Path]


def _concat(a, b):
    """Two level sets (or any dataclasses of equal-length arrays) as one."""
    return type(a)(**{f.name: np.concatenate([getattr(a, f.name), getattr(b, f.name)]) for f in fields(a)})


@dataclass
class _Run:
    """What the sections of one run read: resolved options, estimators, InfoNet per device, report info."""

    cfg: MIBenchmarkConfig
    estimators: dict[str, MIEstimator]  # name -> estimator (neural ones on the last device)
    models: dict[str, InfoNet]  # device -> InfoNet; empty without a neural estimator
    info: dict
    progress: Progress | None

    @property
    def truth(self) -> dict:
        """Options of the Monte-Carlo MI of the mixtures."""
        return dict(mc_samples=self.cfg.mc_samples, device="cuda" if _on_cuda(self.cfg) else "cpu")

    def caps(self, section: str) -> dict[str, int | None]:
        return {name: self.cfg.cap(name, section) for name in self.estimators}


def _on_cuda(cfg: MIBenchmarkConfig) -> bool:
    return torch.device(cfg.device).type == "cuda"


def _start_run(cfg: MIBenchmarkConfig, model: InfoNet | None, progress: Progress | None) -> _Run:
    """Loads InfoNet on every device used (the CPU, and CUDA when there), builds the estimators
    and the report's first lines."""
    devices = ["cpu", "cuda"] if _on_cuda(cfg) else ["cpu"]
    neural = [name for name in cfg.estimators if name in INFONET_NAMES]
    models = {dev: load_model(model, cfg.weights, dev) for dev in devices} if neural else {}
    estimators = {
        name: get_estimator(name, model=models[devices[-1]]) if name in neural else get_estimator(name)
        for name in cfg.estimators
    }
    info = {**run_info(cfg.quick, _on_cuda(cfg)), "estimators": ", ".join(cfg.estimators)}
    if models:
        info |= model_info(next(iter(models.values())), model is not None, cfg.weights)
    info["seeds"] = ", ".join(f"{k} {v}" for k, v in SEEDS.items() if k != "pairwise")
    return _Run(cfg, estimators, models, info, progress)


def _speed(run: _Run) -> list[dict]:
    """Section 1: InfoNet timed on every device, the other estimators on the CPU."""
    cfg = run.cfg
    timed = [
        (name, dev, get_estimator(name, model=m))
        for name in run.estimators
        if name in INFONET_NAMES
        for dev, m in run.models.items()
    ]
    timed += [
        (name, "cpu", est)
        for name, est in run.estimators.items()
        if name not in INFONET_NAMES and cfg.cap(name, "speed") != 0
    ]
    sizes = dict(lengths=cfg.speed_lengths, batches=cfg.speed_batches, repeats=cfg.speed_repeats)
    return speed_rows(timed, **sizes, budget_s=cfg.speed_budget_s, progress=run.progress)


def _sizes(run: _Run) -> list[dict]:
    """Section "sizes": error and bias at MI 0 against n, every estimator on the same chunked samples."""
    cfg = run.cfg
    step = relay(run.progress, "level set for the sizes")
    data = make_level_set(SIZE_LEVELS, cfg.size_per_level, max(cfg.sizes), SEEDS["sizes"], **run.truth, progress=step)
    chosen = {name: est for name, est in run.estimators.items() if cfg.cap(name, "sizes") != 0}
    return size_rows(
        chosen,
        data,
        sizes=cfg.sizes,
        family_seed=SEEDS["size_families"],
        max_chunks=cfg.size_chunks,
        progress=run.progress,
    )


def _levels(run: _Run) -> list[dict]:
    """Section 2: the level sets 0.0-0.9 and 1.0-2.0 as one; notes the truth's standard error in the info."""
    cfg = run.cfg
    make = lambda levels, per, seed, label: make_level_set(
        levels, per, cfg.n, seed, **run.truth, progress=relay(run.progress, label)
    )
    low = make(LEVELS, cfg.per_level, SEEDS["levels"], "level set 0.0-0.9")
    high = make(HIGH_LEVELS, cfg.per_level_high, SEEDS["high_levels"], "level set 1.0-2.0")
    data = _concat(low, high)
    run.info["truth_se"] = f"{np.median(data.se):.4f} nats"
    return level_rows(run.estimators, data, caps=run.caps("levels"), progress=run.progress)


def _triplets(run: _Run) -> list[dict]:
    """Section 3: order accuracy on triplets of K = 1..10 components."""
    cfg = run.cfg
    step = relay(run.progress, "triplet set")
    data = make_triplet_set(cfg.per_k, range(1, 11), cfg.n, SEEDS["triplets"], **run.truth, progress=step)
    return triplet_rows(run.estimators, data, caps=run.caps("triplets"), progress=run.progress)


def _distribution_rows(run: _Run, dists, seed: int, label: str, params=None, n: int | None = None) -> list[dict]:
    cfg = run.cfg
    common = dict(n=n or cfg.n, seeds=cfg.sweep_seeds, caps=run.caps("distributions"), progress=run.progress)
    return distribution_rows(run.estimators, dists, seed=seed, params=params, label=label, **common)


def _gaussian_sweep(run: _Run) -> list[dict]:
    """Section 4a: Gaussians at every rho in ``RHOS`` against the closed form."""
    gaussians = [distributions.gaussian(r) for r in RHOS]
    return _distribution_rows(run, gaussians, SEEDS["gaussian_sweep"], "gaussian sweep", params=RHOS)


def _families(run: _Run) -> list[dict]:
    """Section 4b: the other families with known MI."""
    return _distribution_rows(run, default_families(), SEEDS["families"], "families")


def _near_deterministic(run: _Run) -> list[dict]:
    """Section 4c: MI of 3-8 nats at small and large n (the same seeds at every n)."""
    sizes = sorted({*NEAR_DETERMINISTIC_SIZES, run.cfg.n})
    seed, dists = SEEDS["near_deterministic"], near_deterministic_families()
    label = lambda n: f"near-deterministic, n = {n}"  # noqa: E731
    return [r | {"n": n} for n in sizes for r in _distribution_rows(run, dists, seed, label(n), n=n)]


def _highdim(run: _Run) -> list[dict]:
    """Section 5: independence testing with sliced MI, for the estimators cheap enough."""
    cfg = run.cfg
    chosen = {name: est for name, est in run.estimators.items() if cfg.cap(name, "highdim") != 0}
    sizes = dict(dims=cfg.highdim_dims, n=cfg.highdim_n, pairs=cfg.highdim_pairs)
    return highdim_rows(chosen, **sizes, num_projections=cfg.highdim_projections, progress=run.progress)


def _multivariate(run: _Run) -> list[dict]:
    """Section 6: MI between vectors (BMI tasks, independent pairs, mixtures), every estimator on the same samples."""
    from infonet.vector_estimate import load_vector_model

    cfg = run.cfg
    vector = load_vector_model(cfg.vector_weights or None) if "infonet" in cfg.mv_estimators else None
    sizes = dict(sizes=cfg.mv_sizes, repeats=cfg.mv_repeats, max_dim=cfg.mv_max_dim, mc_samples=cfg.mc_samples)
    rows, info = multivariate_rows(**sizes, estimators=cfg.mv_estimators, progress=run.progress, model=vector)
    run.info["bmi"] = info["bmi"]
    return rows


# section of the options -> its timed steps: (label in the timings table, key of the results, step)
_STEPS: dict[str, list[tuple[str, str, Callable[[_Run], list[dict]]]]] = {
    "speed": [("speed", "speed", _speed)],
    "sizes": [("sizes", "sizes", _sizes)],
    "levels": [("levels", "levels", _levels)],
    "triplets": [("triplets", "triplets", _triplets)],
    "distributions": [
        ("gaussian sweep", "gaussian_sweep", _gaussian_sweep),
        ("families", "families", _families),
        ("near-deterministic", "near_deterministic", _near_deterministic),
    ],
    "highdim": [("highdim", "highdim", _highdim)],
    "multivariate": [("multivariate", "multivariate", _multivariate)],
}


def _run_sections(run: _Run) -> dict[str, list[dict]]:
    """Rows per results key, in the order of ``SECTIONS``, then "timings" (seconds per step)."""
    results: dict[str, list[dict]] = {}
    timings = []
    for section in SECTIONS:
        if section not in run.cfg.sections:
            continue
        for label, key, step in _STEPS[section]:
            log.info("section %s", label)
            start = time.perf_counter()
            results[key] = step(run)
            timings.append({"section": label, "seconds": time.perf_counter() - start})
    results["timings"] = timings
    return results


def _write_report(results: dict[str, list[dict]], run: _Run) -> tuple[str, list[Path]]:
    """(Markdown, files): results.md, one CSV per results key with rows, and the PNG plots, in ``cfg.out``."""
    out = Path(run.cfg.out)
    markdown = mi_markdown(results, run.cfg, run.info)
    files = [write_csv(rows, out / f"{name}.csv") for name, rows in results.items() if rows]
    (out / "results.md").write_text(markdown)
    return markdown, [*files, out / "results.md", *_save_plots(results, out)]


def run_mi_benchmark(
    cfg: MIBenchmarkConfig, *, model: InfoNet | None = None, progress: Progress | None = None
) -> MIReport:
    """Runs the sections of ``cfg`` (resolved with :func:`resolve_mi_config`) and writes to ``cfg.out``:
    results.md, one CSV per section, targets.csv and PNG plots.

    Args:
        model: an InfoNet to use instead of loading ``cfg.weights`` (e.g. a tiny one in tests).
        progress: optional ``progress(label, done, total)`` (e.g. :func:`segmentation.progress.stage_bars`).
    Raises:
        FileNotFoundError: no InfoNet weights (when "infonet" is among the estimators).
    """
    cfg = resolve_mi_config(cfg)
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    run = _start_run(cfg, model, progress)
    results = _run_sections(run)
    results["targets"] = check_targets(
        levels=results.get("levels", []),
        triplets=results.get("triplets", []),
        sweep=results.get("gaussian_sweep", []),
        speed=results.get("speed", []),
        sizes=size_summary(results["sizes"]) if results.get("sizes") else (),
    )
    markdown, files = _write_report(results, run)
    return MIReport(results, run.info, markdown, files)


# ----------------------------------------------------------------------------- report


def _pivot(rows: list[dict], row_key: Callable[[dict], tuple], col_key: str, value: Callable[[dict], str]) -> tuple:
    """(columns, body): one body row per distinct ``row_key(r)`` (a tuple: its leading cells), one
    column per distinct ``r[col_key]``, cells ``value(r)`` ("-" where no row has them)."""
    cols = list(dict.fromkeys(r[col_key] for r in rows))
    table: dict[tuple, dict] = {}
    for r in rows:
        table.setdefault(row_key(r), {})[r[col_key]] = value(r)
    return cols, [[*key, *(cells.get(c, "-") for c in cols)] for key, cells in table.items()]


def _counts(rows: list[dict]) -> dict[str, str]:
    """Per estimator, the count per group as "c" or "lo-hi"."""
    out: dict[str, list[int]] = {}
    for r in rows:
        out.setdefault(r["estimator"], []).append(r["count"])
    return {k: (str(min(v)) if min(v) == max(v) else f"{min(v)}-{max(v)}") for k, v in out.items()}


def mi_markdown(results: dict[str, list[dict]], cfg: MIBenchmarkConfig, info: dict) -> str:
    """The report of :func:`run_mi_benchmark` as Markdown: run info, targets, then one section per table."""
    out = [*report_header("InfoNet MI benchmark", info), "", "## Targets", "", targets_table(results["targets"])]
    if cfg.quick:
        out += [
            "",
            f"**Quick mode**: {cfg.per_level} mixtures per level 0.0-0.9 and {cfg.per_level_high} per level 1.0-2.0, "
            f"{cfg.per_k} triplets per K, truth from {cfg.mc_samples:,} Monte-Carlo samples, {cfg.sweep_seeds} samples "
            f"per distribution, {cfg.highdim_pairs} pairs per class and {cfg.highdim_projections} projections in the "
            "independence test: smaller than the paper (1,000 per level, 2,000 per K); the numbers are indicative only.",
        ]
    for key, section in _MARKDOWN.items():
        if results.get(key):
            out += section(results[key], cfg, info)
    return "\n".join(out) + "\n"


def _speed_markdown(rows: list[dict], cfg: MIBenchmarkConfig, info: dict) -> list[str]:
    row_key = lambda r: (r["estimator"], r["device"], str(r["batch"]))
    cols, body = _pivot(rows, row_key, "n", lambda r: cell(r["seconds"], ".3g"))
    header = ["estimator", "device", "pairs per call", *(f"n={c}" for c in cols)]
    return [
        "",
        "## 1. Speed: seconds per estimate (paper Table 1)",
        "",
        markdown_table(header, body),
        "",
        f"Median of up to {cfg.speed_repeats} timed calls after warm-up (at most {cfg.speed_budget_s:g} s of "
        f"repeats per cell), CPU work on {rows[0]['threads']} torch thread(s); batched rows are seconds per call / "
        "pairs per call. MINE-500 at n = 1000 only. Paper (RTX 4090 + Threadripper), n = 1000: KSG 0.049, "
        "KDE 0.083, MINE-500 0.908, InfoNet 0.011 (0.002 with 16 batched).",
    ]


def _levels_markdown(rows: list[dict], cfg: MIBenchmarkConfig, info: dict) -> list[str]:
    counts = _counts(rows)
    label = lambda r: (f"{r['estimator']} ({counts[r['estimator']]}/level)",)
    out = ["", f"## 2. Error by true-MI level (paper Table 2), n = {cfg.n}", ""]
    for title, key, spec in (
        ("Mean error (bias)", "mean_error", "+.4f"),
        ("Variance", "variance", ".2e"),
        ("MAE", "mae", ".4f"),
    ):
        cols, body = _pivot(rows, label, "level", lambda r, key=key, spec=spec: cell(r[key], spec))
        out += [f"**{title}**", "", markdown_table(["estimator", *(f"{c:.1f}" for c in cols)], body), ""]
    note = f"Truth: Monte-Carlo MI from {cfg.mc_samples:,} samples (median standard error {info.get('truth_se', '-')})."
    if "mine" in counts:
        note += " MINE-500 (and KDE) ran on the first sequences of each level only, as the counts say."
    return [*out, note]


def _triplets_markdown(rows: list[dict], cfg: MIBenchmarkConfig, info: dict) -> list[str]:
    counts = _counts(rows)
    label = lambda r: (f"{r['estimator']} ({counts[r['estimator']]}/K)",)
    out = ["", f"## 3. Order accuracy, % (paper Table 3), n = {cfg.n}", "", "All triplets:", ""]
    for key, caption in (
        ("accuracy", None),
        ("accuracy_gap", "The paper's protocol (only triplets whose two true MIs differ by >= 0.02 nats):"),
    ):
        cols, body = _pivot(rows, label, "components", lambda r, key=key: cell(100 * r[key], ".1f"))
        out += ["", caption, ""] if caption else []
        out.append(markdown_table(["estimator", *(f"K={c}" for c in cols)], body))
    return out


def _sweep_markdown(rows: list[dict], cfg: MIBenchmarkConfig, info: dict) -> list[str]:
    names = list(dict.fromkeys(r["estimator"] for r in rows))
    summary = [[n, cell(pooled_mae(rows, n)), _counts([r for r in rows if r["estimator"] == n])[n]] for n in names]
    row_key = lambda r: (f"{r['param']:+.1f}", f"{r['true_mi']:.4f}")
    cols, body = _pivot(rows, row_key, "estimator", lambda r: cell(r["mean_estimate"]))
    return [
        "",
        f"## 4. Gaussian sweep (n = {cfg.n}) and other families",
        "",
        markdown_table(["estimator", "MAE vs closed form", "samples per rho"], summary),
        "",
        "Mean estimate per rho:",
        "",
        markdown_table(["rho", "true MI", *cols], body),
    ]


def _families_markdown(rows: list[dict], cfg: MIBenchmarkConfig, info: dict) -> list[str]:
    row_key = lambda r: (r["distribution"], f"{r['true_mi']:.4f}")
    value = lambda r: f"{r['mean_estimate']:.4f} ± {r['sd']:.4f}" if r["count"] > 1 else cell(r["mean_estimate"])
    cols, body = _pivot(rows, row_key, "estimator", value)
    return [
        "",
        "Other families (mean ± sd of the estimates):",
        "",
        markdown_table(["distribution", "true MI", *cols], body),
    ]


def _near_deterministic_markdown(rows: list[dict], cfg: MIBenchmarkConfig, info: dict) -> list[str]:
    names = list(dict.fromkeys(r["estimator"] for r in rows))
    sizes = sorted({r["n"] for r in rows})
    mae = lambda name, n: cell(np.mean([r["mae"] for r in rows if r["estimator"] == name and r["n"] == n]))  # noqa: E731
    summary = [[name, *(mae(name, n) for n in sizes)] for name in names]
    row_key = lambda r: (r["distribution"], f"{r['true_mi']:.3f}", str(r["n"]))  # noqa: E731
    cols, body = _pivot(rows, row_key, "estimator", lambda r: f"{r['mean_estimate']:.3f} ± {r['sd']:.3f}")
    return [
        "",
        "Near-deterministic pairs (MI 3-8 nats; mean MAE over the distributions, then mean ± sd of the estimates):",
        "",
        markdown_table(["estimator", *(f"MAE, n = {n}" for n in sizes)], summary),
        "",
        markdown_table(["distribution", "true MI", "n", *cols], body),
    ]


def _highdim_markdown(rows: list[dict], cfg: MIBenchmarkConfig, info: dict) -> list[str]:
    cols, body = _pivot(rows, lambda r: (str(r["d"]), r["dependence"]), "estimator", lambda r: cell(r["auc"], ".3f"))
    r0 = rows[0]
    return [
        "",
        "## 5. High-dimensional independence test: ROC AUC of sliced MI (paper Fig. 5)",
        "",
        markdown_table(["d", "dependence", *cols], body),
        "",
        f"{r0['pairs']} dependent vs {r0['pairs']} independent pairs, n = {r0['n']}, {r0['projections']} random "
        "projections per pair (the same for every estimator). MINE and KDE are not run here (one estimate "
        "per projection). See `infonet.evaluation.highdim_pairs` for the dependence kinds.",
    ]


def _timings_markdown(rows: list[dict], cfg: MIBenchmarkConfig, info: dict) -> list[str]:
    timings = [[r["section"], f"{r['seconds']:.1f}"] for r in rows]
    return ["", "## Section times", "", markdown_table(["section", "seconds"], timings)]


def _sizes_markdown(rows: list[dict], cfg: MIBenchmarkConfig) -> list[str]:
    summary = size_summary(rows)
    names = list(dict.fromkeys(r["estimator"] for r in summary))
    out = ["", "## Accuracy against the sample size n (every estimator on the same samples)", ""]
    for title, key, spec in (
        ("MAE over MI levels 0.0-1.0 (mixtures; mean of the per-level MAEs)", "level_mae", ".3f"),
        ("Mean estimate at true MI 0 (independent pairs)", "mean_at_zero", "+.3f"),
        (
            "MAE over the standard families (Gaussian, half-cube, asinh, wiggly, bimodal, additive noise, Student-t)",
            "family_mae",
            ".3f",
        ),
        ("90 % interval coverage (levels and independent pairs)", "coverage90", ".3f"),
        ("Seconds per estimate (batched, this run)", "seconds", ".2e"),
    ):
        if key == "coverage90" and all(r[key] != r[key] for r in summary):
            continue
        cols, body = _pivot(summary, lambda r: (str(r["n"]),), "estimator", lambda r, k=key, sp=spec: cell(r[k], sp))
        out += [f"**{title}**", "", markdown_table(["n", *cols], body), ""]
    levels = [r for r in rows if r["kind"] == "level"]
    cols, body = _pivot(
        levels, lambda r: (r["estimator"], str(r["n"])), "group", lambda r: cell(r["mean_error"], "+.3f")
    )
    out += [
        "**Mean error by true-MI level**",
        "",
        markdown_table(["estimator", "n", *(f"{c:.1f}" for c in cols)], body),
        "",
    ]
    out.append(
        f"Each n: the first min({cfg.size_chunks}, {max(cfg.sizes)} // n) disjoint chunks of n samples of every base "
        f"sequence ({cfg.size_per_level} mixtures per level, truth from {cfg.mc_samples:,} Monte-Carlo samples; "
        f"4 samples of each family), so every estimator ({', '.join(names)}) sees the same samples."
    )
    return out


# results key -> its Markdown section, in the report's order
_MARKDOWN = {
    "speed": _speed_markdown,
    "sizes": lambda rows, cfg, info: _sizes_markdown(rows, cfg),
    "levels": _levels_markdown,
    "triplets": _triplets_markdown,
    "gaussian_sweep": _sweep_markdown,
    "families": _families_markdown,
    "near_deterministic": _near_deterministic_markdown,
    "highdim": _highdim_markdown,
    "multivariate": lambda rows, cfg, info: multivariate_markdown(rows, info),
    "timings": _timings_markdown,
}


# ----------------------------------------------------------------------------- plots


def _by(rows: list[dict], key="estimator") -> dict[str, list[dict]]:
    """Rows grouped by ``r[key]`` (or ``key(r)`` for a callable), in first-seen order."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r[key] if isinstance(key, str) else key(r), []).append(r)
    return groups


def _save_plots(results: dict[str, list[dict]], out: Path) -> list[Path]:
    """PNG plots of the MI benchmark's sections into ``out`` (those with rows). Returns the files written."""
    saved = []
    for key, (name, plot) in _PLOTS.items():
        if results.get(key):
            figure = plot(results[key])
            figure.tight_layout()
            figure.savefig(out / name, dpi=120)
            saved.append(out / name)
    if results.get("multivariate"):
        save_multivariate_plot(results["multivariate"], out / "multivariate.png")
        saved.append(out / "multivariate.png")
    return saved


def _axes(size=(6.5, 4.5)):
    from matplotlib.figure import Figure

    return Figure(figsize=size).add_subplot()


def _speed_plot(rows: list[dict]):
    ax = _axes()
    for label, rs in _by(rows, lambda r: f"{r['estimator']} {r['device']} x{r['batch']}").items():
        ax.plot([r["n"] for r in rs], [r["seconds"] for r in rs], marker="o", label=label)
    ax.set(xscale="log", yscale="log", xlabel="sequence length n", ylabel="seconds per estimate", title="Speed")
    ax.legend(fontsize=7)
    return ax.figure


def _sizes_plot(rows: list[dict]):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4))
    panels = fig.subplots(1, 3)
    for name, rs in _by(size_summary(rows)).items():
        n = [r["n"] for r in rs]
        for ax, key in zip(panels, ("level_mae", "family_mae", "mean_at_zero"), strict=True):
            ax.plot(n, [r[key] for r in rs], marker="o", label=name)
    titles = ("MAE, levels 0.0-1.0", "MAE, standard families", "mean estimate at MI 0")
    for ax, title in zip(panels, titles, strict=True):
        ax.set(xscale="log", xlabel="samples n", ylabel="nats", title=title)
    panels[2].axhline(0, color="k", lw=0.5)
    panels[0].legend(fontsize=8)
    return fig


def _levels_plot(rows: list[dict]):
    ax = _axes()
    for name, rs in _by(rows).items():
        sd = [math.sqrt(r["variance"]) for r in rs]
        ax.errorbar([r["level"] for r in rs], [r["mean_error"] for r in rs], yerr=sd, marker="o", capsize=3, label=name)
    ax.axhline(0, color="k", lw=0.5)
    ax.set(xlabel="true MI level (nats)", ylabel="mean error ± sd (nats)", title="Error by true-MI level")
    ax.legend()
    return ax.figure


def _triplets_plot(rows: list[dict]):
    ax = _axes()
    for name, rs in _by(rows).items():
        ax.plot([r["components"] for r in rs], [100 * r["accuracy"] for r in rs], marker="o", label=name)
    ax.set(xlabel="mixture components K", ylabel="order accuracy (%)", title="Order accuracy")
    ax.legend()
    return ax.figure


def _sweep_plot(rows: list[dict]):
    ax = _axes()
    by_name = _by(rows)
    first = next(iter(by_name.values()))
    ax.plot([r["param"] for r in first], [r["true_mi"] for r in first], "k--", label="closed form")
    for name, rs in by_name.items():
        rho, est, sd = ([r[k] for r in rs] for k in ("param", "mean_estimate", "sd"))
        ax.errorbar(rho, est, yerr=sd, marker="o", ms=3, capsize=2, label=name)
    ax.set(xlabel="correlation rho", ylabel="MI (nats)", title="Gaussian sanity sweep")
    ax.legend()
    return ax.figure


def _highdim_plot(rows: list[dict]):
    ax = _axes((7.5, 4.5))
    by_name = _by(rows)
    groups = list(dict.fromkeys(f"d={r['d']}\n{r['dependence']}" for r in rows))
    width = 0.8 / len(by_name)
    for j, (name, rs) in enumerate(by_name.items()):
        ax.bar(np.arange(len(rs)) + j * width, [r["auc"] for r in rs], width, label=name)
    ax.set_xticks(np.arange(len(groups)) + 0.4 - width / 2, groups, fontsize=7)
    ax.axhline(0.5, color="k", lw=0.5)
    ax.set(ylim=(0, 1.05), ylabel="ROC AUC", title="Independence testing with sliced MI")
    ax.legend(fontsize=8, loc="lower left")
    return ax.figure


# results key -> (file, its plot)
_PLOTS = {
    "speed": ("speed.png", _speed_plot),
    "sizes": ("sizes.png", _sizes_plot),
    "levels": ("levels.png", _levels_plot),
    "triplets": ("order_accuracy.png", _triplets_plot),
    "gaussian_sweep": ("gaussian_sweep.png", _sweep_plot),
    "highdim": ("highdim_auc.png", _highdim_plot),
}
