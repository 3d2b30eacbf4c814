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

__all__ = [
    "MIEstimator",
    "FunctionEstimator",
    "check_pair",
    "check_batch",
    "check_pair_shapes",
    "check_batch_shapes",
    "check_finite",
    "as_real_array",
    "STATISTICS",
    "check_statistic",
    "pick_statistic",
    "read_statistic",
]

MIN_SAMPLES = 8
STATISTICS = ("estimate", "lower", "upper")  # a pair's estimate, or an end of its 90 % interval


def as_real_array(a, name: str, keep_dtype: bool) -> np.ndarray:
    """``a`` as a NumPy array of real numbers: float64, or with ``keep_dtype`` its own real dtype (exact ranks)."""
    if hasattr(a, "detach") and hasattr(a, "dtype"):  # a torch tensor: off the graph and the device first
        a = a.detach().cpu()
        if a.is_floating_point() and a.element_size() < 4:  # bfloat16 / float16: NumPy has no bfloat16
            a = a.float()
        a = a.numpy()
    if isinstance(a, np.ma.MaskedArray):
        masked = int(np.ma.count_masked(a))
        if masked:
            raise ValueError(
                f"{name} is a masked array with {masked} masked value(s); MI ignores no mask: drop those "
                "samples from x and y (the same rows of both) or fill them, then pass plain arrays"
            )
        a = a.data
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError) as err:
        if "inhomogeneous" in str(err):  # NumPy's word for a list of rows of unequal lengths
            raise ValueError(
                f"{name} holds rows of unequal lengths; pass one array of equal-length rows (B pairs of n "
                "samples are (B, n): pairs of other lengths go in calls of their own)"
            ) from None
        raise ValueError(f"{name} must be numeric, got {type(a).__name__}: {err}") from None
    if np.iscomplexobj(arr):  # a cast of complex values would drop their imaginary part
        raise ValueError(
            f"{name} is complex ({arr.dtype}); MI needs real samples: pass the real part, the magnitude, "
            "or the real and imaginary parts as two dimensions"
        )
    if keep_dtype and arr.dtype.kind in "biuf":
        return arr
    try:
        return arr.astype(np.float64, copy=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be numeric, got {type(a).__name__} of {arr.dtype}: {err}") from None


def check_statistic(statistic: str) -> None:
    """Raises ValueError unless ``statistic`` is one of :data:`STATISTICS`."""
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {', '.join(STATISTICS)}; got {statistic!r}")


def read_statistic(estimator, asked: str) -> str:
    """What of each pair's MI ``estimator`` gives when ``asked`` for a statistic: ``asked`` if it has
    intervals (``MIEstimator.intervals``), else its estimate."""
    check_statistic(asked)
    return asked if getattr(estimator, "intervals", False) else "estimate"


def pick_statistic(mi, quantiles, statistic: str):
    """The estimate ``mi`` (P,), or the lower / upper end of the (P, Q) ``quantiles`` (5 % ... 95 %)."""
    check_statistic(statistic)
    return {"estimate": mi, "lower": quantiles[:, 0], "upper": quantiles[:, -1]}[statistic]


def check_finite(a, name: str, rows: bool = False) -> None:
    """Refuses NaN or infinity in a NumPy array or a torch tensor (any device, graph untouched).

    Args:
        rows: ``a`` is (B, n) pairs: the message names how many pairs and the first one.
    Raises:
        ValueError: naming how many values are bad (and where, with ``rows``).
    """
    if hasattr(a, "detach"):  # a torch tensor
        bad = ~a.detach().isfinite() if a.is_floating_point() else None
        bad = None if bad is None else bad.cpu().numpy()
    else:
        bad = ~np.isfinite(a) if a.dtype.kind == "f" else None
    if bad is None or not bad.any():
        return
    where = ""
    if rows:
        hit = np.flatnonzero(bad.reshape(len(bad), -1).any(axis=1))
        where = f" in {len(hit)} pair(s), first at pair {int(hit[0])}"
    raise ValueError(f"{name} contains {int(bad.sum())} NaN or infinite value(s){where}")


def check_pair_shapes(x_shape, y_shape, *, min_samples: int = MIN_SAMPLES) -> None:
    """One pair: x (n,) or (n, dx) and y (n,) or (n, dy). Raises ValueError naming the problem."""
    for name, shape in (("x", tuple(x_shape)), ("y", tuple(y_shape))):
        if len(shape) not in (1, 2):
            raise ValueError(f"{name} must have shape (n,) or (n, d); got shape {shape}")
    if x_shape[0] != y_shape[0]:
        raise ValueError(f"x and y must have the same number of samples; got {x_shape[0]} and {y_shape[0]}")
    if x_shape[0] < min_samples:
        raise ValueError(f"need at least {min_samples} samples to estimate MI; got {x_shape[0]}")
    for name, shape in (("x", tuple(x_shape)), ("y", tuple(y_shape))):
        if len(shape) == 2 and shape[1] == 0:
            raise ValueError(f"{name} has zero dimensions (shape {shape})")


def check_batch_shapes(x_shape, y_shape, *, min_samples: int = MIN_SAMPLES) -> None:
    """B pairs: x and y both (B, n) with B >= 1. Raises ValueError naming the problem."""
    x_shape, y_shape = tuple(x_shape), tuple(y_shape)
    if len(x_shape) != 2 or len(y_shape) != 2:
        raise ValueError(f"x and y must have shape (B, n); got {x_shape} and {y_shape}")
    if x_shape != y_shape:
        raise ValueError(f"x and y must have the same shape; got {x_shape} and {y_shape}")
    if x_shape[0] == 0:
        raise ValueError(f"x and y hold no pairs (B = 0, shape {x_shape})")
    if x_shape[1] < min_samples:
        raise ValueError(f"need at least {min_samples} samples per pair; got {x_shape[1]}")


def check_pair(x, y, *, min_samples: int = MIN_SAMPLES, keep_dtype: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Validates one pair of sample sequences and returns them as (n, d) arrays.

    Accepts anything array-like of real numbers: lists, NumPy arrays (a masked array only with
    nothing masked), torch tensors on any device, with or without gradients, in any precision.

    Args:
        keep_dtype: return each in its own real dtype (bool, integers, floats), so that ranks
            can be exact; default float64.
    Raises:
        ValueError: naming the problem, for wrong dimensions, mismatched lengths, fewer than
            ``min_samples`` samples, non-finite, complex, non-numeric or masked values.
    """
    x, y = as_real_array(x, "x", keep_dtype), as_real_array(y, "y", keep_dtype)
    check_pair_shapes(x.shape, y.shape, min_samples=min_samples)
    check_finite(x, "x")
    check_finite(y, "y")
    n = x.shape[0]
    return x.reshape(n, -1), y.reshape(n, -1)


def check_batch(x, y, *, min_samples: int = MIN_SAMPLES, keep_dtype: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Validates a batch of 1-D pairs, x and y of shape (B, n); returns arrays (float64 unless ``keep_dtype``).

    Raises:
        ValueError: naming the problem (shape, no pairs, too few samples, NaN/inf, ...).
    """
    x, y = as_real_array(x, "x", keep_dtype), as_real_array(y, "y", keep_dtype)
    check_batch_shapes(x.shape, y.shape, min_samples=min_samples)
    check_finite(x, "x", rows=True)
    check_finite(y, "y", rows=True)
    return x, y


class MIEstimator(abc.ABC):
    """Base class of all MI estimators.

    Subclasses implement :meth:`estimate`; :meth:`estimate_batch` loops over it unless a
    subclass has a faster batched path. ``name`` is the short name used on the command line.

    Capabilities, so that callers never branch on a name: ``neural`` (runs a network: takes a
    device and weights, worth a GPU), ``batched`` (``estimate_batch`` is vectorised rather than a
    loop over pairs), ``intervals`` (``estimate_interval_batch`` gives each estimate's 90 %
    interval, and ``pairwise(series, statistic=...)`` either end of it: see :data:`STATISTICS`),
    ``vectors`` (``estimate_batch`` also takes pairs of vectors, (B, n, dx) and (B, n, dy)).
    """

    name: str = "estimator"
    neural: bool = False
    batched: bool = False
    intervals: bool = False
    vectors: bool = False

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
        series = as_real_array(series, "series", keep_dtype=False)
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
