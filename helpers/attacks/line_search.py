"""A vectorised backtracking line search: every restart tries its own step, halving it until
the Armijo (sufficient decrease) condition holds, all restarts in one batched evaluation."""

from __future__ import annotations

from typing import Callable

import torch

Evaluate = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def backtrack(
    call: Evaluate,
    x: torch.Tensor,
    direction: torch.Tensor,
    f0: torch.Tensor,
    g0: torch.Tensor,
    slope: torch.Tensor,
    run: torch.Tensor,
    c1: float = 1e-4,
    max_tries: int = 25,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Steps ``t`` (from 1, halved on failure) along ``direction`` for the rows ``run`` of
    ``x``, with losses ``f0``, gradients ``g0`` and directional derivatives ``slope`` there.

    Returns ``(accepted, t, loss, gradient)``: which rows found a finite point with
    ``f <= f0 + c1 t slope`` within ``max_tries`` tries, the last step tried, and the loss
    and gradient at the accepted point (``f0`` / ``g0`` where none was accepted)."""
    t = torch.ones(len(run), dtype=x.dtype, device=x.device)
    new_loss = f0.clone()
    new_grad = g0.clone()
    accepted = torch.zeros(len(run), dtype=torch.bool, device=x.device)
    for _ in range(max_tries):
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
    return accepted, t, new_loss, new_grad
