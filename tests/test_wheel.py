"""The wheel carries what an installed copy needs: built here, installed into a fresh virtual
environment outside the repository, it estimates MI with its own weights and finds the demo's inputs.

The fresh environment borrows torch, numpy and the other dependencies from the running one (a
path line in a .pth file: no download, and no editable install of this project comes along), so
only the wheel's own files can answer ``import infonet``.
"""

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_WHEEL_BYTES = 20 * 2**20  # the bound on what the weights and samples may cost
SKIP = (".git", ".venv*", "runs", "outputs", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "test-artifacts")

CHECK = """
import json, sys
import numpy as np
import datasets, infonet
from infonet.checkpoint import DEFAULT_WEIGHTS
rng = np.random.default_rng(0)
x = rng.standard_normal(2000)
y = 0.8 * x + 0.6 * rng.standard_normal(2000)  # correlation 0.8: MI = -log(1 - 0.64) / 2 = 0.511 nats
print(json.dumps({
    "infonet": infonet.__file__, "weights": str(DEFAULT_WEIGHTS), "mi": float(infonet.estimate_mi(x, y)),
    "sample": (datasets.SAMPLE_SEQUENCE / "anno.npz").is_file(), "video": datasets.SAMPLE_VIDEO.is_file(),
}))
"""


def _run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False, **kwargs)


@pytest.mark.slow
def test_wheel_installed_outside_the_repository_estimates_mi(tmp_path):
    # built from a copy: setuptools leaves build/ in the source folder, and a stale one leaks old files
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*SKIP))
    built = _run(
        sys.executable, "-m", "pip", "wheel", source, "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("infonet_toolkit-*.whl")
    assert wheel.stat().st_size < MAX_WHEEL_BYTES
    names = zipfile.ZipFile(wheel).namelist()
    assert "infonet/weights/infonet.pt" in names and "datasets/samples/bikes.mp4" in names

    env_dir = tmp_path / "venv"
    made = _run(sys.executable, "-m", "venv", "--without-pip", env_dir)
    assert made.returncode == 0, made.stderr
    python = env_dir / "bin" / "python"
    fresh_site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()}
    (fresh_site / "borrowed_dependencies.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    installed = _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel)
    assert installed.returncode == 0, installed.stderr[-2000:]

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "INFONET_WEIGHTS")}
    ran = _run(python, "-c", CHECK, cwd=tmp_path, env={**env, "OMP_NUM_THREADS": "1"})
    assert ran.returncode == 0, ran.stderr[-2000:]
    out = json.loads(ran.stdout.strip().splitlines()[-1])
    for key in ("infonet", "weights"):  # the wheel's files answered, not the checkout
        assert Path(out[key]).is_relative_to(fresh_site), out[key]
    assert out["sample"] and out["video"]
    assert abs(out["mi"] - 0.511) < 0.1, out["mi"]
