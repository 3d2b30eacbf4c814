"""Scenes of walkers, animals and wheels: a second generator, to check discovery on motion the first does not draw.

Shapes: T frames, N point tracks, H x W image.

``datasets.synthetic`` is the project's own generator (rigid parts and one swinging limb); tuning
on it and scoring on it would flatter the pipeline. This one shares no code with it: every part is
a textured sprite under a per-frame 2-D affine map composed down a joint hierarchy.

- **walker**: torso, head, two arms and two legs of two segments each; the upper segments swing
  0.5-0.9 rad about shoulder and hip at 2.5-4.5 strides per clip, the lower ones bend at the
  elbow and knee; the torso sways.
- **animal**: a body with four legs swinging in a trot, a nodding head and a fast wagging tail.
- **wheel**: a disc turning 1-3 times, rolling along or turning in place.

Every figure walks a path of its own (a steady travel plus a slow random walk) and changes depth
(its scale follows 1 / depth); a camera pans on a smooth random walk and zooms about the view's
centre. Points are drawn inside every part (a point per 120 pixels of part, at least 12; 260 on
the background), seen where their part owns the pixel, with 0.3 px of tracker-like noise.
Written in the PointOdyssey layout (``rgbs/``, palette ``masks/`` with the figure as the object,
``anno.npz``, ``scene_info.json``; ``info.npz`` keeps each track's figure and sprite), so
``scripts/discover.py`` and ``benchmarks.features`` read it.

    python -m benchmarks.articulated --out runs/articulated           # the 8 scenes of RECIPE
    python -m benchmarks.features --data runs/articulated --estimators infonet,pearson,ksg --features xy,xy-velocity,coords
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from infonet.cli import check_out_dir

__all__ = ["KINDS", "RECIPE", "generate_articulated_scene"]

# (seed, figures) of the scenes the README quotes; seeds apart from every other generated scene
RECIPE = (
    (400, ("walker", "walker", "wheel")),
    (401, ("walker", "animal", "wheel")),
    (402, ("animal", "animal", "walker")),
    (403, ("walker", "wheel", "wheel", "animal")),
    (404, ("walker", "animal")),
    (405, ("walker", "walker", "animal")),
    (406, ("wheel", "animal", "walker", "walker")),
    (407, ("animal", "wheel")),
)
BACKGROUND_POINTS = 260
PIXELS_PER_POINT = 120
MIN_FRAMES = 16


def affine(tx=0.0, ty=0.0, angle=0.0, scale=1.0) -> np.ndarray:
    """3 x 3 similarity: rotate by ``angle`` and scale about the origin, then translate."""
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return np.array([[c, -s, tx], [s, c, ty], [0.0, 0.0, 1.0]])


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth colour noise with fine grain: corners for a tracker, a tint per sprite."""
    coarse = rng.random((h // 6 + 2, w // 6 + 2, 3)).astype(np.float32)
    img = 0.6 * cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC) + 0.4 * rng.random(3).astype(np.float32)
    img += 0.08 * rng.standard_normal((h, w, 3)).astype(np.float32)
    return np.clip(img * 255, 0, 255).astype(np.uint8)


@dataclass
class Sprite:
    """A textured part of one figure; ``poses[t]`` maps its pixel coordinates into frame t."""

    texture: np.ndarray  # (h, w, 3) uint8
    alpha: np.ndarray  # (h, w) bool
    figure: int  # 0 background, 1.. the figures
    poses: np.ndarray  # (T, 3, 3)

    @classmethod
    def new(cls, rng, w: int, h: int, figure: int, num_frames: int, shape: str = "ellipse") -> Sprite:
        """A w x h sprite, an ellipse or a bar filling its box, with a fresh texture and no poses yet."""
        alpha = np.zeros((h, w), np.uint8)
        if shape == "ellipse":
            cv2.ellipse(alpha, (w // 2, h // 2), (w // 2 - 1, h // 2 - 1), 0, 0, 360, 255, -1)
        else:
            alpha[1:-1, 1:-1] = 255
        return cls(_texture(rng, h, w), alpha > 0, figure, np.zeros((num_frames, 3, 3)))


def _cycle(rng, tau: np.ndarray, amplitude: float, cycles: float, phase: float | None = None) -> np.ndarray:
    """amplitude * sin(2 pi cycles tau + phase), a random phase unless given."""
    return amplitude * np.sin(2 * np.pi * cycles * tau + (rng.uniform(0, 2 * np.pi) if phase is None else phase))


def _walker(rng, figure: int, body: np.ndarray, tau: np.ndarray) -> list[Sprite]:
    """Torso, head, and arms and legs of two segments each; ``body[t]`` places the torso's centre."""
    T = len(tau)
    strides = rng.uniform(2.5, 4.5)
    torso, head = Sprite.new(rng, 44, 100, figure, T), Sprite.new(rng, 36, 36, figure, T)
    sway = np.stack([affine(angle=a) for a in _cycle(rng, tau, 0.08, strides)])
    trunk = body @ sway
    torso.poses[:] = trunk @ affine(-22, -50)
    head.poses[:] = trunk @ affine(-18, -90)
    arms, legs = [], []
    for limb in range(4):  # arm, arm, leg, leg; each pair in opposite phase
        leg = limb >= 2
        upper = Sprite.new(rng, 16, 50, figure, T, shape="bar")
        lower = Sprite.new(rng, 14, 48, figure, T, shape="bar")
        phase = np.pi * (limb % 2)
        swing = _cycle(rng, tau, rng.uniform(0.5, 0.9), strides, phase) * (-1 if leg else 1)
        bend = rng.uniform(0.3, 0.8) * (1 + _cycle(rng, tau, 1.0, strides, phase + 1.2)) / 2 * (-1 if leg else 1)
        joint = trunk @ np.stack([affine(0, 45 if leg else -40, a) for a in swing])
        upper.poses[:] = joint @ affine(-8, 0)
        lower.poses[:] = joint @ np.stack([affine(0, 46, b) @ affine(-7, 0) for b in bend])
        (legs if leg else arms).extend([upper, lower])
    return legs + [torso, head] + arms  # drawn in this order: legs behind, arms in front


def _animal(rng, figure: int, body: np.ndarray, tau: np.ndarray) -> list[Sprite]:
    """A trotting four-legged body with a nodding head and a wagging tail."""
    T = len(tau)
    strides = rng.uniform(3, 6)
    trunk, head = Sprite.new(rng, 130, 56, figure, T), Sprite.new(rng, 44, 36, figure, T)
    tail = Sprite.new(rng, 50, 12, figure, T, shape="bar")
    trunk.poses[:] = body @ affine(-65, -28)
    head.poses[:] = body @ np.stack([affine(70, -30, a) @ affine(-10, -18) for a in _cycle(rng, tau, 0.35, strides)])
    wag = _cycle(rng, tau, 0.9, rng.uniform(6, 10))
    tail.poses[:] = body @ np.stack([affine(-62, -15, np.pi + a) @ affine(0, -6) for a in wag])
    legs = []
    for x, phase in zip((-45, -35, 40, 50), (0, np.pi, np.pi / 2, 3 * np.pi / 2), strict=True):
        leg = Sprite.new(rng, 14, 50, figure, T, shape="bar")
        leg.poses[:] = body @ np.stack(
            [affine(x, 15, a) @ affine(-7, 0) for a in _cycle(rng, tau, 0.6, strides, phase)]
        )
        legs.append(leg)
    return legs[:2] + [tail, trunk, head] + legs[2:]


def _wheel(rng, figure: int, body: np.ndarray, tau: np.ndarray) -> list[Sprite]:
    """A disc turning 1-3 times about its centre."""
    disc = Sprite.new(rng, 110, 110, figure, len(tau))
    turns = rng.choice([-1, 1]) * rng.uniform(1.0, 3.0)
    disc.poses[:] = body @ np.stack([affine(angle=2 * np.pi * turns * u) for u in tau]) @ affine(-55, -55)
    return [disc]


BUILDERS = {"walker": _walker, "animal": _animal, "wheel": _wheel}
KINDS = tuple(BUILDERS)


def _smooth_walk(rng, n: int, step: float, width: int = 15) -> np.ndarray:
    """A random walk smoothed by a running mean of ``width`` steps (n values)."""
    walk = np.cumsum(rng.standard_normal(n + 2 * width) * step)
    return np.convolve(walk, np.ones(width) / width, mode="same")[width:-width]


def _scene(rng, kinds, num_frames: int, height: int, width: int) -> list[Sprite]:
    """Every sprite in drawing order, the background first, posed for every frame."""
    T, tau = num_frames, np.linspace(0, 1, num_frames)
    pan_x, pan_y = _smooth_walk(rng, T, 3.0), _smooth_walk(rng, T, 1.5)
    zoom = 1 + _cycle(rng, tau, 0.15, rng.uniform(0.3, 0.8))
    camera = np.stack([affine(width / 2 + pan_x[t], height / 2 + pan_y[t], 0, zoom[t]) for t in range(T)])
    camera = camera @ affine(-width / 2, -height / 2)
    background = Sprite.new(rng, width + 400, height + 300, 0, T, shape="bar")
    background.alpha[:] = True
    background.poses[:] = camera @ affine(-200, -150)
    sprites = [background]
    for figure, kind in enumerate(kinds, start=1):
        x0 = width * (figure - 0.5) / len(kinds) + rng.uniform(-60, 60)
        y0 = height * rng.uniform(0.45, 0.65)
        rolls = kind != "wheel" or rng.random() < 0.5  # half of the wheels turn in place
        travel = rng.uniform(-250, 250) if rolls else 0.0
        x = x0 + travel * tau + _smooth_walk(rng, T, 1.0)
        y = y0 + _smooth_walk(rng, T, 0.8)
        scale = 1 / (1 + _cycle(rng, tau, 0.35, rng.uniform(0.2, 0.6)))  # 1 / depth
        body = camera @ np.stack([affine(x[t], y[t], 0, scale[t]) for t in range(T)])
        sprites += BUILDERS[kind](rng, figure, body, tau)
    return sprites


def _points(rng, sprites: list[Sprite]) -> tuple[list[np.ndarray], np.ndarray]:
    """Points inside every sprite in its pixel coordinates (homogeneous, (n, 3)), and each point's sprite."""
    local, owner = [], []
    for index, sprite in enumerate(sprites):
        ys, xs = np.nonzero(sprite.alpha)
        n = BACKGROUND_POINTS if index == 0 else max(12, len(xs) // PIXELS_PER_POINT)
        pick = rng.choice(len(xs), n, replace=len(xs) < n)
        local.append(np.stack([xs[pick] + rng.random(n), ys[pick] + rng.random(n), np.ones(n)], 1))
        owner += [index] * n
    return local, np.array(owner)


def generate_articulated_scene(
    out, *, seed: int, kinds=("walker", "animal", "wheel"), num_frames: int = 120, size=(540, 960), overwrite=False
) -> Path:
    """Writes one scene (see the module docstring) to the folder ``out``; returns it.

    Raises:
        ValueError: an unknown kind, no figures, fewer than 16 frames, a frame under 128 px a
            side, or a non-empty ``out`` without ``overwrite``.
    """
    kinds = tuple(kinds)
    unknown = sorted(set(kinds) - set(KINDS))
    if not kinds or unknown:
        raise ValueError(f"kinds must be one or more of {', '.join(KINDS)}; got {list(kinds)}")
    if num_frames < MIN_FRAMES:
        raise ValueError(f"num_frames must be at least {MIN_FRAMES}; got {num_frames}")
    height, width = size
    if min(height, width) < 128:
        raise ValueError(f"size must be at least 128 x 128 pixels; got {height} x {width}")
    out = check_out_dir(out, overwrite=overwrite)
    layout = [out / name for name in ("anno.npz", "info.npz", "scene_info.json")]
    for old in [*out.glob("rgbs/rgb_*.jpg"), *out.glob("masks/mask_*.png"), *layout]:
        old.unlink(missing_ok=True)  # with overwrite: this layout's files only, never anything else kept there
    rng = np.random.default_rng(seed)
    sprites = _scene(rng, kinds, num_frames, height, width)
    local, owner = _points(rng, sprites)
    figure_of_sprite = np.array([s.figure for s in sprites], dtype=np.uint8)
    palette = np.random.default_rng(1).integers(0, 256, 768).astype(np.uint8).tolist()
    for sub in ("rgbs", "masks"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    tracks = np.zeros((num_frames, len(owner), 2), np.float32)
    visible = np.zeros((num_frames, len(owner)), bool)
    for t in range(num_frames):
        frame = np.zeros((height, width, 3), np.uint8)
        owner_map = np.zeros((height, width), np.int64)  # the sprite drawn last at each pixel
        for index, sprite in enumerate(sprites):
            pose = sprite.poses[t][:2]
            drawn = cv2.warpAffine(sprite.alpha.astype(np.uint8), pose, (width, height), flags=cv2.INTER_NEAREST) > 0
            frame[drawn] = cv2.warpAffine(sprite.texture, pose, (width, height), borderMode=cv2.BORDER_REFLECT)[drawn]
            owner_map[drawn] = index
        tracks[t] = np.concatenate([p @ s.poses[t][:2].T for p, s in zip(local, sprites, strict=True)])
        col, row = np.round(tracks[t]).astype(np.int64).T
        inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
        visible[t, inside] = owner_map[row[inside], col[inside]] == owner[inside]
        cv2.imwrite(str(out / "rgbs" / f"rgb_{t:05d}.jpg"), frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
        mask = Image.fromarray(figure_of_sprite[owner_map], mode="P")
        mask.putpalette(palette)
        mask.save(out / "masks" / f"mask_{t:05d}.png")
    tracks += rng.normal(0, 0.3, tracks.shape).astype(np.float32)
    np.savez_compressed(out / "anno.npz", trajs_2d=tracks, visibs=visible, valids=np.ones_like(visible))
    np.savez_compressed(out / "info.npz", track_figures=figure_of_sprite[owner].astype(np.int64), track_sprites=owner)
    names = [f"{kind}_{figure}" for figure, kind in enumerate(kinds, start=1)]  # mask index k: names[k - 1]
    info = {"assets": names, "generator": "benchmarks.articulated", "seed": seed, "num_frames": num_frames}
    (out / "scene_info.json").write_text(json.dumps(info, indent=2) + "\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for the scenes a0, a1, ...")
    parser.add_argument("--scenes", type=int, default=len(RECIPE), help=f"the first scenes of RECIPE (1-{len(RECIPE)})")
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--overwrite", action="store_true", help="replace the scenes' files in non-empty folders")
    args = parser.parse_args()
    if not 1 <= args.scenes <= len(RECIPE):
        parser.error(f"--scenes must be 1-{len(RECIPE)}; got {args.scenes}")
    try:
        for k, (seed, kinds) in enumerate(RECIPE[: args.scenes]):
            out = generate_articulated_scene(
                Path(args.out) / f"a{k}", seed=seed, kinds=kinds, num_frames=args.frames, overwrite=args.overwrite
            )
            print(f"{out}: {', '.join(kinds)} (seed {seed})")
    except ValueError as err:
        parser.exit(2, f"error: {err}\n")


if __name__ == "__main__":
    main()
