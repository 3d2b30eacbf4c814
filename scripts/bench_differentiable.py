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

from benchmarks.differentiable import ascent, closeness, differentiable_markdown, timing
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


def main(opts: Options) -> None:
    if opts.threads > 0:
        torch.set_num_threads(opts.threads)
    model = load_pretrained(opts.weights or None, device="cpu")
    rows = timing(model, batch=opts.batch, n=opts.n, repeats=opts.repeats, seed=opts.seed)
    close = closeness(model, temperatures=opts.temperatures, ns=opts.ns, seed=opts.seed) if opts.closeness else []
    steps = dict(n=opts.n, steps=opts.ascent_steps, seeds=opts.ascent_seeds)
    climbs = [(fs, *ascent(model, fs, **steps)) for fs in (True, False)] if opts.ascent else []
    how = dict(threads=torch.get_num_threads(), repeats=opts.repeats, ascent_steps=opts.ascent_steps)
    text = differentiable_markdown(rows, close, climbs, n=opts.n, batch=opts.batch, **how)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    save_options(opts, out)
    (out / "results.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run_cli(main, parse_options(Options, description=__doc__.splitlines()[0]))
