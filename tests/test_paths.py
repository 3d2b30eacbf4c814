"""benchmarks.paths: independent smooth paths, the time-series effect behind MI's reading of tracks."""

import numpy as np
import pytest

from benchmarks import paths


def test_each_object_is_a_rigid_cloud_on_a_path_of_the_travel_asked():
    tracks = paths.independent_paths(np.random.default_rng(0), 40.0, frames=30, objects=3, points=4)
    assert tracks.shape == (30, 12, 2)
    clean = tracks[:, ::4]  # one point per object: its path plus noise
    extent = np.ptp(clean, axis=0).max(axis=1)
    assert np.all(np.abs(extent - 40.0) < 4 * paths.NOISE_PX * 2)
    offsets = tracks[:, 1] - tracks[:, 0]  # two points of one object keep their offset, up to the noise
    assert offsets.std(axis=0).max() < 2 * paths.NOISE_PX


def test_objects_that_share_nothing_read_as_dependent_the_further_they_travel():
    """The docs' claim: a smooth path is a function of time, so MI read over frames grows with the
    travel even between independent objects; same-object pairs still read higher."""
    rows = paths.read_paths(["infonet", "pearson"], [2.0, 32.0], repeats=1, feature="coords")
    by = {(r["travel_px"], r["estimator"]): r for r in rows}
    assert by[32.0, "infonet"]["other_objects"] > by[2.0, "infonet"]["other_objects"] + 0.5
    for name in ("infonet", "pearson"):
        assert by[32.0, name]["same_object"] > by[32.0, name]["other_objects"]
        assert by[32.0, name]["pair_auc"] > 0.9


def test_bad_arguments_are_refused_by_name(capsys):
    with pytest.raises(SystemExit):
        paths.main(["--travel", "a,b"])
    assert "--travel" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        paths.main(["--travel", "0"])
    assert "positive" in capsys.readouterr().err
    for plot, says in (("x.txt", "must end in"), ("/no/such/folder/x.png", "does not exist")):
        with pytest.raises(SystemExit):
            paths.main(["--plot", plot])
        assert says in capsys.readouterr().err


def test_the_plot_draws_each_estimators_readings_and_auc(tmp_path, capsys):
    out = tmp_path / "paths.png"
    paths.main(["--estimators", "pearson,gaussian", "--travel", "4,16", "--repeats", "1", "--plot", str(out)])
    assert out.stat().st_size > 10_000 and f"wrote {out}" in capsys.readouterr().out
    rows = paths.read_paths(["pearson"], [4.0, 16.0], repeats=1)
    readings, aucs = paths.paths_figure(rows).axes
    assert len(readings.lines) == 2 and len(aucs.lines) == 1  # one object and two objects; the AUC
    assert list(aucs.lines[0].get_xdata()) == [4.0, 16.0]
