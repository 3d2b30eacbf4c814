import atexit
import os
import shutil
import tempfile

import numpy as np
import pytest
import torch

from infonet import InfoNet, InfoNetConfig

# Gradio makes its cache folder (/tmp/gradio) when imported; the demo's tests keep it in a folder of
# their own, removed when the tests end, so that the suite leaves nothing behind in /tmp.
if "GRADIO_TEMP_DIR" not in os.environ:
    os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="infonet-tests-gradio-")
    atexit.register(shutil.rmtree, os.environ["GRADIO_TEMP_DIR"], ignore_errors=True)

TINY = InfoNetConfig(grid_size=16, patch_size=4, dim=32, depth=1, heads=2, mlp_ratio=2)


@pytest.fixture
def tiny_model() -> InfoNet:
    torch.manual_seed(0)
    return InfoNet(TINY).eval()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
