"""A corpus of bad inputs and faults a new user or an operator meets, and what each must get.

Every case ends with one clear message naming the problem before any expensive work starts
(never a deep traceback or a silent wrong answer), and no file the user had is changed.
"""

import contextlib
import io
import logging
import os
import pickle
import shutil
import subprocess
import sys
import zipfile
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import torch

import datasets
import infonet
import segmentation
import segmentation.pipeline
from datasets import DataError, generate_sequence
from infonet import get_estimator
from infonet.checkpoint import DEFAULT_WEIGHTS, load_pretrained, save_checkpoint
from infonet.cli import run_cli
from infonet.interface import check_batch, check_pair

from .test_scripts import ROOT, assert_clean_error, run_here

UNSAFE_ADVICE = ("weights_only", "allow_pickle", "pickle.load", "trust")


def assert_plain_message(message: str, *needles: str) -> None:
    """One line, no advice to load unsafely, nothing empty after a colon, naming ``needles``."""
    assert "\n" not in message.strip(), message
    for advice in UNSAFE_ADVICE:
        assert advice not in message, message
    assert all(part.strip() for part in message.split(": ")), message
    for needle in needles:
        assert needle in message, message


# ----------------------------------------------------------------------------- checkpoints


class _Code:
    def __reduce__(self):  # unpickling this would call print: code from the file
        return (print, ("code ran",))


def _weights(path: Path, fill: float) -> None:
    # a checkpoint of the project's layout; the NaN check needs no real model
    weights = torch.randn(4, 4)
    weights[1, 2] = fill
    save_checkpoint(path, {"config": {}, "model": {"head.bias": torch.zeros(4), "head.weight": weights}})


def _bad_checkpoint(kind: str, path: Path) -> None:
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("hello world\n" * 50)
    elif kind == "truncated":
        data = DEFAULT_WEIGHTS.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "plain_pickle":
        path.write_bytes(pickle.dumps({"config": {}, "model": {}}, protocol=4))
    elif kind == "code":
        torch.save({"config": {}, "model": {}, "hook": _Code()}, path)
    elif kind == "nan":
        _weights(path, float("nan"))
    elif kind == "inf":
        _weights(path, float("inf"))


CHECKPOINTS = {
    "empty": "empty",
    "text": "not a PyTorch checkpoint",
    "truncated": "is truncated",
    "plain_pickle": "not a PyTorch checkpoint",
    "code": "Python objects",
    "nan": "NaN or infinite weights in 1 tensor(s), first 'head.weight'",
    "inf": "NaN or infinite weights in 1 tensor(s), first 'head.weight'",
}


@pytest.mark.parametrize("kind", CHECKPOINTS)
def test_bad_checkpoint_is_refused_with_a_safe_message(kind, tmp_path):
    path = tmp_path / f"{kind}.pt"
    _bad_checkpoint(kind, path)
    with pytest.raises(ValueError) as err:
        load_pretrained(path, device="cpu")
    assert_plain_message(str(err.value), CHECKPOINTS[kind], path.name)


# ----------------------------------------------------------------------------- estimator input


def test_complex_input_is_refused_not_cast():
    rng = np.random.default_rng(0)
    x = rng.normal(size=64) + 1j * rng.normal(size=64)
    y = rng.normal(size=64)
    for call in (lambda: check_pair(x, y), lambda: check_pair(y, x), lambda: check_batch(x[None], y[None])):
        with pytest.raises(ValueError, match="complex"):
            call()
    with pytest.raises(ValueError, match="complex"):
        infonet.estimate_mi(x, y)


@pytest.mark.parametrize("name", ["infonet", "ksg", "pearson"])
def test_ragged_rows_are_named_not_a_numpy_error(name):
    """A list of rows of unequal lengths raised NumPy's "setting an array element with a sequence"."""
    est = infonet.get_estimator(name, device="cpu")
    rows = [np.linspace(0, 1, 64), np.linspace(0, 1, 48)]
    calls = [lambda: est.estimate_batch(rows, rows), lambda: est.pairwise(rows)]
    if name == "infonet":
        calls += [lambda: est.estimate_interval_batch(rows, rows), lambda: infonet.estimate_mi_batch(rows, rows)]
    for call in calls:
        with pytest.raises(ValueError, match="rows of unequal lengths"):
            call()


# Offsets and scales must not move an estimate: MI is invariant under x -> a x + b.
_pair = namedtuple("pair", "x y")


@pytest.fixture(scope="module")
def correlated_pair() -> _pair:
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    return _pair(x, 0.8 * x + 0.6 * rng.normal(size=2000))  # rho 0.8: MI 0.511 nats


@pytest.mark.parametrize("offset", [1e7, 1e8, 1.7e9, 1e12])
def test_estimate_ignores_an_offset(correlated_pair, offset):
    x, y = correlated_pair
    base = infonet.estimate_mi(x, y, device="cpu")
    assert abs(infonet.estimate_mi(x + offset, y, device="cpu") - base) < 0.01
    assert abs(infonet.estimate_mi(x, y + offset, device="cpu") - base) < 0.01


@pytest.mark.parametrize("scale", [1e-30, 1e-10, 1e10, 1e30])
def test_estimate_ignores_a_scale(correlated_pair, scale):
    x, y = correlated_pair
    base = infonet.estimate_mi(x, y, device="cpu")
    assert abs(infonet.estimate_mi(x * scale, y * scale, device="cpu") - base) < 0.01


# ----------------------------------------------------------------------------- data files


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    """Two small generated sequences (16 and 12 frames)."""
    root = tmp_path_factory.mktemp("po")
    generate_sequence(root / "seq_a", seed=3, num_frames=16, size=(96, 128), num_objects=2, num_tracks=150)
    generate_sequence(root / "seq_b", seed=4, num_frames=12, size=(96, 128), num_objects=1, num_tracks=100)
    return root


def _bad_annotation(kind: str, path: Path) -> None:
    if kind == "text":
        path.write_text("not an npz\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "objects":
        np.savez(path, trajs_2d=np.array([object()], dtype=object))
    elif kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("kind", ["text", "empty", "objects", "truncated"])
@pytest.mark.parametrize("loader", ["load_pointodyssey", "load_tracks"])
def test_corrupt_annotation_file_gets_a_safe_message(data_root, tmp_path, kind, loader):
    seq = tmp_path / "seq"
    shutil.copytree(data_root / "seq_a", seq)
    _bad_annotation(kind, seq / "anno.npz")
    with pytest.raises(DataError) as err:
        if loader == "load_pointodyssey":
            datasets.load_pointodyssey(seq)
        else:
            datasets.load_tracks(seq / "anno.npz")
    assert_plain_message(str(err.value), "anno.npz")


def test_tracks_dropped_for_nan_are_counted_where_the_user_sees_them(data_root, tmp_path, caplog):
    tracks = datasets.load_pointodyssey(data_root / "seq_a").tracks.tracks.copy()
    tracks[3, :4, 0] = np.nan
    tracks[5, 4:6, 1] = np.inf
    np.save(tmp_path / "tracks.npy", tracks)
    with caplog.at_level(logging.WARNING):
        loaded = datasets.load_tracks(tmp_path / "tracks.npy", image_size=(96, 128))
    assert loaded.dropped["non_finite"] == 6
    assert any("6" in r.getMessage() and "NaN" in r.getMessage() for r in caplog.records), caplog.text
    proc = run_here(
        "discover.py",
        *("--video", data_root / "seq_a", "--tracks", tmp_path / "tracks.npy", "--estimator", "pearson"),
        *("--out", tmp_path / "out"),
    )
    assert proc.returncode == 0, proc.stderr
    assert "non_finite 6" in proc.stdout, proc.stdout


def _video(path: Path, n: int = 30) -> Path:
    frames = np.random.default_rng(0).integers(0, 255, (n, 64, 80, 3), dtype=np.uint8)
    return datasets.write_video(frames, path)


@pytest.mark.parametrize("damage", ["truncated", "zeroed_middle"])
@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_damaged_video_is_reported(tmp_path, caplog, damage, suffix):
    data = bytearray(_video(tmp_path / f"clip{suffix}").read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        middle, span = len(data) // 2, len(data) // 8
        data[middle : middle + span] = bytes(span)
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="datasets.video"):
        frames = datasets.read_video(bad)
    assert len(frames) < 30
    assert f"{len(frames)} of its 30 frames" in caplog.text, caplog.text
    with pytest.raises(DataError, match="of its 30 frames"):
        datasets.read_video(bad, strict=True)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="datasets.video"):
        assert len(datasets.read_video(tmp_path / f"clip{suffix}", strict=True)) == 30
        assert len(datasets.read_video(tmp_path / f"clip{suffix}", max_frames=10, strict=True)) == 10
    assert not caplog.records, caplog.text


# ----------------------------------------------------------------------------- uploads


def _zip(path: Path, size: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("seq/anno.npz", bytes(size))
    return path


def test_unpacking_checks_free_disk_first(tmp_path, monkeypatch):
    archive = _zip(tmp_path / "a.zip", 3_000_000)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(datasets.archive.shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 2_000_000, 2_000_000))
    with pytest.raises(DataError) as err:
        datasets.extract_zip(archive, tmp_path)
    assert_plain_message(str(err.value), "a.zip", "3 MB", "2 MB", "free")
    assert not list(tmp_path.glob("unzip-*"))


def test_demo_caps_the_unpacked_size_to_what_it_processes(tmp_path, monkeypatch):
    app = pytest.importorskip("app")
    # 300 frames of 1080p JPEG plus masks and annotations fit well under a gigabyte
    assert app.MAX_UNPACKED_MB <= 1000
    monkeypatch.setattr(app, "MAX_UNPACKED_MB", 2)
    archive = _zip(tmp_path / "big.zip", 3_000_000)
    with pytest.raises(DataError) as err:
        app.load_input(str(archive), None, num_points=50, max_frames=20, workdir=tmp_path)
    assert_plain_message(str(err.value), "big.zip", "3 MB", "at most 2 MB")
    assert not list(tmp_path.glob("unzip-*"))


def test_demo_refuses_a_truncated_video(tmp_path):
    app = pytest.importorskip("app")
    data = _video(tmp_path / "clip.mp4", n=40).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="of its 40 frames decode"):
        app.load_input(str(tmp_path / "cut.mp4"), None, num_points=50, max_frames=100, workdir=tmp_path)


# ----------------------------------------------------------------------------- command lines


@pytest.fixture
def no_expensive_work(monkeypatch):
    """Loading, tracking, estimating or writing anything fails the test: options come first."""

    def boom(*args, **kwargs):
        raise AssertionError("expensive work started before the options were checked")

    for module, name in [
        (datasets, "load_pointodyssey"),
        (datasets, "read_video"),
        (segmentation.pipeline, "track_frames"),
        (datasets, "load_tracks"),
        (segmentation, "discover"),
        (segmentation.pipeline, "discover"),
        (segmentation, "discover_video"),
        (infonet, "get_estimator"),
    ]:
        monkeypatch.setattr(module, name, boom)


def _files(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.is_dir() else {}


DISCOVER_BAD = {
    "negative threshold": (["--threshold", "-5"], "--threshold"),
    "nan threshold": (["--threshold", "nan"], "--threshold"),
    "negative fps": (["--fps", "-5"], "--fps"),
    "zero fps": (["--fps", "0"], "--fps"),
    "zero track side": (["--track-side", "0"], "--track-side"),
    "negative track side": (["--track-side", "-3"], "--track-side"),
    "negative seed": (["--seed", "-1"], "--seed"),
    "min overlap below 8": (["--min-overlap", "3"], "--min-overlap"),
    "huge num points": (["--num-points", "100000000"], "--num-points"),
    "zero num points": (["--num-points", "0"], "--num-points"),
    "huge max tracks": (["--max-tracks", "100000000"], "--max-tracks"),
    "one frame": (["--max-frames", "1"], "--max-frames"),
    "negative min size": (["--min-size", "-1"], "--min-size"),  # 0 is a fifteenth of the tracks
    "motion weight above one": (["--mask.motion-weight", "1.5"], "--mask.motion-weight"),
}


@pytest.mark.parametrize("case", DISCOVER_BAD)
def test_discover_refuses_bad_options_before_any_work(data_root, tmp_path, no_expensive_work, case):
    args, needle = DISCOVER_BAD[case]
    proc = run_here("discover.py", "--video", data_root / "seq_a", "--out", tmp_path / "out", *args)
    assert_clean_error(proc, needle)
    assert not (tmp_path / "out").exists()


PR_BAD = {
    "one threshold": (["--num-thresholds", "1"], "--num-thresholds"),
    "negative thresholds": (["--num-thresholds", "-302"], "--num-thresholds"),
    "frames longer than every clip": (["--frames", "500"], "--frames 500"),
    "zero max tracks": (["--max-tracks", "0"], "--max-tracks"),
    "huge max tracks": (["--max-tracks", "100000000"], "--max-tracks"),
    "negative min size": (["--min-size", "-1"], "--min-size"),  # 0 is a fifteenth of the tracks
    "one max frame": (["--max-frames", "1"], "--max-frames"),
}


@pytest.mark.parametrize("case", PR_BAD)
def test_pr_curves_refuses_bad_options_before_any_work(data_root, tmp_path, no_expensive_work, case):
    args, needle = PR_BAD[case]
    proc = run_here("pr_curves.py", "--data", data_root, "--estimators", "pearson", "--out", tmp_path / "out", *args)
    assert_clean_error(proc, needle)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("script", ["discover.py", "pr_curves.py"])
def test_bad_weights_or_device_are_refused_before_any_work(data_root, tmp_path, monkeypatch, no_expensive_work, script):
    monkeypatch.setattr(infonet, "get_estimator", get_estimator)  # building the estimator is allowed
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    where = ["--video", data_root / "seq_a"] if script == "discover.py" else ["--data", data_root]
    args = [*where, "--out", tmp_path / "out"]
    assert_clean_error(run_here(script, *args, "--weights", empty), "0 bytes): the file is empty")
    assert_clean_error(run_here(script, *args, "--device", "tpu"), "--device")
    if not torch.cuda.is_available():
        assert_clean_error(run_here(script, *args, "--device", "cuda"), "no CUDA device")
    assert not (tmp_path / "out").exists()


def _input_args(script: str, data_root: Path) -> list:
    if script == "discover.py":
        return ["--video", data_root / "seq_a", "--estimator", "pearson", "--max-tracks", 60]
    return ["--data", data_root / "seq_b", "--estimators", "pearson", "--max-tracks", 60]


@pytest.mark.parametrize("script", ["discover.py", "pr_curves.py"])
def test_existing_outputs_are_never_replaced_without_overwrite(data_root, tmp_path, script):
    out = tmp_path / "out"
    out.mkdir()
    (out / "result.npz").write_bytes(b"the user's own result")
    (out / "summary.csv").write_text("the user's own summary\n")
    (out / "key_frame.png").write_bytes(b"the user's own picture")
    before = _files(out)
    proc = run_here(script, *_input_args(script, data_root), "--out", out)
    assert_clean_error(proc, "--overwrite", str(out))
    assert _files(out) == before

    a_file = tmp_path / "a_file"
    a_file.write_text("keep me")
    assert_clean_error(run_here(script, *_input_args(script, data_root), "--out", a_file), "--out", "file")
    assert_clean_error(
        run_here(script, *_input_args(script, data_root), "--out", a_file / "sub"), "--out", "not a folder"
    )
    assert a_file.read_text() == "keep me"

    (out / "notes.txt").write_text("not an output of the script")
    proc = run_here(script, *_input_args(script, data_root), "--out", out, "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert (out / "notes.txt").read_text() == "not an output of the script"
    assert _files(out) != before


def test_read_only_output_folder_is_refused_before_work(data_root, tmp_path, monkeypatch, no_expensive_work):
    out = tmp_path / "locked"
    out.mkdir()
    # root may write anywhere; the check asks os.access, which answers a normal user as here
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == out else real_access(p, mode, **kw))
    for script in ("discover.py", "pr_curves.py"):
        assert_clean_error(run_here(script, *_input_args(script, data_root), "--out", out), "not writable")


def test_make_sequence_names_the_overwrite_flag(tmp_path):
    out = tmp_path / "seq"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    proc = run_here("make_sequence.py", "--out", out, "--frames", 4, "--size", 32, 48, "--tracks", 10)
    assert_clean_error(proc, "--overwrite")
    assert "overwrite=True" not in proc.stderr
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


def test_pr_curves_skips_a_clip_shorter_than_one_frames_value(data_root, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        proc = run_here(
            "pr_curves.py", "--data", data_root, "--estimators", "pearson", "--frames", 14, "--out", tmp_path / "o"
        )
    assert proc.returncode == 0, proc.stderr
    assert "seq_b" in caplog.text and "12 frames" in caplog.text, caplog.text
    summary = (tmp_path / "o" / "summary.csv").read_text()
    assert "seq_a" in summary and "seq_b" not in summary


@pytest.mark.parametrize(
    "fault",
    [
        OSError(28, "No space left on device", "runs/x/result.npz"),
        OSError(30, "Read-only file system", "runs/x/result.npz"),
        MemoryError("Unable to allocate 74.5 GiB for an array with shape (100000000, 100)"),
    ],
)
def test_run_cli_reports_faults_in_one_line(fault):
    def main():
        raise fault

    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), pytest.raises(SystemExit) as exit:
        run_cli(main)
    assert exit.value.code != 0
    assert stderr.getvalue().startswith("error:") and stderr.getvalue().count("\n") == 1, stderr.getvalue()
    assert "Traceback" not in stderr.getvalue()


def test_run_cli_leaves_programming_errors_alone():
    def main():
        raise AttributeError("a bug must show its traceback")

    with pytest.raises(AttributeError):
        run_cli(main)


def test_demo_folders_go_when_the_server_stops(tmp_path):
    pytest.importorskip("app")
    code = "import app; print(app._new_workdir())"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    folder = Path(proc.stdout.strip().splitlines()[-1])
    assert folder.name.startswith("infonet-demo-") and not folder.exists()
