"""A small batched L-BFGS: K independent minimisations advanced by one batched evaluation.

``torch.optim.LBFGS`` over K stacked dummies would share one line search and one curvature
history between them, so the fast restarts wait for the slow ones. Here each restart keeps
its own history (:mod:`.lbfgs_history`), its own step size (:mod:`.line_search`) and its
own stop flag; one call of ``evaluate`` returns the K losses and their gradients.

``evaluate(x, rows)`` gets the rows of ``x`` that still move and the indices of those rows
(so a per-restart model can ignore them); it returns ``(losses [n], gradients [n, ...])``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch

from .lbfgs_history import WORK, CurvatureHistory
from .line_search import Evaluate, backtrack

RUNNING, DONE, STUCK, DEAD = 0, 1, 2, 3  # per-restart state: moving, at tolerance, no progress, non-finite
STATE_NAMES = {RUNNING: "running", DONE: "at tolerance", STUCK: "no progress", DEAD: "non-finite"}


@dataclass
class BatchedRun:
    """What :func:`minimise` leaves behind."""

    x: torch.Tensor  # [K, ...] final points (a dead restart keeps its last finite point)
    losses: torch.Tensor  # [K] final losses (NaN for a restart that went non-finite)
    history: list[list[float]]  # per restart: loss after each outer step, from step 0
    state: list[int]  # per restart: RUNNING | DONE | STUCK | DEAD
    iterations: int  # outer steps taken
    evals: int  # batched evaluations
    row_evals: int  # rows evaluated in all (the cost: a batch of n rows costs about n)
    snapshots: dict[int, torch.Tensor] = field(default_factory=dict)  # step -> x [K, ...]


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(dim=1)


def descent_direction(g: torch.Tensor, run: torch.Tensor, memory: CurvatureHistory) -> tuple[torch.Tensor, torch.Tensor]:
    """-H g for the running rows, and its slope g.d. A restart without curvature takes
    ``torch.optim.LBFGS``'s first step (-g scaled to at most unit l1 length); a direction that
    is not downhill (lost curvature) falls back to -gamma g."""
    direction = -memory.times(g, run.tolist())
    first = memory.fresh[run]
    if first.any():
        scale = torch.clamp(1.0 / g.abs().sum(dim=1), max=1.0)
        direction = torch.where(first[:, None], -g * scale[:, None], direction)
    slope = _dot(g, direction)
    uphill = slope >= 0
    if uphill.any():
        direction = torch.where(uphill[:, None], -g * memory.gamma[run, None].to(g.dtype), direction)
        slope = _dot(g, direction)
    return direction, slope


def minimise(
    evaluate: Evaluate,
    x0: torch.Tensor,
    *,
    steps: int,
    inner: int = 10,
    history_size: int = 400,
    tolerance: float = 0.0,
    stop_at_first: bool = True,
    c1: float = 1e-4,
    max_backtracks: int = 25,
    keep: set[int] | None = None,
    on_step: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
) -> BatchedRun:
    """Minimise K independent functions from the K rows of ``x0``.

    An outer step is ``inner`` L-BFGS iterations (so ``steps`` bounds the work as the
    reference's outer steps do). A restart stops when its loss is at or below
    ``tolerance`` (DONE), when its line search finds no decrease twice in a row (STUCK) or
    when its loss or point turns non-finite (DEAD). With ``stop_at_first`` the whole run
    stops as soon as one restart is DONE. ``keep``: outer steps whose points are copied into
    ``snapshots``; ``on_step(step, losses, points)`` after each outer step.
    """
    shape = x0.shape
    K = shape[0]
    x = x0.detach().reshape(K, -1).clone()
    keep = set() if keep is None else keep
    memory = CurvatureHistory(K, history_size, x.shape[1], x.dtype, x.device)
    fails = torch.zeros(K, dtype=torch.long, device=x.device)
    state = torch.full((K,), RUNNING, dtype=torch.long, device=x.device)
    evals = row_evals = 0

    def call(points: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        nonlocal evals, row_evals
        evals += 1
        row_evals += len(rows)
        loss, grad = evaluate(points.reshape(len(rows), *shape[1:]), rows)
        return loss.detach().reshape(-1), grad.detach().reshape(len(rows), -1)

    loss, grad = call(x, torch.arange(K, device=x.device))
    state[~torch.isfinite(loss) | ~torch.isfinite(grad).all(dim=1)] = DEAD
    state[(state == RUNNING) & (loss <= tolerance)] = DONE
    history = [[float(v)] for v in loss]
    snapshots = {0: x.reshape(shape).clone()} if 0 in keep else {}
    if on_step is not None:
        on_step(0, loss.clone(), x.reshape(shape))
    taken = 0

    def finished() -> bool:
        if stop_at_first and bool((state == DONE).any()):
            return True
        return not bool((state == RUNNING).any())

    for taken in range(1, steps + 1):
        if finished():
            taken -= 1
            break
        for _ in range(inner):
            run = (state == RUNNING).nonzero().flatten()
            if len(run) == 0:
                break
            g = grad[run]
            direction, slope = descent_direction(g, run, memory)
            accepted, t, new_loss, new_grad = backtrack(call, x, direction, loss[run], g, slope, run, c1, max_backtracks)
            step = t[:, None] * direction
            moved = run[accepted]
            memory.open_slot()
            if len(moved):
                s_ = step[accepted]
                y_ = new_grad[accepted] - grad[moved]
                sy = _dot(s_.to(WORK), y_.to(WORK))
                good = sy > 1e-10 * _dot(s_.to(WORK), s_.to(WORK)).clamp_min(1e-30)  # skip the update where y's <= 0
                for i in good.nonzero().flatten().tolist():
                    memory.store(int(moved[i]), s_[i], y_[i], sy[i])
                x[moved] = x[moved] + s_
                loss[moved] = new_loss[accepted]
                grad[moved] = new_grad[accepted]
                fails[moved] = 0
            memory.close_slot()
            failed = run[~accepted]
            if len(failed):  # forget the curvature and try steepest descent once more
                fails[failed] += 1
                memory.forget(failed)
                state[failed[fails[failed] >= 2]] = STUCK
            state[moved[~torch.isfinite(x[moved]).all(dim=1)]] = DEAD
            state[(state == RUNNING) & (loss <= tolerance)] = DONE
            if stop_at_first and bool((state == DONE).any()):
                break
        for k in range(K):
            history[k].append(float(loss[k]) if state[k] != DEAD else math.nan)
        if taken in keep:
            snapshots[taken] = x.reshape(shape).clone()
        if on_step is not None:
            on_step(taken, loss.clone(), x.reshape(shape))
    final = loss.clone()
    final[state == DEAD] = math.nan
    return BatchedRun(
        x=x.reshape(shape),
        losses=final,
        history=history,
        state=[int(v) for v in state],
        iterations=taken,
        evals=evals,
        row_evals=row_evals,
        snapshots=snapshots,
    )
