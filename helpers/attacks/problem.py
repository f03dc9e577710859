"""What every attack is given: only what the attacker has (the model, the shared gradient,
a starting dummy from the seed) and how long to search."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import torch
from torch import nn

from ..gradients import Gradient
from .recipes import Recipe

@dataclass(frozen=True)
class Progress:
    """Where a running attack is, as its ``on_step`` hook sees it."""

    step: int  # outer steps taken (0: the start)
    loss: float  # the newest matching loss computed (NaN before the first evaluation)
    loss_step: int  # the step whose dummy that loss belongs to: torch.optim.LBFGS reports the loss its
    # step began from, so the reference's search is one step behind the image (loss_step = step - 1)
    image: torch.Tensor  # the leading dummy [3, 32, 32] (not a copy: clone it to keep it); with restarts,
    # the restart whose matching loss is lowest so far (the final winner may differ)
    label: int  # the leading dummy's label (inferred, or the arg-max of the optimised soft label)


StepHook = Callable[[Progress], None]
Checkpoint = Callable[[], None]  # raises to stop the attack


@dataclass(frozen=True)
class Problem:
    """One attack's input. ``dummy_image`` [B, 3, 32, 32] and ``dummy_label`` [B, classes]
    (logits, or ``None`` where the recipe infers the label) are the start; ``steps`` outer
    steps; the dummies of the steps in ``keep`` become snapshots; ``on_step(progress)`` at
    the start (step 0) and after each outer step of a search (a :class:`Progress`; the closed
    form has no steps and reports none);
    ``checkpoint()`` before every matching-loss evaluation: an exception raised there
    abandons the attack (how a live demo stops a run at once)."""

    model: nn.Module
    target: Gradient
    dummy_image: torch.Tensor
    dummy_label: torch.Tensor | None
    recipe: Recipe
    steps: int
    keep: frozenset[int] = field(default_factory=frozenset)
    on_step: StepHook | None = None
    checkpoint: Checkpoint | None = None

    def check(self) -> None:
        """Give the caller its chance to abandon the attack (see ``checkpoint``)."""
        if self.checkpoint is not None:
            self.checkpoint()

    def starting_from(self, image: torch.Tensor) -> "Problem":
        """The same problem searched from ``image`` (no dummy label)."""
        return replace(self, dummy_image=image, dummy_label=None)
