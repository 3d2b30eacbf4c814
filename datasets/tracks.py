"""Point tracks: the :class:`TrackSet` container, the validity rules, and loading user track files.

Shapes: T frames, N tracks, H x W image. Positions are pixel (x, y) with the centre of pixel
(row i, column j) at (x, y) = (j, i), so ``np.round`` of a position gives the pixel it falls in.

Every track file goes through the same two steps, shared with the PointOdyssey loader:

1. :func:`parse_annotations` casts the arrays of a file (float16 / float64 / int codes) to
   positions float32 (T, N, 2), ``valids`` bool (T, N) and ``visibs`` bool (T, N). It reads
   PointOdyssey v1.2 (``trajs_2d``, ``valids``, ``visibs``), the older single ``visibilities``
   code array (0 occluded or out of view, 1 visible, 2 behind the camera or too far:
   valids = code < 2, visibs = code == 1) and plain arrays (``tracks``, optional ``visibility``).
2. :func:`valid_track_mask` keeps a track only if it is usable in *every* frame, the rule of the
   InfoNet paper (a trajectory is a time series of samples, so a gap breaks it). A track is
   dropped, with the first reason that applies counted in ``TrackSet.dropped``:

   - ``"invalid"``: the file marks it invalid (``valids`` False) in some frame;
   - ``"non_finite"``: NaN or infinite coordinate in some frame;
   - ``"out_of_bounds"``: a coordinate farther than ``BOUNDS_MARGIN`` image sizes outside the
     image (x outside [-3 W, 4 W] or y outside [-3 H, 4 H]) in some frame. Points that merely
     leave the view stay; the coordinates of points behind the camera blow up and are caught;
   - ``"not_visible"``: only with ``visible_only``, not visible in some frame.
"""

from __future__ import annotations

import logging
import math
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = [
    "BOUNDS_MARGIN",
    "DataError",
    "TrackSet",
    "load_tracks",
    "parse_annotations",
    "read_arrays",
    "subsample_indices",
    "valid_track_mask",
]

logger = logging.getLogger(__name__)

BOUNDS_MARGIN = 3.0  # a coordinate may lie this many image sizes outside the image before it is "insane"
DROP_REASONS = ("invalid", "non_finite", "out_of_bounds", "not_visible")


class DataError(ValueError):
    """A data file or folder that cannot be used; the message names the problem and the file."""


@dataclass
class TrackSet:
    """N point tracks over T frames.

    Attributes:
        tracks: (T, N, 2) float32 pixel positions (x, y).
        visibility: (T, N) bool, True where the point is seen.
        image_size: (H, W) of the frames the tracks live in.
        object_ids: (N,) int64 ground-truth object per track: the raw mask palette index
            (0 background, k asset k - 1), -1 unknown; None without ground truth.
        ambiguous: (N,) bool, True where the ground-truth vote was unclear (mask edge, split
            vote, never visible); None without ground truth.
        dropped: reason -> number of tracks dropped when loading (see the module docstring;
            ``"subsampled"`` counts tracks left out by ``max_tracks``).
        source_index: (N,) int64 index of each track in the file it came from; None if unknown.
    """

    tracks: np.ndarray
    visibility: np.ndarray
    image_size: tuple[int, int]
    object_ids: np.ndarray | None = None
    ambiguous: np.ndarray | None = None
    dropped: dict[str, int] = field(default_factory=dict)
    source_index: np.ndarray | None = None

    def __post_init__(self):
        self.tracks = np.asarray(self.tracks, dtype=np.float32)
        self.visibility = np.asarray(self.visibility, dtype=bool)
        self.image_size = (int(self.image_size[0]), int(self.image_size[1]))
        if self.tracks.ndim != 3 or self.tracks.shape[2] != 2:
            raise DataError(f"tracks must have shape (T, N, 2); got {self.tracks.shape}")
        if self.visibility.shape != self.tracks.shape[:2]:
            raise DataError(f"visibility must have shape {self.tracks.shape[:2]} (T, N); got {self.visibility.shape}")
        for name, dtype in (("object_ids", np.int64), ("ambiguous", bool), ("source_index", np.int64)):
            value = getattr(self, name)
            if value is None:
                continue
            value = np.asarray(value, dtype=dtype)
            if value.shape != (self.num_tracks,):
                raise DataError(f"{name} must have shape ({self.num_tracks},) (N); got {value.shape}")
            setattr(self, name, value)

    @property
    def num_frames(self) -> int:
        return self.tracks.shape[0]

    @property
    def num_tracks(self) -> int:
        return self.tracks.shape[1]

    def first_frames(self, num_frames: int) -> TrackSet:
        """The same tracks over their first ``num_frames`` frames (all of them if there are fewer)."""
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        return replace(
            self, tracks=self.tracks[:num_frames], visibility=self.visibility[:num_frames], dropped=dict(self.dropped)
        )

    def subsample(self, max_tracks: int | None, seed: int = 0) -> TrackSet:
        """At most ``max_tracks`` of the tracks (:func:`subsample_indices`), counted in ``dropped``."""
        keep = subsample_indices(self.num_tracks, max_tracks, seed)
        if len(keep) == self.num_tracks:
            return self
        out = self.subset(keep)
        out.dropped["subsampled"] = out.dropped.get("subsampled", 0) + self.num_tracks - len(keep)
        return out

    def subset(self, idx) -> TrackSet:
        """The tracks selected by ``idx`` (integer indices or an (N,) bool mask), same frames."""
        idx = np.asarray(idx)
        if idx.dtype == bool and idx.shape != (self.num_tracks,):
            raise IndexError(f"boolean index must have shape ({self.num_tracks},); got {idx.shape}")

        def pick(a):
            return None if a is None else a[idx]

        return replace(
            self,
            tracks=self.tracks[:, idx],
            visibility=self.visibility[:, idx],
            object_ids=pick(self.object_ids),
            ambiguous=pick(self.ambiguous),
            dropped=dict(self.dropped),
            source_index=pick(self.source_index),
        )


def subsample_indices(num: int, max_tracks: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of a seeded random choice of at most ``max_tracks`` of ``num`` tracks (all if fewer).

    Raises:
        DataError: ``max_tracks`` below 1.
    """
    if max_tracks is not None and max_tracks < 1:
        raise DataError(f"max_tracks must be >= 1; got {max_tracks}")
    if max_tracks is None or num <= max_tracks:
        return np.arange(num)
    return np.sort(np.random.default_rng(seed).choice(num, size=max_tracks, replace=False))


def _first_key(arrays: Mapping, keys) -> str | None:
    return next((k for k in keys if k in arrays), None)


def read_arrays(path: Path, names=None, *, what: str = "track file") -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` (only ``names``, if given) or of an ``.npy`` (as ``"tracks"``).

    Nothing is unpickled, and a file that cannot be read gets a message saying what is wrong
    with it (numpy's own messages advise loading it with ``allow_pickle``, which can run code).

    Raises:
        DataError: empty, not a NumPy file, truncated or damaged, or holding object arrays.
    """
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise DataError(f"cannot read {what} {path}: it is empty (0 bytes)")
    key = None
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return {"tracks": loaded}
        with loaded:
            arrays = {}
            for key in loaded.files:
                if names is None or key in names:
                    arrays[key] = loaded[key]
            return arrays
    except ValueError as err:
        if key is not None and "allow_pickle" in str(err):
            raise DataError(
                f"cannot read {what} {path}: array {key!r} holds Python objects, not numbers "
                "(not read: unpickling can run code)"
            ) from None
        if key is None and "pickle" in str(err):
            raise DataError(f"cannot read {what} {path}: it is not a NumPy .npz or .npy file") from None
        raise DataError(f"cannot read {what} {path}: it is damaged ({err})") from None
    except OSError as err:  # permissions, a folder, a failing disk
        raise DataError(f"cannot read {what} {path}: {err.strerror or err}") from None
    except (zipfile.BadZipFile, EOFError, zlib.error):
        part = "its zip directory" if key is None else f"array {key!r}"
        raise DataError(f"cannot read {what} {path}: it is truncated or damaged ({part} cannot be read)") from None


def parse_annotations(arrays: Mapping, source: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reads positions, validity and visibility from the arrays of a track file, cast and checked.

    Args:
        arrays: name -> array, e.g. an opened ``np.load`` of an ``.npz``. Positions come from
            ``trajs_2d`` or ``tracks``; visibility from ``visibs``, ``visibility`` or the older
            ``visibilities`` codes; validity from ``valids``, the codes, or else all True.
        source: the file, for error messages.

    Returns:
        tracks (T, N, 2) float32, valids (T, N) bool, visibs (T, N) bool.

    Raises:
        DataError: no position array, wrong shapes, or fewer than 2 frames.
    """
    key = _first_key(arrays, ("trajs_2d", "tracks"))
    if key is None:
        raise DataError(f"{source}: no 'trajs_2d' or 'tracks' array; found {sorted(arrays)}")
    tracks = np.asarray(arrays[key])
    if tracks.ndim != 3 or tracks.shape[2] != 2:
        raise DataError(
            f"{source}: '{key}' must have shape (T, N, 2) (frames, tracks, xy); got {tracks.shape}. "
            "Tracks stored as (N, T, 2) must be transposed first."
        )
    if not np.issubdtype(tracks.dtype, np.number) or np.iscomplexobj(tracks):  # complex: not pixel positions
        raise DataError(f"{source}: '{key}' must hold real numbers; got dtype {tracks.dtype}")
    tracks = tracks.astype(np.float32)
    num_frames, num_tracks = tracks.shape[:2]
    if num_frames < 2:
        raise DataError(f"{source}: need at least 2 frames of tracks; got {num_frames}")

    def checked(name: str) -> np.ndarray:
        a = np.asarray(arrays[name])
        if a.shape != (num_frames, num_tracks):
            raise DataError(f"{source}: '{name}' must have shape (T, N) = {(num_frames, num_tracks)}; got {a.shape}")
        return a

    vis_key = _first_key(arrays, ("visibs", "visibility"))
    if vis_key is not None:
        visibs = checked(vis_key).astype(bool)
        valids = checked("valids").astype(bool) if "valids" in arrays else np.ones_like(visibs)
    elif "visibilities" in arrays:  # older PointOdyssey: 0 occluded, 1 visible, 2 behind camera / too far
        codes = checked("visibilities").astype(np.float32)
        valids, visibs = codes < 2, codes == 1
    else:
        visibs = np.ones((num_frames, num_tracks), dtype=bool)
        valids = checked("valids").astype(bool) if "valids" in arrays else np.ones_like(visibs)
    return tracks, valids, visibs


def valid_track_mask(
    tracks: np.ndarray,
    valids: np.ndarray,
    visibs: np.ndarray,
    image_size: tuple[int, int],
    *,
    visible_only: bool = False,
) -> tuple[np.ndarray, dict[str, int]]:
    """Which tracks are usable in every frame (rules in the module docstring).

    Args:
        tracks: (T, N, 2) float32 positions.
        valids: (T, N) bool.
        visibs: (T, N) bool.
        image_size: (H, W).
        visible_only: also require visibility in every frame.

    Returns:
        keep (N,) bool, and reason -> count of dropped tracks (only reasons that dropped any).
    """
    height, width = image_size
    finite = np.isfinite(tracks).all(axis=(0, 2))
    with np.errstate(invalid="ignore"):
        x, y = tracks[..., 0], tracks[..., 1]
        in_bounds = (
            (x >= -BOUNDS_MARGIN * width)
            & (x <= (1 + BOUNDS_MARGIN) * width)
            & (y >= -BOUNDS_MARGIN * height)
            & (y <= (1 + BOUNDS_MARGIN) * height)
        ).all(axis=0)
    checks = {
        "invalid": valids.all(axis=0),
        "non_finite": finite,
        "out_of_bounds": in_bounds,
        "not_visible": visibs.all(axis=0) if visible_only else np.ones(tracks.shape[1], dtype=bool),
    }
    keep = np.ones(tracks.shape[1], dtype=bool)
    dropped = {}
    for reason in DROP_REASONS:
        newly = keep & ~checks[reason]
        if newly.any():
            dropped[reason] = int(newly.sum())
        keep &= checks[reason]
    return keep, dropped


def describe_dropped(dropped: Mapping[str, int]) -> str:
    """'invalid 3, non_finite 2' or 'none'."""
    return ", ".join(f"{k} {v}" for k, v in dropped.items()) or "none"


def warn_non_finite(log: logging.Logger, source, dropped: Mapping[str, int], total: int) -> None:
    """A warning the user sees when tracks were dropped for NaN or infinite coordinates."""
    if dropped.get("non_finite"):
        log.warning(
            "%s: dropped %d of %d tracks with NaN or infinite coordinates (non_finite)",
            source,
            dropped["non_finite"],
            total,
        )


def _infer_image_size(tracks: np.ndarray, visibs: np.ndarray) -> tuple[int, int]:
    # A robust extent: a few corrupted huge coordinates must not inflate the size.
    pts = tracks[visibs & np.isfinite(tracks).all(axis=-1)]
    pts = pts[(pts >= 0).all(axis=1)]
    if len(pts) == 0:
        raise DataError("cannot infer the image size: no visible finite track point; pass image_size")
    limit = 4 * np.percentile(pts, 90, axis=0)  # corrupted coordinates lie far beyond this
    x_max, y_max = (np.max(pts[pts[:, i] <= limit[i], i]) for i in (0, 1))
    return math.ceil(y_max) + 1, math.ceil(x_max) + 1


def _image_size_beside(path: Path) -> tuple[int, int] | None:
    """The frame size of a PointOdyssey folder holding the annotation file, if there is one."""
    frames = sorted((path.parent / "rgbs").glob("rgb_*.jpg"))
    if not frames:
        return None
    with Image.open(frames[0]) as img:
        return img.height, img.width


def load_tracks(path, *, image_size: tuple[int, int] | None = None) -> TrackSet:
    """Loads point tracks from a user file, keeping the tracks usable in every frame.

    Accepted files: a PointOdyssey ``anno.npz`` / ``annotations.npz`` (any version), an ``.npz``
    holding ``tracks`` or ``trajs_2d`` (T, N, 2) with optional ``visibility`` / ``visibs`` (T, N)
    and ``valids`` (T, N), or an ``.npy`` holding one (T, N, 2) array (all visible). The layout
    must be (T, N, 2), frames first: an (N, T, 2) array has the same rank and cannot be
    detected, so transpose such arrays before saving.

    Args:
        path: the file.
        image_size: (H, W) of the video. Without it: an ``image_size`` array in the file, else
            the frames of a PointOdyssey folder holding the file, else inferred from the extent
            of the visible points (logged).

    Returns:
        The kept tracks; ``dropped`` counts the others by reason (see the module docstring).

    Raises:
        DataError: missing or unreadable file, wrong shapes, fewer than 2 frames, no valid track.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"track file not found: {path}")
    arrays = read_arrays(path)
    tracks, valids, visibs = parse_annotations(arrays, path)
    if image_size is None and "image_size" in arrays:
        image_size = tuple(int(v) for v in np.asarray(arrays["image_size"]).ravel()[:2])
    if image_size is None:
        image_size = _image_size_beside(path)
    if image_size is None:
        image_size = _infer_image_size(tracks, visibs & valids)
        logger.warning("%s: no image size given; inferred (H, W) = %s from the track extent", path, image_size)
    keep, dropped = valid_track_mask(tracks, valids, visibs, image_size)
    if not keep.any():
        raise DataError(f"{path}: no track is valid in every frame (dropped: {describe_dropped(dropped)})")
    logger.info("%s: kept %d of %d tracks; dropped %s", path, keep.sum(), keep.size, describe_dropped(dropped))
    warn_non_finite(logger, path, dropped, keep.size)
    return TrackSet(
        tracks=tracks[:, keep],
        visibility=visibs[:, keep],
        image_size=image_size,
        dropped=dropped,
        source_index=np.flatnonzero(keep),
    )
