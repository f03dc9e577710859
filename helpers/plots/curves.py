"""Curves against a step or a strength: losses, PSNR, activation functions, traces."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..metrics import SUCCESS_PSNR
from .style import label_axes, SEED_COLORS


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
        label_axes(ax, xlabel, title=title, legend=True)
    fig.tight_layout()
    return fig


def psnr_curves(
    curves: Mapping[str, Mapping[int, float]],
    threshold: float | None = SUCCESS_PSNR,
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
