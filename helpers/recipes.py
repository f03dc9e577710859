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
    restarts: int = 1  # independent starts, run batched; the lowest final matching loss wins
    optimiser: Literal["torch-lbfgs", "batched-lbfgs", "closed-form"] = "torch-lbfgs"  # see helpers.lbfgs, helpers.closed_form
    init: Literal["randn", "pixel-range"] = "randn"  # the seed's randn dummy as is, or 0.5 + init_scale * it
    init_scale: float = 0.1
    solver_tolerance: float = 1e-7  # closed form: LSQR's relative stopping tolerance per layer

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

ROBUST = Recipe(
    name="robust",
    description="A sturdier, faster attack: label from the gradient (iDLG), the seed's dummy squeezed "
    "into the pixel range (0.5 + 0.1 * randn), restarts advanced together by a batched L-BFGS "
    "(own long curvature history and backtracking line search per restart), early stop at a "
    "matching-loss tolerance, winner chosen by the lowest matching loss",
    label="infer",
    optimiser="batched-lbfgs",
    init="pixel-range",
    restarts=2,
    iterations=300,  # outer steps of max_iter L-BFGS iterations each: a cap, the tolerance stops it
    max_iter=10,
    history_size=400,
    tolerance=2e-5,
)

RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in (DLG, IDLG, ROBUST)}


def get_recipe(recipe: str | Recipe) -> Recipe:
    """A recipe by name (or the recipe itself)."""
    if isinstance(recipe, Recipe):
        return recipe
    try:
        return RECIPES[recipe]
    except KeyError:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of: {', '.join(RECIPES)}") from None


CLOSED_FORM = Recipe(
    name="closed-form",
    description="Solve instead of search (R-GAP): the label and the last layer's input by division, then "
    "each convolution's input by weighted linear least squares (LSQR), top down; no dummy, no seed luck",
    label="infer",
    optimiser="closed-form",
    iterations=0,  # no search; closed-form+lbfgs polishes for a few steps
)

CLOSED_FORM_LBFGS = CLOSED_FORM.with_(
    name="closed-form+lbfgs",
    description="The closed-form image as the start of a short strong-Wolfe L-BFGS polish of the matching loss",
    iterations=10,
    line_search="strong_wolfe",
)

RECIPES.update({recipe.name: recipe for recipe in (CLOSED_FORM, CLOSED_FORM_LBFGS)})
