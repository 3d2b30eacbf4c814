"""The one interface every mutual-information estimator of the project implements.

An estimator takes two paired sample sequences and returns MI in nats:

    estimate(x, y) -> float          x: (n,) or (n, dx), y: (n,) or (n, dy)
    estimate_batch(x, y) -> (B,)     x, y: (B, n): B independent 1-D pairs

The neural estimator, the classical baselines and anything a user writes plug into the
segmentation pipeline and the benchmarks through this class alone. This module imports
nothing else of the project.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

import numpy as np

__all__ = ["MIEstimator", "FunctionEstimator", "check_pair", "check_batch"]

MIN_SAMPLES = 8


def _as_float_array(a, name: str) -> np.ndarray:
    try:
        arr = np.asarray(a)
        if not np.iscomplexobj(arr):  # a cast of complex values would drop their imaginary part
            return arr.astype(np.float64, copy=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be numeric, got {type(a).__name__}: {err}") from None
    raise ValueError(
        f"{name} is complex ({arr.dtype}); MI needs real samples: pass the real part, the magnitude, "
        "or the real and imaginary parts as two dimensions"
    )


def check_pair(x, y, *, min_samples: int = MIN_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """Validates one pair of sample sequences and returns them as float64 (n, d) arrays.

    Raises:
        ValueError: naming the problem, for wrong dimensions, mismatched lengths, fewer than
            ``min_samples`` samples, or non-finite values.
    """
    x, y = _as_float_array(x, "x"), _as_float_array(y, "y")
    for name, a in (("x", x), ("y", y)):
        if a.ndim not in (1, 2):
            raise ValueError(f"{name} must have shape (n,) or (n, d); got shape {a.shape}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same number of samples; got {x.shape[0]} and {y.shape[0]}")
    n = x.shape[0]
    if n < min_samples:
        raise ValueError(f"need at least {min_samples} samples to estimate MI; got {n}")
    for name, a in (("x", x), ("y", y)):
        if a.ndim == 2 and a.shape[1] == 0:
            raise ValueError(f"{name} has zero dimensions (shape {a.shape})")
        bad = ~np.isfinite(a)
        if bad.any():
            raise ValueError(f"{name} contains {int(bad.sum())} NaN or infinite value(s)")
    return x.reshape(n, -1), y.reshape(n, -1)


def check_batch(x, y, *, min_samples: int = MIN_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """Validates a batch of 1-D pairs, x and y of shape (B, n); returns float64 arrays.

    Raises:
        ValueError: naming the problem (shape, length, too few samples, NaN/inf).
    """
    x, y = _as_float_array(x, "x"), _as_float_array(y, "y")
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(f"x and y must have shape (B, n); got {x.shape} and {y.shape}")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape; got {x.shape} and {y.shape}")
    if x.shape[1] < min_samples:
        raise ValueError(f"need at least {min_samples} samples per pair; got {x.shape[1]}")
    for name, a in (("x", x), ("y", y)):
        bad = ~np.isfinite(a)
        if bad.any():
            rows = np.flatnonzero(bad.any(axis=1))
            raise ValueError(
                f"{name} contains {int(bad.sum())} NaN or infinite value(s) in {len(rows)} pair(s), "
                f"first at pair {int(rows[0])}"
            )
    return x, y


class MIEstimator(abc.ABC):
    """Base class of all MI estimators.

    Subclasses implement :meth:`estimate`; :meth:`estimate_batch` loops over it unless a
    subclass has a faster batched path. ``name`` is the short name used on the command line.

    Capabilities, so that callers never branch on a name: ``neural`` (runs a network: takes a
    device and weights, worth a GPU), ``batched`` (``estimate_batch`` is vectorised rather than a
    loop over pairs).
    """

    name: str = "estimator"
    neural: bool = False
    batched: bool = False

    @abc.abstractmethod
    def estimate(self, x, y) -> float:
        """MI in nats between paired samples x (n,) or (n, dx) and y (n,) or (n, dy)."""

    def estimate_batch(self, x, y, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """MI of B independent 1-D pairs: x, y of shape (B, n) -> (B,).

        Args:
            progress: optional callback ``progress(done, total)`` called as pairs finish.
        """
        x, y = check_batch(x, y)
        out = np.empty(len(x))
        for i in range(len(x)):
            out[i] = self.estimate(x[i], y[i])
            if progress is not None:
                progress(i + 1, len(x))
        return out

    def pairwise(self, series, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """MI between every two rows of ``series`` (N, T) -> symmetric (N, N), 0 on the diagonal.

        The default builds all N(N-1)/2 pairs and runs :meth:`estimate_batch` on them in chunks;
        estimators with a faster all-pairs path override it.
        """
        series = np.asarray(series, dtype=np.float64)
        if series.ndim != 2:
            raise ValueError(f"series must have shape (N, T), got {series.shape}")
        check_batch(series, series)
        n = len(series)
        rows, cols = np.triu_indices(n, k=1)
        values = np.empty(len(rows))
        chunk = 4096
        for start in range(0, len(rows), chunk):
            i, j = rows[start : start + chunk], cols[start : start + chunk]
            values[start : start + chunk] = self.estimate_batch(series[i], series[j])
            if progress is not None:
                progress(min(start + chunk, len(rows)), len(rows))
        out = np.zeros((n, n))
        out[rows, cols] = values
        out[cols, rows] = values
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class FunctionEstimator(MIEstimator):
    """Wraps a plain function ``fn(x, y, **kwargs) -> float`` as an estimator."""

    def __init__(self, name: str, fn: Callable[..., float], **kwargs):
        self.name = name
        self.fn = fn
        self.kwargs = kwargs

    def estimate(self, x, y) -> float:
        return float(self.fn(x, y, **self.kwargs))
