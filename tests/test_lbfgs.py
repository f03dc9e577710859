"""The batched L-BFGS against independent oracles on small problems."""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from helpers.attacks.lbfgs import DONE, STUCK, minimise
from helpers.attacks.lbfgs_history import inverse_hessian_times


def _pairs(m, D, seed):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(D, D, generator=g, dtype=torch.float64)
    A = A @ A.T + D * torch.eye(D, dtype=torch.float64)  # SPD: every pair has s.y > 0
    S = torch.randn(m, D, generator=g, dtype=torch.float64)
    return S, S @ A, torch.randn(D, generator=g, dtype=torch.float64)


def _dense_bfgs(S, Y, gamma):
    """The textbook inverse update H <- (I - r s y^T) H (I - r y s^T) + r s s^T from gamma I."""
    D = S.shape[1]
    H = gamma * torch.eye(D, dtype=torch.float64)
    for s, y in zip(S, Y):
        if float(s @ y) <= 0:
            continue  # a skipped (empty) slot
        r = 1.0 / float(s @ y)
        left = torch.eye(D, dtype=torch.float64) - r * torch.outer(s, y)
        H = left @ H @ left.T + r * torch.outer(s, s)
    return H


@pytest.mark.parametrize("empty_slot", [None, 2])
def test_compact_form_is_the_dense_bfgs_inverse(empty_slot):
    S, Y, g = _pairs(5, 8, seed=0)
    if empty_slot is not None:
        S[empty_slot] = 0
        Y[empty_slot] = 0
    gamma = float(S[-1] @ Y[-1] / (Y[-1] @ Y[-1]))
    ours = inverse_hessian_times(g, S, Y, S @ Y.T, Y @ Y.T, gamma)
    assert torch.allclose(ours, _dense_bfgs(S, Y, gamma) @ g, rtol=1e-10, atol=1e-12)


def _quadratic(D=30, seed=1, condition=1e3):
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(D, D, generator=g, dtype=torch.float64))
    A = Q @ torch.diag(torch.logspace(0, math.log10(condition), D, dtype=torch.float64)) @ Q.T
    b = torch.randn(D, generator=g, dtype=torch.float64)
    return A, b


def test_history_wrap_around_still_reaches_the_minimiser():
    """history_size=4 on a 30-dimensional quadratic: the memory fills and drops its older half
    many times. Oracle: the dense solve A x = b, and SciPy's L-BFGS-B with the same memory."""
    A, b = _quadratic()

    def evaluate(x, rows):
        return 0.5 * (x @ A * x).sum(1) - x @ b, x @ A - b

    run = minimise(evaluate, torch.zeros(1, 30, dtype=torch.float64), steps=100, inner=10, history_size=4,
                   tolerance=-math.inf, stop_at_first=False)
    exact = torch.linalg.solve(A, b)
    assert run.evals > 3 * 4  # far more iterations than slots
    assert torch.allclose(run.x[0], exact, atol=1e-6)
    scipy = minimize(lambda v: (0.5 * v @ A.numpy() @ v - v @ b.numpy(), A.numpy() @ v - b.numpy()),
                     np.zeros(30), jac=True, method="L-BFGS-B", options={"maxcor": 4, "gtol": 1e-12, "ftol": 0})
    assert np.allclose(run.x[0].numpy(), scipy.x, atol=1e-5)
    assert float(run.losses[0]) == pytest.approx(float(-0.5 * b @ exact), rel=1e-10)


def test_restarts_are_independent_of_each_other():
    """Three quadratics advanced together end where each ends alone (own history, own steps)."""
    problems = [_quadratic(seed=s) for s in (1, 2, 3)]

    def batched(x, rows):
        losses, grads = [], []
        for xi, k in zip(x, rows.tolist()):
            A, b = problems[k]
            losses.append(0.5 * xi @ A @ xi - xi @ b)
            grads.append(A @ xi - b)
        return torch.stack(losses), torch.stack(grads)

    together = minimise(batched, torch.zeros(3, 30, dtype=torch.float64), steps=3, inner=10, stop_at_first=False)
    for k, (A, b) in enumerate(problems):
        alone = minimise(lambda x, rows: batched(x, torch.full_like(rows, k)), torch.zeros(1, 30, dtype=torch.float64),
                         steps=3, inner=10)
        assert torch.allclose(together.x[k], alone.x[0], rtol=1e-9, atol=1e-12)
        assert together.history[k] == pytest.approx(alone.history[0], rel=1e-9)


def test_a_failed_line_search_leaves_the_point_and_marks_the_restart_stuck():
    """A gradient that points the wrong way: no step along -g lowers the loss, so the line
    search fails, the curvature is forgotten, steepest descent fails again: STUCK, x unmoved."""
    def evaluate(x, rows):
        return (x**2).sum(1), -2 * x  # the true gradient is +2x

    x0 = torch.ones(1, 4, dtype=torch.float64)
    run = minimise(evaluate, x0, steps=3, inner=5, max_backtracks=6)
    assert run.state == [STUCK]
    assert torch.equal(run.x, x0) and run.history[0] == [4.0, 4.0]
    assert run.evals == 1 + 2 * 6  # the start, then two line searches of six tries each


def test_tolerance_stops_a_restart_as_done():
    A, b = _quadratic(D=5, condition=10)
    start = torch.linalg.solve(A, b)[None]  # already at the minimum
    run = minimise(lambda x, rows: (0.5 * (x @ A * x).sum(1) - x @ b, x @ A - b), start, steps=5,
                   tolerance=float(-0.5 * b @ torch.linalg.solve(A, b)) + 1e-12)
    assert run.state == [DONE] and run.iterations == 0 and run.evals == 1
