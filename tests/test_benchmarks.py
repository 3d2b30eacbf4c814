"""Smoke and known-answer tests of the benchmark drivers (``benchmarks``) and the evaluation
primitives they run on (``infonet.evaluation``), with tiny sizes and a tiny random InfoNet."""

import math
from pathlib import Path

import numpy as np
import pytest

import benchmarks as bm
import infonet
from infonet import distributions
from infonet.evaluation import (
    HIGHDIM_KINDS,
    LevelSet,
    TripletSet,
    highdim_pairs,
    level_stats,
    order_accuracy,
    roc_auc,
)
from infonet.interface import FunctionEstimator

LEVEL_KEYS = {"estimator", "level", "count", "mean_error", "variance", "mae", "true_mi", "seconds"}
THROUGHPUT_KEYS = {"method", "device", "precision", "tracks", "frames", "pairs", "seconds", "pairs_per_s"}


@pytest.fixture
def tiny(tiny_model) -> infonet.InfoNetEstimator:
    return infonet.InfoNetEstimator(model=tiny_model)


def _level_set(rng, rhos=(0.0, 0.6), per=3, n=200) -> LevelSet:
    """Gaussian pairs with exact MI, one "level" per rho: a level set without Monte-Carlo."""
    xs, ys, mis = [], [], []
    for rho in rhos:
        for _ in range(per):
            z = rng.standard_normal((2, n))
            xs.append(z[0])
            ys.append(rho * z[0] + math.sqrt(1 - rho**2) * z[1])
            mis.append(distributions.gaussian_mi(rho))
    mi = np.array(mis)
    return LevelSet(np.array(xs), np.array(ys), mi, np.zeros_like(mi), np.repeat(rhos, per), np.ones(len(mi), int))


# ----------------------------------------------------------------------------- helpers with known answers


def test_roc_auc_hand_examples():
    assert roc_auc([2.0, 3.0], [0.0, 1.0]) == 1.0
    assert roc_auc([0.0, 1.0], [2.0, 3.0]) == 0.0
    assert roc_auc([1.0, 1.0], [1.0, 1.0]) == 0.5  # all ties
    assert roc_auc([0.0, 3.0], [1.0, 2.0]) == 0.5  # half the pairs right
    assert roc_auc([2.0], [1.0, 2.0]) == 0.75  # one right, one tie
    with pytest.raises(ValueError):
        roc_auc([], [1.0])


def test_level_stats_of_known_errors(rng):
    data = _level_set(rng, rhos=(0.0, 0.6), per=3)
    errors = np.array([0.1, 0.1, 0.1, -0.2, 0.0, 0.2])  # level 0.0: a constant bias; 0.6: spread, no bias
    stats = {r["level"]: r for r in level_stats(data.mi + errors, data)}
    assert stats[0.0]["count"] == 3 and stats[0.6]["count"] == 3
    assert stats[0.0]["mean_error"] == pytest.approx(0.1) and stats[0.0]["variance"] == pytest.approx(0.0, abs=1e-15)
    assert stats[0.0]["mae"] == pytest.approx(0.1)
    assert stats[0.6]["mean_error"] == pytest.approx(0.0, abs=1e-15)
    assert stats[0.6]["variance"] == pytest.approx(0.08 / 3) and stats[0.6]["mae"] == pytest.approx(0.4 / 3)


def test_order_accuracy_of_perfect_and_reversed_estimates():
    mi_xy, mi_xz = np.array([0.5, 0.1, 0.9, 0.2]), np.array([0.2, 0.4, 0.3, 0.6])
    data = TripletSet(*np.zeros((3, 4, 8)), mi_xy, mi_xz, np.array([1, 1, 2, 2]))
    perfect = order_accuracy(mi_xy, mi_xz, data)
    assert [(r["components"], r["count"], r["accuracy"]) for r in perfect] == [(1, 2, 1.0), (2, 2, 1.0)]
    assert [r["accuracy"] for r in order_accuracy(mi_xz, mi_xy, data)] == [0.0, 0.0]  # every order reversed
    half = order_accuracy(np.array([0.5, 0.5, 0.0, 0.0]), np.array([0.0, 0.0, 0.5, 0.5]), data)
    assert [r["accuracy"] for r in half] == [0.5, 0.5]


def test_per_group_takes_the_first_of_each_group():
    groups = np.array([0.0, 0.0, 0.0, 0.5, 0.5])
    assert bm.per_group(groups, None).tolist() == [0, 1, 2, 3, 4]
    assert bm.per_group(groups, 2).tolist() == [0, 1, 3, 4]
    assert bm.per_group(groups, 0).tolist() == []


def test_time_call_repeats_and_budget():
    calls = []
    seconds, runs = bm.time_call(lambda: calls.append(1), repeats=4, warmup=2)
    assert runs == 4 and len(calls) == 6 and seconds >= 0
    _, runs = bm.time_call(lambda: None, repeats=100, budget_s=0.0)
    assert runs == 1  # at least one timed run, whatever the budget


def test_seeds_are_fresh():
    for name in ("levels", "high_levels", "triplets"):  # torch generators: never a training seed
        assert bm.SEEDS[name] % 1_009 >= 290
    assert 10_000_019 not in bm.SEEDS.values() and len(set(bm.SEEDS.values())) == len(bm.SEEDS)


# ----------------------------------------------------------------------------- targets


def _target_rows(mae=0.01, accuracy=0.997, sweep_mae=0.01, seconds=0.0015, missing_level=False, device="cuda"):
    levels = [{"estimator": "infonet", "level": lv, "mae": mae if lv == 0.7 else 0.01} for lv in bm.LEVELS]
    levels += [{"estimator": "infonet", "level": 1.4, "mae": 0.5}]  # above 0.9: not a target
    if missing_level:
        levels = levels[1:]
    triplets = [
        {"estimator": "infonet", "components": k, "accuracy": accuracy if k == 3 else 1.0} for k in range(1, 11)
    ]
    triplets += [{"estimator": "ksg", "components": 1, "accuracy": 0.5}]  # another estimator: ignored
    sweep = [
        {"estimator": "infonet", "mae": sweep_mae, "count": 3},
        {"estimator": "infonet", "mae": sweep_mae, "count": 3},
    ]
    speed = [
        {"estimator": "infonet", "device": device, "batch": 1, "n": 1000, "seconds": seconds},
        {"estimator": "infonet", "device": device, "batch": 16, "n": 1000, "seconds": 99.0},  # batched: not a target
    ]
    return bm.check_targets(levels=levels, triplets=triplets, sweep=sweep, speed=speed)[:4]


def test_size_targets_compare_with_ksg_at_every_n():
    def summary(name, mae, zero, coverage=float("nan")):
        return [
            {"estimator": name, "n": n, "level_mae": mae, "mean_at_zero": zero, "coverage90": coverage}
            for n in (32, 64)
        ]

    by_key = lambda rows: {r["key"]: r for r in rows}  # noqa: E731
    rows = by_key(bm.check_targets(sizes=summary("infonet", 0.1, 0.02, 0.9) + summary("ksg-sklearn", 0.12, 0.0)))
    assert rows["sizes_vs_ksg"]["status"] == "PASS" and "n=32: 0.100 vs 0.120" in rows["sizes_vs_ksg"]["measured"]
    assert rows["zero_bias"]["status"] == "PASS" and rows["coverage"]["status"] == "PASS"
    rows = by_key(bm.check_targets(sizes=summary("infonet", 0.13, 0.04, 0.97) + summary("ksg", 0.12, 0.0)))
    assert rows["sizes_vs_ksg"]["status"] == "MISS"  # worse than the project's KSG when sklearn's did not run
    assert rows["zero_bias"]["status"] == "MISS"  # 0.04 > 0.03 at n = 64 (0.04 <= 0.05 at n = 32 alone would pass)
    assert rows["coverage"]["status"] == "MISS"
    triplets = [
        {"estimator": e, "components": 1, "accuracy": a, "accuracy_gap": a}
        for e, a in (("infonet", 0.9), ("ksg", 0.95))
    ]
    assert by_key(bm.check_targets(triplets=triplets))["order_vs_ksg"]["status"] == "MISS"


def test_targets_pass_and_miss():
    assert [r["status"] for r in _target_rows()] == ["PASS"] * 4
    statuses = [r["status"] for r in _target_rows(mae=0.031, accuracy=0.994, sweep_mae=0.021, seconds=0.0025)]
    assert statuses == ["MISS"] * 4
    rows = _target_rows(mae=0.05)
    assert "0.0500 at level 0.7" in rows[0]["measured"]
    assert _target_rows(missing_level=True)[0]["status"] == "MISS"  # a level without data cannot pass
    assert "K = 3" in _target_rows(accuracy=0.9)[1]["measured"]


def test_speed_target_is_for_cuda_only():
    assert bm.TARGETS["single_seconds"] == 0.002  # the issue: 2 ms on one H100 (paper: 11 ms, RTX 4090)
    cpu = _target_rows(seconds=0.0015, device="cpu")[3]
    assert cpu["status"] == "not applicable (CPU run; the target is for one H100)"
    assert cpu["measured"] == "cpu 1.50 ms"  # still reported
    assert _target_rows(seconds=0.5, device="cpu")[3]["status"] == cpu["status"]  # slow on the CPU: no MISS
    speed = [
        {"estimator": "infonet", "device": "cpu", "batch": 1, "n": 1000, "seconds": 0.05},
        {"estimator": "infonet", "device": "cuda", "batch": 1, "n": 1000, "seconds": 0.0019},
    ]
    row = bm.check_targets(speed=speed)[3]
    assert row["status"] == "PASS" and row["measured"] == "cpu 50.00 ms, cuda 1.90 ms"  # decided by the GPU row
    speed[1]["seconds"] = 0.0021
    assert bm.check_targets(speed=speed)[3]["status"] == "MISS"


def test_targets_not_run_and_speedup():
    assert [r["status"] for r in bm.check_targets()] == ["not run"] * 8
    rows = bm.check_targets(
        pairwise=[{"frames": 200, "sklearn_speedup": 7.0}, {"frames": 1000, "sklearn_speedup": 4.0}]
    )
    assert rows[-1]["status"] == "MISS" and "T=1000: 4.00x" in rows[-1]["measured"]
    rows = bm.check_targets(pairwise=[{"frames": 200, "sklearn_speedup": 5.0}])
    assert rows[-1]["status"] == "PASS"


# ----------------------------------------------------------------------------- sections


def test_speed_rows(tiny):
    estimators = [("infonet", "cpu", tiny), ("gaussian", "cpu", infonet.get_estimator("gaussian"))]
    estimators.append(("ksg", "cpu", infonet.get_estimator("ksg")))
    rows = bm.speed_rows(
        estimators, lengths=(64, 128), batches=(4,), repeats=2, budget_s=1.0, slow_lengths={"ksg": (64,)}
    )
    cells = {(r["estimator"], r["batch"], r["n"]) for r in rows}
    assert ("infonet", 4, 128) in cells and ("gaussian", 4, 64) in cells
    assert ("ksg", 1, 64) in cells and ("ksg", 1, 128) not in cells and ("ksg", 4, 64) not in cells
    assert all(r["seconds"] > 0 and r["repeats"] >= 1 and r["threads"] >= 1 for r in rows)


def test_level_rows_caps_and_keys(rng, tiny):
    data = _level_set(rng)
    estimators = {
        "infonet": tiny,
        "gaussian": infonet.get_estimator("gaussian"),
        "mine": FunctionEstimator("mine", lambda x, y: 0.0),
    }
    rows = bm.level_rows(estimators, data, caps={"mine": 1})
    assert all(set(r) == LEVEL_KEYS for r in rows)
    assert {r["level"] for r in rows} == {0.0, 0.6}
    assert [r["count"] for r in rows if r["estimator"] == "mine"] == [1, 1]
    gauss = {r["level"]: r for r in rows if r["estimator"] == "gaussian"}
    assert gauss[0.6]["mae"] < 0.1 and gauss[0.6]["true_mi"] == pytest.approx(distributions.gaussian_mi(0.6))
    mine = {r["level"]: r for r in rows if r["estimator"] == "mine"}
    assert mine[0.6]["mean_error"] == pytest.approx(-distributions.gaussian_mi(0.6))  # estimate 0 vs truth
    assert not [r for r in bm.level_rows(estimators, data, caps={"mine": 0}) if r["estimator"] == "mine"]


def test_triplet_rows_known_order(rng):
    S, n = 6, 300
    x = rng.standard_normal((S, n))
    y = x + 0.3 * rng.standard_normal((S, n))  # strongly dependent on x
    z = rng.standard_normal((S, n))  # independent of x
    # truth: MI(X;Y) > MI(X;Z) for K = 1; the order stated reversed for K = 2
    k = np.repeat([1, 2], 3)
    data = TripletSet(x, y, z, np.where(k == 1, 1.0, 0.0), np.where(k == 1, 0.0, 1.0), k)
    gaussian = infonet.get_estimator("gaussian")
    reversed_ = FunctionEstimator("reversed", lambda a, b: -gaussian.estimate(a, b))
    rows = bm.triplet_rows({"gaussian": gaussian, "reversed": reversed_}, data)
    accuracy = {(r["estimator"], r["components"]): r["accuracy"] for r in rows}
    assert accuracy == {("gaussian", 1): 1.0, ("gaussian", 2): 0.0, ("reversed", 1): 0.0, ("reversed", 2): 1.0}
    assert all(r["count"] == 3 for r in rows)


def test_distribution_rows(tiny):
    dists = [distributions.gaussian(0.5), distributions.additive_uniform(0.3)]
    ests = {"gaussian": infonet.get_estimator("gaussian"), "infonet": tiny}
    rows = bm.distribution_rows(ests, dists, n=400, seeds=2, seed=bm.SEEDS["gaussian_sweep"], params=[0.5, 0.3])
    assert len(rows) == 4 and rows[0]["param"] == 0.5 and rows[0]["count"] == 2
    gauss = rows[0]
    assert gauss["true_mi"] == pytest.approx(distributions.gaussian_mi(0.5)) and gauss["mae"] < 0.05
    again = bm.distribution_rows(ests, dists, n=400, seeds=2, seed=bm.SEEDS["gaussian_sweep"])
    assert again[0]["mean_estimate"] == rows[0]["mean_estimate"]  # seeded: reproducible


def test_highdim_pairs_shapes_and_dependence():
    for kind in HIGHDIM_KINDS:
        x, y = highdim_pairs(kind, 2, 50, 6, seed=1)
        assert x.shape == y.shape == (2, 50, 6)
    x, y = highdim_pairs("one_feature", 1, 4000, 6, seed=1)
    corr = np.corrcoef(x[0].T, y[0].T)[:6, 6:]
    assert corr[0, 0] > 0.6 and np.abs(corr[1:, 1:]).max() < 0.1
    with pytest.raises(ValueError, match="dependence"):
        highdim_pairs("bogus", 1, 10, 2, seed=0)


def test_sliced_scores_match_estimate_mi(rng, tiny, tiny_model):
    x = rng.standard_normal((128, 5))
    y = np.tanh(x) + rng.standard_normal((128, 5))
    xs, ys = np.stack([x, y]), np.stack([y, x])  # the pair both ways round: one of them is read swapped
    seen = []
    many = bm.sliced_scores(
        tiny,
        xs,
        ys,
        num_projections=16,
        seed=7,
        max_batch=16,
        progress=lambda *a: seen.append(a),
    )
    for i in range(2):  # pair i uses projection seed 7 + i, the projections of infonet.estimate_mi
        library = infonet.estimate_mi(xs[i], ys[i], model=tiny_model, method="sliced", num_projections=16, seed=7 + i)
        assert many[i] == pytest.approx(library, abs=1e-6)
    assert many[1] != many[0]
    assert seen[0] == (0, 32) and seen[-1] == (32, 32)  # counted in projected pairs


def test_highdim_rows(tiny):
    ests = {"gaussian": infonet.get_estimator("gaussian"), "constant": FunctionEstimator("constant", lambda x, y: 0.0)}
    ests["infonet"] = tiny
    kinds = ("all_coordinates", "one_feature")
    rows = bm.highdim_rows(ests, dims=(4,), n=300, pairs=6, num_projections=8, kinds=kinds, seed=5)
    assert len(rows) == 6
    assert {"estimator", "d", "dependence", "auc", "mean_dependent", "mean_independent"} <= set(rows[0])
    auc = {(r["estimator"], r["dependence"]): r["auc"] for r in rows}
    assert auc["gaussian", "all_coordinates"] == 1.0  # y = x + noise in 4 dimensions is easy
    assert auc["constant", "all_coordinates"] == auc["constant", "one_feature"] == 0.5  # all ties: chance
    # each AUC is the one of the estimator's sliced scores on the pairs of that kind
    x, y = highdim_pairs("one_feature", 6, 300, 4, 5 + 4_000_000 + 10_000 * HIGHDIM_KINDS.index("one_feature"))
    x0, y0 = highdim_pairs("independent", 6, 300, 4, 5 + 4_000_000)
    dep, null = (bm.sliced_scores(tiny, a, b, num_projections=8, seed=5) for a, b in ((x, y), (x0, y0)))
    assert auc["infonet", "one_feature"] == roc_auc(dep, null)


def test_config_presets_and_validation():
    cfg = bm.resolve_mi_config(bm.MIBenchmarkConfig(quick=True, device="cpu", per_k=7))
    assert cfg.per_level == 40 and cfg.per_k == 7 and cfg.mc_samples == 20_000 and cfg.device == "cpu"
    assert cfg.cap("mine", "levels") == 2 and cfg.cap("mine", "triplets") == 0 and cfg.cap("ksg", "levels") is None
    assert cfg.cap("kde", "highdim") == 0 and cfg.cap("infonet", "highdim") is None
    assert bm.resolve_mi_config(bm.MIBenchmarkConfig(device="cpu")).per_level == 200
    with pytest.raises(ValueError, match="estimator"):
        bm.resolve_mi_config(bm.MIBenchmarkConfig(device="cpu", estimators=("nope",)))
    with pytest.raises(ValueError, match="section"):
        bm.resolve_mi_config(bm.MIBenchmarkConfig(device="cpu", sections=("levels", "nope")))
    pw = bm.resolve_pairwise_config(bm.PairwiseBenchmarkConfig(quick=True, device="cpu"))
    assert pw.frames == (200, 1000) and pw.discover_tracks == 200
    with pytest.raises(ValueError, match="frames"):
        bm.resolve_pairwise_config(bm.PairwiseBenchmarkConfig(device="cpu", frames=(4,)))


def test_run_mi_benchmark_writes_report(tmp_path, tiny_model):
    cfg = bm.MIBenchmarkConfig(
        out=str(tmp_path / "mi"),
        device="cpu",
        estimators=("infonet", "gaussian"),
        sections=("speed", "distributions", "highdim"),
        n=200,
        speed_lengths=(64,),
        speed_batches=(4,),
        speed_repeats=1,
        sweep_seeds=1,
        highdim_dims=(3,),
        highdim_n=100,
        highdim_pairs=3,
        highdim_projections=4,
        quick=True,
    )
    report = bm.run_mi_benchmark(cfg, model=tiny_model)
    out = tmp_path / "mi"
    for name in ("results.md", "speed.csv", "gaussian_sweep.csv", "families.csv", "highdim.csv", "targets.csv"):
        assert (out / name).is_file(), name
    assert (out / "speed.png").is_file() and (out / "highdim_auc.png").is_file()
    assert "## Targets" in report.markdown and "Quick mode" in report.markdown
    status = {r["target"].split(" ")[1]: r["status"] for r in report.results["targets"]}
    assert status["MAE"] == "not run"  # the level section did not run
    assert report.markdown == (out / "results.md").read_text()


# ----------------------------------------------------------------------------- pairwise


def test_planted_tracks():
    tracks, ids = bm.planted_tracks(30, 40, 3, seed=1)
    assert tracks.shape == (40, 30, 2) and ids.shape == (30,) and set(ids) <= {1, 2, 3}
    a, b = np.flatnonzero(ids == np.bincount(ids).argmax())[:2]  # 30 tracks, 3 objects: one has >= 10
    assert np.corrcoef(tracks[:, a, 0], tracks[:, b, 0])[0, 1] > 0.9  # tracks of one object move together


def test_measure_pairwise_and_ksg_rows(tiny_model):
    tracks, _ = bm.planted_tracks(6, 64, 2, seed=2)
    series = tracks[:, :, 0].T
    row = bm.measure_pairwise(tiny_model, series, device="cpu", precision="fp32", isolate=False)
    assert THROUGHPUT_KEYS <= set(row) and row["pairs"] == 15 and row["pairs_per_s"] > 0
    assert row["pairs_per_s"] == pytest.approx(15 / row["seconds"])
    if Path("/proc/self/status").is_file():  # Linux: the peak is read from there, so it is a number
        assert math.isfinite(row["peak_mem_mib"]) and row["peak_mem_mib"] >= 0
    rows = bm.ksg_pair_rows(series, pairs=3)
    assert rows[0]["method"].startswith("ksg (infonet") and all(r["pairs"] == 3 for r in rows)
    assert all(THROUGHPUT_KEYS <= set(r) for r in rows)


def test_discovery_row_finds_planted_objects():
    tracks, ids = bm.planted_tracks(24, 64, 2, seed=3, jitter=0.1)
    row = bm.discovery_row(tracks, ids, infonet.get_estimator("pearson"), device="cpu")
    assert row["tracks"] == 24 and row["frames"] == 64 and row["pairs"] == 276 and row["planted_objects"] == 2
    assert row["objects_found"] == 2 and row["f_measure"] == 1.0 and row["objects_extracted"] == 2
    assert row["seconds"] >= row["seconds_mi"] > 0


def test_run_pairwise_benchmark(tmp_path, tiny_model):
    cfg = bm.PairwiseBenchmarkConfig(
        out=str(tmp_path / "pw"),
        device="cpu",
        frames=(32,),
        cpu_tracks=5,
        ksg_pairs=2,
        discover_tracks=12,
        discover_frames=32,
    )
    seen = set()
    report = bm.run_pairwise_benchmark(
        cfg,
        model=tiny_model,
        isolate=False,
        progress=lambda label, done, total: seen.add(label),
    )
    assert seen == {"pairwise benchmark", "discovery (MI pairs)"}
    assert [r["device"] for r in report.throughput][0] == "cpu" and len(report.speedups) == 1
    _, ids = bm.planted_tracks(12, 32, cfg.groups, cfg.seed)  # the discovery run's tracks
    assert report.discovery[0]["tracks"] == 12 and report.discovery[0]["planted_objects"] == len(set(ids))
    assert report.throughput[0]["pairs"] == 10 and report.speedups[0]["frames"] == 32
    assert "Reference, not measured here" in report.markdown
    for name in ("throughput.csv", "speedups.csv", "discovery.csv", "results.md"):
        assert (tmp_path / "pw" / name).is_file()


@pytest.mark.slow
def test_cpu_measurement_in_own_process(tiny_model):
    tracks, _ = bm.planted_tracks(8, 64, 2, seed=4)
    row = bm.measure_pairwise(tiny_model, tracks[:, :, 0].T, device="cpu", precision="fp32", isolate=True)
    assert row["pairs"] == 28 and row["pairs_per_s"] > 0 and "own process" in row["memory"]


def test_size_rows_known_answers():
    from benchmarks.sizes import chunks, size_rows, size_summary

    rng = np.random.default_rng(0)
    levels = LevelSet(
        x=rng.standard_normal((4, 64)), y=rng.standard_normal((4, 64)), mi=np.array([0.0, 0.1, 0.5, 0.52]),
        se=np.zeros(4), level=np.array([0.0, 0.1, 0.5, 0.5]), components=np.ones(4),
    )  # fmt: skip
    assert np.array_equal(chunks(levels.x, 16, 2), levels.x[:, :32].reshape(-1, 16))
    zero = FunctionEstimator("zero", lambda x, y: 0.0)
    fams = [distributions.gaussian(0.6)]
    rows = size_rows({"zero": zero}, levels, sizes=(16, 64), families=fams, family_repeats=2, max_chunks=3)
    (s16, s64) = size_summary(rows)
    assert s16["n"] == 16 and s64["n"] == 64
    for s in (s16, s64):  # an estimator that always says 0: its error is the truth itself
        assert s["mean_at_zero"] == 0.0
        assert s["level_mae"] == pytest.approx(np.mean([0.0, 0.1, 0.51]))
        assert s["family_mae"] == pytest.approx(distributions.gaussian(0.6).mi)
    counts = {r["group"]: r["count"] for r in rows if r["n"] == 16 and r["kind"] == "level"}
    assert counts == {0.0: 3, 0.1: 3, 0.5: 6}  # min(3 chunks, 64 // 16) per sequence
