"""Attack recipes as data: what differs between DLG, iDLG and sturdier attacks is a handful
of settings, so each recipe is a value and the attack reads it.

A recipe is checked when it is made: a setting its attack cannot honour (an unknown label
mode, restarts for an optimiser that has none, a learning rate for one that picks its own
step) is refused with a message, never silently ignored. :data:`HONOURED` says which
settings each optimiser reads; every other setting must keep its default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Literal

import torch

CHOICES = {
    "label": ("joint", "infer"),
    "loss": ("l2", "cosine"),
    "line_search": (None, "strong_wolfe"),
    "optimiser": ("torch-lbfgs", "batched-lbfgs", "signed-adam", "closed-form"),
    "init": ("randn", "pixel-range"),
}

_COMMON = {"name", "description", "optimiser", "loss", "iterations", "converged_below"}
HONOURED: dict[str, frozenset[str]] = {
    # torch.optim.LBFGS on the dummy (and its label): the reference's loop
    "torch-lbfgs": frozenset(_COMMON | {"label", "lr", "max_iter", "history_size", "line_search", "tolerance", "init", "init_scale"}),
    # batched restarts: own backtracking line search and step size, image only
    "batched-lbfgs": frozenset(_COMMON | {"label", "max_iter", "history_size", "tolerance", "restarts", "init", "init_scale"}),
    # Inverting Gradients: Adam on the sign of the objective's gradient, restarts batched, image kept in [0, 1]
    "signed-adam": frozenset(_COMMON | {"label", "lr", "restarts", "init", "init_scale", "tv", "features"}),
    # solve, then polish ``iterations`` steps with torch.optim.LBFGS: no dummy, no restarts
    "closed-form": frozenset(_COMMON | {"label", "lr", "max_iter", "history_size", "line_search", "tolerance", "solver_tolerance"}),
}
NEEDS_INFERRED_LABEL = ("batched-lbfgs", "signed-adam", "closed-form")


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
    optimiser: Literal["torch-lbfgs", "batched-lbfgs", "signed-adam", "closed-form"] = "torch-lbfgs"
    init: Literal["randn", "pixel-range"] = "randn"  # the seed's randn dummy as is, or 0.5 + init_scale * it
    init_scale: float = 0.1
    solver_tolerance: float = 1e-7  # closed form: LSQR's relative stopping tolerance per layer
    tv: float = 0.0  # weight of the total-variation prior on the image (signed Adam only)
    features: float = 0.0  # weight of matching the last layer's input, read off the gradient (signed Adam only)

    def __post_init__(self) -> None:
        problem = recipe_problem(self)
        if problem:
            raise ValueError(f"recipe {self.name!r}: {problem}")

    def with_(self, **changes) -> "Recipe":
        """A copy with some settings changed (e.g. fewer iterations), checked like any recipe."""
        return replace(self, **changes)


def recipe_problem(recipe: Recipe) -> str:
    """Why ``recipe`` cannot be run as written ("" if it can)."""
    for key, allowed in CHOICES.items():
        if getattr(recipe, key) not in allowed:
            return f"{key}={getattr(recipe, key)!r} is not one of {', '.join(map(repr, allowed))}"
    whole = {"iterations": 0, "max_iter": 1, "history_size": 1, "restarts": 1}
    for key, low in whole.items():
        value = getattr(recipe, key)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            return f"{key} must be a whole number >= {low}, got {value!r}"
    for key in ("lr", "init_scale", "solver_tolerance"):
        if not (math.isfinite(getattr(recipe, key)) and getattr(recipe, key) > 0):
            return f"{key} must be a finite number > 0, got {getattr(recipe, key)!r}"
    for key in ("tolerance", "converged_below", "tv", "features"):
        if not (math.isfinite(getattr(recipe, key)) and getattr(recipe, key) >= 0):
            return f"{key} must be a finite number >= 0, got {getattr(recipe, key)!r}"
    if recipe.optimiser in NEEDS_INFERRED_LABEL and recipe.label != "infer":
        return f"optimiser {recipe.optimiser!r} recovers the image only: it needs label='infer'"
    honoured = HONOURED[recipe.optimiser]
    if recipe.init == "randn":
        honoured = honoured - {"init_scale"}
    for f in fields(Recipe):
        if f.name not in honoured and getattr(recipe, f.name) != f.default:
            return (f"optimiser {recipe.optimiser!r} does not use {f.name} (got {getattr(recipe, f.name)!r}, "
                    f"it would be ignored); leave it at {f.default!r}")
    return ""


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

IG = Recipe(
    name="ig",
    description="Inverting Gradients (Geiping et al. 2020): cosine distance between the gradients plus "
    "total variation, Adam on the sign of the objective's gradient (learning rate cut tenfold at 3/8, 5/8 "
    "and 7/8 of the steps), the image kept in [0, 1], label from the gradient, restarts run together and "
    "the lowest final matching loss wins; plus the cosine distance between the dummy's last-layer input and "
    "the one the gradient gives by division",
    label="infer",
    loss="cosine",
    optimiser="signed-adam",
    init="pixel-range",
    lr=0.1,
    iterations=4000,
    restarts=2,
    tv=1e-2,
    features=1.0,
)

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

RECIPES: dict[str, Recipe] = {r.name: r for r in (DLG, IDLG, ROBUST, IG, CLOSED_FORM, CLOSED_FORM_LBFGS)}


def get_recipe(recipe: str | Recipe) -> Recipe:
    """A recipe by name (or the recipe itself)."""
    if isinstance(recipe, Recipe):
        return recipe
    try:
        return RECIPES[recipe]
    except KeyError:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of: {', '.join(RECIPES)}") from None


def initial_dummy(recipe: Recipe, dummy_image: torch.Tensor) -> torch.Tensor:
    """Where the search starts from the seed's ``randn`` dummy: as is (``init="randn"``), or
    squeezed into the pixel range as ``0.5 + init_scale * dummy`` (``init="pixel-range"``)."""
    start = dummy_image.detach().clone()
    return 0.5 + recipe.init_scale * start if recipe.init == "pixel-range" else start
