"""Frames in and out: video files and folders of images, read as RGB uint8 arrays.

Shapes: T frames, H x W pixels; frames are (T, H, W, 3) uint8 RGB throughout the project
(OpenCV's BGR order stays inside this module).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from .files import replacing
from .tracks import DataError

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "ImageFiles", "list_images", "read_image", "read_video", "write_video"]

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".webm", ".mkv", ".m4v")

# Matroska and WebM store a duration, not a frame count: OpenCV's count is an estimate there.
_ESTIMATED_COUNT = (".webm", ".mkv")

# Tried in order until one writes a non-empty file. H.264 ('avc1') plays everywhere but is
# missing from the pip builds of OpenCV; VP9 in MP4 plays in Chrome, Firefox and Edge;
# MPEG-4 part 2 ('mp4v') always works but most browsers will not play it.
_FOURCCS = {
    ".mp4": ("avc1", "vp09", "mp4v"),
    ".m4v": ("avc1", "vp09", "mp4v"),
    ".mov": ("avc1", "mp4v"),
    ".webm": ("VP90", "VP80"),
    ".mkv": ("VP90", "avc1", "mp4v"),
    ".avi": ("MJPG", "XVID"),
}


def _natural_key(path: Path):
    # "frame10" after "frame9": compare digit runs as numbers.
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def list_images(folder: Path, pattern: str = "*") -> list[Path]:
    """Image files of ``folder`` matching ``pattern``, in natural order (2.jpg before 10.jpg)."""
    files = [p for p in Path(folder).glob(pattern) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    return sorted(files, key=_natural_key)


def read_image(path: Path) -> np.ndarray:
    """One image file as (H, W, 3) uint8 RGB (grey and 16-bit images are converted)."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DataError(f"cannot read image {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class ImageFiles(Sequence):
    """A list of image files read lazily: ``len()``, and ``[t]`` reads file t from disk.

    Args:
        files: the image paths, in frame order.
        reader: path -> array, e.g. :func:`read_image`.
    """

    def __init__(self, files: list[Path], reader: Callable[[Path], np.ndarray] = read_image):
        self.files = list(files)
        self.reader = reader

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, t: int) -> np.ndarray:
        if isinstance(t, slice):
            raise TypeError("ImageFiles reads one frame at a time; index with an int")
        return self.reader(self.files[t])  # IndexError past the end ends iteration

    def __repr__(self) -> str:
        first = self.files[0].name if self.files else ""
        return f"ImageFiles({len(self)} files, first {first!r})"


def _resize(frame: np.ndarray, max_side: int | None) -> np.ndarray:
    h, w = frame.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return frame
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def _frames_from_folder(folder: Path, max_frames, stride):
    files = list_images(folder)
    if not files:
        raise DataError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in folder {folder}")
    files = files[::stride][:max_frames]
    size = None
    for f in files:
        frame = read_image(f)
        if size is not None and frame.shape != size:
            raise DataError(f"{f} has size {frame.shape[:2]}, unlike the first frame's {size[:2]} in {folder}")
        size = frame.shape
        yield frame


def _frames_from_video(path: Path, max_frames, stride, strict: bool):
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise DataError(f"cannot open video {path} (unknown format or unsupported codec)")
    try:
        declared = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        index = kept = 0
        while max_frames is None or kept < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            if index % stride == 0:
                kept += 1
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        cap.release()
    # Decoding stops at the first frame that fails: a truncated or damaged file ends early.
    slack = max(2, declared // 50) if path.suffix.lower() in _ESTIMATED_COUNT else 0
    if not ok and index < declared - slack:
        problem = f"{path}: only {index} of its {declared} frames decode (the file is truncated or damaged)"
        if strict:
            raise DataError(f"{problem}; re-encode it or copy it again")
        logger.warning("%s; using those %d", problem, index)


def read_video(
    path, *, max_frames: int | None = None, max_side: int | None = None, stride: int = 1, strict: bool = False
) -> np.ndarray:
    """Reads a video file or a folder of images into memory.

    Args:
        path: a video file (mp4, avi, mov, webm, mkv, read with OpenCV) or a folder of images
            in natural order (00000.jpg, 00001.jpg, ... or frame2.png before frame10.png).
        max_frames: keep at most this many frames (counted after ``stride``).
        max_side: shrink frames so that max(H, W) <= max_side (area interpolation).
        stride: keep every stride-th frame.
        strict: refuse a video file whose frames stop decoding before the count its container
            declares (truncated or damaged); by default such a file is read up to that point
            with a warning that gives both counts.

    Returns:
        (T, H, W, 3) uint8 RGB frames, T >= 2.

    Raises:
        DataError: missing path, unreadable file, frames of different sizes, fewer than 2 frames,
            with ``strict`` a truncated or damaged video.
    """
    path = Path(path)
    if stride < 1:
        raise DataError(f"stride must be >= 1; got {stride}")
    if max_frames is not None and max_frames < 2:
        raise DataError(f"max_frames must be >= 2; got {max_frames}")
    if path.is_dir():
        frames = _frames_from_folder(path, max_frames, stride)
    elif path.is_file():
        frames = _frames_from_video(path, max_frames, stride, strict)
    else:
        raise DataError(f"video not found: {path}")
    out = [_resize(f, max_side) for f in frames]
    if len(out) < 2:
        raise DataError(f"{path} holds {len(out)} readable frame(s); need at least 2")
    out = np.stack(out)
    logger.info("read %d frames of %dx%d from %s", len(out), out.shape[2], out.shape[1], path)
    return out


def _write_h264(frames: list[np.ndarray], path: Path, fps: float, pad) -> bool:
    """H.264 through the ffmpeg binary of ``imageio-ffmpeg`` (fast, plays everywhere); False if unavailable."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return False
    h, w = frames[0].shape[:2]
    size = (w + w % 2, h + h % 2)
    writer = imageio_ffmpeg.write_frames(
        str(path),
        size,
        fps=float(fps),
        codec="libx264",
        pix_fmt_out="yuv420p",
        macro_block_size=1,
        # "veryfast": 0.35 s for 50 frames of 854 x 480 against 0.8 s at x264's default, and a smaller file
        output_params=["-movflags", "+faststart", "-preset", "veryfast"],
        ffmpeg_log_level="error",
    )
    try:
        writer.send(None)
        for frame in frames:
            if frame.shape[:2] != (h, w):
                raise DataError(f"frame of size {frame.shape[:2]} differs from the first frame's {(h, w)} for {path}")
            writer.send(np.ascontiguousarray(np.pad(frame.astype(np.uint8, copy=False), pad, mode="edge")))
    except (OSError, RuntimeError) as err:
        logger.warning("H.264 encoding of %s failed (%s); falling back to OpenCV", path, err)
        return False
    finally:
        writer.close()
    return path.is_file() and path.stat().st_size > 0


def write_video(frames, path, fps: float = 12, *, fourcc: str | None = None) -> Path:
    """Writes frames as a video a browser can play (see ``_FOURCCS`` for the codecs tried).

    Odd frame sizes are padded by one edge row / column, which most encoders need. MP4 files
    are H.264 through ``imageio-ffmpeg`` when it is installed (a project dependency); otherwise VP9, which encodes slowly on a CPU (about 0.3 s per 960 x 540
    frame on two busy cores); pass ``fourcc="mp4v"`` for speed where browsers need not play the file.

    Args:
        frames: (T, H, W, 3) uint8 RGB array or a list of (H, W, 3) frames.
        path: the output file; its suffix picks the container (.mp4, .webm, .avi, ...).
        fps: frames per second.
        fourcc: a four-letter codec code to use instead of the suffix's list.

    Returns:
        The written path.

    Raises:
        DataError: no frame, wrong frame shape, or no codec could write the file.
    """
    path = Path(path)
    frames = [np.asarray(f) for f in frames]
    if not frames:
        raise DataError(f"no frames to write to {path}")
    h, w = frames[0].shape[:2]
    if frames[0].ndim != 3 or frames[0].shape[2] != 3:
        raise DataError(f"frames must be (H, W, 3) RGB; got {frames[0].shape} for {path}")
    pad = ((0, h % 2), (0, w % 2), (0, 0))
    fourccs = (fourcc,) if fourcc else _FOURCCS.get(path.suffix.lower())
    if fourccs is None:
        raise DataError(f"unsupported video suffix {path.suffix!r} for {path}; use one of {sorted(_FOURCCS)}")
    with replacing(path) as tmp:  # a kill while encoding leaves no half-written video
        code = _encode(frames, tmp, fps, pad, fourcc, fourccs)
    if code is None:
        raise DataError(f"no video codec could write {path} (tried {', '.join(fourccs)})")
    if code == "mp4v":
        logger.warning("wrote %s with MPEG-4 part 2 ('mp4v'): browsers may not play it", path)
    logger.info("wrote %d frames to %s (codec %s)", len(frames), path, code)
    return path


def _encode(frames: list[np.ndarray], path: Path, fps: float, pad, fourcc: str | None, fourccs) -> str | None:
    """Writes ``path`` with the first codec that works; returns its code (None: none did)."""
    h, w = frames[0].shape[:2]
    if fourcc is None and path.suffix.lower() == ".mp4" and _write_h264(frames, path, fps, pad):
        return "avc1"
    for code in fourccs:
        path.unlink(missing_ok=True)  # a stale file must not pass the size check below
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*code), float(fps), (w + w % 2, h + h % 2))
        if not writer.isOpened():
            writer.release()
            continue
        for frame in frames:
            if frame.shape[:2] != (h, w):
                writer.release()
                raise DataError(f"frame of size {frame.shape[:2]} differs from the first frame's {(h, w)} for {path}")
            writer.write(cv2.cvtColor(np.pad(frame.astype(np.uint8, copy=False), pad, mode="edge"), cv2.COLOR_RGB2BGR))
        writer.release()
        if path.is_file() and path.stat().st_size > 0:
            return code
    return None
