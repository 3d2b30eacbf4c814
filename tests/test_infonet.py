"""Known-answer tests of the estimator library: copula, DV read-out, simulator, baselines, API."""

import math
import warnings

import numpy as np
import pytest
import torch
from scipy import stats

import infonet
from infonet import baselines, copula, distributions
from infonet.copula import kendall_mi, kendall_tau, rank_transform, rank_transform_np
from infonet.estimate import predict
from infonet.mixtures import MixtureBatch, mixture_mi, random_mixtures
from infonet.pairwise import pairwise_mi
from infonet.readout import dv_bound


def correlated(n, rho, seed):
    return distributions.gaussian(rho).sample(n, seed)


# ----------------------------------------------------------------------------- copula


def test_rank_transform_is_mid_rank_with_ties():
    u = rank_transform(torch.tensor([[3.0, 1.0, 2.0, 2.0]]))
    assert torch.allclose(u, torch.tensor([[4.0, 1.0, 2.5, 2.5]]) / 4 - 0.5 / 4)
    assert np.allclose(rank_transform_np(np.array([3.0, 1.0, 2.0, 2.0])), u.numpy()[0])


def test_read_only_arrays_are_read_without_warnings(tiny_model):
    """pandas' copy-on-write values and memory maps are read-only: torch warned that it could not protect them."""
    x, y = correlated(200, 0.6, seed=3)
    frozen_x, frozen_y = x.copy(), y.copy()
    frozen_x.flags.writeable = frozen_y.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = infonet.estimate_mi(frozen_x, frozen_y, model=tiny_model)
        assert rank_transform(frozen_x).shape == (200,)
    assert got == infonet.estimate_mi(x, y, model=tiny_model)


@pytest.mark.parametrize("ties", ["average", "random"])
def test_rank_transform_refuses_nan_and_ranks_infinities(ties):
    with pytest.raises(ValueError, match="NaN"):  # it sorted last and took the top rank
        rank_transform(np.array([[1.0, 2.0], [np.nan, 0.0]], dtype=np.float32), ties=ties)
    u = rank_transform(np.array([1.0, np.inf, -np.inf, 2.0]), ties=ties)
    assert u.tolist() == [0.375, 0.875, 0.125, 0.625]


def test_estimate_invariant_to_increasing_maps(tiny_model):
    x, y = correlated(500, 0.6, seed=1)
    base = infonet.estimate_mi(x, y, model=tiny_model)
    for fx, fy in [(np.exp, np.arcsinh), (lambda t: t**3, lambda t: 5 * t - 2), (np.tanh, np.exp)]:
        assert infonet.estimate_mi(fx(x), fy(y), model=tiny_model) == pytest.approx(base, abs=1e-6)


# ----------------------------------------------------------------------------- DV read-out


def gaussian_copula_log_density(u, v, rho):
    a, b = stats.norm.ppf(u), stats.norm.ppf(v)
    return -0.5 * math.log(1 - rho**2) - (rho**2 * (a**2 + b**2) - 2 * rho * a * b) / (2 * (1 - rho**2))


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("marginal", ["grid", "shuffle"])
def test_dv_of_true_log_density_ratio_recovers_gaussian_mi(rho, marginal):
    G = 256
    centres = (np.arange(G) + 0.5) / G
    table = gaussian_copula_log_density(centres[:, None], centres[None, :], rho)
    x, y = correlated(200_000, rho, seed=2)
    u, v = stats.norm.cdf(x), stats.norm.cdf(y)
    as_t = lambda a: torch.tensor(a, dtype=torch.float64).unsqueeze(0)  # noqa: E731
    dv = dv_bound(as_t(table), as_t(u), as_t(v), marginal=marginal).item()
    assert dv == pytest.approx(distributions.gaussian_mi(rho), abs=0.02)


# ----------------------------------------------------------------------------- simulator


def test_monte_carlo_truth_matches_closed_form_gaussian():
    rhos = torch.tensor([0.0, 0.3, 0.7, 0.95], dtype=torch.float64)
    covs = torch.zeros(4, 1, 2, 2, dtype=torch.float64)
    covs[:, 0, 0, 0] = covs[:, 0, 1, 1] = 2.0
    covs[:, 0, 0, 1] = covs[:, 0, 1, 0] = 2.0 * rhos
    mix = MixtureBatch(torch.zeros(4, 1, dtype=torch.float64), torch.randn(4, 1, 2, dtype=torch.float64), covs)
    mi, se = mixture_mi(mix, [0], [1], torch.Generator().manual_seed(0), num_samples=50_000)
    exact = -0.5 * torch.log1p(-(rhos**2))
    assert torch.all((mi - exact).abs() <= 4 * se + 1e-9), (mi, exact, se)
    assert torch.all(se[1:] > 0)


def test_random_mixtures_follow_the_recipe():
    g = torch.Generator().manual_seed(3)
    mix = random_mixtures(16, 2, g, num_components=(1, 20), dtype=torch.float64)
    assert torch.allclose(mix.log_weights.logsumexp(-1), torch.zeros(16, dtype=torch.float64))
    assert torch.all(torch.linalg.eigvalsh(mix.covs) > 0.0099)
    z = mix.sample(64, g)
    assert z.shape == (16, 64, 2) and torch.isfinite(mix.log_prob(z)).all()


def test_samplers_are_seeded():
    d = distributions.half_cube(0.5)
    assert np.array_equal(d.sample(100, 7)[0], d.sample(100, 7)[0])
    assert not np.array_equal(d.sample(100, 7)[0], d.sample(100, 8)[0])


@pytest.mark.parametrize(
    "dist",
    [
        distributions.gaussian(0.8),
        distributions.half_cube(0.6),
        distributions.asinh(0.6),
        distributions.additive_uniform(0.1),
        distributions.additive_uniform(0.75),
        distributions.student_t(0.5, 4.0),
        distributions.additive_laplace(0.2),
        distributions.additive_laplace(2.0),
    ],
    ids=lambda d: d.name,
)
def test_known_mi_families_agree_with_ksg(dist):
    x, y = dist.sample(20_000, seed=4)
    assert baselines.ksg(x, y) == pytest.approx(dist.mi, abs=0.03)


# ----------------------------------------------------------------------------- baselines


def test_ksg_matches_scikit_learn():
    from sklearn.feature_selection import mutual_info_regression

    for seed, rho in enumerate([0.0, 0.4, 0.9]):
        x, y = correlated(1000, rho, seed)
        ref = mutual_info_regression(x[:, None], y, n_neighbors=3, random_state=0)[0]
        # scikit-learn adds 1e-10-scale jitter to x and clips below at 0
        assert max(baselines.ksg(x, y), 0.0) == pytest.approx(ref, abs=1e-6)


@pytest.mark.parametrize("fn", [baselines.ksg, baselines.kde, baselines.gaussian])
def test_baselines_are_close_on_a_gaussian(fn):
    x, y = correlated(2000, 0.7, seed=5)
    assert fn(x, y) == pytest.approx(distributions.gaussian_mi(0.7), abs=0.05)


def test_mine_is_seeded_and_positive_on_dependence():
    x, y = correlated(1000, 0.9, seed=6)
    a, b = baselines.mine(x, y, steps=150, seed=1), baselines.mine(x, y, steps=150, seed=1)
    assert a == b and a > 0.2


def test_every_named_estimator_has_the_same_call_shape():
    x, y = correlated(300, 0.5, seed=7)
    for name in ["ksg", "kde", "gaussian", "pearson"]:
        est = infonet.get_estimator(name)
        assert np.isfinite(est.estimate(x, y))
        assert est.estimate_batch(np.stack([x, y]), np.stack([y, x])).shape == (2,)
    with pytest.raises(ValueError, match="unknown estimator"):
        infonet.get_estimator("nope")


# ----------------------------------------------------------------------------- public API


def test_batch_matches_single_and_sliced_runs(tiny_model):
    x, y = correlated(400, 0.5, seed=8)
    single = infonet.estimate_mi(x, y, model=tiny_model)
    batch = infonet.estimate_mi_batch(np.stack([x, y]), np.stack([y, x]), model=tiny_model)
    assert batch.shape == (2,) and batch[0] == pytest.approx(single, rel=1e-5)
    xs = np.random.default_rng(0).standard_normal((400, 5))
    sliced = infonet.estimate_mi(xs, xs[:, :3], model=tiny_model, method="sliced", num_projections=16)
    assert np.isfinite(sliced) and sliced >= 0
    mi, low, high = infonet.estimate_mi(x, y, model=tiny_model, return_interval=True)
    assert low <= mi <= high


@pytest.mark.parametrize("k", [1, 2, 8])
def test_pairwise_matches_per_pair_predictions(tiny_model, k):
    series = np.random.default_rng(1).standard_normal((7, 120))
    series[3] = 1.0  # a constant track carries no information
    mat = pairwise_mi(tiny_model, series, symmetries=k, chunk_size=5)
    i, j = np.triu_indices(7, 1)
    ref = predict(tiny_model, series[i], series[j], symmetries=k)["mi"]
    assert np.allclose(mat, mat.T) and np.all(np.diag(mat) == 0)
    assert np.allclose(mat[i, j], ref, atol=1e-5)
    assert np.all(mat[3] == 0)
    est = infonet.InfoNetEstimator(model=tiny_model, symmetries=None if k == 1 else k)
    assert np.allclose(est.pairwise(series), mat, atol=1e-6)


def test_symmetry_average_is_the_mean_over_the_copula_symmetries(tiny_model):
    x, y = correlated(300, 0.6, seed=3)
    u, v = (torch.as_tensor(rank_transform_np(a), dtype=torch.float32)[None] for a in (x, y))
    square = {  # the 8 maps of the copula square, on the ranks
        "id": (u, v),
        "swap": (v, u),
        "rot180": (1 - u, 1 - v),
        "anti": (1 - v, 1 - u),
        "flip_x": (1 - u, v),
        "swap_flip_x": (1 - v, u),
        "flip_y": (u, 1 - v),
        "swap_flip_y": (v, 1 - u),
    }
    with torch.no_grad():
        each = {name: float(tiny_model(a, b).mi) for name, (a, b) in square.items()}
    assert len(set(np.round(list(each.values()), 6))) > 1  # an untrained network is not invariant
    # one pass (the default) reads the pair in one order, whichever way round it is given
    one = infonet.estimate_mi(x, y, model=tiny_model)
    assert (
        one == infonet.estimate_mi(y, x, model=tiny_model) == infonet.estimate_mi(x, y, model=tiny_model, symmetries=1)
    )
    assert min(abs(one - each["id"]), abs(one - each["swap"])) < 1e-6
    assert infonet.estimate_mi(x, y, model=tiny_model, symmetries=2) == pytest.approx(
        (each["id"] + each["swap"]) / 2, abs=1e-5
    )
    mean = np.mean(list(each.values()))
    raw = [(x, y), (y, x), (-x, -y), (-y, -x), (-x, y), (-y, x), (x, -y), (y, -x)]
    for a, b in raw:  # the 8-map average is invariant under all 8
        assert infonet.estimate_mi(a, b, model=tiny_model, symmetries=8) == pytest.approx(mean, abs=1e-5)
    with pytest.raises(ValueError, match="symmetries must be 1, 2, 4 or 8"):
        infonet.estimate_mi(x, y, model=tiny_model, symmetries=3)
    sym8 = infonet.get_estimator("infonet-sym8", model=tiny_model)
    assert sym8.name == "infonet-sym8" and sym8.estimate(x, y) == pytest.approx(mean, abs=1e-5)


def test_estimators_declare_capabilities(tiny_model):
    assert infonet.get_estimator("infonet", model=tiny_model).neural
    assert infonet.get_estimator("infonet", model=tiny_model).batched
    ksg = infonet.get_estimator("ksg", device="cpu", weights="ignored.pt")  # accepted and ignored
    assert not ksg.neural and not ksg.batched
    assert infonet.get_estimator("pearson").batched and not infonet.get_estimator("pearson").neural


def test_constant_sequence_gives_zero(tiny_model):
    x = np.full(100, 3.0)
    y = np.random.default_rng(0).standard_normal(100)
    assert infonet.estimate_mi(x, y, model=tiny_model) == 0.0
    for fn in [baselines.ksg, baselines.kde, baselines.gaussian, baselines.pearson]:
        assert fn(x, y) == 0.0


@pytest.mark.parametrize(
    "x, y, message",
    [
        (np.zeros(100), np.zeros(99), "same number of samples"),
        (np.arange(5.0), np.arange(5.0), "at least"),
        (np.r_[np.nan, np.arange(99.0)], np.arange(100.0), "NaN"),
        (np.r_[np.inf, np.arange(99.0)], np.arange(100.0), "inf"),
        (np.zeros((10, 10, 2)), np.zeros(10), "shape"),
    ],
)
def test_bad_input_raises_a_clear_error(tiny_model, x, y, message):
    for fn in [lambda a, b: infonet.estimate_mi(a, b, model=tiny_model), baselines.ksg, baselines.gaussian]:
        with pytest.raises(ValueError, match=message):
            fn(x, y)


def test_shipped_weights_beyond_the_training_lengths():
    """n far above the longest training sequence (4096) reads as 4096, not as an extrapolated log n."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal(50_000)
    y = 0.8 * x + 0.6 * rng.standard_normal(50_000)
    assert infonet.estimate_mi(x, y, device="cpu") == pytest.approx(0.511, abs=0.04)
    assert infonet.estimate_mi(x, rng.standard_normal(50_000), device="cpu") < 0.02


# ----------------------------------------------------------------------------- Kendall's floor


@pytest.mark.parametrize("scale", [0.001, 0.02, 0.5])
def test_additive_laplace_mi_matches_its_monte_carlo_value(scale):
    """The quadrature against E[log p(y | x) - log p(y)] over 400,000 samples (sd of the mean below 0.002)."""
    b = scale
    x, y = distributions.additive_laplace(b).sample(400_000, seed=0)
    c = -math.expm1(-1 / b) / 2
    inside = 1 - (np.exp(-np.clip(y, 0, 1) / b) + np.exp(-(1 - np.clip(y, 0, 1)) / b)) / 2
    density = np.where((y >= 0) & (y <= 1), inside, c * np.exp(-np.maximum(-y, y - 1) / b))
    monte_carlo = np.mean(-np.abs(y - x) / b - math.log(2 * b) - np.log(density))
    assert distributions.additive_laplace(b).mi == pytest.approx(monte_carlo, abs=0.006)


def test_kendall_tau_matches_scipy_whole_and_in_strided_chunks():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 5000))
    y = x + rng.standard_normal((3, 5000))
    ours = kendall_tau(rank_transform(torch.tensor(x)), rank_transform(torch.tensor(y)))[0].numpy()
    k = -(-5000 // copula.KENDALL_MAX_N)  # more samples than KENDALL_MAX_N: the mean over k strided chunks
    m = 5000 // k
    chunks = [
        np.mean([stats.kendalltau(a[j : m * k : k], b[j : m * k : k]).statistic for j in range(k)])
        for a, b in zip(x, y, strict=True)
    ]
    assert k > 1 and np.allclose(ours, chunks, atol=1e-12)
    short = kendall_tau(torch.tensor(x[:, :200]), torch.tensor(y[:, :200]))[0].numpy()
    assert np.allclose(
        short, [stats.kendalltau(a[:200], b[:200]).statistic for a, b in zip(x, y, strict=True)], atol=1e-12
    )


@pytest.mark.parametrize(
    "dist",
    [
        distributions.gaussian(math.sqrt(-math.expm1(-12.0))),  # 6 nats
        distributions.additive_uniform(0.005),  # 4.61 nats, a sharp-edged copula
    ],
    ids=lambda d: d.name,
)
def test_kendall_floor_reads_near_deterministic_pairs_the_grid_cannot(dist):
    """The network alone levels off near its grid's log G (3.78 and 3.71 measured here); the floor reads on."""
    x, y = dist.sample(1000, seed=3)
    assert infonet.estimate_mi(x, y, device="cpu") == pytest.approx(dist.mi, abs=0.25)


def test_kendall_floor_is_finite_on_identical_ranks():
    """A monotone relation reads as the sample with one compared pair swapped: 5.1 nats at n = 32; at
    n = 1000 (four strided chunks of 250, 124,500 pairs compared) 10.6."""
    for n, pairs in ((32, 32 * 31 / 2), (1000, 4 * 250 * 249 / 2)):
        x = np.random.default_rng(0).standard_normal(n)
        one_swap = -math.log(math.sin(math.pi / pairs))
        assert infonet.estimate_mi(x, np.exp(x), device="cpu") == pytest.approx(one_swap, rel=1e-6)
        assert infonet.estimate_mi(x, -(x**3), device="cpu") == pytest.approx(one_swap, rel=1e-6)
    assert one_swap == pytest.approx(10.59, abs=0.01)


def test_kendall_variance_matches_the_spread_over_draws():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((400, 600))
    y = 0.95 * x + math.sqrt(1 - 0.95**2) * rng.standard_normal((400, 600))  # 600 samples: 3 strided chunks
    tau, var = kendall_tau(torch.tensor(x), torch.tensor(y))
    assert float(var.mean() / tau.var()) == pytest.approx(1.0, abs=0.2)


def test_lifted_intervals_hold_the_truth_and_stay_open_above_identical_ranks():
    """Lifted pairs take the floor's interval: 90 % intervals of 6-nat Gaussians at n = 1000 hold the
    truth about 90 % of the time (the network's own, 0.08 nats wide there, held it 26 % of the time)."""
    xs, ys = zip(
        *[distributions.gaussian(math.sqrt(-math.expm1(-12.0))).sample(1000, s) for s in range(60)], strict=True
    )
    mi, interval = infonet.estimate_mi_batch(np.stack(xs), np.stack(ys), return_interval=True, device="cpu")
    assert 0.8 <= np.mean((interval[:, 0] <= 6.0) & (6.0 <= interval[:, 1])) <= 1.0
    x = np.random.default_rng(0).standard_normal(200)
    mi, low, high = infonet.estimate_mi(x, np.exp(x), return_interval=True, device="cpu")
    assert low == pytest.approx(mi - math.log(3), rel=1e-6) and high == math.inf


def test_kendall_floor_leaves_the_network_alone_below_its_level(monkeypatch):
    """Where the network reads below SCREEN_FROM, the estimate is the network's, bit for bit, even where
    Kendall's formula reads a little more (2.076 against 2.052 nats on this 2-nat Gaussian)."""
    x, y = distributions.gaussian(math.sqrt(-math.expm1(-4.0))).sample(1000, seed=4)
    with_floor = infonet.estimate_mi(x, y, device="cpu")
    assert (
        float(kendall_mi(rank_transform(torch.tensor(x))[None], rank_transform(torch.tensor(y))[None])[0]) > with_floor
    )
    monkeypatch.setattr(copula, "FLOOR_FROM", math.inf)
    assert infonet.estimate_mi(x, y, device="cpu") == with_floor
    monkeypatch.setattr(copula, "FLOOR_FROM", 0.0)
    monkeypatch.setattr(copula, "SCREEN_FROM", 0.0)
    assert infonet.estimate_mi(x, y, device="cpu") > with_floor  # the test would see a floor applied here
