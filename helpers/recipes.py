"""Attack recipes as data: what differs between DLG, iDLG and sturdier attacks is a handful
of settings, so each recipe is a value and the attack loop reads it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal


@dataclass(frozen=True)
class Recipe:
    """Settings of one gradient-matching attack."""

    name: str
    description: str
    label: Literal["joint", "infer"] = "joint"  # optimise softmax(dummy logits), or read it off the gradient
    loss: Literal["l2", "cosine"] = "l2"  # matching loss between dummy and true gradient
    iterations: int = 300  # outer L-BFGS steps
    lr: float = 1.0
    max_iter: int = 20  # L-BFGS inner iterations per outer step
    history_size: int = 100
    line_search: str | None = None  # None (the reference) or "strong_wolfe"
    tolerance: float = 0.0  # stop early once the matching loss is at or below this (0: never)
    converged_below: float = 1e-4  # matching loss under which a run counts as converged
    restarts: int = 1

    def with_(self, **changes) -> "Recipe":
        """A copy with some settings changed (e.g. fewer iterations)."""
        return replace(self, **changes)


DLG = Recipe(
    name="dlg",
    description="Deep Leakage from Gradients as in the reference code: L-BFGS with every default "
    "(no line search), 300 steps, squared gradient difference, label optimised through softmax",
)

IDLG = Recipe(
    name="idlg",
    description="Improved DLG: the label is read off the last layer's gradient (iDLG), "
    "only the image is optimised; otherwise as dlg",
    label="infer",
)

RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in (DLG, IDLG)}


def get_recipe(recipe: str | Recipe) -> Recipe:
    """A recipe by name (or the recipe itself)."""
    if isinstance(recipe, Recipe):
        return recipe
    try:
        return RECIPES[recipe]
    except KeyError:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of: {', '.join(RECIPES)}") from None
