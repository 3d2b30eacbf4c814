"""Import of the toolkit's ``datasets`` package, guarded against a namesake on the path."""

from __future__ import annotations

import importlib

__all__ = ["datasets", "require_toolkit_datasets"]


def require_toolkit_datasets():
    """Returns this toolkit's ``datasets`` module.

    The name ``datasets`` is also taken on PyPI (Hugging Face); importing that one by accident
    would fail later with a confusing AttributeError, so check the marker the toolkit sets.

    Raises:
        ImportError: ``datasets`` is missing or is not this toolkit's package.
    """
    datasets = importlib.import_module("datasets")
    if not getattr(datasets, "__infonet_toolkit__", False):
        where = getattr(datasets, "__file__", None) or getattr(datasets, "__path__", "?")
        raise ImportError(
            f"the 'datasets' package found at {where} is not this toolkit's (Hugging Face datasets?); "
            "run from the repository's virtual environment, or from the repository root so that its "
            "own 'datasets' package comes first on the path"
        )
    return datasets


datasets = require_toolkit_datasets()  # segmentation reads its inputs through this toolkit's package
