"""Speed and closeness of the differentiable estimator (infonet.mi) on the CPU.

    python scripts/bench_differentiable.py                     # speed, B = 256 pairs at n = 512
    python scripts/bench_differentiable.py --closeness         # also soft vs hard-rank estimates
    python scripts/bench_differentiable.py --ascent            # also gradient ascent from independence
    INFONET_WEIGHTS=runs/main/last.pt python scripts/bench_differentiable.py

Times, as the median and the fastest of --repeats runs after a warm-up: the forward pass on hard ranks (the
numpy API's path, no gradient), the soft ranks alone, the forward on soft ranks, and forward +
backward with soft ranks and with hard_forward=True. With --closeness, the soft estimate
against the hard-rank estimate of the same network across temperatures and sample sizes. With
--ascent, the search of issue 23: SGD on MI(w . x; y) over unit w, x 16-D standard normal,
y = sin(2 x_3) + 0.1 noise, fresh samples each step, w starting uniform; per seed, the
coordinate with the largest |w_j| at the end, with and without the low-MI slope (floor_slope).
Prints Markdown tables; writes results.md and options.json to --out.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch

import infonet
from benchmarks.differentiable import closeness, timing
from infonet import load_pretrained
from infonet.cli import parse_options, run_cli, save_options


@dataclass
class Options:
    batch: int = field(default=256, metadata={"help": "pairs per pass"})
    n: int = field(default=512, metadata={"help": "samples per pair"})
    repeats: int = 5
    threads: int = field(default=0, metadata={"help": "torch CPU threads (0: torch's default)"})
    closeness: bool = field(default=False, metadata={"help": "also measure soft vs hard-rank estimates"})
    temperatures: tuple[float, ...] = (0.1, 0.03, 0.01, 0.003, 0.001)
    ns: tuple[int, ...] = (128, 512, 2048)
    weights: str = field(default="", metadata={"help": "InfoNet weights (default: shipped, or $INFONET_WEIGHTS)"})
    ascent: bool = field(default=False, metadata={"help": "also gradient ascent from the uniform projection"})
    ascent_steps: int = 200
    ascent_seeds: int = 4
    out: str = field(default="runs/bench_differentiable", metadata={"help": "output folder"})
    seed: int = 0


def _planted(gen: torch.Generator, n: int, d: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, d, generator=gen)  # (n, d)
    return x, torch.sin(2 * x[:, 3]) + 0.1 * torch.randn(n, generator=gen)


def ascent(model, floor_slope: bool, n: int, steps: int, seeds: int, d: int = 16):
    """Gradient norm at the uniform start, and per seed the coordinate found and the final |w_3|."""
    w = (torch.ones(d) / d**0.5).requires_grad_(True)
    x, y = _planted(torch.Generator().manual_seed(0), n)
    infonet.mi(x @ w, y, model=model, floor_slope=floor_slope).backward()
    grad, found, w3 = float(w.grad.norm()), [], []
    for seed in range(seeds):
        gen = torch.Generator().manual_seed(seed + 1)
        w = (torch.ones(d) / d**0.5).requires_grad_(True)
        opt = torch.optim.SGD([w], lr=0.1)
        for _ in range(steps):
            x, y = _planted(gen, n)
            opt.zero_grad()
            (-infonet.mi(x @ w, y, model=model, floor_slope=floor_slope)).backward()
            opt.step()
            with torch.no_grad():
                w /= w.norm()  # MI ignores the scale of w
        found.append(int(w.abs().argmax()))
        w3.append(round(float(w[3].abs()), 2))
    return grad, found, w3


def main(opts: Options) -> None:
    if opts.threads > 0:
        torch.set_num_threads(opts.threads)
    model = load_pretrained(opts.weights or None, device="cpu")
    lines = [
        f"Differentiable MI on the CPU ({torch.get_num_threads()} threads), B = {opts.batch} pairs, n = {opts.n}, "
        f"median of {opts.repeats}",
        "",
        "| pass | median s | fastest s | pairs/s (median) | x forward alone (fastest) |",
        "|---|---:|---:|---:|---:|",
    ]
    rows = timing(model, batch=opts.batch, n=opts.n, repeats=opts.repeats, seed=opts.seed)
    base = rows[0]["best_seconds"]
    for r in rows:
        lines.append(
            f"| {r['pass']} | {r['seconds']:.3f} | {r['best_seconds']:.3f} | {r['pairs_per_s']:,.0f} | "
            f"{r['best_seconds'] / base:.1f} |"
        )
    if opts.closeness:
        lines += [
            "",
            "Soft-rank estimate minus hard-rank estimate (same network, one symmetry), nats",
            "",
            "| n | temperature | mean abs | max abs | mean signed | max rank gap | grad norm |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in closeness(model, temperatures=opts.temperatures, ns=opts.ns, seed=opts.seed):
            lines.append(
                f"| {r['n']} | {r['temperature']:g} | {r['mean_abs_diff']:.4f} | {r['max_abs_diff']:.4f} | "
                f"{r['mean_diff']:+.4f} | {r['max_rank_gap']:.4f} | {r['grad_norm']:.3f} |"
            )
    if opts.ascent:
        lines += [
            "",
            f"Gradient ascent from the uniform projection (16-D, n = {opts.n}, SGD lr 0.1, "
            f"{opts.ascent_steps} steps, planted coordinate 3)",
            "",
            "| floor_slope | |grad| at start | found (argmax |w_j|) per seed | |w_3| at the end |",
            "|---|---:|---|---|",
        ]
        for floor_slope in (True, False):
            grad, found, w3 = ascent(model, floor_slope, opts.n, opts.ascent_steps, opts.ascent_seeds)
            lines.append(f"| {floor_slope} | {grad:.3g} | {found} | {w3} |")
    text = "\n".join(lines)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    save_options(opts, out)
    (out / "results.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run_cli(main, parse_options(Options, description=__doc__.splitlines()[0]))
