"""From a recipe to its attack: one entry per optimiser, so a new attack is a new entry.

Every attack takes a :class:`.problem.Problem` and returns a :class:`.result.Result`.
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import nn

from ..gradients import Gradient
from .polish import solve_then_polish
from .problem import Checkpoint, Problem, StepHook
from .recipes import HONOURED, Recipe, get_recipe
from .restarts import batched_restarts
from .result import Result, kept_steps
from .search import search
from .signed_adam import signed_adam

Attack = Callable[[Problem], Result]

ATTACKS: dict[str, Attack] = {
    "torch-lbfgs": search,
    "batched-lbfgs": batched_restarts,
    "signed-adam": signed_adam,
    "closed-form": solve_then_polish,
}
assert set(ATTACKS) == set(HONOURED), "every optimiser a recipe may name needs an attack"


def run_attack(
    model: nn.Module,
    target: Gradient,
    dummy_image: torch.Tensor,
    dummy_label: torch.Tensor | None = None,
    recipe: str | Recipe = "dlg",
    *,
    iterations: int | None = None,
    snapshot_steps: Iterable[int] | None = None,
    on_step: StepHook | None = None,
    checkpoint: Checkpoint | None = None,
) -> Result:
    """Recover the private input behind ``target`` by the attack ``recipe`` names.

    The attack sees only what the attacker has: the model, the shared gradient and a
    starting dummy (``dummy_image`` [B, 3, 32, 32], ``dummy_label`` [B, classes] logits, as
    drawn by :func:`helpers.model.seeded_setup`). ``iterations`` overrides the recipe's
    outer steps; ``snapshot_steps`` are the outer steps whose dummy is kept (default: every
    10th and the last); ``on_step(progress)`` is called at the start (step 0) and after each outer
    step (a :class:`.problem.Progress`: step, loss, leading dummy and its label); ``checkpoint()`` before every matching-loss evaluation (raise
    there to abandon the run: nothing is returned)."""
    recipe = get_recipe(recipe)
    steps = recipe.iterations if iterations is None else iterations
    if steps < 0:
        raise ValueError(f"iterations must be >= 0, got {steps}")
    problem = Problem(model, target, dummy_image, dummy_label, recipe, steps, frozenset(kept_steps(steps, snapshot_steps)),
                      on_step, checkpoint)
    return ATTACKS[recipe.optimiser](problem)
