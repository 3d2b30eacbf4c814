"""The pairwise benchmark (``scripts/bench_pairwise.py``): pairs per second and peak memory of
:func:`infonet.pairwise.pairwise_mi` per device and precision, KSG per pair (``infonet.baselines``' and
scikit-learn's), and the end-to-end time of object discovery on synthetic tracks.

Shapes: N tracks (series), T frames, G planted groups.
"""

from __future__ import annotations

import concurrent.futures
import copy
import io
import logging
import math
import multiprocessing
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from infonet.baselines import ksg
from infonet.checkpoint import model_from_checkpoint, model_payload
from infonet.estimate import InfoNetEstimator
from infonet.interface import MIEstimator
from infonet.model import InfoNet
from infonet.pairwise import pairwise_mi
from segmentation import discover, score_grouping

from .common import (
    SEEDS,
    Progress,
    apply_preset,
    cell,
    load_model,
    markdown_table,
    model_info,
    option,
    plain,
    relay,
    report_header,
    run_info,
    write_csv,
)
from .targets import check_targets, targets_table

log = logging.getLogger(__name__)

# Reported as text only: not measured by this benchmark.
RELEASED_ARCHITECTURE_NOTE = (
    "Reference, not measured here: the released 12.7 M-parameter InfoNet architecture ran at about "
    "1,150 pairs/s on an H100 at n = 1000, against about 66,000 pairs/s for a lean 1.2 M-parameter "
    "model of this family (bf16, batch 512, untuned), as reported in the issue and in REFERENCE.md §6."
)


@dataclass
class PairwiseBenchmarkConfig:
    """Options of the pairwise benchmark; None fields take the preset of the mode (quick, CPU or GPU)."""

    quick: bool = option(False, "small sizes on the CPU: a few minutes")
    out: str = option("outputs/bench_pairwise", "output folder")
    device: str = option("auto", "accelerator for the GPU rows and the discovery run: auto, cpu, cuda")
    weights: str = option(
        "", "InfoNet checkpoint (default: $INFONET_WEIGHTS or the shipped infonet/weights/infonet.pt)"
    )
    frames: tuple[int, ...] | None = option(None, "T values of the throughput runs (preset: 1000; quick: 200 1000)")
    tracks: int | None = option(None, "N series on the GPU (preset 1000)")
    cpu_tracks: int | None = option(None, "N series on the CPU (preset 100; quick 40)")
    chunk_size: int | None = option(None, "pairs per forward pass (default: sized to the device)")
    ksg_pairs: int | None = option(None, "pairs timed per KSG implementation (preset 50; quick 20)")
    discover_tracks: int | None = option(None, "tracks of the discovery run (preset: GPU 1000, CPU 300, quick 200)")
    discover_frames: int | None = option(None, "frames of the discovery run (preset 1000; quick 200)")
    groups: int = option(5, "planted groups (objects) in the synthetic tracks")
    seed: int = option(SEEDS["pairwise"], "seed of the synthetic tracks")


_PRESETS = {
    "quick": dict(
        frames=(200, 1000), tracks=200, cpu_tracks=40, ksg_pairs=20, discover_tracks=200, discover_frames=200
    ),
    "cpu": dict(frames=(1000,), tracks=1000, cpu_tracks=100, ksg_pairs=50, discover_tracks=300, discover_frames=1000),
    "gpu": dict(frames=(1000,), tracks=1000, cpu_tracks=100, ksg_pairs=50, discover_tracks=1000, discover_frames=1000),
}


def resolve_pairwise_config(cfg: PairwiseBenchmarkConfig) -> PairwiseBenchmarkConfig:
    """Fills the None options from the preset of the mode and resolves the device.

    Raises:
        ValueError: sizes out of range.
    """
    cfg = apply_preset(cfg, _PRESETS)
    if min(cfg.frames) < 8 or cfg.discover_frames < 8:
        raise ValueError(f"frames must be >= 8 (MI needs samples); got {cfg.frames} and {cfg.discover_frames}")
    for name in ("tracks", "cpu_tracks", "discover_tracks", "ksg_pairs", "groups"):
        if getattr(cfg, name) < (1 if name in ("ksg_pairs", "groups") else 2):
            raise ValueError(f"{name} is too small: {getattr(cfg, name)}")
    if cfg.chunk_size is not None and cfg.chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {cfg.chunk_size}")
    return cfg


def planted_tracks(
    num_tracks: int,
    num_frames: int,
    num_groups: int,
    seed: int,
    *,
    step: float = 3.0,
    jitter: float = 1.0,
    size: tuple[float, float] = (960.0, 540.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic point tracks of objects in random-walk motion.

    Each track belongs to one of ``num_groups`` objects; an object moves by a 2-D Gaussian random
    walk (``step`` pixels per frame), and its tracks follow that motion from their own start
    position, plus independent per-frame ``jitter``.

    Returns:
        tracks: (T, N, 2) pixel x, y; object_ids: (N,) in 1..num_groups (0 is background in FBMS scoring).
    """
    rng = np.random.default_rng(seed)
    ids = rng.integers(num_groups, size=num_tracks) + 1  # (N,)
    motion = np.cumsum(rng.normal(0.0, step, (num_groups, num_frames, 2)), axis=1)  # (G, T, 2)
    start = rng.uniform(0.0, 1.0, (num_tracks, 2)) * np.asarray(size)  # (N, 2)
    tracks = start + motion[ids - 1].transpose(1, 0, 2) + rng.normal(0.0, jitter, (num_frames, num_tracks, 2))
    return tracks, ids


# ----------------------------------------------------------------------------- throughput and memory


def _proc_kb(key: str) -> float:
    """A field of /proc/self/status in kB (VmRSS: resident now, VmHWM: peak); nan where unavailable."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return math.nan


def _reset_peak_rss() -> None:
    try:  # Linux: writing 5 to clear_refs resets VmHWM to the current RSS
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


REPEATS = 5  # timed calls per throughput row; the row reports their median


def median_seconds(run: Callable[[], object], repeats: int = REPEATS) -> float:
    """The median wall time of ``repeats`` calls of ``run``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _measure_in_process(
    model: InfoNet, series: np.ndarray, chunk_size: int | None, precision: str
) -> tuple[float, float]:
    """(seconds, peak memory MiB above the level before the first call) of ``pairwise_mi`` on
    ``series``: the median of :data:`REPEATS` calls (one call of 40 series takes a fifth of a second,
    where a single reading wanders by a third on a shared machine)."""
    device = next(model.parameters()).device
    run = lambda s: pairwise_mi(model, s, chunk_size=chunk_size, precision=precision)
    run(series[: min(8, len(series))])  # warm-up: kernels, allocator
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    else:
        base = _proc_kb("VmRSS")
        _reset_peak_rss()
    seconds = median_seconds(lambda: run(series))  # returns a host array: the device work is finished
    if device.type == "cuda":
        return seconds, (torch.cuda.max_memory_allocated(device) - base) / 2**20
    return seconds, max(_proc_kb("VmHWM") - base, 0.0) / 1024


def _cpu_child(payload: bytes, series: np.ndarray, chunk_size: int | None, precision: str, threads: int):
    torch.set_num_threads(threads)
    model = model_from_checkpoint(torch.load(io.BytesIO(payload), weights_only=True)).eval().requires_grad_(False)
    return _measure_in_process(model, series, chunk_size, precision)


def measure_pairwise(
    model: InfoNet,
    series: np.ndarray,
    *,
    device: str,
    precision: str,
    chunk_size: int | None = None,
    isolate: bool = True,
) -> dict:
    """Pairs per second and peak memory of ``infonet.pairwise.pairwise_mi`` on series (N, T).

    On CUDA the peak is ``torch.cuda.max_memory_allocated`` above the memory in use before the
    call. On the CPU it is the growth of the resident set (VmHWM over VmRSS); with ``isolate``
    the CPU run happens in a fresh process, so memory the allocator kept from earlier work in
    this process cannot hide it.

    Returns:
        row: method, device, precision, tracks, frames, pairs, seconds, pairs_per_s, peak_mem_mib, memory.
    """
    N, T = series.shape
    if torch.device(device).type == "cpu" and isolate:
        buf = io.BytesIO()
        torch.save(model_payload(model), buf)
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
            seconds, peak = pool.submit(
                _cpu_child, buf.getvalue(), series, chunk_size, precision, torch.get_num_threads()
            ).result()
    else:
        seconds, peak = _measure_in_process(copy.deepcopy(model).to(device).eval(), series, chunk_size, precision)
    pairs = N * (N - 1) // 2
    memory = "cuda max_memory_allocated" if torch.device(device).type == "cuda" else "RSS peak growth"
    memory += " (own process)" if memory.startswith("RSS") and isolate else ""
    row = {"method": "infonet pairwise_mi", "device": device, "precision": precision, "tracks": N, "frames": T}
    row |= {"pairs": pairs, "seconds": seconds, "pairs_per_s": pairs / seconds, "peak_mem_mib": peak}
    return plain({**row, "memory": memory})


def ksg_pair_rows(series: np.ndarray, *, pairs: int, sklearn: bool = True) -> list[dict]:
    """Seconds per pair of KSG (k = 3) on the CPU, one pair per call, on the first ``pairs`` pairs of series (N, T)
    (the median of :data:`REPEATS` passes over them).

    Times ``infonet.baselines.ksg`` and, when scikit-learn is importable and ``sklearn`` is set,
    ``sklearn.feature_selection.mutual_info_regression``.

    Returns:
        rows in the schema of :func:`measure_pairwise` (no memory column).
    """
    N, T = series.shape
    rows_i, cols_i = np.triu_indices(N, k=1)
    rows_i, cols_i = rows_i[:pairs], cols_i[:pairs]
    methods = {"ksg (infonet.baselines, k=3)": lambda a, b: ksg(a, b, k=3)}
    if sklearn:
        try:
            from sklearn.feature_selection import mutual_info_regression
        except ImportError:
            log.warning("scikit-learn is not installed: its KSG is not timed")
        else:
            methods["ksg (sklearn mutual_info_regression, k=3)"] = lambda a, b: mutual_info_regression(
                a.reshape(-1, 1), b, n_neighbors=3, random_state=0
            )[0]
    out = []
    for name, fn in methods.items():
        fn(series[rows_i[0]], series[cols_i[0]])  # warm-up
        pairs_once = lambda fn=fn: [fn(series[i], series[j]) for i, j in zip(rows_i, cols_i, strict=True)]  # noqa: E731
        seconds = median_seconds(pairs_once)
        row = {"method": name, "device": "cpu", "precision": "fp64", "tracks": "", "frames": T, "pairs": len(rows_i)}
        out.append({**row, "seconds": seconds, "pairs_per_s": len(rows_i) / seconds, "peak_mem_mib": "", "memory": ""})
    return out


# ----------------------------------------------------------------------------- end-to-end discovery


def discovery_row(
    tracks: np.ndarray,
    object_ids: np.ndarray,
    estimator: MIEstimator,
    *,
    device: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """End-to-end time of one ``segmentation.discover`` on tracks (T, N, 2), after a warm-up on
    16 tracks, and the FBMS score of its grouping (``segmentation.score_grouping``) against ``object_ids``.

    Args:
        progress: passed on to the timed ``discover`` call (pairs done, total).
    Returns:
        row: tracks, frames, pairs, device, seconds, seconds_mi, seconds_group, objects_found,
        planted_objects, f_measure, objects_extracted (objects with F >= 0.75).
    """
    T, N, _ = tracks.shape
    # the 1-D networks' all-pairs path, whose throughput this benchmark measures (the paper's affinity)
    discover(tracks[:, : min(16, N)], estimator, feature="coords")
    start = time.perf_counter()
    result = discover(tracks, estimator, feature="coords", progress=progress)
    seconds = time.perf_counter() - start
    labels = np.asarray(result.labels)
    scored = score_grouping(labels, object_ids)
    row = {"tracks": N, "frames": T, "pairs": N * (N - 1) // 2, "device": device, "seconds": seconds}
    row |= {"seconds_mi": result.timings.get("mi", math.nan), "seconds_group": result.timings.get("group", math.nan)}
    row |= {"objects_found": int(labels.max(initial=0)), "planted_objects": len(np.unique(object_ids))}  # groups 1..K
    return plain({**row, "f_measure": scored.f, "objects_extracted": scored.objects_extracted})


# ----------------------------------------------------------------------------- report and driver


@dataclass
class PairwiseReport:
    """What :func:`run_pairwise_benchmark` measured: throughput rows, speed-up rows, the discovery
    row, targets, Markdown and files."""

    throughput: list[dict]
    speedups: list[dict]
    discovery: list[dict]
    targets: list[dict]
    markdown: str
    files: list[Path]


def _records_table(header: Sequence[str], keys: Sequence[str], rows: list[dict], spec: dict[str, str]) -> str:
    """A Markdown table of dict rows: column i shows ``row[keys[i]]`` formatted by ``spec.get(key, "")``."""
    return markdown_table(header, [[cell(r[k], spec.get(k, "")) for k in keys] for r in rows])


def pairwise_markdown(
    throughput: list[dict], speedups: list[dict], discovery: list[dict], targets: list[dict], info: dict
) -> str:
    """The report of :func:`run_pairwise_benchmark` as Markdown."""
    out = [
        *report_header("InfoNet pairwise benchmark", info),
        "",
        "## Throughput (1-D pairs: one coordinate series per track)",
        "",
    ]
    header = [*"method device precision N T pairs seconds pairs/s".split(), "peak memory (MiB)", "memory measured as"]
    keys = "method device precision tracks frames pairs seconds pairs_per_s peak_mem_mib memory".split()
    out.append(
        _records_table(header, keys, throughput, {"seconds": ".3f", "pairs_per_s": ",.0f", "peak_mem_mib": ".1f"})
    )
    if speedups:

        def cells(r: dict) -> list:
            rates = [cell(r[k], ",.0f") for k in ("infonet_pairs_per_s", "ksg_pairs_per_s", "sklearn_pairs_per_s")]
            ratios = [cell(r[k], ".2f") + ("x" if r[k] != "" else "") for k in ("ksg_speedup", "sklearn_speedup")]
            return [r["frames"], *rates, *ratios]

        header = ["T", "InfoNet CPU pairs/s", "KSG (infonet) pairs/s", "sklearn KSG pairs/s"]
        header += ["vs infonet KSG", "vs sklearn KSG"]
        out += ["", "## CPU InfoNet vs KSG per pair (same run, same T)", ""]
        out.append(markdown_table(header, [cells(r) for r in speedups]))
    if discovery:
        out += ["", "## End-to-end object discovery (segmentation.discover, coords feature)", ""]
        keys = list(discovery[0])  # tracks, frames, pairs, device, seconds..., f_measure, objects_extracted
        spec = {"seconds": ".2f", "seconds_mi": ".2f", "seconds_group": ".2f", "f_measure": ".3f"}
        out.append(_records_table(keys, keys, discovery, spec))
    if targets:
        out += ["", "## Targets", "", targets_table(targets)]
    out += ["", RELEASED_ARCHITECTURE_NOTE]
    return "\n".join(out) + "\n"


def _speedup_row(T: int, throughput: list[dict], ksg_rows: list[dict]) -> dict:
    """CPU InfoNet pairs/s at T against both KSGs' (the scikit-learn columns empty without it)."""
    infonet_cpu = next(
        r for r in throughput if r["frames"] == T and r["device"] == "cpu" and r["method"].startswith("infonet")
    )["pairs_per_s"]
    rate = {("sklearn" if "sklearn" in r["method"] else "ksg"): r["pairs_per_s"] for r in ksg_rows}
    row = {"frames": T, "infonet_pairs_per_s": infonet_cpu, "ksg_pairs_per_s": rate["ksg"]}
    row |= {"sklearn_pairs_per_s": rate.get("sklearn", ""), "ksg_speedup": infonet_cpu / rate["ksg"]}
    return {**row, "sklearn_speedup": infonet_cpu / rate["sklearn"] if "sklearn" in rate else ""}


def _throughput_rows(cfg: PairwiseBenchmarkConfig, cpu_model, runs, isolate: bool, tick) -> tuple[list, list]:
    """Throughput rows (``pairwise_mi`` per run, KSG per pair) and the speed-up row of every T."""
    throughput, speedups = [], []
    for T in cfg.frames:
        tracks, _ = planted_tracks(max(n for _, _, n in runs), T, cfg.groups, cfg.seed + T)
        series = tracks[:, :, 0].T  # (N, T): the x coordinate of every track
        for device, precision, n in runs:
            log.info("pairwise_mi %s %s N=%d T=%d", device, precision, n, T)
            throughput.append(
                measure_pairwise(
                    cpu_model,
                    series[:n],
                    device=device,
                    precision=precision,
                    chunk_size=cfg.chunk_size,
                    isolate=isolate,
                )
            )
            tick()
        ksg_rows = ksg_pair_rows(series, pairs=cfg.ksg_pairs)
        throughput += ksg_rows
        tick()
        speedups.append(_speedup_row(T, throughput, ksg_rows))
    return throughput, speedups


def run_pairwise_benchmark(
    cfg: PairwiseBenchmarkConfig,
    *,
    model: InfoNet | None = None,
    isolate: bool = True,
    progress: Progress | None = None,
) -> PairwiseReport:
    """Measures the pairwise path side by side and writes throughput.csv, speedups.csv,
    discovery.csv, results.md to ``cfg.out``.

    Runs: ``pairwise_mi`` on the CPU in fp32 and, with CUDA, in bf16 and fp32, for every T in
    ``cfg.frames``; KSG per pair at the same T; the speed-up of CPU InfoNet over both KSGs; and
    one end-to-end discovery on ``discover_tracks`` x ``discover_frames`` (:func:`discovery_row`).

    Args:
        model: an InfoNet to use instead of loading ``cfg.weights``.
        isolate: measure the CPU run in a fresh process (see :func:`measure_pairwise`).
    """
    cfg = resolve_pairwise_config(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    cuda = torch.device(cfg.device).type == "cuda"
    cpu_model = load_model(model, cfg.weights, "cpu")
    runs = [("cpu", "fp32", cfg.cpu_tracks)] + (
        [("cuda", "bf16", cfg.tracks), ("cuda", "fp32", cfg.tracks)] if cuda else []
    )
    steps = len(cfg.frames) * (len(runs) + 1) + 1
    done = 0

    def tick():
        nonlocal done
        done += 1
        if progress is not None:
            progress("pairwise benchmark", done, steps)

    throughput, speedups = _throughput_rows(cfg, cpu_model, runs, isolate, tick)
    tracks, ids = planted_tracks(cfg.discover_tracks, cfg.discover_frames, cfg.groups, cfg.seed)
    dev_model = cpu_model if not cuda else copy.deepcopy(cpu_model).to(cfg.device).eval()
    log.info("discovery on %d tracks x %d frames (%s)", cfg.discover_tracks, cfg.discover_frames, cfg.device)
    step = relay(progress, "discovery (MI pairs)")
    discovery = [discovery_row(tracks, ids, InfoNetEstimator(model=dev_model), device=cfg.device, progress=step)]
    tick()
    targets = check_targets(pairwise=[r for r in speedups if r["sklearn_speedup"] != ""])  # none without sklearn
    info = {**run_info(cfg.quick, cuda), **model_info(cpu_model, model is not None, cfg.weights)}
    info |= {
        "chunk size": cfg.chunk_size or "auto",
        "tracks": f"synthetic random walks, {cfg.groups} planted groups (seed {cfg.seed})",
    }
    markdown = pairwise_markdown(throughput, speedups, discovery, targets, info)
    files = [
        write_csv(rows, out / f"{name}.csv")
        for name, rows in (("throughput", throughput), ("speedups", speedups), ("discovery", discovery))
    ]
    (out / "results.md").write_text(markdown)
    files.append(out / "results.md")
    return PairwiseReport(throughput, speedups, discovery, targets, markdown, files)
