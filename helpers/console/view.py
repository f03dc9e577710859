"""A frame as a picture: the private image, the dummy, the matching loss on a log axis.

One matplotlib figure (no pyplot: it is drawn off screen, from a worker thread) whose
artists are updated in place, so a frame costs one redraw, not a new figure. The same
picture is the live view and the static one a page without a kernel shows.
"""

from __future__ import annotations

import io
import math
import threading

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..data import CIFAR100_CLASSES
from ..plots import FAIL_COLOR, RECON_COLOR, SEED_COLORS, STYLE, TRUE_COLOR
from ..plots.style import to_picture
from .stream import RUNNING, STOPPED, Frame

STATUS_COLOR = {RUNNING: "#2166ac", STOPPED: "#555555", "converged": TRUE_COLOR, "stalled": "#8c510a",
                "diverged": FAIL_COLOR}


def metrics_line(frame: Frame) -> str:
    """PSNR, SSIM and the label of a frame, as one short line."""
    if frame.dummy is None:
        return "no image" if frame.done else "no dummy yet"
    psnr = "inf" if frame.psnr == math.inf else f"{frame.psnr:.1f}"
    label = "?" if frame.label is None else str(frame.label)
    return f"PSNR {psnr} dB · SSIM {frame.ssim:.2f} · label {label}"


def status_line(frame: Frame) -> str:
    """What the run is doing, or how it ended and why."""
    where = f"step {frame.step}/{frame.steps}"
    if frame.stored:
        return f"{frame.status} ({frame.reason}) · stored result, not rerun"
    if frame.status == RUNNING:
        losses = [v for v in frame.losses if math.isfinite(v)]
        loss = f" · loss {losses[-1]:.3g}" if losses else ""
        return f"running · {where}{loss} · {frame.seconds:.1f} s"
    if frame.status == STOPPED:
        return f"stopped at {where}"
    return f"{frame.status} after {frame.step} steps, {frame.seconds:.1f} s: {frame.reason}"


class ConsoleView:
    """Draws frames into one reusable figure and returns them as PNG bytes."""

    def __init__(self, width: float = 12.0, height: float = 4.6, dpi: int = 80) -> None:
        self._lock = threading.Lock()
        # font sizes are set on each artist, not through pyplot's global rcParams: this runs in a worker thread
        self.figure = Figure(figsize=(width, height), dpi=dpi)
        FigureCanvasAgg(self.figure)
        grid = self.figure.add_gridspec(1, 3, width_ratios=[1, 1, 1.6], left=0.03, right=0.98, top=0.76,
                                        bottom=0.17, wspace=0.25)
        self.truth_ax = self.figure.add_subplot(grid[0])
        self.dummy_ax = self.figure.add_subplot(grid[1])
        self.loss_ax = self.figure.add_subplot(grid[2])
        blank = np.ones((32, 32, 3))
        self.truth_art = self.truth_ax.imshow(blank, interpolation="nearest")
        self.dummy_art = self.dummy_ax.imshow(blank, interpolation="nearest")
        for ax, color in ((self.truth_ax, TRUE_COLOR), (self.dummy_ax, RECON_COLOR)):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color(color)
                spine.set_linewidth(4)
        self.dummy_note = self.dummy_ax.text(0.5, 0.5, "", ha="center", va="center", color=FAIL_COLOR,
                                             transform=self.dummy_ax.transAxes, fontsize=15)
        (self.loss_line,) = self.loss_ax.plot([], [], color=SEED_COLORS[0], lw=2.5)
        self.loss_ax.set_yscale("log")
        self.loss_ax.set_xlabel("outer step", fontsize=STYLE["axes.labelsize"])
        self.loss_ax.set_ylabel("matching loss", fontsize=STYLE["axes.labelsize"])
        self.loss_ax.tick_params(labelsize=STYLE["xtick.labelsize"])
        self.loss_ax.grid(True, alpha=0.3)
        self.loss_ax.spines["top"].set_visible(False)
        self.loss_ax.spines["right"].set_visible(False)
        self.title = self.figure.suptitle("", fontsize=16, x=0.03, ha="left")
        self.status = self.figure.text(0.03, 0.865, "", fontsize=14, ha="left")

    def render(self, frame: Frame) -> bytes:
        """The frame drawn, as PNG bytes."""
        with self._lock:
            example = frame.request.example
            self.truth_art.set_data(example.image.permute(1, 2, 0).numpy())
            self.truth_ax.set_title(f"private: {CIFAR100_CLASSES[example.label]} ({example.label})", color=TRUE_COLOR,
                                    fontsize=14)
            picture = None if frame.dummy is None else to_picture(frame.dummy)
            self.dummy_art.set_visible(picture is not None)
            if picture is not None:
                self.dummy_art.set_data(picture)
                self.dummy_note.set_text("")
            else:
                note = self._placeholder(frame)
                self.dummy_note.set_text(note)
                self.dummy_note.set_color(FAIL_COLOR if note.startswith("diverged") else "#555555")
            self.dummy_ax.set_title(metrics_line(frame), color=RECON_COLOR, fontsize=14)
            self._draw_losses(frame)
            self.title.set_text(frame.request.describe())
            self.status.set_text(status_line(frame))
            self.status.set_color(STATUS_COLOR.get(frame.status, "black"))
            buffer = io.BytesIO()
            self.figure.savefig(buffer, format="png")
            return buffer.getvalue()

    @staticmethod
    def _placeholder(frame: Frame) -> str:
        if frame.status == "diverged":
            return "diverged\n(not an image)"
        if frame.dummy is not None:  # a dummy that is no picture: NaN or far outside [0, 1]
            return "diverged\n(not an image)"
        return "starting…" if frame.status == RUNNING else "no image"

    def _draw_losses(self, frame: Frame) -> None:
        values = np.asarray(frame.losses, dtype=float)
        steps = np.arange(len(values))  # one loss per outer step from the start
        finite = np.isfinite(values) & (values > 0)
        self.loss_line.set_data(steps[finite], values[finite])
        ax = self.loss_ax
        ax.set_xlim(0, max(frame.steps, frame.step, 1))
        if finite.any():
            low, high = float(values[finite].min()), float(values[finite].max())
            ax.set_ylim(low / 3, high * 3)
        ax.set_title("matching loss" if finite.any() else "matching loss (none yet)", fontsize=14)
