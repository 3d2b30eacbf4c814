"""Networks for short and long sequences: the routing by n, its checkpoints and calibration, and
the warm start of a finer grid from a coarser one."""

import dataclasses

import numpy as np
import pytest
import torch

from infonet import SizeRouted, estimate_mi_batch
from infonet.calibration import calibrate_intervals
from infonet.checkpoint import model_from_checkpoint, model_payload, save_checkpoint
from infonet.estimate import predict
from infonet.model import CALIBRATION_SIZES, InfoNet, refine_grid
from tests.conftest import TINY


def _pair(n: int, seed: int = 0):
    g = np.random.default_rng(seed)
    x = g.normal(size=(6, n))
    return x, x + g.normal(size=(6, n))


def _routed() -> SizeRouted:
    torch.manual_seed(0)
    short, long = InfoNet(TINY).eval(), InfoNet(dataclasses.replace(TINY, grid_size=32, patch_size=8)).eval()
    return SizeRouted([short, long], [100]).eval()


def test_each_size_is_answered_by_its_expert():
    model = _routed()
    for n, expert in ((99, model.experts[0]), (100, model.experts[1]), (3000, model.experts[1])):
        x, y = _pair(n)
        np.testing.assert_array_equal(predict(model, x, y)["mi"], predict(expert, x, y)["mi"])
        assert model.expert_for(n) is expert
    assert model.serves(0) == (0, 100) and model.serves(1) == (100, float("inf"))
    # the two experts do differ, so the comparison above could fail
    x, y = _pair(99)
    assert not np.allclose(predict(model.experts[0], x, y)["mi"], predict(model.experts[1], x, y)["mi"])


@pytest.mark.parametrize("bounds", [[], [100, 50], [1]])
def test_bad_routes_are_refused(bounds):
    with pytest.raises(ValueError, match="SizeRouted"):
        SizeRouted([InfoNet(TINY), InfoNet(TINY)], bounds)


def test_a_routed_checkpoint_round_trips(tmp_path):
    model = _routed()
    path = save_checkpoint(tmp_path / "routed.pt", model_payload(model))
    loaded = model_from_checkpoint(torch.load(path, weights_only=True)).eval()
    assert isinstance(loaded, SizeRouted) and loaded.bounds == [100]
    for n in (64, 400):
        x, y = _pair(n, seed=1)
        np.testing.assert_array_equal(estimate_mi_batch(x, y, model=loaded), estimate_mi_batch(x, y, model=model))


def test_routed_calibration_fits_each_expert_where_it_answers():
    model = _routed()
    fit = calibrate_intervals(model, pairs=150, mc_samples=1000)
    assert (fit.coverage_after >= 0.88).all() and (fit.coverage_after <= 0.94).all()
    for k, n in enumerate(CALIBRATION_SIZES):  # the reported factors are the serving expert's
        np.testing.assert_allclose(model.expert_for(n).head.width_scale[:, k].numpy(), fit.scale[:, k], rtol=1e-6)
    # the short expert's knot at 256 (beyond its range and its neighbour knot) copies its last fitted one
    short = model.experts[0].head.width_scale
    assert torch.equal(short[:, CALIBRATION_SIZES.index(256)], short[:, CALIBRATION_SIZES.index(128)])


def test_a_finer_grid_starts_where_the_coarse_model_is():
    torch.manual_seed(0)
    coarse = InfoNet(dataclasses.replace(TINY, input_blur=0.0)).eval()
    fine_cfg, state = refine_grid(coarse.state_dict(), coarse.cfg, 2)
    assert (fine_cfg.grid_size, fine_cfg.patch_size) == (32, 8) and fine_cfg.num_tokens == coarse.cfg.num_tokens
    fine = InfoNet(fine_cfg).eval()
    fine.load_state_dict(state)
    density = torch.rand(3, 16, 16) * 2
    log_n = torch.zeros(3, 1)
    with torch.no_grad():
        tokens, table = coarse.trunk(density, log_n)
        # the same density, each coarse cell split into 2 x 2 fine cells of the same value
        fine_tokens, fine_table = fine.trunk(density.repeat_interleave(2, 1).repeat_interleave(2, 2), log_n)
    torch.testing.assert_close(fine_tokens, tokens, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fine_table, table.repeat_interleave(2, 1).repeat_interleave(2, 2), atol=1e-5, rtol=1e-5)


def test_the_shipped_networks_are_the_ones_the_readme_lists():
    """The estimator page's table of the shipped networks (which n each answers, its grid) is the file's."""
    import re
    from pathlib import Path

    from infonet.checkpoint import load_pretrained

    model = load_pretrained(device="cpu")
    readme = (Path(__file__).resolve().parents[1] / "docs" / "estimator.md").read_text()
    rows = re.findall(r"^\| (\d) \| ([^|]*n[^|]*?) \| (\d+) x \d+ \|", readme, flags=re.M)
    experts = getattr(model, "experts", [model])
    assert len(rows) == len(experts), rows
    for i, (number, sizes, grid) in enumerate(rows):
        low, high = model.serves(i) if isinstance(model, SizeRouted) else (0, float("inf"))
        expected = f"n < {high}" if low == 0 else (f"n >= {low}" if high == float("inf") else f"{low} <= n < {high}")
        assert (int(number), sizes, int(grid)) == (i + 1, expected, experts[i].cfg.grid_size)


def test_beyond_the_training_lengths_strided_chunks_are_averaged(monkeypatch):
    import infonet.model as model_module

    monkeypatch.setattr(model_module, "MAX_N_SEEN", 64)
    torch.manual_seed(0)
    model = InfoNet(TINY).eval()
    u, v = torch.rand(3, 200), torch.rand(3, 200)
    with torch.no_grad():
        whole = model(u, v)
        # ceil(200 / 64) = 4 chunks of 50: chunk j holds samples j, j + 4, ...
        parts = [model(u[:, j:200:4], v[:, j:200:4]) for j in range(4)]
    torch.testing.assert_close(whole.mi, torch.stack([p.mi for p in parts]).mean(0))
    torch.testing.assert_close(whole.dv, torch.stack([p.dv for p in parts]).mean(0))
