"""MI between vectors through the public API, with the shipped multivariate weights: known answers,
independence, invariances, routing by dimension and the one-line errors."""

import unittest.mock

import numpy as np
import pytest
import torch

import infonet
from infonet.copula import rank_transform
from infonet.vector_estimate import load_vector_model
from infonet.vector_model import normal_scores


@pytest.fixture(scope="module")
def vector_model():
    return load_vector_model(device="cpu")


def gaussian_pair(n: int, d: int, rho: float, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """X, Y (n, d) with d independent coordinate pairs of correlation rho; MI = -d/2 log(1 - rho^2)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    y = rho * x + np.sqrt(1 - rho**2) * rng.standard_normal((n, d))
    return x, y, -0.5 * d * np.log(1 - rho**2)


@pytest.mark.parametrize("d, rho", [(2, 0.5), (3, 0.7), (5, 0.4), (10, 0.3)])
def test_gaussians_of_several_dimensions_match_the_closed_form(vector_model, d, rho):
    estimates, truth = [], None
    for seed in range(3):
        x, y, truth = gaussian_pair(2000, d, rho, seed)
        estimates.append(infonet.estimate_mi(x, y, vector_model=vector_model))
    assert np.mean(estimates) == pytest.approx(truth, abs=0.1 + 0.08 * truth)


@pytest.mark.parametrize("d", [2, 3, 5])
def test_independent_vectors_read_near_zero(vector_model, d):
    rng = np.random.default_rng(d)
    x, y = rng.standard_normal((8, 500, d)), rng.standard_t(3, (8, 500, d))
    est = infonet.estimate_mi_batch(x, y, vector_model=vector_model)
    assert est.shape == (8,) and (est >= 0).all()
    assert est.mean() < 0.05


def test_sample_order_and_invertible_maps_of_x_do_not_matter(vector_model):
    x, y, _ = gaussian_pair(600, 3, 0.6, seed=1)
    base = infonet.estimate_mi(x, y, vector_model=vector_model)
    perm = np.random.default_rng(0).permutation(len(x))
    assert infonet.estimate_mi(x[perm], y[perm], vector_model=vector_model) == pytest.approx(base, abs=1e-4)
    # coordinate-wise monotone maps leave the ranks, and so the estimate, exactly as they were
    bent = np.column_stack([np.exp(x[:, 0]), x[:, 1] ** 3, np.arcsinh(5 * x[:, 2])])
    assert infonet.estimate_mi(bent, y, vector_model=vector_model) == pytest.approx(base, abs=1e-6)
    # an invertible linear map mixes the coordinates; the Gaussian stays Gaussian, the MI the same
    mix = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, -0.7], [0.3, 0.0, 1.0]])
    assert infonet.estimate_mi(x @ mix, y, vector_model=vector_model) == pytest.approx(base, abs=0.08)


def test_the_estimate_of_x_and_y_is_that_of_y_and_x(vector_model, tiny_model):
    # the network is symmetric in its sides only up to its training (on point tracks the two orders
    # read 0.14 nats apart on average); each pair is read in an order its samples decide
    rng = np.random.default_rng(11)
    x = rng.standard_normal((16, 50, 2))
    y = np.sin(2 * x) + 0.5 * rng.standard_normal((16, 50, 2))
    forward = infonet.estimate_mi_batch(x, y, vector_model=vector_model)
    assert np.array_equal(forward, infonet.estimate_mi_batch(y, x, vector_model=vector_model))
    assert infonet.estimate_mi(x[3], y[3], vector_model=vector_model) == infonet.estimate_mi(
        y[3], x[3], vector_model=vector_model
    )
    wide = np.concatenate([x[:4], y[:4, :, :1]], axis=-1)  # 3 dimensions against 2: the wider side first
    assert np.array_equal(
        infonet.estimate_mi_batch(wide, y[:4], vector_model=vector_model),
        infonet.estimate_mi_batch(y[:4], wide, vector_model=vector_model),
    )
    soft_wide = infonet.mi(torch.tensor(wide), torch.tensor(y[:4]), vector_model=vector_model, hard_forward=True)
    assert torch.equal(
        soft_wide, infonet.mi(torch.tensor(y[:4]), torch.tensor(wide), vector_model=vector_model, hard_forward=True)
    )
    # sliced MI gives its first directions to the side read first, so it too is symmetric
    for a, b in ((x[5], y[5]), (wide[1], y[1]), (x[2], x[2, :, 0])):
        sliced = [
            infonet.estimate_mi(p, q, model=tiny_model, method="sliced", num_projections=8) for p, q in ((a, b), (b, a))
        ]
        assert sliced[0] == sliced[1]
        soft_sliced = [
            infonet.mi(torch.tensor(p), torch.tensor(q), model=tiny_model, sliced=True) for p, q in ((a, b), (b, a))
        ]
        assert torch.equal(*soft_sliced)
    xt = torch.tensor(x[:4], requires_grad=True)
    soft = infonet.mi(xt, torch.tensor(y[:4]), vector_model=vector_model, hard_forward=True)
    assert torch.equal(soft, infonet.mi(torch.tensor(y[:4]), xt, vector_model=vector_model, hard_forward=True))
    soft.sum().backward()  # whichever side is read first, the gradient reaches x
    assert torch.isfinite(xt.grad).all() and xt.grad.abs().sum() > 0
    # the matrix of all pairs follows a reordering of the series, and agrees with the batched reads
    series = np.concatenate([x[:6], y[:6]])
    est = infonet.InfoNetEstimator(vector_model=vector_model)
    mi = est.pairwise(series)
    order = rng.permutation(12)
    assert np.abs(est.pairwise(series[order]) - mi[np.ix_(order, order)]).max() < 1e-6
    assert np.abs(est.estimate_batch(series[6:], series[:6]) - np.diag(mi[6:, :6])).max() < 1e-5


def test_the_order_statistic_tells_apart_series_that_differ_by_swapped_values():
    from infonet.order import order_statistic

    u = torch.arange(0.5, 16, dtype=torch.float64).reshape(1, 8, 2) / 16
    v = u.clone()
    v[0, [2, 5], 0] = v[0, [5, 2], 0]  # two values of one coordinate swapped, as tracker noise does
    v[0, [1, 6], 1] = v[0, [6, 1], 1]
    forward, backward = order_statistic(u, v), order_statistic(v, u)
    assert forward != 0 and torch.equal(backward, -forward)  # a separate sum per coordinate reads 0 here
    assert order_statistic(u, u) == 0
    assert torch.equal(
        order_statistic(u[:, [3, 0, 7, 1, 2, 6, 5, 4]], v[:, [3, 0, 7, 1, 2, 6, 5, 4]]).sign(), forward.sign()
    )


def test_vectors_are_never_silently_sliced(vector_model, tiny_model):
    x, y, truth = gaussian_pair(1000, 4, 0.6, seed=2)
    full = infonet.estimate_mi(x, y, vector_model=vector_model)
    sliced = infonet.estimate_mi(x, y, model=tiny_model, method="sliced", num_projections=16)
    batch = infonet.estimate_mi_batch(x[None], y[None], vector_model=vector_model)
    assert batch[0] == pytest.approx(full, abs=1e-6)
    assert abs(full - truth) < abs(sliced - truth)
    mi, low, high = infonet.estimate_mi(x, y, vector_model=vector_model, return_interval=True)
    assert low <= mi <= high and mi == pytest.approx(full)


def test_scalars_still_go_to_the_1d_networks(vector_model, tiny_model):
    x, y, _ = gaussian_pair(300, 1, 0.5, seed=3)
    one = infonet.estimate_mi(x[:, 0], y[:, 0], model=tiny_model)
    assert infonet.estimate_mi(x, y, model=tiny_model, vector_model=vector_model) == pytest.approx(one)
    batch = infonet.estimate_mi_batch(x.T, y.T, model=tiny_model)  # (1, n)
    assert batch[0] == pytest.approx(one)
    assert infonet.estimate_mi_batch(x[None], y[None], model=tiny_model)[0] == pytest.approx(one)  # (1, n, 1)


def test_pairwise_takes_vector_series(vector_model):
    rng = np.random.default_rng(4)
    base = rng.standard_normal((100, 2))
    series = np.stack([base, base + 0.3 * rng.standard_normal((100, 2)), rng.standard_normal((100, 2))])
    est = infonet.InfoNetEstimator(vector_model=vector_model)
    mi = est.pairwise(series)
    assert mi.shape == (3, 3) and np.allclose(mi, mi.T) and np.all(np.diag(mi) == 0)
    assert mi[0, 1] > 0.5 > mi[0, 2]
    pair = infonet.estimate_mi_batch(series[None, 0], series[None, 1], vector_model=vector_model)
    assert mi[0, 1] == pytest.approx(pair[0], abs=1e-5)


@pytest.mark.parametrize("d", [1, 2])
def test_pairwise_reads_either_end_of_each_pairs_interval(vector_model, tiny_model, d):
    """``pairwise(statistic=...)`` gives the same interval ends as the batched call, for scalars and vectors."""
    rng = np.random.default_rng(5)
    base = rng.standard_normal((64, d))
    series = np.stack([base + s * rng.standard_normal((64, d)) for s in (0.0, 0.2, 1.0, 5.0)])[..., : max(d, 1)]
    series = series[..., 0] if d == 1 else series
    est = infonet.InfoNetEstimator(model=tiny_model, vector_model=vector_model)
    mi, low, high = (est.pairwise(series, statistic=s) for s in ("estimate", "lower", "upper"))
    off = ~np.eye(4, dtype=bool)
    assert np.all(low[off] < mi[off]) and np.all(mi[off] < high[off])
    i, j = np.triu_indices(4, k=1)
    got, interval = est.estimate_interval_batch(series[i], series[j])
    assert np.allclose(low[i, j], interval[:, 0], atol=1e-5) and np.allclose(high[i, j], interval[:, 1], atol=1e-5)
    assert np.allclose(mi[i, j], got, atol=1e-5)
    with pytest.raises(ValueError, match="statistic must be one of"):
        est.pairwise(series, statistic="mean")


def test_differentiable_mi_of_vectors(vector_model):
    x, y, _ = gaussian_pair(400, 3, 0.6, seed=5)
    xt = torch.tensor(x[None], requires_grad=True)
    value = infonet.mi(xt, torch.tensor(y[None]), vector_model=vector_model, hard_forward=True)
    value.sum().backward()
    assert value.shape == (1,) and xt.grad is not None and xt.grad.abs().sum() > 0
    assert value[0].item() == pytest.approx(infonet.estimate_mi(x, y, vector_model=vector_model), abs=1e-3)
    # symmetries average the network over the copula's maps, a reversed side's normal scores negated
    wide, narrow = torch.tensor(x[None, :64]), torch.tensor(y[None, :64, :2])
    zx, zy = (normal_scores(torch.tensor(rank_transform(s, dim=1).numpy())) for s in (wide, narrow))
    reads = [vector_model(a, b).mi for a, b in ((zx, zy), (zy, zx), (-zx, -zy), (-zy, -zx))]
    for k in (2, 4):
        both = infonet.mi(wide, narrow, vector_model=vector_model, hard_forward=True, symmetries=k)
        assert both.item() == pytest.approx(torch.stack(reads[:k]).mean().item(), abs=1e-5)
        assert both.item() == pytest.approx(
            infonet.mi(narrow, wide, vector_model=vector_model, hard_forward=True, symmetries=k).item(), abs=1e-6
        )
    assert reads[0].item() != pytest.approx(reads[1].item(), abs=1e-4)  # the maps read differently


@pytest.mark.parametrize(
    "x, y, message",
    [
        (np.zeros((100, 33)), np.zeros((100, 2)), "up to 32"),
        (np.zeros((100, 2)), np.zeros((90, 2)), "same number of samples"),
        (np.ones((10, 2)), np.ones((10, 2)), "at least 16 samples"),
        (np.full((50, 2), np.nan), np.zeros((50, 2)), "NaN"),
    ],
)
def test_bad_vectors_get_one_line_errors(vector_model, x, y, message):
    with pytest.raises(ValueError, match=message):
        infonet.estimate_mi(x, y, vector_model=vector_model)


@pytest.mark.parametrize(
    "x, y, message",
    [
        (np.zeros((2, 100, 40)), np.zeros((2, 100, 2)), "up to 32"),
        (np.zeros((2, 100, 2)), np.zeros((3, 100, 2)), "same pairs"),
        (np.zeros((0, 100, 2)), np.zeros((0, 100, 2)), "no pairs"),
    ],
)
def test_bad_vector_batches_get_one_line_errors(vector_model, x, y, message):
    with pytest.raises(ValueError, match=message):
        infonet.estimate_mi_batch(x, y, vector_model=vector_model)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="method"):
        infonet.estimate_mi(np.zeros((50, 2)), np.zeros((50, 2)), method="magic")


@pytest.mark.parametrize("d", [1, 2])
def test_pairs_read_on_both_cores_equal_pairs_read_on_one(vector_model, tiny_model, d):
    """Chunks of pairs run one per core (infonet.threads.on_cores): the same numbers as one after another."""
    rng = np.random.default_rng(6)
    base = rng.standard_normal((40, 48, d))
    series = (base + np.cumsum(rng.standard_normal((40, 48, d)), 1))[..., 0] if d == 1 else base.cumsum(1)
    est = infonet.InfoNetEstimator(model=tiny_model, vector_model=vector_model)
    before = torch.get_num_threads()
    try:
        read = {}
        for count in (1, 2):
            torch.set_num_threads(count)
            with unittest.mock.patch("infonet.vector_estimate.CPU_CHUNK_TOKENS", 48 * 50):  # 16 chunks
                with unittest.mock.patch("infonet.pairwise.CPU_CHUNK_PAIRS", 50):
                    read[count] = est.pairwise(series, statistic="lower"), est.estimate_batch(series[:-1], series[1:])
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(read[1][0], read[2][0]) and np.array_equal(read[1][1], read[2][1])
