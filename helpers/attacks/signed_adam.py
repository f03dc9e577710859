"""Inverting Gradients (Geiping, Bauermeister, Dröge and Moeller, 2020): match the shared
gradient by its *direction* (cosine distance), add a total-variation prior on the image, and
move the dummy with Adam fed the *sign* of the objective's gradient, the image kept in
[0, 1]. The learning rate is cut tenfold at 3/8, 5/8 and 7/8 of the steps. ``recipe.restarts``
dummies run together (Adam works entry by entry, so the rows never interact); the one with
the lowest final matching loss (without the prior) wins. Nothing else is consulted."""

from __future__ import annotations

import math
import time

import torch

from ..gradients import infer_label, model_num_classes, one_hot
from .batched_loss import batched_matching_loss
from .problem import Problem, Progress
from .recipes import initial_dummy
from .restarts import leading_row, pick_winner, restart_dummies
from .result import Result

DECAY_AT = (3 / 8, 5 / 8, 7 / 8)  # fractions of the steps at which the learning rate falls tenfold


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Per row of ``x`` [n, 3, H, W]: the mean absolute difference between neighbouring pixels,
    across and down (the anisotropic total variation Geiping et al. use as a prior)."""
    across = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(1)
    down = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).mean(1)
    return across + down


def signed_adam(problem: Problem) -> Result:
    """The Inverting Gradients attack, one dummy row per restart (the label is read off the gradient)."""
    model, recipe, steps, on_step = problem.model, problem.recipe, problem.steps, problem.on_step
    device = next(model.parameters()).device
    target = [g.detach().to(device) for g in problem.target]
    label_index = infer_label(target)
    losses_of = batched_matching_loss(model, target, one_hot([label_index], model_num_classes(model)).to(device),
                                      recipe.loss)
    x = initial_dummy(recipe, restart_dummies(problem.dummy_image, recipe.restarts)).to(device).clamp(0, 1)
    x.requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=recipe.lr)
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimiser, [max(1, round(f * steps)) for f in DECAY_AT], 0.1)
    history: list[list[float]] = [[] for _ in range(recipe.restarts)]
    snapshots: dict[int, torch.Tensor] = {0: x.detach().clone()} if 0 in problem.keep else {}

    def report(step: int, matching: torch.Tensor) -> None:
        best = leading_row(matching)  # the loss of the dummy this step started from: one step behind
        on_step(Progress(step, float(matching[best]), step - 1, x.detach()[best], label_index))

    start = time.perf_counter()
    if on_step is not None:
        on_step(Progress(0, math.nan, -1, x.detach()[0], label_index))
    for step in range(1, steps + 1):
        problem.check()
        matching = losses_of(x)
        objective = matching + recipe.tv * total_variation(x)
        (gradient,) = torch.autograd.grad(objective.sum(), x)
        for row, value in enumerate(matching.detach().tolist()):
            history[row].append(value)  # the loss at the dummy this step starts from
        x.grad = gradient.sign()
        optimiser.step()
        schedule.step()
        with torch.no_grad():
            x.clamp_(0, 1)
        if step in problem.keep:
            snapshots[step] = x.detach().clone()
        if on_step is not None:
            report(step, matching.detach())
    problem.check()
    with torch.no_grad():
        finals = losses_of(x.detach())
    for row, value in enumerate(finals.tolist()):
        history[row].append(value)
    seconds = time.perf_counter() - start
    image = x.detach()
    winner, status, reason, verdicts = pick_winner(history, image, recipe.converged_below)
    return Result(
        recipe=recipe.name,
        image=image[winner : winner + 1].clone(),
        label=[label_index],
        losses=history[winner],
        snapshots={step: rows[winner].clone() for step, rows in snapshots.items()},
        iterations=steps,
        evals=(steps + 1) * recipe.restarts,
        seconds=seconds,
        status=status,
        reason=reason,
        extras={"winner": winner, "restart_losses": finals.tolist(), "restart_status": [v[0] for v in verdicts]},
    )
