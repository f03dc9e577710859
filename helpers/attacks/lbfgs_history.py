"""The curvature memory of a batched L-BFGS: for each of K restarts, its last (s, y) pairs
and the product of its inverse-Hessian estimate with a gradient.

The product uses the compact form of Byrd, Nocedal and Schnabel (1994): a few matrix-vector
products instead of a Python loop over the history, so a long history (hundreds of pairs)
costs little. The optimiser's own algebra runs in float64 whatever the dtype of the points.
"""

from __future__ import annotations

import torch

WORK = torch.float64


def inverse_hessian_times(
    g: torch.Tensor, S: torch.Tensor, Y: torch.Tensor, SY: torch.Tensor, YY: torch.Tensor, gamma: float
) -> torch.Tensor:
    """H g for one restart, H the L-BFGS inverse-Hessian estimate built from the pairs.

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


class CurvatureHistory:
    """Up to ``size`` curvature pairs per restart, in time order (slot 0 oldest).

    Every iteration writes one slot for every running restart (a restart whose update is
    skipped gets an all-zero slot), so the slot count ``used`` is shared. When full, the older
    half is forgotten at once (one copy, not one per step)."""

    def __init__(self, K: int, size: int, D: int, dtype: torch.dtype, device: torch.device) -> None:
        self.size = size
        self.S = torch.zeros(K, size, D, dtype=dtype, device=device)
        self.Y = torch.zeros(K, size, D, dtype=dtype, device=device)
        self.SY = torch.zeros(K, size, size, dtype=WORK, device=device)  # SY[i, j] = s_i . y_j
        self.YY = torch.zeros(K, size, size, dtype=WORK, device=device)  # YY[i, j] = y_i . y_j
        self.gamma = torch.ones(K, dtype=WORK, device=device)
        self.used = 0
        self.fresh = torch.ones(K, dtype=torch.bool, device=device)  # no curvature yet: steepest descent

    def times(self, g: torch.Tensor, rows: list[int]) -> torch.Tensor:
        """H_k g_i for each restart k = rows[i] (one restart at a time on contiguous slices: a
        batched product over slices of the history falls off BLAS's fast path; K is small)."""
        u = self.used
        return torch.stack(
            [
                inverse_hessian_times(g[i], self.S[k, :u], self.Y[k, :u], self.SY[k, :u, :u], self.YY[k, :u, :u], float(self.gamma[k]))
                for i, k in enumerate(rows)
            ]
        )

    def open_slot(self) -> None:
        """Make the next slot empty, forgetting the older half first when the memory is full."""
        size = self.size
        if self.used == size:
            drop = max(1, size // 2)
            for buffer in (self.S, self.Y):
                buffer[:, : size - drop] = buffer[:, drop:].clone()
            for gram in (self.SY, self.YY):
                gram[:, : size - drop, : size - drop] = gram[:, drop:, drop:].clone()
            self.used -= drop
        for buffer in (self.S, self.Y):
            buffer[:, self.used] = 0.0
        for gram in (self.SY, self.YY):
            gram[:, self.used, :] = 0.0
            gram[:, :, self.used] = 0.0

    def store(self, k: int, s: torch.Tensor, y: torch.Tensor, sy: torch.Tensor) -> None:
        """Restart ``k``'s new pair into the open slot; its scaling becomes s.y / y.y."""
        u = self.used
        self.S[k, u] = s
        self.Y[k, u] = y
        self.SY[k, : u + 1, u] = (self.S[k, : u + 1] @ y).double()  # s_i . y_new
        self.SY[k, u, : u + 1] = (self.Y[k, : u + 1] @ s).double()  # s_new . y_j
        yy = (self.Y[k, : u + 1] @ y).double()
        self.YY[k, : u + 1, u] = yy
        self.YY[k, u, : u + 1] = yy
        self.gamma[k] = sy / yy[-1].clamp_min(1e-30)
        self.fresh[k] = False

    def close_slot(self) -> None:
        self.used += 1

    def forget(self, rows: torch.Tensor) -> None:
        """Drop the curvature of ``rows``: their next step is steepest descent again."""
        self.fresh[rows] = True
        self.S[rows], self.Y[rows], self.SY[rows], self.YY[rows] = 0.0, 0.0, 0.0, 0.0
        self.gamma[rows] = 1.0
