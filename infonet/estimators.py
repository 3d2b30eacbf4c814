"""Estimators by name, for command lines and the demo: ``get_estimator("ksg")``."""

from __future__ import annotations

from .baselines import GaussianEstimator, KSGEstimator, PearsonEstimator, kde, mine
from .estimate import InfoNetEstimator
from .interface import FunctionEstimator, MIEstimator

__all__ = ["get_estimator", "available_estimators", "INFONET_NAMES"]

INFONET_NAMES = ("infonet", "infonet-fast")  # the neural estimators (they take model=, device=, weights=)


def _infonet_fast(**kwargs) -> InfoNetEstimator:
    """InfoNet without the average over the copula square's symmetries: 8x cheaper estimates."""
    est = InfoNetEstimator(symmetries=1, **kwargs)
    est.name = "infonet-fast"
    return est


_FACTORIES = {
    "infonet": InfoNetEstimator,
    "infonet-fast": _infonet_fast,
    "ksg": KSGEstimator,
    "kde": lambda **kw: FunctionEstimator("kde", kde, **kw),
    "mine": lambda **kw: FunctionEstimator("mine", mine, **kw),
    "gaussian": GaussianEstimator,
    "pearson": PearsonEstimator,
}


def available_estimators() -> list[str]:
    return list(_FACTORIES)


def get_estimator(name: str, **kwargs) -> MIEstimator:
    """An estimator by its short name (see ``available_estimators()``); kwargs go to its constructor.

    Raises:
        ValueError: for an unknown name.
    """
    key = name.strip().lower()
    if key not in _FACTORIES:
        raise ValueError(f"unknown estimator {name!r}; choose from {', '.join(_FACTORIES)}")
    return _FACTORIES[key](**kwargs)
