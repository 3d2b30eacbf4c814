"""A video clip built from real photographs, for checking discovery on natural image texture.

Shapes: T frames, H x W image.

No real footage can be downloaded on the machines this project is built on, so this makes the
closest thing from photographs that ship with scikit-image: a camera pans and zooms over the
"rocket" photograph while a disc cut from the "chelsea" (cat) photograph crosses the view on its
own path, turning as it goes. The textures are real; the motions are known, and so is the
object's mask in every frame, which lets a test score the grouping of tracks that the LK tracker
found on its own.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["photo_clip"]


def _camera(t: float, width: int, height: int, canvas: tuple[int, int]) -> np.ndarray:
    """2x3 affine from canvas to view at time t in [0, 1]: a pan with a slow zoom."""
    ch, cw = canvas
    zoom = 1.0 + 0.1 * t
    cx = 0.5 * width / zoom + (cw - width / zoom) * (0.45 + 0.2 * t)  # slow enough that most of
    cy = 0.5 * height / zoom + (ch - height / zoom) * (0.3 + 0.15 * t)  # the view stays in view
    return np.array([[zoom, 0.0, width / 2 - zoom * cx], [0.0, zoom, height / 2 - zoom * cy]])


def photo_clip(*, num_frames: int = 48, size: tuple[int, int] = (270, 480)) -> tuple[np.ndarray, np.ndarray]:
    """A panning camera over one photograph and a photographed object moving across it.

    Args:
        num_frames: T frames (>= 2).
        size: (H, W) of the frames.
    Returns:
        frames: (T, H, W, 3) uint8 RGB; masks: (T, H, W) bool, True on the moving object.
    """
    from skimage import data  # the photographs ship with scikit-image; no download

    if num_frames < 2:
        raise ValueError(f"num_frames must be >= 2, got {num_frames}")
    height, width = size
    background = cv2.resize(data.rocket(), None, fx=1.6, fy=1.6, interpolation=cv2.INTER_CUBIC)
    cat = data.chelsea()
    radius = min(height, width) // 5
    patch = cv2.resize(cat[40:260, 120:340], (2 * radius, 2 * radius), interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[: 2 * radius, : 2 * radius]
    disc = ((xx - radius + 0.5) ** 2 + (yy - radius + 0.5) ** 2) <= radius**2

    frames = np.empty((num_frames, height, width, 3), np.uint8)
    masks = np.empty((num_frames, height, width), bool)
    for i in range(num_frames):
        t = i / (num_frames - 1)
        frames[i] = cv2.warpAffine(
            background,
            _camera(t, width, height, background.shape[:2]),
            (width, height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
        # the object: a turning disc on a curved path, independent of the camera
        centre = (width * (0.2 + 0.6 * t), height * (0.65 - 0.3 * np.sin(np.pi * t)))
        pose = cv2.getRotationMatrix2D((radius, radius), 60 * t, 1.0)
        pose[:, 2] += np.array(centre) - radius
        obj = cv2.warpAffine(patch, pose, (width, height), flags=cv2.INTER_LINEAR)
        inside = cv2.warpAffine(disc.astype(np.uint8), pose, (width, height), flags=cv2.INTER_NEAREST) > 0
        frames[i][inside] = obj[inside]
        masks[i] = inside
    return frames, masks
