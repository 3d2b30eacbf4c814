"""DAVIS-layout sequences: a folder of frames and a folder of ground-truth masks.

Shapes: T frames, H x W pixels.

    seq/frames/00000.jpg ...     the video
    seq/masks/00000.png ...      its ground truth: 8-bit, > 0 = the primary moving object(s)

This is the layout of DAVIS-2016 (Perazzi et al., CVPR 2016), whose masks mark the primary
moving object(s) of each frame as one foreground; a palette or multi-valued mask (DAVIS-2017)
keeps its values as object ids. A sequence needs no masks to be read; without them it has no
ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .tracks import DataError
from .video import list_images, read_image

__all__ = ["DavisSequence", "is_davis_sequence", "load_davis", "read_masks"]

FRAMES, MASKS = "frames", "masks"


@dataclass
class DavisSequence:
    """One DAVIS-layout sequence, read into memory.

    Attributes:
        path: the sequence folder.
        frames: (T, H, W, 3) uint8 RGB.
        masks: (T, H, W) int16 object id per pixel (0 background), or None without masks/.
    """

    path: Path
    frames: np.ndarray
    masks: np.ndarray | None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def num_frames(self) -> int:
        return len(self.frames)


def is_davis_sequence(path) -> bool:
    """True for a folder with a ``frames/`` sub-folder holding images."""
    folder = Path(path) / FRAMES
    return folder.is_dir() and bool(list_images(folder))


def read_masks(folder, num_frames: int | None = None) -> np.ndarray:
    """The mask images of ``folder`` as (T, H, W) int16 object ids (0 background).

    A two-valued mask (0 / 255, DAVIS-2016) gives ids 0 / 1; other masks keep their values.

    Raises:
        DataError: no masks, or masks of different sizes.
    """
    files = list_images(Path(folder))[:num_frames]
    if not files:
        raise DataError(f"no mask images in {folder}")
    masks = []
    for f in files:
        mask = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
        if mask is None:
            raise DataError(f"cannot read mask {f}")
        if mask.ndim == 3:  # a colour mask: any non-black pixel is object
            mask = mask.max(axis=2)
        if masks and mask.shape != masks[0].shape:
            raise DataError(f"{f} has size {mask.shape}, unlike the first mask's {masks[0].shape}")
        masks.append(mask)
    masks = np.stack(masks)
    values = np.unique(masks)
    if len(values) <= 2:
        masks = masks > 0
    return masks.astype(np.int16)


def load_davis(path, *, max_frames: int | None = None) -> DavisSequence:
    """Reads a DAVIS-layout sequence folder (frames/, optional masks/).

    Raises:
        DataError: no frames, frames of different sizes, or masks that do not fit the frames.
    """
    path = Path(path)
    files = list_images(path / FRAMES)[:max_frames]
    if not files:
        raise DataError(f"{path} is not a DAVIS-layout sequence: no images in {path / FRAMES}")
    frames = np.stack([read_image(f) for f in files])
    masks = None
    if (path / MASKS).is_dir() and list_images(path / MASKS):
        masks = read_masks(path / MASKS, len(frames))
        if masks.shape[1:] != frames.shape[1:3] or len(masks) < len(frames):
            raise DataError(
                f"{path}: {len(masks)} masks of {masks.shape[1:]} do not fit {len(frames)} frames of {frames.shape[1:3]}"
            )
    return DavisSequence(path=path, frames=frames, masks=masks)
