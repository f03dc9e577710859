"""The look every figure shares, readable from the back of a seminar room.

Images are drawn with ``interpolation="nearest"`` so 32x32 pixels stay pixels; the truth is
framed in one colour and reconstructions in another throughout the series; a diverged
dummy is never drawn as if it were an image.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..data import PIXEL_LIMIT

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


def label_axes(ax: plt.Axes, xlabel: str = "", ylabel: str = "", title: str = "", legend: bool = False) -> None:
    """Axis labels and title (empty ones left out), the series' light grid, and a legend."""
    for setter, text in ((ax.set_xlabel, xlabel), (ax.set_ylabel, ylabel), (ax.set_title, title)):
        if text:
            setter(text)
    ax.grid(True, alpha=0.3)
    if legend:
        ax.legend()
