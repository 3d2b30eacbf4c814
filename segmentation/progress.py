"""Progress bars for the command-line tools: a tqdm bar behind a ``progress(done, total)`` callback."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from tqdm.auto import tqdm

__all__ = ["progress_bar", "stage_bars"]


@contextlib.contextmanager
def progress_bar(desc: str, unit: str = "it", **kwargs) -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar driven by the library's callbacks ``progress(done, total)``.

    with progress_bar("MI", unit="pair") as progress:
        track_mi(tracks, estimator, progress=progress)
    """
    bar = tqdm(desc=desc, unit=unit, total=None, dynamic_ncols=True, **kwargs)

    def update(done: int, total: int) -> None:
        _advance(bar, done, total)

    try:
        yield update
    finally:
        bar.close()


@contextlib.contextmanager
def stage_bars(units: dict[str, str]) -> Iterator[Callable[[str, int, int], None]]:
    """One tqdm bar per stage, driven by ``progress(stage, done, total)`` (``segmentation.discover_video``).

    Args:
        units: stage name -> unit of its bar; a bar opens when its stage first reports.
    """
    bars: dict[str, tqdm] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            for bar in bars.values():
                bar.close()
            bars[stage] = tqdm(desc=stage, unit=units.get(stage, "it"), total=total, dynamic_ncols=True)
        _advance(bars[stage], done, total)

    try:
        yield update
    finally:
        for bar in bars.values():
            bar.close()


def _advance(bar: tqdm, done: int, total: int) -> None:
    """Moves ``bar`` to ``done`` of ``total`` (the total may change as work is discovered)."""
    if bar.total != total:
        bar.total = total
    bar.update(done - bar.n)
