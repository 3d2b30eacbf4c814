"""The command-line tools end to end on a small generated sequence, and their handling of bad input."""

import contextlib
import csv
import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datasets import SAMPLE_SEQUENCE, generate_sequence, load_pointodyssey, write_video

ROOT = Path(__file__).resolve().parents[1]
SUMMARY_COLUMNS = ["sequence", "estimator", "n_tracks", "best_f", "ap", "objects_extracted", "seconds"]


def run(script: str, *args, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_here(script: str, *args) -> subprocess.CompletedProcess:
    """The script's ``__main__`` block in this process (no interpreter start-up): exit code and stderr."""
    spec = importlib.util.spec_from_file_location(f"script_{Path(script).stem}", ROOT / "scripts" / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    options_class = next(v for k, v in vars(module).items() if k.endswith("Options") and isinstance(v, type))
    stdout, stderr, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            module.run_cli(module.main, module.parse_options(options_class, [str(a) for a in args]))
        except SystemExit as exit:
            code = exit.code
    return subprocess.CompletedProcess(script, code, stdout.getvalue(), stderr.getvalue())


def assert_clean_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    """A folder holding two small generated sequences."""
    root = tmp_path_factory.mktemp("po")
    generate_sequence(root / "seq_a", seed=3, num_frames=16, size=(96, 128), num_objects=2, num_tracks=150)
    generate_sequence(root / "seq_b", seed=4, num_frames=12, size=(96, 128), num_objects=1, num_tracks=100)
    return root


def test_pr_curves_end_to_end(data_root, tmp_path):
    out = tmp_path / "pr"
    proc = run(
        "pr_curves.py", "--data", data_root, "--estimators", "pearson,gaussian", "--max-tracks", 80, "--out", out
    )
    assert proc.returncode == 0, proc.stderr
    with open(out / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[: len(SUMMARY_COLUMNS)] == SUMMARY_COLUMNS and "auto_f" in rows[0]
    assert [(r["sequence"], r["estimator"]) for r in rows] == [
        ("seq_a", "pearson"),
        ("seq_a", "gaussian"),
        ("seq_b", "pearson"),
        ("seq_b", "gaussian"),
    ]
    for r in rows:
        assert 0 <= float(r["best_f"]) <= 1 and 0 <= float(r["ap"]) <= 1 and int(r["n_tracks"]) <= 80
    for name in ("pr_seq_a.png", "pr_seq_b.png", "sweep_seq_a_pearson.csv", "options.json"):
        assert (out / name).is_file(), name
    assert json.loads((out / "options.json").read_text())["estimators"] == "pearson,gaussian"


def test_pr_curves_sweeps_clip_lengths(data_root, tmp_path):
    out = tmp_path / "len"
    proc = run("pr_curves.py", "--data", data_root, "--estimators", "pearson", "--frames", "8,16", "--out", out)
    assert proc.returncode == 0, proc.stderr
    with open(out / "summary.csv") as f:
        rows = [(r["sequence"], r["frames"]) for r in csv.DictReader(f)]
    assert rows == [("seq_a", "8"), ("seq_a", "16"), ("seq_b", "8")]  # seq_b has 12 frames
    assert "skipping --frames 16" in proc.stderr
    assert (out / "frames.png").stat().st_size > 0 and (out / "sweep_seq_a_T16_pearson.csv").is_file()
    for bad, message in [("8,x", "whole numbers"), ("1", "at least 2"), ("400,500", "no sequence")]:
        assert_clean_error(run_here("pr_curves.py", "--data", data_root, "--frames", bad, "--out", out), message)
    assert_clean_error(
        run_here("pr_curves.py", "--data", data_root, "--frames", "8,16", "--max-frames", 8, "--out", out), "not both"
    )


def test_discover_on_pointodyssey_folder(data_root, tmp_path):
    out = tmp_path / "disc"
    proc = run(
        "discover.py", "--video", data_root / "seq_a", "--estimator", "pearson", "--max-tracks", 90, "--out", out
    )
    assert proc.returncode == 0, proc.stderr
    assert "object(s)" in proc.stdout
    result = np.load(out / "result.npz")
    T, N, _ = result["tracks"].shape
    assert T == 16 and N <= 90
    assert result["labels"].shape == (N,) and result["mi"].shape == (N, N)
    for name in ("overlay.mp4", "first_frame.png", "mi_matrix.png", "options.json"):
        assert (out / name).stat().st_size > 0, name


def test_discover_tracks_a_video_and_reads_a_track_file(data_root, tmp_path):
    seq = load_pointodyssey(data_root / "seq_a")
    frames = np.stack([seq.frames[t] for t in range(seq.num_frames)])
    video = write_video(frames, tmp_path / "clip.mp4")
    proc = run("discover.py", "--video", video, "--estimator", "pearson", "--num-points", 60, "--out", tmp_path / "a")
    assert proc.returncode == 0, proc.stderr
    assert np.load(tmp_path / "a" / "result.npz")["tracks"].shape[0] == 16
    proc = run("discover.py", "--video", video, "--estimator", "pearson", "--flow", "dis", "--out", tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    assert_clean_error(
        run("discover.py", "--video", video, "--flow", "magic", "--out", tmp_path / "d"), "unknown optical flow"
    )
    track_file = tmp_path / "tracks.npy"
    np.save(track_file, seq.tracks.tracks)
    proc = run(
        "discover.py", "--video", video, "--tracks", track_file, "--estimator", "pearson", "--out", tmp_path / "b"
    )
    assert proc.returncode == 0, proc.stderr
    assert np.load(tmp_path / "b" / "result.npz")["tracks"].shape[1] == min(seq.tracks.num_tracks, 400)


@pytest.mark.skipif(not (SAMPLE_SEQUENCE / "anno.npz").is_file(), reason="bundled sample not present")
def test_bench_tracker_scores_both_flows(data_root, tmp_path):
    proc = run("bench_tracker.py", "--data", data_root, "--out", tmp_path / "t")
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "t" / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["sequence"], r["flow"]) for r in rows] == [(s, f) for s in ("seq_a", "seq_b") for f in ("lk", "dis")]
    assert all(0 <= float(r["survived"]) <= 1 and 0 <= float(r["within_2px"]) <= 1 for r in rows)
    assert_clean_error(
        run("bench_tracker.py", "--data", data_root, "--flows", "magic", "--out", tmp_path / "u"), "magic"
    )


def test_pr_curves_defaults_to_the_bundled_sample(tmp_path):
    proc = run("pr_curves.py", "--estimators", "pearson", "--max-tracks", 60, "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "summary.csv").is_file()


def test_pr_curves_bad_input(data_root, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_clean_error(
        run("pr_curves.py", "--data", empty, "--out", tmp_path / "o"), "no PointOdyssey sequence"
    )  # a real process
    assert_clean_error(run_here("pr_curves.py", "--data", tmp_path / "missing", "--out", tmp_path / "o"), "not found")
    assert_clean_error(
        run_here("pr_curves.py", "--data", data_root, "--estimators", "oracle", "--out", tmp_path / "o"), "oracle"
    )
    assert_clean_error(
        run_here(
            "pr_curves.py", "--data", data_root / "seq_a", "--estimators", "pearson", "--out", data_root / "seq_a" / "x"
        ),
        "refusing",
    )
    broken = tmp_path / "broken"
    broken.mkdir()
    np.savez(broken / "anno.npz", trajs_2d=np.zeros((10, 5)))  # wrong shape
    assert_clean_error(run_here("pr_curves.py", "--data", broken, "--estimators", "pearson", "--out", tmp_path / "o"))


def test_discover_bad_input(data_root, tmp_path):
    out = tmp_path / "o"
    assert_clean_error(
        run("discover.py", "--video", tmp_path / "missing.mp4", "--out", out), "not found"
    )  # a real process
    assert_clean_error(run_here("discover.py", "--out", out), "--video is required")
    assert_clean_error(
        run_here("discover.py", "--video", data_root / "seq_a", "--out", data_root / "seq_a" / "o"), "refusing"
    )
    garbage = tmp_path / "garbage.mp4"
    garbage.write_text("not a video")
    assert_clean_error(run_here("discover.py", "--video", garbage, "--out", out))
    no_anno = tmp_path / "no_anno"
    (no_anno / "rgbs").mkdir(parents=True)
    assert_clean_error(run_here("discover.py", "--video", no_anno, "--estimator", "pearson", "--out", out))
    seq = data_root / "seq_a"
    bad_shape = tmp_path / "bad.npy"
    np.save(bad_shape, np.zeros((16, 30)))
    assert_clean_error(
        run_here("discover.py", "--video", seq, "--tracks", bad_shape, "--estimator", "pearson", "--out", out),
        "(T, N, 2)",
    )
    short = tmp_path / "short.npy"
    np.save(short, np.random.default_rng(0).uniform(10, 90, size=(4, 30, 2)))
    assert_clean_error(
        run_here("discover.py", "--video", seq, "--tracks", short, "--estimator", "pearson", "--out", out), "frames"
    )
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full((16, 30, 2), np.nan))
    assert_clean_error(
        run_here("discover.py", "--video", seq, "--tracks", nan, "--estimator", "pearson", "--out", out), "valid"
    )
    assert_clean_error(run_here("discover.py", "--video", seq, "--threshold", "high", "--out", out), "--threshold")
