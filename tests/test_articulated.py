"""The second scene generator (benchmarks.articulated): what it draws, and what it refuses."""

import numpy as np
import pytest

import datasets
from benchmarks.articulated import generate_articulated_scene


def _similarity_residual(a: np.ndarray, b: np.ndarray) -> float:
    """RMS pixel error of the best 2-D similarity taking points a (n, 2) to b (n, 2)."""
    za, zb = a[:, 0] + 1j * a[:, 1], b[:, 0] + 1j * b[:, 1]
    design = np.stack([za, np.ones_like(za)], 1)
    coef, *_ = np.linalg.lstsq(design, zb, rcond=None)
    return float(np.sqrt(np.mean(np.abs(design @ coef - zb) ** 2)))


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    out = tmp_path_factory.mktemp("articulated") / "a"
    return generate_articulated_scene(out, seed=3, kinds=("walker", "wheel"), num_frames=24, size=(270, 480))


def test_scene_loads_with_each_track_on_its_figure(scene):
    seq = datasets.load_pointodyssey(scene)
    truth = np.load(scene / "info.npz")["track_figures"][seq.tracks.source_index]
    clear = ~seq.tracks.ambiguous
    assert len(seq.frames) == 24 and seq.tracks.image_size == (270, 480)
    assert set(truth) == {0, 1, 2} and seq.asset_names == ["walker_1", "wheel_2"]
    # the masks' vote (what discovery is scored by) agrees with the generator's own truth
    assert np.mean(seq.tracks.object_ids[clear] == truth[clear]) > 0.97


def test_walker_bends_where_the_wheel_stays_rigid(scene):
    anno, info = np.load(scene / "anno.npz"), np.load(scene / "info.npz")
    tracks, figures = anno["trajs_2d"], info["track_figures"]
    # a similarity from the first frame to the last explains the wheel (to its 0.3 px of noise)
    # and the background, not the walker's swinging limbs
    residual = {f: _similarity_residual(tracks[0, figures == f], tracks[-1, figures == f]) for f in (0, 1, 2)}
    assert residual[0] < 1.0 and residual[2] < 1.0
    assert residual[1] > 5.0


def test_same_seed_same_scene_and_refusals(scene, tmp_path):
    again = generate_articulated_scene(
        tmp_path / "b", seed=3, kinds=("walker", "wheel"), num_frames=24, size=(270, 480)
    )
    np.testing.assert_array_equal(np.load(again / "anno.npz")["trajs_2d"], np.load(scene / "anno.npz")["trajs_2d"])
    with pytest.raises(ValueError, match="already holds"):
        generate_articulated_scene(again, seed=3, kinds=("walker",), num_frames=24, size=(270, 480))
    with pytest.raises(ValueError, match="kinds must be one or more of walker, animal, wheel"):
        generate_articulated_scene(tmp_path / "c", seed=0, kinds=("robot",))
    with pytest.raises(ValueError, match="num_frames must be at least 16"):
        generate_articulated_scene(tmp_path / "c", seed=0, num_frames=8)
    # overwrite replaces the layout's files only: a shorter scene leaves no stale frames behind
    (again / "notes.txt").write_text("kept")
    generate_articulated_scene(again, seed=4, kinds=("wheel",), num_frames=16, size=(270, 480), overwrite=True)
    assert len(list((again / "rgbs").glob("*.jpg"))) == 16 and (again / "notes.txt").read_text() == "kept"
