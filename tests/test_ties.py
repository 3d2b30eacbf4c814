"""Ties, exact ranks and input edge cases of every entry point, against known answers.

Known answers: independent discrete pairs have MI 0; y = x with k equally likely levels has
MI ln k; a binary x and y = 4 x + N(0, 1) have MI h(Y) - h(N(0, 1)) = 0.633 nats (numerical
integral); rounding a Gaussian pair (rho = 0.8, MI 0.511) to half a standard deviation keeps
most of it (the discrete MI of the rounded pair: 0.51 by the plug-in estimate at n = 1000).
Tolerances are about twice the errors measured at n = 1000 (docs/robustness.md).
"""

import math

import numpy as np
import pytest
import torch

import infonet
from infonet.baselines import ksg
from infonet.copula import rank_transform
from infonet.estimate import InfoNetEstimator

N = 1000
RHO = 0.8
GAUSS_MI = -0.5 * math.log(1 - RHO**2)


@pytest.fixture(scope="module")
def shipped():
    return infonet.load_pretrained(device="cpu")


def _gauss(rng, n=N):
    x, e = rng.standard_normal((2, n))
    return x, RHO * x + math.sqrt(1 - RHO**2) * e


# ----------------------------------------------------------------------------- rank_transform


def test_random_ties_change_nothing_without_ties_and_spread_ties_with_a_seed():
    x = torch.randn(4, 300, dtype=torch.float64)
    assert torch.equal(rank_transform(x, ties="random"), rank_transform(x))  # bit for bit
    d = torch.tensor([[2, 0, 2, 1, 0, 2]])
    r = rank_transform(d, ties="random", seed=3)
    assert sorted((r[0] * 6 - 0.5).round().long().tolist()) == list(range(6))  # a permutation of the positions
    for level, positions in ((0, {0, 1}), (1, {2}), (2, {3, 4, 5})):  # each level keeps its block
        assert {int(round(float(v) * 6 - 0.5)) for v in r[0][d[0] == level]} == positions
    assert torch.equal(r, rank_transform(d, ties="random", seed=3))
    orders = {tuple(rank_transform(d, ties="random", seed=s)[0].tolist()) for s in range(20)}
    assert len(orders) > 1
    with pytest.raises(ValueError, match="ties must be"):
        rank_transform(d, ties="dense")


@pytest.mark.parametrize(
    "base, dtype",
    [
        (1_700_000_000_000_000_000, np.int64),  # nanosecond timestamps
        (np.iinfo(np.int64).max - 10, np.int64),
        (np.iinfo(np.int64).min, np.int64),
        (2**63, np.uint64),
        (np.iinfo(np.uint64).max - 10, np.uint64),
        (0, np.uint64),
    ],
)
def test_ranks_are_exact_at_the_integer_extremes(base, dtype):
    steps = np.array([5, 1, 3, 2, 9, 0, 7, 4], dtype=dtype)
    x = np.array(base, dtype=dtype) + steps
    expected = (np.argsort(np.argsort(steps)) + 0.5) / len(steps)
    assert np.array_equal(rank_transform(x).double().numpy(), expected)


def test_ranks_are_exact_for_long_double_and_bool():
    steps = np.array([5, 1, 3, 2], dtype=np.longdouble)
    x = np.longdouble(1e4) + steps * np.longdouble(1e-13)  # equal once cast to float64
    if len(np.unique(x)) < 4:
        pytest.skip("long double is float64 on this platform")
    assert len(np.unique(x.astype(np.float64))) == 1
    assert np.array_equal(rank_transform(x).double().numpy(), (np.argsort(np.argsort(steps)) + 0.5) / 4)
    b = np.array([True, False, True, True])
    assert np.allclose(rank_transform(b).numpy(), [0.625, 0.125, 0.625, 0.625])
    half = np.linspace(-1, 1, 2000).astype(np.float16)  # ties from the cast, broken at random
    assert rank_transform(half, ties="random").dtype == torch.float32  # float16 cannot tell 2000 ranks apart
    assert len(np.unique(rank_transform(half, ties="random").numpy())) == 2000


# ----------------------------------------------------------------------------- known answers, every entry point


def _cases(rng):
    bools = (rng.random(N) < 0.5, rng.random(N) < 0.5, 0.0, 0.05)
    k2, k5 = rng.integers(0, 2, N), rng.integers(0, 5, N)
    binary = rng.integers(0, 2, N)
    x, y = _gauss(rng)
    return {
        "independent bools": bools,
        "independent 5 levels": (rng.integers(0, 5, N), rng.integers(0, 5, N), 0.0, 0.05),
        "y = x, 2 levels": (k2, k2.copy(), math.log(2), 0.08),
        "y = x, 5 levels": (k5, k5.copy(), math.log(5), 0.1),
        "binary x, bimodal y": (binary, 4 * binary + rng.standard_normal(N), 0.633, 0.1),
        "Gaussian rounded to sd / 2": (np.round(2 * x) / 2, np.round(2 * y) / 2, GAUSS_MI, 0.1),
    }


def test_estimate_mi_on_tied_data_has_the_known_answer(shipped):
    for name, (x, y, truth, tol) in _cases(np.random.default_rng(0)).items():
        est = infonet.estimate_mi(x, y, model=shipped)
        assert abs(est - truth) < tol, (name, est, truth)
    # the failure this replaces: mid-ranks read independent bools as several nats
    x, y, _, _ = _cases(np.random.default_rng(0))["independent bools"]
    assert infonet.estimate_mi(x, y, model=shipped, ties="average") > 1.0


def test_zeros_with_a_single_one_carry_no_information(shipped):
    rng = np.random.default_rng(1)
    z = np.zeros(N)
    z[17] = 1
    assert infonet.estimate_mi(z, rng.standard_normal(N), model=shipped) < 0.05


def test_every_entry_point_breaks_ties(shipped):
    cases = _cases(np.random.default_rng(2))
    names = ["independent bools", "y = x, 2 levels", "binary x, bimodal y"]
    xs = np.stack([cases[k][0].astype(np.float64) for k in names])
    ys = np.stack([cases[k][1].astype(np.float64) for k in names])
    truth = np.array([cases[k][2] for k in names])
    batch = infonet.estimate_mi_batch(xs, ys, model=shipped)
    assert np.abs(batch - truth).max() < 0.1, batch
    # pairwise: three series, two of them the same bools
    b = cases["independent bools"][0]
    series = np.stack([b, b, cases["independent bools"][1]]).astype(np.float64)
    matrix = InfoNetEstimator(model=shipped).pairwise(series)
    assert abs(matrix[0, 1] - math.log(2)) < 0.1 and matrix[0, 2] < 0.05, matrix
    # the differentiable estimate, with a gradient
    xt = torch.tensor(xs, requires_grad=True)
    soft = infonet.mi(xt, torch.tensor(ys), model=shipped)
    assert torch.abs(soft.detach() - torch.tensor(truth)).max() < 0.15, soft
    soft.sum().backward()
    assert torch.isfinite(xt.grad).all()
    # KSG (independent bools gave -4.6 nats)
    assert abs(ksg(*cases["independent bools"][:2])) < 0.05
    assert abs(ksg(*cases["y = x, 2 levels"][:2]) - math.log(2)) < 0.1


def test_a_pairs_estimate_on_tied_data_does_not_depend_on_its_batch(shipped):
    # the tie-break's keys are drawn per pair, not per batch row: the same pair reads the same alone,
    # first or last in a batch (it read up to 0.17 nats apart), and two series compared with each
    # other still break their ties independently (above: independent bools read 0 in the matrix)
    rng = np.random.default_rng(7)
    x = np.round(2 * rng.standard_normal((6, 80)))
    y = x + np.round(rng.standard_normal((6, 80)))
    batch = infonet.estimate_mi_batch(x, y, model=shipped)
    alone = [infonet.estimate_mi(x[i], y[i], model=shipped) for i in range(6)]
    reversed_batch = infonet.estimate_mi_batch(x[::-1], y[::-1], model=shipped)[::-1]
    assert np.abs(batch - alone).max() < 1e-5 and np.abs(batch - reversed_batch).max() < 1e-5
    X = np.round(rng.standard_normal((6, 60, 2)))
    Y = X + np.round(rng.standard_normal((6, 60, 2)))
    vector = infonet.estimate_mi_batch(X, Y)
    assert np.abs(vector - [infonet.estimate_mi(X[i], Y[i]) for i in range(6)]).max() < 1e-5
    assert np.abs(vector - infonet.estimate_mi_batch(X[::-1], Y[::-1])[::-1]).max() < 1e-5
    # the differentiable estimate's forward value keeps the same tie-break as the estimate
    soft = infonet.mi(torch.tensor(x), torch.tensor(y), model=shipped, hard_forward=True, ties="random")
    one = infonet.mi(torch.tensor(x[3:4]), torch.tensor(y[3:4]), model=shipped, hard_forward=True, ties="random")
    assert abs(float(soft[3]) - float(one[0])) < 1e-5


def test_a_tied_pair_reads_the_same_both_ways_round_and_wherever_it_stands(shipped):
    # a pair is read in an order its samples decide and breaks its ties after that: (x, y) and (y, x)
    # give one estimate, ties included (the 1-D networks read the two orders up to 0.018 nats apart),
    # and an entry of the all-pairs matrix is the pair's estimate alone, whatever the index of its
    # series (a tied series drew its tie-break by its place among the others)
    rng = np.random.default_rng(8)
    est = InfoNetEstimator(model=shipped)
    x = np.round(2 * rng.standard_normal((6, 80)))
    y = x + np.round(rng.standard_normal((6, 80)))
    X = np.round(rng.standard_normal((6, 60, 2)))
    Y = X + np.round(rng.standard_normal((6, 60, 2)))
    for a, b in ((x, y), (X, Y)):
        forward = est.estimate_batch(a, b)
        assert np.array_equal(forward, est.estimate_batch(b, a))
        series = np.concatenate([a, b])
        matrix = est.pairwise(series)
        assert np.abs(np.diag(matrix[:6, 6:]) - forward).max() < 1e-5
        order = rng.permutation(12)
        assert np.abs(est.pairwise(series[order]) - matrix[np.ix_(order, order)]).max() < 1e-5
    soft = infonet.mi(torch.tensor(x), torch.tensor(y), model=shipped, hard_forward=True)
    assert torch.equal(soft, infonet.mi(torch.tensor(y), torch.tensor(x), model=shipped, hard_forward=True))
    assert np.abs(soft.numpy() - est.estimate_batch(x, y)).max() < 1e-5


def test_track_mi_of_tied_partial_tracks_does_not_depend_on_the_chunks(monkeypatch):
    # partial tracks go to the estimator in chunks of pairs; a track that stands still for a while
    # (tied coordinates) read up to 0.42 nats apart with other chunk sizes, through the tie-break
    import segmentation.affinity as affinity

    rng = np.random.default_rng(4)
    tracks = np.cumsum(rng.standard_normal((40, 12, 2)), axis=0)
    tracks[:, :3] = np.round(tracks[:, :3])  # three tracks on whole pixels: ties
    seen = np.ones((40, 12), bool)
    seen[:10, 6:], seen[30:, :4] = False, False  # shared frames 20-40: several batches
    estimator = infonet.get_estimator("infonet")
    whole = affinity.track_mi(tracks, estimator, visibility=seen, feature="xy", min_overlap=8)
    monkeypatch.setattr(affinity, "PAIR_CHUNK", 3)
    assert (
        np.abs(affinity.track_mi(tracks, estimator, visibility=seen, feature="xy", min_overlap=8) - whole).max() < 1e-5
    )


def test_rank_transform_shares_the_tie_break_along_batch_dims():
    d = torch.tensor([[2, 0, 2, 1, 0, 2], [0, 0, 1, 1, 2, 2]])
    shared = rank_transform(d, ties="random", seed=5, batch_dims=1)
    for row in range(2):  # each row as it reads alone
        assert torch.equal(shared[row], rank_transform(d[row : row + 1], ties="random", seed=5, batch_dims=1)[0])
    one_d = rank_transform(d[0], ties="random", seed=5, batch_dims=1)  # no batch axis: still a random order
    assert sorted((one_d * 6 - 0.5).round().long().tolist()) == list(range(6))


def test_continuous_data_are_untouched_by_the_tie_rule(shipped):
    rng = np.random.default_rng(3)
    x, y = _gauss(rng, 500)
    assert infonet.estimate_mi(x, y, model=shipped) == infonet.estimate_mi(x, y, model=shipped, ties="average")
    xt, yt = torch.tensor(x), torch.tensor(y)
    assert torch.equal(infonet.mi(xt, yt, model=shipped), infonet.mi(xt, yt, model=shipped, ties="average"))


def test_timestamps_near_1e18_give_the_estimate_without_the_offset(shipped):
    rng = np.random.default_rng(4)
    x, y = _gauss(rng, 500)
    xi, yi = np.round(x * 1e6).astype(np.int64), np.round(y * 1e6).astype(np.int64)
    base = infonet.estimate_mi(xi, yi, model=shipped)
    for offset, dtype in ((1_700_000_000_000_000_000, np.int64), (2**63, np.uint64)):
        shifted = (xi - xi.min()).astype(dtype) + dtype(offset)
        assert infonet.estimate_mi(shifted, yi, model=shipped) == base


# ----------------------------------------------------------------------------- soft ranks and the low-MI slope


def test_soft_ranks_ignore_a_large_offset(shipped):
    rng = np.random.default_rng(5)
    x, y = _gauss(rng, 512)
    x = np.round(x * 8) / 8  # what float64 keeps of x + 1e15
    base = float(infonet.mi(torch.tensor(x), torch.tensor(y), model=shipped))
    shifted = float(infonet.mi(torch.tensor(x + 1e15), torch.tensor(y), model=shipped))
    assert abs(shifted - base) < 1e-3, (shifted, base)


def _ascent(model, floor_slope: bool, d=8, n=256, steps=100, seed=0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    w = (torch.ones(d) / math.sqrt(d)).requires_grad_(True)
    opt = torch.optim.SGD([w], lr=0.1)
    for _ in range(steps):
        x = torch.randn(n, d, generator=gen)
        y = torch.sin(2 * x[:, 3]) + 0.1 * torch.randn(n, generator=gen)
        value = infonet.mi(x @ w, y, model=model, floor_slope=floor_slope)
        opt.zero_grad()
        (-value).backward()
        opt.step()
        with torch.no_grad():
            w /= w.norm()
    return w.detach()


def _start_gradient(model, floor_slope: bool, seed: int, d=8, n=256, batches=8) -> torch.Tensor:
    """Mean gradient of the MI with respect to w at the uniform start, where the estimate sits on its floor."""
    gen = torch.Generator().manual_seed(seed)
    w = (torch.ones(d) / math.sqrt(d)).requires_grad_(True)
    total = torch.zeros(d)
    for _ in range(batches):
        x = torch.randn(n, d, generator=gen)
        y = torch.sin(2 * x[:, 3]) + 0.1 * torch.randn(n, generator=gen)
        (grad,) = torch.autograd.grad(infonet.mi(x @ w, y, model=model, floor_slope=floor_slope), w)
        total += grad / batches
    return total


def test_the_floor_slope_gives_the_flat_start_a_gradient(shipped):
    """At the uniform start the estimate is on its floor at 0, whose exact derivative is nearly flat; the
    floor slope fills it in. Measured, seeds 0-2: norms 1.46 / 0.68 / 0.99 against 0.11 / 0.14 / 0.08."""
    for seed in range(3):
        slope, flat = _start_gradient(shipped, True, seed), _start_gradient(shipped, False, seed)
        assert float(slope.norm()) > 3 * float(flat.norm()), (seed, slope, flat)


def test_gradient_ascent_from_the_uniform_start_finds_the_planted_coordinate(shipped):
    """A small version of the issue's search (8-D, n = 256, 200 SGD steps). The path is chaotic: one seed
    can end elsewhere, and which one depends on the float order of the thread count. Measured, seeds
    0-3, |w_3| at the end: 0.98 / 0.94 / 0.88 / 0.96 on 1 thread, 0.88 / 0.65 / 0.91 / 0.94 on 2, the
    planted coordinate the largest in all 8 runs (at 100 steps one seed of 4 missed it on each)."""
    found = [int(_ascent(shipped, floor_slope=True, steps=200, seed=seed).abs().argmax()) == 3 for seed in range(4)]
    assert sum(found) >= 3, found


def test_edge_inputs_get_one_line_errors_or_answers(shipped):
    rng = np.random.default_rng(6)
    x, y = _gauss(rng, 64)
    with pytest.raises(ValueError, match="no pairs"):
        infonet.estimate_mi_batch(np.zeros((0, 64)), np.zeros((0, 64)), model=shipped)
    with pytest.raises(ValueError, match="chunk_size"):
        infonet.estimate_mi_batch(x[None], y[None], model=shipped, chunk_size=0)
    masked = np.ma.masked_array(x, mask=np.arange(64) < 3)
    with pytest.raises(ValueError, match="masked array with 3 masked"):
        infonet.estimate_mi(masked, y, model=shipped)
    base = infonet.estimate_mi(x, y, model=shipped)
    assert infonet.estimate_mi(np.ma.masked_array(x), y, model=shipped) == base  # nothing masked: as plain
    # tensors with gradients or in bfloat16 (the estimate of the rounded values)
    assert infonet.estimate_mi(torch.tensor(x, requires_grad=True), y, model=shipped) == base
    xb = torch.tensor(x).bfloat16()
    assert infonet.estimate_mi(xb, y, model=shipped) == infonet.estimate_mi(xb.double().numpy(), y, model=shipped)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no such CUDA device"):
            infonet.estimate_mi(x, y, model=shipped, device="cuda")
        with pytest.raises(ValueError, match="no such CUDA device"):
            infonet.load_pretrained(device="cuda")
