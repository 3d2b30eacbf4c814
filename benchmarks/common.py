"""Helpers shared by the benchmark sections and drivers: seeds, options and presets, the model and
run info of a report, progress relay, timing, CSV and Markdown tables.

Nothing here knows a section; every section module and both drivers import from here.
"""

from __future__ import annotations

import copy
import csv
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import field, replace
from pathlib import Path

import numpy as np
import torch

from infonet.checkpoint import DEFAULT_WEIGHTS, WEIGHTS_ENV, load_pretrained, resolve_device
from infonet.model import InfoNet

Progress = Callable[[str, int, int], None]  # progress(label, done, total)

# Evaluation seeds. The torch-generator ones are 290..292 modulo 1_009: a training generator
# (seed * 1_000_003 + step) * 1_009 + rank equals none of them unless rank >= 290.
SEEDS = {
    "levels": 20_260_001,  # mixtures binned at LEVELS (torch generator)
    "high_levels": 20_260_002,  # mixtures binned at HIGH_LEVELS (torch generator)
    "triplets": 20_260_003,  # 3-D mixtures (torch generator)
    "sizes": 20_260_004,  # mixtures binned at SIZE_LEVELS for the sample-size section (torch generator)
    "size_families": 20_267_000,  # + 1_000 * distribution + repeat (numpy)
    "speed": 20_261_000,  # + n (numpy)
    "gaussian_sweep": 20_262_000,  # + 1_000 * distribution + repeat (numpy)
    "families": 20_263_000,  # + 1_000 * distribution + repeat (numpy)
    "near_deterministic": 20_268_000,  # + 1_000 * distribution + repeat (numpy), the same at every n
    "highdim": 20_264_000,  # + 10_000 * kind + 1_000_000 * d, projections + pair (numpy)
    "pairwise": 20_266_000,  # synthetic tracks (numpy)
    "independence": 20_269_000,  # with n and the kind's index (numpy SeedSequence)
    "long_samples": 20_270_000,  # prior draws (torch; its bank at + 1); + 1_000, 7_000, 8_000, 9_000: mixtures, + draw: their samples
}


# ----------------------------------------------------------------------------- configuration and runs


def option(default, help_text: str):
    """A dataclass field with its command-line help (see ``infonet.cli.parse_options``)."""
    return field(default=default, metadata={"help": help_text})


def apply_preset(cfg, presets: dict[str, dict]):
    """``cfg`` with its device resolved and its None fields filled from the preset of its mode
    (``presets["quick"]``, ``["gpu"]`` or ``["cpu"]``)."""
    device = resolve_device(cfg.device)
    mode = "quick" if cfg.quick else ("gpu" if device.type == "cuda" else "cpu")
    filled = {k: v for k, v in presets[mode].items() if getattr(cfg, k) is None}
    return replace(cfg, device=str(device), **filled)


def load_model(model: InfoNet | None, weights: str, device: str) -> InfoNet:
    """A copy of ``model`` on ``device`` in eval mode, or the checkpoint ``weights`` (default ones if empty)."""
    if model is not None:
        return copy.deepcopy(model).to(device).eval()
    return load_pretrained(weights or None, device=device)


def run_info(quick: bool, cuda: bool) -> dict:
    """The first lines of a report: date, mode, device, torch threads."""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "mode": "quick" if quick else ("full (GPU sizes)" if cuda else "full (CPU sizes)"),
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "torch threads": torch.get_num_threads(),
    }


def model_info(model: InfoNet, passed_in: bool, weights: str) -> dict:
    """The report lines naming the InfoNet weights and their size."""
    label = "(model passed in)" if passed_in else (weights or os.environ.get(WEIGHTS_ENV) or str(DEFAULT_WEIGHTS))
    return {"InfoNet weights": label, "InfoNet parameters": f"{model.num_params():,}"}


# ----------------------------------------------------------------------------- rows and groups


def relay(progress: Progress | None, label: str) -> Callable[[int, int], None] | None:
    """``progress`` bound to ``label``: a ``(done, total)`` callback for one step (None without progress)."""
    return None if progress is None else lambda done, total: progress(label, done, total)


def plain(row: dict) -> dict:
    """numpy scalars to Python numbers, so rows print and serialise cleanly."""
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in row.items()}


def leave_one_out(scores, cost=None) -> tuple[np.ndarray, np.ndarray]:
    """Held-out choice over a (C candidates, V videos or sequences) table of scores, NaN where not measured.

    Args:
        scores: (C, V) table, higher is better.
        cost: optional (C,) cost of each candidate (lower is cheaper). A fold takes the cheapest
            candidate that costs less than the best one and whose mean score on the other videos
            trails the best's by at most one standard error of their paired differences there (the
            one-standard-error rule: of near-equals, the cheaper), and the best candidate otherwise.
    Returns:
        chosen (V,): for each video, the candidate with the best mean over the *other* videos among
        those measured on it (the first on ties; or a cheaper near-equal), and held_out (V,): that
        candidate's score on the video itself. A video with no such candidate gets chosen -1 and a
        NaN score.
    Raises:
        ValueError: fewer than 2 videos, or not a 2-D table.
    """
    scores = np.asarray(scores, np.float64)
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError(f"leave_one_out needs a (candidates, videos >= 2) table, got shape {scores.shape}")
    V = scores.shape[1]
    chosen, held = np.full(V, -1), np.full(V, np.nan)
    for v in range(V):
        others = np.delete(scores, v, axis=1)
        usable = ~np.isnan(scores[:, v])  # measured here
        if (usable & ~np.isnan(others).all(axis=1)).any():
            chosen[v] = choose(np.where(usable[:, None], others, np.nan), cost)
            held[v] = scores[chosen[v], v]
    return chosen, held


def choose(scores, cost=None) -> int:
    """The candidate (row) of a (C, V) table of scores with the best mean over the videos it was
    measured on (the first on ties), or the cheapest of those that ``cost`` (C,) less within one
    standard error of it (:func:`leave_one_out`; equal costs: the first); -1 if none was measured."""
    scores = np.asarray(scores, np.float64)
    measured = ~np.isnan(scores).all(axis=1)
    if not measured.any():
        return -1
    with np.errstate(invalid="ignore"):
        mean = np.where(measured, np.nanmean(np.where(measured[:, None], scores, 0.0), axis=1), -np.inf)
    best = int(mean.argmax())
    if cost is not None:
        cost = np.asarray(cost, np.float64)
        for c in sorted(np.flatnonzero(cost < cost[best]), key=lambda c: (cost[c], c)):
            if measured[c] and _near_equal(scores[best], scores[c]):
                return int(c)
    return best


def _near_equal(best: np.ndarray, other: np.ndarray) -> bool:
    """Whether ``other`` trails ``best`` by at most one standard error of their paired differences."""
    diff = (best - other)[~np.isnan(best - other)]
    if len(diff) < 2:
        return False
    return bool(diff.mean() <= diff.std(ddof=1) / np.sqrt(len(diff)))


# ----------------------------------------------------------------------------- progress and timing


def time_call(
    fn: Callable[[], object],
    *,
    repeats: int,
    warmup: int = 1,
    budget_s: float = math.inf,
    sync: Callable[[], None] = lambda: None,
) -> tuple[float, int]:
    """Median wall time of ``fn()`` over up to ``repeats`` runs after ``warmup`` untimed ones.

    Repeating stops early once ``budget_s`` seconds have gone into timed runs (at least one runs);
    ``sync`` (e.g. ``torch.cuda.synchronize``) is called before the clock is read.
    Returns:
        (median seconds, timed runs).
    """
    for _ in range(warmup):
        fn()
    sync()
    times: list[float] = []
    while not times or (len(times) < repeats and sum(times) < budget_s):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), len(times)


def named_sequences(data, names: str = "") -> list[Path]:
    """The sequence folders of ``data`` (one, or a folder of them); with ``names`` (comma-separated),
    those, in the order given.

    Raises:
        FileNotFoundError, ValueError: no such folder, no sequence in it, or a name it does not hold.
    """
    import datasets

    paths = datasets.find_sequences(Path(data))
    if not names:
        return paths
    by_name = {p.name: p for p in paths}
    unknown = [n for n in names.split(",") if n not in by_name]
    if unknown:
        raise ValueError(f"no sequence named {', '.join(unknown)} in {data} (it has {', '.join(sorted(by_name))})")
    return [by_name[n] for n in names.split(",")]


# ----------------------------------------------------------------------------- CSV and Markdown


PLOT_SUFFIXES = (".png", ".svg", ".pdf")  # what --plot may write (matplotlib chooses the format by it)


def plot_path(text: str) -> Path | None:
    """A ``--plot`` option's path, or None when empty.

    Raises:
        ValueError: a suffix matplotlib is not asked to write here, or a folder that does not exist.
    """
    if not text:
        return None
    plot = Path(text)
    if plot.suffix.lower() not in PLOT_SUFFIXES:
        raise ValueError(f"--plot must end in one of {', '.join(PLOT_SUFFIXES)}; got {text!r}")
    if not plot.resolve().parent.is_dir():
        raise ValueError(f"--plot: the folder {plot.parent} does not exist")
    return plot


def write_csv(rows: list[dict], path) -> Path:
    """Writes dict rows as CSV; the columns are the union of the rows' keys in first-seen order."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def cell(v, spec: str = ".4f") -> str:
    """A table cell: "-" for None or "", "nan" for NaN, floats formatted by ``spec``."""
    if v is None or v == "":
        return "-"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else format(v, spec)
    return str(v)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A GitHub Markdown table; cells are used as given (format numbers before)."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def report_header(title: str, info: dict) -> list[str]:
    """The first lines of a Markdown report: the title and one bullet per ``info`` item."""
    return [f"# {title}", "", *(f"- {k}: {v}" for k, v in info.items())]
