"""The two inputs shipped with the toolkit, found with :mod:`importlib.resources` (package data of
``datasets``, so an installed wheel carries them):

- ``SAMPLE_SEQUENCE``: a generated PointOdyssey-layout sequence with ground truth (40 frames,
  270 x 480, 600 tracks), made by ``scripts/make_sequence.py`` as its docstring says;
- ``SAMPLE_VIDEO``: 44 frames of real footage (bikes.mp4; its source and licence in bikes.txt).
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

__all__ = ["SAMPLE_SEQUENCE", "SAMPLE_VIDEO"]

_HERE = Path(os.fspath(files(__name__)))
SAMPLE_SEQUENCE: Path = _HERE / "sample"
SAMPLE_VIDEO: Path = _HERE / "bikes.mp4"
