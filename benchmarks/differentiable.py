"""Measurements of the differentiable estimator (:mod:`infonet.differentiable`), for ``scripts/bench_differentiable.py``.

- :func:`closeness`: the soft estimate against the hard-rank one across temperatures and sizes.
- :func:`timing`: the cost of a forward and a backward pass.
"""

from __future__ import annotations

import logging
import statistics
import time

import numpy as np
import torch

from infonet import distributions
from infonet.copula import rank_transform
from infonet.differentiable import mi, soft_rank
from infonet.model import InfoNet

from .common import markdown_table

__all__ = ["CLOSENESS_FAMILIES", "ascent", "closeness", "differentiable_markdown", "timing"]

log = logging.getLogger(__name__)

CLOSENESS_FAMILIES = (
    distributions.gaussian(0.0),
    distributions.gaussian(0.5),
    distributions.gaussian(0.9),
    distributions.half_cube(0.7),
    distributions.asinh(0.7),
    distributions.student_t(0.5, 2.0),
    distributions.additive_uniform(0.5),
)


def closeness(
    model: InfoNet,
    temperatures=(0.1, 0.03, 0.01, 0.003, 0.001),
    ns=(128, 512, 2048),
    repeats: int = 4,
    seed: int = 0,
) -> list[dict]:
    """Soft-rank estimate against the hard-rank one (the same network, one symmetry) per n and temperature.

    Returns one row per (n, temperature): mean and max |soft - hard| and the mean signed
    difference over ``repeats`` samples of each of :data:`CLOSENESS_FAMILIES`, the largest
    |soft rank - hard rank| in copula units, and the mean gradient norm |d MI / d x| per pair
    (it vanishes as the temperature falls below the gaps between samples).
    """
    rows = []
    for n in ns:
        xs, ys = [], []
        for i, dist in enumerate(CLOSENESS_FAMILIES):
            for r in range(repeats):
                x, y = dist.sample(n, seed=seed + 1000 * i + r)
                xs.append(x)
                ys.append(y)
        x = torch.as_tensor(np.stack(xs), dtype=torch.float32)  # (B, n)
        y = torch.as_tensor(np.stack(ys), dtype=torch.float32)
        with torch.no_grad():
            hard = model(rank_transform(x), rank_transform(y)).mi
        for tau in temperatures:
            xg = x.clone().requires_grad_(True)
            soft = mi(xg, y, temperature=tau, model=model)
            soft.sum().backward()
            diff = soft.detach() - hard
            rank_gap = (soft_rank(x, tau) - rank_transform(x)).abs().max()
            rows.append(
                {
                    "n": n,
                    "temperature": tau,
                    "mean_abs_diff": float(diff.abs().mean()),
                    "max_abs_diff": float(diff.abs().max()),
                    "mean_diff": float(diff.mean()),
                    "max_rank_gap": float(rank_gap),
                    "grad_norm": float(xg.grad.norm(dim=-1).mean()),
                }
            )
            log.info("closeness n=%d tau=%g: %s", n, tau, rows[-1])
    return rows


def timing(model: InfoNet, batch: int = 256, n: int = 512, repeats: int = 5, seed: int = 0) -> list[dict]:
    """Median seconds of: the hard-rank forward (no gradient), the soft forward, and soft forward + backward.

    Rows: ``{"pass", "seconds", "best_seconds", "pairs_per_s"}`` for B = ``batch`` pairs of n samples
    (one symmetry); ``seconds`` is the median, ``best_seconds`` the fastest of the repeats.
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, n, generator=gen)
    y = 0.6 * x + 0.8 * torch.randn(batch, n, generator=gen)

    def hard_forward():
        with torch.no_grad():
            return model(rank_transform(x), rank_transform(y)).mi

    def soft_ranks_only():
        with torch.no_grad():
            soft_rank(x), soft_rank(y)

    def soft_forward():
        with torch.no_grad():
            mi(x, y, model=model)

    def soft_backward():
        xg, yg = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
        mi(xg, yg, model=model).sum().backward()

    def straight_through_backward():
        xg, yg = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
        mi(xg, yg, model=model, hard_forward=True).sum().backward()

    passes = {
        "forward, hard ranks (no gradient)": hard_forward,
        "soft ranks of x and y alone (no gradient)": soft_ranks_only,
        "forward, soft ranks (no gradient)": soft_forward,
        "forward + backward, soft ranks": soft_backward,
        "forward + backward, hard_forward=True": straight_through_backward,
    }
    rows = []
    for name, fn in passes.items():
        fn()  # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        sec = statistics.median(times)
        # the fastest run too: on a shared machine the median carries the other jobs' load
        rows.append({"pass": name, "seconds": sec, "best_seconds": min(times), "pairs_per_s": batch / sec})
    return rows


def _planted(gen: torch.Generator, n: int, d: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """x (n, d) standard normal and y = sin(2 x_3) + 0.1 noise: the search of :func:`ascent`."""
    x = torch.randn(n, d, generator=gen)
    return x, torch.sin(2 * x[:, 3]) + 0.1 * torch.randn(n, generator=gen)


def ascent(model: InfoNet, floor_slope: bool, n: int, steps: int, seeds: int, d: int = 16):
    """SGD on MI(w . x; y) over unit w from the uniform projection, fresh samples each step (issue 23).

    Returns the gradient norm at the start, and per seed the coordinate with the largest |w_j| at the
    end and the final |w_3| (3 is the planted coordinate)."""
    w = (torch.ones(d) / d**0.5).requires_grad_(True)
    x, y = _planted(torch.Generator().manual_seed(0), n)
    mi(x @ w, y, model=model, floor_slope=floor_slope).backward()
    grad, found, w3 = float(w.grad.norm()), [], []
    for seed in range(seeds):
        gen = torch.Generator().manual_seed(seed + 1)
        w = (torch.ones(d) / d**0.5).requires_grad_(True)
        opt = torch.optim.SGD([w], lr=0.1)
        for _ in range(steps):
            x, y = _planted(gen, n)
            opt.zero_grad()
            (-mi(x @ w, y, model=model, floor_slope=floor_slope)).backward()
            opt.step()
            with torch.no_grad():
                w /= w.norm()  # MI ignores the scale of w
        found.append(int(w.abs().argmax()))
        w3.append(round(float(w[3].abs()), 2))
    return grad, found, w3


def differentiable_markdown(timings: list[dict], closeness_rows=(), ascent_rows=(), *, n: int, batch: int, **how):
    """The report of scripts/bench_differentiable.py: the timings of :func:`timing`, then (when given)
    the rows of :func:`closeness` and the (floor_slope, grad, found, |w_3|) rows of :func:`ascent`;
    ``how``: threads, repeats, ascent_steps."""
    base = timings[0]["best_seconds"]
    speed = [
        [r["pass"], f"{r['seconds']:.3f}", f"{r['best_seconds']:.3f}", f"{r['pairs_per_s']:,.0f}",
         f"{r['best_seconds'] / base:.1f}"]
        for r in timings
    ]  # fmt: skip
    header = ["pass", "median s", "fastest s", "pairs/s (median)", "x forward alone (fastest)"]
    title = f"Differentiable MI on the CPU ({how['threads']} threads), B = {batch} pairs, n = {n}"
    lines = [f"{title}, median of {how['repeats']}", "", markdown_table(header, speed)]
    if closeness_rows:
        keys = ("mean_abs_diff", "max_abs_diff", "mean_diff", "max_rank_gap", "grad_norm")
        specs = (".4f", ".4f", "+.4f", ".4f", ".3f")
        body = [
            [r["n"], f"{r['temperature']:g}", *(format(r[k], f) for k, f in zip(keys, specs, strict=True))]
            for r in closeness_rows
        ]
        header = ["n", "temperature", "mean abs", "max abs", "mean signed", "max rank gap", "grad norm"]
        caption = "Soft-rank estimate minus hard-rank estimate (same network, one symmetry), nats"
        lines += ["", caption, "", markdown_table(header, body)]
    if ascent_rows:
        body = [[fs, f"{grad:.3g}", found, w3] for fs, grad, found, w3 in ascent_rows]
        header = ["floor_slope", "\\|grad\\| at start", "found (argmax \\|w_j\\|) per seed", "\\|w_3\\| at the end"]
        caption = f"Gradient ascent from the uniform projection (16-D, n = {n}, SGD lr 0.1, {how['ascent_steps']} steps, planted coordinate 3)"
        lines += ["", caption, "", markdown_table(header, body)]
    return "\n".join(lines)
