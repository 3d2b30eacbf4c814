"""The command-line tools end to end on a small generated sequence, and their handling of bad input."""

import contextlib
import csv
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import datasets
from datasets import SAMPLE_SEQUENCE, generate_sequence, load_pointodyssey, write_video
from infonet import cli
from segmentation import load_result

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
            cli.run_cli(module.main, cli.parse_options(options_class, [str(a) for a in args]))
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
    with open(out / "sweep_seq_a_pearson.csv") as f:
        sweep = list(csv.DictReader(f))
    thresholds = [float(r["threshold"]) for r in sweep]
    assert thresholds == sorted(thresholds, reverse=True) and len(thresholds) <= 49  # 48 and the automatic one
    best = max(float(r["f"]) for r in sweep)
    assert float(rows[0]["best_f"]) == pytest.approx(best, abs=1e-4)
    assert best >= float(rows[0]["auto_f"]) - 1e-4


def test_pr_curves_sweeps_clip_lengths(data_root, tmp_path):
    out = tmp_path / "len"
    proc = run("pr_curves.py", "--data", data_root, "--estimators", "pearson", "--frames", "8,16", "--out", out)
    assert proc.returncode == 0, proc.stderr
    with open(out / "summary.csv") as f:
        rows = [(r["sequence"], r["frames"]) for r in csv.DictReader(f)]
    assert rows == [("seq_a", "8"), ("seq_a", "16"), ("seq_b", "8")]  # seq_b has 12 frames
    assert "skipping --frames 16" in proc.stderr
    assert (out / "frames.png").stat().st_size > 0 and (out / "sweep_seq_a_T16_pearson.csv").is_file()
    for bad, message in [("8,x", "whole numbers"), ("1", ">= 2"), ("400,500", "no sequence")]:
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
    result = load_result(out / "result.npz")
    T, M, _ = result.tracks.shape
    assert T == 16 and M <= 90 and len(result.grouped) == M  # given tracks: every one grouped
    assert f"{len(result.objects)} object(s)" in proc.stdout and "tracks against the ground truth" in proc.stdout
    # the file holds what the run printed and what the pictures show
    assert result.mi.shape == (M, M) and np.allclose(result.mi, result.mi.T)
    assert set(np.unique(result.labels)) <= {-1, 0, *result.objects}
    assert result.masks.shape == (16, 96, 128) and set(np.unique(result.masks)) <= {0, *result.objects}
    truth = np.load(data_root / "seq_a" / "info.npz")["track_object_ids"][result.source_index]
    known = result.truth_ids >= 0  # the mask vote of the loader; -1 where a track had none
    assert known.mean() > 0.9 and (result.truth_ids[known] == truth[known]).all()
    assert json.loads((out / "options.json").read_text())["pipeline"]["max_tracks"] == 90
    assert cv2.imread(str(out / "key_frame.png")).shape == (96, 128, 3)
    assert cv2.VideoCapture(str(out / "overlay.mp4")).get(cv2.CAP_PROP_FRAME_COUNT) == 16
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no lock, no temporary file left


def test_a_run_that_fails_while_writing_leaves_the_earlier_outputs(data_root, tmp_path, monkeypatch):
    out = tmp_path / "disc"
    args = ["--video", data_root / "seq_a", "--estimator", "pearson", "--max-tracks", 40, "--out", out]
    assert run_here("discover.py", *args).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def fails(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(datasets, "write_video", fails)  # the overlay, after every other output was written aside
    proc = run_here("discover.py", *args, "--max-tracks", 30, "--overwrite")
    assert_clean_error(proc, "No space left on device")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # all the first run's, nothing of the second


def test_discover_tracks_a_video_and_reads_a_track_file(data_root, tmp_path):
    seq = load_pointodyssey(data_root / "seq_a")
    frames = np.stack([seq.frames[t] for t in range(seq.num_frames)])
    video = write_video(frames, tmp_path / "clip.mp4")
    proc = run("discover.py", "--video", video, "--estimator", "pearson", "--num-points", 60, "--out", tmp_path / "a")
    assert proc.returncode == 0, proc.stderr
    tracked = load_result(tmp_path / "a" / "result.npz")
    assert tracked.tracks.shape[0] == 16 and tracked.foreground.startswith("motion (auto")
    proc = run("discover.py", "--video", video, "--estimator", "pearson", "--flow", "dis", "--out", tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    assert_clean_error(run("discover.py", "--video", video, "--flow", "magic", "--out", tmp_path / "d"), "--flow")
    track_file = tmp_path / "tracks.npy"
    np.save(track_file, seq.tracks.tracks)
    proc = run(
        "discover.py", "--video", video, "--tracks", track_file, "--estimator", "pearson", "--out", tmp_path / "b"
    )
    assert proc.returncode == 0, proc.stderr
    given = load_result(tmp_path / "b" / "result.npz")
    assert given.tracks.shape[1] == min(seq.tracks.num_tracks, 300)
    # a user's track file gets the motion foreground too, and the run says so (issue 23: it was silently off)
    assert given.foreground.startswith("motion") and given.moving is not None and "foreground: motion" in proc.stdout


def test_discover_refuses_a_second_run_into_a_locked_folder(data_root, tmp_path):
    from infonet.cli import locked_out_dir

    out = tmp_path / "busy"
    with locked_out_dir(out):
        proc = run_here("discover.py", "--video", data_root / "seq_a", "--estimator", "pearson", "--out", out)
    assert_clean_error(proc, "in use by another run")
    assert not out.exists()  # the lock's folder goes with the lock


def test_only_this_projects_leftovers_go_from_the_output_folder(tmp_path):
    from datasets.files import replacing
    from infonet.cli import check_out_dir, locked_out_dir

    out = tmp_path / "o"
    out.mkdir()
    users = [".notes.tmp", ".tmpfile", ".my.notes.tmp"]  # a user's files that merely look temporary
    for name in users:
        (out / name).write_text("keep me")
    with pytest.raises(ValueError, match="already holds"):  # they are the user's: not ignored either
        check_out_dir(out, overwrite=False)
    with pytest.raises(KeyboardInterrupt), replacing(out / "result.npz") as tmp:
        left = tmp.name  # a run killed while writing leaves one (here the block removes it; put it back)
        raise KeyboardInterrupt
    (out / left).write_bytes(b"half")
    with locked_out_dir(out):
        pass
    assert sorted(p.name for p in out.iterdir()) == sorted(users)


def test_sigterm_leaves_complete_files_only(data_root, tmp_path):
    out = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    args = ["--video", SAMPLE_SEQUENCE, "--estimator", "pearson", "--out", out]
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "discover.py"), *map(str, args)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    writing = lambda: out.is_dir() and any(p.name.startswith(".options.") for p in out.iterdir())  # noqa: E731
    while not writing() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # the run writes its outputs aside (options.json first), then renames them all
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal")
    assert proc.returncode == 143 and "terminated (SIGTERM)" in stderr and "Traceback" not in stderr, stderr
    left = sorted(p.name for p in out.iterdir()) if out.exists() else []
    outputs = ["key_frame.png", "mi_matrix.png", "options.json", "overlay.mp4", "result.npz"]
    assert left in ([], outputs), left  # all or none (none here: stopped while writing), no temporary file


class Stop(Exception):
    """What the test's SIGTERM handler raises (the command lines' handler raises infonet.cli.Terminated)."""


def _raise_stop(signum, frame):
    raise Stop(signum)


@pytest.mark.parametrize("during", ["creating", "renaming"])
def test_a_signal_between_two_files_waits_for_the_last(tmp_path, monkeypatch, during):
    """A SIGTERM just after one temporary file was created (or renamed) and before the next took effect at
    once: the file created was left behind (seen once in the test above), or the outputs were half renamed."""
    from datasets import files

    targets = [tmp_path / "a.json", tmp_path / "b.npz"]
    targets[1].write_text("old")
    real = {"creating": os.open, "renaming": os.replace}[during]
    calls = []

    def signalling(*args, **kwargs):
        out = real(*args, **kwargs)
        if str(args[0]).startswith(str(tmp_path)):  # ours (os is everybody's)
            if not calls:
                signal.raise_signal(signal.SIGTERM)  # arrives between the first file and the second
            calls.append(args)
        return out

    monkeypatch.setattr(files.os, "open" if during == "creating" else "replace", signalling)
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        with pytest.raises(Stop):
            with files.replacing_all(targets) as tmps:
                for tmp in tmps:
                    tmp.write_text("new")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert len(calls) == 2  # both created (or both renamed) before the signal took effect
    expected = ["old"] if during == "creating" else ["new", "new"]
    assert [t.read_text() for t in targets if t.exists()] == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(t.name for t in targets if t.exists())


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
        run_here("pr_curves.py", "--estimators", ",", "--out", tmp_path / "o"), "--estimators names none"
    )
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
    missing = run("discover.py", "--video", tmp_path / "missing.mp4", "--out", out)  # a real process
    assert_clean_error(missing, "not found")
    assert missing.stderr.count("\n") == 1 and "usage:" not in missing.stderr  # one line, not the usage above it
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


@pytest.mark.parametrize(
    "module, args, needle",
    [
        ("features", ["--sequences", "seq_a,nope"], "no sequence named nope"),
        ("masks", ["--sequences", "nope"], "no sequence named nope"),
        ("camera", ["--data", "missing-folder"], "data folder not found"),
    ],
)
def test_the_readmes_benchmark_modules_end_bad_input_with_one_line(data_root, tmp_path, module, args, needle):
    data = [] if "--data" in args else ["--data", data_root]
    proc = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *map(str, data), *args],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert_clean_error(proc, needle)
    assert not list(tmp_path.iterdir())  # refused before writing anything


def test_named_sequences_keeps_the_order_given_and_names_what_is_missing(data_root):
    from benchmarks.common import named_sequences

    assert [p.name for p in named_sequences(data_root)] == ["seq_a", "seq_b"]
    assert [p.name for p in named_sequences(data_root, "seq_b,seq_a")] == ["seq_b", "seq_a"]
    with pytest.raises(ValueError, match=r"no sequence named zz in .*\(it has seq_a, seq_b\)"):
        named_sequences(data_root, "seq_a,zz")
