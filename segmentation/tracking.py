"""Point tracks from raw video: OpenCV optical flow with a forward-backward check.

Shapes: T frames, N tracks, H x W image.

Points start in the first frame, on a regular grid or at Shi-Tomasi corners, and are followed
frame to frame by one of two flows:

- ``"lk"``: sparse pyramidal Lucas-Kanade at each point. Precise on textured surfaces, but it
  gives up where the image is flat or blurred (defocused backgrounds, motion blur).
- ``"dis"``: OpenCV's dense DIS optical flow, read at each point by bilinear interpolation.
  Its variational refinement fills flat regions from their surroundings, so more points survive
  on hard footage.

A step is accepted when the flow converged (LK), the point lands inside the image, and following
the backward flow from its new position lands within ``fb_threshold`` pixels of where it started. A point that fails once is lost for good: from that frame on its visibility is False
and its position stays at its last accepted position (LK cannot re-find a point after an
occlusion, so a lost point is never revived). Later stages should treat such tracks as
incomplete: keep only tracks visible in every frame, or compare tracks on the frames where both
are seen (``segmentation.track_mi``).

Re-seeding (``reseed=k``): every k frames, new points start on the grid cells that no live point
occupies any more (where points were lost to occlusion, blur or the image border), so real footage
stays covered; a re-seeded point is invisible before its first frame, and its position there
repeats its first position.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable

import cv2
import numpy as np

from ._imports import datasets

DataError, TrackSet = datasets.DataError, datasets.TrackSet

__all__ = ["FLOWS", "track_frames", "track_points", "tracking_errors"]

FLOWS = ("lk", "dis")
MIN_CELL_PX = 4.5  # track_frames' grid is never finer than this

logger = logging.getLogger(__name__)

LK_PARAMS = dict(
    winSize=(21, 21),
    maxLevel=3,
    criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01),
)


def _grey(frame: np.ndarray) -> np.ndarray:
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def _grid_points(height: int, width: int, num_points: int) -> np.ndarray:
    """(n, 2) points on a regular grid with about num_points cells and a margin of half a cell."""
    step = math.sqrt(height * width / num_points)
    cols, rows = max(1, round(width / step)), max(1, round(height / step))
    xs = (np.arange(cols) + 0.5) * width / cols - 0.5
    ys = (np.arange(rows) + 0.5) * height / rows - 0.5
    return np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)


def _feature_points(grey: np.ndarray, num_points: int) -> np.ndarray:
    height, width = grey.shape
    min_distance = max(3.0, 0.5 * math.sqrt(height * width / num_points))
    corners = cv2.goodFeaturesToTrack(grey, maxCorners=num_points, qualityLevel=0.01, minDistance=min_distance)
    if corners is None:
        raise DataError("no trackable corner found in the first frame; try method='grid'")
    return corners.reshape(-1, 2).astype(np.float64)


def _lk_step(prev: np.ndarray, grey: np.ndarray, p0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, 2) points -> new positions (n, 2), forward-backward error (n,), converged (n,)."""
    p1, ok_fwd, _ = cv2.calcOpticalFlowPyrLK(prev, grey, p0.reshape(-1, 1, 2), None, **LK_PARAMS)
    back, ok_bwd, _ = cv2.calcOpticalFlowPyrLK(grey, prev, p1, None, **LK_PARAMS)
    p1 = p1.reshape(-1, 2)
    fb_error = np.linalg.norm(back.reshape(-1, 2) - p0, axis=1)
    return p1, fb_error, ok_fwd.ravel().astype(bool) & ok_bwd.ravel().astype(bool)


def _sample_flow(flow: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear read of a dense (H, W, 2) flow at (n, 2) points (border pixels repeat)."""
    xs, ys = (points[:, k].reshape(-1, 1).astype(np.float32) for k in (0, 1))
    return cv2.remap(flow, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1, 2)


def _dis_step(dis, prev: np.ndarray, grey: np.ndarray, p0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p1 = p0 + _sample_flow(dis.calc(prev, grey, None), p0)
    back = p1 + _sample_flow(dis.calc(grey, prev, None), p1)
    return p1, np.linalg.norm(back - p0, axis=1), np.ones(len(p0), bool)


class _Seeder:
    """The start grid of about ``num_points`` cells; finds the cells that no live point occupies."""

    def __init__(self, height: int, width: int, num_points: int):
        self.grid = _grid_points(height, width, num_points)  # (n, 2), cell centres
        step = math.sqrt(height * width / num_points)  # as in _grid_points
        self.shape = (max(1, round(height / step)), max(1, round(width / step)))  # rows, cols
        self.cell_size = (height / self.shape[0], width / self.shape[1])

    def _cell(self, points: np.ndarray) -> np.ndarray:
        (rows, cols), (ch, cw) = self.shape, self.cell_size
        r = np.clip(((points[:, 1] + 0.5) / ch).astype(int), 0, rows - 1)
        c = np.clip(((points[:, 0] + 0.5) / cw).astype(int), 0, cols - 1)
        return r * cols + c

    def free_cells(self, live: np.ndarray) -> np.ndarray:
        """(m, 2) cell centres without a point of ``live`` (n, 2) in them."""
        taken = np.zeros(self.shape[0] * self.shape[1], bool)
        taken[self._cell(live)] = True
        return self.grid[~taken[self._cell(self.grid)]]


def _stack_history(history: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame (N_t, 2) positions and (N_t,) alive flags -> (T, N, 2) tracks, (T, N) visibility.

    N_t only grows (re-seeded points are appended); a point's position before it starts
    repeats its first position, and after it is lost, its last one.
    """
    num = len(history[-1][0])
    tracks = np.empty((len(history), num, 2), np.float32)
    visibility = np.zeros((len(history), num), bool)
    for t, (points, alive) in enumerate(history):
        tracks[t, : len(points)] = points
        visibility[t, : len(points)] = alive
        if len(points) < num:  # not started yet: filled below from the first position
            tracks[t, len(points) :] = np.nan
    first = np.argmax(~np.isnan(tracks[..., 0]), axis=0)  # (N,) start frame
    for t in range(len(history)):
        unborn = t < first
        tracks[t, unborn] = tracks[first[unborn], np.flatnonzero(unborn)]
    return tracks, visibility


def _check_tracking(frames: np.ndarray, num_points: int, flow: str, fb_threshold: float, reseed: int) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim not in (3, 4) or (frames.ndim == 4 and frames.shape[3] != 3):
        raise DataError(f"frames must have shape (T, H, W, 3) or (T, H, W); got {frames.shape}")
    if len(frames) < 2:
        raise DataError(f"need at least 2 frames to track; got {len(frames)}")
    if num_points < 1:
        raise DataError(f"num_points must be >= 1; got {num_points}")
    if flow not in FLOWS:
        raise DataError(f"unknown optical flow {flow!r}; use {' or '.join(map(repr, FLOWS))}")
    if not fb_threshold > 0:
        raise DataError(f"fb_threshold must be > 0 pixels; got {fb_threshold}")
    if reseed < 0:
        raise DataError(f"reseed must be >= 0 frames (0: never); got {reseed}")
    if frames.dtype != np.uint8:  # cast below: values must already be 0-255 (NaN or a [0, 1] scale would not be)
        low, high = (float(frames.min()), float(frames.max())) if frames.size else (0.0, 0.0)
        if not (np.isfinite(frames).all() and 0 <= low and high <= 255 and (high > 1 or frames.dtype.kind != "f")):
            raise DataError(f"frames must hold intensities 0-255 (uint8); got {frames.dtype} in [{low:g}, {high:g}]")
    return frames.astype(np.uint8, copy=False)


def _start_points(grey: np.ndarray, num_points: int, method: str, points) -> np.ndarray:
    """(N, 2) first-frame positions: the given ``points``, a grid, or Shi-Tomasi corners."""
    if points is not None:
        start = np.asarray(points, dtype=np.float64)
        if start.ndim != 2 or start.shape[1] != 2 or len(start) == 0 or not np.isfinite(start).all():
            raise DataError(f"points must be a finite (N, 2) array of x, y with N >= 1; got shape {start.shape}")
        return start
    if method == "grid":
        return _grid_points(*grey.shape, num_points)
    if method == "features":
        return _feature_points(grey, num_points)
    raise DataError(f"unknown tracking method {method!r}; use 'grid' or 'features'")


def _follow(frames: np.ndarray, start: np.ndarray, step, fb_threshold: float, seeds, reseed: int, progress):
    """Per-frame (N_t, 2) points and (N_t,) alive flags, following ``start`` through ``frames``."""
    num_frames, height, width = frames.shape[:3]
    prev = _grey(frames[0])
    history = [(start.astype(np.float32), np.ones(len(start), bool))]
    if progress is not None:
        progress(1, num_frames)
    for t in range(1, num_frames):
        grey = _grey(frames[t])
        points, alive = history[-1][0].copy(), history[-1][1].copy()
        idx = np.flatnonzero(alive)
        if len(idx):
            p1, fb_error, converged = step(prev, grey, points[idx])
            inside = (p1[:, 0] >= 0) & (p1[:, 0] <= width - 1) & (p1[:, 1] >= 0) & (p1[:, 1] <= height - 1)
            ok = converged & inside & (fb_error < fb_threshold)
            points[idx[ok]] = p1[ok]
            alive[idx[~ok]] = False
        if seeds is not None and t % reseed == 0 and t < num_frames - 1:
            new = seeds.free_cells(points[alive])
            points = np.concatenate([points, new.astype(np.float32)])
            alive = np.concatenate([alive, np.ones(len(new), bool)])
        history.append((points, alive))
        prev = grey
        if progress is not None:
            progress(t + 1, num_frames)
    return history


def track_points(
    frames: np.ndarray,
    *,
    num_points: int = 400,
    method: str = "grid",
    points: np.ndarray | None = None,
    flow: str = "lk",
    fb_threshold: float = 1.0,
    reseed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> TrackSet:
    """Tracks points through a video with optical flow (rules in the module docstring).

    Args:
        frames: (T, H, W, 3) uint8 RGB (or (T, H, W) grey), T >= 2.
        num_points: about this many points ("grid": the nearest full grid; "features": at most).
        method: "grid" for a regular grid, "features" for Shi-Tomasi corners of the first frame.
        points: (N, 2) pixel positions (x, y) in the first frame to track instead (``num_points``
            and ``method`` are then ignored).
        flow: "lk" (sparse Lucas-Kanade) or "dis" (dense DIS flow); see the module docstring.
        fb_threshold: largest forward-backward error, in pixels, of an accepted step.
        reseed: every ``reseed`` frames, start new points on the empty cells of the grid of
            about ``num_points`` cells (0: never; see the module docstring).
        progress: called as progress(done_frames, T) after each frame.

    Returns:
        N tracks (T, N, 2) with visibility (T, N): True from the frame where a point starts
        (0 unless re-seeded) until the step where it is lost.

    Raises:
        DataError: wrong frame shape, fewer than 2 frames, unknown method or flow.
    """
    frames = _check_tracking(frames, num_points, flow, fb_threshold, reseed)
    num_frames, height, width = frames.shape[:3]
    start = _start_points(_grey(frames[0]), num_points, method, points)
    step = _lk_step
    if flow == "dis":
        step = functools.partial(_dis_step, cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM))
    seeds = _Seeder(height, width, num_points) if reseed else None
    tracks, visibility = _stack_history(_follow(frames, start, step, fb_threshold, seeds, reseed, progress))
    logger.info(
        "tracked %d points over %d frames (%s); %d kept to the end",
        visibility.shape[1],
        num_frames,
        flow,
        visibility.all(axis=0).sum(),
    )
    return TrackSet(tracks=tracks, visibility=visibility, image_size=(height, width))


def track_frames(
    frames: np.ndarray, *, side: int, num_points: int, progress: Callable[[int, int], None] | None = None, **options
) -> TrackSet:
    """:func:`track_points` on frames shrunk to ``side`` pixels; the tracks come back in the frames' pixels.

    ``num_points`` is capped at one point per ``MIN_CELL_PX`` squared pixels of the shrunk frames
    (small videos get fewer points). ``options``: flow, fb_threshold, reseed.
    """
    H, W = frames.shape[1:3]
    scale = min(1.0, side / max(H, W))
    small = frames
    if scale < 1:
        size = (max(1, round(W * scale)), max(1, round(H * scale)))
        small = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
    h, w = small.shape[1:3]
    count = max(1, min(num_points, round(h * w / MIN_CELL_PX**2)))
    tracked = track_points(small, num_points=count, progress=progress, **options)
    factor = np.array([W / w, H / h], np.float32)  # pixel centres scale about their corners
    return TrackSet(tracks=(tracked.tracks + 0.5) * factor - 0.5, visibility=tracked.visibility, image_size=(H, W))


def tracking_errors(tracked: TrackSet, truth: np.ndarray, *, thresholds=(1.0, 2.0, 4.0)) -> dict[str, float]:
    """Scores tracks started at the true first-frame positions against exact (T, N, 2) ``truth``.

    Returns:
        ``survived``: share of the points tracked to the last frame; ``within_<d>px``: share
        of the tracked (visible) point-frames within d pixels of the truth (as TAP-Vid's
        position accuracy); ``median_px`` and ``p95_px``: error over every frame of the
        survivors (drift that the forward-backward check let through).
    """
    truth = np.asarray(truth, dtype=np.float64)
    if truth.shape != tracked.tracks.shape:
        raise ValueError(f"truth must have the tracks' shape {tracked.tracks.shape}; got {truth.shape}")
    error = np.linalg.norm(tracked.tracks - truth, axis=-1)  # (T, N)
    seen = tracked.visibility
    survivors = error[:, seen.all(axis=0)]
    scores = {"survived": float(seen.all(axis=0).mean())}
    scores |= {f"within_{d:g}px": float((error[seen] < d).mean()) for d in thresholds}
    if survivors.size:
        scores |= {"median_px": float(np.median(survivors)), "p95_px": float(np.percentile(survivors, 95))}
    else:
        scores |= {"median_px": float("nan"), "p95_px": float("nan")}
    return scores
