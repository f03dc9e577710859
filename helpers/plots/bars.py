"""Bar charts: label scores, equation counts, success rates."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..metrics import SUCCESS_PSNR
from .style import TRUE_COLOR, SEED_COLORS


def label_bars(
    scores: torch.Tensor | Sequence[float],
    true_label: int | None = None,
    class_names: Sequence[str] | None = None,
    title: str = "Label scores",
    ylabel: str = "score",
    symlog: float | None = None,
    size: tuple[float, float] = (12.0, 4.5),
) -> plt.Figure:
    """One bar per class; the true class (if given) in the truth colour and named, the others
    grey, with a zero line so the sign of each bar is plain (e.g. iDLG's label scores).
    ``symlog`` (a small positive number) puts the y-axis on a logarithmic scale in both
    directions, linear within ±``symlog``, so bars many orders of magnitude apart all show."""
    values = np.asarray(torch.as_tensor(scores).detach().cpu(), dtype=float)
    colors = ["#999999"] * len(values)
    if true_label is not None:
        colors[true_label] = TRUE_COLOR
    fig, ax = plt.subplots(figsize=size)
    ax.bar(np.arange(len(values)), values, color=colors, width=0.8)
    ax.axhline(0, color="black", lw=1)
    margin = 4.0 if symlog is not None else 1.15
    if np.abs(values).max() > 0:
        ax.set_ylim(min(values.min(), 0) * margin, max(values.max(), 0) * margin)
    if symlog is not None:
        ax.set_yscale("symlog", linthresh=symlog)
        top = max(abs(values).max(), symlog)
        decades = np.arange(math.ceil(math.log10(symlog)), math.ceil(math.log10(top)) + 1)
        decades = decades[(decades - decades[-1]) % 2 == 0]  # every other decade, keeping the top one
        ticks = [10.0**d for d in decades]
        ax.set_yticks([-t for t in ticks[::-1] if -t >= values.min() * margin] + [0] + [t for t in ticks if t <= values.max() * margin])
    if true_label is not None:
        name = class_names[true_label] if class_names else "true class"
        left = true_label > 0.2 * len(values)  # name the bar on its left unless it is near the left edge
        ax.annotate(
            f"{name} ({true_label})",
            xy=(true_label, values[true_label]),
            xytext=(-8 if left else 8, 0),
            textcoords="offset points",
            ha="right" if left else "left",
            va="center",
            color=TRUE_COLOR,
            fontweight="bold",
        )
    ax.set_xlim(-1, len(values))
    ax.set_xlabel("class index")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def grouped_bars(
    groups: Mapping[str, Mapping[str, float]],
    title: str = "",
    ylabel: str = "count",
    log: bool = False,
    colors: Sequence[str] | None = None,
    annotate: bool = True,
    size: tuple[float, float] = (12.0, 5.0),
) -> plt.Figure:
    """One cluster of bars per group (e.g. a layer), one bar per series in it (e.g. unknowns,
    forward equations, gradient equations), each bar labelled with its value."""
    names = list(groups)
    series = list(dict.fromkeys(key for values in groups.values() for key in values))
    colors = list(colors) if colors else list(SEED_COLORS)
    width = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=size)
    for j, key in enumerate(series):
        xs = np.arange(len(names)) + (j - (len(series) - 1) / 2) * width
        values = [float(groups[name].get(key, np.nan)) for name in names]
        if log:  # a zero has no place on a log axis: leave the bar out
            values = [v if v > 0 else np.nan for v in values]
        bars = ax.bar(xs, values, width=width * 0.95, color=colors[j % len(colors)], label=key)
        if annotate:
            ax.bar_label(bars, labels=[f"{v:,.0f}" if np.isfinite(v) else "" for v in values], fontsize=10, padding=2)
    ax.set_xticks(np.arange(len(names)), names)
    if log:
        ax.set_yscale("log")
    ax.margins(y=0.15)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def recipe_bars(
    summaries: Sequence,
    size: tuple[float, float] = (13.0, 4.6),
) -> plt.Figure:
    """Two panels, one bar per recipe (from :func:`helpers.experiments.summarise`): the success rate
    with its 95 % interval, and the median seconds per attack on a log scale."""
    names = [f"{s.recipe}\n({s.attacks} attacks)" for s in summaries]
    colors = [SEED_COLORS[i % len(SEED_COLORS)] for i in range(len(summaries))]
    fig, (left, right) = plt.subplots(1, 2, figsize=size)
    xs = np.arange(len(summaries))
    rates = np.array([100 * s.rate for s in summaries])
    errors = np.array([[100 * (s.rate - s.rate_low), 100 * (s.rate_high - s.rate)] for s in summaries]).T
    left.bar(xs, rates, color=colors, yerr=errors, capsize=8)
    for x, rate, (below, _) in zip(xs, rates, errors.T):  # the rate at the bar's foot, under the whisker
        if rate - below > 12:
            left.text(x, 3, f"{rate:.0f} %", ha="center", va="bottom", color="white", fontweight="bold")
        else:  # a short bar, or one whose interval reaches down to 0: write the rate above it
            left.text(x, rate + 2, f"{rate:.0f} %", ha="center", va="bottom", color="black", fontweight="bold")
    left.set_ylim(0, 105)
    left.set_ylabel("success rate (%)")
    left.set_title(f"PSNR ≥ {SUCCESS_PSNR:g} dB (95 % interval)")
    seconds = [s.median_seconds for s in summaries]
    bars = right.bar(xs, seconds, color=colors)
    right.bar_label(bars, labels=[f"{v:.1f} s" for v in seconds], padding=2)
    right.set_yscale("log")
    finite = [v for v in seconds if np.isfinite(v) and v > 0]
    if finite:  # bars rise from a whole decade below the fastest, so their heights compare
        right.set_ylim(10 ** math.floor(math.log10(min(finite)) - 0.5), max(finite) * 3)
    right.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    right.set_ylabel("seconds per attack")
    right.set_title("median time per attack")
    for ax in (left, right):
        ax.set_xticks(xs, names)
        ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def rate_bars(
    panels: Mapping[str, Mapping[str, tuple[float, float, float]]],
    ylabel: str = "share of attacks (%)",
    size: tuple[float, float] = (7.0, 5.0),
) -> plt.Figure:
    """One panel per title, one bar per name, each bar a rate ``(rate, low, high)`` in [0, 1]
    with its interval (e.g. 95 % Wilson) as an error bar and the rate written on it."""
    fig, axes = plt.subplots(1, len(panels), figsize=(size[0] * len(panels), size[1]), squeeze=False)
    for ax, (title, bars) in zip(axes[0], panels.items()):
        names = list(bars)
        xs = np.arange(len(names))
        rates = np.array([100 * bars[n][0] for n in names])
        errors = np.array([[100 * (bars[n][0] - bars[n][1]), 100 * (bars[n][2] - bars[n][0])] for n in names]).T
        errors = np.clip(errors, 0, None)  # an interval at 0 % or 100 % can miss its rate by rounding
        ax.bar(xs, rates, color=[SEED_COLORS[i % len(SEED_COLORS)] for i in range(len(names))], yerr=errors, capsize=7)
        for x, rate in zip(xs, rates):
            ax.text(x, rate + 2, f"{rate:.0f} %", ha="center", va="bottom", fontweight="bold", fontsize=12)
        ax.set_xticks(xs, names, rotation=30, ha="right")
        ax.set_ylim(0, 110)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
