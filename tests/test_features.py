"""Known-answer tests of the track features compared as motions (issue 25): vector features,
their estimators, the anchor-track AUC and the generator's convoy and perspective scenes."""

import dataclasses

import numpy as np
import pytest

import infonet
from benchmarks.features import _key, _run_options, _track_options
from benchmarks.tracks import anchor_auc
from infonet.baselines import ksg
from segmentation import VideoOptions, group, score_grouping, sweep_thresholds, track_mi
from segmentation.affinity import VECTOR_FEATURES, track_views, vector_estimates
from segmentation.masks import MaskOptions


def spinning_discs(rng, T=96, phases=(0.0, 0.5, 1.0, 1.5), radii=(20.0, 35.0, 50.0)):
    """Two discs spinning at different, jittered rates about fixed centres: (T, N, 2) tracks, (N,) ids.

    Each disc holds one point per phase (in units of pi) and radius: points a quarter turn apart
    have uncorrelated x series (and y series), while their (x, y) positions are a rotation of each other.
    """
    tracks, ids = [], []
    for k, (centre, rate) in enumerate((((150.0, 150.0), 0.9), ((450.0, 200.0), 0.37))):
        angle = np.cumsum(rate + 0.3 * rng.standard_normal(T))  # (T,)
        for phase in phases:
            for r in radii:
                a = angle + np.pi * phase
                tracks.append(np.stack([centre[0] + r * np.cos(a), centre[1] + r * np.sin(a)], -1))
                ids.append(k + 1)
    tracks = np.stack(tracks, 1) + 0.05 * rng.standard_normal((T, len(ids), 2))
    return tracks, np.array(ids)


@pytest.mark.parametrize(("estimator", "feature"), [("infonet", "xy"), ("infonet", "coords"), ("ksg", "xy")])
def test_rotating_objects_correlation_cannot_group_but_mi_can(rng, estimator, feature):
    tracks, ids = spinning_discs(rng)
    pearson = track_mi(tracks, infonet.get_estimator("pearson"), feature="coords")
    mi = track_mi(tracks, infonet.get_estimator(estimator), feature=feature)
    # coordinate-wise correlation: a quarter turn apart looks independent, so no threshold finds the discs
    best_pearson = max(s.f for s in sweep_thresholds(pearson, ids).scores)
    assert best_pearson < 0.8 and anchor_auc(pearson, ids) < 0.8
    # MI (InfoNet by default, per coordinate or of the (x, y) positions; KSG too): every pair of one
    # disc is dependent, an ellipse or a rotation, and pairs across discs are not
    assert anchor_auc(mi, ids) == 1.0
    assert max(s.f for s in sweep_thresholds(mi, ids).scores) == 1.0
    labels = group(mi, threshold="auto", min_size=3).labels
    if feature == "coords":
        # per coordinate, points half a turn apart are exact (anti)monotone functions of each other:
        # 5.6 nats with Kendall's floor (infonet.copula), against 1.7 a quarter turn apart, and the
        # automatic threshold keeps those exact pairs as groups of their own (docs/video.md)
        assert score_grouping(labels, ids).precision == 1.0
    else:
        assert score_grouping(labels, ids).f == 1.0


def waving_bodies(rng, T=96, periods=(17.0, 26.0, 37.0), points=40, wavelengths=1.5):
    """Three bodies that stay in place while a wave runs along each (a swimming fish, a flag, a
    snake): every point bobs up and down at its body's rate, with a phase that follows where it sits
    along the body. (T, N, 2) tracks, (N,) ids."""
    tracks, ids = [], []
    for k, period in enumerate(periods):
        origin = np.array([120.0 + 300 * k, 200.0 + 40 * k])
        for along in rng.uniform(0, 1, points):
            bob = 25.0 * np.sin(2 * np.pi * (np.arange(T) / period - wavelengths * along))
            at = origin + (200.0 * along, rng.uniform(-8, 8))
            tracks.append(np.stack([np.full(T, at[0]), at[1] + bob], -1))
            ids.append(k + 1)
    return np.stack(tracks, 1) + 0.3 * rng.standard_normal((T, len(ids), 2)), np.array(ids)


def test_waving_bodies_mi_ranks_each_body_first_where_correlation_cannot(rng):
    tracks, ids = waving_bodies(rng)
    mi = track_mi(tracks, infonet.get_estimator("infonet"), feature="coords")
    # points a quarter wave apart on one body are uncorrelated (an ellipse), yet strongly dependent
    for feature in ("coords", "xy"):
        pearson = track_mi(tracks, infonet.get_estimator("pearson"), feature=feature)
        assert anchor_auc(pearson, ids) < 0.98
    assert anchor_auc(mi, ids) == 1.0
    labels = group(mi, threshold="auto", min_size=3).labels
    assert score_grouping(labels, ids).f == 1.0


def test_displacement_features_of_a_known_trajectory():
    T = 10
    t = np.arange(T, dtype=float)
    tracks = np.stack([np.stack([2 + 3 * t, 5 - t], -1), np.stack([t**2, 7 + 0 * t], -1)], 1)  # (T, 2, 2)
    views, seen = track_views(tracks, "xy-velocity")
    assert views.shape == (2, 2, T - 1) and seen.all()
    assert np.array_equal(views[:, 0], np.array([[3.0] * (T - 1), [-1.0] * (T - 1)]))
    assert np.array_equal(views[0, 1], 2 * t[1:] - 1) and np.array_equal(views[1, 1], np.zeros(T - 1))
    posvel, _ = track_views(tracks, "xy-posvel")
    assert posvel.shape == (4, 2, T - 1)
    assert np.array_equal(posvel[:2, 0], tracks[1:, 0].T) and np.array_equal(posvel[2:], views)
    xy, _ = track_views(tracks, "xy")
    assert np.array_equal(xy, tracks.transpose(2, 1, 0))
    visibility = np.ones((T, 2), bool)
    visibility[4, 1] = False  # track 1 unseen in frame 4: its steps 3->4 and 4->5 are missing
    _, seen = track_views(tracks, "xy-velocity", visibility=visibility)
    assert seen[0].all() and np.flatnonzero(~seen[1]).tolist() == [3, 4]


def test_displacements_over_a_step_of_a_known_trajectory():
    T = 12
    t = np.arange(T, dtype=float)
    tracks = np.stack([np.stack([2 + 3 * t, t**2], -1), np.stack([5 - t, 0 * t], -1)], 1)  # (T, 2, 2)
    views, seen = track_views(tracks, "xy-velocity", step=3)
    assert views.shape == (2, 2, T - 3) and seen.all()
    assert np.array_equal(views[:, 0], np.stack([np.full(T - 3, 9.0), 6 * t[:-3] + 9]))  # (t + 3)^2 - t^2
    assert np.array_equal(views[:, 1], np.stack([np.full(T - 3, -3.0), np.zeros(T - 3)]))
    posvel, _ = track_views(tracks, "xy-posvel", step=3)
    assert np.array_equal(posvel[:2], tracks[3:].transpose(2, 1, 0)) and np.array_equal(posvel[2:], views)
    visibility = np.ones((T, 2), bool)
    visibility[5, 1] = False  # track 1 unseen in frame 5: its displacements 2->5 and 5->8 are missing
    _, seen = track_views(tracks, "velocity", visibility=visibility, step=3)
    assert seen[0].all() and np.flatnonzero(~seen[1]).tolist() == [2, 5]


@pytest.mark.parametrize(
    ("feature", "step", "match"),
    [
        ("xy", 2, "applies to the features"),
        ("xy-residual", 2, "applies to the features"),
        ("xy-velocity", 0, "whole number"),
        ("xy-velocity", 1.5, "whole number"),
        ("xy-velocity", 40, "at least 48 frames"),
    ],
)
def test_a_step_is_refused_where_it_means_nothing(rng, feature, step, match):
    tracks = np.cumsum(rng.standard_normal((40, 3, 2)), 0)
    with pytest.raises(ValueError, match=match):
        track_mi(tracks, infonet.get_estimator("pearson"), feature=feature, step=step)
    if step != 40:
        with pytest.raises(ValueError, match=match):
            VideoOptions(feature=feature, step=step)


def test_discover_compares_displacements_over_the_step(rng):
    from segmentation import discover

    tracks = np.cumsum(rng.standard_normal((40, 6, 2)), 0)
    found = discover(tracks, "pearson", feature="xy-velocity", step=4, min_size=1)
    direct = track_mi(tracks, infonet.get_estimator("pearson"), feature="xy-velocity", step=4)
    assert found.step == 4 and np.allclose(found.mi, direct)
    short = discover(tracks[:15], "infonet", feature="xy-velocity", step=4, min_size=1)  # 11 displacements
    assert (short.feature, short.step) == ("velocity", 4)  # under the 12 a clip's vector feature is read on
    assert discover(tracks[:16], "infonet", feature="xy-velocity", step=4, min_size=1).feature == "xy-velocity"


def test_joined_features_average_their_parts_matrices(rng):
    from segmentation import discover

    tracks = np.cumsum(rng.standard_normal((40, 6, 2)), 0)
    visibility = np.ones((40, 6), bool)
    visibility[:12, 2] = False  # a partial track: each part compares it on its own shared frames
    est = infonet.get_estimator("pearson")
    joined = track_mi(tracks, est, feature="xy+xy-velocity", step=4, visibility=visibility, min_overlap=16)
    parts = [
        track_mi(tracks, est, feature=f, step=k, visibility=visibility, min_overlap=16)
        for f, k in (("xy", 1), ("xy-velocity", 4))
    ]
    assert np.allclose(joined, (parts[0] + parts[1]) / 2) and not np.allclose(parts[0], parts[1])
    found = discover(tracks, "pearson", feature="xy+xy-velocity", step=4, min_size=1)
    assert (found.feature, found.step) == ("xy+xy-velocity", 4)
    assert np.allclose(found.mi, track_mi(tracks, est, feature="xy+xy-velocity", step=4))
    short = discover(tracks[:15], "infonet", feature="xy+xy-velocity", step=4, min_size=1)  # 11 displacements
    assert short.feature == "xy+velocity"  # only the part under the 12 samples a clip is read on changes


@pytest.mark.parametrize(
    ("feature", "step", "match"),
    [("xy+bogus", 1, "unknown feature 'bogus'"), ("xy+xy", 1, "names a part twice"), ("xy+coords", 4, "applies to")],
)
def test_joined_features_are_refused_where_a_part_is(rng, feature, step, match):
    tracks = np.cumsum(rng.standard_normal((40, 3, 2)), 0)
    with pytest.raises(ValueError, match=match):
        track_mi(tracks, infonet.get_estimator("pearson"), feature=feature, step=step)
    with pytest.raises(ValueError, match=match):
        VideoOptions(feature=feature, step=step)


def test_auto_is_the_pipelines_choice_not_a_feature_of_track_mi(rng):
    from segmentation import discover

    tracks = np.cumsum(rng.standard_normal((40, 3, 2)), 0)
    with pytest.raises(ValueError, match="chosen by the video pipeline"):
        discover(tracks, "pearson", feature="auto")
    assert VideoOptions().feature == "auto"


def test_anchor_auc_of_a_hand_built_affinity():
    ids = np.array([1, 1, 2, 2])
    a = np.array(
        [
            [0.0, 0.9, 0.1, 0.2],  # anchor 0: its object above the other: 1
            [0.9, 0.0, 0.95, 0.1],  # anchor 1: 0.9 above 0.1, below 0.95: 0.5
            [0.1, 0.95, 0.0, 0.5],  # anchor 2: 0.5 above 0.1, below 0.95: 0.5
            [0.2, 0.1, 0.5, 0.0],  # anchor 3: 1
        ]
    )
    assert anchor_auc(a, ids) == 0.75
    tied = np.ones((4, 4))
    assert anchor_auc(tied, ids) == 0.5  # ties count half
    assert anchor_auc(a, np.array([1, 1, 2, -1])) == 0.5  # track 3 unknown: anchors 0 (1) and 1 (0); 2 has no partner
    assert anchor_auc(a, ids, ambiguous=np.array([False, False, True, False])) == 1.0  # 2 left out
    assert np.isnan(anchor_auc(a, np.array([1, 1, 1, 1])))  # one object: no anchor has a negative
    with pytest.raises(ValueError, match="one per row"):
        anchor_auc(a, ids[:3])
    with pytest.raises(ValueError, match="square"):
        anchor_auc(a[:3], ids)


def test_anchor_auc_over_compared_pairs_reads_each_row_where_the_tracks_were_compared():
    ids = np.array([1, 1, 1, 2, 2])
    a = np.array(
        [
            [0.0, 0.9, 0.0, 0.2, 0.0],  # anchor 0 compared with 1 and 3: 0.9 above 0.2
            [0.9, 0.0, 0.8, 0.1, 0.3],  # anchor 1 compared with every track: 1
            [0.0, 0.8, 0.0, 0.0, 0.4],  # anchor 2 compared with 1 and 4: 0.8 above 0.4
            [0.2, 0.1, 0.0, 0.0, 0.0],  # anchor 3: its object's track 4 not compared, no positive
            [0.0, 0.3, 0.4, 0.0, 0.0],  # anchor 4: compared with 1 and 2 only, no positive
        ]
    )
    compared = a > 0  # the zeros are pairs that shared too few frames, left at the floor
    assert anchor_auc(a, ids, compared=compared) == 1.0  # anchors 0, 1, 2
    # over every pair the uncompared pairs tie at the floor: anchor 0 reads 1 above 0.2 and 0 tied with 0, ...
    assert anchor_auc(a, ids) < 0.9
    assert anchor_auc(a, ids, compared=np.ones((5, 5), bool)) == anchor_auc(a, ids)
    assert np.isnan(anchor_auc(a, ids, compared=np.eye(5, dtype=bool)))  # no anchor compared with anything
    with pytest.raises(ValueError, match="compared must have"):
        anchor_auc(a, ids, compared=compared[:4])


def test_batched_ksg_of_tied_pairs_does_not_depend_on_the_batch(rng):
    # frozen points tie; the batched KSG breaks ties with a tiny seeded jitter, drawn once per side
    x = np.round(rng.standard_normal((5, 40, 2)))
    y = x + np.round(rng.standard_normal((5, 40, 2)))
    ksg_estimator = infonet.get_estimator("ksg")
    whole = vector_estimates(x, y, ksg_estimator)
    alone = [vector_estimates(x[i : i + 1], y[i : i + 1], ksg_estimator)[0] for i in range(5)]
    assert np.abs(whole - alone).max() < 1e-12
    assert np.abs(whole - vector_estimates(x[::-1], y[::-1], ksg_estimator)[::-1]).max() < 1e-12


@pytest.mark.parametrize("name", ["pearson", "gaussian", "ksg"])
def test_vector_estimates_match_the_one_pair_estimators(rng, name):
    x = rng.standard_normal((4, 40, 2))
    y = x @ rng.standard_normal((2, 2)) + rng.standard_normal((4, 40, 2))
    got = vector_estimates(x, y, infonet.get_estimator(name))
    if name == "ksg":
        expected = [ksg(x[b], y[b]) for b in range(4)]
    else:
        expected = [infonet.get_estimator(name).estimate(x[b], y[b]) for b in range(4)]
    assert got == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("feature", VECTOR_FEATURES)
def test_vector_features_partial_equals_full_on_common_frames(rng, feature):
    T, N = 40, 5
    tracks = np.cumsum(rng.standard_normal((T, N, 2)), 0)
    est = infonet.get_estimator("pearson")
    full = track_mi(tracks, est, feature=feature)
    visibility = np.ones((T, N), bool)
    visibility[:10, 2] = False  # track 2 seen from frame 10 on
    partial = track_mi(tracks, est, visibility=visibility, feature=feature, min_overlap=16)
    if feature == "xy-residual":  # the camera's fit changes with what is seen
        return
    assert partial[0, 1] == pytest.approx(full[0, 1])  # both seen throughout: as before
    alone = track_mi(tracks[10:], est, feature=feature)  # the frames (and steps) both see
    assert partial[0, 2] == pytest.approx(alone[0, 2])


def test_partial_tracks_read_on_both_cores_equal_tracks_read_on_one(rng):
    """The network's batches of each overlap length run one per core: the same matrix as in turn."""
    import torch

    T, N = 48, 40
    tracks = np.cumsum(rng.standard_normal((T, N, 2)), 0)
    visibility = np.ones((T, N), bool)
    for n in range(N):  # tracks seen from frames 0-27: many overlap lengths, each its own batch
        visibility[: n % 28, n] = False
    est, before = infonet.get_estimator("infonet"), torch.get_num_threads()
    try:
        read = {}
        for count in (1, 2):
            torch.set_num_threads(count)
            read[count] = track_mi(tracks, est, visibility=visibility, min_overlap=16, statistic="lower")
    finally:
        torch.set_num_threads(before)
    assert np.allclose(read[1], read[2], atol=1e-5) and np.ptp(read[1]) > 0.1


def test_vector_feature_refuses_an_estimator_without_a_vector_form(rng):
    with pytest.raises(ValueError, match="no vector form"):
        track_mi(np.cumsum(rng.standard_normal((20, 3, 2)), 0), infonet.get_estimator("kde"), feature="xy")


def _canvas_pivots(parts, index):
    """(T, 2) canvas position of part ``index``'s sprite centre (the background's poses are the camera)."""
    part, camera = parts[index], parts[0].poses
    h, w = part.alpha.shape
    image = part.poses[:, :, :2] @ np.array([(w - 1) / 2, (h - 1) / 2]) + part.poses[:, :, 2]  # (T, 2)
    linear, shift = camera[:, :, :2], camera[:, :, 2]
    return np.linalg.solve(linear, (image - shift)[..., None])[..., 0]


@pytest.mark.parametrize("motion", ["sweep", "wander"])
def test_generator_convoy_follows_the_leader_and_perspective_sizes_follow_depth(motion):
    from datasets.synthetic import _build_scene

    T = 48
    rng = np.random.default_rng(5)
    parts, names, _, _ = _build_scene(rng, T, 270, 480, 3, motion, convoy=True, perspective=True)
    assert names[1].endswith("_convoy") and [p.mask_index for p in parts] == [0, 1, 1, 2, 3]
    lag = 8  # a sixth of 48 frames
    leader, follower = _canvas_pivots(parts, 1), _canvas_pivots(parts, 3)
    assert np.allclose(follower[lag:], leader[:-lag], atol=1e-6)
    assert not np.allclose(follower, leader, atol=1.0)  # a path shared, not a motion
    for index in (1, 3, 4):  # each object's size times its depth is constant (zoom of the camera removed)
        part, camera = parts[index], parts[0].poses
        size = np.sqrt(np.abs(np.linalg.det(part.poses[:, :, :2]) / np.linalg.det(camera[:, :, :2])))
        assert np.allclose(size * part.depth, size[0] * part.depth[0])


def test_generator_spin_turns_objects_in_place():
    from datasets.synthetic import _build_scene

    parts, _, _, _ = _build_scene(np.random.default_rng(3), 48, 270, 480, 3, "spin")
    camera = parts[0].poses
    for index in (1, 3, 4):  # object 0's body (its limb swings about a joint), objects 1 and 2
        centre = _canvas_pivots(parts, index)
        assert np.allclose(centre, centre[0], atol=1e-6)  # a fixed axle
        own = np.linalg.solve(camera[:, :, :2], parts[index].poses[:, :, :2])  # (T, 2, 2) without the camera
        angle = np.unwrap(np.arctan2(own[:, 1, 0], own[:, 0, 0]))
        assert 0.8 <= abs(angle[-1] - angle[0]) / (2 * np.pi) <= 3.6 + 1e-9


def test_generator_convoy_needs_two_travelling_objects(tmp_path):
    from datasets import DataError, generate_sequence

    with pytest.raises(DataError, match="convoy needs at least 2 objects"):
        generate_sequence(
            tmp_path / "s", seed=0, num_frames=8, size=(64, 64), num_objects=1, num_tracks=16, convoy=True
        )
    with pytest.raises(DataError, match="convoy needs objects that travel"):
        generate_sequence(
            tmp_path / "s",
            seed=0,
            num_frames=8,
            size=(64, 64),
            num_objects=2,
            num_tracks=16,
            convoy=True,
            motion="spin",
        )


def test_anchor_auc_by_object_of_a_hand_built_affinity():
    from benchmarks.tracks import anchor_auc_by_object

    ids = np.array([1, 1, 2, 2])
    a = np.array([[0, 0.9, 0.1, 0.2], [0.9, 0, 0.95, 0.1], [0.1, 0.95, 0, 0.5], [0.2, 0.1, 0.5, 0]])
    assert anchor_auc_by_object(a, ids) == {1: 0.75, 2: 0.75}  # anchors (1, 0.5) and (0.5, 1)
    assert anchor_auc_by_object(a, np.array([1, 1, 2, -1])) == {1: 0.5}  # object 2's only track has no partner


def test_cached_rows_never_mix_two_trainings_of_one_weights_file(tmp_path):
    import json

    from benchmarks.features import cached_rows

    weights = str((tmp_path / "infonet_vector.pt").resolve())
    base = {"sequence": "s0", "estimator": "infonet", "frames": 120, "min_overlap": 8, "best_f": 0.5}
    rows = [
        base | {"feature": "xy-posvel", "weights": [weights, 1.0]},  # measured before the file was retrained
        base | {"feature": "xy", "weights": [weights, 2.0]},
        base | {"feature": "coords"},  # the 1-D networks: no vector weights
    ]
    for i, row in enumerate(rows):
        (tmp_path / f"row_{i}.json").write_text(json.dumps(row))
    kept = {r["feature"] for r in cached_rows(tmp_path, weights)}
    assert kept == {"xy", "coords"}
    assert {r["feature"] for r in cached_rows(tmp_path)} == {"xy", "coords"}


def test_features_runs_keep_their_cache_when_only_the_mask_options_change():
    base = VideoOptions(masks=False)
    other_masks = dataclasses.replace(base, mask=MaskOptions(spread=0.02, superpixels=100))
    other_tracks = dataclasses.replace(base, min_overlap=16)
    assert _key(_run_options(base)) == _key(_run_options(other_masks))
    assert _key(_run_options(base)) != _key(_run_options(other_tracks))


def test_features_rows_of_every_statistic_share_one_tracked_run():
    base = VideoOptions(masks=False)
    lower = dataclasses.replace(base, statistic="lower")
    estimate = dataclasses.replace(base, statistic="estimate")
    assert _key(_track_options(lower)) == _key(_track_options(estimate))  # one first run, one options key
    assert _key(_run_options(lower)) != _key(_run_options(estimate))  # two rows


def test_cached_rows_keep_the_statistic_asked_and_every_row_of_estimators_without_intervals(tmp_path):
    import json

    from benchmarks.features import cached_rows

    base = {"sequence": "s0", "feature": "coords", "frames": 120, "min_overlap": 8, "best_f": 0.5}
    rows = [
        base | {"estimator": "infonet", "statistic": "lower"},
        base | {"estimator": "infonet", "statistic": "estimate", "best_f": 0.4},
        base | {"estimator": "pearson", "statistic": "estimate"},
    ]
    for i, row in enumerate(rows):
        (tmp_path / f"row_{i}.json").write_text(json.dumps(row))
    kept = {(r["estimator"], r["statistic"]) for r in cached_rows(tmp_path, statistic="lower")}
    assert kept == {("infonet", "lower"), ("pearson", "estimate")}
    kept = {(r["estimator"], r["best_f"]) for r in cached_rows(tmp_path, statistic="estimate")}
    assert kept == {("infonet", 0.4), ("pearson", 0.5)}


def test_cached_rows_tell_the_steps_of_one_feature_apart(tmp_path):
    import json

    from benchmarks.features import cached_rows

    base = {"sequence": "s0", "feature": "xy-velocity", "estimator": "pearson", "frames": 120, "min_overlap": 8}
    for i, step in enumerate((1, 8)):
        (tmp_path / f"row_{i}.json").write_text(json.dumps(base | {"step": step, "best_f": step / 10}))
    kept = {r["feature"]: r["best_f"] for r in cached_rows(tmp_path)}
    assert kept == {"xy-velocity": 0.1, "xy-velocity, step 8": 0.8}


def test_spread_samples_keeps_the_ends_and_spreads_the_rest_evenly():
    from segmentation.affinity import spread_samples

    assert spread_samples(50, 64).tolist() == list(range(50))  # no more than asked: every sample
    assert spread_samples(50, None).tolist() == list(range(50))
    kept = spread_samples(120, 64)
    assert len(kept) == len(set(kept.tolist())) == 64 and (kept[0], kept[-1]) == (0, 119)
    assert set(np.diff(kept).tolist()) == {1, 2}  # 119 steps over 63 gaps: 1 or 2 frames apart


@pytest.mark.parametrize("feature", ["xy", "coords", "xy+xy-velocity"])
def test_max_samples_reads_full_tracks_on_evenly_spread_frames(rng, feature):
    from segmentation.affinity import spread_samples

    tracks = np.cumsum(rng.standard_normal((60, 5, 2)), 0)
    est = infonet.get_estimator("pearson")
    capped = track_mi(tracks, est, feature=feature, max_samples=20)
    if feature == "xy+xy-velocity":  # each part keeps 20 of its own samples (60 positions, 59 displacements)
        moves = (tracks[1:] - tracks[:-1])[spread_samples(59, 20)]
        velocity = track_mi(np.concatenate([np.zeros((1, 5, 2)), np.cumsum(moves, 0)]), est, feature="xy-velocity")
        expected = (track_mi(tracks[spread_samples(60, 20)], est, feature="xy") + velocity) / 2
    else:
        expected = track_mi(tracks[spread_samples(60, 20)], est, feature=feature)
    assert np.allclose(capped, expected) and not np.allclose(capped, track_mi(tracks, est, feature=feature))
    assert np.allclose(track_mi(tracks, est, feature=feature, max_samples=60), track_mi(tracks, est, feature=feature))


@pytest.mark.parametrize("feature", ["xy", "coords"])
def test_max_samples_reads_a_partial_pair_on_its_own_shared_frames_evenly_spread(rng, feature):
    from segmentation.affinity import spread_samples

    T, N = 60, 4
    tracks = np.cumsum(rng.standard_normal((T, N, 2)), 0)
    visibility = np.ones((T, N), bool)
    visibility[:25, 1] = False  # shares 35 frames with the others
    visibility[40:, 2] = False  # shares 40 with track 0, 15 with track 1
    est = infonet.get_estimator("pearson")
    capped = track_mi(tracks, est, visibility=visibility, feature=feature, min_overlap=8, max_samples=16)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        shared = np.flatnonzero(visibility[:, i] & visibility[:, j])
        frames = shared[spread_samples(len(shared), 16)]
        alone = track_mi(tracks[frames][:, [i, j]], est, feature=feature)
        assert capped[i, j] == pytest.approx(alone[0, 1]), (i, j)


def test_max_samples_too_few_to_compare_a_pair_are_refused(rng):
    from segmentation import discover

    tracks = np.cumsum(rng.standard_normal((40, 3, 2)), 0)
    est = infonet.get_estimator("pearson")
    with pytest.raises(ValueError, match="max_samples must be an integer >= 16"):
        track_mi(tracks, est, feature="xy", max_samples=8)
    with pytest.raises(
        ValueError, match=r"min_overlap \(24\) is above max_samples \(20\)"
    ):  # a partial pair needs its min_overlap
        track_mi(tracks, est, visibility=np.ones((40, 3), bool), min_overlap=24, max_samples=20)
    with pytest.raises(ValueError, match="max_samples must be an integer >= 16"):
        discover(tracks, "pearson", max_samples=3.5)
    with pytest.raises(ValueError, match="or 0 for every sample"):
        VideoOptions(max_samples=10)
    with pytest.raises(ValueError, match=r"min_overlap \(99\) is above max_samples \(64\)"):  # both named
        VideoOptions(min_overlap=99)
    assert VideoOptions(max_samples=0).max_samples == 0  # every frame


def test_cached_rows_tell_capped_reads_apart_where_the_clip_is_longer(tmp_path):
    import json

    from benchmarks.features import cached_rows

    base = {"sequence": "s0", "feature": "xy", "estimator": "pearson", "min_overlap": 8}
    rows = [base | {"frames": 120, "max_samples": 64, "best_f": 0.6}, base | {"frames": 120, "best_f": 0.5}]
    rows.append(base | {"sequence": "bear", "frames": 50, "max_samples": 64, "best_f": 0.7})  # read whole
    for i, row in enumerate(rows):
        (tmp_path / f"row_{i}.json").write_text(json.dumps(row))
    kept = {(r["sequence"], r["feature"]): r["best_f"] for r in cached_rows(tmp_path)}
    assert kept == {("s0", "xy, 64 samples"): 0.6, ("s0", "xy"): 0.5, ("bear", "xy"): 0.7}


def test_the_summary_counts_where_the_best_f_is_one_groups():
    """Where an affinity's best F is no better than every track in one group (all of davis-dev), the
    summary says on how many sequences; rows from before that F was kept say nothing."""
    from benchmarks.features import report, summarise

    base = {"estimator": "e", "feature": "xy", "anchor_auc": 0.5, "auto_f": 0.5, "pair_auc": 0.5, "seconds_mi": 0.1}
    rows = [
        base | {"sequence": "s0", "best_f": 0.8, "one_group_f": 0.8},
        base | {"sequence": "s1", "best_f": 0.9, "one_group_f": 0.6},
    ]
    assert summarise(rows)[0]["one_group"] == "1 of 2"
    assert summarise([base | {"sequence": "s0", "best_f": 0.8}])[0]["one_group"] == "-"
    assert "| xy | e | 2 | 0.850 | 1 of 2 |" in report([r | {"dataset": "generated"} for r in rows])


def test_the_summary_gives_the_anchor_auc_by_kind_of_motion():
    """Each generated object's anchors are averaged with those of its kind over the sequences (the
    README's table of where MI loses); rows without per-object AUCs give none."""
    from benchmarks.features import summarise

    base = {"estimator": "e", "feature": "xy", "best_f": 0.5, "anchor_auc": 0.5}
    rows = [
        base
        | {"sequence": "s0", "anchor_auc_by_object": {"background": 0.9, "object1_box_convoy": 0.7, "walker_1": 0.6}},
        base | {"sequence": "s1", "anchor_auc_by_object": {"background": 0.8, "object2_ellipse": 1.0, "1": 0.4}},
        base | {"sequence": "s2"},
    ]
    assert summarise(rows)[0]["by_kind"] == {
        "background (camera)": 0.85,
        "convoy follower": 0.7,
        "object": 0.4,
        "spinning shape": 1.0,
        "walker (swinging arms and legs)": 0.6,
    }
    assert summarise([base | {"sequence": "s0"}])[0]["by_kind"] == {}
