"""The one label convention of the video side, and the labels of tracks read from masks.

Shapes: T frames, N tracks, H x W pixels.

Every label in the project, of a track or of a pixel, means::

    -1   UNLABELLED  noise: a group smaller than ``min_size``, or a track nothing could label
     0   BACKGROUND  the scene that moves with the camera (in masks: the pixels of no object)
    1..K objects     groups of tracks that move together, numbered by size (1 the largest)

Grouping (``segmentation.group``), the masks (each pixel holds its object's label), scoring
(ground-truth ids use the same numbers: 0 background), ``result.npz`` and the demo's words all
use it. :func:`track_object_ids` reads each track's label from masks (the pipeline's final labels,
and the ground truth of tracked videos against DAVIS masks).
"""

from __future__ import annotations

import numpy as np

__all__ = ["BACKGROUND", "EDGE_SHARE", "UNLABELLED", "GroupCounts", "label_name", "object_labels", "track_object_ids"]

UNLABELLED = -1
BACKGROUND = 0
EDGE_SHARE = 0.8  # a track whose mask vote is less clear than this is ambiguous (it straddles an edge)


def object_labels(labels) -> list[int]:
    """The object labels (1..K) present in ``labels``, ascending."""
    labels = np.asarray(labels)
    return [int(k) for k in np.unique(labels[labels > BACKGROUND])]


class GroupCounts:
    """For a class with ``labels`` (N,): the number of groups and their sizes."""

    labels: np.ndarray

    @property
    def num_groups(self) -> int:
        """K, the groups 1..K (neither the background nor the noise is a group)."""
        return int(self.labels.max(initial=0))

    @property
    def sizes(self) -> np.ndarray:
        """(K,) tracks of groups 1..K (1 the largest: groups are numbered by size)."""
        return np.bincount(self.labels[self.labels > 0], minlength=self.num_groups + 1)[1:]


def label_name(label: int) -> str:
    """ "noise", "background" or "object k": how the scripts and the demo name a label."""
    if label < BACKGROUND:
        return "noise"
    return "background" if label == BACKGROUND else f"object {int(label)}"


def track_object_ids(tracks, visibility, masks) -> tuple[np.ndarray, np.ndarray]:
    """Each track's label in ``masks``: the majority of the mask under it over its visible frames.

    Args:
        tracks: (T, N, 2) pixel x, y in the masks' pixels. visibility: (T, N) bool.
        masks: (T, H, W) integer labels (0 background, 1..K objects).
    Returns:
        ids (N,) int64 (``UNLABELLED`` where never visible), ambiguous (N,) bool: the majority
        holds less than ``EDGE_SHARE`` of the track's visible frames, or it is never visible.
    """
    tracks, visibility, masks = np.asarray(tracks), np.asarray(visibility, bool), np.asarray(masks)
    T, N = visibility.shape
    if masks.ndim != 3 or len(masks) != T:
        raise ValueError(f"masks must be (T, H, W) with T = {T} frames of tracks; got shape {masks.shape}")
    H, W = masks.shape[1:]
    with np.errstate(invalid="ignore"):
        xs = np.clip(np.nan_to_num(np.rint(tracks[..., 0])), 0, W - 1).astype(int)
        ys = np.clip(np.nan_to_num(np.rint(tracks[..., 1])), 0, H - 1).astype(int)
    under = masks[np.arange(T)[:, None], ys, xs].astype(np.int64)  # (T, N)
    values, codes = np.unique(under, return_inverse=True)
    votes = np.zeros((N, len(values)))
    np.add.at(votes, (np.broadcast_to(np.arange(N), (T, N))[visibility], codes.reshape(T, N)[visibility]), 1.0)
    seen = votes.sum(axis=1)
    ids = np.where(seen > 0, values[votes.argmax(axis=1)], UNLABELLED)
    share = np.divide(votes.max(axis=1), seen, out=np.zeros(N), where=seen > 0)
    return ids.astype(np.int64), (share < EDGE_SHARE) | (seen == 0)
