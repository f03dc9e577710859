"""What one attack produced, judged only by what the attacker can see.

An attack never sees the private image, so a :class:`Result` judges itself by the matching
loss alone (:func:`judge`); comparing with the truth is :mod:`helpers.metrics`' job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

import torch

from ..data import PIXEL_LIMIT

CONVERGED, STALLED, DIVERGED = "converged", "stalled", "diverged"
STATUSES = (CONVERGED, STALLED, DIVERGED)
BLOWUP_FACTOR = 1e3  # a final matching loss this many times the starting one has blown up


@dataclass
class Result:
    """One attack's output: reconstruction, recovered label(s), loss curve and verdict."""

    recipe: str
    image: torch.Tensor  # the reconstruction, [B, 3, 32, 32], as optimised (not clipped)
    label: list[int]  # recovered label(s)
    losses: list[float]  # matching loss after k outer steps, k = 0 .. iterations
    snapshots: dict[int, torch.Tensor]  # outer step -> dummy image [3, 32, 32] at that step
    iterations: int  # outer steps taken
    evals: int  # matching-loss evaluations (each one a double backward)
    seconds: float
    status: str  # converged | stalled | diverged
    reason: str  # one line saying why that status
    extras: dict = field(default_factory=dict)

    @property
    def grad_loss(self) -> float:
        """The final matching loss."""
        return self.losses[-1]

    @property
    def first_loss(self) -> float:
        """The matching loss after the first outer step (what the seed blog compares)."""
        return self.losses[min(1, len(self.losses) - 1)]

    @property
    def converged(self) -> bool:
        return self.status == CONVERGED

    @property
    def diverged(self) -> bool:
        return self.status == DIVERGED

    def loss_at(self, step: int) -> float:
        """The matching loss after ``step`` outer steps (the last one if the run stopped earlier)."""
        return self.losses[min(step, len(self.losses) - 1)]


def judge(losses: list[float], image: torch.Tensor, converged_below: float) -> tuple[str, str]:
    """Status and reason of a run from its matching losses and final dummy only."""
    final = losses[-1]
    if not all(math.isfinite(v) for v in losses) or not torch.isfinite(image).all():
        return DIVERGED, "the matching loss or the dummy became NaN/inf"
    if final > BLOWUP_FACTOR * max(losses[0], 1e-12):
        return DIVERGED, f"the matching loss blew up from {losses[0]:.3g} to {final:.3g}"
    worst = float(image.abs().max())
    if worst > PIXEL_LIMIT:
        return DIVERGED, f"dummy pixels reached {worst:.3g}, far outside [0, 1]"
    if final <= converged_below:
        return CONVERGED, f"matching loss {final:.3g} <= {converged_below:g}"
    return STALLED, f"matching loss stuck at {final:.3g} (> {converged_below:g})"


def kept_steps(steps: int, requested: Iterable[int] | None = None) -> set[int]:
    """The outer steps whose dummy a run keeps: ``requested``, or by default every 10th and
    the last, as the reference prints."""
    return set(range(0, steps + 1, 10)) | {steps} if requested is None else set(requested)
