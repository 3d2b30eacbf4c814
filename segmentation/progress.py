"""Progress bars for the command-line tools: a tqdm bar behind a ``progress(done, total)`` callback."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from tqdm.auto import tqdm

__all__ = ["progress_bar"]


@contextlib.contextmanager
def progress_bar(desc: str, unit: str = "it", **kwargs) -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar driven by the library's callbacks ``progress(done, total)``.

    with progress_bar("MI", unit="pair") as progress:
        pairwise_mi(tracks, estimator, progress=progress)
    """
    bar = tqdm(desc=desc, unit=unit, total=None, dynamic_ncols=True, **kwargs)

    def update(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        bar.close()
