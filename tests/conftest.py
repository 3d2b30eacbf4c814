import numpy as np
import pytest
import torch

from infonet import InfoNet, InfoNetConfig

TINY = InfoNetConfig(grid_size=16, patch_size=4, dim=32, depth=1, heads=2, mlp_ratio=2)


@pytest.fixture
def tiny_model() -> InfoNet:
    torch.manual_seed(0)
    return InfoNet(TINY).eval()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
