"""Known-answer tests of the datasets package: generated sequences carry their own truth."""

import shutil

import cv2
import numpy as np
import pytest
from PIL import Image

import datasets
from datasets import (
    SAMPLE_SEQUENCE,
    DataError,
    TrackSet,
    generate_sequence,
    load_pointodyssey,
    load_tracks,
    read_video,
    write_video,
)
from datasets.synthetic import CORRUPTION_KINDS

SMALL = dict(num_frames=12, size=(120, 200), num_objects=3, num_tracks=300, corrupt_fraction=0.08)


@pytest.fixture(scope="module")
def sequence_dir(tmp_path_factory):
    return generate_sequence(tmp_path_factory.mktemp("gen") / "seq", seed=3, **SMALL)


@pytest.fixture(scope="module")
def truth(sequence_dir):
    with np.load(sequence_dir / "info.npz") as info:
        return {k: info[k] for k in info.files}


def _expected_drops(corruption: np.ndarray, huge_is_finite: bool = True) -> dict:
    count = {kind: int((corruption == code).sum()) for code, kind in enumerate(CORRUPTION_KINDS)}
    expected = {
        "invalid": count["invalid"],
        "non_finite": count["nan"] + count["inf"] + (0 if huge_is_finite else count["huge"]),
        "out_of_bounds": count["huge"] if huge_is_finite else 0,
    }
    return {k: v for k, v in expected.items() if v}


def test_package_marker():
    assert datasets.__infonet_toolkit__ is True


def test_generated_layout(sequence_dir):
    for sub, prefix, suffix in [("rgbs", "rgb", "jpg"), ("masks", "mask", "png"), ("depths", "depth", "png")]:
        files = sorted((sequence_dir / sub).iterdir())
        assert [f.name for f in files] == [f"{prefix}_{t:05d}.{suffix}" for t in range(SMALL["num_frames"])]
    with Image.open(sequence_dir / "masks" / "mask_00000.png") as mask:
        assert mask.mode == "P"
    assert cv2.imread(str(sequence_dir / "depths" / "depth_00000.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    with np.load(sequence_dir / "anno.npz") as anno:
        t, n = SMALL["num_frames"], SMALL["num_tracks"]
        assert anno["trajs_2d"].shape == (t, n, 2) and anno["trajs_2d"].dtype == np.float32
        assert anno["trajs_3d"].shape == (t, n, 3)
        assert anno["valids"].shape == anno["visibs"].shape == (t, n)
        assert anno["intrinsics"].shape == (t, 3, 3) and anno["extrinsics"].shape == (t, 4, 4)


def test_generated_3d_projects_to_2d(sequence_dir, truth):
    with np.load(sequence_dir / "anno.npz") as anno:
        world, intrinsics, extrinsics = anno["trajs_3d"], anno["intrinsics"], anno["extrinsics"]
        trajs = anno["trajs_2d"]
    clean = truth["track_corruption"] == 0
    camera = np.einsum("tij,tnj->tni", extrinsics[:, :3, :3], world) + extrinsics[:, None, :3, 3]
    pixels = np.einsum("tij,tnj->tni", intrinsics, camera)
    projected = pixels[..., :2] / pixels[..., 2:]
    np.testing.assert_allclose(projected[:, clean], trajs[:, clean], atol=0.02)


def test_generated_scene_has_occlusion_and_exits(sequence_dir, truth):
    with np.load(sequence_dir / "anno.npz") as anno:
        trajs, visibs = anno["trajs_2d"], anno["visibs"]
    clean = truth["track_corruption"] == 0
    height, width = SMALL["size"]
    with np.errstate(invalid="ignore"):
        inside = (
            (trajs[..., 0] >= 0) & (trajs[..., 0] <= width - 1) & (trajs[..., 1] >= 0) & (trajs[..., 1] <= height - 1)
        )
    assert (~inside[:, clean]).any(), "some point should leave the view"
    assert (inside & ~visibs)[:, clean].any(), "some point should be occluded inside the view"
    assert set(np.unique(truth["track_object_ids"])) == {0, 1, 2, 3}


def test_generate_is_deterministic(tmp_path, sequence_dir):
    again = generate_sequence(tmp_path / "again", seed=3, **SMALL)
    with np.load(sequence_dir / "anno.npz") as a, np.load(again / "anno.npz") as b:
        np.testing.assert_array_equal(a["trajs_2d"], b["trajs_2d"])
        np.testing.assert_array_equal(a["visibs"], b["visibs"])


def test_roundtrip_object_ids_and_drops(sequence_dir, truth):
    seq = load_pointodyssey(sequence_dir)
    tracks = seq.tracks
    clean = np.flatnonzero(truth["track_corruption"] == 0)
    np.testing.assert_array_equal(tracks.source_index, clean)  # exactly the corrupted tracks are dropped
    assert tracks.dropped == _expected_drops(truth["track_corruption"])
    assert tracks.tracks.shape == (SMALL["num_frames"], len(clean), 2)
    assert tracks.image_size == SMALL["size"]
    expected = truth["track_object_ids"][tracks.source_index]
    sure = ~tracks.ambiguous
    assert sure.mean() > 0.9
    np.testing.assert_array_equal(tracks.object_ids[sure], expected[sure])
    assert seq.asset_names[0] == "object0_articulated" and len(seq.asset_names) == 3
    assert seq.object_name(0) == "background" and seq.object_name(1) == "object0_articulated"


def test_lazy_frames_and_masks(sequence_dir):
    seq = load_pointodyssey(sequence_dir, max_frames=5)
    assert len(seq.frames) == len(seq.masks) == seq.tracks.num_frames == 5
    frame, mask = seq.frames[4], seq.masks[-1]
    assert frame.shape == (*SMALL["size"], 3) and frame.dtype == np.uint8
    assert mask.shape == SMALL["size"] and set(np.unique(mask)) <= {0, 1, 2, 3}
    with pytest.raises(IndexError):
        seq.frames[5]


def test_old_format_loads_the_same(tmp_path, sequence_dir, truth):
    old = tmp_path / "old"
    shutil.copytree(sequence_dir, old)
    with np.load(old / "anno.npz") as anno:
        trajs, valids, visibs = anno["trajs_2d"], anno["valids"], anno["visibs"]
    (old / "anno.npz").unlink()
    codes = np.where(valids, visibs.astype(np.float16), np.float16(2))  # 1 visible, 0 occluded, 2 invalid
    with np.errstate(over="ignore"):  # the huge corrupted values become inf, as in old files
        np.savez(old / "annotations.npz", trajs_2d=trajs.astype(np.float16), visibilities=codes)
    new_seq, old_seq = load_pointodyssey(sequence_dir), load_pointodyssey(old)
    np.testing.assert_array_equal(old_seq.tracks.source_index, new_seq.tracks.source_index)
    assert old_seq.tracks.tracks.dtype == np.float32
    np.testing.assert_allclose(old_seq.tracks.tracks, new_seq.tracks.tracks, atol=0.25)  # float16 rounding
    np.testing.assert_array_equal(old_seq.tracks.visibility, new_seq.tracks.visibility)
    assert old_seq.tracks.dropped == _expected_drops(truth["track_corruption"], huge_is_finite=False)  # 1e7 -> inf
    agree = old_seq.tracks.object_ids == new_seq.tracks.object_ids
    assert agree.mean() > 0.97


def test_visible_only_and_subsample(sequence_dir):
    full = load_pointodyssey(sequence_dir).tracks
    visible = load_pointodyssey(sequence_dir, visible_only=True).tracks
    assert visible.visibility.all() and 0 < visible.num_tracks < full.num_tracks
    assert visible.dropped["not_visible"] == full.num_tracks - visible.num_tracks
    a = load_pointodyssey(sequence_dir, max_tracks=50, seed=1).tracks
    b = load_pointodyssey(sequence_dir, max_tracks=50, seed=1).tracks
    c = load_pointodyssey(sequence_dir, max_tracks=50, seed=2).tracks
    assert a.num_tracks == 50 and a.dropped["subsampled"] == full.num_tracks - 50
    np.testing.assert_array_equal(a.source_index, b.source_index)
    assert not np.array_equal(a.source_index, c.source_index)


def test_trackset_subset_and_checks():
    ts = TrackSet(np.zeros((3, 4, 2)), np.ones((3, 4)), (10, 20), object_ids=np.arange(4), dropped={"invalid": 1})
    sub = ts.subset(np.array([True, False, True, False]))
    assert sub.num_tracks == 2 and sub.num_frames == 3 and list(sub.object_ids) == [0, 2]
    assert sub.dropped == {"invalid": 1} and sub.tracks.dtype == np.float32
    with pytest.raises(DataError, match=r"\(T, N\)"):
        TrackSet(np.zeros((3, 4, 2)), np.ones((4, 3)), (10, 20))


def _write_minimal(folder, trajs, frames=3, **extra):
    (folder / "rgbs").mkdir(parents=True)
    for t in range(frames):
        cv2.imwrite(str(folder / "rgbs" / f"rgb_{t:05d}.jpg"), np.zeros((40, 60, 3), np.uint8))
    np.savez(folder / "anno.npz", trajs_2d=trajs, **extra)
    return folder


def test_bad_inputs_raise_data_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_pointodyssey(tmp_path / "missing")
    (tmp_path / "empty" / "rgbs").mkdir(parents=True)
    with pytest.raises(DataError, match="anno.npz"):
        load_pointodyssey(tmp_path / "empty")
    with pytest.raises(DataError, match=r"\(T, N, 2\).*anno.npz|anno.npz.*\(T, N, 2\)"):
        load_pointodyssey(_write_minimal(tmp_path / "shape", np.zeros((3, 5, 3))))
    with pytest.raises(DataError, match="valids"):
        load_pointodyssey(_write_minimal(tmp_path / "vshape", np.zeros((3, 5, 2)), valids=np.ones((5, 3))))
    with pytest.raises(DataError, match="at least 2 frames"):
        load_pointodyssey(_write_minimal(tmp_path / "one", np.zeros((1, 5, 2)), frames=1))
    good = _write_minimal(tmp_path / "good", np.full((3, 5, 2), 10.0))
    with pytest.raises(DataError, match="at least 2 frames"):
        load_pointodyssey(good, max_frames=1)
    with pytest.raises(DataError, match="no track is valid.*non_finite 5"):
        load_pointodyssey(_write_minimal(tmp_path / "nan", np.full((3, 5, 2), np.nan)))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "rgbs").mkdir()
    cv2.imwrite(str(tmp_path / "broken" / "rgbs" / "rgb_00000.jpg"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "broken" / "anno.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot read annotation"):
        load_pointodyssey(tmp_path / "broken")


def test_load_tracks_npy_npz_and_anno(tmp_path, sequence_dir, truth):
    rng = np.random.default_rng(0)
    arr = rng.uniform(0, 50, size=(6, 10, 2)).astype(np.float64)
    arr[2, 3, 0] = np.nan
    arr[4, 7, 1] = 1e9
    np.save(tmp_path / "t.npy", arr)
    ts = load_tracks(tmp_path / "t.npy", image_size=(60, 60))
    assert ts.num_tracks == 8 and ts.dropped == {"non_finite": 1, "out_of_bounds": 1}
    assert ts.tracks.dtype == np.float32 and ts.visibility.all()
    vis = rng.random((6, 10)) > 0.3
    np.savez(tmp_path / "t.npz", tracks=arr, visibility=vis)
    ts = load_tracks(tmp_path / "t.npz")  # image size inferred from the points
    assert ts.num_tracks == 8
    np.testing.assert_array_equal(ts.visibility, vis[:, ts.source_index])
    np.save(tmp_path / "bad.npy", np.zeros((10, 6)))
    with pytest.raises(DataError, match=r"\(T, N, 2\)"):
        load_tracks(tmp_path / "bad.npy")
    np.savez(tmp_path / "badvis.npz", tracks=arr, visibility=vis.T)
    with pytest.raises(DataError, match="visibility"):
        load_tracks(tmp_path / "badvis.npz")
    np.savez(tmp_path / "nokey.npz", points=arr)
    with pytest.raises(DataError, match="'trajs_2d' or 'tracks'"):
        load_tracks(tmp_path / "nokey.npz")
    with pytest.raises(DataError, match="not found"):
        load_tracks(tmp_path / "none.npz")
    np.save(tmp_path / "complex.npy", arr + 1j)  # its imaginary part was dropped with a numpy warning
    with pytest.raises(DataError, match="must hold real numbers; got dtype complex"):
        load_tracks(tmp_path / "complex.npy")
    ts = load_tracks(sequence_dir / "anno.npz")  # image size from the folder's frames
    assert ts.image_size == SMALL["size"]
    assert ts.dropped == _expected_drops(truth["track_corruption"])


def test_read_video_mp4_and_folder(tmp_path):
    ys, xs = np.mgrid[0:64, 0:96]
    frames = np.stack([np.stack([xs * 2 + 8 * t, ys * 3, np.full_like(xs, 40 * t)], -1) for t in range(5)])
    frames = frames.clip(0, 255).astype(np.uint8)
    path = write_video(frames, tmp_path / "clip.mp4", fps=10)
    assert path.stat().st_size > 0
    back = read_video(path)
    assert back.shape == frames.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - frames).mean() < 8
    assert read_video(path, stride=2).shape[0] == 3
    assert read_video(path, max_frames=2, max_side=48).shape == (2, 32, 48, 3)

    folder = tmp_path / "frames"
    folder.mkdir()
    for t in (1, 2, 10):  # natural order: 2 before 10
        cv2.imwrite(str(folder / f"f{t}.png"), np.full((8, 12, 3), t * 20, np.uint8))
    loaded = read_video(folder)
    assert loaded.shape == (3, 8, 12, 3) and list(loaded[:, 0, 0, 0]) == [20, 40, 200]

    with pytest.raises(DataError, match="not found"):
        read_video(tmp_path / "nothing.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"junk")
    with pytest.raises(DataError, match="junk.mp4"):
        read_video(tmp_path / "junk.mp4")
    single = tmp_path / "single"
    single.mkdir()
    cv2.imwrite(str(single / "0.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(DataError, match="at least 2"):
        read_video(single)
    (tmp_path / "none").mkdir()
    with pytest.raises(DataError, match="no image files"):
        read_video(tmp_path / "none")


def test_wandering_motion_keeps_its_pace_whatever_the_length(tmp_path):
    args = dict(seed=5, size=(64, 96), num_objects=2, num_tracks=60, corrupt_fraction=0.0)

    def trajs(name, frames, motion):
        path = generate_sequence(tmp_path / name, num_frames=frames, motion=motion, **args)
        return np.load(path / "anno.npz")["trajs_2d"]

    short, long = trajs("w24", 24, "wander"), trajs("w48", 48, "wander")
    assert np.allclose(long[:24], short)  # a longer clip continues the same motion
    assert not np.allclose(trajs("s48", 48, "sweep")[:24], trajs("s24", 24, "sweep"))  # a sweep spans the clip
    with pytest.raises(DataError, match="motion"):
        generate_sequence(tmp_path / "bad", num_frames=4, motion="drift", **args)


def test_generate_refuses_non_empty_folder(tmp_path):
    out = tmp_path / "user"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    args = dict(seed=0, num_frames=3, size=(40, 60), num_tracks=20)
    with pytest.raises(DataError, match="non-empty"):
        generate_sequence(out, **args)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    generate_sequence(out, overwrite=True, **args)
    assert (out / "notes.txt").read_text() == "mine" and (out / "anno.npz").is_file()
    generate_sequence(out, overwrite=True, **{**args, "num_frames": 2})  # stale frames go
    assert len(list((out / "rgbs").iterdir())) == 2


def test_sample_sequence_loads():
    seq = load_pointodyssey(SAMPLE_SEQUENCE, max_frames=8)
    assert seq.tracks.num_tracks > 300 and seq.tracks.object_ids is not None
    assert set(np.unique(seq.tracks.object_ids[~seq.tracks.ambiguous])) == {0, 1, 2, 3}
