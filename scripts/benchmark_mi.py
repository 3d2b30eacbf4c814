"""Benchmark InfoNet against KSG, KDE, MINE and the Gaussian baseline on fresh evaluation data.

    python scripts/benchmark_mi.py --quick                       # minutes on a CPU, reduced sizes
    python scripts/benchmark_mi.py --out outputs/benchmark_mi    # full: 200 per level on a CPU, 1000 on a GPU
    INFONET_WEIGHTS=runs/main/last.pt python scripts/benchmark_mi.py --quick --sections speed levels

Reproduces the paper's evaluation (benchmarks.mi): speed (Table 1), error by true-MI level
(Table 2, plus levels 1.0-2.0), order accuracy (Table 3), a Gaussian sweep and other families
with known MI, and high-dimensional independence testing with sliced MI; then checks the
targets. Writes to --out: results.md (also printed), one CSV per section, targets.csv, PNG
plots and options.json (the resolved options).
"""

import logging
import sys

from benchmarks import MIBenchmarkConfig, resolve_mi_config, run_mi_benchmark
from infonet.checkpoint import usable_device
from infonet.cli import check_number, check_out_dir, parse_options, run_cli, save_options
from infonet.vector_model import MAX_DIM
from segmentation.progress import stage_bars


def main(opts: MIBenchmarkConfig) -> None:
    usable_device(opts.device)  # before resolve_mi_config, whose torch.device would end in a traceback
    opts = resolve_mi_config(opts)
    check_number("--speed-budget-s", opts.speed_budget_s, low=0, low_open=True)
    check_number(
        "--mv-max-dim", opts.mv_max_dim, low=1, high=MAX_DIM, why="the multivariate InfoNet's largest dimension"
    )
    check_out_dir(opts.out, overwrite=True)
    save_options(opts, opts.out)
    with stage_bars({}) as progress:  # one bar per section
        report = run_mi_benchmark(opts, progress=progress)
    print(report.markdown)
    print(f"wrote {len(report.files)} files to {opts.out}", file=sys.stderr)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_cli(main, parse_options(MIBenchmarkConfig, description=__doc__.splitlines()[0]))
