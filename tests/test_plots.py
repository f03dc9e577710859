"""Figures count runs by the same rule as the numbers: an exact copy is no failure."""

import math

from helpers import plots


def test_psnr_histogram_counts_an_exact_copy_and_leaves_diverged_runs_to_their_bar():
    fig = plots.psnr_histogram([math.inf, 35.0, math.nan], diverged=1)
    fail_axis, hist_axis = fig.axes
    assert sum(p.get_height() for p in hist_axis.patches) == 2  # inf and 35 dB, not the NaN
    assert [p.get_height() for p in fail_axis.patches] == [1]


def test_outcome_scatter_does_not_cross_out_an_exact_copy():
    fig = plots.outcome_scatter([1.0, 2.0, 3.0], [math.inf, 20.0, math.nan], [False, False, True])
    counts = {c.get_label(): len(c.get_offsets()) for c in fig.axes[0].collections}
    assert counts == {"produced an image": 2, "diverged (no PSNR)": 1}
