"""Thread counts of torch, OpenCV and the BLAS, set in one place so they do not oversubscribe the cores.

    from infonet import threads
    threads.configure()      # suggested(): the cores this process may use, less those other work keeps busy
    threads.configure(4)     # or a number (the scripts' --threads, the demo's --threads)

Each library starts its own pool, one thread per core by default, and their threads spin while
they wait: on a machine whose cores other jobs already keep busy, that costs more than it gives.
``configure`` sets torch's intra-op threads, OpenCV's, and the BLAS / OpenMP pools already loaded
(through ``threadpoolctl`` when it is installed), and the environment variables that pools started
later read. Library code never calls it; the scripts and the demo do, once, at start.
"""

from __future__ import annotations

import os

__all__ = ["ENV_VARS", "configure", "suggested"]

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


def suggested() -> int:
    """Threads that suit the machine now: ``$OMP_NUM_THREADS`` when set, else the cores this
    process may use less the ones that other processes keep busy (the 1-minute load average,
    rounded), at least 1."""
    given = os.environ.get("OMP_NUM_THREADS", "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given)
    cores = _cores()
    try:
        busy = round(os.getloadavg()[0])
    except (AttributeError, OSError):  # no load average on this platform
        busy = 0
    return max(1, min(cores, cores - busy))


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
