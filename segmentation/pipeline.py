"""Objects of a video end to end: one call from an input to a :class:`segmentation.VideoResult`.

Shapes: T frames, H x W pixels, M all tracks, N tracks grouped by MI (N <= M).

    inp = datasets.load_input("davis/soapbox")
    result = discover_video(inp, "infonet")       # tracks, motion, MI, groups, labels, masks, timings
    result.labels, result.masks                   # (M,) and (T, H, W): 0 background, 1..K objects
    again = regroup(result, inp.frames, threshold=0.4)   # no tracking, no MI
    save_result(result, "runs/x/result.npz")      # the one writer (segmentation.result)

Stages, each timed and reported to ``progress(stage, done, total)``:

1. **tracking** (``segmentation.tracking``): points tracked on frames shrunk to ``track_side`` and
   re-seeded where lost, and ``max_tracks`` of those that last ``min_overlap`` frames chosen for
   MI (:func:`select_tracks`); given tracks (a track file, a PointOdyssey sequence) are used as
   they are, every one of them grouped.
2. **motion** (``foreground="motion"``; ``segmentation.motion``): how much each track moves
   unlike the camera, which tracks are movers, and, for the masks, every pixel's motion. Given
   tracks get it too: it needs the tracks and, for the dense part, the frames.
3. **mi** and **grouping** (``segmentation.discover``): MI between the chosen tracks (partial
   tracks on the frames both are seen), grouped at ``threshold``. With the motion foreground only
   the movers are grouped and the still tracks are the background; with ``foreground="groups"``
   every chosen track is grouped and ``segmentation.masks.primary_objects`` says which group is
   the background and which are objects.
4. **masks** (``segmentation.masks``): the labels spread to every track and carried to pixels;
   with the motion foreground the tracks then take the label of the mask they lie in.

Labels follow ``segmentation.labels``: -1 unlabelled, 0 background, 1..K objects by size.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from infonet.interface import STATISTICS, MIEstimator

from ._imports import datasets
from .affinity import FEATURES, MIN_FRAMES, VECTOR_MIN_SAMPLES, check_max_samples, check_step, feature_parts
from .discovery import discover
from .grouping import CRITERIA, METHODS, auto_threshold, group, trusted_mi
from .labels import BACKGROUND, UNLABELLED, object_labels, track_object_ids
from .masks import MaskOptions, object_masks, primary_objects, spread_labels
from .motion import (
    MIN_FLOW_SIDE,
    camera_motion,
    dense_residuals,
    motion_saliency,
    mover_speed,
    moving_tracks,
    scores_along,
)
from .result import VideoResult
from .scoring import MaskScore, Score, mask_scores, score_grouping
from .tracking import FLOWS, track_frames

__all__ = [
    "FOREGROUNDS",
    "MAX_TRACKS",
    "VideoOptions",
    "VideoScores",
    "discover_video",
    "group_min_size",
    "mask_voters",
    "regroup",
    "score_video",
    "select_tracks",
]

# feature="auto": what tracks are compared on, by where they come from (chosen by leaving sequences out,
# docs/video.md "Choosing the feature"): positions and 4-frame displacements, each on its own, for given
# tracks (on clips of at least 20 frames: 16 displacements); positions alone for the tracker's short
# tracks, where the displacements changed nothing measurable and would double the MI stage
AUTO_FEATURE = {"given": ("xy+xy-velocity", 4), "tracked": ("xy", 1)}
FOREGROUNDS = ("auto", "motion", "groups")  # how a video's primary objects are told from the background
MAX_TRACKS = 10_000  # all N(N-1)/2 pairs get an MI estimate and the N x N matrix stays in memory
MIN_MOTION_TRACKS = 100  # "auto" groups fewer given tracks by MI alone (a choice, not a measurement: the
# camera's fit and the motion score's 9-track median filter need the background to hold most tracks)
# min_size=0: groups under this share of the tracks grouped are noise, and never under MIN_GROUP tracks (chosen
# by leaving sequences out among 3-50 tracks of 300 by the per-object F, which counts every object, docs/video.md
# "The smallest group"; 20 of 300, 10 of 150)
MIN_GROUP_SHARE, MIN_GROUP = 1 / 15, 5
AWAY_POWER = 1.0  # how strongly the choice of tracks favours motion unlike the camera's
AWAY_FLOOR_PX = 1.0  # steps away from the camera's motion count from the tracker's noise level up

Progress = Callable[[str, int, int], None]


@dataclass
class VideoOptions:
    """How a video's objects are found; scripts and the demo expose these fields as options.

    Every field is checked when the options are built, so a bad value is refused before any work
    (a message starting with the field's name; the command lines show it as the flag).

    Attributes:
        track_side: longest side of the frames points are tracked on.
        num_points: points of the tracker's grid (re-seeded on its empty cells).
        flow: "lk" or "dis" (``segmentation.tracking``).
        fb_threshold: forward-backward tolerance of a tracked step, pixels at ``track_side``.
        reseed: frames between re-seedings (0: never).
        min_overlap: frames two tracks must share to be compared (and a chosen track's shortest life).
        max_tracks: tracks grouped by MI (a seeded choice among the long enough ones).
        feature, statistic, step, threshold, min_size, method, criterion: of ``segmentation.discover``;
            threshold is MI in nats (>= 0) or "auto". The default feature, "auto" (``AUTO_FEATURE``):
            for given tracks ``xy+xy-velocity`` over 4 frames (positions and displacements, each as one
            2-D variable of the multivariate network, their matrices averaged), for tracked video ``xy``
            alone; why: docs/video.md ("Choosing the feature"). ``coords`` is the paper's affinity
            (two 1-D networks, about 16x the MI time). The default statistic, "lower", groups on the
            5 % end of each pair's 90 % interval (InfoNet's; other estimators give their estimate):
            docs/video.md. The default min_size, 0, is a fifteenth of the tracks grouped, at least 5
            (:func:`group_min_size`; 20 of the default 300 tracks), chosen by leaving sequences out
            (docs/video.md, "The smallest group").
        max_samples: each pair of tracks is read on at most this many of the frames it shares, evenly
            spread (``segmentation.track_mi``; 0: all of them): a 120-frame clip's MI stage takes about a
            quarter less time, with no loss of accuracy measured (docs/video.md); shorter clips are read whole.
        foreground: "motion" (the tracks that move unlike the camera are the foreground, and MI
            groups them into objects), "groups" (MI groups all the tracks and ``primary_objects``
            says which groups are objects) or "auto": "groups" for a PointOdyssey sequence's own
            tracks (true positions of objects that all move; measured better there) and for
            fewer than ``MIN_MOTION_TRACKS`` given tracks, "motion" for everything else, tracked
            or given (the result says which, and why).
        masks: compute the per-pixel masks.
        dense_motion: with the motion foreground, the masks also weigh every pixel's motion.
        motion_gaps: time baselines of the tracks' motion score (``motion_saliency(gaps=)``): a
            slow object moves unlike the camera by more over more frames.
        dense_gaps: time baselines of every pixel's motion score (``dense_residuals(gaps=)``, the
            highest counts); those beyond 1 frame only when the movers are slow: their median step
            away from the camera (``segmentation.motion.mover_speed``) is under ``slow_share`` of
            the image diagonal per frame (a fast object's flow fails over a longer baseline); the
            one-frame baseline always counts.
        camera_band: > 0: the camera's motion of the foreground (tracks and pixels) is fitted to
            the points within this share of the shorter side from the border (``camera_motion(band=)``),
            so that an object the camera follows, which holds most points, is not taken for the scene.
        min_mover_frames: with the motion foreground, movers seen in fewer frames than this (or
            than half the clip, if shorter) do not vote in the masks (they take the label of the
            mask they lie in after): water, smoke and glints make short tracks that move unlike
            the camera, where a subject's points are followed for longer. A short mover whose mean
            dense motion score (``segmentation.motion.scores_along``) reaches ``short_mover_score``
            still votes: a fast subject's points are lost quickly, but the flow sees them move.
        mask: :class:`segmentation.MaskOptions`.
        seed: seed of the choice of tracks and of Louvain.
    """

    track_side: int = field(default=427, metadata={"help": "longest side of the frames points are tracked on"})
    num_points: int = field(default=4800, metadata={"help": "grid points of the tracker"})
    flow: str = field(default="lk", metadata={"help": "optical flow of the tracker: lk (Lucas-Kanade) or dis"})
    fb_threshold: float = field(default=2.0, metadata={"help": "forward-backward tolerance, pixels"})
    reseed: int = field(default=5, metadata={"help": "frames between re-seedings of lost points (0: never)"})
    min_overlap: int = field(default=8, metadata={"help": "frames two tracks must share to be compared"})
    max_tracks: int = field(default=300, metadata={"help": "tracks grouped by MI"})
    feature: str = field(
        default="auto",
        metadata={
            "help": f"auto, {', '.join(FEATURES)}, or several joined with + (their MI matrices' mean); auto: "
            f"{AUTO_FEATURE['given'][0]} over {AUTO_FEATURE['given'][1]} frames for given tracks, "
            f"{AUTO_FEATURE['tracked'][0]} for tracked video"
        },
    )
    statistic: str = field(
        default="lower",
        metadata={
            "help": "what of each pair's MI is grouped: lower (5 %% end of its 90 %% interval; InfoNet) or estimate"
        },
    )
    step: int = field(
        default=1,
        metadata={
            "help": "frames of each displacement of the features velocity, xy-velocity and xy-posvel, alone or "
            "joined with +; not with feature auto, which sets its own"
        },
    )
    max_samples: int = field(
        default=64,
        metadata={"help": "frames each pair of tracks is read on at most, evenly spread over those it shares (0: all)"},
    )
    threshold: float | str = field(default="auto", metadata={"help": "MI threshold in nats, or auto"})
    min_size: int = field(
        default=0, metadata={"help": "smaller groups are noise (0: a fifteenth of the tracks grouped, at least 5)"}
    )
    method: str = field(default="components", metadata={"help": "components or louvain"})
    criterion: str = field(default="modularity", metadata={"help": "automatic threshold: modularity or otsu"})
    foreground: str = field(
        default="auto",
        metadata={"help": "motion (movers unlike the camera, grouped by MI), groups (MI alone), or auto"},
    )
    masks: bool = field(default=True, metadata={"help": "per-pixel masks of the objects"})
    dense_motion: bool = field(default=True, metadata={"help": "masks weigh every pixel's motion too"})
    motion_gaps: tuple[int, ...] = field(
        default=(1, 3), metadata={"help": "time baselines (frames) of the tracks' motion score; the highest counts"}
    )
    dense_gaps: tuple[int, ...] = field(
        default=(1,),
        metadata={"help": "time baselines (frames) of every pixel's motion score (beyond 1: slow movers only)"},
    )
    camera_band: float = field(
        default=0.08,
        metadata={"help": "fit the camera's motion along this share of the image border (0: to all points)"},
    )
    slow_share: float = field(
        default=0.006,
        metadata={"help": "movers slower than this share of the image diagonal per frame are slow"},
    )
    min_mover_frames: int = field(
        default=25,
        metadata={"help": "movers seen in fewer frames (or than half the clip) do not vote in the masks"},
    )
    short_mover_score: float = field(
        default=4.0,
        metadata={"help": "short movers whose mean dense motion score reaches this still vote (inf: none)"},
    )
    mask: MaskOptions = field(default_factory=MaskOptions)
    seed: int = field(default=0, metadata={"help": "seed of the choice of tracks and of Louvain"})

    def __post_init__(self):
        if isinstance(self.mask, dict):
            self.mask = MaskOptions(**self.mask)
        for name, low in (("track_side", 1), ("reseed", 0), ("min_size", 0), ("min_mover_frames", 0), ("seed", 0)):
            _at_least(name, getattr(self, name), low)
        self.motion_gaps, self.dense_gaps = _gaps("motion_gaps", self.motion_gaps), _gaps("dense_gaps", self.dense_gaps)
        _at_least("min_overlap", self.min_overlap, MIN_FRAMES, "the estimators need 8 shared frames")
        check_max_samples(self.max_samples or None, self.min_overlap, every="0")
        if not (isinstance(self.fb_threshold, (int, float)) and self.fb_threshold > 0):
            raise ValueError(f"fb_threshold must be > 0 pixels, got {self.fb_threshold}")
        for name in ("num_points", "max_tracks"):
            _track_count(name, getattr(self, name))
        for name, choices in (
            ("flow", FLOWS),
            ("statistic", STATISTICS),
            ("method", METHODS),
            ("criterion", CRITERIA),
            ("foreground", FOREGROUNDS),
        ):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} {getattr(self, name)!r} is unknown; choose from {', '.join(choices)}")
        if self.feature == "auto":
            if self.step != 1:
                raise ValueError(f"step={self.step} needs a feature of your own choice, not feature='auto'")
        else:
            feature_parts(self.feature)
            check_step(self.feature, self.step)
        self.threshold = _threshold(self.threshold)
        if not (isinstance(self.slow_share, (int, float)) and 0 <= self.slow_share <= 1):
            raise ValueError(f"slow_share must be a share of the image diagonal in [0, 1], got {self.slow_share}")
        if not (isinstance(self.short_mover_score, (int, float)) and self.short_mover_score >= 0):
            raise ValueError(
                f"short_mover_score must be a dense motion score >= 0 (inf: off), got {self.short_mover_score}"
            )
        if not (isinstance(self.camera_band, (int, float)) and 0 <= self.camera_band <= 0.5):
            raise ValueError(f"camera_band must be a share of the shorter side in [0, 0.5], got {self.camera_band}")

    def track(self, frames, progress: Callable[[int, int], None] | None = None):
        """The tracker run on ``frames`` with these options (``segmentation.track_frames``): M tracks."""
        every = track_frames(
            frames,
            side=self.track_side,
            num_points=self.num_points,
            flow=self.flow,
            fb_threshold=self.fb_threshold,
            reseed=self.reseed,
            progress=progress,
        )
        every.source_index = np.arange(every.num_tracks)
        return every


def group_min_size(min_size: int, num_tracks: int) -> int:
    """The smallest group of ``num_tracks`` grouped tracks: ``min_size`` itself, or for 0 a fifteenth of them
    (``MIN_GROUP_SHARE``), at least ``MIN_GROUP``."""
    return int(min_size) or max(MIN_GROUP, round(MIN_GROUP_SHARE * num_tracks))


def _at_least(name: str, value, low: int, why: str = "") -> None:
    if not (isinstance(value, (int, np.integer)) and value >= low):
        raise ValueError(f"{name} must be a whole number >= {low}{f' ({why})' if why else ''}, got {value}")


def _as_dict(opts: VideoOptions) -> dict:
    """The options as ``result.npz`` keeps them (JSON: tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(opts)))


def _gaps(name: str, value) -> tuple[int, ...]:
    gaps = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    if not gaps or not all(isinstance(g, (int, np.integer)) and g >= 1 for g in gaps):
        raise ValueError(f"{name} must be one or more whole numbers of frames >= 1, got {value!r}")
    return tuple(int(g) for g in gaps)


def _track_count(name: str, value) -> None:
    _at_least(name, value, 2)
    if value > MAX_TRACKS:
        raise ValueError(
            f"{name} {value} is more than {MAX_TRACKS}: every pair of tracks gets an MI estimate and the "
            f"N x N matrix stays in memory ({value * (value - 1) / 2:.1e} pairs, {value**2 * 8 / 1e9:.3g} GB)"
        )


def _threshold(value) -> float | str:
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be MI in nats (a number >= 0) or 'auto', got {value!r}") from None
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"threshold must be MI in nats (a finite number >= 0) or 'auto', got {value!r}")
    return number


@dataclass
class VideoScores:
    """A result against the input's ground truth: FBMS scores of the grouped tracks' labels, and
    DAVIS J and boundary F of the foreground masks (None where there is nothing to score)."""

    tracks: Score | None = None
    masks: MaskScore | None = None

    def lines(self) -> list[str]:
        out = []
        if self.tracks is not None:
            s = self.tracks
            out.append(
                f"tracks against the ground truth: P {s.precision:.3f}  R {s.recall:.3f}  F {s.f:.3f}  "
                f"objects extracted {s.objects_extracted} ({s.num_objects} ground-truth regions, background included)"
            )
        if self.masks is not None:
            out.append(f"masks against the ground truth: J {self.masks.j:.3f}  boundary F {self.masks.f:.3f}")
        return out


def select_tracks(
    tracks, visibility, *, min_length: int, max_tracks: int, seed: int = 0, image_size=None
) -> np.ndarray:
    """Indices of at most ``max_tracks`` tracks seen in at least ``min_length`` frames (seeded, sorted).

    The choice favours tracks that move unlike the camera: a track's chance is
    (1 + a / max(median a, ``AWAY_FLOOR_PX``)) ** ``AWAY_POWER``, a its mean step (pixels) away
    from the camera's motion (``segmentation.motion.camera_motion``), so that small moving
    objects, whose points are few and short-lived, keep enough tracks to form a group.

    Raises:
        ValueError: fewer than 2 such tracks.
    """
    seen = np.asarray(visibility, bool)
    life = seen.sum(axis=0)
    long_enough = np.flatnonzero(life >= min_length)
    if len(long_enough) < 2:
        advice = "; or a lower min_overlap (--min-overlap, at least 8)" if min_length > MIN_FRAMES else ""
        raise ValueError(
            f"no valid tracks left: {len(long_enough)} of {len(life)} points stay tracked for {min_length} frames; "
            f"try a steadier video or the dis flow (--flow dis){advice}"
        )
    if len(long_enough) <= max_tracks:
        return long_enough
    tracks = np.asarray(tracks, np.float64)
    steps = seen[:-1] & seen[1:]  # (T - 1, M)
    away = np.linalg.norm(tracks[1:] - camera_motion(tracks, seen, image_size=image_size)[0], axis=-1)
    mean_away = (np.where(steps, away, 0.0)).sum(axis=0) / np.maximum(steps.sum(axis=0), 1)
    away = mean_away[long_enough]
    weight = (1.0 + away / max(float(np.median(away)), AWAY_FLOOR_PX)) ** AWAY_POWER
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(long_enough, max_tracks, replace=False, p=weight / weight.sum()))


# ----------------------------------------------------------------------------- stages


@dataclass
class _Tracked:
    every: object  # datasets.TrackSet, M tracks
    pick: np.ndarray  # (N,) the tracks to group
    min_overlap: int | None  # None: given tracks, compared on all frames
    seconds: float


def _check_input(inp, opts: VideoOptions) -> None:
    if not isinstance(inp, datasets.VideoInput):
        raise TypeError(
            f"discover_video takes a datasets.VideoInput (datasets.load_input(path)); got {type(inp).__name__}"
        )
    T = inp.num_frames
    if T < MIN_FRAMES:
        raise ValueError(f"{inp.source} has {T} frames; MI between tracks needs at least {MIN_FRAMES}")
    if inp.tracks is None and opts.min_overlap > T:
        raise ValueError(
            f"min_overlap {opts.min_overlap} is more than the {T} frames of {inp.source}; "
            f"set it to at most {T} (--min-overlap)"
        )
    too_long = sorted({g for g in (*opts.motion_gaps, *opts.dense_gaps) if g >= T})
    if too_long:  # a baseline as long as the clip compares no frame with another
        raise ValueError(
            f"motion gaps {too_long} are not shorter than the {T} frames of {inp.source} (--motion-gaps, --dense-gaps)"
        )


def _track(inp, opts: VideoOptions, progress) -> _Tracked:
    start = time.perf_counter()
    if inp.tracks is not None:  # given tracks: true positions in every frame, every one grouped
        every = inp.tracks
        return _Tracked(every, np.arange(every.num_tracks), None, time.perf_counter() - start)
    every = opts.track(inp.frames, progress)
    pick = select_tracks(
        every.tracks,
        every.visibility,
        min_length=opts.min_overlap,
        max_tracks=opts.max_tracks,
        seed=opts.seed,
        image_size=every.image_size,
    )
    return _Tracked(every, pick, opts.min_overlap, time.perf_counter() - start)


def _reused(inp, result: VideoResult, opts: VideoOptions) -> tuple[_Tracked, dict, float]:
    """The tracking and motion stages of an earlier ``result`` on the same input."""
    every = datasets.TrackSet(result.tracks, result.visibility, result.image_size, source_index=result.source_index)
    tracked = _Tracked(every, result.grouped, None if inp.tracks is not None else opts.min_overlap, 0.0)
    motion = {name: getattr(result, name) for name in ("saliency", "moving", "motion")}
    return tracked, motion, 0.0


def _feature(inp, opts: VideoOptions) -> tuple[str, int]:
    """The feature and step MI compares the tracks on: as asked, or for "auto" by where the tracks come from."""
    if opts.feature != "auto":
        return opts.feature, opts.step
    feature, step = AUTO_FEATURE["given"]
    if inp.tracks is not None and inp.num_frames >= step + VECTOR_MIN_SAMPLES:  # displacements for the vector network
        return feature, step
    return AUTO_FEATURE["tracked"]


def _foreground(inp, opts: VideoOptions) -> tuple[str, str]:
    """The foreground rule for this input ("motion" or "groups") and why."""
    if opts.foreground != "auto":
        return opts.foreground, "as asked"
    if inp.tracks is not None and inp.truth is not None and inp.truth.object_ids is not None:
        return "groups", "auto: a PointOdyssey sequence's own tracks, whose objects all move"
    if inp.tracks is not None and inp.tracks.num_tracks < MIN_MOTION_TRACKS:
        count = inp.tracks.num_tracks
        return "groups", f"auto: {count} given tracks are too few to tell the camera's motion from an object's"
    return "motion", "auto: the tracks that move unlike the camera are the objects"


def _dense(frames, opts: VideoOptions, gaps, progress) -> tuple[np.ndarray | None, float]:
    """Every pixel's motion score over ``gaps`` (motion foreground with dense masks), and its seconds."""
    start = time.perf_counter()
    if (
        opts.foreground != "motion"
        or not (opts.masks and opts.dense_motion)
        or min(frames[0].shape[:2]) < MIN_FLOW_SIDE
    ):
        return None, 0.0
    motion = dense_residuals(frames, side=opts.mask.work_side, gaps=gaps, band=opts.camera_band, progress=progress)
    return motion, time.perf_counter() - start


def _motion(frames, every, opts: VideoOptions, dense: tuple[np.ndarray | None, float]) -> tuple[dict, float]:
    """saliency (M,), moving (M,), motion (T, h, w) of the motion foreground (all None otherwise),
    and the seconds of the stage (``dense``, over one frame, ran beside the tracker; the longer
    ``dense_gaps`` are added here when the movers are slow)."""
    if opts.foreground != "motion":
        return {"saliency": None, "moving": None, "motion": None}, 0.0
    start = time.perf_counter()
    where = {"image_size": every.image_size, "band": opts.camera_band}
    saliency = motion_saliency(every.tracks, every.visibility, gaps=opts.motion_gaps, **where)
    moving, motion = moving_tracks(saliency), dense[0]
    longer = tuple(g for g in opts.dense_gaps if g > 1)
    if motion is not None and longer and mover_speed(every.tracks, every.visibility, moving, **where) < opts.slow_share:
        motion = np.maximum(motion, _dense(frames, opts, longer, None)[0])
    return {"saliency": saliency, "moving": moving, "motion": motion}, dense[1] + time.perf_counter() - start


def _truth(inp, every) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(M,) ground-truth object of each track and its ambiguity: the input's own, or its masks' majority."""
    truth = inp.truth
    if truth is None:
        return None, None
    if truth.object_ids is not None and inp.tracks is not None:
        return truth.object_ids, truth.ambiguous
    if truth.masks is not None:
        return track_object_ids(every.tracks, every.visibility, truth.masks)
    return None, None


def _automatic(mi: np.ndarray, moving: np.ndarray | None, criterion: str) -> float:
    """The automatic threshold of the matrix that is grouped (the movers' alone, with ``moving``)."""
    if moving is not None:
        if moving.sum() < 2:
            return math.nan
        mi = mi[np.ix_(moving, moving)]
    return auto_threshold(mi, criterion=criterion)


def _estimator(estimator: MIEstimator | str) -> MIEstimator:
    if isinstance(estimator, str):
        from infonet import get_estimator

        return get_estimator(estimator)
    return estimator


def _as_objects(labels: np.ndarray, background: int, objects: list[int]) -> np.ndarray:
    """Group labels (1..K, -1) to the convention: the primary ``objects`` renumbered 1..K in
    their order, the ``background`` group and every other group 0, noise -1."""
    out = np.where(labels == UNLABELLED, UNLABELLED, BACKGROUND)
    for new, k in enumerate(objects, start=1):
        out[labels == k] = new
    return out


def _label_movers(every, moving: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Every track's label when the movers are the foreground: still tracks 0; a mover keeps its
    object, or takes the one its neighbours' steps vote for (``spread_labels``), or else the largest."""
    labels = np.where(moving, labels, BACKGROUND)
    objects = object_labels(labels)
    if not objects:
        return labels
    known = labels > BACKGROUND
    voted = spread_labels(every.tracks, every.visibility, np.where(known, labels, UNLABELLED), known)
    open_ = moving & ~known
    labels[open_] = np.where(voted[open_] > BACKGROUND, voted[open_], objects[0])
    return labels


def _track_labels(result: VideoResult) -> np.ndarray:
    """(M,) every track's label before the masks, from the grouping of the grouped tracks."""
    labels = np.full(result.visibility.shape[1], UNLABELLED)
    labels[result.grouped] = result.groups
    if result.moving is not None:
        return _label_movers(result, np.asarray(result.moving, bool), labels)
    grouped = result.grouped
    background, objects = primary_objects(
        result.tracks[:, grouped], result.visibility[:, grouped], result.groups, result.image_size
    )
    labels = _as_objects(labels, background, objects)
    is_grouped = np.zeros(len(labels), bool)
    is_grouped[grouped] = True
    return spread_labels(result.tracks, result.visibility, labels, is_grouped)


def mask_voters(
    labels, tracks, visibility, moving, *, min_frames: int, motion=None, image_size=None, min_score: float = math.inf
) -> np.ndarray:
    """(M,) the labels the masks are drawn from: movers seen in fewer than ``min_frames`` frames
    (or than half the clip, if shorter) are left out (unlabelled), unless their mean dense motion
    score (``motion`` (T, h, w) over frames of ``image_size``; :func:`scores_along`) reaches
    ``min_score``; the rest as ``labels`` has them."""
    seen = np.asarray(visibility, bool)
    short = np.asarray(moving, bool) & (seen.sum(axis=0) < min(min_frames, len(seen) / 2))
    if motion is not None and math.isfinite(min_score) and short.any():
        short &= ~(np.nan_to_num(scores_along(tracks, seen, motion, image_size)) >= min_score)
    return np.where(short, UNLABELLED, labels)


def _by_size(labels: np.ndarray, masks: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Objects renumbered 1..K by their tracks, largest first, in the labels and the masks alike
    (an object of the masks that no track holds comes last)."""
    top = int(max(labels.max(initial=0), 0 if masks is None else masks.max(initial=0)))
    tracks = np.bincount(labels[labels > BACKGROUND], minlength=top + 1)
    # a count per object, not np.bincount: that copies the int16 masks to int64 first (0.4 s for 50 frames)
    pixels = np.array([0 if masks is None else np.count_nonzero(masks == k) for k in range(top + 1)])
    present = [k for k in range(1, top + 1) if tracks[k] or pixels[k]]
    lut = np.zeros(top + 1, np.int64)
    for new, k in enumerate(sorted(present, key=lambda k: (-tracks[k], -pixels[k], k)), start=1):
        lut[k] = new
    labels = np.where(labels > BACKGROUND, lut[np.maximum(labels, 0)], labels)
    return labels, None if masks is None else lut.astype(np.int16)[masks]


def _finish(result: VideoResult, frames, opts: VideoOptions, progress, before: float) -> VideoResult:
    """Labels of every track and the masks, from the grouping (the end of :func:`discover_video`).

    ``before``: the wall seconds of the run up to here; the total adds the masks' (the stages'
    own seconds may overlap: the dense motion runs beside the tracker)."""
    start = time.perf_counter()
    labels, masks = _track_labels(result), None
    if opts.masks and frames is not None:
        voters = labels
        if result.moving is not None:
            voters = mask_voters(
                labels,
                result.tracks,
                result.visibility,
                result.moving,
                min_frames=opts.min_mover_frames,
                motion=result.motion,
                image_size=result.image_size,
                min_score=opts.short_mover_score,
            )
        masks = object_masks(
            frames,
            result.tracks,
            result.visibility,
            voters,
            object_labels(labels),
            motion=result.motion,
            options=opts.mask,
            progress=progress,
        )
        if result.moving is not None:  # the tracks take the labels of the masks they lie in
            labels = track_object_ids(result.tracks, result.visibility, masks)[0]
    labels, masks = _by_size(labels, masks)
    timings = {k: v for k, v in result.timings.items() if k not in ("masks", "total")}
    timings["masks"] = time.perf_counter() - start
    timings["total"] = before + timings["masks"]
    return dataclasses.replace(result, labels=labels, masks=masks, timings=timings)


def discover_video(
    inp,
    estimator: MIEstimator | str,
    options: VideoOptions | None = None,
    *,
    progress: Progress | None = None,
    reuse: VideoResult | None = None,
) -> VideoResult:
    """Tracks, groups and masks the objects of one input (the stages in the module docstring).

    Args:
        inp: a ``datasets.VideoInput`` (``datasets.load_input``).
        estimator: an MI estimator or its name.
        options: :class:`VideoOptions`.
        progress: optional ``progress(stage, done, total)``; stages "tracking", "motion", "mi", "masks".
        reuse: an earlier result on the same input and options: its tracks, choice of tracks and
            motion are taken as they are (to compare estimators on the same tracks).
    Returns:
        :class:`segmentation.VideoResult`.
    Raises:
        ValueError: too few frames or tracks, or options that do not fit the input.
    """
    start = time.perf_counter()
    opts = options or VideoOptions()
    report = (lambda stage: lambda done, total: progress(stage, done, total)) if progress else (lambda stage: None)
    _check_input(inp, opts)
    estimator = _estimator(estimator)
    foreground, why = _foreground(inp, opts)
    feature, step = _feature(inp, opts)
    opts = dataclasses.replace(opts, foreground=foreground, feature=feature, step=step)
    if reuse is not None:
        tracked, motion, seconds_motion = _reused(inp, reuse, opts)
    else:  # the dense motion needs only the frames: it runs beside the tracker (OpenCV releases the GIL)
        with ThreadPoolExecutor(1) as pool:
            dense = pool.submit(_dense, inp.frames, opts, (1,), report("motion"))
            tracked = _track(inp, opts, report("tracking"))
            motion, seconds_motion = _motion(inp.frames, tracked.every, opts, dense.result())
    moving = None if motion["moving"] is None else motion["moving"][tracked.pick]
    opts = dataclasses.replace(opts, min_size=group_min_size(opts.min_size, len(tracked.pick)))  # kept resolved
    found = discover(
        tracked.every.subset(tracked.pick),
        estimator,
        **{
            k: getattr(opts, k)
            for k in ("feature", "statistic", "step", "threshold", "min_size", "method", "criterion", "seed")
        },
        min_overlap=tracked.min_overlap,
        max_samples=opts.max_samples or None,
        moving=moving,
        progress=report("mi"),
    )
    # the feature, statistic and step used (a short clip's feature may differ; an estimator without
    # intervals gives its estimate)
    opts = dataclasses.replace(opts, feature=found.feature, statistic=found.statistic, step=found.step)
    timings = {"tracking": tracked.seconds, "motion": seconds_motion, "mi": found.timings["mi"]}
    result = _result(
        inp, tracked, motion, found, opts, f"{foreground} ({why})", timings | {"grouping": found.timings["group"]}
    )
    return _finish(result, inp.frames, opts, report("masks"), time.perf_counter() - start)


def _result(inp, tracked: _Tracked, motion: dict, found, opts: VideoOptions, foreground: str, timings) -> VideoResult:
    """The stages' products up to the grouping, as a result (labels and masks come in :func:`_finish`)."""
    every = tracked.every
    truth_ids, ambiguous = _truth(inp, every)
    moving = None if motion["moving"] is None else motion["moving"][tracked.pick][found.kept]
    return VideoResult(
        tracks=every.tracks,
        visibility=every.visibility,
        image_size=every.image_size,
        source_index=every.source_index if every.source_index is not None else np.arange(every.num_tracks),
        grouped=tracked.pick[found.kept],
        mi=found.mi,
        shared=found.shared,
        groups=found.labels,
        threshold=found.threshold,
        auto_threshold=_automatic(trusted_mi(found.mi, found.shared), moving, opts.criterion),
        labels=np.full(every.num_tracks, UNLABELLED),
        **motion,
        truth_ids=truth_ids,
        ambiguous=ambiguous,
        estimator=found.estimator,
        source=inp.source,
        foreground=foreground,
        options=_as_dict(opts),
        timings=timings,
    )


def regroup(
    result: VideoResult, frames=None, *, threshold: float | str = "auto", min_size: int | None = None, progress=None
) -> VideoResult:
    """``result`` grouped again at another threshold or minimum group size, from its MI (no tracking, no MI).

    Args:
        result: a :func:`discover_video` result (or one read by ``load_result``).
        frames: the input's T frames, to redraw the masks; None: no masks.
        threshold: MI in nats, or "auto". min_size: groups with fewer tracks are noise (None: as before; 0: a
            fifteenth of the tracks grouped, at least 5, as in :class:`VideoOptions`).
        progress: optional ``progress(done, T)`` of the masks.
    Returns:
        A new :class:`segmentation.VideoResult`; tracks, motion and MI are ``result``'s.
    """
    opts = VideoOptions(**result.options)
    min_size = opts.min_size if min_size is None else group_min_size(min_size, len(result.grouped))
    opts = dataclasses.replace(opts, threshold=threshold, min_size=min_size)
    start = time.perf_counter()
    moving = None if result.moving is None else np.asarray(result.moving, bool)[result.grouped]
    grouping = group(
        result.grouping_mi(),
        **{k: getattr(opts, k) for k in ("threshold", "min_size", "method", "criterion", "seed")},
        moving=moving,
    )
    timings = result.timings | {"grouping": time.perf_counter() - start}
    again = dataclasses.replace(
        result, groups=grouping.labels, threshold=grouping.threshold, options=_as_dict(opts), timings=timings
    )
    # the run's wall time with this grouping in place of the first (its masks are redrawn next)
    old = result.timings
    before = old.get("total", sum(old.values())) - old.get("masks", 0.0) - old.get("grouping", 0.0)
    return _finish(again, frames, opts, progress, before + timings["grouping"])


def score_video(result: VideoResult, truth_masks: np.ndarray | None = None) -> VideoScores:
    """The result against its input's ground truth (``result.truth_ids``, and ``truth_masks``
    (T, H, W), 0 background, when the input has masks)."""
    scores = VideoScores()
    if result.truth_ids is not None:
        g = result.grouped
        ambiguous = None if result.ambiguous is None else result.ambiguous[g]
        scores.tracks = score_grouping(result.labels[g], result.truth_ids[g], ambiguous)
    if truth_masks is not None and result.masks is not None:
        scores.masks = mask_scores(result.masks > BACKGROUND, truth_masks)
    return scores
