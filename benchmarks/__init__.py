"""Benchmark drivers: the InfoNet paper's evaluation on fresh data, and the pairwise (segmentation) throughput.

This package sits beside the library and may import all of it (``infonet``, ``segmentation``);
the reusable primitives it runs on (test sets with known MI, level and order statistics,
``roc_auc``, high-dimensional test pairs) live in ``infonet.evaluation``.

Shapes: S sequences, n samples, B pairs per call, m high-dimensional pairs, d dimensions,
P random projections, N tracks (series), T frames.

Every section is a function returning plain rows (a list of dicts), so the scripts, the tests
and :func:`check_targets` read the same numbers; :func:`run_mi_benchmark` and
:func:`run_pairwise_benchmark` run the sections and write CSV, Markdown and plots.

MI benchmark (``scripts/benchmark_mi.py``, :mod:`.mi`), after the paper's section 5:

- :func:`speed_rows` (:mod:`.speed`): seconds per estimate vs sequence length, one pair per call
  and batched (Table 1).
- :func:`level_rows` (:mod:`.accuracy`): mean error, variance and MAE on mixtures binned by true MI (Table 2).
- :func:`triplet_rows`: order accuracy, is MI(X;Y) > MI(X;Z)?, per number of components K (Table 3).
- :func:`distribution_rows`: Gaussians against the closed form (Fig. 4) and other families (A.4).
- :func:`highdim_rows`: independence testing with sliced MI, ROC AUC (Fig. 5).
- :func:`check_targets` (:mod:`.targets`): the issue's targets; :func:`mi_markdown`: the report.

Pairwise benchmark (``scripts/bench_pairwise.py``, :mod:`.pairwise`): pairs per second and peak
memory of :func:`infonet.pairwise.pairwise_mi` per device and precision, KSG per pair
(``infonet.baselines``' and scikit-learn's), and the end-to-end time of object discovery on synthetic tracks.

Shared helpers (options and presets, timing, progress, CSV, Markdown tables) live in :mod:`.common`.

All evaluation data comes from the fixed seeds in ``SEEDS``, never used by training (torch generators
seeded ``(seed * 1_000_003 + step) * 1_009 + rank``) or validation (10_000_019 and 10_000_020).
"""

from .accuracy import (
    HIGH_LEVELS,
    LEVELS,
    default_families,
    distribution_rows,
    highdim_rows,
    level_rows,
    per_group,
    sliced_scores,
    triplet_rows,
)
from .common import SEEDS, markdown_table, time_call, write_csv
from .mi import SECTIONS, MIBenchmarkConfig, MIReport, mi_markdown, resolve_mi_config, run_mi_benchmark
from .pairwise import (
    RELEASED_ARCHITECTURE_NOTE,
    PairwiseBenchmarkConfig,
    PairwiseReport,
    discovery_row,
    ksg_pair_rows,
    measure_pairwise,
    pairwise_markdown,
    planted_tracks,
    resolve_pairwise_config,
    run_pairwise_benchmark,
)
from .speed import speed_rows
from .targets import TARGETS, check_targets

__all__ = [
    "SEEDS",
    "SECTIONS",
    "LEVELS",
    "HIGH_LEVELS",
    "TARGETS",
    "RELEASED_ARCHITECTURE_NOTE",
    "MIBenchmarkConfig",
    "MIReport",
    "PairwiseBenchmarkConfig",
    "PairwiseReport",
    "resolve_mi_config",
    "resolve_pairwise_config",
    "time_call",
    "speed_rows",
    "level_rows",
    "triplet_rows",
    "default_families",
    "distribution_rows",
    "per_group",
    "sliced_scores",
    "highdim_rows",
    "check_targets",
    "markdown_table",
    "mi_markdown",
    "run_mi_benchmark",
    "planted_tracks",
    "measure_pairwise",
    "ksg_pair_rows",
    "discovery_row",
    "pairwise_markdown",
    "run_pairwise_benchmark",
    "write_csv",
]
