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
class Problem:
    """One attack's input. ``dummy_image`` [B, 3, 32, 32] and ``dummy_label`` [B, classes]
    (logits, or ``None`` where the recipe infers the label) are the start; ``steps`` outer
    steps; the dummies of the steps in ``keep`` become snapshots; ``on_step(step, loss)``
    after each outer step."""

    model: nn.Module
    target: Gradient
    dummy_image: torch.Tensor
    dummy_label: torch.Tensor | None
    recipe: Recipe
    steps: int
    keep: frozenset[int] = field(default_factory=frozenset)
    on_step: Callable[[int, float], None] | None = None

    def starting_from(self, image: torch.Tensor) -> "Problem":
        """The same problem searched from ``image`` (no dummy label)."""
        return replace(self, dummy_image=image, dummy_label=None)
