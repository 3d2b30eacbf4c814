"""The permutation test of independence: its p-value by hand, its size on independent data, its power."""

import numpy as np
import pytest

import infonet
from infonet.interface import MIEstimator


class FirstSample(MIEstimator):
    """A statistic whose null is known by hand: the product of the first samples of x and y."""

    name = "first-sample"

    def estimate(self, x, y) -> float:
        return float(np.ravel(x)[0] * np.ravel(y)[0])


def test_p_value_counts_the_shuffles_at_or_above_the_estimate():
    x, y = np.arange(1.0, 11.0), np.arange(1.0, 11.0)  # observed statistic 1 * 1: the smallest y in front
    test = infonet.independence_test(x, y, estimator=FirstSample(), permutations=99, seed=3)
    assert test.mi == 1.0 and test.null.shape == (99,)
    assert set(test.null) <= set(y)  # each shuffle puts one of y's values first
    assert test.p_value == (1 + np.count_nonzero(test.null >= 1.0)) / 100 == 1.0
    y_big = y[::-1].copy()  # now the largest first: only shuffles that keep it in front tie with it
    test = infonet.independence_test(x, y_big, estimator=FirstSample(), permutations=99, seed=3)
    assert test.mi == 10.0
    assert test.p_value == pytest.approx((1 + np.count_nonzero(test.null == 10.0)) / 100)
    assert test.p_value < 0.2
    assert "first-sample: MI 10 nats, p = " in str(test)


@pytest.mark.parametrize("estimator", ["pearson", "gaussian"])
def test_size_is_the_level_on_independent_data(estimator):
    """The test is exact: on independent pairs p <= 0.1 about 10 % of the time (200 samples: 4-17 %)."""
    rng = np.random.default_rng(0)
    p = [
        infonet.independence_test(
            rng.standard_normal(30), rng.standard_cauchy(30), estimator=estimator, permutations=99, seed=i
        ).p_value
        for i in range(200)
    ]
    assert 0.04 <= np.mean(np.asarray(p) <= 0.1) <= 0.17
    assert min(p) >= 0.01  # never below 1 / (1 + P)


def test_infonet_finds_a_dependence_correlation_misses():
    """A parabola: no correlation, so |Pearson| cannot reject; the MI test does, and its estimate is InfoNet's."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 200)
    y = x**2 + 0.1 * rng.standard_normal(200)
    test = infonet.independence_test(x, y, permutations=199)
    assert test.p_value == 1 / 200 and test.mi == pytest.approx(infonet.estimate_mi(x, y), abs=1e-6)
    assert infonet.independence_test(x, y, estimator="pearson", permutations=199).p_value > 0.05


def test_vectors_in_one_batched_call_and_a_loop_for_the_others():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((64, 3))
    Y = np.c_[X[:, 0] + 0.3 * rng.standard_normal(64), rng.standard_normal(64)]
    calls = []
    est = infonet.get_estimator("infonet")
    batch = est.estimate_batch
    est.estimate_batch = lambda x, y, **kw: calls.append(x.shape) or batch(x, y, **kw)
    test = infonet.independence_test(X, Y, estimator=est, permutations=49)
    assert calls == [(50, 64, 3)] and test.p_value == 1 / 50
    assert test.mi == pytest.approx(infonet.estimate_mi(X, Y), abs=1e-6)
    assert infonet.independence_test(X, Y, estimator="ksg", permutations=19).p_value == 1 / 20


def test_shuffles_are_drawn_block_by_block(monkeypatch):
    """The same test whatever the block size: the shuffles come from one seeded stream, the identity first."""
    from infonet import independence

    rng = np.random.default_rng(4)
    x, y = rng.standard_normal(40), rng.standard_normal(40)
    whole = infonet.independence_test(x, y, estimator="pearson", permutations=50)
    monkeypatch.setattr(independence, "BLOCK_VALUES", 7 * 80)  # 7 pairs of 40 + 40 values a block
    seen = []
    blocks = infonet.independence_test(x, y, estimator="pearson", permutations=50, progress=lambda d, t: seen.append(d))
    assert seen == [*range(7, 51, 7), 51] and np.array_equal(blocks.null, whole.null) and blocks.mi == whole.mi


def test_same_seed_same_test_and_progress_reaches_the_end():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal(40), rng.standard_normal(40)
    seen = []
    a = infonet.independence_test(
        x, y, estimator="gaussian", permutations=30, progress=lambda d, t: seen.append((d, t))
    )
    b = infonet.independence_test(x, y, estimator="gaussian", permutations=30)
    assert np.array_equal(a.null, b.null) and seen[-1] == (31, 31)
    assert not np.array_equal(
        a.null, infonet.independence_test(x, y, estimator="gaussian", permutations=30, seed=1).null
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"permutations": 0}, "permutations must be an integer"),
        ({"permutations": 2.5}, "permutations must be an integer"),
        ({"permutations": True}, "permutations must be an integer"),
        ({"estimator": "nope"}, "unknown estimator"),
    ],
)
def test_bad_options_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        infonet.independence_test(np.arange(20.0), np.arange(20.0), **kwargs)


def test_bad_samples_are_named_before_any_shuffle():
    with pytest.raises(ValueError, match="same number of samples"):
        infonet.independence_test(np.arange(20.0), np.arange(21.0))
    with pytest.raises(ValueError, match="NaN or infinite"):
        infonet.independence_test(np.r_[np.arange(19.0), np.nan], np.arange(20.0))


def test_benchmark_rows_table_and_files(tmp_path):
    from benchmarks import independence as bench

    rows = bench.rejection_rows(["pearson", "gaussian"], [20], datasets=4, permutations=9)
    assert len(rows) == 2 * len(bench.KINDS)
    assert all(0.0 <= r["rejected"] <= 1.0 and r["seconds_per_test"] > 0 for r in rows)
    bench.main(
        ["--estimators", "pearson", "--sizes", "20", "--datasets", "3", "--permutations", "9", "--out", str(tmp_path)]
    )
    table = (tmp_path / "table.md").read_text().splitlines()
    assert table[0] == "| data | n | pearson |" and len(table) == 2 + len(bench.KINDS) + 1
    assert table[2].startswith("| independent Gaussian (size) | 20 | ")
    with pytest.raises(SystemExit):
        bench.main(["--sizes", "4"])
    for bad in ("x.txt", str(tmp_path / "missing" / "x.png")):  # refused before any test runs
        with pytest.raises(SystemExit):
            bench.main(["--estimators", "pearson", "--plot", bad])
    fig = bench.independence_figure(rows)
    assert len(fig.axes) == 1 and len(fig.axes[0].patches) == 2 * len(bench.KINDS)  # one bar per kind and estimator
