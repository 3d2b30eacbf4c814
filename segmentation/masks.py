"""Grouped tracks to per-pixel masks, and which groups are the primary moving objects.

Shapes: T frames, H x W pixels (h x w once shrunk), N tracks.

Which groups are the objects (:func:`primary_objects`): the background is the group that moves
as the camera does, recognised as the one whose track-time in the band along the image border
(DAVIS's primary objects rarely fill the border), times its spread over the frame (the product of
the standard deviations of its tracks' x and y: a figure that walks along the border is compact, the
background is everywhere), is the largest; every other group of at least
``min_share`` of the tracks whose frame-to-frame motion differs from the background's by a median
of at least ``min_motion`` pixels per frame is a primary moving object. The rest (small or static
groups) count as background.

Carrying labels to pixels, for a video's dense tracks (thousands; the MI needs only a few
hundred of them):

1. **Labels to every track** (:func:`spread_labels`): frame by frame, each track compares its
   step with the steps of its ``neighbours`` nearest grouped tracks; each neighbour votes for its
   group with weight exp(-|step difference|^2 / 2 ``motion_px``^2). A track takes the group whose
   votes have the highest mean weight over its life (the mean, so that the few neighbours of a
   small object are not outvoted), if it passes ``MIN_VOTE``; otherwise it stays unlabelled (-1).
2. **Tracks to pixels** (:func:`object_masks`), on frames shrunk to ``work_side`` pixels (the
   longest side): the object tracks and the background tracks seen in the frame are splatted and
   blurred by a Gaussian of ``spread`` times the image diagonal, or half the mean spacing of the
   points if that is wider (a soft Voronoi vote). With the dense motion scores of
   :func:`segmentation.motion.dense_residuals` (a pixel's motion unlike the camera's, 1 typical),
   a score z becomes the evidence z^2 / (z^2 + ``motion_scale``^2) (1/2 at z = ``motion_scale``),
   and a pixel's evidence of being object is the mean of the track vote's object share and the
   motion evidence, weighted by ``motion_weight``; in a frame where nothing moves clearly (the
   99th percentile q of its motion evidence under ``motion_reference``: the camera follows a slow
   subject, water moves everywhere a little) that weight is scaled by q / ``motion_reference``, so
   that dense motion which sees nothing cannot veto the tracks, whose scores span the whole video.
   With ``colour_weight`` (default 0.3) the evidence is then blended with the video's colour model
   (:func:`colour_model`): CIELAB histograms of the pixels the evidence is sure of, object and
   background, over all the frames, so that a frame where motion says little (a duck on moving
   water) borrows the object's colours from the frames where it said much.
   The evidence is averaged over SLIC superpixels (scikit-image; computed on a copy of the frame
   ``superpixel_shrink`` times smaller a side and scaled back, a quarter of the time at 2), and a
   superpixel whose evidence passes 1/2 is foreground: the tracks say where an object is, the dense
   motion where its pixels are (the tracks are sparse on fast or textureless objects, the flow is
   wrong on textureless background and parallax).
3. **Clean-up**: connected foreground regions whose weight is under ``keep_share`` of the frame's
   heaviest are dropped (stray movers: a tracking glitch, a patch of parallax); a region's weight is
   its area, or with ``keep_by="motion"`` and dense motion scores its motion energy, the sum of its
   pixels' z^2 (a near wall's parallax covers more pixels than the person running along it, but moves
   less unlike the camera). The rest is refined by
   OpenCV's GrabCut (colour models of object and background, and a graph cut that follows the
   image's edges) on frames shrunk to ``refine_side``, or further for a mask that holds more than
   ``refine_pixels`` pixels there (about that many then: GrabCut's time grows with its pixels, and a
   large object's edge needs fewer): pixels deeper than ``REFINE_CORE`` of the
   diagonal inside the mask are sure object, pixels farther than ``REFINE_BAND`` outside it sure
   background, the band between is GrabCut's to decide. GrabCut runs on the box around the
   undecided pixels padded by ``REFINE_CONTEXT`` of the diagonal (its colour models are those of
   the object's surroundings), and superpixels are computed only around the pixels whose
   evidence passes ``CANDIDATE``.
   Foreground pixels take the object whose tracks are densest there. The masks are scaled back to
   the input size.

Measured on the twelve davis-dev videos with the default tracks and movers (Pearson; mean J of
the foreground; the last row is ``scripts/pr_curves.py``'s, which gives the defaults' figures per
estimator):

| mask step | J |
|---|---|
| track vote only, 600 superpixels and GrabCut at 427 / 213 px (the previous default) | 0.451 |
| + dense motion evidence at weight 1/2, scale 3 (gating the vote by it instead: 0.482) | 0.503 |
| + GrabCut at 427 px | 0.552 |
| + 1,200 superpixels | 0.568 |
| everything at 640 px (2,700 superpixels) | 0.593 |
| + GrabCut on the padded box, 2 iterations (16.4 s per video against 19.3, same runs) | 0.593 |
| + motion weight 0.55 and scale 4 (0.604-0.612 for weights 0.55-0.6 and scales 3-5) | 0.612 |
| + 1 GrabCut and 5 SLIC iterations (**default**; each alone: J 0.608 / 0.614, 13 % / 8 % faster) | 0.611 |

Then chosen by leaving one of the 22 davis-dev videos out (``benchmarks/masks.py``, the mask options
one step from the row above and a second step from the best of those): a narrower vote (``spread``
0.007 instead of 0.01), 4,000 superpixels of compactness 5 (instead of 2,700 of compactness 10),
and the dense evidence's weight scaled in calm frames (``motion_reference`` 0.4), then the colour
model at weight 0.3 (chosen on all videos over every frame and over five frames). Held-out mean J
0.634 (lowest video 0.192, parkour) over five frames per video, against 0.608 (0.317) without the
colour model; over every frame 0.598 (0.132) held out, 0.603 (0.172) in-sample, against 0.598
(0.132) (docs/video.md, which has the later steps and the current held-out figures: regions kept
by motion energy, GrabCut on fewer pixels, and the pipeline's short movers left out of the vote,
``VideoOptions.min_mover_frames``).

Resolution matters because DAVIS's objects are small (2-20 % of the frame): a pixel of the
213-px GrabCut frame is 16 input pixels, most of a thin part.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np
from skimage.segmentation import slic

from .motion import near_border

__all__ = [
    "MaskOptions",
    "border_share",
    "colour_codes",
    "colour_model",
    "keep_large_regions",
    "object_masks",
    "primary_objects",
    "refine_mask",
    "resize_masks",
    "spread_labels",
]

BORDER_SHARE = 0.06  # the band along the image border, as a share of the shorter side
MIN_VOTE = 0.3  # least mean vote weight per step for a track to take a group (spread_labels)
REFINE_CORE = 0.025  # GrabCut: mask pixels this far inside (share of the diagonal) are sure object
REFINE_BAND = 0.02  # GrabCut: pixels this far outside the mask are sure background
REFINE_ITERATIONS = 1
MIN_REFINE_PIXELS = 20  # smaller masks are left as they are
MIN_REFINE_SIDE = 320  # refine_pixels never shrinks GrabCut's frames below this side
REFINE_CONTEXT = 0.3  # GrabCut runs on the box around the undecided pixels, padded by this share of the diagonal
SLIC_ITERATIONS = 5  # k-means iterations of SLIC (10, its default, gave the same J: 0.612 against 0.614)
MIN_SUPERPIXEL_PIXELS = 12  # MaskOptions.superpixel_shrink stops where SLIC's segments would hold fewer pixels
CANDIDATE = 0.25  # superpixels are computed only around the pixels whose evidence passes this
DENSITY_CELL = 3  # the track densities are blurred on cells of at most a third of their width
COLOUR_BINS = (8, 16, 16)  # the colour model's bins per CIELAB channel (L coarser: shading changes it)
COLOUR_STEP = (256 // np.array(COLOUR_BINS)).astype(np.uint8)  # CIELAB values per bin
COLOUR_SURE = (0.25, 0.6)  # the colour model learns from pixels whose evidence is under / over these
COLOUR_REACH = (0.5 - CANDIDATE) / (
    1 - CANDIDATE
)  # colour weights under this cannot lift evidence under CANDIDATE to 1/2
KEEP_BY = ("area", "motion")  # MaskOptions.keep_by
REACH_AS = ("vote", "floor")  # MaskOptions.reach_as
MIN_COLOUR_PIXELS = 200  # fewer sure pixels of either kind (every 4th pixel counted): no colour model
EPS = 1e-6


@dataclass
class MaskOptions:
    """How labels are carried to pixels (see the module docstring).

    Attributes:
        work_side: longest side of the frames the masks are computed on.
        spread: width (sigma) of the soft Voronoi vote, share of the diagonal.
        reach: > 0: pixels far from every track lean to the background (no track there is evidence
            too): a constant, one track's vote at ``reach`` of the vote's widths, joins the vote as
            ``reach_as`` says, so an object among sparse background tracks is not drawn out to halfway
            to them. 0: off (a pixel takes the side of its nearest tracks however far they are).
        reach_as: "floor": the votes' total is at least that constant, so only pixels where every
            track's vote is weak lean to the background (a lone track's side ends 1.3 widths from it
            at reach 0.5) and an object's interior keeps its vote whole. "vote": the constant is one
            more background vote everywhere, so pixels between an object's sparse tracks lean to the
            background too (a lone track's side ends at ``reach`` widths; inside a region tracked at
            the average density the vote tops out near 0.83 at reach 1.5).
        superpixels: SLIC segments per frame (0: no snapping).
        superpixel_shrink: SLIC runs on a copy of the frame this many times smaller a side, and its
            segments are scaled back (2: a quarter of SLIC's time, the same J; 1: full size).
        compactness: SLIC compactness.
        keep_share: foreground regions whose weight is under this share of the frame's heaviest are dropped.
        keep_by: a region's weight: "motion" (default: the sum of its pixels' squared dense motion
            scores; the area without dense motion) or "area".
        refine: refine the masks by GrabCut. refine_side: longest side of the frames it runs on.
        refine_pixels: > 0: a frame whose mask holds more pixels than this at ``refine_side`` is
            refined on a smaller copy where it holds about this many (a large object's boundary
            needs fewer pixels; GrabCut's time grows with them).
        motion_weight: weight of the dense motion evidence against the track vote (when given).
        motion_scale: the motion score whose evidence is 1/2.
        motion_reference: > 0: in a frame whose dense motion evidence reaches only q < this at its
            99th percentile (nothing moves clearly anywhere), the evidence's weight is scaled by
            q / ``motion_reference``: a frame whose dense motion sees nothing cannot veto the tracks.
        colour_weight: > 0: the evidence is blended, with this weight, with the video's colour model
            (:func:`colour_model`: the colours of the pixels the evidence is sure of, object and background,
            over all the frames), so that frames where motion is weak borrow from frames where it is clear.
        threads: frames drawn at once (OpenCV and SLIC release the GIL).
    """

    work_side: int = 640
    spread: float = 0.007
    reach: float = 0.5
    reach_as: str = "floor"
    superpixels: int = 4000
    superpixel_shrink: int = 2
    compactness: float = 5.0
    keep_share: float = 0.3
    keep_by: str = "motion"
    refine: bool = True
    refine_side: int = 640
    refine_pixels: int = 15000
    motion_weight: float = 0.55
    motion_scale: float = 4.0
    motion_reference: float = 0.4
    colour_weight: float = 0.3
    threads: int = 2

    def __post_init__(self):
        if not 0.0 <= self.motion_weight <= 1.0:
            raise ValueError(f"motion_weight must be in [0, 1], got {self.motion_weight}")
        if not self.motion_scale > 0:
            raise ValueError(f"motion_scale must be > 0, got {self.motion_scale}")
        if not 0.0 <= self.colour_weight < COLOUR_REACH:
            raise ValueError(f"colour_weight must be in [0, {COLOUR_REACH:.2f}), got {self.colour_weight}")
        if self.keep_by not in KEEP_BY:
            raise ValueError(f"keep_by must be one of {KEEP_BY}, got {self.keep_by!r}")
        if self.reach_as not in REACH_AS:
            raise ValueError(f"reach_as must be one of {REACH_AS}, got {self.reach_as!r}")
        if not 0.0 <= self.motion_reference <= 1.0:
            raise ValueError(f"motion_reference must be in [0, 1], got {self.motion_reference}")
        for name in ("work_side", "refine_side", "threads", "superpixel_shrink"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.reach < 10.0:
            raise ValueError(f"reach must be in [0, 10) vote widths (0: no limit), got {self.reach}")
        if self.refine_pixels < 0:
            raise ValueError(f"refine_pixels must be >= 0 (0: GrabCut on every pixel), got {self.refine_pixels}")
        if not 0.0 < self.spread <= 1.0:
            raise ValueError(f"spread must be in (0, 1] (a share of the frame's diagonal), got {self.spread}")
        if self.superpixels < 0:
            raise ValueError(f"superpixels must be >= 0 (0: no snapping), got {self.superpixels}")
        if not 0.0 < self.compactness < math.inf:
            raise ValueError(f"compactness must be > 0 and finite, got {self.compactness}")
        if not 0.0 <= self.keep_share <= 1.0:
            raise ValueError(f"keep_share must be in [0, 1] (a share of the heaviest region), got {self.keep_share}")


def _shrink(frame: np.ndarray, side: int) -> np.ndarray:
    h, w = frame.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale == 1.0:
        return frame
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def _pixels(points: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    h, w = shape
    return np.clip(np.rint(points[:, 1]).astype(int), 0, h - 1), np.clip(np.rint(points[:, 0]).astype(int), 0, w - 1)


def _density(points: np.ndarray, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """The points splatted on an (h, w) grid and blurred by a Gaussian of ``sigma`` pixels. A wide
    blur runs on cells of ``sigma / DENSITY_CELL`` pixels (each point shared bilinearly among the
    four nearest cell centres), scaled back: away from the border the same field within a few per
    cent of its peak (tests/test_masks.py), at a fraction of the cost (a 960 x 540 scene of 300 tracks
    and 5 objects: 3.9 s of the masks' 36 s on one thread, 0.2 s so)."""
    h, w = shape
    cell = max(1, int(sigma / DENSITY_CELL))
    if cell == 1:
        splat = np.zeros(shape, np.float32)
        np.add.at(splat, _pixels(points, shape), 1.0)
        return cv2.GaussianBlur(splat, (0, 0), sigma) + EPS
    coarse = (-(-h // cell), -(-w // cell))
    at = np.clip((points + 0.5) / cell - 0.5, 0, [coarse[1] - 1, coarse[0] - 1])  # in cells, centres as resize has them
    low = np.minimum(at.astype(int), [coarse[1] - 2, coarse[0] - 2]).clip(0)
    frac = at - low
    splat = np.zeros(coarse, np.float32)
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        weight = np.abs(1 - dx - frac[:, 0]) * np.abs(1 - dy - frac[:, 1])
        np.add.at(splat, (low[:, 1] + dy, low[:, 0] + dx), weight)
    blurred = cv2.GaussianBlur(splat, (0, 0), sigma / cell, borderType=cv2.BORDER_REFLECT) / cell**2  # per pixel
    return cv2.resize(blurred, (coarse[1] * cell, coarse[0] * cell), interpolation=cv2.INTER_LINEAR)[:h, :w] + EPS


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def keep_large_regions(mask: np.ndarray, share: float, weight: np.ndarray | None = None) -> np.ndarray:
    """A boolean (h, w) mask without its connected regions whose weight is under ``share`` of the
    heaviest's: a region's weight is its area, or the sum of ``weight`` ((h, w), >= 0) over it."""
    count, regions, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 2:
        return mask
    if weight is None:
        mass = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    else:
        mass = np.bincount(regions.ravel(), np.asarray(weight, np.float64).ravel(), minlength=count)[1:]
    return np.isin(regions, 1 + np.flatnonzero(mass >= share * mass.max()))


def _box(mask: np.ndarray, pad: int) -> tuple[slice, slice] | None:
    """The bounding box of the True pixels of a (h, w) mask, padded by ``pad`` pixels (None if none)."""
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return None
    h, w = mask.shape
    return slice(max(ys.min() - pad, 0), min(ys.max() + pad + 1, h)), slice(
        max(xs.min() - pad, 0), min(xs.max() + pad + 1, w)
    )


def snap_to_superpixels(
    image: np.ndarray,
    evidence: np.ndarray,
    segments: int,
    compactness: float,
    candidates: np.ndarray | None = None,
    shrink: int = 1,
) -> np.ndarray:
    """The (h, w) evidence averaged over the SLIC superpixels of the RGB ``image`` (``segments`` per
    frame), computed only in the box around the ``candidates`` pixels (default: those whose evidence
    passes ``CANDIDATE``: where it could pass 1/2; elsewhere it is left as it is), padded by two
    superpixel widths. With ``shrink`` > 1 SLIC runs on a copy of the box that many times smaller a
    side (its cost goes with the pixels), or less so that a segment keeps ``MIN_SUPERPIXEL_PIXELS``
    pixels there, and its segments are scaled back by nearest neighbour."""
    h, w = evidence.shape
    width = np.sqrt(h * w / max(segments, 1))
    box = _box(evidence > CANDIDATE if candidates is None else candidates, round(2 * width))
    if box is None:
        return evidence
    part = evidence[box]
    ph, pw = part.shape
    shrink = min(shrink, width / math.sqrt(MIN_SUPERPIXEL_PIXELS))  # under 1: small frames stay as they are
    small = _shrink(image[box], max(1, round(max(ph, pw) / shrink)))
    labels = slic(
        small,
        n_segments=max(1, round(segments * part.size / (h * w))),
        compactness=compactness,
        max_num_iter=SLIC_ITERATIONS,
        start_label=0,
    )
    labels = cv2.resize(labels.astype(np.int32), (pw, ph), interpolation=cv2.INTER_NEAREST).ravel()
    out = evidence.copy()
    sums, counts = np.bincount(labels, part.ravel()), np.bincount(labels)
    out[box] = (sums / np.maximum(counts, 1))[labels].reshape(part.shape)  # a label lost in the resize: never read
    return out


def refine_mask(image: np.ndarray, mask: np.ndarray, side: int, max_pixels: int = 0) -> np.ndarray:
    """A boolean (h, w) mask of the RGB ``image`` refined by GrabCut on a copy shrunk to ``side``,
    or further so that the mask holds about ``max_pixels`` pixels there (if > 0 and it holds more)."""
    h, w = mask.shape
    if max_pixels > 0:
        held = mask.sum() * (side / max(h, w)) ** 2
        if held > max_pixels:
            side = max(MIN_REFINE_SIDE, round(side * math.sqrt(max_pixels / held)))
    small = _shrink(image, side)
    sh, sw = small.shape[:2]
    seed = cv2.resize(mask.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST)
    if seed.sum() < MIN_REFINE_PIXELS:
        return mask
    diagonal = float(np.hypot(sh, sw))
    band = cv2.dilate(seed, _disk(max(1, round(REFINE_BAND * diagonal))))
    core = cv2.erode(seed, _disk(max(1, round(REFINE_CORE * diagonal))))
    trimap = np.full((sh, sw), cv2.GC_BGD, np.uint8)
    trimap[band > 0] = cv2.GC_PR_BGD
    trimap[seed > 0] = cv2.GC_PR_FGD
    trimap[core > 0] = cv2.GC_FGD
    box = _box(trimap != cv2.GC_BGD, round(REFINE_CONTEXT * diagonal))  # the colour models are the box's
    crop = np.ascontiguousarray(trimap[box])
    models = np.zeros((1, 65)), np.zeros((1, 65))
    try:
        cv2.grabCut(
            np.ascontiguousarray(small[box][..., ::-1]), crop, None, *models, REFINE_ITERATIONS, cv2.GC_INIT_WITH_MASK
        )
    except cv2.error:  # one colour only, or no sure pixels of a kind: keep the mask
        return mask
    refined = np.zeros((sh, sw), np.uint8)
    refined[box] = (crop == cv2.GC_FGD) | (crop == cv2.GC_PR_FGD)
    return cv2.resize(refined, (w, h), interpolation=cv2.INTER_NEAREST) > 0


def spread_labels(tracks, visibility, labels, grouped, *, neighbours: int = 16, motion_px: float = 1.0) -> np.ndarray:
    """Labels for every track from the grouped ones, by the steps of their nearest neighbours.

    Args:
        tracks: (T, N, 2) pixel x, y. visibility: (T, N) bool.
        labels: (N,) labels of the grouped tracks (0 background, 1..K objects, -1 noise; ignored elsewhere).
        grouped: (N,) bool, the tracks whose label is known (they keep it).
        neighbours: grouped tracks each track compares itself with, per frame.
        motion_px: tolerance of a step difference, pixels per frame.
    Returns:
        (N,) labels: the grouped tracks' own, the others' by vote (module docstring), -1 unsure.
    """
    from scipy.spatial import cKDTree

    tracks, seen, labels = np.asarray(tracks, np.float64), np.asarray(visibility, bool), np.asarray(labels)
    grouped = np.asarray(grouped, bool) & (labels >= 0)
    T, N = seen.shape
    num_groups = int(labels[grouped].max(initial=-1)) + 1
    out = np.where(grouped, labels, -1)
    if num_groups == 0:
        return out
    weights = np.zeros((N, num_groups))  # summed vote weight of each group's neighbours
    counts = np.zeros((N, num_groups))  # how many neighbour-steps of each group voted
    for t in range(T - 1):
        moving = seen[t] & seen[t + 1]
        known = np.flatnonzero(moving & grouped)
        ask = np.flatnonzero(moving & ~grouped)
        if not len(known) or not len(ask):
            continue
        k = min(neighbours, len(known))
        _, near = cKDTree(tracks[t, known]).query(tracks[t, ask], k=k)
        near = known[near.reshape(len(ask), k)]  # (n, k)
        step = tracks[t + 1] - tracks[t]  # (N, 2)
        miss = np.sum((step[ask, None] - step[near]) ** 2, axis=-1)  # (n, k)
        where = (np.repeat(ask, k), labels[near].ravel())
        np.add.at(weights, where, np.exp(-miss / (2 * motion_px**2)).ravel())
        np.add.at(counts, where, 1.0)
    # the mean weight per group, not the sum: a small object's few neighbours are not outvoted
    mean = np.divide(weights, counts, out=np.zeros_like(weights), where=counts > 0)
    best = mean.argmax(axis=1)
    sure = ~grouped & (mean.max(axis=1) >= MIN_VOTE)
    out[sure] = best[sure]
    return out


def _scores_at(motion: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A frame's dense motion scores resized to ``shape`` (h, w)."""
    return cv2.resize(np.asarray(motion, np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def _motion_evidence(motion: np.ndarray, shape: tuple[int, int], opts: MaskOptions) -> np.ndarray:
    """(h, w) evidence z^2 / (z^2 + motion_scale^2) of a frame's dense motion scores z, at ``shape``."""
    z = _scores_at(motion, shape)
    return z**2 / (z**2 + opts.motion_scale**2)


def object_masks(
    frames,
    tracks,
    visibility,
    labels,
    objects,
    *,
    motion: np.ndarray | None = None,
    options: MaskOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Per-pixel masks of the primary objects in every frame (see the module docstring).

    Args:
        frames: T frames (H, W, 3) uint8 RGB (an array or a sequence read frame by frame).
        tracks: (T, N, 2) pixel x, y in the frames' pixels. visibility: (T, N) bool.
        labels: (N,) group of each track (-1 unlabelled). objects: the groups that are primary
            objects (:func:`primary_objects`); every other group is background.
        motion: optional (T, h, w) dense motion scores (:func:`segmentation.motion.dense_residuals`,
            any h x w), combined with the track vote.
        options: :class:`MaskOptions`.
        progress: optional callback ``progress(done, T)`` after each frame.
    Returns:
        (T, H, W) int16: the label of the object at each pixel (one of ``objects``), 0 the background.
    """
    opts = options or MaskOptions()
    tracks, visibility, labels = np.asarray(tracks, np.float64), np.asarray(visibility, bool), np.asarray(labels)
    T = len(tracks)
    if motion is not None and len(motion) != T:
        raise ValueError(f"motion has {len(motion)} frames, the tracks {T}")
    objects = [int(k) for k in objects]
    role = np.where(np.isin(labels, objects), 1, np.where(labels >= 0, 0, -1))

    def points(t: int) -> _Points:
        return _Points(tracks[t], visibility[t] & (role == 1), visibility[t] & (role == 0), labels)

    size = frames[0].shape[:2]

    def evidence(t: int) -> _FrameInputs:
        small = _shrink(frames[t], opts.work_side)
        share = _frame_evidence(small, size, points(t), None if motion is None else motion[t], opts)
        codes = colour_codes(small) if opts.colour_weight > 0 else None
        return _FrameInputs(small, share, codes, None if motion is None else motion[t])

    out = np.zeros((T, *size), np.int16)
    with ThreadPoolExecutor(max(1, opts.threads)) as pool:  # OpenCV and SLIC release the GIL: frames in parallel
        colours = None
        if opts.colour_weight > 0:  # the evidence of every frame first (frames shrunk: 0.7 MB each at 640 px):
            prepared = list(pool.map(evidence, range(T)))  # the colour model is the video's
            colours = colour_model([p.codes for p in prepared], [p.share for p in prepared])
            frame_inputs = prepared.__getitem__
        else:  # each frame's evidence where it is drawn: nothing kept
            frame_inputs = evidence

        def one(t: int) -> np.ndarray:
            return _frame_mask(frame_inputs(t), size, points(t), objects, colours, opts)

        for t, mask in enumerate(pool.map(one, range(T))):
            out[t] = mask
            if progress is not None:
                progress(t + 1, T)
    return out


class _FrameInputs(NamedTuple):
    """What a frame's mask is drawn from (:func:`object_masks`)."""

    small: np.ndarray  # the frame shrunk to work_side
    share: np.ndarray | None  # (h, w) evidence of being object; None if no object track is seen
    codes: np.ndarray | None  # (h, w) colour bins (with the colour model)
    motion: np.ndarray | None  # the frame's dense motion scores, any size


@dataclass
class _Points:
    xy: np.ndarray  # (N, 2) one frame's track positions, input pixels
    obj: np.ndarray  # (N,) bool: seen, on an object
    bg: np.ndarray  # (N,) bool: seen, on the background
    labels: np.ndarray  # (N,)


def _vote_sigma(points: _Points, shape: tuple[int, int], opts: MaskOptions) -> float:
    """The width of the soft Voronoi vote, pixels of ``shape``: ``spread`` of the diagonal, or half
    the mean spacing of the points if wider (the kernels must meet between them)."""
    spacing = np.sqrt(shape[0] * shape[1] / max(int((points.obj | points.bg).sum()), 1))
    return max(opts.spread * float(np.hypot(*shape)), 0.5 * spacing)


def _frame_evidence(small: np.ndarray, size, points: _Points, motion, opts: MaskOptions) -> np.ndarray | None:
    """(h, w) float32 evidence of being object on a frame of ``size`` (H, W) shrunk to ``small``
    (step 2 of the module docstring, before the superpixels); None if no object track is seen in it."""
    if not points.obj.any():
        return None
    shape = small.shape[:2]
    xy = points.xy * (shape[1] / size[1])
    sigma = _vote_sigma(points, shape, opts)
    d_obj, d_bg = _density(xy[points.obj], shape, sigma), _density(xy[points.bg], shape, sigma)
    # one track's vote at ``reach`` widths: a floor under the votes' total, or one more background vote
    floor = np.exp(-0.5 * opts.reach**2) / (2 * np.pi * sigma**2) if opts.reach > 0 else 0.0
    total = d_obj + d_bg + floor if opts.reach_as == "vote" else np.maximum(d_obj + d_bg, floor)
    share = d_obj / total
    if motion is not None:
        evidence = _motion_evidence(motion, shape, opts)
        weight = opts.motion_weight
        if opts.motion_reference > 0:
            weight *= min(1.0, float(np.percentile(evidence, 99)) / opts.motion_reference)
        share = (1 - weight) * share + weight * evidence
    return share.astype(np.float32)


def colour_codes(image: np.ndarray) -> np.ndarray:
    """(h, w) uint16 index of each pixel of an RGB image in the CIELAB colour bins (COLOUR_BINS per channel)."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB) // COLOUR_STEP
    return (lab[..., 0].astype(np.uint16) * COLOUR_BINS[1] + lab[..., 1]) * COLOUR_BINS[2] + lab[..., 2]


def colour_model(codes, shares) -> np.ndarray | None:
    """The probability that a colour is object, learnt over a video: (bins,) from the colour
    histograms of the pixels whose evidence passes ``COLOUR_SURE[1]`` (object) and of those under
    ``COLOUR_SURE[0]`` (background), each normalised (equal priors) with one count added per bin.
    ``codes``: per frame the (h, w) colour bins of its pixels (:func:`colour_codes`); ``shares``: the
    frames' (h, w) evidence, or None. None when either side has fewer than ``MIN_COLOUR_PIXELS`` pixels."""
    bins = int(np.prod(COLOUR_BINS))
    counts = np.zeros((2, bins))
    for code, share in zip(codes, shares, strict=True):
        if share is None:
            continue
        code, share = code[::2, ::2].ravel(), share[::2, ::2].ravel()  # every 4th pixel is plenty
        counts[0] += np.bincount(code[share < COLOUR_SURE[0]], minlength=bins)
        counts[1] += np.bincount(code[share > COLOUR_SURE[1]], minlength=bins)
    if counts.sum(axis=1).min() < MIN_COLOUR_PIXELS:
        return None
    density = (counts + 1) / (counts.sum(axis=1, keepdims=True) + bins)
    return (density[1] / density.sum(axis=0)).astype(np.float32)


def _frame_mask(
    inputs: _FrameInputs, size, points: _Points, objects: list[int], colours, opts: MaskOptions
) -> np.ndarray:
    """(H, W) = ``size`` int16 object labels of one frame from its ``inputs`` (steps 2 and 3 of the
    module docstring); ``colours``: the video's colour model (:func:`colour_model`) or None."""
    H, W = size
    small, share, codes = inputs.small, inputs.share, inputs.codes
    if share is None:
        return np.zeros((H, W), np.int16)
    cv2.setRNGSeed(0)  # GrabCut's k-means draws from OpenCV's (per-thread) RNG: the same input, the same mask
    # where the evidence could pass 1/2: colour alone cannot lift a pixel under CANDIDATE that far (a
    # colour weight under COLOUR_REACH), so the superpixels stay where the motion put them
    candidates = share > CANDIDATE
    if colours is not None:
        share = (1 - opts.colour_weight) * share + opts.colour_weight * colours[codes]
    if opts.superpixels:
        share = snap_to_superpixels(
            small, share, opts.superpixels, opts.compactness, candidates, opts.superpixel_shrink
        )
    energy = None  # the regions' weights: their area, or the sum of their squared dense motion scores
    if opts.keep_by == "motion" and inputs.motion is not None:
        energy = _scores_at(inputs.motion, share.shape) ** 2
    foreground = keep_large_regions(share > 0.5, opts.keep_share, energy)
    if opts.refine:
        foreground = refine_mask(small, foreground, opts.refine_side, opts.refine_pixels)
    if len(objects) == 1:
        ids = np.where(foreground, objects[0], 0).astype(np.int16)
    else:  # foreground pixels take the object whose tracks are densest there
        shape = small.shape[:2]
        xy, sigma = points.xy * (shape[1] / W), _vote_sigma(points, shape, opts)
        density = np.stack([_density(xy[points.obj & (points.labels == k)], shape, sigma) for k in objects])
        ids = np.where(foreground, np.asarray(objects)[density.argmax(axis=0)], 0).astype(np.int16)
    return cv2.resize(ids, (W, H), interpolation=cv2.INTER_NEAREST)


def resize_masks(masks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(T, h, w) integer masks to (T, H, W), ``size`` = (H, W), by nearest neighbour."""
    H, W = size
    return np.stack([cv2.resize(m, (W, H), interpolation=cv2.INTER_NEAREST) for m in masks])


def border_share(tracks, visibility, image_size: tuple[int, int]) -> np.ndarray:
    """(N,) share of its seen frames each track spends in the band along the image border."""
    near = near_border(tracks, image_size, BORDER_SHARE)
    seen = np.asarray(visibility, bool)
    return (near & seen).sum(axis=0) / np.maximum(seen.sum(axis=0), 1)


def _spread(tracks, visibility, member) -> float:
    """How widely a group of tracks lies over the frame: the product of the standard deviations of
    its seen tracks' x and y, averaged over the frames where two or more are seen (pixels^2; 0 if none)."""
    seen = np.asarray(visibility, bool)[:, member]
    enough = seen.sum(axis=1) >= 2
    if not enough.any():
        return 0.0
    xy = np.where(seen[enough, :, None], np.asarray(tracks, np.float64)[enough][:, member], np.nan)  # (frames, n, 2)
    sd = np.nanstd(xy, axis=1)  # (frames, 2)
    return float(np.mean(sd[:, 0] * sd[:, 1]))


def primary_objects(tracks, visibility, labels, image_size, *, min_share: float = 0.02, min_motion: float = 0.5):
    """Which groups are the primary moving objects, and which is the background.

    Args:
        tracks: (T, N, 2), visibility: (T, N), labels: (N,) groups 1..K, -1 noise.
        image_size: (H, W) of the tracks' pixels.
        min_share: smallest object, as a share of the tracks.
        min_motion: smallest mean difference from the background's motion, pixels per frame.
    Returns:
        background (the group id, -1 if there is no group), objects: list of group ids.
    """
    labels = np.asarray(labels)
    groups = list(range(1, int(labels.max(initial=0)) + 1))
    if not groups:
        return -1, []
    seen = np.asarray(visibility, bool)
    near = border_share(tracks, seen, image_size)
    # the background covers the border, and the frame: the most border time over all its tracks, times
    # its spread (a compact figure walking along the border can have more border time than the camera's group)
    cover = [near[labels == k].sum() * _spread(tracks, seen, labels == k) for k in groups]
    background = groups[int(np.argmax(cover))]
    moves = np.diff(np.asarray(tracks, np.float64), axis=0)  # (T - 1, N, 2)
    step_seen = seen[:-1] & seen[1:]
    bg = step_seen[:, labels == background]
    bg_motion = np.array(
        [
            np.median(moves[t, labels == background][bg[t]], axis=0) if bg[t].any() else [0.0, 0.0]
            for t in range(len(moves))
        ]
    )  # (T - 1, 2)
    objects = []
    for k in groups:
        member = labels == k
        if k == background or member.sum() < min_share * len(labels):
            continue
        ok = step_seen[:, member]
        diff = np.linalg.norm(moves[:, member] - bg_motion[:, None], axis=-1)[ok]
        if diff.size and np.median(diff) >= min_motion:
            objects.append(k)
    return background, objects
