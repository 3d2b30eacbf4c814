"""Interval calibration: the quantile head's widths scaled so that each tail holds 5 % at every n.

The head is trained with the pinball loss, but a network's quantiles are only as calibrated as
its fit: the shipped weights' 5-95 % intervals covered the truth 94.6-97.7 % of the time on the
benchmark (too wide). This is the scaled form of conformalised quantile regression (Romano et al.,
2019), per sample size and per side: on fresh draws of the training prior (``CALIBRATION_SEED``,
never used by training, validation or the benchmarks), each pair below its median needs the
factor (median - truth) / (median - raw 5 % quantile) on its lower width to be covered, and
likewise above (draws of true MI up to ``MAX_MI``, where the benchmarks and point tracks live:
calibrated on all draws, whose MI reaches 3+ nats, the intervals stayed wide at n = 32, 96.4 %
on the benchmark); the factor of a side at n is the (1 - tail) quantile of those needs over all
pairs (a pair on the other side needs 0), with the finite-sample correction. The factors are
stored in the head's ``width_scale`` buffer at the sizes ``CALIBRATION_SIZES`` and interpolated
in log n between them.

    python scripts/calibrate.py --weights runs/main/best.pt --out infonet/weights/infonet.pt
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .estimate import predict
from .model import CALIBRATION_SIZES, InfoNet, SizeRouted
from .prior import PriorConfig, sample_prior_batch

__all__ = ["CALIBRATION_SEED", "Calibration", "calibrate_intervals", "needed_scales"]

CALIBRATION_SEED = 40_000_001  # fresh draws of the prior, used by nothing else
TAIL = 0.05  # each side of the 90 % interval
MAX_MI = 1.5  # nats: the draws calibrated on (the range of the benchmarks and of point tracks)
DRAW_BATCH = 512


@dataclass
class Calibration:
    """What :func:`calibrate_intervals` fitted and measured.

    Attributes:
        sizes: the sample sizes (``CALIBRATION_SIZES``).
        scale: (2, K) the width factors, low side then high side (of the network serving each size).
        coverage_before, coverage_after: (K,) share of the calibration pairs inside the interval.
        pairs: pairs per size.
    """

    sizes: tuple[int, ...]
    scale: np.ndarray
    coverage_before: np.ndarray
    coverage_after: np.ndarray
    pairs: int

    def rows(self) -> list[dict]:
        return [
            {
                "n": n,
                "scale_low": round(float(self.scale[0, k]), 4),
                "scale_high": round(float(self.scale[1, k]), 4),
                "coverage_before": round(float(self.coverage_before[k]), 4),
                "coverage_after": round(float(self.coverage_after[k]), 4),
            }
            for k, n in enumerate(self.sizes)
        ]


def needed_scales(median, width_low, width_high, truth) -> tuple[np.ndarray, np.ndarray]:
    """Per pair, the least factor of each width that covers the truth (0 on the other side).

    Args: (B,) arrays: the median, the raw widths median - 5 % and 95 % - median, the true MI.
    """
    median, truth = np.asarray(median, np.float64), np.asarray(truth, np.float64)
    below = np.clip(median - truth, 0.0, None) / np.maximum(np.asarray(width_low, np.float64), 1e-12)
    above = np.clip(truth - median, 0.0, None) / np.maximum(np.asarray(width_high, np.float64), 1e-12)
    return below, above


def _conformal_quantile(needs: np.ndarray, tail: float) -> float:
    """The ceil((m + 1)(1 - tail)) / m empirical quantile of m needs (split-conformal)."""
    m = len(needs)
    level = min(1.0, math.ceil((m + 1) * (1 - tail)) / m)
    return float(np.quantile(needs, level, method="higher"))


def _with_head_output(model, run: Callable):
    """``run()``'s result and the raw output (B, 3) of ``model``'s head, read by a forward hook on
    the head's last layer (the widths before the calibrated factors)."""
    captured = []
    hook = model.head.out.register_forward_hook(lambda _m, _i, out: captured.append(out.detach().float()))
    try:
        result = run()
    finally:
        hook.remove()
    return result, torch.cat(captured)


def _raw_head(model: InfoNet, u, v) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and the two unscaled widths for B pairs."""
    _, raw = _with_head_output(model, lambda: predict(model, u, v, symmetries=1))
    median, low, high = (F.softplus(raw[:, k]).cpu().numpy().astype(np.float64) for k in range(3))
    return median, low, high


def _draws(pairs: int, n: int, g: torch.Generator, cfg: PriorConfig, max_mi: float):
    """``pairs`` prior draws of n samples whose true MI is at most ``max_mi``."""
    kept, count = [], 0
    while count < pairs:
        x, y, mi = sample_prior_batch(DRAW_BATCH, n, g, cfg)
        keep = mi <= max_mi
        kept.append((x[keep], y[keep], mi[keep]))
        count += int(keep.sum())
    return (torch.cat(t)[:pairs] for t in zip(*kept, strict=True))


def calibrate_intervals(
    model: InfoNet | SizeRouted,
    *,
    pairs: int = 2048,
    mc_samples: int = 16384,
    seed: int = CALIBRATION_SEED,
    max_mi: float = MAX_MI,
    prior: PriorConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Calibration:
    """Fits the head's width factors at every ``CALIBRATION_SIZES`` size and stores them in ``model``.

    Args:
        model: the network (its ``head.width_scale`` is overwritten); for a :class:`SizeRouted`
            model, each expert is fitted at the sizes whose widths it reads.
        pairs: prior draws per size. mc_samples: Monte-Carlo samples of each draw's true MI.
        seed: of the draws. max_mi: only draws of true MI up to this count.
        prior: the prior (default: the training prior's defaults).
        progress: optional callback ``progress(done, total)`` over the sizes.
    Returns:
        :class:`Calibration`.
    """
    prior = prior or PriorConfig()
    cfg = PriorConfig(**{**prior.__dict__, "mc_samples": mc_samples})
    g = torch.Generator().manual_seed(seed)
    experts = list(model.experts) if isinstance(model, SizeRouted) else [model]
    K = len(CALIBRATION_SIZES)
    scale = np.ones((len(experts), 2, K))
    before, after = np.zeros(K), np.zeros(K)
    for k, n in enumerate(CALIBRATION_SIZES):
        x, y, truth = _draws(pairs, n, g, cfg, max_mi)
        for i in _experts_at_knot(model, k):
            median, width_low, width_high = _raw_head(experts[i], x.numpy(), y.numpy())
            below, above = needed_scales(median, width_low, width_high, truth.numpy())
            scale[i, :, k] = _conformal_quantile(below, TAIL), _conformal_quantile(above, TAIL)
            if experts[i] is _serving(model, n):
                before[k] = float(((below <= 1.0) & (above <= 1.0)).mean())
                after[k] = float(((below <= scale[i, 0, k]) & (above <= scale[i, 1, k])).mean())
        if progress is not None:
            progress(k + 1, K)
    with torch.no_grad():
        for i, expert in enumerate(experts):
            fitted = [k for k in range(K) if i in _experts_at_knot(model, k)]
            nearest = [min(fitted, key=lambda f: abs(f - k)) for k in range(K)]  # knots it never reads
            expert.head.width_scale.copy_(torch.as_tensor(scale[i][:, nearest], dtype=expert.head.width_scale.dtype))
    served = np.stack([scale[experts.index(_serving(model, n)), :, k] for k, n in enumerate(CALIBRATION_SIZES)], 1)
    return Calibration(tuple(CALIBRATION_SIZES), served, before, after, pairs)


def _serving(model, n: int) -> InfoNet:
    return model.expert_for(n) if isinstance(model, SizeRouted) else model


def _experts_at_knot(model, k: int) -> list[int]:
    """The experts whose interpolated widths use knot k: those serving some n between its neighbours."""
    if not isinstance(model, SizeRouted):
        return [0]
    knots = CALIBRATION_SIZES
    lo, hi = knots[max(k - 1, 0)], knots[min(k + 1, len(knots) - 1)]
    lo, hi = (0 if k == 0 else lo), (math.inf if k == len(knots) - 1 else hi)
    return [i for i in range(len(model.experts)) if model.serves(i)[0] < hi and model.serves(i)[1] > lo]


# ----------------------------------------------------------------------------- the multivariate network


VECTOR_DRAW_BATCH = 32  # pairs of one (dx, dy) per draw


def _vector_raw_head(model, zx: torch.Tensor, zy: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and the two unscaled widths of the vector head for B pairs of normal scores."""
    with torch.no_grad():
        out, raw = _with_head_output(model, lambda: model(zx, zy))
    median = out.mi.float()
    width_low, width_high = (F.softplus(raw[:, k] - 1).cpu().numpy().astype(np.float64) for k in (1, 2))
    return median.cpu().numpy().astype(np.float64), width_low, width_high


def calibrate_vector_intervals(
    model,
    *,
    pairs: int = 1024,
    seed: int = CALIBRATION_SEED + 7,
    prior=None,
    bank=None,
    progress: Callable[[int, int], None] | None = None,
) -> Calibration:
    """The multivariate network's width factors at every ``CALIBRATION_SIZES`` size, stored in ``model``.

    The same split-conformal rule as :func:`calibrate_intervals`, on fresh draws of the vector prior
    (dimensions drawn as in training, ``VECTOR_DRAW_BATCH`` pairs per draw; mixtures only with a ``bank``).
    Sizes beyond the network's ``max_len`` keep the factors of the largest size it answers.
    """
    from .vector_prior import VectorPriorConfig, sample_vector_batch
    from .vector_train import sample_dims, to_scores

    prior = prior or VectorPriorConfig()
    g = torch.Generator().manual_seed(seed)
    K = len(CALIBRATION_SIZES)
    scale, before, after = np.ones((2, K)), np.zeros(K), np.zeros(K)
    for k, n in enumerate(CALIBRATION_SIZES):
        needs = []
        if n > model.cfg.max_len:  # outside its domain: the factors of the largest size inside
            scale[:, k], before[k], after[k] = scale[:, k - 1], before[k - 1], after[k - 1]
            continue
        for _ in range(max(1, pairs // VECTOR_DRAW_BATCH)):
            dx, dy = sample_dims(g, model.cfg.max_dim)
            x, y, mi, _ = sample_vector_batch(VECTOR_DRAW_BATCH, n, dx, dy, g, prior, bank)
            median, width_low, width_high = _vector_raw_head(model, to_scores(x), to_scores(y))
            needs.append(needed_scales(median, width_low, width_high, mi.numpy()))
        below, above = (np.concatenate(side) for side in zip(*needs, strict=True))
        scale[:, k] = _conformal_quantile(below, TAIL), _conformal_quantile(above, TAIL)
        before[k] = float(((below <= 1.0) & (above <= 1.0)).mean())
        after[k] = float(((below <= scale[0, k]) & (above <= scale[1, k])).mean())
        if progress is not None:
            progress(k + 1, K)
    with torch.no_grad():
        model.head.width_scale.copy_(torch.as_tensor(scale, dtype=model.head.width_scale.dtype))
    return Calibration(tuple(CALIBRATION_SIZES), scale, before, after, pairs)
