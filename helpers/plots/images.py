"""Images: the private truth and what the attacker recovers, side by side."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .style import TRUE_COLOR, RECON_COLOR, show_image


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


def trial_title(trial: Any) -> str:
    """A short caption for a scored attack: seed, status and PSNR."""
    r, m = trial.result, trial.metrics
    if r.status == "diverged":
        return f"seed {trial.seed}\ndiverged"
    return f"seed {trial.seed}\n{r.status}, {m.psnr:.1f} dB"


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
