"""Thread counts of torch, OpenCV and the BLAS, set in one place so they do not oversubscribe the cores.

    from infonet import threads
    threads.configure()      # suggested(): the cores this process may use, less those other work keeps busy now
    threads.configure(4)     # or a number (the scripts' --threads, the demo's --threads)

Each library starts its own pool, one thread per core by default, and their threads spin while
they wait: on a machine whose cores other jobs already keep busy, that costs more than it gives.
``configure`` sets torch's intra-op threads, OpenCV's, and the BLAS / OpenMP pools already loaded
(through ``threadpoolctl`` when it is installed), and the environment variables that pools started
later read. Library code never calls it; the scripts and the demo do, once, at start.

:func:`on_cores` is how library code spends those threads on a loop of network passes: one pass
per core, each on one thread, rather than every pass split across all of them.
"""

from __future__ import annotations

import collections
import itertools
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["ENV_VARS", "busy_cores", "configure", "on_cores", "suggested"]

Item, Result = TypeVar("Item"), TypeVar("Result")

ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may run on (a container's share)
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _cpu_times() -> tuple[float, float, int] | None:
    """(busy, total) jiffies of all CPUs and their count, from Linux's /proc/stat; None elsewhere."""
    try:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    fields = [float(v) for v in lines[0].split()[1:]]  # user nice system idle iowait irq softirq steal ...
    total, idle = sum(fields[:8]), fields[3] + fields[4]
    return total - idle, total, sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())


def busy_cores(interval: float = 0.2) -> float | None:
    """Cores other work keeps busy now, measured over ``interval`` seconds (Linux); None where the
    system does not say. The 1-minute load average lags: right after another job ends it still reads
    about 1, and would cost an idle 2-core machine half its speed."""
    first = _cpu_times()
    if first is None:
        return None
    time.sleep(interval)
    second = _cpu_times()
    elapsed = second[1] - first[1]
    return (second[0] - first[0]) / elapsed * second[2] if elapsed > 0 else None


def suggested() -> int:
    """Threads that suit the machine now: ``$OMP_NUM_THREADS`` when set, else the cores this
    process may use less the ones that other processes keep busy (:func:`busy_cores`, or the
    1-minute load average where the system does not say), rounded, at least 1."""
    given = os.environ.get("OMP_NUM_THREADS", "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given)
    cores = _cores()
    busy = busy_cores()
    if busy is None:
        try:
            busy = os.getloadavg()[0]
        except (AttributeError, OSError):  # no load average on this platform
            busy = 0
    return max(1, min(cores, cores - round(busy)))


def configure(n: int | None = None) -> int:
    """Sets the thread pools of torch, OpenCV and the BLAS to ``n`` threads.

    Args:
        n: threads; None or 0: :func:`suggested`.
    Returns:
        The number of threads set.
    Raises:
        ValueError: ``n`` is negative or not a whole number.
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise ValueError(f"threads must be a whole number >= 0 (0: suit the machine), got {n!r}")
    n = n or suggested()
    for var in ENV_VARS:  # pools started after this call (a library imported later) read these
        os.environ[var] = str(n)
    import torch

    torch.set_num_threads(n)
    try:
        import cv2

        cv2.setNumThreads(n)
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)  # BLAS and OpenMP pools loaded already (numpy's, scipy's, torch's libgomp)
    except ImportError:
        pass
    return n


def on_cores(work: Callable[[Item], Result], items: Iterable[Item], device=None) -> Iterator[Result]:
    """``work(item)`` for each item, yielded in order; on a CPU the items run side by side, one per
    torch thread, each on a single thread (torch's thread count is restored afterwards).

    Why. A pass of the networks over a chunk of pairs is many small products and element-wise
    steps; split across cores, each waits on the other after every step. Given one chunk each, the
    cores never wait (measured: the MI stage of 300 tracks x 50 frames, 2 cores, 3.26 -> 2.39 s,
    identical results). On a GPU, with one thread or one item, the items run one after the other.

    Items are drawn from ``items`` as workers free up (at most two per worker wait), so a long
    iterator of batches is never held whole. The caller's grad mode holds in the workers (torch keeps
    it per thread). ``work`` must not depend on the order in which items run, nor change what other
    items read.
    """
    import torch

    items = iter(items)
    head = list(itertools.islice(items, 2))
    workers = torch.get_num_threads()
    if workers <= 1 or len(head) < 2 or (device is not None and torch.device(device).type != "cpu"):
        yield from map(work, itertools.chain(head, items))
        return
    grad = torch.is_grad_enabled()

    def run(item: Item) -> Result:
        with torch.set_grad_enabled(grad):
            return work(item)

    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="infonet") as pool:
            pending: collections.deque = collections.deque()
            try:
                for item in itertools.chain(head, items):
                    pending.append(pool.submit(run, item))
                    if len(pending) >= 2 * workers:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:  # a failed item, or a caller that stopped early: what has not started never starts
                for future in pending:
                    future.cancel()
    finally:
        torch.set_num_threads(workers)
