"""The P-R plot draws what it scores: hand-built sweeps, their envelope, the AP in the legend and
the chosen threshold's legend entry."""

import numpy as np
import pytest

from segmentation import average_precision, precision_envelope
from segmentation import visualize as vis

# a sweep in threshold order that zig-zags in recall and precision (as partitions do)
RECALL = [0.2, 0.6, 0.4, 1.0, 0.8]
PRECISION = [1.0, 0.5, 0.9, 0.3, 0.6]


def test_envelope_of_a_zig_zag_sweep():
    r, p = precision_envelope(RECALL, PRECISION)
    # sorted by recall: 0.2 -> 1.0, 0.4 -> 0.9, 0.6 -> 0.5 lifted to 0.6 (reached at 0.8), 0.8 -> 0.6, 1.0 -> 0.3
    np.testing.assert_allclose(r, [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(p, [1.0, 1.0, 0.9, 0.6, 0.6, 0.3])
    # steps: 0.2 * 1.0 + 0.2 * 0.9 + 0.2 * 0.6 + 0.2 * 0.6 + 0.2 * 0.3
    assert average_precision(RECALL, PRECISION) == pytest.approx(0.68)


def test_envelope_edge_cases():
    assert average_precision([], []) == 0.0
    assert average_precision([1.0], [1.0]) == pytest.approx(1.0)
    r, p = precision_envelope([0.5, 1.0, 1.0, 1.0], [0.2, 1.0, 0.7, 0.4])  # equal recalls: one point, the best
    np.testing.assert_allclose(r, [0, 0.5, 1.0])
    np.testing.assert_allclose(p, [1.0, 1.0, 1.0])  # no drop drawn at recall 1
    assert average_precision([0.5, 0.5], [0.2, 0.8]) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="two \\(C,\\) arrays"):
        precision_envelope([0.1, 0.2], [1.0])


def _legend(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_plot_draws_the_envelope_and_scores_it():
    fig = vis.pr_curve_figure(
        {"pearson": (RECALL, PRECISION)}, marks={"pearson": (0.6, 0.5, "automatic threshold 0.2 nats")}
    )
    ax = fig.axes[0]
    line = next(ln for ln in ax.lines if ln.get_label().startswith("pearson: AP"))
    x, y = line.get_xdata(), line.get_ydata()
    assert line.get_drawstyle() == "steps-pre"
    assert np.all(np.diff(x) >= 0) and np.all(np.diff(y) <= 0)  # monotone: no zig-zag, no self-crossing
    drawn_area = float(np.sum(np.diff(x) * y[1:]))  # the area of the steps as matplotlib draws them
    assert drawn_area == pytest.approx(0.68)
    assert _legend(fig) == ["pearson: AP 0.68", "pearson: automatic threshold 0.2 nats (P 0.50, R 0.60)"]
    star = next(ln for ln in ax.lines if ln.get_marker() == "*")
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (0.6, 0.5)  # the partition's own point, below the envelope
    assert vis.PR_CAPTION in fig._supxlabel.get_text()


def test_a_lower_curve_gets_a_lower_ap_in_the_legend():
    worse = [p * 0.5 for p in PRECISION]
    fig = vis.pr_curve_figure({"infonet": (RECALL, PRECISION), "ksg": (RECALL, worse)})
    assert _legend(fig) == ["infonet: AP 0.68", "ksg: AP 0.34"]
    assert vis.figure_to_image(fig).ndim == 3  # it renders


def test_a_sweep_finds_its_own_thresholds():
    from segmentation import Sweep

    sweep = Sweep(thresholds=np.array([0.5, 0.3, 0.1]), scores=[])
    assert sweep.index_of(0.3) == 1 and sweep.index_of(0.3 + 1e-15) == 1
    assert sweep.index_of(0.2) is None and sweep.index_of(float("nan")) is None
    assert Sweep(thresholds=np.array([]), scores=[]).index_of(0.3) is None
