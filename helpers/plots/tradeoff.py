"""Privacy, utility and leakage against one knob (DP-SGD's noise multiplier) on one figure."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..metrics import RECOGNISABLE_SSIM
from .style import SEED_COLORS


def privacy_tradeoff(
    sigmas: Sequence[float],
    leakage: Mapping[str, Sequence[float]],
    accuracy: Mapping[float, float],
    epsilon: Mapping[float, float],
    baseline: float | None = None,
    mark: float | None = None,
) -> plt.Figure:
    """Two panels over the noise multiplier σ (log axis, σ > 0 only): left, the best SSIM any
    seed reached per recipe (``leakage[recipe][i]`` at ``sigmas[i]``; NaN: nothing produced)
    with the recognisability line; right, the trained model's test ``accuracy`` at each σ (and
    the non-private ``baseline``), each point labelled with its ``epsilon``. ``mark`` draws
    a vertical line at one σ on both panels."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 5.2))
    xs = np.asarray(sigmas, dtype=float)
    for i, (recipe, values) in enumerate(leakage.items()):
        ys = np.asarray(values, dtype=float)
        left.plot(xs, np.nan_to_num(ys, nan=0.0), "o-", lw=2.5, ms=8, color=SEED_COLORS[i % len(SEED_COLORS)],
                  label=recipe)
    left.axhline(RECOGNISABLE_SSIM, ls="--", color="gray", label=f"recognisable (SSIM {RECOGNISABLE_SSIM:g})")
    left.set(xscale="log", xlabel="noise multiplier σ (clipping norm 1)", ylabel="best SSIM over seeds",
             title="Leakage of one shared step", ylim=(-0.05, 1.05))
    left.legend(fontsize=12)
    points = sorted((s, a) for s, a in accuracy.items() if s > 0)
    right.plot([s for s, _ in points], [a for _, a in points], "o-", lw=2.5, ms=8, color=SEED_COLORS[0],
               label="DP-SGD")
    for s, a in points:
        e = epsilon.get(s, math.inf)
        text = "ε=∞" if not math.isfinite(e) else (f"ε={e:.2g}" if e < 1e4 else f"ε=1e{math.log10(e):.0f}")
        right.annotate(text, (s, a), textcoords="offset points", xytext=(0, 10), ha="center", fontsize=11)
    if baseline is not None:
        right.axhline(baseline, ls="--", color="gray", label="plain SGD")
    right.set(xscale="log", xlabel="noise multiplier σ (clipping norm 1)", ylabel="test accuracy",
              title="Utility of the trained model", ylim=(0, 1.05))
    right.legend(fontsize=12)
    if mark is not None:
        for ax in (left, right):
            ax.axvline(mark, color="black", lw=1.5, alpha=0.6)
    fig.tight_layout()
    return fig
