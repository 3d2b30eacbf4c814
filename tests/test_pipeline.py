"""The video pipeline end to end on the bundled sample (known answer), regrouping, and result.npz."""

import dataclasses

import numpy as np
import pytest

import datasets
import infonet
import segmentation
from datasets.pointodyssey import read_mask

pytestmark = pytest.mark.skipif(not (datasets.SAMPLE_SEQUENCE / "anno.npz").is_file(), reason="no bundled sample")


@pytest.fixture(scope="module")
def sample():
    inp = datasets.load_input(datasets.SAMPLE_SEQUENCE, max_tracks=300)
    inp.frames = np.stack(list(inp.frames))
    return inp


@pytest.fixture(scope="module")
def run(sample):
    # the known answer is Pearson's on the paper's per-coordinate affinity (fast and exact here); on
    # the default 2-D feature Pearson merges two of the three objects (InfoNet, the default
    # estimator, separates all three there: docs/discovery.md)
    return segmentation.discover_video(sample, "pearson", segmentation.VideoOptions(feature="coords"))


def truth_masks(sample) -> np.ndarray:
    """(T, H, W) the sample's ground-truth palette indices: 0 background, k asset k - 1."""
    files = sorted((datasets.SAMPLE_SEQUENCE / "masks").glob("mask_*.png"))[: sample.num_frames]
    return np.stack([read_mask(f) for f in files]).astype(np.int16)


def test_the_sample_objects_are_recovered(sample, run):
    """The sample holds three moving objects on a background (info.npz): each is found once."""
    ids = np.load(datasets.SAMPLE_SEQUENCE / "info.npz")["track_object_ids"]
    planted = sorted(set(ids.tolist()) - {0})
    assert run.foreground.startswith("groups (auto")  # a PointOdyssey sequence's own tracks
    assert len(run.objects) == len(planted) and run.objects == list(range(1, len(planted) + 1))
    scores = segmentation.score_video(run, truth_masks(sample))
    matched = {o: p for _, o, p, r in scores.tracks.pairs if min(p, r) > 0.9}  # ground-truth id -> precision
    assert sorted(matched) == [0, *planted]  # every object and the background, one group each
    assert scores.tracks.objects_extracted == len(planted)
    # the masks cover the objects where the ground truth has them
    assert scores.masks.j > 0.6, scores.masks
    # labels follow the convention: the background is 0 and never counted as an object
    g = run.grouped
    background = run.labels[g][run.truth_ids[g] == 0]
    assert np.mean(background == segmentation.BACKGROUND) > 0.9
    assert set(np.unique(run.masks)) == {0, *run.objects}
    sizes = [int((run.labels == k).sum()) for k in run.objects]
    assert sizes == sorted(sizes, reverse=True)  # objects numbered by size
    assert f"{len(planted)} object(s)" in run.summary()


def test_the_result_says_what_the_tracks_were_compared_on(sample, run):
    stepped = segmentation.VideoOptions(feature="xy-velocity", step=4, masks=False)
    again = segmentation.discover_video(sample, "pearson", stepped, reuse=run)
    assert again.options["step"] == 4
    assert "on xy-velocity (displacements over 4 frames)," in again.summary()
    assert "on coords," in run.summary() and run.options["step"] == 1


def test_each_pair_is_read_on_at_most_max_samples_frames(sample, run):
    opts = segmentation.VideoOptions(feature="xy", masks=False, max_samples=16)
    capped = segmentation.discover_video(sample, "pearson", opts, reuse=run)
    g = capped.grouped
    est = infonet.get_estimator("pearson")
    kept = segmentation.affinity.spread_samples(sample.num_frames, 16)
    assert capped.options["max_samples"] == 16 and sample.num_frames > 16
    assert np.allclose(capped.mi, segmentation.track_mi(capped.tracks[kept][:, g], est, feature="xy"))
    whole = segmentation.discover_video(sample, "pearson", dataclasses.replace(opts, max_samples=0), reuse=run)
    assert np.allclose(whole.mi, segmentation.track_mi(whole.tracks[:, g], est, feature="xy"))


def test_the_default_feature_follows_where_the_tracks_come_from(sample):
    """feature="auto": positions and 4-frame displacements for given tracks, positions for tracked video."""
    from types import SimpleNamespace

    from segmentation.pipeline import AUTO_FEATURE, _feature

    run = segmentation.discover_video(sample, "pearson", segmentation.VideoOptions(masks=False))
    assert (run.options["feature"], run.options["step"]) == AUTO_FEATURE["given"] == ("xy+xy-velocity", 4)
    assert "on xy+xy-velocity (displacements over 4 frames)," in run.summary()
    auto = segmentation.VideoOptions()
    assert _feature(SimpleNamespace(tracks=None, num_frames=50), auto) == ("xy", 1)  # tracked video
    assert _feature(SimpleNamespace(tracks=object(), num_frames=19), auto) == ("xy", 1)  # 15 displacements
    assert _feature(SimpleNamespace(tracks=None, num_frames=50), segmentation.VideoOptions(feature="coords")) == (
        "coords",
        1,
    )
    with pytest.raises(ValueError, match="step=4 needs a feature of your own choice"):
        segmentation.VideoOptions(step=4)


def test_motion_foreground_on_given_tracks(sample):
    """Given tracks get the motion foreground too (it needs tracks, and frames for the dense part)."""
    options = segmentation.VideoOptions(foreground="motion", masks=False)
    run = segmentation.discover_video(sample, "pearson", options)
    assert run.moving is not None and run.saliency.shape == (run.tracks.shape[1],)
    assert run.moving.any() and run.foreground == "motion (as asked)"
    # on this sample the motion score tells objects from background poorly (the camera zooms and
    # pans over a flat scene), which is why "auto" groups a PointOdyssey sequence by MI alone
    assert len(run.objects) >= 2 and segmentation.score_video(run).tracks.f > 0.8


def test_regroup_needs_no_tracking_and_no_mi(sample, run, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("regrouping must not track or estimate MI")

    for name in ("track_mi", "discover", "track_frames"):
        monkeypatch.setattr(segmentation.pipeline, name, no_work, raising=False)
    same = segmentation.regroup(run, sample.frames)
    np.testing.assert_array_equal(same.labels, run.labels)
    np.testing.assert_array_equal(same.masks, run.masks)
    assert same.mi is run.mi and same.threshold == run.threshold
    above = segmentation.regroup(run, sample.frames, threshold=1e9)  # above every MI: no object at all
    assert above.objects == [] and (above.groups == -1).all() and not above.masks.any()
    assert "0 object(s)" in above.summary() and "MI >= 1e+09 nats" in above.summary()
    loose = segmentation.regroup(run, None, min_size=1000)  # without frames: labels, no masks
    assert loose.masks is None and loose.objects == []


def test_the_total_is_the_wall_time_where_stages_run_side_by_side(sample, monkeypatch):
    import time

    pipeline = segmentation.pipeline
    track, motion = pipeline._track, pipeline._motion

    def slow_dense(*args):  # the dense motion runs in a thread beside the tracker
        time.sleep(0.6)
        return None, 0.6

    def slow_track(*args):
        time.sleep(0.6)
        return dataclasses.replace(track(*args), seconds=0.6)

    monkeypatch.setattr(pipeline, "_dense", slow_dense)
    monkeypatch.setattr(pipeline, "_track", slow_track)
    # the motion stage's seconds include the dense part it waited for
    monkeypatch.setattr(
        pipeline, "_motion", lambda frames, every, opts, done: (motion(frames, every, opts, done)[0], 0.6)
    )
    options = segmentation.VideoOptions(feature="coords", masks=False)
    start = time.perf_counter()
    run = segmentation.discover_video(sample, "pearson", options)
    wall = time.perf_counter() - start
    stages = sum(v for k, v in run.timings.items() if k != "total")
    assert run.timings["total"] <= wall and run.timings["total"] < stages - 0.4  # the 0.6 s overlap counted once
    again = segmentation.regroup(run, None, threshold=1e9)  # the same run with another grouping in its place
    grouping = run.timings["total"] - run.timings["masks"] - run.timings["grouping"] + again.timings["grouping"]
    assert again.timings["total"] == pytest.approx(grouping + again.timings["masks"])


def test_the_smallest_group_is_a_fifteenth_of_the_tracks_unless_given(run):
    assert [segmentation.pipeline.group_min_size(0, n) for n in (300, 150, 40, 0)] == [20, 10, 5, 5]
    assert segmentation.pipeline.group_min_size(7, 300) == 7
    assert segmentation.VideoOptions().min_size == 0
    n = len(run.grouped)  # the sample's run: default min_size, kept resolved in the result's options
    assert run.options["min_size"] == max(5, round(n / 15))
    sizes = np.bincount(run.groups[run.groups > 0])
    assert (sizes[1:] >= run.options["min_size"]).all()
    again = segmentation.regroup(run, None, min_size=0)  # 0 again: the same share of the same tracks
    assert again.options["min_size"] == run.options["min_size"]
    np.testing.assert_array_equal(again.labels, segmentation.regroup(run, None).labels)
    assert segmentation.regroup(run, None, min_size=3).options["min_size"] == 3


def test_result_file_round_trip(run, tmp_path):
    path = segmentation.save_result(run, tmp_path / "result.npz")
    back = segmentation.load_result(path)
    for name in ("tracks", "visibility", "grouped", "groups", "labels", "masks", "truth_ids", "source_index"):
        np.testing.assert_array_equal(getattr(back, name), getattr(run, name), err_msg=name)
    np.testing.assert_allclose(back.mi, run.mi, rtol=1e-6, atol=1e-6)
    assert back.options == run.options and back.timings == run.timings
    assert (back.threshold, back.estimator, back.foreground) == (run.threshold, run.estimator, run.foreground)
    assert back.image_size == run.image_size
    np.testing.assert_array_equal(segmentation.regroup(back).labels, segmentation.regroup(run).labels)
    with np.load(path) as raw:
        assert int(raw["version"]) == segmentation.RESULT_VERSION and raw["masks"].dtype == np.int16


def test_result_file_refusals(run, tmp_path):
    path = segmentation.save_result(run, tmp_path / "result.npz")
    with np.load(path) as raw:
        arrays = dict(raw)
    np.savez(tmp_path / "old.npz", **{**arrays, "version": np.int64(0)})
    with pytest.raises(datasets.DataError, match="version"):
        segmentation.load_result(tmp_path / "old.npz")
    np.savez(tmp_path / "partial.npz", **{k: v for k, v in arrays.items() if k != "mi"})
    with pytest.raises(datasets.DataError, match="lacks mi"):
        segmentation.load_result(tmp_path / "partial.npz")
    (tmp_path / "cut.npz").write_bytes(path.read_bytes()[:1000])
    with pytest.raises(datasets.DataError, match="truncated or damaged"):
        segmentation.load_result(tmp_path / "cut.npz")


def test_a_write_that_fails_leaves_the_previous_file(run, tmp_path, monkeypatch):
    path = segmentation.save_result(run, tmp_path / "result.npz")
    before = path.read_bytes()

    def killed(file, **arrays):
        with open(file, "wb") as f:
            f.write(b"PK half a zip")
        raise KeyboardInterrupt  # as Ctrl-C or SIGTERM (run_cli) arrives mid-write

    monkeypatch.setattr(datasets, "save_npz", killed)
    with pytest.raises(KeyboardInterrupt):
        segmentation.save_result(run, path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["result.npz"]


def test_options_are_checked_when_built():
    for kwargs, needle in [
        ({"threshold": -1.0}, "threshold"),
        ({"threshold": float("nan")}, "threshold"),
        ({"threshold": "high"}, "threshold"),
        ({"min_overlap": 3}, "min_overlap must be a whole number >= 8"),
        ({"max_tracks": 10**8}, "max_tracks"),
        ({"seed": -1}, "seed"),
        ({"min_size": -1}, "min_size must be a whole number >= 0"),
        ({"flow": "magic"}, "flow 'magic' is unknown"),
    ]:
        with pytest.raises(ValueError, match=needle):
            segmentation.VideoOptions(**kwargs)
    assert segmentation.VideoOptions(threshold="0.5").threshold == 0.5
    nan = float("nan")
    for kwargs, needle in [  # the masks' options: each once ran to a traceback or silently, after the MI
        ({"spread": 1e11}, "spread must be in"),
        ({"spread": nan}, "spread must be in"),
        ({"spread": 0.0}, "spread must be in"),
        ({"superpixels": -1}, "superpixels must be >= 0"),
        ({"compactness": nan}, "compactness must be > 0"),
        ({"compactness": -1.0}, "compactness must be > 0"),
        ({"keep_share": 1.5}, "keep_share must be in"),
        ({"keep_share": nan}, "keep_share must be in"),
    ]:
        with pytest.raises(ValueError, match=needle):
            segmentation.MaskOptions(**kwargs)


def test_a_short_video_is_refused_with_advice_it_can_follow(sample):
    short = datasets.VideoInput(sample.frames[:3], None, None, "video", "three.mp4")
    with pytest.raises(ValueError, match="three.mp4 has 3 frames; MI between tracks needs at least 8"):
        segmentation.discover_video(short, "pearson")
    ten = datasets.VideoInput(sample.frames[:10], None, None, "video", "ten.mp4")
    with pytest.raises(ValueError, match="min_overlap 12 is more than the 10 frames of ten.mp4; set it to at most 10"):
        segmentation.discover_video(ten, "pearson", segmentation.VideoOptions(min_overlap=12))
    with pytest.raises(ValueError, match=r"motion gaps \[10, 40\] are not shorter than the 10 frames of ten.mp4"):
        segmentation.discover_video(ten, "pearson", segmentation.VideoOptions(motion_gaps=(1, 40), dense_gaps=(10,)))
    with pytest.raises(TypeError, match="takes a datasets.VideoInput"):
        segmentation.discover_video("ten.mp4", "pearson")


def test_regroup_and_the_result_file_keep_the_pairs_the_grouping_trusts(run, tmp_path):
    N = len(run.grouped)
    shared = np.full((N, N), 50, np.int32)
    strongest = np.unravel_index(np.argmax(run.mi), run.mi.shape)
    shared[strongest] = shared[strongest[::-1]] = 9  # the strongest pair now shares 9 frames
    partial = dataclasses.replace(run, shared=shared)
    back = segmentation.load_result(segmentation.save_result(partial, tmp_path / "result.npz"))
    np.testing.assert_array_equal(back.shared, shared)
    others = back.mi[(shared >= 16) & ~np.eye(N, dtype=bool)]
    assert back.grouping_mi()[strongest] == others.min() and back.mi[strongest] == pytest.approx(run.mi[strongest])
    again = segmentation.regroup(back, threshold=1.0)
    expected = segmentation.group(back.grouping_mi(), threshold=1.0, min_size=run.options["min_size"])
    np.testing.assert_array_equal(again.groups, expected.labels)
    assert segmentation.load_result(segmentation.save_result(run, tmp_path / "given.npz")).shared is None
