"""Interval calibration: the least covering factors by hand, the split-conformal fit, the factors
read by the head at every n, and old checkpoints without them."""

import numpy as np
import torch

from infonet.calibration import calibrate_intervals, needed_scales
from infonet.checkpoint import load_pretrained, model_from_checkpoint, model_payload
from infonet.estimate import predict
from infonet.model import CALIBRATION_SIZES, InfoNet
from tests.conftest import TINY


def test_needed_scales_by_hand():
    median, low, high = np.array([1.0, 1.0, 1.0, 0.5]), np.array([0.5, 0.5, 0.5, 0.25]), np.array([1.0] * 4)
    truth = np.array([0.75, 1.5, 1.0, 0.0])
    below, above = needed_scales(median, low, high, truth)
    np.testing.assert_allclose(below, [0.5, 0.0, 0.0, 2.0])  # MI 0 is covered once the low end reaches 0
    np.testing.assert_allclose(above, [0.0, 0.5, 0.0, 0.0])


def test_head_reads_its_factors_per_side_and_between_sizes():
    torch.manual_seed(0)
    model = InfoNet(TINY).eval()
    g = np.random.default_rng(0)
    x = g.normal(size=(16, 128))
    y = x + g.normal(size=(16, 128))
    before = predict(model, x, y)["quantiles"]
    with torch.no_grad():
        model.head.width_scale[0].fill_(0.5)  # low side halved, high side doubled
        model.head.width_scale[1].fill_(2.0)
    after = predict(model, x, y)["quantiles"]
    np.testing.assert_allclose(after[:, 1], before[:, 1], atol=1e-6)  # the median stays
    np.testing.assert_allclose(after[:, 2] - after[:, 1], 2 * (before[:, 2] - before[:, 1]), rtol=1e-4)
    unclipped = before[:, 0] > 0
    np.testing.assert_allclose(
        (after[:, 1] - after[:, 0])[unclipped], 0.5 * (before[:, 1] - before[:, 0])[unclipped], rtol=1e-4
    )
    with torch.no_grad():
        model.head.width_scale.copy_(torch.tensor([list(range(len(CALIBRATION_SIZES)))] * 2, dtype=torch.float32))
    assert model.head.scale_at(64) == (2.0, 2.0)  # the third knot
    assert abs(model.head.scale_at(91)[0] - (2 + np.log(91 / 64) / np.log(2))) < 1e-6  # linear in log n
    assert model.head.scale_at(10) == (0.0, 0.0) and model.head.scale_at(10**6)[0] == len(CALIBRATION_SIZES) - 1


def test_calibration_covers_90_percent_of_its_draws():
    torch.manual_seed(0)
    model = InfoNet(TINY).eval()
    fit = calibrate_intervals(model, pairs=200, mc_samples=1000)
    assert fit.scale.shape == (2, len(CALIBRATION_SIZES))
    assert (fit.coverage_after >= 0.89).all() and (fit.coverage_after <= 0.93).all()
    np.testing.assert_allclose(model.head.width_scale.numpy(), fit.scale, rtol=1e-6)  # stored in the model


def test_a_checkpoint_without_factors_loads_uncalibrated():
    torch.manual_seed(0)
    payload = model_payload(InfoNet(TINY))
    del payload["model"]["head.width_scale"]  # written before the calibration existed
    model = model_from_checkpoint(payload)
    assert torch.equal(model.head.width_scale, torch.ones(2, len(CALIBRATION_SIZES)))


def test_shipped_weights_are_calibrated():
    model = load_pretrained(device="cpu")
    for expert in getattr(model, "experts", [model]):  # every network of a size-routed model
        scale = expert.head.width_scale
        assert not torch.equal(scale, torch.ones_like(scale)) and (scale > 0.4).all() and (scale < 1.6).all()
