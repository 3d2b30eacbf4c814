"""The point tracker and the labels of tracks read from masks (``segmentation.tracking``, ``segmentation.labels``)."""

import cv2
import numpy as np
import pytest

from datasets import DataError
from segmentation import track_frames, track_object_ids, track_points, tracking_errors


def translating_texture(velocity, num_frames=6) -> np.ndarray:
    """(T, 120, 160) frames of a blurred-noise texture whose content moves by ``velocity`` px/frame."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (220, 260)).astype(np.float32), (0, 0), 2.0)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    frames = []
    for t in range(num_frames):
        shift = np.array([[1, 0, velocity[0] * t - 30], [0, 1, velocity[1] * t - 30]])
        frames.append(cv2.warpAffine(texture, shift, (160, 120), flags=cv2.INTER_LINEAR))
    return np.stack(frames)


@pytest.mark.parametrize("flow", ["lk", "dis"])
def test_track_points_recovers_translation(flow):
    velocity = np.array([1.3, -0.7])  # pixels per frame
    frames = translating_texture(velocity)
    calls = []
    ts = track_points(frames, num_points=100, flow=flow, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (6, 6) and ts.image_size == (120, 160)
    expected = ts.tracks[0] + velocity * np.arange(6)[:, None, None]
    kept = ts.visibility[-1]
    assert kept.mean() > 0.8
    error = np.linalg.norm(ts.tracks[:, kept] - expected[:, kept], axis=-1)
    assert error.max() < 0.5
    # a point that leaves the image is lost, and stays where it was last seen
    edge = track_points(frames, points=[[80.0, 60.0], [159.0, 60.0]], flow=flow)
    assert edge.visibility[:, 0].all() and not edge.visibility[-1, 1]
    assert np.allclose(edge.tracks[-1, 1], edge.tracks[np.argmin(edge.visibility[:, 1]) - 1, 1])


def test_tracking_errors_against_exact_truth():
    velocity = np.array([1.3, -0.7])
    frames = translating_texture(velocity)
    start = np.array([[60.0, 50.0], [90.0, 70.0], [158.5, 60.0]])  # the last one leaves the image
    truth = start + velocity * np.arange(6)[:, None, None]  # (T, N, 2)
    scores = tracking_errors(track_points(frames, points=start), truth)
    assert scores["survived"] == pytest.approx(2 / 3)
    assert scores["within_1px"] == 1.0 and scores["median_px"] < 0.2
    with pytest.raises(ValueError, match="shape"):
        tracking_errors(track_points(frames, points=start), truth[:, :2])


def test_track_points_options():
    frames = translating_texture(np.array([1.0, 0.5]))
    features = track_points(frames, num_points=50, method="features")
    assert 0 < features.num_tracks <= 50
    given = track_points(frames, points=np.array([[40.0, 30.0], [100.5, 70.25]]))
    assert given.num_tracks == 2 and np.array_equal(given.tracks[0], [[40.0, 30.0], [100.5, 70.25]])
    for kwargs, message in [
        (dict(method="magic"), "method"),
        (dict(flow="farneback"), "optical flow"),
        (dict(fb_threshold=0), "fb_threshold"),
        (dict(points=np.zeros((3, 3))), "points must be"),
        (dict(points=np.array([[1.0, np.nan]])), "points must be"),
    ]:
        with pytest.raises(DataError, match=message):
            track_points(frames, **kwargs)
    scaled = frames / 255.0  # cast to uint8 these were all 0 and 1, and NaN a warning: tracked nothing, silently
    for bad in (scaled, np.where(scaled > 0.5, np.nan, frames), frames * 2.0):
        with pytest.raises(DataError, match="intensities 0-255"):
            track_points(bad)
    as_float = track_points(frames.astype(np.float32), num_points=50).tracks  # 0-255 in another type: as uint8
    assert np.array_equal(as_float, track_points(frames, num_points=50).tracks)


def test_reseeding_fills_cells_where_points_were_lost():
    rng = np.random.default_rng(1)
    base = cv2.GaussianBlur(rng.integers(0, 255, (96, 128), dtype=np.uint8), (0, 0), 1.5)
    frames = np.stack([np.roll(base, 3 * t, axis=1) for t in range(12)])  # a pan: points leave on the right
    plain = track_points(frames, num_points=48)
    reseeded = track_points(frames, num_points=48, reseed=2)
    assert reseeded.num_tracks > plain.num_tracks
    assert reseeded.visibility[-1].sum() > plain.visibility[-1].sum()
    born = reseeded.visibility.argmax(axis=0)  # first frame of each track
    late = born > 0
    assert late.any() and (born[late] % 2 == 0).all()
    # before its first frame a re-seeded point sits at its first position, unseen
    i = np.flatnonzero(late)[0]
    assert not reseeded.visibility[: born[i], i].any()
    assert np.allclose(reseeded.tracks[: born[i], i], reseeded.tracks[born[i], i])
    with pytest.raises(DataError, match="reseed"):
        track_points(frames, reseed=-1)


def test_track_object_ids_by_majority():
    masks = np.zeros((4, 10, 10), np.int16)
    masks[:, :5] = 1  # the top half is the object
    tracks = np.array([[[2.0, 2.0], [2.0, 8.0], [2.0, 4.6]]] * 4)  # object, background, on the edge (rounds to 5)
    tracks[:2, 2, 1] = 3.0  # the third track is on the object for 2 of its 4 frames
    ids, ambiguous = track_object_ids(tracks, np.ones((4, 3), bool), masks)
    assert ids[:2].tolist() == [1, 0] and ambiguous.tolist() == [False, False, True]


def test_track_frames_returns_tracks_in_the_frames_pixels():
    velocity = np.array([2.0, -1.0])
    frames = np.repeat(translating_texture(velocity, num_frames=5)[..., None], 3, axis=-1)  # (T, 120, 160, 3)
    small = track_frames(frames, side=80, num_points=60)  # tracked at half size
    assert small.image_size == (120, 160)
    kept = small.visibility[-1]
    expected = small.tracks[0] + velocity * np.arange(5)[:, None, None]  # the full-size motion
    assert kept.mean() > 0.5 and np.abs(small.tracks[:, kept] - expected[:, kept]).max() < 1.5
