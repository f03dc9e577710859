"""Solve, then polish: the closed form as an attack recipe.

The closed-form image (:func:`.closed_form.recover`) is judged, like every recipe's output,
by its matching loss, and flagged diverged when a layer's system cannot be trusted. With
``iterations > 0`` it is then the start of that many steps of :func:`.search.search`
(``torch.optim.LBFGS`` with the recipe's line search) on the matching loss.
"""

from __future__ import annotations

import math
import time
import torch

from ..gradients import gradient_distance, model_gradient, model_num_classes, one_hot
from .closed_form import recover
from .problem import Problem
from .result import DIVERGED, Result, judge
from .search import search


def solve_then_polish(problem: Problem) -> Result:
    """The closed-form attack; the dummy is used only for the image's shape."""
    model, target, recipe = problem.model, problem.target, problem.recipe
    start = time.perf_counter()
    recovery = recover(model, target, tuple(problem.dummy_image[:1].shape), tolerance=recipe.solver_tolerance,
                       checkpoint=problem.checkpoint)
    parameter = next(model.parameters())
    image = recovery.image.to(dtype=parameter.dtype, device=parameter.device)
    extras = {"layers": recovery.layers}
    if not recovery.ok:
        return Result(
            recipe=recipe.name, image=image, label=[recovery.label], losses=[math.nan], snapshots={},
            iterations=0, evals=0, seconds=time.perf_counter() - start, status=DIVERGED,
            reason=recovery.reason, extras=extras,
        )
    if problem.steps > 0:
        polished = search(problem.starting_from(image))
        polished.seconds = time.perf_counter() - start
        polished.extras.update(extras)
        return polished
    problem.check()
    soft = one_hot([recovery.label], model_num_classes(model)).to(parameter.device)
    with torch.enable_grad():
        loss = float(gradient_distance(model_gradient(model, image, soft), target, recipe.loss))
    status, reason = judge([loss], image, recipe.converged_below)
    return Result(
        recipe=recipe.name,
        image=image,
        label=[recovery.label],
        losses=[loss],
        snapshots={0: image[0].clone()} if 0 in problem.keep else {},
        iterations=0,
        evals=1,
        seconds=time.perf_counter() - start,
        status=status,
        reason=reason,
        extras=extras,
    )
