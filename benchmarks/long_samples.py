"""Held-out checks of the multivariate network on long samples (n = 600-5000), beside KSG.

Two sets no training run and no benchmark uses: draws of the training prior (its own seed and mixture
bank; ``--draws`` per pair of dimensions 2x2 ... 32x32 and n) and fresh mixtures of the multivariate
benchmark's mixture recipe (``benchmarks.multivariate.mixture_task`` with other seeds: 4 sets of 8
mixtures, d = 2-5 a side, 2 draws each). The first network for long samples (docs/multivariate.md) was
checked on them after it was chosen; the next, which reads 4,096 samples, was chosen with the first set
in view (then 3 draws each, and alone: 24 draws of 8 mixtures read an MAE that moved by 0.05 between
sets of mixtures, so the check now reads 64), and the one shipped now, whose start has gates, with all four.

    python -m benchmarks.long_samples                                    # the shipped weights, about 1 min
    python -m benchmarks.long_samples --weights runs/vk3/routed.pt --ksg  # other weights; KSG beside (+1 min)
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import torch

from benchmarks.common import SEEDS
from benchmarks.multivariate import MIXTURE_LEVELS, mixture_task
from infonet import baselines
from infonet.vector_estimate import load_vector_model, predict_vector
from infonet.vector_prior import VectorMixtureBank, VectorPriorConfig, sample_vector_batch

__all__ = ["mixture_errors", "prior_errors"]

DIMS = ((2, 2), (3, 3), (5, 5), (1, 4), (10, 10), (25, 25), (32, 32))
PRIOR_SIZES = (600, 1000, 2000, 5000)
MIXTURE_SIZES = (1000, 3000, 5000)
MIXTURE_SETS = (1_000, 7_000, 8_000, 9_000)  # seed offsets of the sets of 8 mixtures
MIXTURE_DRAWS = 2  # samples of each mixture at each n
FAMILIES = ("gaussian", "student-t", "mixture", "independent")  # the prior's family codes 0-3


def prior_errors(model, sizes=PRIOR_SIZES, draws: int = 24) -> dict[int, dict[str, float]]:
    """Per n: the network's MAE over fresh prior draws, all of them and per family -> {n: {name: MAE}}."""
    prior = VectorPriorConfig(mixture=0.25)
    seed = SEEDS["long_samples"]
    bank = VectorMixtureBank(dataclasses.replace(prior, bank_per_dims=32), seed + 1, torch.device("cpu"))
    g = torch.Generator().manual_seed(seed)
    errors: dict[int, dict[str, list]] = {n: {} for n in sizes}
    for dx, dy in DIMS:
        for n in sizes:
            x, y, mi, family = sample_vector_batch(draws, n, dx, dy, g, prior, bank)
            error = np.abs(predict_vector(model, x.numpy(), y.numpy())["mi"] - mi.numpy())
            errors[n].setdefault("all", []).extend(error)
            for code, name in enumerate(FAMILIES):
                errors[n].setdefault(name, []).extend(error[family.numpy() == code])
    return {n: {name: float(np.mean(e)) for name, e in by.items() if e} for n, by in errors.items()}


def mixture_errors(model, sizes=MIXTURE_SIZES, with_ksg: bool = False) -> dict[int, dict[str, float]]:
    """Per n: MAE and mean error of the network (and of this project's KSG) on fresh mixtures of the
    benchmark's recipe -> {n: {"infonet": MAE, "infonet_bias": ..., "ksg": ...}}."""
    seeds = [SEEDS["long_samples"] + offset for offset in MIXTURE_SETS]
    levels = range(len(MIXTURE_LEVELS))
    tasks = [(seed, mixture_task(i, d, 100_000, seed=seed)) for seed in seeds for d in (2, 3, 4, 5) for i in levels]
    out = {}
    for n in sizes:
        truth, net, ksg = [], [], []
        for draw in range(MIXTURE_DRAWS):
            for seed, task in tasks:
                x, y = task.sample(n, seed + draw)
                truth.append(task.mi)
                net.append(float(predict_vector(model, x[None], y[None])["mi"][0]))
                if with_ksg:
                    ksg.append(baselines.ksg(x, y))
        truth, net = np.array(truth), np.array(net)
        out[n] = {"infonet": float(np.abs(net - truth).mean()), "infonet_bias": float((net - truth).mean())}
        if with_ksg:
            out[n]["ksg"] = float(np.abs(np.array(ksg) - truth).mean())
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="", help="multivariate checkpoint (default: the shipped weights)")
    parser.add_argument("--draws", type=int, default=24, help="prior draws per pair of dimensions and n")
    parser.add_argument("--ksg", action="store_true", help="also this project's KSG on the mixtures")
    args = parser.parse_args(argv)
    if args.draws < 1:
        parser.error("--draws must be at least 1")
    try:
        model = load_vector_model(args.weights or None, device="cpu")
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    print("| training prior, n | all | " + " | ".join(FAMILIES) + " |\n|---|---|" + "---|" * len(FAMILIES))
    for n, row in prior_errors(model, draws=args.draws).items():
        print(f"| {n} | " + " | ".join(f"{row.get(k, float('nan')):.3f}" for k in ("all", *FAMILIES)) + " |")
    print("\n| mixture recipe, n | infonet MAE | mean error | ksg MAE |\n|---|---|---|---|")
    for n, row in mixture_errors(model, with_ksg=args.ksg).items():
        print(f"| {n} | {row['infonet']:.3f} | {row['infonet_bias']:+.3f} | {row.get('ksg', float('nan')):.3f} |")


if __name__ == "__main__":
    main()
