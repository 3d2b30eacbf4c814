"""Throughput of InfoNet's all-pairs MI (the segmentation path) against KSG, and end-to-end discovery time.

    python scripts/bench_pairwise.py --quick                   # CPU, a few minutes
    python scripts/bench_pairwise.py --frames 1000 --chunk-size 512
    INFONET_WEIGHTS=runs/main/last.pt python scripts/bench_pairwise.py

On synthetic random-walk tracks with planted groups (no files needed): pairs per second and
peak memory of infonet.pairwise.pairwise_mi on the CPU (fp32) and, with CUDA, in bf16 and fp32;
KSG per pair (infonet.baselines and scikit-learn's mutual_info_regression) at the same T; the
CPU speed-up over scikit-learn (target >= 5x); and one segmentation.discover run end to end.
Writes to --out: throughput.csv, speedups.csv, discovery.csv, results.md (also printed) and
options.json (the resolved options).
"""

import logging
import sys

from benchmarks import PairwiseBenchmarkConfig, resolve_pairwise_config, run_pairwise_benchmark
from infonet.cli import parse_options, run_cli, save_options
from segmentation.progress import stage_bars


def main(opts: PairwiseBenchmarkConfig) -> None:
    opts = resolve_pairwise_config(opts)
    save_options(opts, opts.out)
    with stage_bars({}) as progress:  # one bar per section
        report = run_pairwise_benchmark(opts, progress=progress)
    print(report.markdown)
    print(f"wrote {len(report.files)} files to {opts.out}", file=sys.stderr)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_cli(main, parse_options(PairwiseBenchmarkConfig, description=__doc__.splitlines()[0]))
