"""Batched restarts: ``recipe.restarts`` dummies, each its own L-BFGS, advanced together by
one batched evaluation per iteration (:func:`.lbfgs.minimise`); the lowest final matching
loss wins. Nothing else (least of all the private image) is consulted."""

from __future__ import annotations

import math
import time
import torch

from ..gradients import infer_label, model_num_classes, one_hot
from .batched_loss import batched_matching_loss
from .lbfgs import STATE_NAMES, minimise
from .problem import Problem, Progress
from .recipes import initial_dummy
from .result import DIVERGED, Result, judge


def restart_dummies(dummy_image: torch.Tensor, restarts: int) -> torch.Tensor:
    """The ``restarts`` starting dummies: the rows of ``dummy_image``, which
    :func:`helpers.model.seeded_setup` draws with ``batch=restarts``."""
    if dummy_image.shape[0] != restarts:
        raise ValueError(
            f"{restarts} restarts need {restarts} dummy rows, got {dummy_image.shape[0]}: "
            f"draw them with seeded_setup(seed, batch={restarts})"
        )
    return dummy_image.detach().clone()


def leading_row(losses: torch.Tensor) -> int:
    """The restart that leads: the lowest finite matching loss (row 0 if none is finite)."""
    finite = torch.where(torch.isfinite(losses), losses, torch.full_like(losses, math.inf))
    return int(finite.argmin())


def pick_winner(histories: list[list[float]], images: torch.Tensor, converged_below: float
                ) -> tuple[int, str, str, list[tuple[str, str]]]:
    """Judge every restart (one loss history and one dummy row each) and pick the winner: the
    lowest final matching loss among those that did not diverge. Returns the winner, its
    status and reason (naming the winner when there are several) and every restart's verdict."""
    verdicts = [judge(history, images[k : k + 1], converged_below) for k, history in enumerate(histories)]
    finals = [h[-1] if math.isfinite(h[-1]) else math.inf for h in histories]
    winner = min(range(len(histories)), key=lambda k: (verdicts[k][0] == DIVERGED, finals[k], k))
    status, reason = verdicts[winner]
    if len(histories) > 1:
        reason = f"{reason} (restart {winner} of {len(histories)}, lowest matching loss)"
    return winner, status, reason, verdicts


def batched_restarts(problem: Problem) -> Result:
    """The restarts attack, one dummy row per restart (the label is read off the gradient)."""
    model, recipe, steps, on_step = problem.model, problem.recipe, problem.steps, problem.on_step
    device = next(model.parameters()).device
    target = [g.detach().to(device) for g in problem.target]
    label_index = infer_label(target)
    soft_label = one_hot([label_index], model_num_classes(model)).to(device)
    losses_of = batched_matching_loss(model, target, soft_label, recipe.loss)
    start_rows = initial_dummy(recipe, restart_dummies(problem.dummy_image, recipe.restarts)).to(device)

    def evaluate(x: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        problem.check()
        x = x.detach().requires_grad_(True)
        losses = losses_of(x)
        (gradient,) = torch.autograd.grad(losses.sum(), x)
        return losses.detach(), gradient

    def report(step: int, losses: torch.Tensor, x: torch.Tensor) -> None:
        """The leading restart so far: the lowest finite matching loss."""
        best = leading_row(losses)
        on_step(Progress(step, float(losses[best]) if math.isfinite(float(losses[best])) else math.nan, step, x[best],
                         label_index))

    start = time.perf_counter()
    run = minimise(
        evaluate,
        start_rows,
        steps=steps,
        inner=recipe.max_iter,
        history_size=recipe.history_size,
        tolerance=recipe.tolerance,
        keep=problem.keep,
        on_step=report if on_step is not None else None,
    )
    seconds = time.perf_counter() - start
    winner, status, reason, verdicts = pick_winner(run.history, run.x, recipe.converged_below)
    losses = run.history[winner]
    return Result(
        recipe=recipe.name,
        image=run.x[winner : winner + 1].clone(),
        label=[label_index],
        losses=losses[:1] if steps == 0 else losses,
        snapshots={step: rows[winner].clone() for step, rows in run.snapshots.items()},
        iterations=run.iterations,
        evals=run.row_evals,
        seconds=seconds,
        status=status,
        reason=reason,
        extras={
            "winner": winner,
            "restart_losses": run.losses.tolist(),
            "restart_status": [v[0] for v in verdicts],
            "restart_states": [STATE_NAMES[v] for v in run.state],
            "batched_evals": run.evals,
        },
    )
