"""The MI benchmark (``scripts/benchmark_mi.py``): options, presets and the driver that runs the
sections and writes CSV, Markdown and plots."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import distributions
from ..estimators import INFONET_NAMES, available_estimators, get_estimator
from ..evaluation import make_level_set, make_triplet_set
from ..model import InfoNet
from .accuracy import (
    HIGH_LEVELS,
    HIGHDIM_ESTIMATORS,
    LEVELS,
    RHOS,
    default_families,
    distribution_rows,
    highdim_rows,
    level_rows,
    triplet_rows,
)
from .common import (
    SEEDS,
    Progress,
    _apply_preset,
    _concat,
    _load_model,
    _model_info,
    _opt,
    _relay,
    _run_info,
    write_csv,
)
from .report import _save_mi_plots, check_targets, mi_markdown
from .speed import speed_rows

log = logging.getLogger(__name__)

SECTIONS = ("speed", "levels", "triplets", "distributions", "highdim")


@dataclass
class MIBenchmarkConfig:
    """Options of the MI benchmark; None fields take the preset of the mode (quick, CPU or GPU)."""

    quick: bool = _opt(False, "small sizes: minutes on a CPU (says so in the output)")
    out: str = _opt("outputs/benchmark_mi", "output folder")
    device: str = _opt("auto", "InfoNet device: auto, cpu, cuda (speed is also timed on the CPU)")
    weights: str = _opt("", "InfoNet checkpoint (default: $INFONET_WEIGHTS or assets/infonet.pt)")
    estimators: tuple[str, ...] = _opt(
        ("infonet", "infonet-fast", "ksg", "kde", "mine", "gaussian"), "estimators to compare"
    )
    sections: tuple[str, ...] = _opt(SECTIONS, "sections to run")
    n: int = _opt(2000, "samples per sequence (levels, triplets, distributions)")
    per_level: int | None = _opt(None, "mixtures per MI level 0.0-0.9 (preset: quick 40, CPU 200, GPU 1000)")
    per_level_high: int | None = _opt(None, "mixtures per MI level 1.0-2.0 (preset: quick 10, CPU 100, GPU 500)")
    per_k: int | None = _opt(None, "triplets per K (preset: quick 60, CPU 500, GPU 2000)")
    mc_samples: int | None = _opt(None, "Monte-Carlo samples of the true MI (preset: quick 20000, else 100000)")
    speed_lengths: tuple[int, ...] = _opt((200, 500, 1000, 2000, 5000), "sequence lengths timed")
    speed_batches: tuple[int, ...] = _opt((16, 256), "pairs per call of the batched timings")
    speed_repeats: int | None = _opt(None, "timed repeats per cell, median reported (preset: quick 3, else 10)")
    speed_budget_s: float | None = _opt(None, "stop repeating a cell after this many seconds (preset: 2 / 10)")
    sweep_seeds: int | None = _opt(None, "samples per Gaussian rho and per family (preset: quick 3, else 10)")
    highdim_dims: tuple[int, ...] = _opt((16, 128), "dimensions of the independence test")
    highdim_n: int | None = _opt(None, "samples per high-dimensional pair (preset: quick 1000, else 2000)")
    highdim_pairs: int | None = _opt(None, "pairs per class in the independence test (preset: quick 10, else 50)")
    highdim_projections: int | None = _opt(None, "random projections of sliced MI (preset: quick 64, else 256)")
    mine_per_group: int | None = _opt(None, "MINE estimates per level / K / distribution (preset: quick 2, else 20)")
    mine_sections: tuple[str, ...] | None = _opt(None, "sections MINE runs in (preset: quick speed levels)")
    kde_per_group: int | None = _opt(None, "KDE estimates per level / K / distribution (preset: quick 2, else 50)")

    def cap(self, estimator: str, section: str) -> int | None:
        """Most estimates per group (level, K, distribution) for ``estimator`` in ``section``; None: all."""
        if section == "highdim":
            return None if estimator in HIGHDIM_ESTIMATORS else 0
        if estimator == "mine":
            return self.mine_per_group if section in self.mine_sections else 0
        if estimator == "kde":
            return self.kde_per_group
        return None


_PRESETS = {
    "quick": dict(per_level=40, per_level_high=10, per_k=60, mc_samples=20_000, speed_repeats=3, speed_budget_s=2.0,
                  sweep_seeds=3, highdim_n=1000, highdim_pairs=10, highdim_projections=64,
                  mine_per_group=2, mine_sections=("speed", "levels"), kde_per_group=2),
    "cpu": dict(per_level=200, per_level_high=100, per_k=500, mc_samples=100_000, speed_repeats=10, speed_budget_s=10.0,
                sweep_seeds=10, highdim_n=2000, highdim_pairs=50, highdim_projections=256,
                mine_per_group=20, mine_sections=("speed", "levels", "triplets", "distributions"), kde_per_group=50),
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
    cfg = _apply_preset(cfg, _PRESETS)
    _check_choices("estimator(s)", cfg.estimators, available_estimators())
    _check_choices("section(s)", cfg.sections, SECTIONS)
    _check_choices("MINE section(s)", cfg.mine_sections, SECTIONS)
    for name in ("n", "per_level", "per_level_high", "per_k", "mc_samples", "speed_repeats", "sweep_seeds"):
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


def run_mi_benchmark(
    cfg: MIBenchmarkConfig, *, model: InfoNet | None = None, progress: Progress | None = None
) -> MIReport:
    """Runs the sections of ``cfg`` (resolved with :func:`resolve_mi_config`) and writes to ``cfg.out``:
    results.md, one CSV per section, targets.csv and PNG plots.

    Args:
        model: an InfoNet to use instead of loading ``cfg.weights`` (e.g. a tiny one in tests).
        progress: optional ``progress(label, done, total)`` (see :func:`tqdm_progress`).
    Raises:
        FileNotFoundError: no InfoNet weights (when "infonet" is among the estimators).
    """
    cfg = resolve_mi_config(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    cuda = torch.device(cfg.device).type == "cuda"
    devices = ["cpu", "cuda"] if cuda else ["cpu"]
    models: dict[str, InfoNet] = {}
    neural = [name for name in cfg.estimators if name in INFONET_NAMES]
    if neural:
        models = {dev: _load_model(model, cfg.weights, dev) for dev in devices}
    estimators = {
        name: get_estimator(name, model=models[devices[-1]]) if name in neural else get_estimator(name)
        for name in cfg.estimators
    }
    info = {**_run_info(cfg.quick, cuda), "estimators": ", ".join(cfg.estimators)}
    if models:
        info |= _model_info(next(iter(models.values())), model is not None, cfg.weights)
    info["seeds"] = ", ".join(f"{k} {v}" for k, v in SEEDS.items() if k != "pairwise")

    results: dict[str, list[dict]] = {}
    timings: list[dict] = []
    caps = lambda section: {name: cfg.cap(name, section) for name in estimators}
    truth = dict(mc_samples=cfg.mc_samples, device="cuda" if cuda else "cpu")  # Monte-Carlo MI of the mixtures

    @contextmanager
    def timed(section: str):
        start = time.perf_counter()
        log.info("section %s", section)
        yield
        timings.append({"section": section, "seconds": time.perf_counter() - start})

    if "speed" in cfg.sections:
        timed_estimators = [(name, dev, get_estimator(name, model=models[dev])) for name in neural for dev in models]
        timed_estimators += [
            (name, "cpu", est) for name, est in estimators.items() if name not in neural and cfg.cap(name, "speed") != 0
        ]
        with timed("speed"):
            sizes = dict(lengths=cfg.speed_lengths, batches=cfg.speed_batches, repeats=cfg.speed_repeats)
            results["speed"] = speed_rows(timed_estimators, **sizes, budget_s=cfg.speed_budget_s, progress=progress)
    if "levels" in cfg.sections:
        with timed("levels"):
            make = lambda levels, per, seed, label: make_level_set(
                levels, per, cfg.n, seed, **truth, progress=_relay(progress, label)
            )
            low = make(LEVELS, cfg.per_level, SEEDS["levels"], "level set 0.0-0.9")
            high = make(HIGH_LEVELS, cfg.per_level_high, SEEDS["high_levels"], "level set 1.0-2.0")
            data = _concat(low, high)
            info["truth_se"] = f"{np.median(data.se):.4f} nats"
            results["levels"] = level_rows(estimators, data, caps=caps("levels"), progress=progress)
    if "triplets" in cfg.sections:
        with timed("triplets"):
            relay = _relay(progress, "triplet set")
            data = make_triplet_set(cfg.per_k, range(1, 11), cfg.n, SEEDS["triplets"], **truth, progress=relay)
            results["triplets"] = triplet_rows(estimators, data, caps=caps("triplets"), progress=progress)
    if "distributions" in cfg.sections:
        common = dict(n=cfg.n, seeds=cfg.sweep_seeds, caps=caps("distributions"), progress=progress)
        with timed("gaussian sweep"):
            gaussians = [distributions.gaussian(r) for r in RHOS]
            results["gaussian_sweep"] = distribution_rows(
                estimators, gaussians, seed=SEEDS["gaussian_sweep"], params=RHOS, label="gaussian sweep", **common
            )
        with timed("families"):
            results["families"] = distribution_rows(
                estimators, default_families(), seed=SEEDS["families"], label="families", **common
            )
    if "highdim" in cfg.sections:
        chosen = {name: est for name, est in estimators.items() if cfg.cap(name, "highdim") != 0}
        with timed("highdim"):
            sizes = dict(dims=cfg.highdim_dims, n=cfg.highdim_n, pairs=cfg.highdim_pairs)
            results["highdim"] = highdim_rows(
                chosen, **sizes, num_projections=cfg.highdim_projections, progress=progress
            )
    results["timings"] = timings
    results["targets"] = check_targets(
        levels=results.get("levels", []),
        triplets=results.get("triplets", []),
        sweep=results.get("gaussian_sweep", []),
        speed=results.get("speed", []),
    )
    markdown = mi_markdown(results, cfg, info)
    files = [write_csv(rows, out / f"{name}.csv") for name, rows in results.items() if rows]
    (out / "results.md").write_text(markdown)
    files += [out / "results.md", *_save_mi_plots(results, out)]
    return MIReport(results, info, markdown, files)
