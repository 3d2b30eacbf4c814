"""Foreground masks chosen by leaving videos out: held-out J per video beside the in-sample J.

    python -m benchmarks.masks --data /path/to/davis-dev --frames 50 --every 10   # a five-frame screen
    python -m benchmarks.masks --data /path/to/davis-dev --frames 50 --every 1 --candidates 36,38,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58
    python -m benchmarks.masks --data /path/to/davis-dev --frames 50 --end-to-end infonet --sequences bear

For every DAVIS-layout sequence the first ``frames`` frames are tracked as the pipeline tracks them
(``segmentation.VideoOptions`` defaults) and their dense motion scores computed at each time
baseline of ``GAPS``; both are cached in ``--cache`` (one .npz per sequence and frame count), so a
second run only draws masks. Each candidate of :func:`candidates` (options of the foreground and
the masks, as ``VideoOptions`` / ``MaskOptions`` fields) then draws the foreground masks of every
``--every``-th frame, scored by DAVIS J and boundary F against the ground truth; each video's
scores are cached too (``scores-<frames>-every<n>/<video>.json``). Leave-one-video-out: for each
video, the candidate with the best mean J on the *other* videos is chosen and scored on it
(:func:`benchmarks.common.leave_one_out`); the table prints that held-out J beside the in-sample J of the candidate
chosen on all videos. The foreground is the pipeline's: the movers (``moving_tracks``) are the
object, the masks ``object_masks``; the MI grouping, which splits the movers into objects, does
not change it. ``--end-to-end`` runs ``discover_video`` with the defaults instead (J, boundary F,
FBMS F of the labels, seconds per stage).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import datasets
from benchmarks.common import choose, leave_one_out, named_sequences
from infonet.cli import run_cli
from segmentation import VideoOptions, mask_scores
from segmentation.masks import MaskOptions, object_masks
from segmentation.motion import dense_residuals, motion_saliency, mover_speed, moving_tracks
from segmentation.pipeline import mask_voters

__all__ = ["GAPS", "cached_inputs", "candidates", "score_candidates"]

GAPS = (1, 3, 6)  # time baselines of the cached dense motion scores, frames


def cached_inputs(path: Path, frames: int, cache: Path) -> dict:
    """The tracks and dense motion scores of a sequence's first ``frames`` frames, from ``cache`` or computed."""
    file = cache / f"{Path(path).name}-{frames}.npz"
    if file.exists():
        with np.load(file) as data:
            return dict(data)
    inp = datasets.load_input(path, max_frames=frames)
    opts = VideoOptions()
    start = time.perf_counter()
    tracked = opts.track(inp.frames)
    out = {
        "tracks": tracked.tracks,
        "visibility": tracked.visibility,
        "image_size": np.array(tracked.image_size),
        "seconds_tracking": time.perf_counter() - start,
    }
    for gap in GAPS:
        start = time.perf_counter()
        out[f"dense{gap}"] = dense_residuals(inp.frames, side=opts.mask.work_side, gaps=(gap,)).astype(np.float16)
        out[f"seconds_dense{gap}"] = time.perf_counter() - start
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(file.with_suffix(".tmp.npz"), **out)
    file.with_suffix(".tmp.npz").replace(file)
    return out


FIRST = {  # the mask options of the first candidates; a candidate names what it changes
    "spread": 0.01,
    "superpixels": 2700,
    "compactness": 10.0,
    "motion_reference": 0.0,
    "colour_weight": 0.0,
}
LATER = {
    "keep_by": "area",
    "refine_pixels": 0,
    "reach": 0.0,
    "reach_as": "vote",
}  # options added after the first candidates were scored: as then, unless named
MASK_STEPS = {  # candidates 20-31: each MaskOptions default, one step down and one up
    "motion_weight": (0.45, 0.65),
    "motion_scale": (2.8, 5.6),
    "spread": (0.007, 0.014),
    "superpixels": (1800, 4000),
    "keep_share": (0.2, 0.4),
    "compactness": (5.0, 20.0),
}


def candidates() -> list[dict]:
    """The options compared: time baselines of the track score and of the dense score, where the
    camera is fitted, and the masks' own options, each candidate complete from ``FIRST`` (so that
    a changed default of ``MaskOptions`` changes no candidate)."""
    grid = []
    for gaps in ((1,), (1, 3)):
        for dense_gaps in ((1,), (3,), (1, 3), (1, 6)):
            grid.append({"motion_gaps": list(gaps), "dense_gaps": list(dense_gaps), "motion_weight": 0.55})
    both = {"motion_gaps": [1, 3], "dense_gaps": [1, 3], "motion_weight": 0.55}  # around the longer baselines
    grid += [both | {"motion_weight": 0.45}, both | {"motion_weight": 0.65}]
    grid += [both | {"refine_side": 427}, both | {"dense_side": 427}]  # cheaper: GrabCut, dense flow
    grid += [both | {"slow_share": share} for share in (0.003, 0.006, 0.012)]  # longer baselines: slow movers only
    band = {"motion_gaps": [1, 3], "dense_gaps": [1], "motion_weight": 0.55, "camera_band": 0.15}
    grid += [band, band | {"dense_gaps": [1, 3], "slow_share": 0.006}]  # the camera fitted along the border
    grid += [band | {"camera_band": share} for share in (0.08, 0.25)]  # a narrower and a wider border
    small = {"work_side": 427, "refine_side": 427, "dense_side": 427}  # cheaper: masks and dense flow at 427 px
    grid += [band | {"camera_band": 0.08} | small]
    default = band | {"camera_band": 0.08}  # the masks' own options around the defaults, one at a time
    for name, values in MASK_STEPS.items():
        grid += [default | {name: value} for value in values]
    fine = default | {"spread": 0.007}  # candidates 32-36: a second step from the best of those
    grid += [fine | {"spread": 0.005}, fine | {"compactness": 5.0}, fine | {"superpixels": 4000}]
    grid += [fine | {"motion_scale": 2.8}, fine | {"compactness": 5.0, "superpixels": 4000}]
    # candidates 37-42: a third step, the dense evidence's weight by how much moves in the frame
    chosen = fine | {"compactness": 5.0, "superpixels": 4000}
    grid += [chosen | {"motion_reference": q} for q in (0.3, 0.4, 0.5, 0.6)]
    grid += [chosen | {"motion_reference": 0.4, "motion_weight": w} for w in (0.45, 0.65)]
    # candidates 43-44: a fourth step, the evidence blended with the video's colour model (weights under
    # masks.COLOUR_REACH; 0.4, measured before that bound, read 0.627 on five frames against 0.634 for 0.3)
    grid += [chosen | {"motion_reference": 0.4, "colour_weight": w} for w in (0.2, 0.3)]
    # candidates 45-47: a fifth step, foreground regions kept by their motion energy, not their area
    coloured = chosen | {"motion_reference": 0.4, "colour_weight": 0.3}
    grid += [coloured | {"keep_by": "motion", "keep_share": share} for share in (0.2, 0.3, 0.5)]
    # candidates 48-49: cheaper GrabCut on frames whose mask is large
    energy = coloured | {"keep_by": "motion", "keep_share": 0.3}
    grid += [energy | {"refine_pixels": n} for n in (15000, 30000)]
    # candidates 50-54: movers must be followed for some frames to vote in the masks
    cheap = energy | {"refine_pixels": 15000}
    grid += [cheap | {"min_mover_frames": frames} for frames in (5, 8, 10, 15, 20)]
    # candidates 55-58: ... unless their mean dense motion score reaches 4 (the evidence's 1/2) or 8
    grid += [cheap | {"min_mover_frames": 15, "short_mover_score": z} for z in (4.0, 8.0)]
    grid += [cheap | {"min_mover_frames": frames, "short_mover_score": 4.0} for frames in (20, 25)]
    # candidates 59-64: the vote reaches only so many of its widths from the tracks (MaskOptions.reach)
    movers = cheap | {"min_mover_frames": 25, "short_mover_score": 4.0}
    grid += [movers | {"reach": reach} for reach in (0.75, 1.0, 1.25, 1.5, 1.75, 2.0)]
    # candidates 65-71: the reach as a floor under the votes' total, not one more vote (MaskOptions.reach_as)
    grid += [movers | {"reach": reach, "reach_as": "floor"} for reach in (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)]
    return [FIRST | cand for cand in grid]


def _resolve(cand: dict, data: dict) -> dict:
    """A candidate with ``slow_share`` is, on one video, the candidate with or without the longer
    dense baselines, as the movers' speed (``mover_speed``) says (the pipeline's rule)."""
    if "slow_share" not in cand:
        return cand
    tracks, seen, size = data["tracks"], data["visibility"], tuple(data["image_size"])
    band = cand.get("camera_band", 0.0)
    moving = moving_tracks(motion_saliency(tracks, seen, image_size=size, gaps=cand["motion_gaps"], band=band))
    slow = mover_speed(tracks, seen, moving, image_size=size, band=band) < cand["slow_share"]
    rest = {k: v for k, v in cand.items() if k != "slow_share"}
    return rest | {"dense_gaps": rest["dense_gaps"] if slow else [1]}


def _dense(inp, data: dict, cand: dict, prefix: Path) -> np.ndarray:
    """(T, h, w) dense motion scores of a candidate: the cached ones at the masks' side, or at ``dense_side``."""
    if "dense_side" not in cand and "camera_band" not in cand:
        return np.max([data[f"dense{g}"] for g in cand["dense_gaps"]], axis=0)
    gaps, side, band = cand["dense_gaps"], cand.get("dense_side", 640), cand.get("camera_band", 0.0)
    file = Path(f"{prefix}-dense{side}-{'-'.join(map(str, gaps))}{f'-band{band}' if band else ''}.npz")
    if not file.exists():
        motion = dense_residuals(inp.frames, side=side, gaps=gaps, band=band).astype(np.float16)
        np.savez_compressed(file.with_suffix(".tmp.npz"), motion=motion)
        file.with_suffix(".tmp.npz").replace(file)
    with np.load(file) as saved:
        return saved["motion"]


def _masks(frames, data: dict, moving: np.ndarray, cand: dict, pick: np.ndarray, dense: np.ndarray) -> np.ndarray:
    """(n, H, W) foreground of the frames ``pick`` under a candidate's options (the movers' lives
    counted over all the frames, as the pipeline counts them)."""
    voters = mask_voters(
        moving.astype(np.int64),
        data["tracks"],
        data["visibility"],
        moving,
        min_frames=cand.get("min_mover_frames", 0),
        motion=dense,
        image_size=tuple(data["image_size"]),
        min_score=cand.get("short_mover_score", np.inf),
    )
    mask_opts = MaskOptions(**LATER | {k: v for k, v in cand.items() if k in MaskOptions.__dataclass_fields__})
    return (
        object_masks(
            frames[pick],
            data["tracks"][pick],
            data["visibility"][pick],
            voters,
            [1],
            motion=dense[pick].astype(np.float32),
            options=mask_opts,
        )
        > 0
    )


def score_candidates(path: Path, data: dict, cands: list[dict], every: int, cache: Path) -> np.ndarray:
    """(C, 2) J and boundary F of each candidate's foreground on every ``every``-th frame of a sequence."""
    inp = datasets.load_input(path, max_frames=len(data["tracks"]))
    pick = np.arange(0, inp.num_frames, every)
    truth = inp.truth.masks[pick]
    movers = {}
    out = np.zeros((len(cands), 2))
    for c, cand in enumerate(cands):
        gaps, band = tuple(cand["motion_gaps"]), cand.get("camera_band", 0.0)
        if (gaps, band) not in movers:
            saliency = motion_saliency(
                data["tracks"], data["visibility"], image_size=tuple(data["image_size"]), gaps=gaps, band=band
            )
            movers[gaps, band] = moving_tracks(saliency)
        dense = _dense(inp, data, cand, cache / f"{path.name}-{inp.num_frames}")
        score = mask_scores(_masks(inp.frames, data, movers[gaps, band], cand, pick, dense), truth)
        out[c] = score.j, score.f
    return out


def candidate_costs(cands: list[dict]) -> np.ndarray:
    """(C,) each candidate's GrabCut cost: its ``refine_pixels`` (large masks refined on about that
    many pixels; GrabCut's time grows with them), infinite without (every pixel). Of near-equal
    candidates the cheaper is taken (``leave_one_out(cost=)``)."""
    return np.array([cand.get("refine_pixels", 0) or np.inf for cand in cands], np.float64)


def report(paths: list[Path], cands: list[dict], table: np.ndarray) -> None:
    """Prints each candidate's mean J and F, then per video the held-out J beside the in-sample J."""
    J, F = table[..., 0], table[..., 1]
    for c, cand in enumerate(cands):
        print(f"candidate {c}: {json.dumps(cand, sort_keys=True)}  mean J {J[c].mean():.3f}  F {F[c].mean():.3f}")
    cost = candidate_costs(cands)
    chosen, held = leave_one_out(J, cost)
    best = choose(J, cost)
    print(f"\nchosen on all videos: candidate {best}\n| video | held-out J | chosen | in-sample J | held-out F |")
    print("|---|---|---|---|---|")
    for v, path in enumerate(paths):
        print(f"| {path.name} | {held[v]:.3f} | {chosen[v]} | {J[best, v]:.3f} | {F[chosen[v], v]:.3f} |")
    held_f = F[chosen, np.arange(len(paths))]
    print(f"| mean | {held.mean():.3f} | | {J[best].mean():.3f} | {held_f.mean():.3f} |")
    print(f"| min | {held.min():.3f} | | {J[best].min():.3f} | {held_f.min():.3f} |")


def end_to_end(paths: list[Path], frames: int, estimator: str) -> None:
    """``discover_video`` with the default options on each sequence: J, F, FBMS F and stage seconds."""
    from segmentation import discover_video, score_video

    rows = []
    for path in paths:
        inp = datasets.load_input(path, max_frames=frames)
        start = time.perf_counter()
        result = discover_video(inp, estimator, VideoOptions())
        wall = time.perf_counter() - start
        scores = score_video(result, inp.truth.masks)
        rows.append((scores.masks.j, scores.masks.f, scores.tracks.f, wall))
        stages = " ".join(f"{k} {v:.1f}" for k, v in result.timings.items())
        print(f"| {path.name} | {rows[-1][0]:.3f} | {rows[-1][1]:.3f} | {rows[-1][2]:.3f} | {wall:.1f} | {stages} |")
    print("| mean | " + " | ".join(f"{x:.3f}" for x in np.mean(rows, axis=0)) + " | |")


def _table(paths: list[Path], cands: list[dict], args) -> np.ndarray:
    """(C, V, 2) J and boundary F of every candidate on every video; each video's rows cached in --cache."""
    out = np.zeros((len(cands), len(paths), 2))
    for v, path in enumerate(paths):
        file = Path(args.cache) / f"scores-{args.frames}-every{args.every}" / f"{path.name}.json"
        known = json.loads(file.read_text()) if file.exists() else {}
        data = cached_inputs(path, args.frames, Path(args.cache))
        resolved = [_resolve(c, data) for c in cands]
        todo = [c for c in {json.dumps(c, sort_keys=True): c for c in resolved}.values()]
        todo = [c for c in todo if json.dumps(c, sort_keys=True) not in known]
        if todo:
            start = time.perf_counter()
            for cand, row in zip(todo, score_candidates(path, data, todo, args.every, Path(args.cache)), strict=True):
                known[json.dumps(cand, sort_keys=True)] = row.tolist()
            file.parent.mkdir(parents=True, exist_ok=True)
            if file.exists():  # another run may have added rows meanwhile
                known = json.loads(file.read_text()) | known
            file.write_text(json.dumps(known, indent=0))
            print(f"{path.name}: {len(todo)} candidates in {time.perf_counter() - start:.0f} s", flush=True)
        for c, cand in enumerate(resolved):
            out[c, v] = known[json.dumps(cand, sort_keys=True)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a folder of DAVIS-layout sequences")
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--cache", default="runs/masks-cache")
    parser.add_argument("--every", type=int, default=10, help="score every n-th frame")
    parser.add_argument("--sequences", default="", help="comma-separated names (default: all)")
    parser.add_argument("--candidates", default="", help="comma-separated indices of candidates() (default: all)")
    parser.add_argument("--end-to-end", default="", metavar="ESTIMATOR", help="run discover_video with defaults")
    args = parser.parse_args()
    if args.every < 1 or args.frames < 8:
        parser.error(f"--every must be >= 1 and --frames >= 8, got {args.every} and {args.frames}")
    paths = named_sequences(args.data, args.sequences)
    if args.end_to_end:
        end_to_end(paths, args.frames, args.end_to_end)
    else:
        cands = candidates()
        if args.candidates:
            picks = args.candidates.split(",")
            if not all(i.isdigit() and int(i) < len(cands) for i in picks):
                parser.error(
                    f"--candidates must be indices 0-{len(cands) - 1}, comma-separated; got {args.candidates!r}"
                )
            cands = [cands[int(i)] for i in picks]
        report(paths, cands, _table(paths, cands, args))


if __name__ == "__main__":
    run_cli(main)
