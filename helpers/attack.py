"""The gradient-matching attack: optimise a dummy image (and label) until its gradient
matches the shared one.

``run_attack`` sees only what the attacker has: the model, the shared gradient and a
starting dummy. It never sees the private image, so a :class:`Result` judges itself by
the matching loss alone; comparing with the truth is :mod:`helpers.metrics`' job.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from .data import PIXEL_LIMIT
from .gradients import Gradient, gradient_distance, infer_label, infer_labels, model_gradient, model_num_classes, one_hot
from .batched import batched_matching_loss
from .lbfgs import DEAD, DONE, RUNNING, STUCK, minimise
from .recipes import Recipe, get_recipe

CONVERGED, STALLED, DIVERGED = "converged", "stalled", "diverged"
BLOWUP_FACTOR = 1e3  # a final matching loss this many times the starting one has blown up


@dataclass
class Result:
    """What one attack produced, judged only by what the attacker can see."""

    recipe: str
    image: torch.Tensor  # the reconstruction, [B, 3, 32, 32], as optimised (not clipped)
    label: list[int]  # recovered label(s)
    losses: list[float]  # matching loss after k outer steps, k = 0 .. iterations
    snapshots: dict[int, torch.Tensor]  # outer step -> dummy image [3, 32, 32] at that step
    iterations: int  # outer steps taken
    evals: int  # matching-loss evaluations (each one a double backward)
    seconds: float
    status: str  # converged | stalled | diverged
    reason: str  # one line saying why that status
    extras: dict = field(default_factory=dict)

    @property
    def grad_loss(self) -> float:
        """The final matching loss."""
        return self.losses[-1]

    @property
    def first_loss(self) -> float:
        """The matching loss after the first outer step (what the seed blog compares)."""
        return self.losses[min(1, len(self.losses) - 1)]

    @property
    def converged(self) -> bool:
        return self.status == CONVERGED

    @property
    def diverged(self) -> bool:
        return self.status == DIVERGED

    def loss_at(self, step: int) -> float:
        return self.losses[min(step, len(self.losses) - 1)]


def judge(losses: list[float], image: torch.Tensor, recipe: Recipe) -> tuple[str, str]:
    """Status and reason of a run from its matching losses and final dummy only."""
    final = losses[-1]
    if not all(math.isfinite(v) for v in losses) or not torch.isfinite(image).all():
        return DIVERGED, "the matching loss or the dummy became NaN/inf"
    if final > BLOWUP_FACTOR * max(losses[0], 1e-12):
        return DIVERGED, f"the matching loss blew up from {losses[0]:.3g} to {final:.3g}"
    worst = float(image.abs().max())
    if worst > PIXEL_LIMIT:
        return DIVERGED, f"dummy pixels reached {worst:.3g}, far outside [0, 1]"
    if final <= recipe.converged_below:
        return CONVERGED, f"matching loss {final:.3g} <= {recipe.converged_below:g}"
    return STALLED, f"matching loss stuck at {final:.3g} (> {recipe.converged_below:g})"


def run_attack(
    model: nn.Module,
    target: Gradient,
    dummy_image: torch.Tensor,
    dummy_label: torch.Tensor | None = None,
    recipe: str | Recipe = "dlg",
    *,
    iterations: int | None = None,
    snapshot_steps: Iterable[int] | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> Result:
    """Recover the private input behind ``target`` by gradient matching.

    ``dummy_image`` [B, 3, 32, 32] and ``dummy_label`` [B, classes] (logits) are the start,
    as drawn by :func:`helpers.model.seeded_setup`. ``recipe`` decides the rest (see
    :mod:`helpers.recipes`). ``snapshot_steps`` are the outer steps whose dummy is kept
    (default: every 10th, as the reference prints). ``on_step(step, loss)`` is called
    after each outer step (for progress bars).
    """
    recipe = get_recipe(recipe)
    steps = recipe.iterations if iterations is None else iterations
    if steps < 0:
        raise ValueError(f"iterations must be >= 0, got {steps}")
    keep = set(range(0, steps + 1, 10)) | {steps} if snapshot_steps is None else set(snapshot_steps)
    if recipe.optimiser == "closed-form":
        from .closed_form import closed_form_attack  # solves instead of searching; no dummy needed

        return closed_form_attack(model, target, recipe, tuple(dummy_image[:1].shape), on_step=on_step)
    if recipe.optimiser == "batched-lbfgs":
        return _run_batched(model, target, dummy_image, recipe, steps, keep, on_step)
    params = [p for p in model.parameters()]
    device = params[0].device
    target = [g.to(device) for g in target]

    start_image = dummy_image.detach().clone().to(device)
    if recipe.init == "pixel-range":  # the seed's dummy squeezed into the pixel range
        start_image = 0.5 + recipe.init_scale * start_image
    x = start_image.requires_grad_(True)
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
    losses: list[float] = []
    taken = 0
    for taken in range(1, steps + 1):
        losses.append(float(optimizer.step(closure).detach()))  # the loss before this step
        if taken in keep:
            snapshots[taken] = x.detach()[0].clone()
        if on_step is not None:
            on_step(taken, losses[-1])
        if not math.isfinite(losses[-1]) or not torch.isfinite(x).all():
            break
        if recipe.tolerance and losses[-1] <= recipe.tolerance:
            break
    losses.append(float(matching_loss(create_graph=False).detach()))
    evals += 1
    seconds = time.perf_counter() - start
    status, reason = judge(losses, x.detach(), recipe)
    if recipe.label == "joint":
        label = y.detach().argmax(dim=-1).tolist()
    else:
        label = fixed.argmax(dim=-1).tolist()
    return Result(
        recipe=recipe.name,
        image=x.detach().clone(),
        label=label,
        losses=losses,
        snapshots=snapshots,
        iterations=taken if steps else 0,
        evals=evals,
        seconds=seconds,
        status=status,
        reason=reason,
    )


# ----------------------------------------------------------------------------- batched restarts


def restart_dummies(dummy_image: torch.Tensor, restarts: int) -> torch.Tensor:
    """The ``restarts`` starting dummies: the first rows of ``dummy_image``, which
    :func:`helpers.model.seeded_setup` draws with ``batch=restarts``."""
    if dummy_image.shape[0] < restarts:
        raise ValueError(
            f"{restarts} restarts need {restarts} dummy rows, got {dummy_image.shape[0]}: "
            f"draw them with seeded_setup(seed, batch={restarts})"
        )
    return dummy_image.detach()[:restarts].clone()


def _run_batched(
    model: nn.Module,
    target: Gradient,
    dummy_image: torch.Tensor,
    recipe: Recipe,
    steps: int,
    keep: set[int],
    on_step: Callable[[int, float], None] | None,
) -> Result:
    """``recipe.restarts`` dummies, each its own L-BFGS, advanced by one batched evaluation per
    iteration (:func:`helpers.lbfgs.minimise`); the lowest final matching loss wins."""
    if recipe.label != "infer":
        raise ValueError(f"recipe {recipe.name!r}: batched restarts optimise the image only (label='infer')")
    if recipe.restarts < 1:
        raise ValueError(f"restarts must be >= 1, got {recipe.restarts}")
    device = next(model.parameters()).device
    target = [g.detach().to(device) for g in target]
    label_index = infer_label(target)
    soft_label = one_hot([label_index], model_num_classes(model)).to(device)
    losses_of = batched_matching_loss(model, target, soft_label, recipe.loss)
    start_rows = restart_dummies(dummy_image, recipe.restarts).to(device)
    if recipe.init == "pixel-range":
        start_rows = 0.5 + recipe.init_scale * start_rows

    def evaluate(x: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.detach().requires_grad_(True)
        losses = losses_of(x)
        (gradient,) = torch.autograd.grad(losses.sum(), x)
        return losses.detach(), gradient

    def report(step: int, losses: torch.Tensor) -> None:
        finite = losses[torch.isfinite(losses)]
        on_step(step, float(finite.min()) if len(finite) else math.nan)

    start = time.perf_counter()
    run = minimise(
        evaluate,
        start_rows,
        steps=steps,
        inner=recipe.max_iter,
        history_size=recipe.history_size,
        tolerance=recipe.tolerance,
        keep=keep,
        on_step=report if on_step is not None else None,
    )
    seconds = time.perf_counter() - start
    verdicts = [judge(history, run.x[k : k + 1], recipe) for k, history in enumerate(run.history)]
    # The winner: not diverged, then the lowest final matching loss. Nothing else is consulted.
    finals = [v if math.isfinite(v) else math.inf for v in run.losses.tolist()]
    winner = min(range(recipe.restarts), key=lambda k: (verdicts[k][0] == DIVERGED, finals[k], k))
    status, reason = verdicts[winner]
    if recipe.restarts > 1:
        reason = f"{reason} (restart {winner} of {recipe.restarts}, lowest matching loss)"
    losses = run.history[winner]
    if steps == 0:
        losses = losses[:1]
    return Result(
        recipe=recipe.name,
        image=run.x[winner : winner + 1].clone(),
        label=[label_index],
        losses=losses,
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
            "restart_states": [_STATE_NAMES[v] for v in run.state],
            "batched_evals": run.evals,
        },
    )


_STATE_NAMES = {RUNNING: "running", DONE: "at tolerance", STUCK: "no progress", DEAD: "non-finite"}
