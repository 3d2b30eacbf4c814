"""Synthetic video sequences in the PointOdyssey layout, with exact ground-truth point tracks.

Shapes: T frames, N tracks, H x W image. Positions are pixel (x, y), pixel centres at integers.

The scene is 2-D and rendered with affine warps, so every track's position is known exactly:

- **Background**: a textured canvas 1.7 times the view, seen by a camera that pans and zooms:
  ``image = zoom(t) * (q - centre(t)) + image centre`` for a canvas point q.
- **Objects**: textured sprites (ellipse, star, box, blob), each moved by its own similarity
  transform per frame (a path across the view, rotation, scale) and then by the camera. Object 0
  is articulated: a limb hinged to its body swings back and forth; both parts carry its mask
  index. In a sweep (below), the last object (of two or more) heads out of the view.
- **Motion**: ``motion="sweep"`` (default) plays one pass across the view over the clip,
  however many frames it has; ``motion="wander"`` moves objects, camera and zoom on slow waves
  of a fixed pace in frames (periods of about 60-190 frames), so a long clip holds many turns,
  as PointOdyssey's long videos do, and its first frames are those of a shorter clip;
  ``motion="spin"`` turns each object in place about a fixed axle (a wheel, a fan, a turntable
  seen from above), 0.8-3.6 turns over the clip, while the camera pans and zooms as in a sweep:
  the points of one object move on circles, a motion linear in (x, y) but not per coordinate.
- **Convoy** (``convoy=True``): object 1 takes object 0's path a sixth of the clip later, so
  the two share a trend and a path but not a motion at any one time.
- **Perspective** (``perspective=True``): an object's size follows its depth (``1 / depth``), so
  its points spread and gather as it comes near and goes away.
- **Depth**: each part has a depth per frame; nearer parts paint over farther ones, which makes
  the occlusions, the mask and the depth map. Depth ranges of objects overlap, so their order
  can change.
- **Tracks**: points sampled inside each part away from its edge, and on the background seen
  in the first frame. A point is visible where it lies inside the image and its own part owns
  the pixel at its rounded position.
- **Corruption**: ``corrupt_fraction`` of the tracks get, over a few frames, NaN or infinite
  coordinates, huge finite ones (1e7 pixels) or ``valids`` False; all other tracks are valid
  in every frame.

Files written (the PointOdyssey v1.2 layout; the 3-D data are consistent with a pinhole camera
of focal ``W * zoom(t)`` at the rendered depths, not a full 3-D simulation)::

    rgbs/rgb_00000.jpg, masks/mask_00000.png (palette, colours reshuffled every frame),
    depths/depth_00000.png (uint16, metres = v / 65535 * 1000), normals/normal_00000.jpg,
    anno.npz (trajs_2d, trajs_3d, valids, visibs, intrinsics, extrinsics),
    info.npz (the generator's truth: track_object_ids, track_parts, track_corruption, ...),
    scene_info.json ({"assets": [...], ...})

The bundled sample ``datasets/samples/sample`` (``datasets.SAMPLE_SEQUENCE``) was made with::

    python scripts/make_sequence.py --out datasets/samples/sample --seed 7 --frames 40 --size 270 480 \\
        --tracks 600 --jpeg-quality 85
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .tracks import DataError

__all__ = ["CORRUPTION_KINDS", "generate_sequence"]

logger = logging.getLogger(__name__)

CORRUPTION_KINDS = ("none", "nan", "inf", "huge", "invalid")  # codes 0..4 of info.npz's track_corruption
BACKGROUND_DEPTH = 40.0  # metres
HUGE = 1e7  # pixels: a finite coordinate far outside any image
BACKGROUND_SHARE = 0.35  # of the tracks
EDGE_MARGIN = 3  # sprite pixels between a sampled point and its part's edge
SHAPES = ("ellipse", "star", "box", "blob")
MOTIONS = ("sweep", "wander", "spin")
WANDER_PACE = 48  # frames per unit of the wandering clock (a sweep's default length)
LAYOUT = (("rgbs", "rgb_*.jpg"), ("masks", "mask_*.png"), ("depths", "depth_*.png"), ("normals", "normal_*.jpg"))
LAYOUT_FILES = ("anno.npz", "annotations.npz", "info.npz", "scene_info.json")


@dataclass
class _Part:
    """One rigidly moving textured layer: the background, an object, or one part of an object."""

    rgb: np.ndarray  # (h, w, 3) uint8 texture
    alpha: np.ndarray  # (h, w) uint8, 255 inside the part
    poses: np.ndarray  # (T, 2, 3) affine from sprite pixels to image pixels
    depth: np.ndarray  # (T,) metres
    mask_index: int  # 0 background, k object k - 1
    normal: np.ndarray  # (3,) unit normal in camera coordinates


# ---------------------------------------------------------------------------------------------
# textures and shapes


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(height, width, 3) uint8: coloured blotches, fine grain and random shapes, so LK can track it."""
    low = rng.random((height // 24 + 3, width // 24 + 3)).astype(np.float32)
    low = cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)[..., None]  # (h, w, 1) blotches
    grain = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 1.2)[..., None]
    c0, c1 = rng.uniform(20, 235, size=(2, 3)).astype(np.float32)
    img = c0 * (1 - low) + c1 * low + 220 * (grain - grain.mean())
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(max(4, height * width // 8000)):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(2, max(3, min(height, width) // 14)))
        kind = rng.integers(3)
        if kind == 0:
            cv2.circle(img, (x, y), size, colour, -1, cv2.LINE_AA)
        elif kind == 1:
            cv2.rectangle(img, (x, y), (x + size, y + int(rng.integers(2, 2 * size + 3))), colour, -1)
        else:
            end = (x + int(rng.integers(-3 * size, 3 * size + 1)), y + int(rng.integers(-3 * size, 3 * size + 1)))
            cv2.line(img, (x, y), end, colour, int(rng.integers(1, 4)), cv2.LINE_AA)
    return img


def _shape_alpha(rng: np.random.Generator, kind: str, rx: float, ry: float) -> np.ndarray:
    """(h, w) uint8 alpha of a shape of half-extent (rx, ry) centred in its sprite."""
    h, w = 2 * math.ceil(ry) + 8, 2 * math.ceil(rx) + 8
    alpha = np.zeros((h, w), np.uint8)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    if kind == "ellipse":
        cv2.ellipse(alpha, (round(cx), round(cy)), (round(rx), round(ry)), 0, 0, 360, 255, -1)
        return alpha
    if kind == "box":
        cv2.rectangle(alpha, (round(cx - rx), round(cy - ry)), (round(cx + rx), round(cy + ry)), 255, -1)
        return alpha
    if kind == "star":
        k = int(rng.integers(5, 8))
        angles = np.arange(2 * k) * math.pi / k
        radius = np.where(np.arange(2 * k) % 2 == 0, 1.0, 0.55)
    else:  # blob: a smooth random outline
        angles = np.linspace(0, 2 * math.pi, 48, endpoint=False)
        harmonics = sum(rng.uniform(0.05, 0.15) * np.cos(j * angles + rng.uniform(0, 2 * math.pi)) for j in (2, 3))
        radius = 0.8 + harmonics
    pts = np.stack([cx + rx * radius * np.cos(angles), cy + ry * radius * np.sin(angles)], axis=1)
    cv2.fillPoly(alpha, [np.round(pts).astype(np.int32)], 255)
    return alpha


# ---------------------------------------------------------------------------------------------
# motion


def _similarity(tx, ty, angle, scale, pivot) -> np.ndarray:
    """(T, 3, 3) maps: rotate by angle and scale about sprite point pivot, then move pivot to (tx, ty)."""
    cos, sin = scale * np.cos(angle), scale * np.sin(angle)
    mats = np.zeros((len(cos), 3, 3))
    mats[:, 0, 0], mats[:, 0, 1], mats[:, 1, 0], mats[:, 1, 1] = cos, -sin, sin, cos
    mats[:, 0, 2] = tx - (cos * pivot[0] - sin * pivot[1])
    mats[:, 1, 2] = ty - (sin * pivot[0] + cos * pivot[1])
    mats[:, 2, 2] = 1
    return mats


def _wave(rng: np.random.Generator, tau: np.ndarray, amplitude: float, cycles=(0.4, 1.2)) -> np.ndarray:
    return amplitude * np.sin(2 * math.pi * rng.uniform(*cycles) * tau + rng.uniform(0, 2 * math.pi))


def _sample_inside(rng: np.random.Generator, alpha: np.ndarray, n: int) -> np.ndarray:
    """(n, 2) continuous sprite positions (x, y), EDGE_MARGIN pixels inside the alpha (less if thin)."""
    for margin in range(EDGE_MARGIN, -1, -1):
        ys, xs = np.nonzero(cv2.erode(alpha, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)) > 0)
        if len(xs):
            break
    pick = rng.integers(0, len(xs), size=n)
    jitter = rng.uniform(-0.5, 0.5, size=(n, 2))
    return np.stack([xs[pick], ys[pick]], axis=1) + jitter


def _apply(poses: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(T, 2, 3) affine maps applied to (n, 2) points -> (T, n, 2)."""
    return np.einsum("tij,nj->tni", poses[:, :, :2], points) + poses[:, None, :, 2]


def _object_parts(
    rng, j: int, num_objects: int, tau, camera, cam_x, cam_y, base_depth: float, size, motion: str, shape=None
):
    """The sprite(s) of moving object j (object 0 is articulated: a body and a limb), its name, and
    its path ``shape.lead`` frames behind (canvas x, y, each (T,)), for a convoy's follower.

    ``shape``: a :class:`_Shape` of scene options (None: the plain scene)."""
    height, width = size
    num_frames = len(tau)
    shape = shape or _Shape()
    if shape.lead:  # the same clock run ``lead`` frames earlier too (same draws: the stream is unchanged)
        step = tau[1] - tau[0] if len(tau) > 1 else 1.0
        tau = np.concatenate([tau[0] - step * np.arange(shape.lead, 0, -1), tau])
    facing = np.array([0.0, 0.0, -1.0])
    angle = 2 * math.pi * j / max(num_objects, 1) + rng.uniform(-0.4, 0.4)
    direction = np.array([math.cos(angle), math.sin(angle)])
    start = direction * (0.32 * width, 0.28 * height)
    if motion == "sweep":  # a path through the middle of the view, to roughly the opposite side
        turn = rng.uniform(-0.5, 0.5)
        rot = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
        leaves = num_objects >= 2 and j == num_objects - 1
        end = -(rot @ direction) * ((0.9 * width, 0.9 * height) if leaves else (0.3 * width, 0.25 * height))
        offset = start[:, None] + (end - start)[:, None] * tau  # (2, T) relative to the camera centre
    elif motion == "wander":  # two slow waves per axis about a point on the ring where the sweep would start
        offset = 0.6 * start[:, None] + np.stack(
            [sum(_wave(rng, tau, a / k, (0.25, 0.8)) for k in (1, 2)) for a in (0.25 * width, 0.22 * height)]
        )
    else:  # spin: a fixed axle at that point
        offset = np.repeat(0.6 * start[:, None], len(tau), axis=1)
    # a small sway of the path, drawn in every mode (one order of draws) and left out on an axle
    wobble = np.stack([_wave(rng, tau, 0.03 * side, (0.5, 2.0)) for side in (width, height)])  # (2, T)
    px, py = np.array([cam_x[0], cam_y[0]])[:, None] + offset + (0 if motion == "spin" else wobble)
    behind = (px[:num_frames], py[:num_frames])  # where it was ``lead`` frames before
    tau, px, py, offset = tau[shape.lead :], px[shape.lead :], py[shape.lead :], offset[:, shape.lead :]
    if shape.path is not None:  # a convoy's follower: the leader's path, some frames later
        px, py = shape.path
    heading = rng.uniform(0, 2 * math.pi)  # (draws in this order: sweep sequences stay as they were)
    spin = rng.choice([-1, 1]) * rng.uniform(0.4, 1.8)
    if motion == "wander":
        theta = heading + _wave(rng, tau, spin, (0.2, 0.6))
    else:  # a sweep turns by up to 1.8 radians, a spin by 0.8-3.6 turns
        theta = heading + spin * tau * (4 * math.pi if motion == "spin" else 1)
    scale = rng.uniform(0.85, 1.1) * (1 + _wave(rng, tau, 0.2))
    depth = base_depth + _wave(rng, tau, 1.6)
    if shape.perspective:  # a pinhole's size: nearer is larger (no foreshortening: the sprite stays flat)
        scale = scale[0] * base_depth / depth
    normal = rng.normal(size=3) * (0.4, 0.4, 0.0) + facing
    normal /= np.linalg.norm(normal)

    radius = rng.uniform(0.13, 0.2) * min(height, 1.2 * width)
    articulated = j == 0
    kind = "ellipse" if articulated else SHAPES[int(rng.integers(len(SHAPES)))]
    rx, ry = (radius, 0.6 * radius) if articulated else (radius, radius * rng.uniform(0.65, 1.0))
    alpha = _shape_alpha(rng, kind, rx, ry)
    pivot = ((alpha.shape[1] - 1) / 2, (alpha.shape[0] - 1) / 2)
    body = camera @ _similarity(px, py, theta, scale, pivot)  # (T, 3, 3) sprite -> image
    texture = _texture(rng, *alpha.shape)
    parts = [_Part(texture, alpha, body[:, :2], depth, j + 1, normal)]
    name = f"object{j}_{'articulated' if articulated else kind}{'_convoy' if shape.path is not None else ''}"
    if articulated:
        parts.append(_limb(rng, parts[0], body, tau, radius, joint=(pivot[0] + 0.8 * rx, pivot[1])))
    return parts, name, behind


def _limb(rng, body: _Part, body_to_image: np.ndarray, tau, radius: float, joint) -> _Part:
    """A limb hinged at ``joint`` of the body's sprite (``body_to_image`` (T, 3, 3)), swinging about its own left end."""
    alpha = _shape_alpha(rng, "box", 0.55 * radius, 0.14 * radius)
    pivot = (4 + 0.1 * radius, (alpha.shape[0] - 1) / 2)
    swing = rng.uniform(-0.5, 0.5) + _wave(rng, tau, 0.9, (0.8, 1.6))
    limb = body_to_image @ _similarity(joint[0], joint[1], swing, np.ones(len(tau)), pivot)
    return _Part(_texture(rng, *alpha.shape), alpha, limb[:, :2], body.depth - 0.1, body.mask_index, body.normal)


@dataclass
class _Shape:
    """Scene options beyond the plain scene: ``lead`` frames of a convoy leader's earlier path,
    ``path`` (x, y) a follower takes, ``perspective`` sizes from depths."""

    lead: int = 0
    path: tuple | None = None
    perspective: bool = False


def _build_scene(rng, num_frames, height, width, num_objects, motion="sweep", convoy=False, perspective=False):
    """Parts (background first), asset names, zoom (T,) and the camera's shift (T, 2) from the canvas centre.

    ``convoy``: object 1 follows object 0's path a sixth of the clip (at least 4 frames) behind.
    ``perspective``: each object's size follows its depth."""
    # the motion clock: one sweep spans the clip whatever its length; wandering runs at a fixed
    # pace in frames, so a longer clip holds more turns
    tau = np.arange(num_frames) / WANDER_PACE if motion == "wander" else np.linspace(0, 1, num_frames)
    canvas_h, canvas_w = math.ceil(1.7 * height), math.ceil(1.7 * width)
    canvas_centre = np.array([(canvas_w - 1) / 2, (canvas_h - 1) / 2])
    zoom = 1 + _wave(rng, tau, 0.12)  # (T,)
    cam_x = canvas_centre[0] + _wave(rng, tau, 0.18 * width)  # (T,) canvas point at the image centre
    cam_y = canvas_centre[1] + _wave(rng, tau, 0.12 * height)
    image_centre = np.array([(width - 1) / 2, (height - 1) / 2])
    camera = _similarity(image_centre[0], image_centre[1], np.zeros(num_frames), zoom, (0, 0))
    camera = camera @ _similarity(-cam_x, -cam_y, np.zeros(num_frames), np.ones(num_frames), (0, 0))  # (T, 3, 3)

    facing = np.array([0.0, 0.0, -1.0])  # a normal facing the camera
    background = _Part(
        rgb=_texture(rng, canvas_h, canvas_w),
        alpha=np.full((canvas_h, canvas_w), 255, np.uint8),
        poses=camera[:, :2],
        depth=np.full(num_frames, BACKGROUND_DEPTH),
        mask_index=0,
        normal=facing,
    )
    parts = [background]
    names = []
    base_depths = rng.permutation(4.0 + 2.5 * np.arange(num_objects))
    lag = max(4, num_frames // 6) if convoy else 0
    path = None
    for j in range(num_objects):
        shape = _Shape(lead=lag if j == 0 else 0, path=path if convoy and j == 1 else None, perspective=perspective)
        more, name, path = _object_parts(
            rng, j, num_objects, tau, camera, cam_x, cam_y, base_depths[j], (height, width), motion, shape
        )
        parts += more
        names.append(name)
    return parts, names, zoom, np.stack([cam_x, cam_y], axis=1) - canvas_centre


# ---------------------------------------------------------------------------------------------
# rendering


def _warp_into(part: _Part, t: int, frame: np.ndarray, owner: np.ndarray, index: int) -> None:
    """Paints part at frame t over frame (H, W, 3) and marks its pixels in owner (H, W)."""
    height, width = owner.shape
    pose = part.poses[t]
    h, w = part.alpha.shape
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], float) @ pose[:, :2].T + pose[:, 2]
    x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 2, (width, height))
    if x1 <= x0 or y1 <= y0:
        return  # out of view
    shifted = pose - np.array([[0, 0, x0], [0, 0, y0]])  # render only the bounding box
    size = (int(x1 - x0), int(y1 - y0))
    cover = cv2.warpAffine(part.alpha, shifted, size, flags=cv2.INTER_LINEAR, borderValue=0) >= 128
    rgb = cv2.warpAffine(part.rgb, shifted, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    frame[y0:y1, x0:x1][cover] = rgb[cover]
    owner[y0:y1, x0:x1][cover] = index


def _render(parts: list[_Part], t: int, height: int, width: int):
    """Frame t: rgb (H, W, 3) uint8 and owner (H, W) int16 part index, far parts painted first."""
    background = parts[0]
    frame = cv2.warpAffine(background.rgb, background.poses[t], (width, height), borderMode=cv2.BORDER_REFLECT)
    owner = np.zeros((height, width), np.int16)
    for index in sorted(range(1, len(parts)), key=lambda i: -parts[i].depth[t]):
        _warp_into(parts[index], t, frame, owner, index)
    return frame, owner


def _corrupt(rng, trajs, valids, visibs, corrupt_fraction):
    """Corrupts a share of the tracks in place over a few frames; returns (N,) int8 kind codes."""
    num_frames, num_tracks = valids.shape
    codes = np.zeros(num_tracks, np.int8)
    chosen = rng.permutation(num_tracks)[: round(corrupt_fraction * num_tracks)]
    for k, n in enumerate(chosen):
        code = 1 + (k % (len(CORRUPTION_KINDS) - 1))
        codes[n] = code
        t0 = int(rng.integers(0, num_frames))
        span = slice(t0, min(num_frames, t0 + int(rng.integers(1, max(2, num_frames // 8)))))
        axis = int(rng.integers(0, 2))
        kind = CORRUPTION_KINDS[code]
        if kind == "nan":
            trajs[span, n, axis] = np.nan
        elif kind == "inf":
            trajs[span, n, axis] = rng.choice([-np.inf, np.inf])
        elif kind == "huge":
            trajs[span, n, axis] = rng.choice([-HUGE, HUGE])
        else:  # "invalid": the annotation itself flags the point (behind the camera, too far)
            valids[span, n] = False
        visibs[span, n] = False
    return codes


def _split(count: int, weights: np.ndarray) -> np.ndarray:
    """count split in proportion to weights: integers that sum to count."""
    bounds = np.round(np.concatenate([[0], np.cumsum(weights)]) / weights.sum() * count).astype(int)
    return np.diff(bounds)


def _write_frame(out, t, frame, owner, mask_of_part, depth_of_part, normal_of_part, rng, jpeg_quality) -> None:
    name = f"{t:05d}"
    cv2.imwrite(str(out / "rgbs" / f"rgb_{name}.jpg"), frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    mask = Image.fromarray(mask_of_part[owner].astype(np.uint8))  # mode L
    colours = rng.integers(0, 256, size=(256, 3), dtype=np.uint8)  # new colours every frame, as in the data
    colours[0] = 0
    mask.putpalette(colours.ravel().tolist())  # mode L -> P: the raw values become palette indices
    mask.save(out / "masks" / f"mask_{name}.png")
    depth = np.clip(depth_of_part[owner] / 1000 * 65535, 0, 65535).round().astype(np.uint16)
    cv2.imwrite(str(out / "depths" / f"depth_{name}.png"), depth)
    normals = ((normal_of_part[owner] + 1) / 2 * 255).round().astype(np.uint8)
    cv2.imwrite(str(out / "normals" / f"normal_{name}.jpg"), normals[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 80])


def _prepare_folder(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise DataError(f"output path {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise DataError(f"refusing to write into the non-empty folder {out}; pass overwrite=True to replace it")
        # replace only the files of the layout, never anything else a user keeps there
        for sub, pattern in LAYOUT:
            for f in (out / sub).glob(pattern):
                f.unlink()
        for name in LAYOUT_FILES:
            (out / name).unlink(missing_ok=True)
    for sub, _ in LAYOUT:
        (out / sub).mkdir(parents=True, exist_ok=True)


def _check_arguments(num_frames, size, num_objects, num_tracks, motion, corrupt_fraction, convoy) -> tuple[int, int]:
    """(H, W) of ``size``, after checking the arguments of :func:`generate_sequence`."""
    if convoy and num_objects < 2:
        raise DataError(f"convoy needs at least 2 objects (one follows the other), got {num_objects}")
    if convoy and motion == "spin":
        raise DataError("convoy needs objects that travel (motion sweep or wander); spinning objects stay in place")
    if len(size) != 2:
        raise DataError(f"size must be (H, W); got {size}")
    height, width = (int(v) for v in size)
    if num_frames < 2:
        raise DataError(f"num_frames must be >= 2; got {num_frames}")
    if min(height, width) < 32:
        raise DataError(f"size must be at least (32, 32); got {size}")
    if not 0 <= num_objects <= 20:
        raise DataError(f"num_objects must be in [0, 20]; got {num_objects}")
    if num_tracks < 1:
        raise DataError(f"num_tracks must be >= 1; got {num_tracks}")
    if motion not in MOTIONS:
        raise DataError(f"motion must be one of {', '.join(MOTIONS)}; got {motion!r}")
    if not 0 <= corrupt_fraction <= 0.5:
        raise DataError(f"corrupt_fraction must be in [0, 0.5]; got {corrupt_fraction}")
    return height, width


def _sample_tracks(rng, parts: list[_Part], num_tracks: int, num_objects: int, height: int, width: int):
    """Exact tracks (T, N, 2) and their part indices (N,), in random order as in real files.

    A share of the tracks lies on the background seen in frame 0, the rest is split between the
    objects, then by part area inside an articulated object.
    """
    num_bg = num_tracks if num_objects == 0 else round(BACKGROUND_SHARE * num_tracks)
    part_counts = [num_bg]
    for j, count in enumerate(_split(num_tracks - num_bg, np.ones(num_objects)) if num_objects else []):
        areas = [(p.alpha > 0).sum() for p in parts[1:] if p.mask_index == j + 1]  # parts are in object order
        part_counts += list(_split(count, np.array(areas, float)))
    positions, part_of = [], []  # (T, n, 2) per part, (n,) part index
    for index, (part, count) in enumerate(zip(parts, part_counts, strict=True)):
        if count == 0:
            continue
        if index == 0:
            view = rng.uniform((0, 0), (width - 1, height - 1), size=(count, 2))  # image points in frame 0
            inverse = cv2.invertAffineTransform(part.poses[0])
            local = view @ inverse[:, :2].T + inverse[:, 2]
        else:
            local = _sample_inside(rng, part.alpha, count)
        positions.append(_apply(part.poses, local))
        part_of.append(np.full(count, index))
    order = rng.permutation(num_tracks)
    return np.concatenate(positions, axis=1)[:, order], np.concatenate(part_of)[order]


def _render_frames(out: Path, rng, parts: list[_Part], trajs, track_parts, height: int, width: int, jpeg_quality):
    """Renders and writes every frame with its mask, depth and normals; returns visibs (T, N).

    A point is visible where it lies inside the image and its own part owns the pixel at its
    rounded position.
    """
    num_frames, num_tracks, _ = trajs.shape
    mask_of_part = np.array([p.mask_index for p in parts])
    depth_of_part = np.stack([p.depth for p in parts], axis=1)  # (T, P)
    normal_of_part = np.stack([p.normal for p in parts])  # (P, 3)
    visibs = np.zeros((num_frames, num_tracks), bool)
    for t in range(num_frames):
        frame, owner = _render(parts, t, height, width)
        pix = np.round(trajs[t]).astype(np.int64)  # (N, 2)
        inside = (pix[:, 0] >= 0) & (pix[:, 0] < width) & (pix[:, 1] >= 0) & (pix[:, 1] < height)
        visibs[t, inside] = owner[pix[inside, 1], pix[inside, 0]] == track_parts[inside]
        _write_frame(out, t, frame, owner, mask_of_part, depth_of_part[t], normal_of_part, rng, jpeg_quality)
    return visibs


def _camera_and_3d(parts: list[_Part], trajs, track_parts, zoom, cam_shift, height: int, width: int):
    """(intrinsics (T, 3, 3), extrinsics (T, 4, 4) world -> camera, trajs_3d (T, N, 3)): the tracks
    back-projected with their part's depth through a pinhole camera of focal W * zoom(t)."""
    num_frames = len(trajs)
    focal = width * zoom  # (T,)
    intrinsics = np.zeros((num_frames, 3, 3))
    intrinsics[:, 0, 0] = intrinsics[:, 1, 1] = focal
    intrinsics[:, 0, 2], intrinsics[:, 1, 2], intrinsics[:, 2, 2] = (width - 1) / 2, (height - 1) / 2, 1
    cam_pos = np.zeros((num_frames, 3))
    cam_pos[:, :2] = cam_shift * BACKGROUND_DEPTH / width  # the camera slides parallel to the background
    extrinsics = np.tile(np.eye(4), (num_frames, 1, 1))
    extrinsics[:, :3, 3] = -cam_pos
    depth = np.stack([p.depth for p in parts], axis=1)[:, track_parts]  # (T, N)
    rays = (trajs - intrinsics[:, None, :2, 2]) / focal[:, None, None]  # (T, N, 2)
    trajs_3d = np.concatenate([rays * depth[..., None], depth[..., None]], axis=-1) + cam_pos[:, None]
    return intrinsics, extrinsics, trajs_3d


def _write_annotations(out: Path, trajs, trajs_3d, valids, visibs, intrinsics, extrinsics) -> None:
    """anno.npz, as PointOdyssey v1.2 stores it."""
    np.savez_compressed(
        out / "anno.npz",
        trajs_2d=trajs,
        trajs_3d=trajs_3d.astype(np.float32),
        valids=valids,
        visibs=visibs,
        intrinsics=intrinsics.astype(np.float32),
        extrinsics=extrinsics.astype(np.float32),
    )


def _write_truth(out: Path, truth: dict, names: list[str], seed: int, size: tuple[int, int], num_frames: int) -> None:
    """info.npz (the generator's truth per track) and scene_info.json (the asset names)."""
    np.savez_compressed(
        out / "info.npz",
        **truth,
        corruption_kinds=np.array(CORRUPTION_KINDS),
        image_size=np.array(size),
        seed=np.array(seed),
    )
    info = {"assets": names, "generator": "datasets.synthetic", "seed": seed, "num_frames": num_frames}
    (out / "scene_info.json").write_text(json.dumps(info, indent=2) + "\n")


def generate_sequence(
    out_dir,
    *,
    seed: int,
    num_frames: int = 48,
    size: tuple[int, int] = (540, 960),
    num_objects: int = 3,
    num_tracks: int = 1024,
    corrupt_fraction: float = 0.02,
    overwrite: bool = False,
    jpeg_quality: int = 90,
    motion: str = "sweep",
    convoy: bool = False,
    perspective: bool = False,
) -> Path:
    """Renders a synthetic sequence with exact point tracks in the PointOdyssey layout.

    See the module docstring for the scene and the files. All randomness comes from
    ``np.random.default_rng(seed)``: the same arguments give the same files.

    Args:
        out_dir: the sequence folder to write; it must be empty or absent unless ``overwrite``.
        seed: the random seed.
        num_frames: T >= 2.
        size: (H, W) of the frames, each at least 32.
        num_objects: moving objects (0 to 20); object 0 is articulated.
        num_tracks: N point tracks, about a third of them on the background.
        corrupt_fraction: share of the tracks given corrupted entries (0 to 0.5).
        overwrite: replace the layout files of a non-empty folder (other files are left alone).
        jpeg_quality: JPEG quality of the frames (1-100).
        motion: "sweep" (each object crosses the view once), "wander" (objects, camera and zoom
            drift on slow waves of 60-190 frames, as in the long PointOdyssey videos) or "spin"
            (each object turns in place, 0.8-3.6 turns over the clip).
        convoy: object 1 follows object 0's path, a sixth of the clip behind (2 or more objects).
        perspective: each object's size follows its depth (nearer is larger).

    Returns the folder written. Raises DataError: bad arguments, or a non-empty ``out_dir`` without ``overwrite``.
    """
    checked = (num_frames, size, num_objects, num_tracks, motion, corrupt_fraction, convoy)
    height, width = _check_arguments(*checked)
    start = time.perf_counter()
    out = Path(out_dir)
    _prepare_folder(out, overwrite)
    rng = np.random.default_rng(seed)  # one stream, drawn in this order: scene, tracks, frames, corruption
    parts, names, zoom, cam_shift = _build_scene(
        rng, num_frames, height, width, num_objects, motion, convoy=convoy, perspective=perspective
    )
    trajs, track_parts = _sample_tracks(rng, parts, num_tracks, num_objects, height, width)
    visibs = _render_frames(out, rng, parts, trajs, track_parts, height, width, jpeg_quality)
    intrinsics, extrinsics, trajs_3d = _camera_and_3d(parts, trajs, track_parts, zoom, cam_shift, height, width)
    valids = np.ones((num_frames, num_tracks), bool)
    trajs = trajs.astype(np.float32)
    corruption = _corrupt(rng, trajs, valids, visibs, corrupt_fraction)
    _write_annotations(out, trajs, trajs_3d, valids, visibs, intrinsics, extrinsics)
    ids = np.array([p.mask_index for p in parts])[track_parts].astype(np.int64)
    truth = {"track_object_ids": ids, "track_parts": track_parts.astype(np.int64), "track_corruption": corruption}
    _write_truth(out, truth, names, seed, (height, width), num_frames)
    seconds = time.perf_counter() - start
    logger.info("wrote %s: %d frames %dx%d, %d objects, %d tracks (%d corrupted) in %.1f s", out, num_frames, width,
                height, num_objects, num_tracks, (corruption > 0).sum(), seconds)  # fmt: skip
    return out
