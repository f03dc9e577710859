"""The attacks: recover a private image from its shared gradient.

    recipes (what to run) -> registry (which attack) -> search | restarts | signed Adam | closed form
                                                    -> result (judged by the matching loss)
"""

from .problem import Checkpoint, Progress, StepHook
from .recipes import CLOSED_FORM, CLOSED_FORM_LBFGS, DLG, IDLG, IG, RECIPES, ROBUST, Recipe, get_recipe
from .registry import ATTACKS, run_attack
from .result import CONVERGED, DIVERGED, STALLED, STATUSES, Result, judge

__all__ = [
    "ATTACKS", "CLOSED_FORM", "CLOSED_FORM_LBFGS", "CONVERGED", "Checkpoint", "DIVERGED", "DLG", "IDLG", "IG",
    "Progress", "RECIPES", "ROBUST", "Recipe", "Result", "STALLED", "STATUSES", "StepHook", "get_recipe",
    "judge", "run_attack",
]
