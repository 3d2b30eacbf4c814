"""Known-answer tests of object discovery: planted affinities, hand-scored partitions, tiny tracks."""

import dataclasses
import sys
import types

import networkx as nx
import numpy as np
import pytest

import datasets
import infonet
import segmentation
from benchmarks.tracks import anchor_auc, evaluate_result
from datasets import find_sequences
from segmentation import (
    auto_threshold,
    average_precision,
    discover,
    group,
    mean_query_ap,
    modularity,
    pair_auc,
    query_pr_curve,
    relabel_by_size,
    score_grouping,
    sweep_thresholds,
    threshold_candidates,
    track_mi,
    usable_feature,
)
from segmentation import visualize as vis
from segmentation._imports import require_toolkit_datasets

# --- planted block affinity ------------------------------------------------------------------

HIGH, LOW, JITTER = 2.0, 0.3, 0.1


def planted(rng, sizes=(30, 20, 12), noise_tracks=4):
    """MI with blocks at HIGH inside, LOW across, +- JITTER; a few tracks LOW to everything."""
    ids = np.concatenate([np.repeat(np.arange(len(sizes)), sizes), np.full(noise_tracks, -1)])
    N = len(ids)
    same = (ids[:, None] == ids[None, :]) & (ids[:, None] >= 0)
    mi = np.where(same, HIGH, LOW) + rng.uniform(-JITTER, JITTER, (N, N))
    mi = (mi + mi.T) / 2
    np.fill_diagonal(mi, 0)
    perm = rng.permutation(N)
    return mi[np.ix_(perm, perm)], ids[perm]


def same_partition(a, b) -> bool:
    """Labels equal up to renaming (noise -1 must match exactly)."""
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist())) and ((a < 0) == (b < 0)).all()


@pytest.mark.parametrize("method", ["components", "louvain"])
def test_planted_blocks_are_recovered(rng, method):
    mi, ids = planted(rng)
    g = group(mi, min_size=5, method=method)
    assert LOW + JITTER < g.threshold < HIGH - JITTER
    assert same_partition(g.labels, ids)
    assert g.sizes.tolist() == [30, 20, 12]  # ordered by size
    assert g.labels[ids == 0][0] == 1 and g.labels[ids == 2][0] == 3  # groups are 1..K; 0 is the background's


def test_auto_threshold_between_levels(rng):
    mi, _ = planted(rng)
    assert LOW + JITTER < auto_threshold(mi) < HIGH - JITTER
    # the same blocks on another scale: the threshold follows the data
    assert 10 * (LOW + JITTER) < auto_threshold(10 * mi) < 10 * (HIGH - JITTER)


def test_fixed_threshold_and_noise(rng):
    mi, ids = planted(rng)
    g = group(mi, threshold=HIGH + 1, min_size=2)
    assert (g.labels == -1).all() and g.num_groups == 0
    g = group(mi, threshold=LOW - 1, min_size=2)
    assert (g.labels == 1).all() and g.num_groups == 1


def test_relabel_by_size():
    labels = relabel_by_size([7, 7, 3, 3, 3, 9, -1, 5, 5], min_size=2)
    assert labels.tolist() == [2, 2, 1, 1, 1, -1, -1, 3, 3]


def test_modularity_matches_networkx(rng):
    mi, ids = planted(rng)
    labels = np.where(ids < 0, 3, ids)
    ours = modularity(mi, labels)
    theirs = nx.community.modularity(
        nx.from_numpy_array(np.maximum(mi, 0)), [set(np.flatnonzero(labels == k)) for k in range(4)]
    )
    assert ours == pytest.approx(theirs, abs=1e-12)


def test_threshold_candidates_cover_all_partitions(rng):
    mi, _ = planted(rng, sizes=(6, 4), noise_tracks=0)
    cuts = threshold_candidates(mi)
    counts = [group(mi, threshold=t, min_size=1).num_groups for t in cuts]
    assert counts == list(range(len(mi), 0, -1))  # each cut merges exactly one more pair


def test_group_rejects_bad_input(rng):
    with pytest.raises(ValueError, match="square"):
        group(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        group(np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="method"):
        group(np.zeros((3, 3)), method="kmeans")
    with pytest.raises(ValueError, match="'auto'"):
        group(np.zeros((3, 3)), threshold="high")
    with pytest.raises(ValueError, match="criterion"):
        auto_threshold(np.zeros((3, 3)), criterion="magic")


# --- FBMS scores by hand -----------------------------------------------------------------------

# tracks:  0-5 background (id 0), 6-9 object 1, 10-11 object 2, 12 unknown id, 13 ambiguous
GT = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, -1, 0])
AMBIGUOUS = np.zeros(14, bool)
AMBIGUOUS[13] = True
PRED = np.array([0, 0, 0, 0, 0, -1, 1, 1, 1, 0, -1, -1, 0, 1])


def test_fbms_score_by_hand():
    # group 0 = {0-4, 9}: 5 background + 1 of object 1; group 1 = {6, 7, 8}: object 1 only.
    # Hungarian pairs: (g0, bg) P = 5/6, R = 5/6; (g1, obj1) P = 3/3, R = 3/4. Object 2 unmatched.
    s = score_grouping(PRED, GT, AMBIGUOUS)
    p, r = (5 / 6 + 1) / 2, (5 / 6 + 3 / 4) / 2
    assert s.precision == pytest.approx(p)
    assert s.recall == pytest.approx(r)
    assert s.f == pytest.approx(2 * p * r / (p + r))
    assert s.f_objects == pytest.approx((5 / 6 + 6 / 7 + 0) / 3)  # F(g1, obj1) = 2*3/(3+4)
    assert s.objects_extracted == 1  # object 1 (F 0.857); the background is not counted
    assert (s.num_groups, s.num_objects, s.num_scored) == (2, 3, 12)
    assert sorted((g, o) for g, o, _, _ in s.pairs) == [(0, 0), (1, 1)]


def test_fbms_perfect_and_degenerate():
    ids = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    s = score_grouping(np.array([5, 5, 5, 5, 3, 3, 4, 4]), ids)
    assert (s.precision, s.recall, s.f, s.objects_extracted) == (1.0, 1.0, 1.0, 2)
    one = score_grouping(np.zeros(8, int), ids)  # everything in one group: matched to the background
    assert (one.precision, one.recall) == (0.5, 1.0)
    assert one.f_objects == pytest.approx((2 * 4 / 12) / 3)
    # the background split in two: one half matched (P 1, R 1/2), the other group unmatched
    split = score_grouping(np.array([0, 0, 1, 1, 2, 2, 3, 3]), ids)
    assert (split.precision, split.recall) == (1.0, pytest.approx((1 / 2 + 1 + 1) / 3))
    assert split.f == pytest.approx(10 / 11) and split.f_objects == pytest.approx((2 / 3 + 1 + 1) / 3)
    assert (split.num_groups, split.objects_extracted) == (4, 2)
    none = score_grouping(np.full(8, -1), ids)
    assert (none.f, none.num_groups) == (0.0, 0)


def test_average_precision_by_hand():
    assert average_precision([0.5, 1.0], [1.0, 0.5]) == pytest.approx(0.75)
    # a dip is filled by the envelope: precision 0.4 at recall 0.5 counts as 0.8
    assert average_precision([0.25, 0.5, 1.0], [1.0, 0.4, 0.8]) == pytest.approx(0.25 + 0.75 * 0.8)
    assert average_precision([], []) == 0.0


def test_pair_auc_by_hand_and_against_sklearn(rng):
    from sklearn.metrics import roc_auc_score

    ids = np.array([1, 1, 2, 2, 0, -1])
    mi = np.zeros((6, 6))
    mi[0, 1] = mi[2, 3] = 2.0  # the two same-object pairs are the strongest
    mi[0, 2] = 1.0
    mi = mi + mi.T
    assert pair_auc(mi, ids) == 1.0
    assert pair_auc(-mi, ids) == 0.0
    assert pair_auc(np.ones((6, 6)), ids) == 0.5  # all tied
    assert np.isnan(pair_auc(mi, [1, 1, 1, 1, 1, 1]))
    # ambiguous and unknown tracks are left out
    assert pair_auc(mi, ids, ambiguous=[False, False, True, False, False, False]) == 1.0
    N = 30
    ids = rng.integers(0, 4, N)
    a = rng.uniform(size=(N, N))
    a = np.round(a + a.T + 0.5 * (ids[:, None] == ids[None, :]), 1)  # rounding makes ties
    i, j = np.triu_indices(N, 1)
    assert pair_auc(a, ids) == pytest.approx(roc_auc_score(ids[i] == ids[j], a[i, j]))


def test_query_pr_by_hand():
    mi = np.zeros((6, 6))
    mi[0, 1:] = mi[1:, 0] = [0.9, 0.8, 0.7, 0.6, 0.5]
    ids = np.array([3, 3, 1, 3, 1, 1])
    q = query_pr_curve(mi, ids, 0)
    assert q.precision.tolist() == pytest.approx([1, 1 / 2, 2 / 3, 2 / 4, 2 / 5])
    assert q.recall.tolist() == pytest.approx([1 / 2, 1 / 2, 1, 1, 1])
    assert q.ap == pytest.approx((1 + 2 / 3) / 2)
    # ties enter together: scores 0.9, 0.9 (one positive), then 0.5 (positive)
    mi2 = np.zeros((4, 4))
    mi2[0, 1:] = mi2[1:, 0] = [0.9, 0.9, 0.5]
    q2 = query_pr_curve(mi2, np.array([1, 1, 2, 1]), 0)
    assert q2.thresholds.tolist() == [0.9, 0.5]
    assert q2.ap == pytest.approx((0.5 + 2 / 3) / 2)
    with pytest.raises(ValueError, match="no usable"):
        query_pr_curve(mi2, np.array([-1, 1, 2, 1]), 0)


def test_sweep_on_planted_blocks(rng):
    mi, ids = planted(rng)
    ids_scored = np.where(ids < 0, -1, ids)
    sweep = sweep_thresholds(mi, ids_scored, num_thresholds=20)
    assert np.all(np.diff(sweep.thresholds) < 0)
    assert sweep.f.max() == pytest.approx(1.0)
    assert sweep.ap == pytest.approx(1.0)
    assert mean_query_ap(mi, ids_scored) == pytest.approx(1.0)
    assert len(sweep.rows()) == len(sweep.thresholds)


# --- pairwise MI between tracks ------------------------------------------------------------------


def random_tracks(rng, T=24, N=7):
    return rng.normal(size=(T, N, 2)).cumsum(0) * 5 + 100


@pytest.fixture
def tiny_estimator(tiny_model):
    return infonet.InfoNetEstimator(model=tiny_model, symmetries=1)  # the same network on every path


@pytest.mark.parametrize("name", ["pearson", "tiny"])
def test_track_mi_matches_pairs(rng, name, tiny_estimator):
    est = tiny_estimator if name == "tiny" else infonet.get_estimator(name)
    tracks = random_tracks(rng)
    mi = track_mi(tracks, est)
    N = tracks.shape[1]
    assert mi.shape == (N, N)
    assert np.array_equal(mi, mi.T) and (np.diag(mi) == 0).all()
    i, j = np.triu_indices(N, k=1)
    x, y = tracks[..., 0].T, tracks[..., 1].T  # (N, T)
    expected = (est.estimate_batch(x[i], x[j]) + est.estimate_batch(y[i], y[j])) / 2
    assert mi[i, j] == pytest.approx(expected, abs=1e-4)


def test_track_mi_features(rng):
    est = infonet.get_estimator("pearson")
    tracks = random_tracks(rng)
    coords = track_mi(tracks, est)
    assert track_mi(tracks, est, feature="sliced", num_projections=2) == pytest.approx(coords)
    velocity = track_mi(tracks, est, feature="velocity")
    d = np.diff(tracks, axis=0)
    assert velocity[0, 1] == pytest.approx(
        (est.estimate(d[:, 0, 0], d[:, 1, 0]) + est.estimate(d[:, 0, 1], d[:, 1, 1])) / 2
    )


def test_track_mi_progress_spans_all_views(rng):
    calls = []
    track_mi(random_tracks(rng, N=6), infonet.get_estimator("ksg"), progress=lambda d, t: calls.append((d, t)))
    done, totals = zip(*calls, strict=True)
    assert set(totals) == {2 * 15} and done[-1] == 30 and list(done) == sorted(done)


def test_track_mi_infinite_becomes_finite(rng):
    tracks = random_tracks(rng, N=4)
    tracks[:, 1] = tracks[:, 0] + 3.0  # a rigid translation: |r| = 1, Pearson MI infinite
    mi = track_mi(tracks, infonet.get_estimator("pearson"))
    assert np.isfinite(mi).all() and mi[0, 1] == mi.max()


@pytest.mark.parametrize(
    "tracks, match",
    [
        (np.zeros((20, 5)), r"\(T, N, 2\)"),
        (np.zeros((20, 1, 2)), "at least 2 tracks"),
        (np.zeros((5, 4, 2)), "at least 8 frames"),
        ("abc", "numeric"),
    ],
)
def test_track_mi_rejects_bad_tracks(tracks, match):
    with pytest.raises(ValueError, match=match):
        track_mi(tracks, infonet.get_estimator("pearson"))


def test_track_mi_rejects_nan_and_bad_feature(rng):
    tracks = random_tracks(rng)
    tracks[3, 2, 1] = np.nan
    with pytest.raises(ValueError, match="first: track 2"):
        track_mi(tracks, infonet.get_estimator("pearson"))
    with pytest.raises(ValueError, match="feature"):
        track_mi(random_tracks(rng), infonet.get_estimator("pearson"), feature="colour")
    with pytest.raises(ValueError, match="at least 9 frames"):
        track_mi(random_tracks(rng, T=8), infonet.get_estimator("pearson"), feature="velocity")


# --- discover ------------------------------------------------------------------------------------


def rigid_objects(rng, T=32, sizes=(12, 9, 7)):
    """Each object jitters as a whole (independent per frame); its points add tiny noise."""
    parts, ids = [], []
    for k, n in enumerate(sizes):
        motion = rng.normal(scale=4.0, size=(T, 1, 2))
        anchors = rng.uniform(50, 400, size=(1, n, 2))
        parts.append(anchors + motion + rng.normal(scale=0.2, size=(T, n, 2)))
        ids += [k] * n
    return np.concatenate(parts, axis=1), np.array(ids)


def test_discover_finds_planted_objects(rng):
    tracks, ids = rigid_objects(rng)
    tracks[4, 0, 0] = np.inf  # one broken track is dropped, not fatal
    result = discover(tracks, "pearson", min_size=3)
    assert result.kept.tolist() == list(range(1, len(ids)))
    assert same_partition(result.labels, ids[1:])
    assert result.sizes.tolist() == [11, 9, 7]
    assert result.mi.shape == (27, 27) and result.tracks.shape == (32, 27, 2)
    assert set(result.timings) == {"mi", "group", "total"}
    assert "3 group(s)" in result.summary() and result.num_groups == 3


def test_discover_rejects_bad_input(rng):
    tracks, _ = rigid_objects(rng)
    with pytest.raises(ValueError, match="no valid tracks left"):
        discover(np.full((20, 3, 2), np.nan), "pearson")
    with pytest.raises(ValueError, match="at least 8 frames"):
        discover(tracks[:4], "pearson")
    with pytest.raises(ValueError, match="method"):
        discover(tracks, "pearson", method="kmeans")
    with pytest.raises(ValueError, match="unknown estimator"):
        discover(tracks, "oracle")


# --- pictures ------------------------------------------------------------------------------------


def test_visualize_shapes(rng):
    tracks, ids = rigid_objects(rng, T=10)
    labels = np.where(ids == 2, -1, ids)
    frames = np.zeros((10, 480, 640, 3), np.uint8)
    colors = vis.label_colors(labels)
    assert colors.shape == (len(labels), 3) and tuple(colors[labels == -1][0]) == vis.NOISE_COLOR
    img = vis.draw_points(frames[0], tracks[0], labels)
    assert img.shape == (480, 640, 3) and img.dtype == np.uint8 and img.any() and not frames[0].any()
    video = vis.overlay_frames(frames, tracks, None, labels, tail=3)
    assert video.shape == frames.shape and video.dtype == np.uint8
    mi = np.abs(rng.normal(size=(len(ids), len(ids))))
    for mode in ("interpolate", "points"):
        heat = vis.mi_heatmap(frames[0], tracks[0], mi[0], 0, mode=mode)
        assert heat.shape == (480, 640, 3) and heat.any()
    for fig in (
        vis.sorted_mi_matrix_figure(mi, labels),
        vis.pr_curve_figure({"a": ([0, 1], [1, 0])}, marks={"a": (0.5, 0.5, "automatic threshold 0.1 nats")}),
    ):
        image = vis.figure_to_image(fig)
        assert image.ndim == 3 and image.shape[2] == 3
    with pytest.raises(ValueError, match="RGB"):
        vis.draw_points(np.zeros((4, 4)), tracks[0], labels)


def test_pictures_draw_a_track_only_where_it_is_seen():
    """A tracker's track holds its first or last position outside its life: the overlay, the key frame
    (the frame where the most grouped tracks are seen) and its picture leave such positions out."""
    T, N = 5, 3
    tracks = np.tile(np.array([[8.0, 8.0], [24.0, 8.0], [8.0, 24.0]]), (T, 1, 1))
    seen = np.ones((T, N), bool)
    seen[:3, 2] = False  # track 2 is born in frame 3 and held at its birth place before
    seen[4, :2] = False  # tracks 0 and 1 are lost in the last frame
    labels = np.array([1, 1, 0])
    result = segmentation.VideoResult(
        tracks=tracks, visibility=seen, image_size=(32, 32), source_index=np.arange(N), grouped=np.arange(N),
        mi=np.zeros((N, N)), groups=labels, threshold=0.3, auto_threshold=0.3, labels=labels,
        options={}, estimator="pearson", foreground="groups", timings={},
    )  # fmt: skip
    assert result.key_frame() == 3  # all three seen only there
    frames = np.zeros((T, 32, 32, 3), np.uint8)
    np.testing.assert_array_equal(np.isnan(vis.seen_only(tracks, seen)).any(-1), ~seen)
    video = vis.result_overlay(frames, result, tail=0)
    assert video[0, 24, 8].sum() == 0 and video[0, 8, 8].sum() > 0  # track 2 not yet there, track 0 is
    assert video[4, 8, 8].sum() == 0 and video[4, 24, 8].sum() > 0  # track 0 lost, track 2 seen
    picture = vis.key_frame_picture(frames, result)
    assert all(picture[y, x].sum() > 0 for x, y in tracks[3].astype(int))


# --- plumbing ------------------------------------------------------------------------------------


def test_foreign_datasets_package_is_refused(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", types.ModuleType("datasets"))
    with pytest.raises(ImportError, match="not this toolkit's"):
        require_toolkit_datasets()


def test_find_sequences(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "anno.npz").write_bytes(b"")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "annotations.npz").write_bytes(b"")
    (tmp_path / "c").mkdir()
    assert find_sequences(tmp_path) == [tmp_path / "a", tmp_path / "b"]
    assert find_sequences(tmp_path / "b") == [tmp_path / "b"]
    with pytest.raises(ValueError, match="no PointOdyssey sequence"):
        find_sequences(tmp_path / "c")
    with pytest.raises(FileNotFoundError):
        find_sequences(tmp_path / "missing")


def planted_input(tracks, ids):
    """A VideoInput of given tracks with per-track ground truth, as a PointOdyssey sequence is read."""
    import datasets

    T, N, _ = tracks.shape
    given = datasets.TrackSet(tracks, np.ones((T, N), bool), (480, 480))
    truth = datasets.GroundTruth(object_ids=ids, ambiguous=np.zeros(N, bool))
    return datasets.VideoInput(np.zeros((T, 48, 48, 3), np.uint8), given, truth, "pointodyssey", "planted")


def test_evaluate_result_scores_auto_and_sweep(rng):
    import segmentation

    tracks, ids = rigid_objects(rng)
    options = segmentation.VideoOptions(min_size=3, masks=False)
    run = segmentation.discover_video(planted_input(tracks, ids), "pearson", options)
    result = evaluate_result(run, sequence="planted")
    row = result.summary_row()
    assert list(row)[:7] == ["sequence", "estimator", "n_tracks", "best_f", "ap", "objects_extracted", "seconds"]
    assert row["best_f"] >= row["auto_f"] == 1.0 and row["objects_extracted"] == 2  # background not counted
    assert result.auto_threshold in result.sweep.thresholds
    g = run.grouped
    assert row["anchor_auc"] == round(anchor_auc(run.mi, run.truth_ids[g], run.ambiguous[g]), 4) == 1.0
    assert row["anchor_auc_compared"] == row["anchor_auc"] and row["compared_share"] == 1.0  # given tracks
    assert row["best_f"] > row["one_group_f"] == 0.6  # the objects split apart; all 28 tracks as object 0 (12)
    assert row["top_f_objects"] == 1.0 and row["best_matched"] == row["num_objects"] == 3  # every object whole
    # an affinity that says nothing (every pair alike): its best is every track in one group, which
    # the per-object F counts against the objects it leaves unmatched
    flat = np.full_like(run.mi, 0.5)
    np.fill_diagonal(flat, 0.0)
    scored = evaluate_result(dataclasses.replace(run, mi=flat))
    row = scored.summary_row()
    assert row["best_f"] == row["one_group_f"] == 0.6
    assert scored.num_objects == 3 and row["top_f_objects"] == 0.2 and row["best_matched"] == 1
    # a tracker's partial tracks: the first 7 tracks share 3 frames with every other, too few to compare
    shared = np.full(run.mi.shape, 50, np.int32)
    shared[:7], shared[:, :7] = 3, 3
    row = evaluate_result(dataclasses.replace(run, shared=shared)).summary_row()
    assert row["compared_share"] == round(1 - (7 * 27 - 21) / (28 * 27 / 2), 4)
    expected = anchor_auc(run.mi, run.truth_ids[g], run.ambiguous[g], compared=shared >= run.options["min_overlap"])
    assert row["anchor_auc_compared"] == round(expected, 4)
    with pytest.raises(ValueError, match="no ground-truth"):
        evaluate_result(dataclasses.replace(run, truth_ids=None))


def test_exactly_rigid_objects_stay_apart_under_correlation_estimators():
    # every point of an object translates with it: |r| = 1 inside, so Pearson's MI is infinite
    rng = np.random.default_rng(3)
    paths = rng.standard_normal((2, 40, 2)).cumsum(axis=1)  # two independent random walks
    offsets = rng.uniform(-20, 20, (2, 10, 2))
    tracks = np.concatenate([paths[k][:, None, :] + offsets[k][None] for k in range(2)], axis=1)  # (T, 20, 2)
    mi = track_mi(tracks, infonet.get_estimator("pearson"))
    assert np.isfinite(mi).all()
    assert mi[:10, :10][~np.eye(10, dtype=bool)].min() > mi[:10, 10:].max() + 0.5
    labels = group(mi, min_size=3).labels
    assert len(set(labels[:10])) == 1 and len(set(labels[10:])) == 1 and labels[0] != labels[10]


@pytest.mark.parametrize("feature", ["coords", "xy"])
@pytest.mark.parametrize("partial", [False, True])
def test_track_mi_reads_the_lower_end_of_each_pairs_interval(rng, feature, partial):
    """statistic="lower": each pair's 5 % quantile, on full and partial tracks alike; refused for
    estimators without intervals; discover() falls back to their estimate and says so."""
    tracks = random_tracks(rng, T=40, N=6)
    options = {}
    if partial:
        visibility = np.ones(tracks.shape[:2], bool)
        visibility[:10, 0] = visibility[-8:, 3] = False
        options = {"visibility": visibility, "min_overlap": 16}
    est = infonet.get_estimator("infonet")
    mi = track_mi(tracks, est, feature=feature, **options)
    low = track_mi(tracks, est, feature=feature, statistic="lower", **options)
    off = ~np.eye(6, dtype=bool)
    assert np.all(low[off] < mi[off]) and np.allclose(low, low.T)
    seen = options.get("visibility", np.ones(tracks.shape[:2], bool))
    both = seen[:, 0] & seen[:, 3]
    view = tracks[both][:, [0, 3]].transpose(1, 0, 2)  # the pair (0, 3) on its shared frames
    if feature == "coords":
        want = np.mean([est.estimate_interval_batch(view[None, 0, :, k], view[None, 1, :, k])[1][0, 0] for k in (0, 1)])
    else:
        want = est.estimate_interval_batch(view[None, 0], view[None, 1])[1][0, 0]
    assert low[0, 3] == pytest.approx(want, abs=1e-4)
    with pytest.raises(ValueError, match="needs an estimator with intervals"):
        track_mi(tracks, infonet.get_estimator("pearson"), statistic="lower")
    with pytest.raises(ValueError, match="statistic must be one of"):
        track_mi(tracks, est, statistic="median")
    assert discover(tracks, "pearson", statistic="lower").statistic == "estimate"


def test_clips_under_12_frames_go_per_coordinate_for_infonet(rng, tiny_estimator, caplog):
    tracks = random_tracks(rng, T=10, N=8)
    with caplog.at_level("WARNING"):
        found = discover(tracks, tiny_estimator, feature="xy", min_size=2)
    assert found.feature == "coords" and "becomes 'coords'" in caplog.text
    assert np.allclose(found.mi, track_mi(tracks, tiny_estimator, feature="coords", statistic="lower"))
    assert usable_feature("xy-velocity", tiny_estimator, 12) == "velocity"  # 11 displacements
    assert usable_feature("xy+xy-velocity", tiny_estimator, 12, step=2) == "xy+velocity"
    assert usable_feature("xy", tiny_estimator, 12) == "xy"
    assert usable_feature("xy", infonet.get_estimator("ksg"), 8) == "xy"  # an estimator with a vector form


@pytest.mark.parametrize("name", ["infonet", "ksg", "pearson"])
def test_short_clips_compare_tracks_as_vectors(rng, name):
    """Clips of 12-15 frames: InfoNet's multivariate network reads them as it reads the short overlaps of
    partial tracks (they went per coordinate to the 1-D networks, at 9.5 times the MI time on davis-dev's
    first 12 frames), and KSG's matrix was all zeros below 16 (it asked for 16 shared samples): each
    finds the three planted objects."""
    T = 12
    paths = np.cumsum(rng.standard_normal((T, 3, 2)), axis=0) * 5
    tracks = np.concatenate([paths[:, [k]] + 0.3 * rng.standard_normal((T, 6, 2)) for k in range(3)], axis=1)
    est = infonet.get_estimator(name)
    found = discover(tracks, est, feature="xy", min_size=2)
    assert found.feature == "xy"
    assert found.labels.tolist() == [1] * 6 + [2] * 6 + [3] * 6
    if name == "infonet":  # the pair's own reading: the 5 % end of the network's interval on its 12 samples
        from infonet.vector_estimate import predict_vector

        pair = tracks[:, [0, 7]].transpose(1, 0, 2)
        want = predict_vector(est.vector_model, pair[None, 0], pair[None, 1])["quantiles"][0, 0]
        assert found.statistic == "lower" and found.mi[0, 7] == pytest.approx(want, abs=1e-5)


def test_trusted_mi_floors_the_pairs_that_share_too_few_frames():
    from segmentation import trusted_mi

    mi = np.array([[0.0, 2.0, 0.5, 0.3], [2.0, 0.0, 3.0, 0.2], [0.5, 3.0, 0.0, 0.4], [0.3, 0.2, 0.4, 0.0]])
    shared = np.full((4, 4), 40)
    shared[1, 2] = shared[2, 1] = 10  # tracks 1 and 2 share 10 frames: read (3.0), but join nothing
    got = trusted_mi(mi, shared)
    assert got[1, 2] == got[2, 1] == 0.2  # the lowest MI of the trusted pairs
    keep = np.ones((4, 4), bool)
    keep[1, 2] = keep[2, 1] = False
    assert np.array_equal(got[keep], mi[keep])
    assert np.array_equal(trusted_mi(mi, None), mi)  # every pair compared on every frame
    assert np.array_equal(trusted_mi(mi, np.full((4, 4), 10)), mi)  # no pair shares enough: all are read
    assert trusted_mi(mi, shared, min_shared=8)[1, 2] == 3.0
    with pytest.raises(ValueError, match=r"shared must hold one count per pair, shape \(4, 4\)"):
        trusted_mi(mi, shared[:3])
    labels = segmentation.group(got, threshold=1.0, min_size=1).labels
    assert labels[0] == labels[1] != labels[2]  # 1-2's short overlap no longer joins 2 to 0 and 1


def test_discover_reads_short_overlaps_but_groups_on_trusted_pairs(rng):
    """Partial tracks: InfoNet reads pairs from min_overlap (8) shared frames, below the 16 its
    multivariate network was trained on; the grouping joins tracks only on pairs sharing 24 or more (GROUP_MIN_SHARED)."""
    T, N = 40, 12
    tracks = np.cumsum(rng.standard_normal((T, N, 2)), 0)
    visibility = np.ones((T, N), bool)
    visibility[:28, 3] = False  # track 3 shares 12 frames with the others
    found = segmentation.discover(
        datasets.TrackSet(tracks, visibility, (480, 640)), "infonet", feature="xy", min_overlap=8, min_size=1
    )
    assert found.shared[3, 0] == 12 and found.shared[0, 1] == T
    est = infonet.get_estimator("infonet")
    from infonet.vector_estimate import predict_vector

    frames = np.arange(28, T)
    out = predict_vector(
        est.vector_model, tracks[frames][:, [0]].transpose(1, 0, 2), tracks[frames][:, [3]].transpose(1, 0, 2)
    )
    assert found.mi[0, 3] == pytest.approx(out["quantiles"][0, 0], abs=1e-5)  # the lower end, read
    others = found.mi[np.ix_([0, 1, 2], [0, 1, 2])]
    assert found.mi[0, 3] != others[others > 0].min()  # not left at the floor
    again = segmentation.group(segmentation.trusted_mi(found.mi, found.shared), min_size=1)
    assert np.array_equal(again.labels, found.labels)
