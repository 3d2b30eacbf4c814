import numpy as np
import pytest
import torch

from infonet import InfoNet, InfoNetConfig

TINY = InfoNetConfig(num_freqs=4, dim=32, num_latents=8, heads=2, depth=1, mlp_ratio=2, grid_size=16, rank=8)


@pytest.fixture
def tiny_model() -> InfoNet:
    torch.manual_seed(0)
    return InfoNet(TINY).eval()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
