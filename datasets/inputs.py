"""One way in for every input: a path (and optional tracks) to frames, tracks and ground truth.

Shapes: T frames, H x W pixels, N tracks.

    inp = load_input("clip.mp4")                       # a video file
    inp = load_input("seq/frames")                     # a folder of frames (00000.jpg ...)
    inp = load_input("davis/soapbox")                  # DAVIS layout: frames/ + masks/
    inp = load_input("pointodyssey/seq")               # PointOdyssey layout: its own tracks
    inp = load_input("upload.zip", workdir=tmp)        # any of the folders above, zipped
    inp = load_input("clip.mp4", tracks="tracks.npz")  # tracks from another tracker

``inp.frames`` are the input's frames at their own size, ``inp.tracks`` the given tracks in
their pixels (None: the caller tracks points), ``inp.truth`` a :class:`GroundTruth` or None.
The app and every script read their input through :func:`load_input`, so the rules (which
layout, which frames, how tracks are subsampled) are the same everywhere.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from .archive import extract_zip
from .davis import is_davis_sequence, load_davis
from .pointodyssey import ANNOTATION_FILES, load_pointodyssey
from .tracks import DataError, TrackSet, load_tracks
from .video import VIDEO_SUFFIXES, list_images, read_video

__all__ = ["GroundTruth", "VideoInput", "count_frames", "find_sequences", "input_kind", "load_input"]

logger = logging.getLogger(__name__)

KINDS = ("video", "frames", "davis", "pointodyssey")


@dataclass
class GroundTruth:
    """What an input knows about its objects.

    Attributes:
        masks: (T, H, W) int16 object id per pixel (0 background), or None (PointOdyssey tracks
            carry their own ids instead).
        object_ids: (N,) ground-truth object of each given track, or None.
        ambiguous: (N,) bool, tracks whose id is unclear (mask edges), or None.
        names: object id -> readable name.
    """

    masks: np.ndarray | None = None
    object_ids: np.ndarray | None = None
    ambiguous: np.ndarray | None = None
    names: dict[int, str] = field(default_factory=dict)

    def name(self, object_id: int) -> str:
        return self.names.get(int(object_id), "background" if object_id == 0 else f"object {object_id}")


@dataclass
class VideoInput:
    """Frames, optional given tracks and optional ground truth of one input.

    Attributes:
        frames: (T, H, W, 3) uint8 RGB at the input's size (a PointOdyssey sequence's: read
            lazily, ``frames[t]`` reads frame t).
        tracks: given tracks in the frames' pixels, or None (track the frames).
        truth: :class:`GroundTruth`, or None.
        kind: "video", "frames", "davis" or "pointodyssey".
        source: a line naming the input.
    """

    frames: np.ndarray
    tracks: TrackSet | None
    truth: GroundTruth | None
    kind: str
    source: str

    @property
    def num_frames(self) -> int:
        return len(self.frames)


def input_kind(path) -> str:
    """ "video", "frames", "davis" or "pointodyssey" for a file or folder.

    Raises:
        DataError: nothing of the kind at ``path``.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return "video"
        raise DataError(f"{path.name}: not a video ({', '.join(VIDEO_SUFFIXES)}) nor a folder")
    if not path.is_dir():
        raise DataError(f"input not found: {path}")
    if any((path / name).is_file() for name in ANNOTATION_FILES):
        return "pointodyssey"
    if is_davis_sequence(path):
        return "davis"
    return "frames"


def find_sequences(path) -> list[Path]:
    """The sequences with ground truth at ``path``: itself, or its sub-folders (PointOdyssey or DAVIS layout).

    Raises:
        FileNotFoundError: ``path`` does not exist. ValueError: no sequence there.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data folder not found: {path}")
    if not path.is_dir():
        raise ValueError(f"--data must be a sequence folder or a folder of them; {path} is a file")
    is_sequence = lambda p: input_kind(p) in ("pointodyssey", "davis")  # noqa: E731
    if is_sequence(path):
        return [path]
    found = sorted(p for p in path.iterdir() if p.is_dir() and is_sequence(p))
    if not found:
        raise ValueError(
            f"no PointOdyssey sequence ({' or '.join(ANNOTATION_FILES)}) nor DAVIS sequence (frames/) in {path} "
            "or its sub-folders"
        )
    return found


def count_frames(sequence) -> int:
    """The frames of a sequence folder (PointOdyssey rgbs/, DAVIS frames/ or a folder of frames),
    counted without reading them."""
    kind = input_kind(sequence)
    folder, pattern = {"pointodyssey": ("rgbs", "rgb_*"), "davis": ("frames", "*")}.get(kind, (".", "*"))
    return len(list_images(Path(sequence) / folder, pattern))


def _inside_zip(folder: Path, name: str) -> Path:
    """The one sequence or frames folder in the unpacked zip ``folder``."""
    try:
        found = find_sequences(folder)
    except ValueError:
        found = []
    if len(found) > 1:
        raise DataError(f"{name} holds {len(found)} sequences; upload one at a time")
    if found:
        return found[0]
    inner = [p for p in folder.iterdir() if p.is_dir()]
    frames = inner[0] if len(inner) == 1 and not any(p.is_file() for p in folder.iterdir()) else folder
    if not list_images(frames):
        raise DataError(
            f"{name}: no PointOdyssey sequence inside (anno.npz and rgbs/), no DAVIS sequence (frames/ and "
            "masks/), nor a folder of frames"
        )
    return frames


def _given_tracks(tracks_path, frames, max_tracks: int | None, seed: int) -> tuple[np.ndarray, TrackSet]:
    given = load_tracks(tracks_path, image_size=frames[0].shape[:2])
    T = min(len(frames), given.num_frames)
    if given.num_frames != len(frames):
        logger.warning(
            "%s has %d frames of tracks, the video %d: using the first %d",
            tracks_path,
            given.num_frames,
            len(frames),
            T,
        )
    frames = frames[:T] if isinstance(frames, np.ndarray) else np.stack([frames[t] for t in range(T)])
    return frames, given.first_frames(T).subsample(max_tracks, seed)


def _load_zip(path: Path, workdir, max_unpacked_bytes: int | None, read: dict) -> VideoInput:
    """:func:`load_input` of the one sequence or frames folder inside a zip, unpacked in ``workdir``."""
    limits = {} if max_unpacked_bytes is None else {"max_bytes": max_unpacked_bytes}
    folder = extract_zip(path, workdir, **limits)
    try:  # everything is read into memory before the folder goes
        inp = load_input(_inside_zip(folder, path.name), **read)
        if not isinstance(inp.frames, np.ndarray):
            inp.frames = np.stack(list(inp.frames))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    # a sequence at the zip's top level is read from the temporary folder: name it after the zip instead
    inp.source = f"{inp.source.replace(folder.name, Path(path.name).stem)} (from {path.name})"
    return inp


def _pointodyssey(path: Path, own_tracks: bool, max_frames, max_tracks, seed) -> tuple:
    """frames (read lazily: PointOdyssey's videos run to thousands of frames), the sequence's own
    tracks and their ground truth (None, None when other tracks are given)."""
    seq = load_pointodyssey(path, max_tracks=max_tracks, seed=seed, max_frames=max_frames)
    if not own_tracks:
        return seq.frames, None, None
    truth = None
    if seq.tracks.object_ids is not None:
        names = {int(i): seq.object_name(int(i)) for i in np.unique(seq.tracks.object_ids)}
        truth = GroundTruth(object_ids=seq.tracks.object_ids, ambiguous=seq.tracks.ambiguous, names=names)
    return seq.frames, seq.tracks, truth


def load_input(
    path,
    *,
    tracks=None,
    max_frames: int | None = None,
    max_tracks: int | None = None,
    seed: int = 0,
    max_side: int | None = None,
    strict: bool = False,
    workdir=None,
    max_unpacked_bytes: int | None = None,
) -> VideoInput:
    """Reads any input the project takes (see the module docstring).

    Args:
        path: a video file, a folder of frames, a DAVIS or PointOdyssey sequence folder, or a
            zip of one of those folders.
        tracks: an optional track file (T, N, 2) in the input's pixels (``datasets.load_tracks``).
        max_frames: read at most this many frames.
        max_tracks: a seeded subsample of given tracks (a PointOdyssey sequence's or the file's).
        seed: seed of that subsample.
        max_side: shrink the frames so that their longest side is at most this (area
            interpolation); masks and given tracks are scaled with them. None: the input's size.
        strict: refuse a video whose frames stop decoding early (``read_video``), instead of a warning.
        workdir: where a zip is unpacked (a fresh folder inside it, removed after reading).
        max_unpacked_bytes: refuse a zip that would unpack to more (default: ``extract_zip``'s).
    Returns:
        :class:`VideoInput`.
    Raises:
        DataError: an unreadable or unknown input (the message names it).
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        read = dict(tracks=tracks, max_frames=max_frames, max_tracks=max_tracks, seed=seed, max_side=max_side)
        return _load_zip(path, workdir, max_unpacked_bytes, read)
    kind = input_kind(path)
    truth = None
    given = None
    if kind == "pointodyssey":
        frames, given, truth = _pointodyssey(path, tracks is None, max_frames, max_tracks, seed)
        source = f"PointOdyssey sequence {path.name}"
    elif kind == "davis":
        seq = load_davis(path, max_frames=max_frames)
        frames = seq.frames
        if seq.masks is not None:
            truth = GroundTruth(masks=seq.masks[: len(frames)], names={0: "background", 1: "object"})
        source = f"DAVIS sequence {path.name}"
    else:
        frames = read_video(path, max_frames=max_frames, strict=strict)
        source = path.name
    if tracks is not None:
        frames, given = _given_tracks(tracks, frames, max_tracks, seed)
        if truth is not None and truth.masks is not None:
            truth.masks = truth.masks[: len(frames)]
        source += f" with tracks from {Path(tracks).name}"
    inp = VideoInput(frames=frames, tracks=given, truth=truth, kind=kind, source=source)
    return _shrunk(inp, max_side) if max_side is not None else inp


def _shrunk(inp: VideoInput, max_side: int) -> VideoInput:
    """The input with frames of at most ``max_side`` pixels, masks and tracks scaled with them."""
    H, W = inp.frames[0].shape[:2]
    if max(H, W) <= max_side:
        return inp
    scale = max_side / max(H, W)
    size = (max(1, round(W * scale)), max(1, round(H * scale)))
    frames = np.stack([cv2.resize(inp.frames[t], size, interpolation=cv2.INTER_AREA) for t in range(len(inp.frames))])
    h, w = frames.shape[1:3]
    truth, tracks = inp.truth, inp.tracks
    if truth is not None and truth.masks is not None:
        masks = np.stack([cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST) for m in truth.masks])
        truth = replace(truth, masks=masks)
    if tracks is not None:  # pixel centres scale about their corners: x' = (x + 0.5) s - 0.5
        factor = np.array([w / W, h / H], np.float32)
        tracks = replace(tracks, tracks=(tracks.tracks + 0.5) * factor - 0.5, image_size=(h, w))
    return replace(inp, frames=frames, truth=truth, tracks=tracks)
