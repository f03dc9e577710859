"""Distributions over seeds or entries: histograms and point clouds."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..metrics import SUCCESS_PSNR
from ..statistics import median_psnr
from .style import label_axes, RECON_COLOR, FAIL_COLOR, SEED_COLORS


def histograms(
    groups: Mapping[str, torch.Tensor | np.ndarray],
    bins: int = 60,
    xlabel: str = "value",
    value_range: tuple[float, float] | None = None,
    colors: Sequence[str] | None = None,
    size: tuple[float, float] = (6.0, 4.2),
) -> plt.Figure:
    """One histogram panel per group (e.g. weights under two initialisations, or the colour
    channels of an image), sharing the x-axis; ``value_range`` fixes the bins' span."""
    fig, axes = plt.subplots(1, len(groups), figsize=(size[0] * len(groups), size[1]), squeeze=False, sharex=True)
    colors = list(colors) if colors else list(SEED_COLORS)
    for i, (ax, (title, values)) in enumerate(zip(axes[0], groups.items())):
        data = np.asarray(torch.as_tensor(values).detach().cpu().flatten(), dtype=float)
        ax.hist(data, bins=bins, range=value_range, color=colors[i % len(colors)])
        ax.set_xlabel(xlabel)
        ax.set_ylabel("count")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def psnr_histogram(
    psnrs: Sequence[float],
    diverged: int = 0,
    threshold: float | None = SUCCESS_PSNR,
    bins: int = 12,
    title: str = "Final PSNR over seeds",
    size: tuple[float, float] = (9.0, 4.5),
) -> plt.Figure:
    """Histogram of the PSNR of the runs that produced an image, with the ``diverged`` runs
    (no image, so no PSNR) as a separate red bar on the left, never as a number of dB. An
    exact copy (``+inf`` dB) is counted in the last bin, not dropped."""
    values = np.asarray(psnrs, dtype=float)
    values = values[~np.isnan(values)]
    finite = values[np.isfinite(values)]
    fig, (ax_fail, ax) = plt.subplots(
        1, 2, figsize=size, sharey=True, gridspec_kw={"width_ratios": [1, 6], "wspace": 0.05}
    )
    ax_fail.bar([0], [diverged], width=0.6, color=FAIL_COLOR)
    ax_fail.set_xticks([0], ["diverged"])
    ax_fail.set_xlim(-0.6, 0.6)
    ax_fail.set_ylabel("seeds")
    ax_fail.grid(True, axis="y", alpha=0.3)
    top = max(60.0, float(finite.max()) + 2) if finite.size else 60.0
    ax.hist(np.clip(values, 0.0, top), bins=bins, range=(0.0, top), color=RECON_COLOR)
    if threshold is not None:
        ax.axvline(threshold, color="grey", ls="--", lw=1.5)
        ax.annotate(f"{threshold:g} dB", xy=(threshold, 1), xycoords=("data", "axes fraction"),
                    xytext=(4, -4), textcoords="offset points", ha="left", va="top", color="grey")
    ax.set_xlabel("final PSNR (dB)")
    ax.tick_params(axis="y", left=False)
    ax.grid(True, axis="y", alpha=0.3)
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(title)
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.17, top=0.87)
    return fig


def outcome_scatter(
    x: Sequence[float],
    psnrs: Sequence[float],
    diverged: Sequence[bool],
    xlabel: str = "matching loss after step 1",
    threshold: float | None = SUCCESS_PSNR,
    cut: float | None = None,
    labels: Sequence[str] | None = None,
    title: str = "Does an early number predict the outcome?",
    size: tuple[float, float] = (9.0, 5.0),
) -> plt.Figure:
    """Final PSNR of each run against an early number (log x-axis), e.g. the first-step loss.

    Runs that produced an image are dots (an exact copy, ``+inf`` dB, at the top edge);
    ``diverged`` runs have no PSNR and are drawn as red crosses in a band below the axis. A dashed line marks the success ``threshold`` (dB) and
    a dotted one an optional ``cut`` on x; ``labels`` (e.g. seeds) annotate the points."""
    from matplotlib import ticker

    xs = np.asarray(x, dtype=float)
    ys = np.asarray(psnrs, dtype=float)
    failed = np.asarray(diverged, dtype=bool) | np.isnan(ys)
    fig, ax = plt.subplots(figsize=size)
    finite = ys[~failed & np.isfinite(ys)]
    top = max(60.0, float(finite.max()) + 3) if finite.size else 60.0
    ys = np.where(np.isposinf(ys), top - 1, ys)
    band = -6.0  # where the diverged runs sit, below 0 dB
    ok = ~failed
    ax.scatter(xs[ok], ys[ok], s=70, color=RECON_COLOR, label="produced an image", zorder=3)
    if failed.any():
        ax.scatter(xs[failed], np.full(failed.sum(), band), s=90, marker="x", color=FAIL_COLOR,
                   linewidths=2.5, label="diverged (no PSNR)", zorder=3)
    if labels is not None:
        for xi, yi, fi, text in zip(xs, ys, failed, labels):
            ax.annotate(str(text), (xi, band if fi else yi), xytext=(5, 4), textcoords="offset points", fontsize=10)
    if threshold is not None:
        ax.axhline(threshold, color="grey", ls="--", lw=1.5)
    if cut is not None:
        ax.axvline(cut, color="black", ls=":", lw=1.5)
    ax.axhline(band / 2, color="#cccccc", lw=1)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_ylim(band - 4, top)
    ticks = [t for t in range(0, int(top) + 1, 10)]
    ax.set_yticks([band] + ticks, ["diverged"] + [str(t) for t in ticks])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("final PSNR (dB)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    return fig


def scatter_groups(
    groups: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    xlabel: str,
    ylabel: str,
    xlog: bool = False,
    threshold: float | None = None,
    title: str = "",
    size: tuple[float, float] = (8.0, 4.8),
) -> plt.Figure:
    """One point cloud per group (e.g. one per defence), each ``(xs, ys)``, with an optional
    dashed line at ``threshold`` on the y-axis."""
    fig, ax = plt.subplots(figsize=size)
    for i, (name, (xs, ys)) in enumerate(groups.items()):
        ax.scatter(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), s=70, alpha=0.8, label=name,
                   color=SEED_COLORS[i % len(SEED_COLORS)], zorder=3)
    if threshold is not None:
        ax.axhline(threshold, color="grey", ls="--", lw=1.5)
    if xlog:
        ax.set_xscale("log")
    label_axes(ax, xlabel, ylabel, title, legend=True)
    fig.tight_layout()
    return fig


def strength_panels(
    panels: Mapping[str, Sequence[tuple[float, Sequence[float]]]],
    ylabel: str = "PSNR (dB)",
    threshold: float | None = SUCCESS_PSNR,
    xlog: Mapping[str, bool] | None = None,
    xlabels: Mapping[str, str] | None = None,
    marks: Mapping[str, tuple[float, str]] | None = None,
    size: tuple[float, float] = (5.6, 4.4),
) -> plt.Figure:
    """A score against defence strength, one panel per defence: every seed as a dot, the
    median as a line, a dashed line at ``threshold`` (the success mark) and, per panel, an
    optional vertical mark ``(x, text)`` (e.g. the paper's threshold). Each panel is a list of
    ``(strength, [score per seed])``; NaN scores (diverged runs) are drawn at the bottom as crosses."""
    fig, axes = plt.subplots(1, len(panels), figsize=(size[0] * len(panels), size[1]), squeeze=False)
    for i, (ax, (title, curve)) in enumerate(zip(axes[0], panels.items())):
        curve = sorted(curve, key=lambda point: point[0])
        xs = np.asarray([x for x, _ in curve], dtype=float)
        color = SEED_COLORS[i % len(SEED_COLORS)]
        medians = []
        for x, values in curve:
            values = np.asarray(values, dtype=float)
            scored = values[~np.isnan(values)]  # +inf (an exact copy) is no failure: no cross, and it counts in the median
            ax.scatter(np.full(len(scored), x), scored, color=color, alpha=0.6, s=45, zorder=3)
            if len(scored) < len(values):
                ax.scatter([x] * (len(values) - len(scored)), [0] * (len(values) - len(scored)), marker="x",
                           color=FAIL_COLOR, s=60, zorder=3)
            medians.append(median_psnr(values))
        ax.plot(xs, medians, color=color, lw=2.5, label="median")
        if threshold is not None:
            ax.axhline(threshold, color="grey", ls="--", lw=1.5)
        if marks and title in marks:
            x, text = marks[title]
            ax.axvline(x, color=FAIL_COLOR, ls=":", lw=2)
            ax.annotate(text, xy=(x, 1), xycoords=("data", "axes fraction"), xytext=(4, -4),
                        textcoords="offset points", ha="left", va="top", color=FAIL_COLOR, fontsize=12)
        if xlog and xlog.get(title):
            ax.set_xscale("log")
        ax.set_xlabel((xlabels or {}).get(title, "strength"))
        ax.set_ylabel(ylabel if i == 0 else "")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig
