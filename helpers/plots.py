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
    if not torch.isfinite(image).all():
        return None
    return image.clamp(0, 1).permute(1, 2, 0).numpy()


def show_image(ax: plt.Axes, image: torch.Tensor, title: str = "", color: str | None = None) -> None:
    """One image on ``ax``, framed in ``color``; a cross and 'not an image' if non-finite."""
    picture = to_picture(image)
    ax.set_xticks([])
    ax.set_yticks([])
    if picture is None:
        ax.set_facecolor("#eeeeee")
        ax.text(0.5, 0.5, "diverged\n(NaN/inf)", ha="center", va="center", color=FAIL_COLOR, transform=ax.transAxes)
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
