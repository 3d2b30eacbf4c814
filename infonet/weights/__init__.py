"""The weights shipped inside the package, found with :mod:`importlib.resources`.

    from infonet.weights import packaged
    packaged("infonet.pt")          # the 1-D network (infonet.load_pretrained's default)
    packaged("infonet_vector.pt")   # the multivariate networks, a domain-routed pair (infonet.vector_estimate's default)

The files are package data of ``infonet`` (``pyproject.toml``), so an installed wheel carries
them and needs no checkout; ``$INFONET_WEIGHTS`` and ``$INFONET_VECTOR_WEIGHTS`` override them
(read by the loaders, not here).
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

__all__ = ["packaged", "weights_file"]


def packaged(name: str) -> Path:
    """The path of the weights file ``name`` shipped in ``infonet/weights``.

    Args:
        name: a file name such as ``"infonet.pt"`` (no folders).
    Returns:
        Its path, whether or not the file is there: the loaders say what to do when it is missing.
    Raises:
        ValueError: ``name`` is not a plain file name.
    """
    if not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"weights name must be a plain file name such as 'infonet.pt', got {name!r}")
    return Path(os.fspath(files(__name__) / name))


def weights_file(path, env: str, name: str, train: str) -> str:
    """The checkpoint a loader reads: ``path``, else ``$env``, else the packaged ``name``; resolved.

    Args:
        train: the command that trains such weights, for the message when there are none.
    Raises:
        FileNotFoundError: no ``path`` given and neither ``$env`` nor the packaged file is there.
    """
    if path is None:
        path = os.environ.get(env) or packaged(name)
        if not Path(path).is_file():
            raise FileNotFoundError(
                f"no InfoNet weights at {path}. Train them with `{train}` and pass the checkpoint's path, or set {env}."
            )
    return str(Path(path).resolve())
