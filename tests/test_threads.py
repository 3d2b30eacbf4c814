"""Every script's --threads and --verbose (infonet.cli.parse_options) and the one place that sets
the thread pools (infonet.threads)."""

import json
from dataclasses import dataclass, field

import cv2
import pytest
import torch

from infonet import threads
from infonet.cli import parse_options


@dataclass
class Options:
    out: str = field(default="runs/x", metadata={"help": "output folder"})
    size: int = 3


@dataclass
class OwnThreads:
    threads: int = 7


@pytest.fixture
def restore_threads(monkeypatch):
    for var in threads.ENV_VARS:  # configure() sets them; monkeypatch puts the old values back
        monkeypatch.setenv(var, "")
    before = torch.get_num_threads(), cv2.getNumThreads()
    yield
    torch.set_num_threads(before[0])
    cv2.setNumThreads(before[1])


def test_options_are_printed_only_with_verbose(capsys, restore_threads):
    assert parse_options(Options, ["--size", "5", "--threads", "1"]) == Options(size=5)
    assert capsys.readouterr().err == ""
    parse_options(Options, ["--size", "5", "--threads", "1", "--verbose"])
    assert json.loads(capsys.readouterr().err) == {"out": "runs/x", "size": 5, "threads": 1}


def test_threads_flag_sets_torch_and_opencv(restore_threads):
    parse_options(Options, ["--threads", "1"])
    assert torch.get_num_threads() == 1 and cv2.getNumThreads() == 1
    parse_options(Options, ["--threads", "2"])
    assert torch.get_num_threads() == 2 and cv2.getNumThreads() == 2


def test_bad_threads_is_one_line(capsys):
    with pytest.raises(SystemExit):
        parse_options(Options, ["--threads", "-2"])
    assert "--threads must be >= 0" in capsys.readouterr().err
    with pytest.raises(ValueError, match="threads must be a whole number >= 0"):
        threads.configure(-1)
    with pytest.raises(ValueError, match="threads must be a whole number"):
        threads.configure(1.5)


def test_a_script_with_its_own_threads_option_keeps_it(restore_threads):
    before = torch.get_num_threads()
    assert parse_options(OwnThreads, ["--threads", "3"]).threads == 3
    assert torch.get_num_threads() == before  # the script's own option, not the shared flag


@pytest.mark.parametrize(("load", "omp", "expected"), [(0.1, "", 4), (1.6, "", 2), (9.0, "", 1), (9.0, "3", 3)])
def test_suggested_leaves_the_busy_cores(monkeypatch, load, omp, expected):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setenv("OMP_NUM_THREADS", omp)
    assert threads.suggested() == expected
