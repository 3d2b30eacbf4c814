"""Every script's --threads and --verbose (infonet.cli.parse_options) and the one place that sets
the thread pools (infonet.threads)."""

import json
import os
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
    assert "--threads must be in [0, " in capsys.readouterr().err
    with pytest.raises(SystemExit):  # far more than the machine could use: refused, not a thread per request
        parse_options(Options, ["--threads", "99999"])
    err = capsys.readouterr().err
    assert "--threads must be in [0, " in err and err.count("\n") == 1
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
    monkeypatch.setattr(threads, "_cpu_times", lambda: None)  # no /proc/stat: the load average decides
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setenv("OMP_NUM_THREADS", omp)
    assert threads.suggested() == expected


@pytest.mark.parametrize(("busy_share", "expected"), [(0.0, 4), (0.5, 2), (1.0, 1)])
def test_suggested_reads_what_is_busy_now_not_the_lagging_load(monkeypatch, busy_share, expected):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (4.0, 4.0, 4.0))  # a job that just ended
    monkeypatch.setattr(threads.time, "sleep", lambda s: None)
    samples = iter([(0.0, 0.0, 4), (400.0 * busy_share, 400.0, 4)])  # (busy, total) jiffies, 4 CPUs
    monkeypatch.setattr(threads, "_cpu_times", lambda: next(samples))
    monkeypatch.setenv("OMP_NUM_THREADS", "")
    assert threads.suggested() == expected


def test_busy_cores_on_this_machine_is_a_share_of_its_cores():
    busy = threads.busy_cores(interval=0.05)
    assert busy is None or 0 <= busy <= (os.cpu_count() or 1) + 1e-6


def test_on_cores_runs_each_item_once_in_order_on_single_threaded_workers(restore_threads):
    torch.set_num_threads(2)
    seen = []

    def work(item):
        seen.append((item, torch.get_num_threads(), torch.is_grad_enabled()))
        return item * item

    with torch.no_grad():
        assert list(threads.on_cores(work, range(7))) == [i * i for i in range(7)]
    assert sorted(item for item, _, _ in seen) == list(range(7))
    assert {(count, grad) for _, count, grad in seen} == {(1, False)}  # one thread each, the caller's grad mode
    assert torch.get_num_threads() == 2  # restored


def test_on_cores_restores_the_threads_when_an_item_fails(restore_threads):
    torch.set_num_threads(2)

    def work(item):
        if item == 3:
            raise ValueError("item 3 is bad")
        return item

    with pytest.raises(ValueError, match="item 3 is bad"):
        list(threads.on_cores(work, range(6)))
    assert torch.get_num_threads() == 2


def test_on_cores_draws_items_as_workers_free_up_and_stops_with_its_caller(restore_threads):
    torch.set_num_threads(2)
    drawn, started = [], []

    def items():
        for i in range(1000):
            drawn.append(i)
            yield i

    results = threads.on_cores(lambda item: started.append(item) or item, items())
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    assert len(drawn) <= 3 + 2 * 2  # never the whole iterator: at most two waiting per worker
    results.close()  # the caller stops early: nothing more starts, the thread count comes back
    assert len(started) <= len(drawn) < 1000 and torch.get_num_threads() == 2


def test_on_cores_runs_in_turn_with_one_thread_or_off_the_cpu(restore_threads):
    import threading

    where = []
    work = lambda item: where.append(threading.current_thread()) or item  # noqa: E731
    torch.set_num_threads(2)
    assert list(threads.on_cores(work, range(3), device="meta")) == [0, 1, 2]
    torch.set_num_threads(1)
    assert list(threads.on_cores(work, range(3), device="cpu")) == [0, 1, 2]
    assert set(where) == {threading.main_thread()}
