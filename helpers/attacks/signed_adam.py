"""Inverting Gradients (Geiping, Bauermeister, Dröge and Moeller, 2020): match the shared
gradient by its *direction* (cosine distance), add a total-variation prior on the image, and
move the dummy with Adam fed the *sign* of the objective's gradient, the image kept in
[0, 1]. The learning rate is cut tenfold at 3/8, 5/8 and 7/8 of the steps. ``recipe.restarts``
dummies run together (Adam works entry by entry, so the rows never interact); the one with
the lowest final matching loss (without the priors) wins. Nothing else is consulted.

With ``recipe.features`` > 0 the objective also asks the dummy's input to the last linear
layer to point the way the shared gradient says it does: the division of notebook 09
(:func:`.closed_form.last_layer_features`) reads that input off the last layer's gradient
exactly, on a ReLU network as on the Sigmoid one."""

from __future__ import annotations

import math
import time

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..gradients import infer_label, model_num_classes, one_hot
from .batched_loss import batched_matching_loss
from .closed_form import last_layer_features
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


def last_layer_input(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``x -> the input of the model's last linear layer`` ([n, features]), by a forward hook."""
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]

    def features(x: torch.Tensor) -> torch.Tensor:
        seen: list[torch.Tensor] = []
        handle = linear.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
        try:
            model(x)
        finally:
            handle.remove()
        return seen[0].flatten(1)

    return features


def feature_distance(model: nn.Module, target: list[torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """Per dummy row, the cosine distance between its last-layer input and the one the shared
    gradient gives by division (its last two tensors: that layer's weight and bias)."""
    features, wanted = last_layer_input(model), last_layer_features(target[-2], target[-1])
    return lambda x: 1 - F.cosine_similarity(features(x), wanted[None], dim=1)


def signed_adam(problem: Problem) -> Result:
    """The Inverting Gradients attack, one dummy row per restart (the label is read off the gradient)."""
    model, recipe, steps, on_step = problem.model, problem.recipe, problem.steps, problem.on_step
    device = next(model.parameters()).device
    target = [g.detach().to(device) for g in problem.target]
    label_index = infer_label(target)
    losses_of = batched_matching_loss(model, target, one_hot([label_index], model_num_classes(model)).to(device),
                                      recipe.loss)
    prior = feature_distance(model, target) if recipe.features > 0 else None
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
        if prior is not None:
            objective = objective + recipe.features * prior(x)
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
