"""Known-answer tests of the motion path of real video: camera residuals, the per-track motion
score, which tracks move, grouping the moving tracks by MI, and the mask clean-up."""

import cv2
import numpy as np
import pytest

from segmentation import camera_residuals, dense_residuals, group_moving, mask_scores, motion_saliency, moving_tracks
from segmentation.masks import MaskOptions, keep_large_regions, object_masks, refine_mask
from tests.test_masks import planted_frame

H, W = 240, 320


def camera_scene(rng, T=20, noise=0.2, still_camera=False, own=None):
    """Tracks of a scene filmed by a camera that zooms, turns and pans (a homography per frame),
    with an 8 x 8 patch of points (as dense as the background) that moves its own way (``own`` pixels
    per frame if given). Returns tracks (T, N, 2), on_object (N,)."""
    gx, gy = np.meshgrid(np.linspace(10, W - 10, 30), np.linspace(10, H - 10, 24))
    background = np.stack([gx.ravel(), gy.ravel()], 1)
    ox, oy = np.meshgrid(np.linspace(120, 190, 8), np.linspace(80, 150, 8))
    patch = np.stack([ox.ravel(), oy.ravel()], 1)
    points = np.concatenate([background, patch])
    on_object = np.r_[np.zeros(len(background), bool), np.ones(len(patch), bool)]
    tracks = np.empty((T, len(points), 2))
    tracks[0] = points
    for t in range(1, T):
        angle, zoom, shift = (0.0, 1.0, np.zeros(2)) if still_camera else (0.01, 1.004, rng.normal(0, 3, 2))
        c, s = zoom * np.cos(angle), zoom * np.sin(angle)
        centre = np.array([W / 2, H / 2])
        step = (tracks[t - 1] - centre) @ np.array([[c, s], [-s, c]]) + centre + shift
        step[on_object] += np.array([4.0 * np.sin(t / 2), 3.0]) if own is None else own  # the object's own motion
        tracks[t] = step
    return tracks + rng.normal(0, noise, tracks.shape), on_object


def test_camera_residuals_vanish_on_the_background_and_not_on_the_mover():
    rng = np.random.default_rng(0)
    tracks, on_object = camera_scene(rng, noise=0.0)
    residual = camera_residuals(tracks, np.ones(tracks.shape[:2], bool), image_size=(H, W))
    assert residual.shape == (len(tracks) - 1, len(on_object))
    assert np.nanmax(residual[:, ~on_object]) < 0.05  # an exact homography: the camera explains it
    assert np.nanmin(np.nanmean(residual[:, on_object], axis=0)) > 1.0


def test_unseen_steps_have_no_residual():
    rng = np.random.default_rng(1)
    tracks, _ = camera_scene(rng)
    seen = np.ones(tracks.shape[:2], bool)
    seen[5:, 0] = False
    residual = camera_residuals(tracks, seen, image_size=(H, W))
    assert np.isnan(residual[4:, 0]).all() and np.isfinite(residual[:4, 0]).all()


def test_the_moving_tracks_are_the_object():
    rng = np.random.default_rng(2)
    tracks, on_object = camera_scene(rng)
    seen = np.ones(tracks.shape[:2], bool)
    score = motion_saliency(tracks, seen, image_size=(H, W))
    moving = moving_tracks(score)
    # the median over 9 neighbours keeps the object's inside (its outer ring of points, whose
    # neighbours are half background, goes to the background) and no background track
    ring = np.zeros((8, 8), bool)
    ring[[0, -1], :] = ring[:, [0, -1]] = True
    assert moving[on_object][~ring.ravel()].all() and not moving[~on_object].any()
    raw = motion_saliency(tracks, seen, image_size=(H, W), neighbours=1)  # unfiltered: every object track
    assert raw[on_object].min() > raw[~on_object].max()


def test_a_still_scene_has_no_movers():
    """Otsu always splits; the least score keeps tracker noise from becoming an object."""
    rng = np.random.default_rng(3)
    tracks, on_object = camera_scene(rng, still_camera=True)
    tracks[:, on_object] = tracks[:1, on_object] + rng.normal(0, 0.2, tracks[:, on_object].shape)  # it stops too
    score = motion_saliency(tracks, np.ones(tracks.shape[:2], bool), image_size=(H, W))
    assert not moving_tracks(score).any()
    assert not moving_tracks(np.full(5, np.nan)).any()


def test_short_tracks_need_more_evidence():
    """The same residual over 2 steps scores lower than over 15 (shrinkage towards the typical)."""
    rng = np.random.default_rng(4)
    tracks, on_object = camera_scene(rng)
    seen = np.ones(tracks.shape[:2], bool)
    first = np.flatnonzero(on_object)[0]
    seen[3:, first] = False  # one object track is seen for 2 steps only
    score = motion_saliency(tracks, seen, image_size=(H, W), neighbours=1)
    others = score[on_object][1:]
    assert score[first] < others.min()


def test_group_moving_groups_only_the_movers():
    # six still tracks, two moving objects of four tracks, one moving track closer to the second
    mi = np.full((15, 15), 0.01)
    objects = {1: range(6, 10), 2: range(10, 14)}
    for members in objects.values():
        mi[np.ix_(members, members)] = 1.0
    mi[:6, :6] = 0.9  # the still background is dependent too, but it is not grouped
    mi[14, 10:14], mi[10:14, 14] = 0.2, 0.2
    mi[14, 6:10], mi[6:10, 14] = 0.05, 0.05
    moving = np.r_[np.zeros(6, bool), np.ones(9, bool)]
    grouping = group_moving(mi, moving, threshold=0.5, min_size=3)
    labels = grouping.labels
    assert (labels[:6] == 0).all()
    assert len(set(labels[6:10])) == 1 and len(set(labels[10:14])) == 1 and labels[6] != labels[10]
    assert set(labels[6:14]) == {1, 2}
    assert labels[14] == -1  # a threshold given as a number means what it says: below it, noise
    assert grouping.threshold == 0.5
    auto = group_moving(mi, moving, min_size=3).labels
    assert auto[14] == auto[10]  # at the automatic threshold it joins the group it shares most MI with
    above = group_moving(mi, moving, threshold=1e9, min_size=3)
    assert (above.labels[:6] == 0).all() and (above.labels[6:] == -1).all()  # above every MI: no object


def test_group_moving_with_too_few_movers():
    mi = np.full((8, 8), 0.1)
    moving = np.zeros(8, bool)
    assert (group_moving(mi, moving, min_size=3).labels == 0).all()  # nothing moves: all background
    moving[:4] = True
    labels = group_moving(mi, moving, min_size=3).labels  # no MI group: the movers are one object
    assert (labels[:4] == 1).all() and (labels[4:] == 0).all()
    labels = group_moving(mi, moving, threshold=0.5, min_size=3).labels  # unless the threshold says otherwise
    assert (labels[:4] == -1).all() and (labels[4:] == 0).all()


def test_keep_large_regions_drops_specks():
    mask = np.zeros((60, 80), bool)
    mask[10:40, 10:40] = True  # 900 pixels
    mask[50:55, 60:65] = True  # 25 pixels
    kept = keep_large_regions(mask, 0.3)
    assert kept[20, 20] and not kept[52, 62]
    assert keep_large_regions(mask, 0.0).sum() == mask.sum()


def red_disk(h: int, w: int, radius: int):
    """A red disk of ``radius`` at the centre of a textured green (h, w) image, its truth, and a mask
    4 px too wide: (image, truth bool, loose bool)."""
    rng = np.random.default_rng(5)
    image = np.zeros((h, w, 3), np.uint8)
    image[..., 1] = rng.integers(90, 160, (h, w))
    truth = np.zeros((h, w), np.uint8)
    cv2.circle(truth, (w // 2, h // 2), radius, 1, -1)
    image[truth > 0] = (200, 30, 30)
    loose = cv2.dilate(truth, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))) > 0
    return image, truth > 0, loose


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / (a | b).sum()


def test_refine_mask_snaps_to_the_object():
    """A red disk on a textured green ground; a mask 4 px too wide is pulled back to its edge
    (wider than the sure-object core is deep, ``REFINE_CORE``, it could not be)."""
    image, truth, loose = red_disk(120, 160, 30)
    refined = refine_mask(image, loose, side=160)
    assert iou(loose, truth) < 0.8
    assert iou(refined, truth) > 0.95


def test_refine_mask_on_fewer_pixels_for_a_large_mask():
    """A disk of 3,800 pixels at 640 px, refined with ``max_pixels`` 1,000 (GrabCut on a copy near
    half the side), still snaps to its edge; the mask keeps the image's size."""
    image, truth, loose = red_disk(360, 640, 35)
    refined = refine_mask(image, loose, side=640, max_pixels=1000)
    assert refined.shape == loose.shape
    assert iou(refined, truth) > 0.9


def test_an_unknown_foreground_is_refused_before_any_tracking():
    import pytest

    from segmentation import VideoOptions

    with pytest.raises(ValueError, match="foreground 'colour' is unknown; choose from auto, motion, groups"):
        VideoOptions(foreground="colour")  # refused when the options are built, before any input is read


def panning_video(T=6, h=96, w=128, pan=(3, 1), own=(0, 4)):
    """Frames of a textured scene the camera pans over by ``pan`` pixels per frame, with a textured
    32 x 32 square that moves by ``own`` pixels per frame in the image. Returns frames, truth (T, h, w)."""
    rng = np.random.default_rng(0)
    world = cv2.GaussianBlur(rng.integers(0, 255, (h + 80, w + 80, 3), dtype=np.uint8), (0, 0), 1.5)
    patch = cv2.GaussianBlur(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8), (0, 0), 1.0)
    frames, truth = np.empty((T, h, w, 3), np.uint8), np.zeros((T, h, w), bool)
    for t in range(T):
        x0, y0 = 10 + pan[0] * t, 10 + pan[1] * t
        frames[t] = world[y0 : y0 + h, x0 : x0 + w]
        top, left = 20 + own[1] * t, 48 + own[0] * t
        frames[t, top : top + 32, left : left + 32] = patch
        truth[t, top : top + 32, left : left + 32] = True
    return frames, truth


def test_dense_residuals_find_what_the_camera_does_not_explain():
    frames, truth = panning_video()
    score = dense_residuals(frames)
    assert score.shape == truth.shape and score.dtype == np.float32
    inside = np.stack([cv2.erode(m.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0 for m in truth])
    outside = np.stack([cv2.dilate(m.astype(np.uint8), np.ones((17, 17), np.uint8)) == 0 for m in truth])
    assert np.median(score[inside]) > 5 * max(np.median(score[outside]), 1.0)


def test_dense_residuals_of_a_still_scene_are_typical():
    frames, _ = panning_video(own=(-3, -1))  # the square is still in the world: it moves as the background does
    score = dense_residuals(frames)
    assert np.percentile(score, 99) < 5


def test_dense_residuals_need_two_frames():
    frames, _ = panning_video(T=2)
    with pytest.raises(ValueError, match="at least 2 frames"):
        dense_residuals(frames[:1])
    with pytest.raises(ValueError, match="at least 16 px"):
        dense_residuals(frames[:, :12, :40])
    assert dense_residuals(frames[:, :16, :20]).shape == (2, 16, 20)  # too few grid points: fitted on all pixels


def test_the_masks_weigh_dense_motion_against_the_track_vote():
    frames, truth, tracks, on_object = planted_frame()
    seen, labels = np.ones(tracks.shape[:2], bool), on_object.astype(int)
    opts = MaskOptions(work_side=160, refine=False)
    moving = object_masks(frames, tracks, seen, labels, [1], motion=truth * 10.0 + 0.5, options=opts)
    assert mask_scores(moving, truth).j > 0.95  # the vote and the motion agree
    heavy = MaskOptions(work_side=160, refine=False, motion_weight=0.6, motion_reference=0.0)
    still = object_masks(frames, tracks, seen, labels, [1], motion=np.full(truth.shape, 0.5), options=heavy)
    assert not still.any()  # a full vote without motion evidence: 0.4 + 0.6 * 0.03 < 1/2
    with pytest.raises(ValueError, match="motion has 2 frames"):
        object_masks(frames, tracks, seen, labels, [1], motion=truth[:2] * 1.0, options=opts)


def test_a_frame_whose_dense_motion_sees_nothing_cannot_veto_the_tracks():
    """``motion_reference``: the dense evidence weighs by how clearly anything moves in the frame.
    Nothing moves anywhere (the camera follows the object): the tracks' vote decides. Something
    else moves clearly: the evidence keeps its full weight, and the vote alone is vetoed."""
    frames, truth, tracks, on_object = planted_frame()
    seen, labels = np.ones(tracks.shape[:2], bool), on_object.astype(int)
    opts = MaskOptions(work_side=160, refine=False, motion_weight=0.6, motion_reference=0.4)
    calm = object_masks(frames, tracks, seen, labels, [1], motion=np.full(truth.shape, 0.5), options=opts)
    assert mask_scores(calm, truth).j > 0.85  # without the reference: nothing (the test above)
    elsewhere = np.zeros(truth.shape)
    elsewhere[:, :20, :20] = 20.0  # a corner moves clearly (evidence 0.96 on 3 % of the frame), not the object
    vetoed = object_masks(frames, tracks, seen, labels, [1], motion=elsewhere, options=opts)
    assert not (vetoed.astype(bool) & truth).any()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("motion_weight", 1.5, "motion_weight"),
        ("motion_scale", 0.0, "motion_scale"),
        ("motion_reference", -0.1, "motion_reference"),
        ("work_side", 0, "work_side"),
    ],
)
def test_absurd_mask_options_are_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        MaskOptions(**{field: value})


# --- slow objects: longer time baselines ---------------------------------------------------------


def slow_pan_video(T=16, h=160, w=224, pan=(3, 1), own=(0.35, 0.25)):
    """A textured scene the camera pans over by ``pan`` whole pixels per frame, with a textured 48 x 48
    square that moves by ``own`` (sub-pixel) per frame in the world: a slow animal filmed by a panning
    camera. Returns frames (T, h, w, 3) uint8, truth (T, h, w) bool."""
    rng = np.random.default_rng(4)
    world = cv2.GaussianBlur(rng.integers(0, 255, (h + 3 * T, w + 3 * T, 3), dtype=np.uint8), (0, 0), 1.5)
    patch = cv2.GaussianBlur(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8), (0, 0), 1.0)
    frames, truth = np.empty((T, h, w, 3), np.uint8), np.zeros((T, h, w), bool)
    for t in range(T):
        x0, y0 = pan[0] * t, pan[1] * t
        frame = world[y0 : y0 + h, x0 : x0 + w].copy()
        at = np.float32([[1, 0, 90 + own[0] * t - x0 + pan[0] * t], [0, 1, 50 + own[1] * t]])  # image position
        square = cv2.warpAffine(patch, at, (w, h), flags=cv2.INTER_LINEAR)
        inside = cv2.warpAffine(np.ones((48, 48), np.float32), at, (w, h), flags=cv2.INTER_LINEAR) > 0.5
        frame[inside] = square[inside]
        frames[t], truth[t] = frame, inside
    return frames, truth


def test_a_slow_track_stands_out_over_a_longer_baseline():
    """0.3 px per frame against 0.2 px of tracker noise: lost in one step, plain over six."""
    rng = np.random.default_rng(5)
    tracks, on_object = camera_scene(rng, T=30, own=np.array([0.3, 0.0]))
    seen = np.ones(tracks.shape[:2], bool)
    one = moving_tracks(motion_saliency(tracks, seen, image_size=(H, W), gaps=(1,)))
    six = moving_tracks(motion_saliency(tracks, seen, image_size=(H, W), gaps=(1, 6)))
    assert one[on_object].mean() < 0.2
    ring = np.zeros((8, 8), bool)  # the median filter gives the patch's outer ring to the background
    ring[[0, -1], :] = ring[:, [0, -1]] = True
    assert six[on_object][~ring.ravel()].all() and six[~on_object].mean() < 0.02


def test_a_slow_object_under_a_panning_camera_is_found():
    """End to end with the default options, sensor noise on the frames: the slow square is the mask."""
    import datasets
    from segmentation import VideoOptions, discover_video

    frames, truth = slow_pan_video(own=(0.2, 0.15))
    noise = np.random.default_rng(6).normal(0, 8, frames.shape)
    inp = datasets.VideoInput(np.clip(frames + noise, 0, 255).astype(np.uint8), None, None, "frames", "slow pan")
    found = discover_video(inp, "pearson", VideoOptions())
    assert mask_scores(found.masks, truth).j > 0.6


def test_dense_residuals_over_a_longer_baseline_and_bad_gaps():
    frames, truth = slow_pan_video(T=10)
    inside = np.stack([cv2.erode(m.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0 for m in truth])
    one, three = dense_residuals(frames, gaps=(1,)), dense_residuals(frames, gaps=(3,))
    assert np.median(three[inside]) > 2 * np.median(one[inside])
    with pytest.raises(ValueError, match="gap must be a whole number of frames >= 1"):
        camera_residuals(np.zeros((4, 10, 2)), np.ones((4, 10), bool), gap=0)
    from segmentation import VideoOptions

    with pytest.raises(ValueError, match="motion_gaps must be one or more whole numbers"):
        VideoOptions(motion_gaps=(1, 0))


def test_a_followed_object_that_holds_most_tracks_is_found_with_the_camera_fitted_along_the_border():
    """The camera follows the object (still in the image) while the scene pans by; the object holds
    most points, so a camera fitted to all of them is the object's, and the scene would be the mover."""
    rng = np.random.default_rng(7)
    gx, gy = np.meshgrid(np.linspace(5, W - 5, 16), np.linspace(5, H - 5, 12))
    scene = np.stack([gx.ravel(), gy.ravel()], 1)
    ox, oy = np.meshgrid(np.linspace(100, 220, 20), np.linspace(70, 170, 20))
    body = np.stack([ox.ravel(), oy.ravel()], 1)  # 400 points, against 156 of the scene
    scene = scene[~((np.abs(scene[:, 0] - 160) < 65) & (np.abs(scene[:, 1] - 120) < 55))]
    T, on_object = 12, np.r_[np.zeros(len(scene), bool), np.ones(len(body), bool)]
    pan = np.arange(T)[:, None, None] * np.array([2.0, 0.5])
    tracks = np.concatenate([scene[None] + pan, np.repeat(body[None], T, 0)], axis=1)
    tracks += rng.normal(0, 0.1, tracks.shape)
    seen = np.ones(tracks.shape[:2], bool)
    for band, right in ((0.0, False), (0.15, True)):
        moving = moving_tracks(motion_saliency(tracks, seen, image_size=(H, W), band=band))
        # (the scene's points beside the object share its median filter: a few go with it)
        assert (moving[on_object].mean() > 0.9) == right and (moving[~on_object].mean() < 0.2) == right
