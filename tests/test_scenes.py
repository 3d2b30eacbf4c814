"""benchmarks.scenes: the development scenes s0-s5 are make_sequence.py's, one command for all."""

import json

import numpy as np
import pytest

from benchmarks import scenes
from segmentation._imports import datasets


def test_a_recipe_scene_is_the_sequence_make_sequence_writes(tmp_path):
    scenes.main(["--out", str(tmp_path / "dev"), "--scenes", "2", "--frames", "6"])
    for k, (seed, objects, motion, convoy, perspective) in enumerate(scenes.RECIPE[:2]):
        folder = tmp_path / "dev" / f"s{k}"
        info = json.loads((folder / "scene_info.json").read_text())
        assert info["seed"] == seed and info["num_frames"] == 6
        assert len(info["assets"]) == objects and ("convoy" in info["assets"][1]) == convoy
        direct = tmp_path / f"direct{k}"
        datasets.generate_sequence(
            direct, seed=seed, num_frames=6, num_objects=objects, motion=motion, convoy=convoy, perspective=perspective
        )
        ours, theirs = np.load(folder / "anno.npz"), np.load(direct / "anno.npz")
        assert all(np.array_equal(ours[n], theirs[n], equal_nan=True) for n in theirs.files)
    assert not (tmp_path / "dev" / "s2").exists()


def test_refusals_name_the_flag_and_keep_the_files(tmp_path, capsys):
    scenes.main(["--out", str(tmp_path), "--scenes", "1", "--frames", "4"])
    before = (tmp_path / "s0" / "anno.npz").read_bytes()
    with pytest.raises(SystemExit):
        scenes.main(["--out", str(tmp_path), "--scenes", "1", "--frames", "5"])
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "s0" / "anno.npz").read_bytes() == before
    with pytest.raises(SystemExit):
        scenes.main(["--out", str(tmp_path / "x"), "--scenes", str(len(scenes.RECIPE) + 1)])
    assert "--scenes must be" in capsys.readouterr().err


def test_a_refused_folder_stops_the_run_before_any_scene_is_written(tmp_path, capsys):
    (tmp_path / "s1").mkdir()
    (tmp_path / "s1" / "anno.npz").write_bytes(b"the user's")
    with pytest.raises(SystemExit):
        scenes.main(["--out", str(tmp_path), "--scenes", "2", "--frames", "4"])
    assert "--overwrite" in capsys.readouterr().err
    assert not (tmp_path / "s0").exists()
    assert (tmp_path / "s1" / "anno.npz").read_bytes() == b"the user's"
