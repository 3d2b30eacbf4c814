"""Is the dependence real? A permutation test of independence with any MI estimator.

Shapes: n samples, dx / dy dimensions a side, P permutations.

    test = infonet.independence_test(x, y)          # InfoNet, 999 permutations in batched passes
    test.p_value, test.mi                           # e.g. 0.001 and 0.21 nats

Under independence every pairing of x's samples with y's is as likely as the observed one, so the
MI of x against y with y's samples shuffled is a draw of the estimate's own null distribution: at
this n, with these margins, ties and all. The p-value is the share of the P shuffled estimates at
or above the observed one, counting the observed one itself: (1 + #{null >= mi}) / (1 + P). The test
is exact at any n, for any estimator whose estimate is a fixed function of the samples (InfoNet's
and KSG's tie-breaks are seeded), whatever the estimator's bias: the bias is in the null too. The
estimate itself (``mi``) is one of the same batched calls, the identity pairing.

A batched estimator makes the test cheap: InfoNet reads the P shuffled pairs in a few forward passes
(measured in docs/estimator.md, ``python -m benchmarks.independence``), where KSG pays its neighbour
search P times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .estimators import get_estimator
from .interface import MIEstimator, check_pair

__all__ = ["IndependenceTest", "independence_test"]

MAX_PERMUTATIONS = 1_000_000
BLOCK_VALUES = 1 << 22  # samples x dimensions of the shuffled pairs handed to one estimate_batch call


@dataclass(frozen=True)
class IndependenceTest:
    """The outcome of :func:`independence_test`.

    Attributes:
        mi: the estimate on the samples as paired (nats).
        p_value: (1 + #{null >= mi}) / (1 + P), in (0, 1]; at least 1 / (1 + P).
        null: (P,) the estimates with y's samples shuffled.
        estimator: the estimator's name.
    """

    mi: float
    p_value: float
    null: np.ndarray
    estimator: str

    def __str__(self) -> str:
        q95 = float(np.quantile(self.null, 0.95))
        return (
            f"{self.estimator}: MI {self.mi:.4g} nats, p = {self.p_value:.3g} "
            f"({len(self.null)} permutations; null 95 % quantile {q95:.4g})"
        )


def independence_test(
    x,
    y,
    *,
    estimator: MIEstimator | str = "infonet",
    permutations: int = 999,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> IndependenceTest:
    """Permutation test of "x and y are independent", with MI as the statistic.

    Args:
        x: (n,) or (n, dx) samples; y: (n,) or (n, dy), paired row by row (any real dtype).
        estimator: an estimator or its name (``infonet.get_estimator``): "infonet" (default,
            batched), "ksg", "gaussian", "pearson", ...
        permutations: P, how many shuffles of y's samples; the smallest p-value is 1 / (1 + P).
        seed: seed of the shuffles.
        progress: optional callback ``progress(done, total)`` over the P + 1 estimates.
    Returns:
        :class:`IndependenceTest`.
    Raises:
        ValueError: bad samples (as ``infonet.estimate_mi``), an unknown estimator, or a number of
            permutations outside [1, 1,000,000].
    """
    if isinstance(permutations, bool) or not (
        isinstance(permutations, (int, np.integer)) and 1 <= permutations <= MAX_PERMUTATIONS
    ):
        raise ValueError(f"permutations must be an integer in [1, {MAX_PERMUTATIONS:,}], got {permutations!r}")
    x, y = check_pair(x, y, keep_dtype=True)  # (n, dx), (n, dy)
    if isinstance(estimator, str):
        estimator = get_estimator(estimator)
    rng = np.random.default_rng(seed)
    n, total = len(x), permutations + 1
    block = max(1, BLOCK_VALUES // (n * (x.shape[1] + y.shape[1])))
    values = []
    for start in range(0, total, block):  # each block's shuffles drawn in turn: memory bounded at any P
        count = min(block, total - start)
        orders = [np.arange(n) if start + i == 0 else rng.permutation(n) for i in range(count)]  # first: the estimate
        values.append(_estimates(estimator, x, y[np.stack(orders)]))
        if progress is not None:
            progress(min(start + block, total), total)
    values = np.concatenate(values)
    mi, null = float(values[0]), values[1:]
    p_value = (1 + int(np.count_nonzero(null >= mi))) / total
    return IndependenceTest(mi=mi, p_value=p_value, null=null, estimator=getattr(estimator, "name", "estimator"))


def _estimates(estimator: MIEstimator, x: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """MI of x (n, dx) against each of ys (B, n, dy): one batched call where the estimator takes the shape."""
    B = len(ys)
    if x.shape[1] == ys.shape[2] == 1:  # scalars: every estimator's estimate_batch takes (B, n)
        return estimator.estimate_batch(np.broadcast_to(x[:, 0], (B, len(x))), ys[..., 0])
    if estimator.vectors:
        return estimator.estimate_batch(np.broadcast_to(x, (B, *x.shape)), ys)
    return np.array([estimator.estimate(x, y) for y in ys])
