"""Objects that share nothing: what each estimator reads between independent smooth paths, by how far they travel.

Shapes: T frames, K objects of M points each, N = K * M tracks.

A smooth path that does not cross itself is a function of time, and time a function of it; so the
positions of two objects that move independently, each smoothly, are functions of one another
through the time: read as a sample of (x_i, y_i, x_j, y_j) pairs, they are near-deterministic, and
an MI estimator that treats the frames as independent draws reads them as dependent, more so the
further the objects travel against the tracker's noise. Correlation asks for a linear relation,
which independent paths only have by chance. This benchmark measures it: K objects, each a rigid
cloud of M points on its own smooth random path (travel = the path's extent), 0.5 px of tracker
noise; for every estimator the mean reading of pairs on one object and of pairs on different
objects, and the pair and anchor-track AUC of "same object".

    python -m benchmarks.paths                       # travel 2, 8, 32, 128 px; 3 repeats (about 1 min)
    python -m benchmarks.paths --estimators infonet,pearson --travel 8,32 --repeats 5
    python -m benchmarks.paths --plot assets/paths.png      # the readings and the AUC against the travel
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import SEEDS, plot_path
from benchmarks.tracks import anchor_auc, pair_auc
from infonet import get_estimator
from segmentation.affinity import track_mi
from segmentation.visualize import save_figure

__all__ = ["independent_paths", "paths_figure", "read_paths"]

SMOOTHING_FRAMES = 4.0  # the standard deviation, in frames, of the Gaussian that smooths each path's steps
NOISE_PX = 0.5
OBJECTS, POINTS = 6, 10  # per scene: objects, and points on each


def independent_paths(
    rng, travel: float, *, frames: int = 50, objects: int = OBJECTS, points: int = POINTS
) -> np.ndarray:
    """Tracks (T, N, 2): ``objects`` rigid clouds of ``points`` points (60 px wide), each on an
    independent smooth random path whose larger extent is ``travel`` px, plus ``NOISE_PX`` of noise."""
    half = int(3 * SMOOTHING_FRAMES)
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / SMOOTHING_FRAMES) ** 2)
    clouds = []
    for _ in range(objects):
        steps = rng.standard_normal((frames + 2 * half, 2))
        velocity = np.stack([np.convolve(steps[:, d], kernel, "valid") for d in range(2)], axis=1)
        path = np.cumsum(velocity, axis=0)
        path = (path - path.mean(axis=0)) * travel / max(float(np.ptp(path, axis=0).max()), 1e-9)
        clouds.append(path[:, None] + rng.uniform(-30.0, 30.0, (1, points, 2)))
    tracks = np.concatenate(clouds, axis=1)
    return tracks + NOISE_PX * rng.standard_normal(tracks.shape)


def read_paths(estimators: list[str], travels: list[float], *, repeats: int = 3, feature: str = "xy") -> list[dict]:
    """One row per (travel, estimator): mean reading of same-object and other-object pairs, pair and anchor AUC."""
    models = {name: get_estimator(name) for name in estimators}
    rows = []
    for travel in travels:
        rng = np.random.default_rng(SEEDS["pairwise"] + int(travel))
        scenes = [independent_paths(rng, travel) for _ in range(repeats)]
        ids = np.repeat(np.arange(OBJECTS), POINTS)
        same = (ids[:, None] == ids[None]) & ~np.eye(len(ids), dtype=bool)
        other = ids[:, None] != ids[None]
        for name, model in models.items():
            mis = [track_mi(tracks, model, feature=feature) for tracks in scenes]
            rows.append(
                {
                    "travel_px": travel,
                    "estimator": name,
                    "same_object": float(np.mean([m[same].mean() for m in mis])),
                    "other_objects": float(np.mean([m[other].mean() for m in mis])),
                    "pair_auc": float(np.mean([pair_auc(m, ids) for m in mis])),
                    "anchor_auc": float(np.mean([anchor_auc(m, ids) for m in mis])),
                }
            )
    return rows


def paths_figure(rows: list[dict]):
    """Two panels against the travel: each estimator's reading of same-object (solid) and other-object
    (dashed, open squares) pairs, and its anchor AUC."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    readings, aucs = fig.subplots(1, 2)
    for k, name in enumerate(dict.fromkeys(r["estimator"] for r in rows)):
        mine = [r for r in rows if r["estimator"] == name]
        travel = [r["travel_px"] for r in mine]
        colour = f"C{k}"
        readings.plot(travel, [r["same_object"] for r in mine], "o-", color=colour, label=f"{name}, one object")
        readings.plot(
            travel, [r["other_objects"] for r in mine], "s--", color=colour, mfc="white", label=f"{name}, two objects"
        )
        aucs.plot(travel, [r["anchor_auc"] for r in mine], "o-", color=colour, label=name)
    readings.set(xscale="log", xlabel=f"travel of each path (px; noise {NOISE_PX:g} px)", ylabel="mean reading (nats)")
    readings.set_title("Pairs of tracks: same object, and objects that share nothing", fontsize=10)
    aucs.set(xscale="log", xlabel="travel of each path (px)", ylabel="anchor-track AUC", ylim=(0.45, 1.02))
    aucs.set_title('"Same object" told apart', fontsize=10)
    readings.legend(fontsize=7, ncol=2)
    aucs.legend(fontsize=8)
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--estimators", default="infonet,ksg,gaussian,pearson")
    parser.add_argument("--travel", default="2,8,32,128", help="comma-separated path extents in px")
    parser.add_argument(
        "--repeats", type=int, default=3, help=f"scenes per travel ({OBJECTS} objects of {POINTS} points each)"
    )
    parser.add_argument(
        "--feature", default="xy", help="what of a track is compared (segmentation.affinity's features)"
    )
    parser.add_argument("--plot", default="", help="also draw the readings and the AUC against the travel here")
    args = parser.parse_args(argv)
    try:
        travels = [float(t) for t in args.travel.split(",")]
    except ValueError:
        parser.error(f"--travel must be comma-separated numbers; got {args.travel!r}")
    if not travels or min(travels) <= 0 or args.repeats < 1:
        parser.error("--travel must be positive and --repeats at least 1")
    try:
        plot = plot_path(args.plot)
    except ValueError as err:
        parser.error(str(err))
    try:
        rows = read_paths(args.estimators.split(","), travels, repeats=args.repeats, feature=args.feature)
    except ValueError as err:
        parser.exit(2, f"error: {err}\n")
    print("| travel (px) | estimator | same object | other objects | pair AUC | anchor AUC |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['travel_px']:g} | {r['estimator']} | {r['same_object']:.2f} | {r['other_objects']:.2f} | {r['pair_auc']:.3f} | {r['anchor_auc']:.3f} |"
        )
    if plot:
        save_figure(paths_figure(rows), plot)
        print(f"wrote {plot}")


if __name__ == "__main__":
    main()
