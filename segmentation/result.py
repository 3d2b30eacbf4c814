"""What one run of the video pipeline produced, stage by stage, and its one file: ``result.npz``.

Shapes: T frames, H x W pixels (h x w the dense motion's), M all tracks, N tracks grouped by MI.

:class:`VideoResult` keeps every stage's product (``segmentation.discover_video`` fills it,
``segmentation.regroup`` regroups it at another threshold without tracking or MI again).
:func:`save_result` writes it and :func:`load_result` reads it back; nothing else in the project
writes or reads ``result.npz``. Labels follow ``segmentation.labels`` (-1 unlabelled, 0 background,
1..K objects), in the arrays and in the masks.

Schema of ``result.npz`` (version 1; numeric arrays and one JSON string, nothing pickled):

=================  ================  ==========================================================
key                shape, dtype      meaning
=================  ================  ==========================================================
version            () int64          ``RESULT_VERSION``; a reader refuses other versions
tracks             (T, M, 2) f32     every track, pixel x, y in the input's frames
visibility         (T, M) bool       where each track is seen
source_index       (M,) int64        each track's index in the input's track file (given
                                     tracks), or its number in the tracker's output
grouped            (N,) int64        the tracks whose MI was estimated, indices into M
mi                 (N, N) f32        MI between the grouped tracks, nats: options.statistic of
                                     each pair (by default the 5 % end of its 90 % interval; an
                                     estimator without intervals: its estimate)
shared             (N, N) int32      frames each two grouped tracks are both seen in (only for
                                     tracks compared on shared frames: a tracker's); the
                                     grouping reads ``trusted_mi(mi, shared)``, where pairs
                                     sharing fewer than 24 join no group
groups             (N,) int64        the grouping of the grouped tracks at ``threshold``
threshold          () f64            the MI threshold of ``groups`` (NaN: fewer than 2 movers)
auto_threshold     () f64            the automatic threshold of ``mi``
labels             (M,) int64        every track's final label (objects 1..K, 0, -1)
saliency, moving   (M,) f32, bool    motion unlike the camera's, and the movers (only with
                                     the motion foreground)
motion             (T, h, w) f16     the pixels' motion unlike the camera's (only with it)
masks              (T, H, W) int16   each pixel's object label, 0 background (only with masks)
truth_ids,         (M,) int64, bool  each track's ground-truth object and whether it is unclear
ambiguous                            (only for inputs with ground truth)
meta               () str            JSON: image_size, estimator, source, foreground (the rule
                                     used, and why), timings
                                     (seconds per stage), options (``VideoOptions`` as a dict)
=================  ================  ==========================================================
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ._imports import datasets
from .grouping import trusted_mi
from .labels import BACKGROUND, UNLABELLED, object_labels

__all__ = ["RESULT_VERSION", "VideoResult", "load_result", "save_result"]

RESULT_VERSION = 1
READS = {"lower": "each pair's 5 % quantile", "estimate": "each pair's estimate", "upper": "each pair's 95 % quantile"}
_ARRAYS = {  # key -> dtype on disk; None: optional
    "tracks": np.float32,
    "visibility": bool,
    "source_index": np.int64,
    "grouped": np.int64,
    "mi": np.float32,
    "groups": np.int64,
    "labels": np.int64,
}
_OPTIONAL = {
    "saliency": np.float32,
    "moving": bool,
    "motion": np.float16,
    "masks": np.int16,
    "truth_ids": np.int64,
    "ambiguous": bool,
    "shared": np.int32,
}


@dataclass
class VideoResult:
    """Every stage's product for one input (see the module docstring for the shapes).

    Attributes:
        tracks, visibility, image_size, source_index: tracking (or the given tracks).
        saliency, moving, motion: the motion unlike the camera's (``foreground="motion"``), or None.
        grouped, mi: the MI between the grouped tracks.
        shared: (N, N) frames each two grouped tracks are both seen in, or None (given tracks, compared
            on every frame); the grouping reads :meth:`grouping_mi`.
        groups, threshold, auto_threshold: the grouping.
        labels: (M,) every track's final label; masks: (T, H, W) or None.
        truth_ids, ambiguous: the tracks' ground truth, or None.
        estimator, source, foreground: how it was made; options: the ``VideoOptions`` as a dict.
        timings: seconds per stage ("tracking", "motion", "mi", "grouping", "masks", "total").
    """

    tracks: np.ndarray
    visibility: np.ndarray
    image_size: tuple[int, int]
    source_index: np.ndarray
    grouped: np.ndarray
    mi: np.ndarray
    groups: np.ndarray
    threshold: float
    auto_threshold: float
    labels: np.ndarray
    saliency: np.ndarray | None = None
    moving: np.ndarray | None = None
    motion: np.ndarray | None = None
    masks: np.ndarray | None = None
    truth_ids: np.ndarray | None = None
    ambiguous: np.ndarray | None = None
    shared: np.ndarray | None = None
    estimator: str = ""
    source: str = ""
    foreground: str = ""
    options: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def objects(self) -> list[int]:
        """The object labels 1..K found (the background is not an object)."""
        return object_labels(self.labels)

    @property
    def foreground_masks(self) -> np.ndarray | None:
        """(T, H, W) bool, the pixels of any object; None without masks."""
        return None if self.masks is None else self.masks > BACKGROUND

    def grouping_mi(self) -> np.ndarray:
        """The MI matrix the grouping reads: ``mi`` with the pairs that share fewer than 24 frames at
        its floor (``segmentation.trusted_mi``); ``mi`` itself for given tracks."""
        return trusted_mi(self.mi, self.shared)

    def grouped_tracks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """tracks (T, N, 2), visibility (T, N) and labels (N,) of the grouped tracks (what the pictures draw)."""
        g = self.grouped
        return self.tracks[:, g], self.visibility[:, g], self.labels[g]

    def key_frame(self) -> int:
        """The frame in which the most grouped tracks are seen (the earliest of ties): the pictures of the
        tracks are drawn there. A tracker's tracks start and end all through a clip, and outside its life
        a track only holds its first or last position, so the first frame can show a minority of the
        grouped tracks where they are and the rest where they will be born (bikes: 78 of 300)."""
        return int(np.argmax(self.visibility[:, self.grouped].sum(axis=1)))

    def sizes(self) -> dict[int, int]:
        """Tracks per label: each object, then the background (0) and the unlabelled (-1)."""
        return {k: int((self.labels == k).sum()) for k in [*self.objects, BACKGROUND, UNLABELLED]}

    def _compared(self) -> str:
        """What the tracks were compared on: the feature, and the displacements' step where it has one."""
        feature, step = self.options.get("feature", "?"), self.options.get("step", 1)
        return f"{feature} (displacements over {step} frames)" if step > 1 else feature

    def summary(self) -> str:
        """A few lines: objects and their tracks, the threshold, the foreground rule, the time per stage."""
        sizes = self.sizes()
        found = ", ".join(f"{k}: {sizes[k]}" for k in self.objects) or "none"
        T, M = self.visibility.shape
        lines = [
            f"{len(self.objects)} object(s) in {M} tracks x {T} frames (tracks per object {found}; "
            f"background {sizes[BACKGROUND]}, unlabelled {sizes[UNLABELLED]})",
            f"estimator {self.estimator} on {self._compared()}, {len(self.grouped)} tracks grouped at MI >= "
            f"{self.threshold:.4g} nats (automatic: {self.auto_threshold:.4g}; "
            f"{READS.get(self.options.get('statistic'), 'the estimate')}); foreground: {self.foreground}",
            "seconds: " + ", ".join(f"{stage} {s:.2f}" for stage, s in self.timings.items()),
        ]
        return "\n".join(lines)


def save_result(result: VideoResult, path) -> Path:
    """Writes ``result`` to ``path`` (``result.npz``, schema in the module docstring), atomically:
    a kill while writing leaves the previous file, or none, never half of one."""
    path = Path(path)
    arrays = {key: np.asarray(getattr(result, key), dtype) for key, dtype in _ARRAYS.items()}
    for key, dtype in _OPTIONAL.items():
        if getattr(result, key) is not None:
            arrays[key] = np.asarray(getattr(result, key), dtype)
    meta = {name: getattr(result, name) for name in ("image_size", "estimator", "source", "foreground")}
    meta |= {"options": result.options, "timings": result.timings}
    with datasets.replacing(path) as tmp:
        datasets.save_npz(
            tmp,
            version=np.int64(RESULT_VERSION),
            threshold=np.float64(result.threshold),
            auto_threshold=np.float64(result.auto_threshold),
            meta=np.array(json.dumps(meta, default=float)),
            **arrays,
        )
    return path


def load_result(path) -> VideoResult:
    """Reads a ``result.npz`` written by :func:`save_result`.

    Raises:
        DataError: missing, damaged or truncated file, another version, or missing arrays.
    """
    path = Path(path)
    if not path.is_file():
        raise datasets.DataError(f"result file not found: {path}")
    arrays = datasets.tracks.read_arrays(path, what="result file")
    version = int(arrays["version"]) if "version" in arrays else None
    if version != RESULT_VERSION:
        raise datasets.DataError(
            f"{path} is not a result.npz of version {RESULT_VERSION} (found version {version}); "
            "write it again with this version of the toolkit"
        )
    missing = [k for k in (*_ARRAYS, "threshold", "auto_threshold", "meta") if k not in arrays]
    if missing:
        raise datasets.DataError(f"{path} lacks {', '.join(missing)}: it is not a complete result.npz")
    meta = json.loads(str(arrays.pop("meta")))
    known = {f.name for f in fields(VideoResult)}
    values = {k: v for k, v in arrays.items() if k in known}
    values["image_size"] = tuple(meta.pop("image_size"))
    return VideoResult(
        **values | {"threshold": float(arrays["threshold"]), "auto_threshold": float(arrays["auto_threshold"])},
        **{k: v for k, v in meta.items() if k in known},
    )
