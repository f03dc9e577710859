"""Figures the series needs, readable from the back of a seminar room.

Images are drawn with ``interpolation="nearest"`` so 32x32 pixels stay pixels; the truth is
framed in one colour and reconstructions in another throughout the series; a diverged
dummy is never drawn as if it were an image.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .data import PIXEL_LIMIT

TRUE_COLOR = "#1b7837"  # green: the private truth
RECON_COLOR = "#762a83"  # purple: what the attacker recovers
FAIL_COLOR = "#b2182b"  # red: failure / divergence
SEED_COLORS = ("#2166ac", "#d6604d", "#4d9221", "#8c510a", "#01665e", "#c51b7d")

STYLE = {
    "font.size": 15,
    "axes.titlesize": 16,
    "axes.labelsize": 15,
    "xtick.labelsize": 13,
    "ytick.labelsize": 13,
    "legend.fontsize": 13,
    "figure.dpi": 90,
    "savefig.dpi": 110,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def use_style() -> None:
    """Large fonts and PNG output for notebooks and saved figures."""
    plt.rcParams.update(STYLE)
    try:  # inside IPython: static PNG figures, never SVG
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except Exception:
        pass


def to_picture(image: torch.Tensor) -> np.ndarray | None:
    """A [3, H, W] (or [1, 3, H, W]) tensor as an H x W x 3 array in [0, 1]; ``None`` if it
    holds NaN/inf or values far outside [0, 1] (a diverged dummy is not a picture)."""
    image = image.detach().cpu().float()
    if image.dim() == 4:
        image = image[0]
    if not torch.isfinite(image).all() or float(image.abs().max()) > PIXEL_LIMIT:
        return None
    return image.clamp(0, 1).permute(1, 2, 0).numpy()


def show_image(ax: plt.Axes, image: torch.Tensor, title: str = "", color: str | None = None) -> None:
    """One image on ``ax``, framed in ``color``; a grey 'diverged' panel instead of a dummy
    that is non-finite or blown far outside [0, 1]."""
    picture = to_picture(image)
    ax.set_xticks([])
    ax.set_yticks([])
    if picture is None:
        ax.set_facecolor("#eeeeee")
        ax.text(0.5, 0.5, "diverged\n(not an image)", ha="center", va="center", color=FAIL_COLOR, transform=ax.transAxes)
    else:
        ax.imshow(picture, interpolation="nearest")
    for spine in ax.spines.values():
        spine.set_visible(color is not None)
        if color is not None:
            spine.set_color(color)
            spine.set_linewidth(4)
    if title:
        ax.set_title(title, color=color or "black")


def image_grid(
    images: Sequence[torch.Tensor],
    titles: Sequence[str] | None = None,
    columns: int = 8,
    size: float = 2.2,
    color: str | None = None,
) -> plt.Figure:
    """Images in a grid with optional titles."""
    rows = math.ceil(len(images) / columns)
    cols = min(columns, len(images))
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + 0.5 * rows), squeeze=False)
    for ax in axes.flat[len(images):]:
        ax.axis("off")
    for i, image in enumerate(images):
        show_image(axes.flat[i], image, titles[i] if titles else "", color)
    fig.tight_layout()
    return fig


def loss_curves(
    curves: Mapping[str, Sequence[float]],
    ax: plt.Axes | None = None,
    title: str = "Gradient-matching loss",
) -> plt.Figure:
    """Matching loss against L-BFGS step, one line per run, on a log scale."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4.5))
    else:
        fig = ax.figure
    for i, (name, losses) in enumerate(curves.items()):
        values = np.asarray(losses, dtype=float)
        values = np.where(np.isfinite(values), np.maximum(values, 1e-12), np.nan)
        ax.plot(np.arange(len(values)), values, label=name, color=SEED_COLORS[i % len(SEED_COLORS)], lw=2.5)
    ax.set_yscale("log")
    ax.set_xlabel("L-BFGS step")
    ax.set_ylabel("matching loss")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    if len(curves) > 1 or any(curves):
        ax.legend()
    fig.tight_layout()
    return fig


def snapshot_strip(
    snapshots: Mapping[int, torch.Tensor],
    truth: torch.Tensor | None = None,
    steps: Sequence[int] | None = None,
    size: float = 2.0,
    title: str | None = None,
) -> plt.Figure:
    """The paper's figure: the dummy at chosen steps, from noise to the reconstruction,
    with the private image at the end for comparison."""
    steps = sorted(snapshots) if steps is None else [s for s in steps if s in snapshots]
    panels = len(steps) + (truth is not None)
    fig, axes = plt.subplots(1, panels, figsize=(size * panels, size + 0.8), squeeze=False)
    for ax, step in zip(axes[0], steps):
        show_image(ax, snapshots[step], f"step {step}", RECON_COLOR if step == steps[-1] else None)
    if truth is not None:
        show_image(axes[0][-1], truth, "private", TRUE_COLOR)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def compare(
    truth: torch.Tensor,
    reconstructions: Mapping[str, torch.Tensor],
    size: float = 2.8,
) -> plt.Figure:
    """The private image beside one or more reconstructions (titles carry their scores)."""
    panels = 1 + len(reconstructions)
    fig, axes = plt.subplots(1, panels, figsize=(size * panels, size + 0.9), squeeze=False)
    show_image(axes[0][0], truth, "private", TRUE_COLOR)
    for ax, (name, image) in zip(axes[0][1:], reconstructions.items()):
        show_image(ax, image, name, RECON_COLOR)
    fig.tight_layout()
    return fig


def trial_title(trial) -> str:
    """A short caption for a scored attack: seed, status and PSNR."""
    r, m = trial.result, trial.metrics
    if r.status == "diverged":
        return f"seed {trial.seed}\ndiverged"
    return f"seed {trial.seed}\n{r.status}, {m.psnr:.1f} dB"


def function_panels(
    x: torch.Tensor | np.ndarray,
    panels: Mapping[str, Mapping[str, torch.Tensor | np.ndarray]],
    xlabel: str = "z",
    size: tuple[float, float] = (6.0, 4.2),
) -> plt.Figure:
    """Curves side by side: one panel per title in ``panels``, one line per label in it,
    all against the same ``x`` (e.g. an activation and its first two derivatives)."""
    xs = np.asarray(torch.as_tensor(x).detach().cpu(), dtype=float)
    fig, axes = plt.subplots(1, len(panels), figsize=(size[0] * len(panels), size[1]), squeeze=False)
    for ax, (title, curves) in zip(axes[0], panels.items()):
        for i, (label, y) in enumerate(curves.items()):
            ys = np.asarray(torch.as_tensor(y).detach().cpu(), dtype=float)
            ax.plot(xs, ys, label=label, color=SEED_COLORS[i % len(SEED_COLORS)], lw=2.5)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


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


def psnr_curves(
    curves: Mapping[str, Mapping[int, float]],
    threshold: float | None = 30.0,
    title: str = "When does the image appear?",
    size: tuple[float, float] = (8.0, 4.5),
) -> plt.Figure:
    """PSNR of the dummy against the truth, per L-BFGS step, one line per run (each a
    ``{step: psnr}`` mapping, e.g. from kept snapshots), with a dashed line at ``threshold``
    dB (the series' success mark). Non-finite values (an exact copy, a diverged dummy) are
    left out."""
    fig, ax = plt.subplots(figsize=size)
    for i, (name, by_step) in enumerate(curves.items()):
        steps = sorted(by_step)
        values = np.asarray([by_step[s] for s in steps], dtype=float)
        values = np.where(np.isfinite(values), values, np.nan)
        ax.plot(steps, values, label=name, color=SEED_COLORS[i % len(SEED_COLORS)], lw=2.5)
    if threshold is not None:
        ax.axhline(threshold, color="grey", ls="--", lw=1.5)
        ax.annotate(f"{threshold:g} dB", xy=(1, threshold), xycoords=("axes fraction", "data"),
                    xytext=(-4, 4), textcoords="offset points", ha="right", va="bottom", color="grey")
    ax.set_xlabel("L-BFGS step")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if len(curves) > 1:
        ax.legend()
    fig.tight_layout()
    return fig


def psnr_histogram(
    psnrs: Sequence[float],
    diverged: int = 0,
    threshold: float | None = 30.0,
    bins: int = 12,
    title: str = "Final PSNR over seeds",
    size: tuple[float, float] = (9.0, 4.5),
) -> plt.Figure:
    """Histogram of the PSNR of the runs that produced an image, with the ``diverged`` runs
    (no image, so no PSNR) as a separate red bar on the left, never as a number of dB."""
    values = np.asarray(psnrs, dtype=float)
    values = values[np.isfinite(values)]
    fig, (ax_fail, ax) = plt.subplots(
        1, 2, figsize=size, sharey=True, gridspec_kw={"width_ratios": [1, 6], "wspace": 0.05}
    )
    ax_fail.bar([0], [diverged], width=0.6, color=FAIL_COLOR)
    ax_fail.set_xticks([0], ["diverged"])
    ax_fail.set_xlim(-0.6, 0.6)
    ax_fail.set_ylabel("seeds")
    ax_fail.grid(True, axis="y", alpha=0.3)
    top = max(60.0, float(values.max()) + 2) if values.size else 60.0
    ax.hist(values, bins=bins, range=(0.0, top), color=RECON_COLOR)
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
    threshold: float | None = 30.0,
    cut: float | None = None,
    labels: Sequence[str] | None = None,
    title: str = "Does an early number predict the outcome?",
    size: tuple[float, float] = (9.0, 5.0),
) -> plt.Figure:
    """Final PSNR of each run against an early number (log x-axis), e.g. the first-step loss.

    Runs that produced an image are dots; ``diverged`` runs have no PSNR and are drawn as red
    crosses in a band below the axis. A dashed line marks the success ``threshold`` (dB) and
    a dotted one an optional ``cut`` on x; ``labels`` (e.g. seeds) annotate the points."""
    from matplotlib import ticker

    xs = np.asarray(x, dtype=float)
    ys = np.asarray(psnrs, dtype=float)
    failed = np.asarray(diverged, dtype=bool) | ~np.isfinite(ys)
    fig, ax = plt.subplots(figsize=size)
    finite = ys[~failed]
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
    top = max(60.0, float(finite.max()) + 3) if finite.size else 60.0
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


def strength_panels(
    panels: Mapping[str, Sequence[tuple[float, Sequence[float]]]],
    ylabel: str = "PSNR (dB)",
    threshold: float | None = 30.0,
    xlog: Mapping[str, bool] | None = None,
    xlabels: Mapping[str, str] | None = None,
    marks: Mapping[str, tuple[float, str]] | None = None,
    size: tuple[float, float] = (5.6, 4.4),
) -> plt.Figure:
    """A score against defence strength, one panel per defence: every seed as a dot, the
    median as a line, a dashed line at ``threshold`` (the success mark) and, per panel, an
    optional vertical mark ``(x, text)`` (e.g. the paper's threshold). Each panel is a list of
    ``(strength, [score per seed])``; non-finite scores are drawn at the bottom as crosses."""
    fig, axes = plt.subplots(1, len(panels), figsize=(size[0] * len(panels), size[1]), squeeze=False)
    for i, (ax, (title, curve)) in enumerate(zip(axes[0], panels.items())):
        curve = sorted(curve, key=lambda point: point[0])
        xs = np.asarray([x for x, _ in curve], dtype=float)
        color = SEED_COLORS[i % len(SEED_COLORS)]
        medians = []
        for x, values in curve:
            values = np.asarray(values, dtype=float)
            finite = values[np.isfinite(values)]
            ax.scatter(np.full(len(finite), x), finite, color=color, alpha=0.6, s=45, zorder=3)
            if len(finite) < len(values):
                ax.scatter([x] * (len(values) - len(finite)), [0] * (len(values) - len(finite)), marker="x",
                           color=FAIL_COLOR, s=60, zorder=3)
            medians.append(np.median(np.where(np.isfinite(values), values, 0.0)))
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


def image_rows(
    rows: Sequence[tuple[str, Sequence[torch.Tensor], Sequence[str], str | None]],
    size: float = 2.0,
) -> plt.Figure:
    """Rows of images, each ``(row name, images, titles, frame colour)``; the row name goes on
    the left (e.g. truths in green over their reconstructions in purple)."""
    columns = max(len(images) for _, images, _, _ in rows)
    fig, axes = plt.subplots(len(rows), columns, figsize=(size * columns + 1.2, (size + 0.6) * len(rows)), squeeze=False)
    for r, (name, images, titles, color) in enumerate(rows):
        for c in range(columns):
            ax = axes[r][c]
            if c < len(images):
                show_image(ax, images[c], titles[c] if titles else "", color)
            else:
                ax.axis("off")
        axes[r][0].set_ylabel(name, fontsize=14)
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


def recovered_vs_true(
    pairs: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    size: float = 4.2,
    limits: tuple[float, float] | None = None,
) -> plt.Figure:
    """One scatter panel per name: recovered values (y) against the true ones (x), with the
    diagonal y = x where a perfect recovery lies and the largest error in the title."""
    fig, axes = plt.subplots(1, len(pairs), figsize=(size * len(pairs), size + 0.4), squeeze=False)
    for ax, (name, (truth, recovered)) in zip(axes[0], pairs.items()):
        x = np.asarray(torch.as_tensor(truth).detach().cpu().double().flatten())
        y = np.asarray(torch.as_tensor(recovered).detach().cpu().double().flatten())
        low, high = limits if limits else (min(x.min(), y.min()), max(x.max(), y.max()))
        ax.plot([low, high], [low, high], color="grey", lw=1.2, ls="--", zorder=1)
        ax.scatter(x, y, s=6, color=RECON_COLOR, alpha=0.5, zorder=2)
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)
        ax.set_aspect("equal")
        ax.set_xlabel("true")
        ax.set_ylabel("recovered")
        ax.set_title(f"{name}: {x.size:,} values\nmax error {np.abs(y - x).max():.1e}")
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def recipe_bars(
    summaries: Sequence,
    size: tuple[float, float] = (13.0, 4.6),
) -> plt.Figure:
    """Two panels, one bar per recipe (from :func:`helpers.sweep.summarise`): the success rate
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
    left.set_title("PSNR ≥ 30 dB (95 % interval)")
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


def log_x_panels(
    x: Sequence[float],
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    xlabel: str = "noise standard deviation",
    ylabels: Sequence[str] | None = None,
    log_y: Sequence[bool] | None = None,
    threshold: float | None = None,
    size: tuple[float, float] = (6.5, 4.5),
) -> plt.Figure:
    """Curves with markers against a logarithmic ``x`` (e.g. a noise level), one panel per title,
    one line per label; ``log_y`` picks which panels get a log y-axis; ``threshold`` draws a
    dashed line in the first panel (e.g. the 30 dB success mark)."""
    xs = np.asarray(x, dtype=float)
    fig, axes = plt.subplots(1, len(panels), figsize=(size[0] * len(panels), size[1]), squeeze=False)
    for k, (ax, (title, curves)) in enumerate(zip(axes[0], panels.items())):
        for i, (label, ys) in enumerate(curves.items()):
            ax.plot(xs, np.asarray(ys, dtype=float), "o-", label=label, color=SEED_COLORS[i % len(SEED_COLORS)], lw=2.5, ms=7)
        ax.set_xscale("log")
        if log_y and log_y[k]:
            ax.set_yscale("log")
        if threshold is not None and k == 0:
            ax.axhline(threshold, color="grey", ls="--", lw=1.5)
        ax.set_xlabel(xlabel)
        if ylabels:
            ax.set_ylabel(ylabels[k])
        ax.set_title(title)
        ax.grid(True, which="major", alpha=0.3)
        if len(curves) > 1:
            ax.legend()
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
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def trace_panels(
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    xlabel: str = "L-BFGS iteration",
    log_y: Sequence[bool] | None = None,
    every: int | None = None,
    size: tuple[float, float] = (5.8, 4.4),
) -> plt.Figure:
    """Per-step traces side by side: one panel per title, one line per label (e.g. one per
    seed), all against the step index; ``log_y`` picks the panels with a log y-axis and
    ``every`` draws a dotted line every that many steps (e.g. where an outer step ends)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(size[0] * len(panels), size[1]), squeeze=False)
    for k, (ax, (title, curves)) in enumerate(zip(axes[0], panels.items())):
        for i, (label, ys) in enumerate(curves.items()):
            values = np.asarray(ys, dtype=float)
            ax.plot(np.arange(len(values)), values, label=label, color=SEED_COLORS[i % len(SEED_COLORS)], lw=2.5)
        if log_y and log_y[k]:
            ax.set_yscale("log")
        if every:
            longest = max(len(ys) for ys in curves.values())
            for x in range(every, longest, every):
                ax.axvline(x, color="grey", ls=":", lw=1.2)
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        ax.grid(True, which="major", alpha=0.3)
        if k == 0 and len(curves) > 1:
            ax.legend()
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


def verdict_grid(
    rows: Mapping[str, Sequence[str]],
    seeds: Sequence[int],
    title: str = "",
    colours: Mapping[str, str] | None = None,
) -> plt.Figure:
    """One row per setting, one square per seed, coloured by that run's verdict (e.g.
    ``"success"``, ``"failure"``, ``"diverged"``); a column whose squares differ is a seed
    whose verdict depends on the setting, and is marked below the grid."""
    colours = dict(colours or {"success": RECON_COLOR, "failure": "#bdbdbd", "diverged": FAIL_COLOR})
    names = list(rows)
    fig, ax = plt.subplots(figsize=(max(8.0, 0.32 * len(seeds) + 2.5), 0.75 * len(names) + 2.2))
    for r, name in enumerate(names):
        for c, verdict in enumerate(rows[name]):
            ax.add_patch(plt.Rectangle((c, r), 0.92, 0.92, color=colours[verdict]))
    for c in range(len(seeds)):
        if len({rows[name][c] for name in names}) > 1:
            ax.plot(c + 0.46, -0.35, marker="^", color="black", markersize=9, clip_on=False)
    ax.set_xlim(0, len(seeds))
    ax.set_ylim(-0.6, len(names))
    ax.invert_yaxis()
    ax.set_yticks([r + 0.46 for r in range(len(names))], names)
    step = max(1, len(seeds) // 10)
    ax.set_xticks([c + 0.46 for c in range(0, len(seeds), step)], [str(seeds[c]) for c in range(0, len(seeds), step)])
    ax.set_xlabel("seed (▲: the verdict depends on the arithmetic)")
    ax.tick_params(length=0)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour) for colour in colours.values()]
    ax.legend(handles, list(colours), loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_title(title)
    fig.tight_layout()
    return fig
