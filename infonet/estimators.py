"""Estimators by name, for command lines and the demo: ``get_estimator("ksg")``.

Callers never branch on a name: an estimator says what it is through its capability attributes
(:class:`infonet.interface.MIEstimator`: ``neural`` for one that runs a network and takes
``device`` / ``weights``, ``batched`` for one with a vectorised ``estimate_batch``), and
``get_estimator`` accepts ``device`` and ``weights`` for every estimator, passing them on only
to the neural ones.
"""

from __future__ import annotations

from .baselines import GaussianEstimator, KSGEstimator, PearsonEstimator, SklearnKSGEstimator, kde, mine
from .estimate import InfoNetEstimator
from .interface import FunctionEstimator, MIEstimator

__all__ = ["get_estimator", "available_estimators", "INFONET_NAMES"]


def _infonet_sym8(**kwargs) -> InfoNetEstimator:
    """InfoNet averaged over the 8 symmetries of the copula square: 8x the compute, a little more accurate."""
    est = InfoNetEstimator(symmetries=8, **kwargs)
    est.name = "infonet-sym8"
    return est


_FACTORIES = {
    "infonet": InfoNetEstimator,
    "infonet-sym8": _infonet_sym8,
    "ksg": KSGEstimator,
    "ksg-sklearn": SklearnKSGEstimator,
    "kde": lambda **kw: FunctionEstimator("kde", kde, **kw),
    "mine": lambda **kw: FunctionEstimator("mine", mine, **kw),
    "gaussian": GaussianEstimator,
    "pearson": PearsonEstimator,
}
NEURAL = {"infonet", "infonet-sym8"}  # the factories that take model=, device=, weights=
INFONET_NAMES = tuple(sorted(NEURAL))  # kept for callers that list the neural estimators


def available_estimators() -> list[str]:
    return list(_FACTORIES)


def get_estimator(name: str, *, device=None, weights: str | None = None, model=None, **kwargs) -> MIEstimator:
    """An estimator by its short name (see ``available_estimators()``).

    Args:
        device, weights, model: used by neural estimators (``est.neural``), ignored by the others,
            so callers can pass them for whatever the user chose.
        kwargs: go to the estimator's constructor (e.g. ``k=`` for KSG).
    Raises:
        ValueError: for an unknown name.
    """
    key = name.strip().lower()
    if key not in _FACTORIES:
        raise ValueError(f"unknown estimator {name!r}; choose from {', '.join(_FACTORIES)}")
    if key in NEURAL:
        kwargs.update(device=device, weights=weights or None, model=model)
    return _FACTORIES[key](**kwargs)
