"""One sequence in the PointOdyssey layout: frames, valid point tracks and ground-truth objects.

Shapes: T frames, N tracks, H x W image, S frames used for the ground-truth vote.

Layout of a sequence folder (PointOdyssey v1.2; v1.0 named the annotation ``annotations.npz``)::

    rgbs/rgb_00000.jpg ...       frames, zero-based, 5 digits
    masks/mask_00000.png ...     palette PNGs: index 0 background, index k asset k - 1
    depths/depth_00000.png ...   16-bit, metres = value / 65535 * 1000 (not read here)
    normals/normal_00000.jpg ... (not read here)
    anno.npz                     trajs_2d (T, N, 2), valids, visibs (T, N), trajs_3d, intrinsics, ...
    info.npz, scene_info.json    scene_info.json names the assets

Tracks are cast and filtered by the rules of :mod:`datasets.tracks` (valid in every frame).
The ground-truth object of a track is a majority vote of the raw mask palette index (never the
colour, which is not stable across frames) at the track's rounded position, over at most
``VOTE_FRAMES`` evenly spaced frames where the point is visible and inside the image.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .tracks import (
    DataError,
    TrackSet,
    describe_dropped,
    parse_annotations,
    read_arrays,
    subsample_indices,
    valid_track_mask,
    warn_non_finite,
)
from .video import ImageFiles, list_images

__all__ = ["ANNOTATION_FILES", "PointOdysseySequence", "load_pointodyssey", "object_votes", "read_mask"]

logger = logging.getLogger(__name__)

ANNOTATION_FILES = ("anno.npz", "annotations.npz")  # v1.2, v1.0
VOTE_FRAMES = 30  # frames read for the ground-truth vote
MIN_VOTE_SHARE = 0.7  # a smaller winning share marks the track ambiguous
MAX_EDGE_SHARE = 0.5  # ... and so does sitting on a mask edge in more votes than this


def read_mask(path: Path) -> np.ndarray:
    """A mask PNG as (H, W) raw palette indices (uint8; 16-bit label images keep their values)."""
    try:
        with Image.open(path) as img:
            if img.mode not in ("P", "L", "I", "I;16"):
                raise DataError(f"mask {path} has mode {img.mode}; expected a palette-index PNG (mode P)")
            return np.array(img)
    except OSError as err:
        raise DataError(f"cannot read mask {path}: {err}") from None


@dataclass
class PointOdysseySequence:
    """A PointOdyssey-layout sequence loaded by :func:`load_pointodyssey`.

    Attributes:
        path: the sequence folder.
        tracks: the kept tracks over the T loaded frames, with ground-truth ``object_ids`` and
            ``ambiguous`` when the folder has masks.
        frames: T frames read lazily; ``frames[t]`` is (H, W, 3) uint8 RGB.
        masks: T masks read lazily, ``masks[t]`` (H, W) palette indices; None without masks/.
        asset_names: names from scene_info.json, asset k - 1 for mask index k (may be empty).
    """

    path: Path
    tracks: TrackSet
    frames: ImageFiles
    masks: ImageFiles | None
    asset_names: list[str]

    @property
    def num_frames(self) -> int:
        return self.tracks.num_frames

    @property
    def image_size(self) -> tuple[int, int]:
        return self.tracks.image_size

    def object_name(self, object_id: int) -> str:
        """A readable name for a mask index: "background", the asset's name, or "object k"."""
        if object_id == 0:
            return "background"
        if 0 < object_id <= len(self.asset_names):
            return self.asset_names[object_id - 1]
        return "unknown" if object_id < 0 else f"object {object_id}"


def _asset_names(path: Path) -> list[str]:
    # The file's exact schema varies; accept a list of names, or a dict holding one under a
    # known key (entries may be strings or dicts with a "name").
    info_file = path / "scene_info.json"
    if not info_file.is_file():
        return []
    try:
        info = json.loads(info_file.read_text())
    except (OSError, ValueError) as err:
        logger.warning("ignoring unreadable %s: %s", info_file, err)
        return []
    if isinstance(info, dict):
        info = next((info[k] for k in ("assets", "asset_names", "objects") if k in info), [])
    if not isinstance(info, list):
        return []
    names = [a if isinstance(a, str) else a.get("name") if isinstance(a, dict) else None for a in info]
    return [str(n) for n in names if n is not None]


def object_votes(
    tracks: np.ndarray, visibility: np.ndarray, masks: ImageFiles, *, max_frames: int = VOTE_FRAMES
) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth object per track by a majority vote of mask indices.

    A vote is the palette index at the rounded position in a frame where the point is visible
    and inside the image, over at most ``max_frames`` evenly spaced frames. A track is
    ambiguous when the winner's share is below ``MIN_VOTE_SHARE``, when the 3x3 neighbourhood
    mixes indices in more than ``MAX_EDGE_SHARE`` of its votes, or when it has no vote.

    Args:
        tracks: (T, N, 2) positions.
        visibility: (T, N) bool.
        masks: T masks, (H, W) palette indices each.
        max_frames: S, the most frames to read.

    Returns:
        object_ids (N,) int64 (-1 without a vote) and ambiguous (N,) bool.
    """
    num_frames, num_tracks = visibility.shape
    frame_ids = np.unique(np.linspace(0, num_frames - 1, min(max_frames, num_frames)).round().astype(int))
    labels = np.full((len(frame_ids), num_tracks), -1, dtype=np.int64)  # (S, N), -1 no vote
    on_edge = np.zeros((len(frame_ids), num_tracks), dtype=bool)  # (S, N)
    kernel = np.ones((3, 3), np.uint8)
    for s, t in enumerate(frame_ids):
        mask = masks[t]
        height, width = mask.shape
        pos = np.round(tracks[t]).astype(np.int64)  # (N, 2) x, y
        ok = visibility[t] & (pos[:, 0] >= 0) & (pos[:, 0] < width) & (pos[:, 1] >= 0) & (pos[:, 1] < height)
        m = mask if mask.dtype in (np.uint8, np.uint16) else mask.astype(np.float32)  # types cv2 morphology takes
        edge = cv2.dilate(m, kernel) != cv2.erode(m, kernel)  # the 3x3 neighbourhood mixes indices
        labels[s, ok] = mask[pos[ok, 1], pos[ok, 0]]
        on_edge[s, ok] = edge[pos[ok, 1], pos[ok, 0]]
    voted = labels >= 0
    values, codes = np.unique(labels[voted], return_inverse=True)  # compress the palette to K used indices
    counts = np.zeros((num_tracks, len(values)), dtype=np.int64)  # (N, K)
    np.add.at(counts, (np.nonzero(voted)[1], codes), 1)
    total = voted.sum(axis=0)
    has_vote = total > 0
    object_ids = np.full(num_tracks, -1, dtype=np.int64)
    ambiguous = ~has_vote
    if len(values):
        winner = counts.argmax(axis=1)
        object_ids[has_vote] = values[winner[has_vote]]
        share = counts.max(axis=1) / np.maximum(total, 1)
        edge_share = on_edge.sum(axis=0) / np.maximum(total, 1)
        ambiguous |= (share < MIN_VOTE_SHARE) | (edge_share > MAX_EDGE_SHARE)
    return object_ids, ambiguous


def _find_files(path: Path) -> tuple[Path, list[Path]]:
    """(annotation file, frame files) of a sequence folder."""
    if not path.is_dir():
        raise DataError(f"PointOdyssey sequence folder not found: {path}")
    anno_file = next((path / n for n in ANNOTATION_FILES if (path / n).is_file()), None)
    if anno_file is None:
        raise DataError(f"no annotation file ({' or '.join(ANNOTATION_FILES)}) in {path}")
    frame_files = list_images(path / "rgbs", "rgb_*")
    if not frame_files:
        raise DataError(f"no frames rgbs/rgb_00000.jpg ... in {path}")
    return anno_file, frame_files


def _read_annotations(anno_file: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """tracks (T, N, 2), valids (T, N), visibs (T, N) of an annotation file (only those arrays are read)."""
    arrays = read_arrays(anno_file, ("trajs_2d", "tracks", "valids", "visibs", "visibilities"), what="annotation file")
    return parse_annotations(arrays, anno_file)


def _frame_count(path: Path, annotated: int, frame_files: list[Path], max_frames: int | None) -> int:
    """T: the frames both annotated and present, at most ``max_frames``."""
    num_frames = min(annotated, len(frame_files), annotated if max_frames is None else max_frames)
    if len(frame_files) != annotated:
        logger.warning("%s: %d frames but %d annotated; using %d", path, len(frame_files), annotated, num_frames)
    if num_frames < 2:
        raise DataError(f"{path}: need at least 2 frames; got {num_frames}")
    return num_frames


def _select_tracks(
    anno_file: Path, tracks, valids, visibs, image_size, *, visible_only: bool, max_tracks: int | None, seed: int
) -> tuple[TrackSet, int]:
    """(the kept tracks, the number of tracks in the file): valid ones, then a seeded subset."""
    keep, dropped = valid_track_mask(tracks, valids, visibs, image_size, visible_only=visible_only)
    if not keep.any():
        raise DataError(f"{anno_file}: no track is valid in every frame (dropped: {describe_dropped(dropped)})")
    kept = np.flatnonzero(keep)
    chosen = kept[subsample_indices(len(kept), max_tracks, seed)]
    if len(chosen) < len(kept):
        dropped["subsampled"] = len(kept) - len(chosen)
    track_set = TrackSet(
        tracks=tracks[:, chosen],
        visibility=visibs[:, chosen],
        image_size=image_size,
        dropped=dropped,
        source_index=chosen,
    )
    return track_set, keep.size


def _read_masks(path: Path, num_frames: int, image_size: tuple[int, int]) -> ImageFiles | None:
    """The first T masks, read lazily; None when the folder has no masks/."""
    mask_files = list_images(path / "masks", "mask_*")[:num_frames]
    if not mask_files:
        return None
    masks = ImageFiles(mask_files, read_mask)
    if len(masks) < num_frames:
        raise DataError(f"{path / 'masks'} has {len(masks)} masks for {num_frames} frames")
    if masks[0].shape != image_size:
        raise DataError(f"mask {mask_files[0]} has size {masks[0].shape}, frames have {image_size}")
    return masks


def load_pointodyssey(
    path, *, visible_only: bool = False, max_tracks: int | None = None, seed: int = 0, max_frames: int | None = None
) -> PointOdysseySequence:
    """Loads one PointOdyssey-layout sequence folder.

    Args:
        path: the sequence folder (holding rgbs/ and anno.npz or annotations.npz).
        visible_only: keep only tracks visible in every frame (else valid in every frame).
        max_tracks: keep a random subset of at most this many valid tracks.
        seed: seed of that subset (the same seed gives the same subset).
        max_frames: load only the first max_frames frames (tracks are judged on those).

    Returns:
        The sequence; ``tracks.dropped`` counts the dropped tracks by reason (also logged).

    Raises:
        DataError: folder, frames or annotation missing, wrong shapes, fewer than 2 frames, no
            valid track left.
    """
    path = Path(path)
    anno_file, frame_files = _find_files(path)
    tracks, valids, visibs = _read_annotations(anno_file)
    num_frames = _frame_count(path, len(tracks), frame_files, max_frames)
    tracks, valids, visibs = tracks[:num_frames], valids[:num_frames], visibs[:num_frames]
    with Image.open(frame_files[0]) as img:
        image_size = (img.height, img.width)
    track_set, in_file = _select_tracks(
        anno_file, tracks, valids, visibs, image_size, visible_only=visible_only, max_tracks=max_tracks, seed=seed
    )
    masks = _read_masks(path, num_frames, image_size)
    if masks is not None:
        track_set.object_ids, track_set.ambiguous = object_votes(track_set.tracks, track_set.visibility, masks)
    logger.info(
        "%s: %d frames %dx%d, kept %d of %d tracks; dropped %s",
        path,
        num_frames,
        image_size[1],
        image_size[0],
        track_set.num_tracks,
        in_file,
        describe_dropped(track_set.dropped),
    )
    warn_non_finite(logger, anno_file, track_set.dropped, in_file)
    return PointOdysseySequence(
        path=path,
        tracks=track_set,
        frames=ImageFiles(frame_files[:num_frames]),
        masks=masks,
        asset_names=_asset_names(path),
    )
