"""Which camera model tells moving objects from the background better: a homography or a similarity.

    python -m benchmarks.camera --data /path/to/davis-dev --frames 40

For every DAVIS-layout sequence: the first ``frames`` frames tracked as the pipeline tracks them
(``segmentation.VideoOptions`` defaults), each track labelled by the majority of the ground-truth
mask under it (ambiguous tracks left out), then for each camera model fitted by RANSAC per frame
step with the same tolerance, the ROC AUC of object against background tracks of (a) the mean
step away from the camera's motion (what the choice of tracks weighs) and (b) the motion score
(``segmentation.motion.saliency_scores``: normalised, capped, median-filtered, shrunk). The
pipeline keeps one model (``segmentation.motion.camera_motion``); this is how it was chosen.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from scipy.stats import rankdata

import datasets
from infonet.cli import run_cli
from segmentation import VideoOptions, track_object_ids
from segmentation.motion import MIN_FIT, RANSAC_SHARE, camera_residuals, saliency_scores

__all__ = ["similarity_residuals", "auc", "measure"]


def similarity_residuals(tracks, visibility, image_size) -> np.ndarray:
    """(T - 1, N) residuals after a RANSAC similarity transform per step (NaN where not fitted)."""
    tracks, seen = np.asarray(tracks, np.float64), np.asarray(visibility, bool)
    tolerance = RANSAC_SHARE * float(np.hypot(*image_size))
    out = np.full(seen[1:].shape, np.nan)
    for t in range(len(tracks) - 1):
        both = np.flatnonzero(seen[t] & seen[t + 1])
        if len(both) < MIN_FIT:
            continue
        a, b = tracks[t, both].astype(np.float32), tracks[t + 1, both].astype(np.float32)
        model, _ = cv2.estimateAffinePartial2D(a, b, method=cv2.RANSAC, ransacReprojThreshold=tolerance)
        if model is not None:
            out[t, both] = np.linalg.norm(b - (a @ model[:, :2].T + model[:, 2]), axis=1)
    return out


def auc(score, positive) -> float:
    """ROC AUC of ``score`` for ``positive`` (Mann-Whitney, ties half); NaN scores rank lowest."""
    score = np.nan_to_num(np.asarray(score, np.float64), nan=-np.inf)
    ranks = rankdata(score)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def measure(path, frames: int) -> dict:
    """The four AUCs of one sequence (see the module docstring)."""
    inp = datasets.load_input(path, max_frames=frames)
    opts = VideoOptions()
    tracked = opts.track(inp.frames)
    ids, ambiguous = track_object_ids(tracked.tracks, tracked.visibility, inp.truth.masks)
    keep = ~ambiguous & (tracked.visibility.sum(axis=0) >= opts.min_overlap)
    row = {"sequence": inp.source, "tracks": int(keep.sum())}
    for name, residual in (
        ("homography", camera_residuals(tracked.tracks, tracked.visibility, image_size=tracked.image_size)),
        ("similarity", similarity_residuals(tracked.tracks, tracked.visibility, tracked.image_size)),
    ):
        with np.errstate(all="ignore"):
            mean_away = np.nanmean(residual, axis=0)
        score = saliency_scores(residual, tracked.tracks, image_size=tracked.image_size)
        row[f"{name}_away_auc"] = auc(mean_away[keep], ids[keep] > 0)
        row[f"{name}_score_auc"] = auc(score[keep], ids[keep] > 0)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a folder of DAVIS-layout sequences")
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args()
    rows = [measure(p, args.frames) for p in datasets.find_sequences(Path(args.data))]
    keys = [k for k in rows[0] if k.endswith("auc")]
    for row in rows:
        print(row["sequence"], row["tracks"], *(f"{row[k]:.3f}" for k in keys))
    print("mean", *(f"{k} {np.mean([r[k] for r in rows]):.3f}" for k in keys))


if __name__ == "__main__":
    run_cli(main)
