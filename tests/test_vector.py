"""The multivariate estimator: its prior's known answers, the canonical view, the network's
invariances, training and resume, and (with the shipped weights) known answers at several d."""

import csv
import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from infonet.checkpoint import load_checkpoint, save_checkpoint
from infonet.model import attend
from infonet.prior import student_t_mi
from infonet.vector_estimate import vector_model_from_checkpoint
from infonet.vector_model import (
    START_FLOOR,
    CrossAttention,
    DomainRouted,
    VectorInfoNet,
    VectorNetConfig,
    _log_det_bias,
    canonical_view,
    gaussian_copula_mi,
    knn_mi,
    normal_scores,
    soft_floor,
    unbiased_gaussian_mi,
)
from infonet.vector_prior import (
    VectorMixtureBank,
    VectorPriorConfig,
    canonical_correlations,
    gaussian_canonical,
    sample_vector_batch,
    spiral,
    student_t_excess_mi,
)
from infonet.vector_train import (
    VectorTrainConfig,
    _initial_weights,
    sample_dims,
    to_scores,
    train_vector,
    vector_payload,
    widen_side_inputs,
)

TINY = VectorNetConfig(dim=16, latents=4, depth=1, heads=2)


def test_student_t_excess_reduces_to_the_bivariate_formula():
    dof = torch.arange(1, 8).double()
    assert torch.allclose(student_t_excess_mi(dof, 1, 1), student_t_mi(torch.zeros(7).double(), dof))
    # more dimensions share the scale: more MI; more degrees of freedom: less
    assert (student_t_excess_mi(dof, 3, 3) > student_t_excess_mi(dof, 1, 1)).all()
    assert (student_t_excess_mi(dof, 3, 3).diff() < 0).all()


def test_canonical_correlations_hit_the_drawn_total_mi():
    g = torch.Generator().manual_seed(0)
    rho = canonical_correlations(256, 5, g, max_mi=3.0)
    mi = -0.5 * torch.log1p(-rho.square()).sum(-1)
    assert rho.abs().max() < 1 and mi.min() >= 0 and mi.max() <= 3.0 + 1e-9
    assert abs(mi.mean().item() - 1.5) < 0.2  # uniform in [0, 3]


def test_prior_draws_depend_on_their_generator_alone():
    # the Dirichlet shares once came from torch's global RNG: calibration and resumed training were not reproducible
    draws = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        draws.append(canonical_correlations(64, 4, torch.Generator().manual_seed(0)))
    assert torch.equal(*draws)


def test_canonical_view_recovers_the_planted_correlations():
    g = torch.Generator().manual_seed(1)
    rho = torch.tensor([[0.9, -0.5, 0.0]], dtype=torch.float64)
    x, y, mi = gaussian_canonical(rho, 20_000, 3, 4, g)
    mix = torch.randn(3, 3, generator=g)
    a, b, s, _ = canonical_view(to_scores(x @ mix), to_scores(y), shrinkage=0.0)
    assert torch.allclose(s[0], torch.tensor([0.9, 0.5, 0.0]), atol=0.02)
    assert abs(gaussian_copula_mi(s).item() - mi.item()) < 0.03
    # canonical coordinates are white on each side and pair up across
    assert torch.allclose(a[0].T @ a[0] / 20_000, torch.eye(3), atol=1e-3)
    cross = a[0].T @ b[0] / 20_000
    assert torch.allclose(cross[:, :3].diagonal().abs(), s[0].float(), atol=1e-4)
    assert cross[:, 3].abs().max() < 1e-4


def test_pair_correlations_stay_correlations_where_shrinkage_inflates_a_common_factor():
    # 25 coordinates a side sharing one strong factor, at n = 128: shrinking towards I under-whitens the
    # factor, so the singular value exceeds 1; each canonical pair's own correlation cannot
    g = torch.Generator().manual_seed(3)
    n, d = 128, 25
    common = torch.randn(n, 1, generator=g, dtype=torch.float64)
    x = common + torch.randn(n, d, generator=g, dtype=torch.float64)
    y = common + torch.randn(n, d, generator=g, dtype=torch.float64)
    zx, zy = to_scores(x[None]), to_scores(y[None])
    _, _, s, _ = canonical_view(zx, zy)
    a, b, pairs, _ = canonical_view(zx, zy, pair_correlations=True)
    assert s.abs().max() > 1 and pairs.abs().max() <= 1
    top = (a[0, :, 0] * b[0, :, 0]).mean() / (a[0, :, 0].square().mean() * b[0, :, 0].square().mean()).sqrt()
    assert torch.isclose(pairs[0, 0], top, atol=1e-5)
    assert gaussian_copula_mi(pairs) < gaussian_copula_mi(s)


def test_unbiased_gaussian_mi_is_right_where_the_plug_in_formula_is_far_off():
    # 25 dimensions a side, 128 samples: the plug-in Gaussian MI reads about 3 nats too much
    g = torch.Generator().manual_seed(4)
    rho = torch.tensor([[0.8, 0.6, 0.4] + [0.0] * 22] * 16, dtype=torch.float64)
    x, y, mi = gaussian_canonical(rho, 128, 25, 25, g)
    estimate = unbiased_gaussian_mi(x.float(), y.float())
    plug_in = estimate + 0.5 * (2 * _log_det_bias(25, 128) - _log_det_bias(50, 128))  # the bias put back
    assert abs(estimate.mean().item() - mi[0].item()) < 0.15
    assert (plug_in - mi).mean() > 2.0
    assert unbiased_gaussian_mi(x[:, :60].float(), y[:, :60].float()) is None  # n < dx + dy + margin: not used


def test_the_unbiased_start_is_an_option_of_its_own():
    net = VectorInfoNet(VectorNetConfig(dim=16, latents=4, depth=1, heads=2, unbiased_gc=True)).eval()
    g = torch.Generator().manual_seed(5)
    for n, d in ((24, 8), (200, 3)):  # without and with the bias-corrected start
        zx = torch.randn(2, n, d, generator=g, requires_grad=True)
        out = net(zx, torch.randn(2, n, d, generator=g))
        out.mi.sum().backward()
        assert torch.isfinite(out.quantiles).all() and torch.isfinite(zx.grad).all()
    assert net.side_embed.in_features == VectorInfoNet(TINY).side_embed.in_features + 2


def test_noisier_mixture_banks_hold_lower_mi_and_bad_noise_is_refused():
    small = dict(bank_per_dims=16, bank_mc_samples=256)
    quiet = VectorMixtureBank(VectorPriorConfig(**small), 5, torch.device("cpu"))
    noisy = VectorMixtureBank(VectorPriorConfig(**small, mixture_noise=30.0), 5, torch.device("cpu"))
    assert noisy.banks[(2, 2)][1].mean() < quiet.banks[(2, 2)][1].mean()
    for bad in (0.0, 1e3):
        with pytest.raises(ValueError, match="mixture_noise"):
            VectorPriorConfig(mixture_noise=bad)


def test_spiral_keeps_the_radius():
    g = torch.Generator().manual_seed(2)
    z = torch.randn(4, 100, 3, generator=g)
    scale = z.square().mean((1, 2), keepdim=True).sqrt()
    turned = spiral(z, g)
    assert torch.allclose(turned.norm(dim=-1), (z / scale).norm(dim=-1), atol=1e-4)
    assert not torch.allclose(turned, z / scale)


def test_faster_spirals_turn_further_and_bad_speeds_are_refused():
    z = torch.randn(64, 200, 3, generator=torch.Generator().manual_seed(3))
    unit = z / z.square().mean((1, 2), keepdim=True).sqrt()
    turn = lambda speed: (spiral(z, torch.Generator().manual_seed(4), speed) - unit).norm(dim=-1).mean()  # noqa: E731
    assert turn(3.0) > 1.5 * turn(1.0)
    for bad in (0.01, 50.0):
        with pytest.raises(ValueError, match="spiral_speed"):
            VectorPriorConfig(spiral_speed=bad)


def test_prior_batch_shapes_truth_and_independent_pairs():
    g = torch.Generator().manual_seed(3)
    bank = VectorMixtureBank(VectorPriorConfig(bank_per_dims=4, bank_mc_samples=256), 5, torch.device("cpu"))
    x, y, mi, family = sample_vector_batch(40, 64, 2, 3, g, VectorPriorConfig(), bank)
    assert x.shape == (40, 64, 2) and y.shape == (40, 64, 3) and mi.shape == family.shape == (40,)
    assert torch.isfinite(x).all() and torch.isfinite(y).all()
    share = int(VectorPriorConfig().independent * 40)
    assert (mi[family == 3] == 0).all() and (family == 3).sum() == share  # the configured share is independent
    assert (mi[family != 3] >= 0).all() and set(family.tolist()) == {0, 1, 2, 3}


def test_sample_dims_never_gives_two_scalars():
    g = torch.Generator().manual_seed(4)
    dims = [sample_dims(g) for _ in range(300)]
    assert all(1 <= a <= 32 and 1 <= b <= 32 and (a, b) != (1, 1) for a, b in dims)
    assert sum(a == b for a, b in dims) > 100  # equal sides half of the time


def test_network_shapes_and_permutation_invariance():
    torch.manual_seed(0)
    model = VectorInfoNet(TINY).eval()
    g = torch.Generator().manual_seed(5)
    x, y, _ = gaussian_canonical(torch.full((3, 2), 0.6, dtype=torch.float64), 50, 2, 5, g)
    zx, zy = to_scores(x), to_scores(y)
    out = model(zx, zy)
    assert out.quantiles.shape == (3, 3) and out.mi.shape == out.gc.shape == (3,)
    q = out.quantiles
    assert (q[:, 0] <= q[:, 1]).all() and (q[:, 1] <= q[:, 2]).all() and (q[:, 0] >= 0).all()
    perm = torch.randperm(50, generator=g)
    assert torch.allclose(model(zx[:, perm], zy[:, perm]).quantiles, q, atol=1e-5)


def test_untrained_network_starts_at_the_gaussian_copula_mi():
    model = VectorInfoNet(TINY).eval()
    g = torch.Generator().manual_seed(6)
    x, y, mi = gaussian_canonical(torch.tensor([[0.8, 0.5]], dtype=torch.float64), 4000, 2, 2, g)
    out = model(to_scores(x), to_scores(y))
    assert abs(out.mi.item() - soft_floor(out.gc).item()) < 1e-3 and abs(out.gc.item() - mi.item()) < 0.05
    # near independence the start is lifted to the soft floor, so the slope in the head's output is not 0
    assert soft_floor(torch.tensor(0.0)).item() == pytest.approx(START_FLOOR * math.log(2))
    assert soft_floor(torch.tensor(2.0)).item() == pytest.approx(2.0, abs=1e-3)


@pytest.mark.parametrize("dx, dy", [(1, 2), (2, 2), (5, 3), (32, 32)])
def test_the_compact_first_layer_equals_the_padded_tokens(dx, dy):
    model = VectorInfoNet(TINY).eval()
    a, b = torch.randn(3, 20, dx), torch.randn(3, 20, dy)
    assert torch.allclose(model.embed_tokens(a, b), model.embed(model.tokens(a, b)), atol=1e-5)


@pytest.mark.parametrize("keys", [16, 50, 200])
def test_attention_written_out_for_short_keys_equals_the_fused_kernel(keys):
    q, k, v = torch.randn(2, 4, 16, 8), torch.randn(2, 4, keys, 8), torch.randn(2, 4, keys, 8)
    assert torch.allclose(attend(q, k, v, written_out=True), F.scaled_dot_product_attention(q, k, v), atol=1e-5)


@pytest.mark.parametrize("keys", [8, 16, 50, 64])
def test_cross_attention_through_the_samples_equals_keys_and_values_formed(keys):
    cross = CrossAttention(dim=64, heads=4).eval()  # the narrow network's shape: 8 latents, 2 h L <= D
    q, kv = torch.randn(3, 8, 64), torch.randn(3, keys, 64)
    h, c = 4, 16
    k, v = cross.to_kv(kv).view(3, keys, 2, h, c).permute(2, 0, 3, 1, 4)
    formed = F.scaled_dot_product_attention(cross.to_q(q).view(3, 8, h, c).transpose(1, 2), k, v)
    expected = cross.to_out(formed.transpose(1, 2).reshape(3, 8, 64))
    assert torch.allclose(cross(q, kv), expected, atol=1e-5)


def test_monotone_maps_of_coordinates_change_nothing():
    model = VectorInfoNet(TINY).eval()
    g = torch.Generator().manual_seed(7)
    x, y, _ = gaussian_canonical(torch.full((2, 3), 0.5, dtype=torch.float64), 200, 3, 3, g)
    bent = torch.stack([x[..., 0] ** 3, torch.asinh(x[..., 1]), torch.special.ndtr(x[..., 2])], -1)
    a, b = model(to_scores(x), to_scores(y)), model(to_scores(bent), to_scores(y))
    assert torch.allclose(a.quantiles, b.quantiles, atol=1e-5)


def test_gradients_reach_the_samples():
    model = VectorInfoNet(TINY)
    x = torch.randn(2, 40, 3, requires_grad=True)
    y = torch.randn(2, 40, 2)
    model(x, y).mi.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_normal_scores_are_finite_at_the_edges():
    assert torch.isfinite(normal_scores(torch.tensor([0.0, 1e-9, 0.5, 1.0]))).all()


def tiny_training(**changes) -> dict:
    """Options of a training run small enough for a test: a few steps of the tiny network."""
    return (
        dict(
            steps=4,
            batch_size=8,
            min_batch=4,
            tokens_per_step=512,
            max_len=64,
            val_per_cell=2,
            val_every=2,
            ckpt_every=2,
            progress=False,
            model=TINY,
            prior=VectorPriorConfig(bank_per_dims=2, bank_mc_samples=64),
        )
        | changes
    )


def test_training_runs_resumes_and_refuses_a_second_start(tmp_path):
    opts = tiny_training(out_dir=str(tmp_path / "run"))
    last = train_vector(VectorTrainConfig(**opts))
    ckpt = torch.load(last, weights_only=True)
    assert ckpt["kind"] == "vector" and ckpt["step"] == 4 and (tmp_path / "run" / "best.pt").is_file()
    with pytest.raises(ValueError, match="--resume"):
        train_vector(VectorTrainConfig(**opts))
    train_vector(VectorTrainConfig(**{**opts, "steps": 6, "resume": True}))
    assert torch.load(last, weights_only=True)["step"] == 6
    with pytest.raises(ValueError, match="different options"):
        train_vector(VectorTrainConfig(**{**opts, "steps": 8, "lr": 0.5, "resume": True}))
    # a run saved before an option existed resumes: it ran with that option's default
    ckpt = torch.load(last, weights_only=True)
    for name in ("knn_start", "knn_samples"):
        del ckpt["train_config"]["model"][name]
    torch.save(ckpt, last)
    train_vector(VectorTrainConfig(**{**opts, "steps": 8, "resume": True}))
    assert torch.load(last, weights_only=True)["step"] == 8
    with pytest.raises(ValueError, match="different options: model"):
        train_vector(
            VectorTrainConfig(**{**opts, "steps": 10, "resume": True, "model": dataclasses.replace(TINY, knn=True)})
        )


def test_a_fine_tune_starts_from_the_given_weights_and_refuses_other_model_options(tmp_path):
    opts = tiny_training(steps=1, warmup_steps=1)
    first = train_vector(VectorTrainConfig(out_dir=str(tmp_path / "a"), **opts))
    start = torch.load(first, weights_only=True)["model"]
    # lr 1e-12: one step changes no weight, so the fine-tune's weights are the ones it started from
    tuned = train_vector(
        VectorTrainConfig(out_dir=str(tmp_path / "b"), init_from=str(first), lr=1e-12, min_lr=1e-13, **opts)
    )
    after = torch.load(tuned, weights_only=True)["model"]
    assert all(torch.allclose(start[k], after[k]) for k in start)
    fresh = train_vector(VectorTrainConfig(out_dir=str(tmp_path / "c"), lr=1e-12, min_lr=1e-13, **opts))
    assert not all(torch.allclose(start[k], v) for k, v in torch.load(fresh, weights_only=True)["model"].items())
    wider = dataclasses.replace(TINY, dim=TINY.dim * 2)
    with pytest.raises(ValueError, match="model options differ: dim"):
        train_vector(VectorTrainConfig(out_dir=str(tmp_path / "d"), init_from=str(first), **{**opts, "model": wider}))
    with pytest.raises(FileNotFoundError, match="--init-from"):
        train_vector(VectorTrainConfig(out_dir=str(tmp_path / "e"), init_from=str(tmp_path / "none.pt"), **opts))
    assert not (tmp_path / "e").exists()  # refused before the run folder is made


def test_knn_features_are_ksg_and_ignore_the_order_of_the_samples():
    from infonet import baselines

    g = torch.Generator().manual_seed(7)
    x, y, mi = gaussian_canonical(torch.tensor([[0.8, 0.5]], dtype=torch.float64), 200, 2, 3, g)
    x, y = ((z - z.mean(1, keepdim=True)) / z.std(1, keepdim=True) for z in (x, y))  # as baselines.ksg scales them
    own = knn_mi(x.float(), y.float())  # 200 samples: all of them are read
    for i, k in enumerate((3, 10)):
        assert own[0, i].item() == pytest.approx(baselines.ksg(x[0].numpy(), y[0].numpy(), k=k), abs=1e-4)
    assert abs(own[0, 0].item() - mi.item()) < 0.15
    x, y, _ = gaussian_canonical(torch.tensor([[0.7]], dtype=torch.float64), 1500, 2, 2, g)
    perm = torch.randperm(1500, generator=g)
    assert torch.equal(knn_mi(x.float(), y.float()), knn_mi(x[:, perm].float(), y[:, perm].float()))


def test_a_fine_tune_may_add_the_knn_features_and_starts_from_the_same_estimates(tmp_path):
    torch.manual_seed(0)
    plain, with_knn = VectorInfoNet(TINY).eval(), VectorInfoNet(dataclasses.replace(TINY, knn=True)).eval()
    with_knn.load_state_dict(widen_side_inputs(plain.state_dict(), with_knn))
    zx, zy = torch.randn(2, 40, 3, requires_grad=True), torch.randn(2, 40, 2)
    out = with_knn(zx, zy)
    assert torch.allclose(plain(zx, zy).quantiles, out.quantiles, atol=1e-6)
    out.mi.sum().backward()  # the neighbour counts carry no gradient; the rest of the network does
    assert torch.isfinite(zx.grad).all() and zx.grad.abs().sum() > 0
    opts = tiny_training(steps=1, warmup_steps=1)
    first = train_vector(VectorTrainConfig(out_dir=str(tmp_path / "a"), **opts))
    tuned = train_vector(
        VectorTrainConfig(out_dir=str(tmp_path / "b"), init_from=str(first), **{**opts, "model": with_knn.cfg})
    )
    assert torch.load(tuned, weights_only=True)["config"]["knn"] is True


def test_the_knn_read_length_is_an_option_a_fine_tune_may_change(tmp_path):
    torch.manual_seed(0)
    short = VectorInfoNet(dataclasses.replace(TINY, knn=True, knn_samples=32)).eval()
    torch.nn.init.normal_(short.head.out.weight)  # the head starts at the copula MI, reading nothing
    long = VectorInfoNet(dataclasses.replace(short.cfg, knn_samples=120)).eval()
    long.load_state_dict(short.state_dict())  # the same weights: only the read differs
    zx, zy = torch.randn(1, 120, 2), torch.randn(1, 120, 2)
    zy[..., 0] = zx[..., 0] + 0.3 * zy[..., 0]
    assert not torch.allclose(short(zx, zy).quantiles, long(zx, zy).quantiles)  # 32 of 120 samples read, or all
    assert torch.allclose(short(zx[:, :32], zy[:, :32]).quantiles, long(zx[:, :32], zy[:, :32]).quantiles)
    with pytest.raises(ValueError, match="knn_samples"):
        VectorNetConfig(knn=True, knn_samples=8)
    opts = tiny_training(steps=1, warmup_steps=1, model=short.cfg)
    first = train_vector(VectorTrainConfig(out_dir=str(tmp_path / "a"), **opts))
    tuned = train_vector(
        VectorTrainConfig(out_dir=str(tmp_path / "b"), init_from=str(first), **{**opts, "model": long.cfg})
    )
    assert torch.load(tuned, weights_only=True)["config"]["knn_samples"] == 120


def test_the_knn_start_gates_open_from_closed_and_can_reach_the_ksg_estimate(tmp_path):
    torch.manual_seed(0)
    knn = dataclasses.replace(TINY, knn=True)
    with pytest.raises(ValueError, match="knn_start needs knn"):
        VectorNetConfig(knn_start=True)
    opts = tiny_training(steps=1, warmup_steps=1, model=knn)
    first = train_vector(VectorTrainConfig(out_dir=str(tmp_path / "a"), **opts))
    gated = dataclasses.replace(knn, knn_start=True)
    tuned = train_vector(
        VectorTrainConfig(
            out_dir=str(tmp_path / "b"), init_from=str(first), gate_lr_scale=10, **{**opts, "model": gated}
        )
    )
    saved = torch.load(tuned, weights_only=True)
    assert saved["config"]["knn_start"] is True
    assert saved["model"]["head.gate.weight"].abs().sum() > 0  # the gates, in a group of their own, were trained
    with pytest.raises(ValueError, match="gate-lr-scale"):
        VectorTrainConfig(gate_lr_scale=0)
    # a fine-tune adding the gates starts from the same estimates: the gates start closed
    plain, net = VectorInfoNet(knn).eval(), VectorInfoNet(gated).eval()
    plain.load_state_dict(torch.load(first, weights_only=True)["model"])
    net.load_state_dict(_initial_weights(VectorTrainConfig(init_from=str(first), model=gated), net))
    zx = torch.randn(2, 300, 2)
    zy = torch.cat([torch.sign(zx[..., :1]) + 0.1 * torch.randn(2, 300, 1), torch.randn(2, 300, 1)], -1)
    with torch.no_grad():
        assert torch.allclose(plain(zx, zy).quantiles, net(zx, zy).quantiles, atol=1e-6)
        # fully open on k = 3 (and the head's correction off), the median is that KSG estimate
        torch.nn.init.zeros_(net.head.out.weight)
        torch.nn.init.zeros_(net.head.out.bias)
        net.head.gate.bias.copy_(torch.tensor([30.0, 0.0]))
        a, b, *_ = canonical_view(zx, zy)
        ksg3 = knn_mi(a, b)[:, 0]
        assert ksg3.min() > 0.5  # a sign shared across the sides: log 2 of MI, which the copula MI misses
        assert torch.allclose(net(zx, zy).mi, soft_floor(ksg3), atol=1e-4)


def test_a_network_for_a_narrow_domain_trains_and_validates_inside_it(tmp_path):
    narrow = dataclasses.replace(TINY, max_dim=3, max_len=64)
    opts = tiny_training(out_dir=str(tmp_path / "run"), steps=2, model=narrow)
    train_vector(VectorTrainConfig(**opts))
    with open(tmp_path / "run" / "log.csv") as f:
        header, *rows = list(csv.reader(f))
    last = dict(zip(header, rows[-1], strict=True))
    assert last["mae_n32"] and not last["mae_n128"] and not last["mae_n1000"]  # sizes up to max_len only
    assert last["mae_d2x2"] and last["mae_d3x3"] and not last["mae_d5x5"]  # sides up to max_dim only
    g = torch.Generator().manual_seed(0)
    assert max(max(sample_dims(g, 3)) for _ in range(200)) == 3
    with pytest.raises(ValueError, match="--max-len=128"):
        VectorTrainConfig(**{**opts, "max_len": 128})  # longer than the network answers
    with pytest.raises(ValueError, match="max_dim"):
        VectorNetConfig(max_dim=40)


def test_domain_routed_networks_send_each_pass_to_the_first_that_holds_it(tmp_path):
    torch.manual_seed(0)
    short = VectorInfoNet(dataclasses.replace(TINY, max_dim=2, max_len=64)).eval()
    full = VectorInfoNet(TINY).eval()
    routed = DomainRouted([short, full]).eval()
    assert routed.expert_for(50, 2, 1) is short and routed.expert_for(65, 2, 2) is full
    assert routed.expert_for(50, 3, 1) is full and routed.expert_for(9000, 2, 2) is full and routed.cfg is full.cfg
    zx, zy = torch.randn(4, 50, 2), torch.randn(4, 50, 2)
    assert torch.equal(routed(zx, zy).quantiles, short(zx, zy).quantiles)
    zx, zy = torch.randn(4, 80, 2), torch.randn(4, 80, 2)
    assert torch.equal(routed(zx, zy).quantiles, full(zx, zy).quantiles)
    path = tmp_path / "routed.pt"
    save_checkpoint(path, vector_payload(routed, step=1))
    loaded = vector_model_from_checkpoint(load_checkpoint(path)).eval()
    assert isinstance(loaded, DomainRouted) and loaded.experts[0].cfg == short.cfg
    assert torch.equal(loaded(zx, zy).quantiles, full(zx, zy).quantiles)
    with pytest.raises(ValueError, match="last answers every domain"):
        DomainRouted([full, short])


def test_calibrate_refuses_a_routed_set_in_the_wrong_order_before_calibrating(tmp_path, monkeypatch):
    """scripts/calibrate.py --vector: a set whose last network is narrow is refused with a clean
    error before any (slow) calibration runs, and no --out file is written."""
    import infonet.calibration
    from tests.test_scripts import assert_clean_error, run_here

    def never(*args, **kwargs):
        raise AssertionError("calibrated before the set was checked")

    monkeypatch.setattr(infonet.calibration, "calibrate_vector_intervals", never)
    paths = []
    for name, cfg in (("full", TINY), ("narrow", dataclasses.replace(TINY, max_dim=2, max_len=64))):
        paths.append(tmp_path / f"{name}.pt")
        save_checkpoint(paths[-1], vector_payload(VectorInfoNet(cfg), step=1))
    out = tmp_path / "routed.pt"
    proc = run_here("calibrate.py", "--vector", "--weights", *paths, "--out", out, "--pairs", 100)
    assert_clean_error(proc, "last answers every domain")
    assert not out.exists()


def test_calibrate_max_lens_hands_the_long_samples_to_a_later_network(tmp_path, monkeypatch):
    """--max-lens 0 100 0: the middle network answers up to 100 samples, the last one beyond."""
    import types

    import infonet.calibration
    from tests.test_scripts import assert_clean_error, run_here

    monkeypatch.setattr(
        infonet.calibration, "calibrate_vector_intervals", lambda model, **kw: types.SimpleNamespace(rows=list)
    )
    paths = []
    for name, cfg in (("narrow", dataclasses.replace(TINY, max_dim=2, max_len=64)), ("full", TINY), ("long", TINY)):
        paths.append(tmp_path / f"{name}.pt")
        save_checkpoint(paths[-1], vector_payload(VectorInfoNet(cfg), step=1))
    out = tmp_path / "routed.pt"
    proc = run_here("calibrate.py", "--vector", "--weights", *paths, "--max-lens", 0, 100, 0, "--out", out)
    assert proc.returncode == 0, proc.stderr
    routed = vector_model_from_checkpoint(load_checkpoint(out))
    narrow, full, long = routed.experts
    assert (narrow.cfg.max_len, full.cfg.max_len, long.cfg.max_len) == (64, 100, 4096)
    assert routed.expert_for(50, 2, 2) is narrow and routed.expert_for(100, 5, 5) is full
    assert routed.expert_for(101, 2, 2) is long and routed.expert_for(5000, 5, 5) is long
    for bad, needle in (((0, 100), "one per --weights (3)"), ((0, 5000, 0), "answers 16 to 4096")):
        proc = run_here("calibrate.py", "--vector", "--weights", *paths, "--max-lens", *bad, "--out", tmp_path / "x.pt")
        assert_clean_error(proc, needle)
        assert not (tmp_path / "x.pt").exists()


@pytest.mark.parametrize("bad", [dict(steps=0), dict(min_batch=1), dict(seed=-1), dict(min_len=4)])
def test_training_options_are_checked(bad):
    with pytest.raises(ValueError, match="invalid training options"):
        VectorTrainConfig(**bad)


def test_gaussian_copula_of_independent_data_is_small_for_large_n():
    g = torch.Generator().manual_seed(8)
    x, y, _ = gaussian_canonical(torch.zeros(1, 3, dtype=torch.float64), 20_000, 3, 3, g)
    _, _, s, _ = canonical_view(to_scores(x), to_scores(y))
    assert gaussian_copula_mi(s).item() < 9 / 20_000 * 3 and not math.isnan(s.sum().item())
    assert np.isclose(float(s.abs().max()), 0, atol=0.03)


def test_multivariate_benchmark_rows_and_summary_without_bmi():
    from benchmarks.multivariate import multivariate_markdown, multivariate_rows, multivariate_summary

    rows, info = multivariate_rows(sizes=(64,), repeats=1, mc_samples=2000, estimators=("ksg", "gaussian", "bmi-ksg"))
    assert {r["estimator"] for r in rows} == {"ksg", "gaussian"}  # bmi's estimators skipped where not installed
    families = {r["family"] for r in rows}
    assert {"independent", "mixture"} <= families
    mixtures = {r["task"]: r["true_mi"] for r in rows if r["family"] == "mixture"}
    assert all(0.2 < mi < 2.5 for mi in mixtures.values())  # moderate truths, as the BMI tasks have
    summary = multivariate_summary(rows)
    assert len(summary) == 2 and all(abs(r["mean at MI 0"]) < 0.3 for r in summary)
    text = "\n".join(multivariate_markdown(rows, info))
    assert "Mean absolute error per family" in text and "mixture" in text


def test_long_sample_checks_score_the_network_on_draws_of_their_own():
    from benchmarks.long_samples import main, mixture_errors, prior_errors
    from infonet.vector_estimate import load_vector_model

    model = load_vector_model(device="cpu")
    prior = prior_errors(model, sizes=(600,), draws=2)
    assert set(prior) == {600} and 0 <= prior[600]["all"] < 1.5
    mixtures = mixture_errors(model, sizes=(600,), with_ksg=True)
    assert 0 <= mixtures[600]["infonet"] < 1.0 and 0 <= mixtures[600]["ksg"] < 1.0
    with pytest.raises(SystemExit):
        main(["--draws", "0"])


def test_the_shipped_set_sends_long_samples_to_the_network_that_reads_more_of_them():
    from infonet.vector_estimate import load_vector_model

    narrow, full, long = load_vector_model(device="cpu").experts
    routed = load_vector_model(device="cpu")
    assert routed.expert_for(200, 2, 2) is narrow and routed.expert_for(512, 10, 10) is full
    assert routed.expert_for(513, 2, 2) is long and routed.expert_for(5000, 25, 25) is long
    assert (full.cfg.knn_samples, long.cfg.knn_samples) == (256, 4096)
