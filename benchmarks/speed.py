"""Section 1 of the MI benchmark: seconds per estimate vs sequence length (the paper's Table 1).

Shapes: B pairs per call, n samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from infonet.interface import MIEstimator

from .common import SEEDS, Progress, time_call

MINE_SPEED_LENGTHS = (1000,)  # MINE-500 costs seconds per estimate: timed at n = 1000 only


def _sync(device: str) -> Callable[[], None]:
    return torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)


def speed_rows(
    estimators: Sequence[tuple[str, str, MIEstimator]],
    *,
    lengths: Sequence[int] = (200, 500, 1000, 2000, 5000),
    batches: Sequence[int] = (16, 256),
    repeats: int = 10,
    budget_s: float = 10.0,
    slow_lengths: dict[str, Sequence[int]] | None = None,
    seed: int = SEEDS["speed"],
    progress: Progress | None = None,
) -> list[dict]:
    """Seconds per estimate on Gaussian pairs (rho = 0.5), one pair per call and batched.

    Args:
        estimators: (name, device, estimator) triples; those with a vectorised batch path
            (``estimator.batched``) are also timed with B pairs per ``estimate_batch`` call for
            every B in ``batches``.
        lengths: sequence lengths n.
        slow_lengths: per estimator name, the only lengths it is timed at (default: MINE at 1000).
    Returns:
        rows: estimator, device, batch (pairs per call), n, seconds (per estimate, median of
        repeats), repeats, threads.
    """
    slow_lengths = {"mine": MINE_SPEED_LENGTHS} if slow_lengths is None else slow_lengths
    pair_counts = [1, *batches]
    cells = [
        (name, device, est, n, b)
        for name, device, est in estimators
        for n in lengths
        if n in slow_lengths.get(name, lengths)
        for b in (pair_counts if est.batched else [1])
    ]
    data = {}
    for n in lengths:
        rng = np.random.default_rng(seed + n)
        z = rng.standard_normal((2, max(pair_counts), n))
        data[n] = z[0], 0.5 * z[0] + math.sqrt(0.75) * z[1]  # (B, n) each, rho = 0.5
    rows = []
    for i, (name, device, est, n, b) in enumerate(cells):
        x, y = data[n]
        if b == 1:
            fn = lambda est=est, x=x, y=y: est.estimate(x[0], y[0])
        else:
            fn = lambda est=est, x=x, y=y, b=b: est.estimate_batch(x[:b], y[:b])
        warmup = 0 if name == "mine" else (2 if est.neural and b == 1 else 1)  # MINE has no lazy set-up
        seconds, runs = time_call(fn, repeats=repeats, warmup=warmup, budget_s=budget_s, sync=_sync(device))
        row = {"estimator": name, "device": device, "batch": b, "n": n, "seconds": seconds / b, "repeats": runs}
        rows.append({**row, "threads": torch.get_num_threads()})
        if progress is not None:
            progress("speed", i + 1, len(cells))
    return rows
