"""Known-answer tests of the real-video path: J and boundary F by hand, labels carried to pixels,
partial-track MI, re-seeded tracking, the DAVIS loader and the one input loader."""

import zipfile

import cv2
import numpy as np
import pytest

import infonet
from segmentation import (
    boundary_f,
    mask_scores,
    object_masks,
    primary_objects,
    region_similarity,
    spread_labels,
    track_mi,
)
from segmentation._imports import require_toolkit_datasets
from segmentation.masks import MaskOptions, _frame_evidence, _Points
from segmentation.pipeline import mask_voters

datasets = require_toolkit_datasets()


# --- DAVIS J and boundary F ---------------------------------------------------------------------


def test_region_similarity_by_hand():
    truth = np.zeros((10, 10), bool)
    truth[2:6, 2:6] = True  # 16 pixels
    pred = np.zeros((10, 10), bool)
    pred[4:8, 2:6] = True  # 16 pixels, 8 shared
    assert region_similarity(pred, truth) == pytest.approx(8 / 24)
    assert region_similarity(truth, truth) == 1.0
    empty = np.zeros((10, 10), bool)
    assert region_similarity(empty, empty) == 1.0  # both empty: perfect, as DAVIS scores it
    assert region_similarity(empty, truth) == 0.0


def test_boundary_f_by_hand():
    # 100 x 100: the tolerance is ceil(0.008 * 141.4) = 2 pixels
    truth = np.zeros((100, 100), bool)
    truth[20:60, 20:60] = True
    assert boundary_f(truth, truth) == 1.0
    near = np.zeros_like(truth)
    near[21:61, 21:61] = True  # contours 1 pixel apart: every contour pixel matched
    assert boundary_f(near, truth) == 1.0
    far = np.zeros_like(truth)
    far[30:70, 30:70] = True  # 10 pixels off: only the crossing parts of the contours match
    f = boundary_f(far, truth)
    assert 0 < f < 0.5
    disjoint = np.zeros_like(truth)
    disjoint[80:90, 80:90] = True
    assert boundary_f(disjoint, truth) == 0.0
    empty = np.zeros_like(truth)
    assert boundary_f(empty, empty) == 1.0 and boundary_f(empty, truth) == 0.0


def test_boundary_f_counts_contour_pixels_exactly():
    # a 4 x 4 square in a 20 x 20 image (tolerance ceil(0.008 * 28.3) = 1 px): its one-pixel
    # contour (DAVIS's seg2bmap: pixels whose right, lower or lower-right neighbour differs) has
    # 16 pixels: the square's last column and row (7) and, outside it, the row above from one
    # column left (5) and the column left (4); a prediction shifted by 3 px matches only the
    # contour pixels within 1 px.
    truth = np.zeros((20, 20), bool)
    truth[5:9, 5:9] = True
    from segmentation.scoring import _contour

    assert _contour(truth).sum() == 16
    shifted = np.roll(truth, 3, axis=1)
    fg, gt = _contour(shifted), _contour(truth)
    kernel = np.ones((3, 3), np.uint8)  # disk(1)
    kernel[0, 0] = kernel[0, 2] = kernel[2, 0] = kernel[2, 2] = 0
    precision = (fg & cv2.dilate(gt.astype(np.uint8), kernel).astype(bool)).sum() / fg.sum()
    recall = (gt & cv2.dilate(fg.astype(np.uint8), kernel).astype(bool)).sum() / gt.sum()
    assert boundary_f(shifted, truth) == pytest.approx(2 * precision * recall / (precision + recall))


def test_mask_scores_average_frames():
    truth = np.zeros((2, 10, 10), bool)
    truth[:, 2:6, 2:6] = True
    pred = truth.copy()
    pred[1] = False
    score = mask_scores(pred.astype(np.int16) * 3, truth)  # any nonzero id is foreground
    assert score.j == pytest.approx(0.5)
    assert score.per_frame_j.tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="T, H, W"):
        mask_scores(pred[0], truth)


# --- labels to pixels -----------------------------------------------------------------------------


def planted_frame(T=3, H=120, W=160):
    """A textured background with a bright square object moving right; tracks on a grid."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 120, (H, W, 3), dtype=np.uint8), (0, 0), 3)
    frames = np.repeat(texture[None], T, axis=0)
    truth = np.zeros((T, H, W), bool)
    for t in range(T):
        truth[t, 40:80, 50 + 2 * t : 90 + 2 * t] = True
        frames[t][truth[t]] = 220
    ys, xs = np.mgrid[2:H:4, 2:W:4]
    start = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    on_object = truth[0][start[:, 1].astype(int), start[:, 0].astype(int)]
    tracks = np.stack([start + np.where(on_object, 2.0 * t, 0.0)[:, None] * [1, 0] for t in range(T)])
    return frames, truth, tracks, on_object


def test_labels_carried_to_pixels_give_the_planted_mask():
    frames, truth, tracks, on_object = planted_frame()
    labels = 3 * on_object.astype(int)  # 0 background, 3 the object
    visibility = np.ones(tracks.shape[:2], bool)
    masks = object_masks(frames, tracks, visibility, labels, [3], options=MaskOptions(work_side=160))
    assert masks.shape == truth.shape and masks.dtype == np.int16
    assert set(np.unique(masks)) == {0, 3}  # the object's own label, 0 elsewhere
    assert mask_scores(masks, truth).j > 0.95  # superpixels snap the vote to the square's edges


def test_track_density_on_a_coarser_grid_matches_the_full_one():
    """A wide blur is computed on coarser cells (``DENSITY_CELL``): the same field, away from the
    border, within a few per cent of its peak (the full grid rounds points to pixels, the coarse
    one shares them among cells), and the exact full-grid path for narrow blurs."""
    from segmentation.masks import DENSITY_CELL, _density

    h, w = 359, 641
    points = np.random.default_rng(0).uniform([0, 0], [w - 1, h - 1], size=(300, 2))
    splat = np.zeros((h, w), np.float32)
    np.add.at(splat, (np.rint(points[:, 1]).astype(int), np.rint(points[:, 0]).astype(int)), 1)
    for sigma in (2 * DENSITY_CELL, 14.0, 20.0):
        full = cv2.GaussianBlur(splat, (0, 0), sigma)
        coarse = _density(points, (h, w), sigma)
        inside = (slice(int(3 * sigma), -int(3 * sigma)),) * 2
        assert coarse.shape == full.shape
        assert np.abs(coarse - full)[inside].max() < 0.06 * full.max()
    narrow = _density(points, (h, w), DENSITY_CELL - 0.5)  # one-pixel cells: the full grid itself
    assert np.allclose(narrow, cv2.GaussianBlur(splat, (0, 0), DENSITY_CELL - 0.5), atol=1e-5)


def test_masks_of_two_objects_take_the_nearer_objects_label():
    frames, truth, tracks, on_object = planted_frame()
    left = tracks[0, :, 0] < np.median(tracks[0, on_object, 0])
    labels = np.where(on_object, np.where(left, 1, 2), 0)  # the square split into two objects
    masks = object_masks(
        frames, tracks, np.ones(tracks.shape[:2], bool), labels, [1, 2], options=MaskOptions(work_side=160)
    )
    assert set(np.unique(masks)) == {0, 1, 2}
    xs = np.nonzero(masks[0])[1]
    assert masks[0][:, xs.min()].max() == 1 and masks[0][:, xs.max()].max() == 2


def test_colour_model_learns_the_objects_colour_from_the_sure_pixels():
    from segmentation.masks import COLOUR_SURE, colour_codes, colour_model

    frames, truth, _, _ = planted_frame()
    codes = [colour_codes(f) for f in frames]
    shares = [np.where(m, 0.9, 0.05).astype(np.float32) for m in truth]
    model = colour_model(codes, shares)
    assert model[codes[0][truth[0]]].min() > 0.9 and model[codes[0][~truth[0]]].max() < 0.1
    unsure = [np.full(m.shape, np.mean(COLOUR_SURE), np.float32) for m in truth]  # sure of nothing: no model
    assert colour_model(codes, unsure) is None
    assert colour_model(codes, [None] * len(frames)) is None


def test_colour_model_finds_the_object_where_the_motion_vetoes_it():
    """Three frames where the dense motion agrees with the tracks teach the object's colour; in the
    fourth the object's pixels seem still and the background moves, so motion and tracks alone
    leave it out (evidence 0.45 on it), and the colour learnt in the others brings it back."""
    frames, truth, tracks, on_object = planted_frame(T=4)
    motion = np.where(truth, 10.0, 0.0).astype(np.float32)
    motion[3] = np.where(truth[3], 0.0, 4.0)  # the object still, the background at the scale: evidence 1/2
    args = (frames, tracks, np.ones(tracks.shape[:2], bool), on_object.astype(int), [1])
    plain = MaskOptions(work_side=160, superpixels=0, refine=False, colour_weight=0.0)
    without = object_masks(*args, motion=motion, options=plain)
    with_colour = object_masks(*args, motion=motion, options=MaskOptions(**{**vars(plain), "colour_weight": 0.3}))
    assert mask_scores(without[:3], truth[:3]).j > 0.9 and mask_scores(without[3:], truth[3:]).j < 0.1
    assert mask_scores(with_colour, truth).j > 0.9
    with pytest.raises(ValueError, match="colour_weight"):  # could lift pixels the superpixels never look at
        MaskOptions(colour_weight=0.4)


def test_regions_kept_by_area_or_by_weight():
    from segmentation.masks import keep_large_regions

    mask = np.zeros((40, 60), bool)
    mask[2:22, 2:22] = True  # 400 pixels
    mask[30:35, 40:50] = True  # 50 pixels
    weight = np.where(mask, 1.0, 0.0)
    weight[30:35, 40:50] = 36.0  # the small region's mass 1800: the large one's 400 is under 0.3 of it
    by_area = keep_large_regions(mask, 0.3)
    assert by_area[5, 5] and not by_area[32, 45]
    by_weight = keep_large_regions(mask, 0.3, weight)
    assert by_weight[32, 45] and not by_weight[5, 5]
    assert keep_large_regions(mask, 0.1, weight).sum() == 450  # both pass a lower share


def test_masks_keep_the_fast_object_over_a_larger_slow_patch():
    """A stray patch of tracks taken for an object (parallax), nearly four times the object's area,
    moving a little unlike the camera (z = 2), beside the object (z = 10): kept by area, the patch
    wins and the object is dropped; kept by motion energy, the object is the mask."""
    frames, truth, tracks, on_object = planted_frame()
    patch = np.zeros(truth.shape[1:], bool)
    patch[2:118, 106:159] = True  # right of the object's path (its columns 50-93)
    on_patch = patch[tracks[0, :, 1].astype(int), tracks[0, :, 0].astype(int)]
    motion = np.where(truth, 10.0, np.where(patch, 2.0, 0.0)).astype(np.float32)
    args = (frames, tracks, np.ones(tracks.shape[:2], bool), (on_object | on_patch).astype(int), [1])
    # the default reach (a floor): the vote at 1 inside the patch (one more background vote at 1.5
    # widths holds it at 0.83 on this grid, and the patch's weak motion then keeps it under 1/2
    # whatever the regions are kept by)
    plain = dict(work_side=160, refine=False, colour_weight=0.0)
    by_area = object_masks(*args, motion=motion, options=MaskOptions(**plain, keep_by="area"))
    by_motion = object_masks(*args, motion=motion, options=MaskOptions(**plain, keep_by="motion"))
    assert mask_scores(by_area, truth).j < 0.1 and by_area[:, patch].mean() > 0.9
    assert mask_scores(by_motion, truth).j > 0.9
    with pytest.raises(ValueError, match="keep_by"):
        MaskOptions(keep_by="size")
    with pytest.raises(ValueError, match="refine_pixels"):
        MaskOptions(refine_pixels=-1)


@pytest.mark.parametrize(("reach", "reach_as"), [(1.0, "vote"), (1.5, "vote"), (0.5, "floor"), (1.0, "floor")])
def test_the_vote_reaches_only_so_far_from_the_tracks(reach, reach_as):
    """A figure of the background's own noise texture (colour cannot tell them apart), densely
    tracked, among background tracks 80 px apart: the plain vote draws the figure out to halfway to
    the nearest background track, a blob 5.5 times its area; with the reach (``MaskOptions.reach``,
    as a floor under the votes or as one more vote: ``reach_as``; by default a floor at 0.5 widths)
    the vote stays around the figure's tracks and keeps all of it.
    Without superpixels, which on pure noise draw shapes of their own: the vote itself."""
    rng = np.random.default_rng(0)
    T, H, W = 2, 180, 240
    frames = np.repeat(rng.integers(0, 256, (1, H, W, 3), dtype=np.uint8), T, axis=0)
    truth = np.zeros((T, H, W), bool)
    truth[:, 50:130, 100:140] = True  # 40 x 80 px
    ys, xs = np.mgrid[52:130:8, 102:140:8]
    figure = np.stack([xs.ravel(), ys.ravel()], axis=1)
    ys, xs = np.mgrid[40:H:80, 40:W:80]
    background = np.stack([xs.ravel(), ys.ravel()], axis=1)
    background = background[~truth[0][background[:, 1], background[:, 0]]]
    tracks = np.repeat(np.concatenate([figure, background]).astype(np.float64)[None], T, axis=0)
    labels = np.r_[np.ones(len(figure), int), np.zeros(len(background), int)]
    seen = np.ones(tracks.shape[:2], bool)
    plain = dict(work_side=W, refine=False, colour_weight=0.0, superpixels=0)
    blob = object_masks(frames, tracks, seen, labels, [1], options=MaskOptions(**plain, reach=0.0)) > 0
    opts = MaskOptions(**plain, reach=reach, reach_as=reach_as)
    near = object_masks(frames, tracks, seen, labels, [1], options=opts) > 0
    assert blob.sum() > 5 * truth.sum()  # the plain vote: a blob (5.5 times the figure)
    assert near.sum() < 0.7 * blob.sum()  # 3.1, 3.5, 3.4, 3.7 times the figure (in the order above)
    assert near[truth].all()  # all of the figure is kept
    assert mask_scores(near, truth).j > mask_scores(blob, truth).j + 0.05  # 0.18 -> 0.32, 0.28, 0.29, 0.27
    with pytest.raises(ValueError, match="reach"):
        MaskOptions(reach=-1.0)
    with pytest.raises(ValueError, match="reach_as"):
        MaskOptions(reach_as="max")


def test_the_reach_as_a_floor_keeps_an_interior_whole():
    """Inside a region tracked only by object tracks, at the spacing the vote's width is set by, one
    more background vote everywhere (``reach_as="vote"``) holds the evidence near 0.9; a floor under
    the votes' total (``"floor"``) leaves it whole. Far from every track both lean to the background."""
    H, W = 120, 240
    ys, xs = np.mgrid[4:H:8, 4:120:8]  # object tracks fill the left half, 8 px apart
    points = _Points(
        xy=np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64),
        obj=np.ones(xs.size, bool),
        bg=np.zeros(xs.size, bool),
        labels=np.ones(xs.size, int),
    )
    frame = np.zeros((H, W, 3), np.uint8)
    share = {}
    for reach_as in ("vote", "floor"):
        opts = MaskOptions(work_side=W, reach=1.5, reach_as=reach_as)
        share[reach_as] = _frame_evidence(frame, (H, W), points, None, opts)
    inside, far = (slice(30, 90), slice(30, 90)), (slice(None), slice(200, None))
    assert share["floor"][inside].min() > 0.99
    assert 0.7 < share["vote"][inside].max() < 0.95  # 0.906
    for join in share.values():
        assert join[far].max() < 0.05


def test_short_lived_movers_do_not_vote_in_the_masks():
    """Water beside a followed subject: every frame brings fresh points there, seen for one frame,
    five in six of them moving unlike the camera; the subject's points are followed throughout.
    With every mover voting the water is object; with movers seen in fewer than 2 frames left
    out, the mask is the one the subject gives without water, and the other labels are untouched;
    short movers where the dense motion passes ``min_score`` still vote."""
    T = 5
    frames, truth, tracks, on_object = planted_frame(T=T)
    water = np.zeros(truth.shape[1:], bool)
    water[10:110, 110:158] = True
    ys, xs = np.nonzero(water[2::4, 2::4])
    points = np.stack([4 * xs + 2, 4 * ys + 2], axis=1).astype(np.float64)
    keep = ~water[tracks[0, :, 1].astype(int), tracks[0, :, 0].astype(int)]
    tracks, on_object = tracks[:, keep], on_object[keep]
    fresh = np.repeat(points[None], T, axis=0)  # each frame's water points are new tracks
    all_tracks = np.concatenate([tracks] + [fresh] * T, axis=1)
    visibility = np.zeros(all_tracks.shape[:2], bool)
    visibility[:, : tracks.shape[1]] = True
    for t in range(T):
        visibility[t, tracks.shape[1] + t * len(points) : tracks.shape[1] + (t + 1) * len(points)] = True
    moving = np.concatenate([on_object] + [np.arange(len(points)) % 6 > 0] * T)
    labels = moving.astype(int)
    plain = MaskOptions(work_side=160, refine=False, colour_weight=0.0)
    everyone = object_masks(frames, all_tracks, visibility, labels, [1], options=plain)
    voters = mask_voters(labels, all_tracks, visibility, moving, min_frames=2)
    followed = object_masks(frames, all_tracks, visibility, voters, [1], options=plain)
    assert everyone[:, water].mean() > 0.75 and mask_scores(everyone, truth).j < 0.5
    alone = object_masks(frames, tracks, np.ones(tracks.shape[:2], bool), on_object.astype(int), [1], options=plain)
    assert followed[:, water].mean() < 0.05  # the mask the subject's tracks give without any water
    assert mask_scores(followed, truth).j > mask_scores(alone, truth).j - 0.02 > 0.8
    short = moving & (visibility.sum(axis=0) < 2)
    assert (voters[short] == -1).all() and (voters[~short] == labels[~short]).all()
    assert (mask_voters(labels, all_tracks, visibility, moving, min_frames=0) == labels).all()
    half = mask_voters(labels, all_tracks, visibility, moving, min_frames=10)  # at most half the clip's 5 frames
    assert (half == voters).all()
    motion = np.zeros(truth.shape, np.float32)
    motion[:, 10:50] = 10.0  # the dense motion sees the top of the water move: its short movers still vote
    kept = mask_voters(
        labels, all_tracks, visibility, moving, min_frames=2, motion=motion, image_size=truth.shape[1:], min_score=4
    )
    confirmed = short & (all_tracks[0, :, 1] < 50)
    assert confirmed.any() and (kept[confirmed] == 1).all() and (kept[short & ~confirmed] == -1).all()
    from segmentation import VideoOptions

    with pytest.raises(ValueError, match="min_mover_frames must be a whole number >= 0"):
        VideoOptions(min_mover_frames=-1)


def test_scores_along_average_the_dense_motion_where_a_track_is_seen():
    from segmentation.motion import scores_along

    motion = np.zeros((3, 10, 20), np.float32)  # a 20 x 10 grid for 40 x 20 pixels
    motion[:, 2, 4], motion[:, 5, 15] = [1, 2, 3], 9
    tracks = np.array([[[8.5, 4.5], [31, 11]]] * 3, np.float64)  # grid cells (4, 2) and (15, 5)
    seen = np.array([[1, 1], [1, 0], [0, 0]], bool)
    along = scores_along(tracks, seen, motion, (20, 40))
    assert np.allclose(along, [1.5, 9.0])
    assert np.isnan(scores_along(tracks, np.zeros((3, 2), bool), motion, (20, 40))).all()


def test_primary_objects_picks_the_mover_against_the_border_group():
    _, _, tracks, on_object = planted_frame(T=6)
    labels = 1 + on_object.astype(int)  # groups 1..K: 1 on the border, 2 the square
    background, objects = primary_objects(tracks, np.ones(tracks.shape[:2], bool), labels, (120, 160))
    assert background == 1 and objects == [2]
    still = np.repeat(tracks[:1], 6, axis=0)  # nothing moves: no primary object
    assert primary_objects(still, np.ones(still.shape[:2], bool), labels, (120, 160)) == (1, [])


def test_primary_objects_background_is_the_spread_group_not_a_figure_along_the_border():
    """A compact figure walks along the bottom border: it spends more track-time in the border band
    than the camera's group, whose points lie all over the frame; the background is still the
    camera's group (border time times spread), and the figure is the object."""
    from segmentation.masks import border_share

    rng = np.random.default_rng(0)
    T, size = 12, (120, 160)
    t = np.arange(T)[:, None, None]
    scene = rng.uniform([10, 10], [150, 110], size=(20, 2))  # the camera's points, panning 1 px a frame
    figure = np.column_stack([rng.uniform(20, 30, 20), rng.uniform(115, 118, 20)])  # on the bottom border
    tracks = np.concatenate([scene[None] + t * [1.0, 0.0], figure[None] + t * [3.0, 0.0]], axis=1)
    labels = np.repeat([1, 2], 20)
    seen = np.ones(tracks.shape[:2], bool)
    near = border_share(tracks, seen, size)
    assert near[labels == 2].sum() > 2 * near[labels == 1].sum()  # border time alone would pick the figure
    assert primary_objects(tracks, seen, labels, size) == (1, [2])


def test_spread_labels_follow_the_motion():
    _, _, tracks, on_object = planted_frame(T=6)
    grouped = np.zeros(len(on_object), bool)
    grouped[::3] = True  # a third of the tracks are grouped, the rest take labels by motion
    labels = np.where(grouped, on_object.astype(int), -1)
    spread = spread_labels(tracks, np.ones(tracks.shape[:2], bool), labels, grouped)
    assert (spread == on_object.astype(int)).all()


# --- partial tracks -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pearson", "ksg"])
@pytest.mark.parametrize("feature", ["coords", "velocity"])
def test_partial_overlap_mi_equals_mi_on_the_common_frames(rng, name, feature):
    T, N = 40, 5
    tracks = rng.standard_normal((T, N, 2)).cumsum(axis=0)
    visibility = np.ones((T, N), bool)
    visibility[:10, 1] = False  # starts late
    visibility[30:, 2] = False  # lost early
    visibility[:, 3] = False
    visibility[5:15, 3] = True  # 10 frames only
    est = infonet.get_estimator(name)
    mi = track_mi(tracks, est, visibility=visibility, feature=feature, min_overlap=12)
    for i, j in [(0, 1), (1, 2), (0, 4), (2, 4)]:
        both = visibility[:, i] & visibility[:, j]
        if feature == "velocity":
            steps = both[:-1] & both[1:]
            a, b = np.diff(tracks[:, i], axis=0)[steps], np.diff(tracks[:, j], axis=0)[steps]
        else:
            a, b = tracks[both, i], tracks[both, j]
        expected = np.mean([est.estimate(a[:, k], b[:, k]) for k in (0, 1)])
        assert mi[i, j] == pytest.approx(expected, abs=1e-9)
    # track 3 shares 10 frames (9 steps) with every track, under min_overlap: the lowest MI
    others = np.delete(np.delete(mi, 3, axis=0), 3, axis=1)[~np.eye(N - 1, dtype=bool)]
    assert np.allclose(np.delete(mi[3], 3), others.min())
    full = track_mi(tracks, est, feature=feature)  # no visibility: all frames, as before
    assert full[0, 4] == pytest.approx(mi[0, 4])


def test_partial_overlap_rejects_a_small_minimum(rng):
    with pytest.raises(ValueError, match="min_overlap"):
        track_mi(rng.standard_normal((20, 3, 2)), infonet.get_estimator("pearson"), min_overlap=4)


# --- inputs ---------------------------------------------------------------------------------------


def write_davis(folder, T=6, H=48, W=64):
    (folder / "frames").mkdir(parents=True)
    (folder / "masks").mkdir()
    rng = np.random.default_rng(0)
    for t in range(T):
        cv2.imwrite(str(folder / "frames" / f"{t:05d}.jpg"), rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
        mask = np.zeros((H, W), np.uint8)
        mask[10:30, 10 + t : 30 + t] = 255
        cv2.imwrite(str(folder / "masks" / f"{t:05d}.png"), mask)
    return folder


def test_davis_layout_loads_with_its_masks(tmp_path):
    seq = write_davis(tmp_path / "blob")
    assert datasets.input_kind(seq) == "davis"
    inp = datasets.load_input(seq, max_frames=4)
    assert inp.frames.shape == (4, 48, 64, 3) and inp.tracks is None and inp.kind == "davis"
    assert inp.truth.masks.shape == (4, 48, 64) and inp.truth.masks.dtype == np.int16
    assert set(np.unique(inp.truth.masks)) == {0, 1}
    assert inp.truth.masks[2, 20, 15].item() == 1 and inp.truth.masks[2, 40, 5].item() == 0
    assert datasets.find_sequences(tmp_path) == [seq]


def test_load_input_reads_a_zip_of_a_davis_sequence(tmp_path):
    seq = write_davis(tmp_path / "src" / "blob")
    archive = tmp_path / "blob.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted(seq.rglob("*")):
            z.write(f, f.relative_to(seq.parent))
    work = tmp_path / "work"
    work.mkdir()
    inp = datasets.load_input(archive, workdir=work)
    assert inp.kind == "davis" and inp.truth.masks.shape == (6, 48, 64)
    assert not any(work.iterdir())  # the unpacked folder is gone


def test_load_input_video_frames_and_tracks(tmp_path):
    seq = write_davis(tmp_path / "blob")
    inp = datasets.load_input(seq / "frames")
    assert inp.kind == "frames" and inp.truth is None and inp.frames.shape == (6, 48, 64, 3)
    tracks = np.random.default_rng(0).uniform(5, 40, (6, 30, 2)).astype(np.float32)
    np.save(tmp_path / "tracks.npy", tracks)
    inp = datasets.load_input(seq / "frames", tracks=tmp_path / "tracks.npy", max_tracks=10)
    assert inp.tracks.num_tracks == 10 and inp.tracks.num_frames == 6
    with pytest.raises(datasets.DataError, match="not found"):
        datasets.load_input(tmp_path / "missing")


# --- parameters chosen by leaving videos out -----------------------------------------------------


def test_leave_one_out_never_chooses_on_the_held_out_video():
    from benchmarks.common import leave_one_out

    V = 5
    specialists = np.eye(V)  # candidate i is perfect on video i alone
    table = np.vstack([specialists, np.full((1, V), 0.5)])  # and one that is fair everywhere
    chosen, held_out = leave_one_out(table)
    assert (chosen == V).all() and np.allclose(held_out, 0.5)  # in-sample, each video would pick its specialist
    rng = np.random.default_rng(0)
    scores = rng.random((7, 6))
    for v in range(6):  # whatever a video's own scores, its choice stays the same
        changed = scores.copy()
        changed[:, v] = rng.random(7) * 100
        assert leave_one_out(changed)[0][v] == leave_one_out(scores)[0][v]
    with pytest.raises(ValueError, match="videos >= 2"):
        leave_one_out(np.ones((3, 1)))


def test_leave_one_out_takes_a_cheaper_near_equal():
    """The one-standard-error rule: a cheaper candidate whose mean trails the best by less than the
    standard error of their paired differences is taken; one that trails by more is not; and a
    video's own scores still never change its choice; a candidate that costs as much as the best is
    not taken for being near-equal."""
    from benchmarks.common import choose, leave_one_out

    rng = np.random.default_rng(1)
    best = rng.uniform(0.4, 0.8, 20)
    near = best - 0.002 + rng.normal(0, 0.02, 20)  # trails by 0.002 with differences of s.e. 0.0045
    far = best - 0.05 + rng.normal(0, 0.002, 20)  # trails by 0.05 with differences of s.e. 0.0005
    table = np.vstack([best, near, far])
    inf = np.inf
    assert choose(table) == 0 and choose(table, cost=[inf, 1, inf]) == 1 and choose(table, cost=[inf, inf, 1]) == 0
    assert choose(table, cost=[inf, 2, 1]) == 1  # the cheapest near-equal
    assert choose(table, cost=[1, 1, 1]) == 0 and choose(table, cost=[2, 2, 1]) == 0  # cheaper than the best only
    chosen, _ = leave_one_out(table, cost=[inf, 1, inf])
    assert (chosen == 1).all()
    for v in range(20):
        changed = table.copy()
        changed[:, v] = [1.0, 0.0, 0.0]
        assert leave_one_out(changed, cost=[inf, 1, inf])[0][v] == chosen[v]


def test_leave_one_out_skips_what_was_not_measured():
    from benchmarks.common import leave_one_out
    from benchmarks.features import leave_one_out as choose_feature

    nan = np.nan
    table = np.array([[0.9, 0.9, nan], [0.5, 0.5, 0.5], [nan, nan, 1.0]])
    chosen, held = leave_one_out(table)
    # video 2: candidate 0 is best elsewhere but was not measured there; candidate 2 has nothing elsewhere
    assert chosen.tolist() == [0, 0, 1] and np.allclose(held, [0.9, 0.9, 0.5])
    assert leave_one_out(np.full((2, 3), nan))[0].tolist() == [-1, -1, -1]
    rows = [
        {"estimator": "e", "sequence": s, "feature": f, "best_f": v, "anchor_auc": v / 2}
        | dict.fromkeys(("auto_f", "pair_auc", "seconds_mi"), 0.0)
        for (f, s), v in {
            ("a", "s0"): 0.9,
            ("a", "s1"): 0.9,
            ("b", "s0"): 0.5,
            ("b", "s1"): 0.5,
            ("b", "s2"): 0.5,
        }.items()
    ]
    out = choose_feature(rows, "e")
    assert out["chosen"] == {"s0": "a", "s1": "a", "s2": "b"}
    assert np.isclose(out["best_f"], (0.9 + 0.9 + 0.5) / 3, atol=1e-4)  # rounded to 4 places
    assert np.isclose(out["anchor_auc"], (0.45 + 0.45 + 0.25) / 3, atol=1e-4)


def test_features_can_be_chosen_by_the_automatic_labels_f():
    from benchmarks.features import leave_one_out as choose_feature
    from benchmarks.features import report

    scores = {("a", "s0"): 0.9, ("a", "s1"): 0.9, ("b", "s0"): 0.5, ("b", "s1"): 0.5, ("b", "s2"): 0.5}
    rows = [
        {"estimator": "e", "sequence": s, "feature": f, "best_f": v, "auto_f": 1 - v, "dataset": "d"}
        | dict.fromkeys(("anchor_auc", "pair_auc", "seconds_mi"), 0.0)
        for (f, s), v in scores.items()
    ]
    assert choose_feature(rows, "e")["chosen"] == {"s0": "a", "s1": "a", "s2": "b"}
    assert choose_feature(rows, "e", "auto_f")["chosen"] == {"s0": "b", "s1": "b", "s2": "b"}
    assert "chosen by mean F of the automatic labels" in report(rows, "auto_f")
    with pytest.raises(ValueError, match="choose_by"):
        report(rows, "pair_auc")


@pytest.mark.parametrize("shrink", [1, 2, 3])
def test_superpixels_snap_noisy_evidence_to_the_colour_edges(shrink):
    """SLIC runs on a copy of the box ``shrink`` times smaller (``MaskOptions.superpixel_shrink``, 2 by
    default; at most so far that a segment keeps ``MIN_SUPERPIXEL_PIXELS``) and its labels are scaled
    back: noisy evidence averaged over them follows the disc's colour edge at full size (an odd-sized
    frame, so the scale is not exact), and pixels outside the box are left as they were."""
    from segmentation.masks import snap_to_superpixels

    rng = np.random.default_rng(0)
    h, w = 181, 243
    yy, xx = np.mgrid[:h, :w]
    disc = (yy - 90) ** 2 + (xx - 100) ** 2 < 45**2
    image = np.where(disc[..., None], [200, 60, 40], [40, 90, 200]).astype(np.uint8)
    image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    evidence = np.clip(np.where(disc, 0.6, 0.4) + rng.uniform(-0.25, 0.25, (h, w)), 0, 1).astype(np.float32)
    candidates = np.zeros((h, w), bool)
    candidates[40:140, 50:150] = True  # the box: the disc and a margin of background, not the right side

    snapped = snap_to_superpixels(image, evidence, 600, 5.0, candidates, shrink)  # 73 pixels a segment

    def iou(a, b):
        return (a & b).sum() / (a | b).sum()

    assert snapped.shape == evidence.shape
    box = (slice(35, 145), slice(45, 155))  # inside the candidates' box and its padding
    assert iou(evidence[box] > 0.5, disc[box]) < 0.7  # the raw evidence is speckle
    assert iou(snapped[box] > 0.5, disc[box]) > 0.85  # averaged over superpixels it is the disc (0.87-0.96)
    assert np.array_equal(snapped[:, 220:], evidence[:, 220:])  # outside the padded box: untouched
