"""The gradient-matching search (DLG, iDLG): optimise a dummy image (and label) with
``torch.optim.LBFGS`` until its gradient matches the shared one.

With recipe ``dlg`` this is the loop of mit-han-lab/dlg's ``main.py``: autograd gradients of
the matching loss, L-BFGS with every default, no line search.
"""

from __future__ import annotations

import math
import time
import torch
import torch.nn.functional as F

from ..gradients import gradient_distance, infer_labels, model_gradient, model_num_classes, one_hot
from .problem import Problem, Progress
from .recipes import initial_dummy
from .result import Result, judge


def search(problem: Problem) -> Result:
    """``problem.steps`` outer L-BFGS steps from the dummy image (and, for ``label="joint"``,
    the dummy label logits)."""
    model, recipe, steps, keep, on_step = problem.model, problem.recipe, problem.steps, problem.keep, problem.on_step
    dummy_image, dummy_label, target = problem.dummy_image, problem.dummy_label, problem.target
    device = next(model.parameters()).device
    target = [g.to(device) for g in target]
    x = initial_dummy(recipe, dummy_image).to(device).requires_grad_(True)
    if recipe.label == "joint":
        if dummy_label is None:
            raise ValueError(f"recipe {recipe.name!r} optimises the label and needs a dummy_label")
        y = dummy_label.detach().clone().to(device).requires_grad_(True)
        variables = [x, y]

        def soft_label() -> torch.Tensor:
            return F.softmax(y, dim=-1)

    else:
        fixed = one_hot(infer_labels(target, count=x.shape[0]), model_num_classes(model)).to(device)
        variables = [x]

        def soft_label() -> torch.Tensor:
            return fixed

    def matching_loss(create_graph: bool) -> torch.Tensor:
        problem.check()
        dummy_gradient = model_gradient(model, x, soft_label(), create_graph=create_graph)
        return gradient_distance(dummy_gradient, target, recipe.loss)

    optimizer = torch.optim.LBFGS(
        variables,
        lr=recipe.lr,
        max_iter=recipe.max_iter,
        history_size=recipe.history_size,
        line_search_fn=recipe.line_search,
    )
    evals = 0

    def closure() -> torch.Tensor:
        nonlocal evals
        evals += 1
        optimizer.zero_grad()
        loss = matching_loss(create_graph=True)
        loss.backward(inputs=variables)
        return loss

    start = time.perf_counter()
    snapshots = {0: x.detach()[0].clone()} if 0 in keep else {}
    if on_step is not None:
        on_step(Progress(0, math.nan, -1, x.detach()[0], int(soft_label()[0].argmax())))  # no loss computed yet
    losses: list[float] = []
    taken = 0
    for taken in range(1, steps + 1):
        losses.append(float(optimizer.step(closure).detach()))  # the loss before this step
        if taken in keep:
            snapshots[taken] = x.detach()[0].clone()
        if on_step is not None:
            on_step(Progress(taken, losses[-1], taken - 1, x.detach()[0], int(soft_label()[0].argmax())))
        if not math.isfinite(losses[-1]) or not torch.isfinite(x).all():
            break
        if recipe.tolerance and losses[-1] <= recipe.tolerance:
            break
    losses.append(float(matching_loss(create_graph=False).detach()))
    evals += 1
    status, reason = judge(losses, x.detach(), recipe.converged_below)
    label = (y.detach().argmax(dim=-1) if recipe.label == "joint" else fixed.argmax(dim=-1)).tolist()
    return Result(
        recipe=recipe.name,
        image=x.detach().clone(),
        label=label,
        losses=losses,
        snapshots=snapshots,
        iterations=taken if steps else 0,
        evals=evals,
        seconds=time.perf_counter() - start,
        status=status,
        reason=reason,
    )
