"""Pictures of discovered objects, shared by the scripts and the demo.

Shapes: T frames, N tracks, H x W image size. Images are RGB uint8 (H, W, 3); figures are
matplotlib ``Figure`` objects built without pyplot, so nothing touches global state and
they render in any thread (``figure_to_image`` turns one into an image).

Colours follow the label convention (``segmentation.labels``): object k (1..K) takes the k-th colour
of matplotlib's tab20 with the dark shades first (ten distinct hues, then their light shades,
cycling past 20); the background (0) is white and the unlabelled (-1) grey.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ._imports import datasets

__all__ = [
    "BACKGROUND_COLOR",
    "NOISE_COLOR",
    "label_colors",
    "draw_points",
    "overlay_frames",
    "overlay_masks",
    "result_overlay",
    "key_frame_picture",
    "seen_only",
    "mi_heatmap",
    "sorted_mi_matrix_figure",
    "PR_CAPTION",
    "pr_curve_figure",
    "scores_by_frames_figure",
    "figure_to_image",
    "save_figure",
    "save_image",
]

NOISE_COLOR = (150, 150, 150)
BACKGROUND_COLOR = (255, 255, 255)
THREADS = 2  # frames drawn at once by overlay_masks
_TAB20 = (np.array(colormaps["tab20"].colors) * 255).round().astype(np.uint8)[[*range(0, 20, 2), *range(1, 20, 2)]]


def label_colors(labels) -> np.ndarray:
    """(N,) labels -> (N, 3) uint8 RGB colours: tab20 by object, white background, grey unlabelled."""
    labels = np.asarray(labels, dtype=np.int64)
    colors = _TAB20[np.maximum(labels - 1, 0) % len(_TAB20)].copy()
    colors[labels == 0] = BACKGROUND_COLOR
    colors[labels < 0] = NOISE_COLOR
    return colors


def _check_image(frame) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must be an (H, W, 3) RGB image; got shape {frame.shape}")
    return np.ascontiguousarray(frame, dtype=np.uint8)


def _radius(shape) -> int:
    return max(3, round(min(shape[:2]) / 110))


def draw_points(frame, points, labels, *, visible=None, radius: int | None = None) -> np.ndarray:
    """Points coloured by group on a copy of a frame.

    Args:
        frame: (H, W, 3) uint8 RGB.
        points: (N, 2) pixel x, y.
        labels: (N,) labels: 1..K objects, 0 background, -1 unlabelled.
        visible: optional (N,) bool: hidden points are drawn as rings, not discs.
        radius: disc radius in pixels (default: scaled to the image).
    Returns:
        (H, W, 3) uint8 RGB.
    """
    out = _check_image(frame).copy()
    points = np.asarray(points, dtype=np.float64)
    colors = label_colors(labels)
    if points.shape != (len(colors), 2):
        raise ValueError(f"points must have shape ({len(colors)}, 2); got {points.shape}")
    visible = np.ones(len(points), bool) if visible is None else np.asarray(visible, dtype=bool)
    r = radius or _radius(out.shape)
    order = np.argsort(np.asarray(labels), kind="stable")  # unlabelled first, then background, objects on top
    for i in order:
        if not np.isfinite(points[i]).all():
            continue
        center = (int(round(points[i, 0])), int(round(points[i, 1])))
        color = tuple(int(c) for c in colors[i])
        if visible[i]:
            cv2.circle(out, center, r + 1, (0, 0, 0), -1, cv2.LINE_AA)
            cv2.circle(out, center, r, color, -1, cv2.LINE_AA)
        else:
            cv2.circle(out, center, r, color, 1, cv2.LINE_AA)
    return out


def overlay_frames(frames, tracks, visibility, labels, *, tail: int = 8) -> np.ndarray:
    """Every frame with its points coloured by group and a short trail of the last positions.

    Args:
        frames: (T, H, W, 3) uint8 RGB array or a sequence of T such frames.
        tracks: (T, N, 2) pixel x, y.
        visibility: (T, N) bool or None (all visible).
        labels: (N,) group labels.
        tail: trail length in frames (0: points only).
    Returns:
        (T, H, W, 3) uint8 RGB.
    """
    tracks = np.asarray(tracks, dtype=np.float64)
    T, N, _ = tracks.shape
    if len(frames) != T:
        raise ValueError(f"{len(frames)} frames but tracks span {T}")
    visibility = np.ones((T, N), bool) if visibility is None else np.asarray(visibility, dtype=bool)
    colors = label_colors(labels)
    out = []
    for t in range(T):
        img = _check_image(frames[t]).copy()
        thickness = max(1, _radius(img.shape) // 2)
        for s in range(max(0, t - tail), t):
            a, b = tracks[s], tracks[s + 1]
            ok = np.isfinite(a).all(1) & np.isfinite(b).all(1) & visibility[s + 1]
            for i in np.flatnonzero(ok):
                p0 = (int(round(a[i, 0])), int(round(a[i, 1])))
                p1 = (int(round(b[i, 0])), int(round(b[i, 1])))
                cv2.line(img, p0, p1, tuple(int(c) for c in colors[i]), thickness, cv2.LINE_AA)
        out.append(draw_points(img, tracks[t], labels, visible=visibility[t]))
    return np.stack(out)


def overlay_masks(frames, masks, *, alpha: float = 0.5, tracks=None, visibility=None, labels=None) -> np.ndarray:
    """Every frame with its object masks tinted in the objects' colours and outlined.

    Args:
        frames: (T, H, W, 3) uint8 RGB array or a sequence of T such frames.
        masks: (T, H, W) int object label per pixel (0 background, left as is).
        alpha: opacity of the tint.
        tracks, visibility, labels: optional points drawn on top, as :func:`draw_points`.
    Returns:
        (T, H, W, 3) uint8 RGB.
    """
    masks = np.asarray(masks)
    if len(frames) != len(masks):
        raise ValueError(f"{len(frames)} frames but {len(masks)} masks")
    colors = label_colors(np.arange(int(masks.max(initial=0)) + 1))  # row k: the colour of label k

    def one(t: int) -> np.ndarray:
        img = _check_image(frames[t]).copy()
        if masks[t].shape != img.shape[:2]:
            raise ValueError(f"mask {t} has size {masks[t].shape}, the frame {img.shape[:2]}")
        inside = masks[t] > 0
        tinted = cv2.addWeighted(img, 1 - alpha, colors[masks[t]], alpha, 0.0)
        img[inside] = tinted[inside]
        edges = cv2.morphologyEx(inside.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        img[edges] = 255
        if tracks is not None:
            img = draw_points(img, np.asarray(tracks)[t], labels, visible=None if visibility is None else visibility[t])
        return img

    with ThreadPoolExecutor(THREADS) as pool:  # reading and tinting the frames release the GIL
        return np.stack(list(pool.map(one, range(len(masks)))))


def seen_only(tracks, visibility) -> np.ndarray:
    """(T, N, 2) tracks with NaN where a track is not seen, so that a picture draws it only where it is.

    Outside its life a tracker's track only holds its first or last position (its place in another
    frame), and an occluded point is behind something: drawn there, a group would look as if it were
    where it is not.
    """
    return np.where(np.asarray(visibility, bool)[..., None], np.asarray(tracks, np.float64), np.nan)


def result_overlay(frames, result, **kwargs) -> np.ndarray:
    """A ``VideoResult`` drawn over its frames: the masks with the grouped tracks on top when the
    result has masks, else the grouped tracks with their trails (kwargs go to the overlay). Each
    track is drawn where it is seen (:func:`seen_only`)."""
    tracks, seen, labels = result.grouped_tracks()
    tracks = seen_only(tracks, seen)
    if result.masks is not None:
        return overlay_masks(frames, result.masks, tracks=tracks, visibility=seen, labels=labels, **kwargs)
    return overlay_frames(frames, tracks, seen, labels, **kwargs)


def key_frame_picture(frames, result) -> np.ndarray:
    """The grouped tracks seen in the result's key frame (``VideoResult.key_frame``: the most of them are
    seen there), coloured by group on that frame."""
    k = result.key_frame()
    tracks, seen, labels = result.grouped_tracks()
    return draw_points(frames[k], seen_only(tracks[k], seen[k]), labels)


def mi_heatmap(
    frame,
    points,
    mi_row,
    query: int,
    *,
    mode: str = "interpolate",
    alpha: float = 0.6,
    sigma: float | None = None,
    cmap: str = "inferno",
) -> np.ndarray:
    """MI from one query point to every other point, over the frame (the paper's Fig. 9-10).

    Args:
        frame: (H, W, 3) uint8 RGB.
        points: (N, 2) pixel x, y in this frame.
        mi_row: (N,) MI of each point with the query (the query's own value is ignored).
        query: index of the query point (marked with a white cross).
        mode: "interpolate" (a smooth map: Gaussian-weighted average of nearby points' MI,
            faded out far from any point) or "points" (coloured discs only).
        alpha: opacity of the map over the frame.
        sigma: kernel width in pixels for "interpolate" (default: from the point spacing).
        cmap: matplotlib colour map, scaled from the lowest to the highest MI.
    Returns:
        (H, W, 3) uint8 RGB.
    """
    img = _check_image(frame)
    points = np.asarray(points, dtype=np.float64)
    values = np.asarray(mi_row, dtype=np.float64).copy()
    if points.shape != (len(values), 2):
        raise ValueError(f"points must have shape ({len(values)}, 2); got {points.shape}")
    if not 0 <= query < len(values):
        raise ValueError(f"query {query} out of range for {len(values)} points")
    others = np.arange(len(values)) != query
    ok = np.isfinite(points).all(1) & np.isfinite(values)
    lo, hi = (values[others & ok].min(), values[others & ok].max()) if (others & ok).any() else (0.0, 1.0)
    values[query] = hi  # the query is as dependent on itself as anything
    norm = np.clip((values - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    colormap = colormaps[cmap]
    H, W = img.shape[:2]
    if mode == "points":
        out = img.copy()
        r = _radius(img.shape) + 1
        for i in np.flatnonzero(ok)[np.argsort(norm[ok])]:
            color = tuple(int(c) for c in (np.array(colormap(norm[i])[:3]) * 255).round())
            cv2.circle(out, (int(round(points[i, 0])), int(round(points[i, 1]))), r, color, -1, cv2.LINE_AA)
    elif mode == "interpolate":
        out = _interpolated(img, points[ok], norm[ok], colormap, alpha, sigma)
    else:
        raise ValueError(f"mode must be 'interpolate' or 'points', got {mode!r}")
    q = (int(round(points[query, 0])), int(round(points[query, 1])))
    size = 3 * _radius(img.shape)
    cv2.drawMarker(out, q, (0, 0, 0), cv2.MARKER_CROSS, size + 4, 5, cv2.LINE_AA)
    cv2.drawMarker(out, q, (255, 255, 255), cv2.MARKER_CROSS, size, 2, cv2.LINE_AA)
    return out


def _interpolated(img: np.ndarray, points: np.ndarray, norm: np.ndarray, colormap, alpha: float, sigma) -> np.ndarray:
    """The (H, W, 3) frame under a smooth map of the points' (n,) values in [0, 1] (``mi_heatmap``)."""
    H, W = img.shape[:2]
    scale = min(1.0, 256 / max(H, W))  # splat on a small grid, then upsample
    h, w = max(1, round(H * scale)), max(1, round(W * scale))
    if sigma is None:
        sigma = 0.75 * np.sqrt(H * W / max(len(points), 1))  # about the spacing of the points
    s = max(sigma * scale, 0.5)
    acc, weight = np.zeros((h, w)), np.zeros((h, w))
    xy = np.clip(np.round(points * scale).astype(int), 0, [w - 1, h - 1])
    np.add.at(acc, (xy[:, 1], xy[:, 0]), norm)
    np.add.at(weight, (xy[:, 1], xy[:, 0]), 1.0)
    k = int(2 * round(3 * s) + 1)
    acc = cv2.GaussianBlur(acc, (k, k), s)
    weight = cv2.GaussianBlur(weight, (k, k), s)
    heat = np.divide(acc, weight, out=np.zeros_like(acc), where=weight > 1e-12)
    # opacity fades where no point is near: the map says nothing there
    cover = np.clip(weight / (weight.max() * 0.05 + 1e-12), 0, 1)
    heat = cv2.resize(heat, (W, H), interpolation=cv2.INTER_LINEAR)
    cover = cv2.resize(cover, (W, H), interpolation=cv2.INTER_LINEAR)[..., None]
    color = colormap(heat)[..., :3] * 255
    out = (img * (1 - alpha * cover) + color * alpha * cover).round().clip(0, 255).astype(np.uint8)
    return out


def sorted_mi_matrix_figure(mi, labels, *, title: str = "MI between tracks, sorted by group") -> Figure:
    """The MI matrix with tracks ordered by group (noise last): objects show as blocks.

    Args:
        mi: (N, N) MI matrix. labels: (N,) group labels, -1 noise.
    Returns:
        matplotlib Figure.
    """
    mi = np.asarray(mi, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    key = np.where(labels < 0, labels.max(initial=0) + 1, labels)
    order = np.argsort(key, kind="stable")
    fig = Figure(figsize=(5.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    off = mi[~np.eye(len(mi), dtype=bool)]
    vmax = np.percentile(off, 99.5) if off.size else 1.0  # a few saturated pairs must not wash it out
    image = ax.imshow(
        mi[np.ix_(order, order)], cmap="viridis", interpolation="nearest", vmin=min(0.0, off.min(initial=0)), vmax=vmax
    )
    fig.colorbar(image, ax=ax, label="MI (nats)")
    bounds = np.flatnonzero(np.diff(key[order])) + 0.5
    for b in bounds:
        ax.axhline(b, color="white", lw=0.6)
        ax.axvline(b, color="white", lw=0.6)
    ax.set_title(title)
    ax.set_xlabel("track (sorted by group)")
    ax.set_ylabel("track (sorted by group)")
    return fig


PR_CAPTION = (
    "Lines: precision envelope (the best precision at this or any higher recall) over the thresholds tried "
    "(dots); AP = area under the line, from recall 0."
)


def pr_curve_figure(
    curves: dict[str, tuple[Sequence[float], Sequence[float]]],
    *,
    marks: dict[str, tuple[float, float, str]] | None = None,
    title: str = "Precision-recall",
) -> Figure:
    """Precision-recall curves as the field draws them, one per name; the one plot of
    ``scripts/pr_curves.py`` and the demo.

    Each curve is the precision envelope over recall (:func:`segmentation.precision_envelope`),
    drawn as steps; its AP in the legend is the area under that drawn line
    (:func:`segmentation.average_precision`), and the thresholds tried show as faint dots at their
    own precision. A caption under the axes says so.

    Args:
        curves: name -> (recall (C,), precision (C,)) of a threshold sweep, in any order.
        marks: optional name -> (recall, precision, what) of the chosen operating point, drawn as
            a star in the curve's colour and named in the legend as ``"{name}: {what}"``, e.g.
            ``"automatic threshold 0.21 nats"``.
    Returns:
        matplotlib Figure.
    """
    from .scoring import precision_envelope

    fig = Figure(figsize=(5.2, 5), layout="constrained")
    ax = fig.add_subplot()
    for k, (name, (recall, precision)) in enumerate(curves.items()):
        color = _TAB20[k % 10] / 255
        r, p = precision_envelope(recall, precision)
        ap = float(np.sum(np.diff(r) * p[1:]))
        style = ("-", "--", "-.", ":")[k % 4]  # curves that coincide (often at precision 1) stay visible
        ax.step(r, p, where="pre", lw=1.6, ls=style, color=color, label=f"{name}: AP {ap:.2f}")
        ax.plot(np.asarray(recall), np.asarray(precision), "o", ms=2.5, alpha=0.35, color=color)
        if marks and name in marks:
            mr, mp, what = marks[name]
            ax.plot(
                mr, mp, marker="*", ms=14, color=color, mec="black", ls="none",
                label=f"{name}: {what} (P {mp:.2f}, R {mr:.2f})",
            )  # fmt: skip
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.grid(alpha=0.3)
    ax.set_title(title)
    if curves:
        ax.legend(loc="lower left", fontsize="small")
        fig.get_layout_engine().set(h_pad=0.15)
        fig.supxlabel(PR_CAPTION, fontsize="x-small", wrap=True)
    return fig


def scores_by_frames_figure(rows: Sequence[dict], metrics: Sequence[str] = ("pair_auc", "best_f")) -> Figure:
    """Scores against clip length, one line per estimator (mean over sequences, dots per sequence).

    Args:
        rows: summary rows holding ``estimator``, ``frames`` and each metric.
        metrics: the columns to plot, one panel each.
    Returns:
        matplotlib Figure.
    """
    fig = Figure(figsize=(4.2 * len(metrics), 3.8), layout="constrained")
    names = list(dict.fromkeys(r["estimator"] for r in rows))
    ticks = np.unique([float(r["frames"]) for r in rows])
    for m, metric in enumerate(metrics):
        ax = fig.add_subplot(1, len(metrics), m + 1)
        for k, name in enumerate(names):
            mine = [r for r in rows if r["estimator"] == name]
            frames = np.array([r["frames"] for r in mine], float)
            values = np.array([r[metric] for r in mine], float)
            lengths = np.unique(frames)
            color = _TAB20[(2 * k) % 20] / 255
            ax.plot(frames, values, ".", color=color, alpha=0.45)
            ax.plot(lengths, [values[frames == t].mean() for t in lengths], "-o", ms=4, color=color, label=name)
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [str(int(t)) for t in ticks])
        ax.set_xlabel("frames used")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    fig.axes[0].legend(loc="lower right")
    return fig


def figure_to_image(fig: Figure, dpi: int = 100) -> np.ndarray:
    """Renders a figure to an (H, W, 3) uint8 RGB image."""
    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save_image(image, path) -> None:
    """Writes an (H, W, 3) uint8 RGB image (PNG, JPEG... by the suffix), whole or not at all.

    Raises:
        ValueError: OpenCV could not write the file.
    """
    image = _check_image(image)
    with datasets.replacing(path) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
            raise ValueError(f"could not write image {path}")


def save_figure(fig: Figure, path, dpi: int = 110) -> None:
    """Writes a figure (PNG, SVG, PDF... by the suffix), whole or not at all."""
    with datasets.replacing(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
