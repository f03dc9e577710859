"""A small batched L-BFGS: K independent minimisations advanced by one batched evaluation.

``torch.optim.LBFGS`` over K stacked dummies would share one line search and one curvature
history between them, so the fast restarts wait for the slow ones. Here each restart keeps
its own history (the two-loop recursion runs on all K at once with batched dot products),
its own step size (a vectorised backtracking line search on the Armijo condition) and its
own stop flag; one call of ``evaluate`` returns the K losses and their gradients.

``evaluate(x, rows)`` gets the rows of ``x`` that still move and the indices of those rows
(so a per-restart model can ignore them); it returns ``(losses [n], gradients [n, ...])``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch

RUNNING, DONE, STUCK, DEAD = 0, 1, 2, 3  # per-restart state: moving, at tolerance, no progress, non-finite

Evaluate = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


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


def _inverse_hessian_times(
    g: torch.Tensor, S: torch.Tensor, Y: torch.Tensor, SY: torch.Tensor, YY: torch.Tensor, gamma: float
) -> torch.Tensor:
    """H g for one restart, H the L-BFGS inverse-Hessian estimate in the compact form of Byrd,
    Nocedal and Schnabel (1994): a few matrix-vector products instead of a Python loop over
    the history, so a long history (hundreds of pairs) costs little.

    ``S``, ``Y`` [m, D] pairs in time order (zero rows: empty or skipped slots), ``SY`` =
    S Y^T and ``YY`` = Y Y^T [m, m] in float64, ``gamma`` the initial scaling s^T y / y^T y."""
    if S.shape[0] == 0:
        return gamma * g
    diag = torch.diagonal(SY)
    valid = diag > 0
    # an empty slot gets R_ii = 1 and D_ii = 0: it then contributes nothing
    R = torch.triu(SY) + torch.diag(torch.where(valid, torch.zeros_like(diag), torch.ones_like(diag)))
    Dm = torch.diag(torch.where(valid, diag, torch.zeros_like(diag)))
    p1 = (S @ g).double()[:, None]
    p2 = (Y @ g).double()[:, None]
    u = torch.linalg.solve_triangular(R, p1, upper=True)
    inner = (Dm + gamma * YY) @ u - gamma * p2
    top = torch.linalg.solve_triangular(R.T, inner, upper=False)
    return gamma * g + S.T @ top[:, 0].to(S.dtype) - (gamma * Y.T) @ u[:, 0].to(S.dtype)


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
    on_step: Callable[[int, torch.Tensor], None] | None = None,
) -> BatchedRun:
    """Minimise K independent functions from the K rows of ``x0``.

    An outer step is ``inner`` L-BFGS iterations (so ``steps`` bounds the work as the
    reference's outer steps do). A restart stops when its loss is at or below
    ``tolerance`` (DONE), when its line search finds no decrease twice in a row (STUCK) or
    when its loss or point turns non-finite (DEAD). With ``stop_at_first`` the whole run
    stops as soon as one restart is DONE. ``keep``: outer steps whose points are copied into
    ``snapshots``; ``on_step(step, losses)`` after each outer step.
    """
    shape = x0.shape
    K = shape[0]
    x = x0.detach().reshape(K, -1).clone()
    D = x.shape[1]
    dtype, device = x.dtype, x.device
    keep = set() if keep is None else keep
    # Curvature pairs in time order (slot 0 oldest); an empty or skipped slot is all zeros.
    # The optimiser's own algebra runs in float64 whatever the dtype of the dummies.
    work = torch.float64
    S = torch.zeros(K, history_size, D, dtype=dtype, device=device)
    Y = torch.zeros(K, history_size, D, dtype=dtype, device=device)
    SY = torch.zeros(K, history_size, history_size, dtype=work, device=device)  # SY[i, j] = s_i . y_j
    YY = torch.zeros(K, history_size, history_size, dtype=work, device=device)  # YY[i, j] = y_i . y_j
    gamma = torch.ones(K, dtype=work, device=device)
    used = 0  # slots filled so far (shared: every iteration writes one slot for every running restart)
    fresh = torch.ones(K, dtype=torch.bool, device=device)  # no curvature yet: steepest descent
    fails = torch.zeros(K, dtype=torch.long, device=device)
    state = torch.full((K,), RUNNING, dtype=torch.long, device=device)
    evals = row_evals = 0

    def call(points: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        nonlocal evals, row_evals
        evals += 1
        row_evals += len(rows)
        loss, grad = evaluate(points.reshape(len(rows), *shape[1:]), rows)
        return loss.detach().reshape(-1), grad.detach().reshape(len(rows), -1)

    everyone = torch.arange(K, device=device)
    loss, grad = call(x, everyone)
    bad = ~torch.isfinite(loss) | ~torch.isfinite(grad).all(dim=1)
    state[bad] = DEAD
    state[(state == RUNNING) & (loss <= tolerance)] = DONE
    history = [[float(v)] for v in loss]
    snapshots = {0: x.reshape(shape).clone()} if 0 in keep else {}
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
            # one restart at a time on contiguous slices (a batched product over slices of the
            # history buffers falls off BLAS's fast path), K is small
            direction = -torch.stack(
                [
                    _inverse_hessian_times(g[i], S[k, :used], Y[k, :used], SY[k, :used, :used], YY[k, :used, :used], float(gamma[k]))
                    for i, k in enumerate(run.tolist())
                ]
            )
            first = fresh[run]
            if first.any():  # torch.optim.LBFGS's first step: -g scaled to at most unit l1 length
                scale = torch.clamp(1.0 / g.abs().sum(dim=1), max=1.0)
                direction = torch.where(first[:, None], -g * scale[:, None], direction)
            slope = _dot(g, direction)
            uphill = slope >= 0  # not a descent direction (lost curvature): fall back to -g
            if uphill.any():
                direction = torch.where(uphill[:, None], -g * gamma[run, None].to(dtype), direction)
                slope = _dot(g, direction)
            # vectorised backtracking: every restart tries its own step until Armijo holds
            t = torch.ones(len(run), dtype=dtype, device=device)
            f0 = loss[run]
            new_loss = f0.clone()
            new_grad = g.clone()
            accepted = torch.zeros(len(run), dtype=torch.bool, device=device)
            for _ in range(max_backtracks):
                todo = (~accepted).nonzero().flatten()
                if len(todo) == 0:
                    break
                trial = x[run[todo]] + t[todo, None] * direction[todo]
                f, gr = call(trial, run[todo])
                ok = torch.isfinite(f) & (f <= f0[todo] + c1 * t[todo] * slope[todo]) & torch.isfinite(gr).all(dim=1)
                idx = todo[ok]
                new_loss[idx] = f[ok]
                new_grad[idx] = gr[ok]
                accepted[idx] = True
                t[todo[~ok]] *= 0.5
            step = t[:, None] * direction
            moved = run[accepted]
            if used == history_size:  # full: forget the older half at once (one copy, not one per step)
                drop = max(1, history_size // 2)
                for buffer in (S, Y):
                    buffer[:, : history_size - drop] = buffer[:, drop:].clone()
                for gram in (SY, YY):
                    gram[:, : history_size - drop, : history_size - drop] = gram[:, drop:, drop:].clone()
                used -= drop
            for buffer in (S, Y):
                buffer[:, used] = 0.0
            for gram in (SY, YY):
                gram[:, used, :] = 0.0
                gram[:, :, used] = 0.0
            if len(moved):
                s_ = step[accepted]
                y_ = new_grad[accepted] - grad[moved]
                sy = _dot(s_.to(work), y_.to(work))
                good = sy > 1e-10 * _dot(s_.to(work), s_.to(work)).clamp_min(1e-30)  # skip the update where y's <= 0
                for i in good.nonzero().flatten().tolist():
                    k = int(moved[i])
                    sk, yk = s_[i], y_[i]
                    S[k, used] = sk
                    Y[k, used] = yk
                    SY[k, : used + 1, used] = (S[k, : used + 1] @ yk).double()  # s_i . y_new
                    SY[k, used, : used + 1] = (Y[k, : used + 1] @ sk).double()  # s_new . y_j
                    yy = (Y[k, : used + 1] @ yk).double()
                    YY[k, : used + 1, used] = yy
                    YY[k, used, : used + 1] = yy
                    gamma[k] = sy[i] / yy[-1].clamp_min(1e-30)
                    fresh[k] = False
                x[moved] = x[moved] + s_
                loss[moved] = new_loss[accepted]
                grad[moved] = new_grad[accepted]
                fails[moved] = 0
            used += 1
            failed = run[~accepted]
            if len(failed):  # forget the curvature and try steepest descent once more
                fails[failed] += 1
                fresh[failed] = True
                S[failed], Y[failed], SY[failed], YY[failed] = 0.0, 0.0, 0.0, 0.0
                gamma[failed] = 1.0
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
            on_step(taken, loss.clone())
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
