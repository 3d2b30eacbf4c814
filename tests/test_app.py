"""The demo's handlers, called directly (no server): the sample, a generated video, bad inputs."""

import os
import re
import tempfile
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

import app  # the repository root is on the path: tests/ is a package
import datasets
import segmentation
from infonet.checkpoint import DEFAULT_WEIGHTS

T, H, W = 24, 150, 200
SQUARE = 60  # side of the moving square, pixels


def square_origin(t: int) -> tuple[int, int]:
    """Top-left (x, y) of the square in frame t: a drift to the right with a wobble."""
    return 30 + round(40 * t / T + 6 * np.sin(t / 2.5)), 40 + round(10 * np.sin(t / 3.3))


def background_shift(t: int) -> tuple[int, int]:
    """The background sways on its own (a panning camera)."""
    return round(5 * np.sin(t / 4 + 1)), round(4 * np.cos(t / 6))


def textured_frames() -> np.ndarray:
    """(T, H, W, 3) uint8: a textured background sways, a textured square moves its own way."""
    import cv2

    rng = np.random.default_rng(0)
    back = cv2.GaussianBlur(rng.integers(0, 255, (H + 40, W + 40, 3), dtype=np.uint8), (5, 5), 1.5)
    patch = cv2.GaussianBlur(rng.integers(0, 255, (SQUARE, SQUARE, 3), dtype=np.uint8), (3, 3), 1.0)
    frames = []
    for t in range(T):
        dx, dy = background_shift(t)
        frame = back[20 + dy : 20 + dy + H, 20 + dx : 20 + dx + W].copy()
        x, y = square_origin(t)
        frame[y : y + SQUARE, x : x + SQUARE] = patch
        frames.append(frame)
    return np.stack(frames)


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return datasets.write_video(textured_frames(), tmp_path_factory.mktemp("video") / "square.mp4")


@pytest.fixture(scope="module")
def sample_run():
    """The bundled sample with the fast Pearson estimator (shared by the read-only tests)."""
    return app.run_discovery(None, None, "pearson", 100, 40, 5, None, "sample")


def click(x, y) -> gr.SelectData:
    return gr.SelectData(None, {"index": [x, y], "value": None})


@pytest.fixture
def no_leaks(tmp_path, monkeypatch):
    """Session folders go to tmp_path, so a test can check that failures leave none behind."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return lambda: sorted(p.name for p in tmp_path.glob("infonet-demo-*"))


# ----------------------------------------------------------------------------- the sample


def test_sample_run(sample_run):
    out = sample_run
    session = out.session
    N = len(session.result.grouped)
    assert N == 100  # subsampled
    assert Path(out.video).read_bytes()[4:8] == b"ftyp"  # an MP4 container
    assert out.key_frame.shape == (270, 480, 3) and out.key_frame.dtype == np.uint8
    assert out.mi_matrix.axes  # a matplotlib figure
    assert out.pr_curve["visible"] and out.pr_curve["value"].axes  # the sample has ground truth
    assert out.auto["value"] is True and "nats" in out.auto["label"]
    assert out.threshold["value"] == pytest.approx(session.result.auto_threshold, abs=1e-4)
    assert out.threshold["minimum"] <= session.result.auto_threshold <= out.threshold["maximum"]
    assert out.mi_map is None and out.point_info == app.CLICK_HINT
    assert "(automatic)" in out.summary and "best **" in out.summary
    # three objects and the background: some threshold separates them (Pearson suits rigid motion)
    assert len(session.result.objects) >= 2
    assert session.sweep.scores[session.sweep.best].f > 0.95
    assert {"background", "object1_box"} <= set(session.truth.names.values())
    assert list(out.table.columns) == app.TABLE_COLUMNS
    labels = session.result.grouped_tracks()[2]
    objects, smaller = app._objects(session)
    assert len(out.table) == len(objects) + (labels == 0).any() + (labels < 0).any()
    assert out.table["tracks"].sum() == N - np.isin(labels, smaller).sum()
    names = [name.split("</span> ")[1] for name in out.table["object"]]
    assert names[: len(objects)] == [f"object {k}" for k in objects]
    assert "background" in names  # the background is a row of its own, never an object
    assert out.summary.startswith(f"**Found: {len(objects)} object")  # the first words after a run


def test_summary_words_match_the_table_and_the_plot(sample_run):
    """Objects are counted without the background; the ground-truth line names recovered objects; the
    best F over the thresholds is never below the F at the current threshold (its sweep holds it)."""
    out, session = sample_run, sample_run.session
    assert "object(s)" not in out.summary and "objects extracted" not in out.summary
    truth = len([k for k in session.truth.names if k > 0])
    assert f"of {truth} ground-truth objects recovered" in out.summary
    here = float(re.search(r"F ([0-9.]+) at this threshold", out.summary).group(1))
    best = float(re.search(r"best \*\*([0-9.]+)\*\*", out.summary).group(1))
    assert best >= here
    legend = [t.get_text() for t in out.pr_curve["value"].axes[0].get_legend().get_texts()]
    assert legend[0] == f"pearson: AP {session.sweep.ap:.2f}" and "automatic threshold" in legend[1]
    assert f"AP {session.sweep.ap:.3f}" in out.summary
    higher = app.set_threshold(float(np.quantile(session.result.mi, 0.9)), 5, session)
    here = float(re.search(r"F ([0-9.]+) at this threshold", higher.summary).group(1))
    assert float(re.search(r"best \*\*([0-9.]+)\*\*", higher.summary).group(1)) >= here
    assert "chosen threshold" in higher.pr_curve["value"].axes[0].get_legend().get_texts()[1].get_text()


def test_objects_under_the_minimum_size_are_not_listed(tmp_path):
    labels = np.array([1] * 10 + [2] * 3 + [0] * 5 + [-1] * 2)  # object 2 keeps 3 tracks: under the minimum 5
    N = len(labels)
    result = segmentation.VideoResult(
        tracks=np.zeros((4, N, 2)), visibility=np.ones((4, N), bool), image_size=(8, 8), source_index=np.arange(N),
        grouped=np.arange(N), mi=np.zeros((N, N)), groups=labels, threshold=0.3, auto_threshold=0.3, labels=labels,
        options={"min_size": 5}, estimator="pearson", foreground="groups", timings={"mi": 0.1},
    )  # fmt: skip
    session = app.Session(workdir=tmp_path, frames=np.zeros((4, 8, 8, 3), np.uint8), result=result, source="x")
    table = app._table(session, segmentation.VideoScores())
    assert [n.split("</span> ")[1] for n in table["object"]] == ["object 1", "background", "noise (in no group)"]
    summary = app._summary(session, segmentation.VideoScores())
    assert summary.startswith("**Found: 1 object** with pearson; 5 tracks on the background, ")
    assert "3 tracks in 1 smaller object (under 5 tracks), 2 noise tracks (in no group)." in summary


def test_a_refused_upload_is_not_replaced_by_the_example(no_leaks):
    with pytest.raises(gr.Error, match="big.mp4 was not uploaded .*over 500 MB"):
        app.run_discovery(None, None, "pearson", 60, 20, 5, None, "bikes", "big.mp4")
    assert no_leaks() == []


def test_downloads(sample_run):
    session = sample_run.session
    files = {Path(f).name: Path(f) for f in sample_run.downloads}
    assert set(files) == {"labels.csv", "mi_matrix.csv", "result.npz"}
    labels = np.loadtxt(files["labels.csv"], delimiter=",", skiprows=1)
    tracks, seen, truth = session.result.grouped_tracks()
    np.testing.assert_array_equal(labels[:, 1], truth)
    born = labels[:, 2].astype(int)  # each track's first seen frame, and its place there
    assert seen[born, np.arange(len(born))].all() and not any(seen[:b, i].any() for i, b in enumerate(born))
    np.testing.assert_allclose(labels[:, 3:5], tracks[born, np.arange(len(born))], atol=0.005)
    mi = np.loadtxt(files["mi_matrix.csv"], delimiter=",", skiprows=1)
    np.testing.assert_allclose(mi, session.result.mi, rtol=1e-5, atol=1e-6)
    saved = segmentation.load_result(files["result.npz"])  # the scripts' file, read by the one reader
    assert saved.tracks.shape == (40, len(labels), 2) and saved.threshold == pytest.approx(session.result.threshold)
    np.testing.assert_array_equal(saved.labels, session.result.labels)
    np.testing.assert_array_equal(saved.masks, session.result.masks)
    assert all(f.is_relative_to(session.workdir) for f in files.values())


def test_regroup_reuses_the_cached_mi(sample_run, monkeypatch):
    def no_mi(*args, **kwargs):
        raise AssertionError("regrouping must not estimate MI again")

    monkeypatch.setattr(segmentation, "track_mi", no_mi)
    monkeypatch.setattr(segmentation, "discover", no_mi)
    monkeypatch.setattr(segmentation.pipeline, "discover", no_mi)
    monkeypatch.setattr(segmentation.pipeline, "track_frames", no_mi)
    session = sample_run.session
    mi = session.result.mi
    high = float(np.quantile(mi, 0.99))
    manual = app.set_threshold(high, 5, session)
    assert manual.session.result.mi is mi  # the same cached matrix
    assert manual.session.result.threshold == pytest.approx(high)
    assert manual.auto["value"] is False
    assert manual.mi_map == gr.skip() and manual.point_info == gr.skip()  # the click view stays
    assert (manual.session.result.groups < 0).sum() > (session.result.groups < 0).sum()  # more noise
    assert manual.video != sample_run.video and Path(manual.video).is_file()
    again = app.regroup(True, high, 5, manual.session)  # back to automatic
    np.testing.assert_array_equal(again.session.result.labels, session.result.labels)
    assert again.threshold["value"] == pytest.approx(session.result.auto_threshold, abs=1e-4)
    bigger = app.regroup(True, 0, 200, session)  # every group smaller than 200 tracks is noise
    assert (bigger.session.result.groups == -1).all() and bigger.session.result.objects == []
    assert len(bigger.table) == 1 and "noise" in bigger.table["object"][0]
    np.testing.assert_array_equal(sample_run.session.result.labels, again.session.result.labels)  # not modified
    share = app.regroup(True, 0, 0, session)  # the slider's default, 0: a fifteenth of the tracks, at least 5
    assert share.session.result.options["min_size"] == max(5, round(len(session.result.grouped) / 15))
    assert share.session.sweep_min_size == share.session.result.options["min_size"]  # the sweep at that size


def test_click_shows_mi_heat_map(sample_run):
    session = sample_run.session
    k = session.result.key_frame()
    tracks, seen, _ = session.result.grouped_tracks()
    query = int(np.flatnonzero(seen[k])[7])
    x, y = tracks[k, query]
    heat, text = app.show_mi_map(session, click(x + 1.0, y - 1.0))
    assert heat.shape == session.frames[k].shape and heat.dtype == np.uint8
    assert not np.array_equal(heat, session.frames[k])
    assert text.startswith(f"Track {query} ") and f"in frame {k + 1}," in text and "ranking AP" in text


def test_a_click_picks_among_the_tracks_seen_in_the_key_frame(tmp_path):
    """A track not seen in the key frame holds a position from another frame: a click there does not pick it."""
    T, N = 6, 4
    tracks = np.tile(np.array([[10.0, 10.0], [50.0, 10.0], [10.0, 50.0], [50.0, 50.0]]), (T, 1, 1))
    seen = np.ones((T, N), bool)
    seen[:, 0] = False
    seen[0, 0] = True  # track 0 is seen in frame 0 only; the others in every frame but the first
    seen[0, 1:] = False
    labels = np.array([1, 1, 0, 0])
    result = segmentation.VideoResult(
        tracks=tracks, visibility=seen, image_size=(64, 64), source_index=np.arange(N), grouped=np.arange(N),
        mi=np.arange(N * N, dtype=float).reshape(N, N), groups=labels, threshold=0.3, auto_threshold=0.3,
        labels=labels, options={"min_size": 1}, estimator="pearson", foreground="groups", timings={},
    )  # fmt: skip
    assert result.key_frame() == 1
    frames = np.zeros((T, 64, 64, 3), np.uint8)
    session = app.Session(workdir=tmp_path, frames=frames, result=result, source="x")
    heat, text = app.show_mi_map(session, click(11.0, 11.0))  # on track 0's place, which it holds unseen
    assert text.startswith("Track 1 at (50, 10) in frame 2,")
    picture = app.render(session).key_frame
    assert picture[10, 10].sum() == 0 and picture[10, 50].sum() > 0  # drawn only where seen


def test_handlers_need_a_run_first():
    with pytest.raises(gr.Error, match="Run the discovery first"):
        app.show_mi_map(None, click(1, 1))
    with pytest.raises(gr.Error, match="Run the discovery first"):
        app.regroup(True, 0.0, 5, None)


def test_zipped_pointodyssey_sequence(tmp_path):
    archive = tmp_path / "sample.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in datasets.SAMPLE_SEQUENCE.rglob("*"):
            if f.is_file() and f.parts[-2] not in ("depths", "normals"):
                zf.write(f, Path("sample") / f.relative_to(datasets.SAMPLE_SEQUENCE))
    out = app.run_discovery(str(archive), None, "pearson", 60, 20, 5, None)
    assert len(out.session.frames) == 20
    assert out.session.truth is not None and out.pr_curve["visible"]
    assert "PointOdyssey sequence sample (from sample.zip)" in out.summary
    assert not list(out.session.workdir.glob("unzip-*"))  # the extracted folder is gone


def test_zip_with_the_sequence_at_its_top_level_is_named_after_the_zip(tmp_path):
    archive = tmp_path / "my_clip.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in datasets.SAMPLE_SEQUENCE.rglob("*"):
            if f.is_file() and f.parts[-2] not in ("depths", "normals"):
                zf.write(f, f.relative_to(datasets.SAMPLE_SEQUENCE))
    out = app.run_discovery(str(archive), None, "pearson", 60, 12, 5, None)
    assert "PointOdyssey sequence my_clip (from my_clip.zip)" in out.summary and "unzip-" not in out.summary


def test_first_click_shows_real_footage():
    out = app.run_discovery(None, None, "pearson", 60, 24, 5, None)  # the default example
    assert "bikes" in out.summary and out.session.truth is None and not out.pr_curve["visible"]
    assert out.session.result.foreground_masks.any()  # the walker moves unlike the panning camera
    assert out.session.result.masks.shape == out.session.frames.shape[:3]
    assert Path(out.video).read_bytes()[4:8] == b"ftyp"


def test_zipped_davis_sequence_shows_j(tmp_path):
    """A zip of frames/ and masks/ (DAVIS layout): the masks are scored, J and boundary F in the summary."""
    import cv2

    folder = tmp_path / "square"
    (folder / "frames").mkdir(parents=True)
    (folder / "masks").mkdir()
    for t, frame in enumerate(textured_frames()):
        cv2.imwrite(str(folder / "frames" / f"{t:05d}.jpg"), frame[..., ::-1])
        mask = np.zeros((H, W), np.uint8)
        x, y = square_origin(t)
        mask[y : y + SQUARE, x : x + SQUARE] = 255
        cv2.imwrite(str(folder / "masks" / f"{t:05d}.png"), mask)
    archive = tmp_path / "square.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(folder.rglob("*")):
            zf.write(f, f.relative_to(tmp_path))
    out = app.run_discovery(str(archive), None, "pearson", 100, 100, 5, None)
    truth = out.session.truth
    assert truth is not None and truth.masks.shape == (T, H, W)
    assert "J (IoU)" in out.summary and "boundary F" in out.summary
    score = app._scores(out.session).masks
    assert score.j > 0.5  # the square is found and masked
    assert f"J (IoU) **{score.j:.3f}**" in out.summary


# ----------------------------------------------------------------------------- a generated video


def test_generated_video_is_tracked_and_split(video):
    out = app.run_discovery(str(video), None, "pearson", 100, 100, 5, None)
    r = out.session.result
    tracks, seen, labels = out.session.result.grouped_tracks()
    assert len(out.session.frames) == T and out.key_frame.shape == (H, W, 3)
    assert "points tracked by LK flow (re-seeded)" in out.summary
    assert not out.pr_curve["visible"] and out.session.truth is None
    assert r.masks.shape == (T, H, W)  # masks at the frames' size
    # the tracks well inside the square share one object, those well outside another (each track
    # where it starts: re-seeded tracks start late)
    start = seen.argmax(axis=0)
    p = tracks[start, np.arange(len(start))]
    x0, y0 = np.array([square_origin(t) for t in start]).T
    inside = (p[:, 0] > x0 + 3) & (p[:, 0] < x0 + SQUARE - 3) & (p[:, 1] > y0 + 3) & (p[:, 1] < y0 + SQUARE - 3)
    outside = (np.abs(p[:, 0] - (x0 + SQUARE / 2)) > SQUARE) | (np.abs(p[:, 1] - (y0 + SQUARE / 2)) > SQUARE)
    assert inside.sum() >= 5 and outside.sum() >= 20
    assert len(set(labels[inside])) == 1 and labels[inside][0] >= 1  # one object
    assert set(labels[outside]) <= {0, -1}  # the swaying background is the background, not an object


def test_tiny_infonet_runs_end_to_end(video, tiny_model):
    out = app.run_discovery(str(video), None, "infonet", 40, 100, 3, None, model=tiny_model)
    assert out.session.result.estimator == "infonet"
    assert out.session.result.mi.shape == (len(out.session.result.grouped),) * 2


def test_user_tracks_file(video, tmp_path):
    t = np.arange(T)
    square = np.array([square_origin(i) for i in t], dtype=np.float32) + SQUARE / 2  # (T, 2) its centre
    back = np.array([background_shift(i) for i in t], dtype=np.float32)
    rng = np.random.default_rng(1)
    tracks = np.concatenate(
        [square[:, None] + rng.uniform(-20, 20, (10, 2)), back[:, None] + rng.uniform([5, 5], [40, 140], (6, 2))],
        axis=1,
    )  # (T, 16, 2): 10 on the square, 6 on the background at the left
    tracks += rng.normal(0, 0.3, tracks.shape)  # a tracker's jitter
    np.savez(tmp_path / "tracks.npz", tracks=tracks, visibility=np.ones(tracks.shape[:2], bool))
    out = app.run_discovery(str(video), str(tmp_path / "tracks.npz"), "pearson", 100, 100, 3, None)
    labels = out.session.result.labels
    assert "with tracks from tracks.npz" in out.summary and "too few to tell the camera" in out.summary
    assert len(set(labels[:10])) == 1 and labels[0] >= 1 and labels[0] not in labels[10:]
    np.testing.assert_allclose(out.session.result.tracks, tracks, atol=1e-3)  # same pixels: no rescaling


# ----------------------------------------------------------------------------- bad inputs


def expect_error(match, *args, model=None, **kwargs):
    with pytest.raises(gr.Error, match=match):
        app.run_discovery(*args, model=model, **kwargs)


def test_corrupt_video(tmp_path, no_leaks):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(os.urandom(2048))
    with pytest.raises(gr.Error, match=r"cannot open video broken\.mp4") as err:
        app.run_discovery(str(bad), None, "pearson", 100, 100, 5, None)
    assert str(tmp_path) not in err.value.message  # no server paths in the page
    assert no_leaks() == []


def test_too_few_frames(tmp_path, no_leaks):
    short = datasets.write_video(textured_frames()[:5], tmp_path / "short.mp4")
    expect_error("5 frames; MI needs at least 8", str(short), None, "pearson", 100, 100, 5, None)
    assert no_leaks() == []


def test_wrong_shape_tracks(video, tmp_path, no_leaks):
    np.save(tmp_path / "tracks.npy", np.zeros((T, 10, 3), np.float32))
    expect_error(r"\(T, N, 2\)", str(video), str(tmp_path / "tracks.npy"), "pearson", 100, 100, 5, None)
    (tmp_path / "garbage.npz").write_bytes(b"not numpy")
    expect_error("cannot read track file", str(video), str(tmp_path / "garbage.npz"), "pearson", 100, 100, 5, None)
    assert no_leaks() == []


def test_zip_slip_archive(tmp_path, no_leaks):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("seq/anno.npz", b"x")
        zf.writestr("../../escaped.txt", b"pwned")
    expect_error(r"refused: entry '\.\./\.\./escaped\.txt'", str(archive), None, "pearson", 100, 100, 5, None)
    assert not (tmp_path.parent / "escaped.txt").exists()
    assert no_leaks() == []


def test_zip_without_sequence(tmp_path):
    archive = tmp_path / "holiday.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("notes.txt", b"hello")
    expect_error("no PointOdyssey sequence inside", str(archive), None, "pearson", 100, 100, 5, None)


def test_other_bad_requests(video, tmp_path, monkeypatch):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    expect_error("unsupported file type", str(text), None, "pearson", 100, 100, 5, None)
    np.save(tmp_path / "tracks.npy", np.zeros((T, 10, 2), np.float32))
    expect_error("needs its video", None, str(tmp_path / "tracks.npy"), "pearson", 100, 100, 5, None)
    expect_error("InfoNet weights are not loaded", None, None, "infonet", 100, 100, 5, None, model=None)
    monkeypatch.setattr(app, "MAX_UPLOAD_MB", 0.001)
    expect_error("the demo accepts up to", str(video), None, "pearson", 100, 100, 5, None)


def test_failed_run_keeps_the_previous_result(sample_run, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\0" * 100)
    expect_error("broken", str(bad), None, "pearson", 100, 100, 5, sample_run.session)
    assert sample_run.session.workdir.is_dir()  # the session's folder survives a failed run


# ----------------------------------------------------------------------------- the page, the model, the options


def test_build_demo_without_launching(tiny_model):
    def estimator_choices(demo):
        dropdown = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "estimator")
        return [value for _, value in dropdown.choices]

    with_model = app.build_demo(tiny_model)
    ids = {getattr(b, "elem_id", None) for b in with_model.blocks.values()}
    assert {"run", "overlay-video", "key-frame", "mi-map", "mi-matrix", "objects", "downloads"} <= ids
    assert estimator_choices(with_model)[0] == "infonet"
    assert "infonet" not in estimator_choices(app.build_demo(None))


def test_session_cleanup(tmp_path):
    workdir = tmp_path / "infonet-demo-x"
    workdir.mkdir()
    (workdir / "objects.mp4").write_bytes(b"x")
    app._forget(app.Session(workdir, np.zeros((1, 2, 2, 3), np.uint8), None))
    assert not workdir.exists()
    app._forget(None)


def test_port_from_environment(monkeypatch):
    from infonet.cli import parse_options

    monkeypatch.setenv("GRADIO_SERVER_PORT", "9999")
    assert parse_options(app.AppOptions, []).port == 9999
    monkeypatch.setenv("INFONET_PORT", "8123")
    assert parse_options(app.AppOptions, []).port == 8123
    assert parse_options(app.AppOptions, ["--port", "7000", "--host", "0.0.0.0"]).port == 7000


def test_missing_weights_disable_infonet(tmp_path):
    assert app.load_model(str(tmp_path / "nothing.pt")) is None


def trained_weights() -> str | None:
    path = os.environ.get("INFONET_WEIGHTS") or DEFAULT_WEIGHTS
    return str(path) if Path(path).is_file() else None


@pytest.mark.skipif(
    trained_weights() is None, reason="no trained InfoNet weights (infonet/weights/infonet.pt or $INFONET_WEIGHTS)"
)
def test_default_estimator_on_the_sample():
    model = app.load_model(trained_weights(), "cpu")
    # 50 tracks: at 40 the automatic threshold of the shipped networks gives one object (two at 30 and 50)
    out = app.run_discovery(None, None, "infonet", 50, 40, 3, None, "sample", model=model)
    session = out.session
    assert session.truth is not None and session.truth.object_ids is not None
    assert session.result.estimator == "infonet" and len(session.result.objects) >= 2
    assert session.sweep.scores[session.sweep.best].f > 0.5


def test_session_folders_go_on_sigterm(tmp_path):
    """SIGTERM (a service manager stopping the demo) removes the session folders, as Ctrl-C does."""
    import signal
    import subprocess
    import sys

    code = (
        "import signal, time, app; folder = app._new_workdir(); signal.signal(signal.SIGTERM, app._exit_on_sigterm); "
        "print(folder, flush=True); time.sleep(120)"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    root = Path(app.__file__).parent
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=root, env=env, stdout=subprocess.PIPE, text=True)
    folder = Path(proc.stdout.readline().strip())
    assert folder.is_dir() and folder.name.startswith("infonet-demo-")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert not folder.exists()
