"""Helpers shared by the benchmark sections: seeds, progress relay, timing, CSV, Markdown tables.

Nothing here knows a section; every section module and both drivers import from here.
"""

from __future__ import annotations

import copy
import csv
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import field, fields, replace
from pathlib import Path

import numpy as np
import torch

from ..checkpoint import DEFAULT_WEIGHTS, WEIGHTS_ENV, load_pretrained, resolve_device
from ..model import InfoNet

Progress = Callable[[str, int, int], None]  # progress(label, done, total)

# Evaluation seeds. The torch-generator ones are 290..292 modulo 1_009: a training generator
# (seed * 1_000_003 + step) * 1_009 + rank equals none of them unless rank >= 290.
SEEDS = {
    "levels": 20_260_001,  # mixtures binned at LEVELS (torch generator)
    "high_levels": 20_260_002,  # mixtures binned at HIGH_LEVELS (torch generator)
    "triplets": 20_260_003,  # 3-D mixtures (torch generator)
    "speed": 20_261_000,  # + n (numpy)
    "gaussian_sweep": 20_262_000,  # + 1_000 * distribution + repeat (numpy)
    "families": 20_263_000,  # + 1_000 * distribution + repeat (numpy)
    "highdim": 20_264_000,  # + 10_000 * kind + 1_000_000 * d, projections + pair (numpy)
    "pairwise": 20_266_000,  # synthetic tracks (numpy)
}


# ----------------------------------------------------------------------------- configuration and runs


def _opt(default, help_text: str):
    return field(default=default, metadata={"help": help_text})


def _apply_preset(cfg, presets: dict[str, dict]):
    """``cfg`` with its device resolved and its None fields filled from the preset of its mode
    (``presets["quick"]``, ``["gpu"]`` or ``["cpu"]``)."""
    device = resolve_device(cfg.device)
    mode = "quick" if cfg.quick else ("gpu" if device.type == "cuda" else "cpu")
    filled = {k: v for k, v in presets[mode].items() if getattr(cfg, k) is None}
    return replace(cfg, device=str(device), **filled)


def _load_model(model: InfoNet | None, weights: str, device: str) -> InfoNet:
    """A copy of ``model`` on ``device`` in eval mode, or the checkpoint ``weights`` (default ones if empty)."""
    if model is not None:
        return copy.deepcopy(model).to(device).eval()
    return load_pretrained(weights or None, device=device)


def _run_info(quick: bool, cuda: bool) -> dict:
    """The first lines of a report: date, mode, device, torch threads."""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "mode": "quick" if quick else ("full (GPU sizes)" if cuda else "full (CPU sizes)"),
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "torch threads": torch.get_num_threads(),
    }


def _model_info(model: InfoNet, passed_in: bool, weights: str) -> dict:
    """The report lines naming the InfoNet weights and their size."""
    label = "(model passed in)" if passed_in else (weights or os.environ.get(WEIGHTS_ENV) or str(DEFAULT_WEIGHTS))
    return {"InfoNet weights": label, "InfoNet parameters": f"{model.num_params():,}"}


# ----------------------------------------------------------------------------- rows and groups


def _relay(progress: Progress | None, label: str) -> Callable[[int, int], None] | None:
    return None if progress is None else lambda done, total: progress(label, done, total)


def _per_group(groups: np.ndarray, cap: int | None) -> np.ndarray:
    """Indices of the first ``cap`` items of every group (all with None), in group order."""
    if cap is None:
        return np.arange(len(groups))
    return np.concatenate([np.flatnonzero(groups == g)[:cap] for g in np.unique(groups)] + [np.zeros(0, int)])


def _subset(data, idx: np.ndarray):
    """The rows ``idx`` of a dataclass whose fields are all arrays of one length (LevelSet, TripletSet)."""
    return type(data)(**{f.name: getattr(data, f.name)[idx] for f in fields(data)})


def _concat(a, b):
    return type(a)(**{f.name: np.concatenate([getattr(a, f.name), getattr(b, f.name)]) for f in fields(a)})


def _plain(row: dict) -> dict:
    """numpy scalars to Python numbers, so rows print and serialise cleanly."""
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in row.items()}


def roc_auc(positive, negative) -> float:
    """Area under the ROC curve of scores that should be higher for ``positive`` than ``negative``.

    The Mann-Whitney statistic: the share of (positive, negative) pairs ranked right, ties counting
    one half. 1.0: perfect separation; 0.5: no better than chance.
    """
    pos = np.asarray(positive, dtype=np.float64).reshape(-1, 1)
    neg = np.asarray(negative, dtype=np.float64).reshape(1, -1)
    if pos.size == 0 or neg.size == 0:
        raise ValueError("roc_auc needs at least one positive and one negative score")
    return float(((pos > neg) + 0.5 * (pos == neg)).mean())


# ----------------------------------------------------------------------------- progress and timing


def tqdm_progress(**kwargs) -> Progress:
    """A ``progress(label, done, total)`` callback drawing one tqdm bar per label (for the scripts)."""
    from tqdm.auto import tqdm

    bars: dict = {}

    def update(label: str, done: int, total: int) -> None:
        if label not in bars and done >= total:
            return  # finished in one step (a vectorised estimator): no bar to show
        if label not in bars:
            for bar in bars.values():
                bar.close()
            bars.clear()
            bars[label] = tqdm(desc=label, total=total, dynamic_ncols=True, **kwargs)
        bar = bars[label]
        bar.total = total
        bar.update(done - bar.n)
        if done >= total:
            bars.pop(label).close()

    return update


def _sync(device: str) -> Callable[[], None]:
    return torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)


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


# ----------------------------------------------------------------------------- CSV and Markdown


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


def _cell(v, spec: str = ".4f") -> str:
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


def _records_table(header: Sequence[str], keys: Sequence[str], rows: list[dict], spec: dict[str, str]) -> str:
    """A Markdown table of dict rows: column i shows ``row[keys[i]]`` formatted by ``spec.get(key, "")``."""
    return markdown_table(header, [[_cell(r[k], spec.get(k, "")) for k in keys] for r in rows])


def _pivot(rows: list[dict], row_key: Callable[[dict], tuple], col_key: str, value: Callable[[dict], str]) -> tuple:
    """(columns, body): one body row per distinct ``row_key(r)`` (a tuple: its leading cells), one
    column per distinct ``r[col_key]``, cells ``value(r)`` ("-" where no row has them)."""
    cols = list(dict.fromkeys(r[col_key] for r in rows))
    table: dict[tuple, dict] = {}
    for r in rows:
        table.setdefault(row_key(r), {})[r[col_key]] = value(r)
    return cols, [[*key, *(cells.get(c, "-") for c in cols)] for key, cells in table.items()]


def _header(title: str, info: dict) -> list[str]:
    """The first lines of a Markdown report: the title and one bullet per ``info`` item."""
    return [f"# {title}", "", *(f"- {k}: {v}" for k, v in info.items())]
