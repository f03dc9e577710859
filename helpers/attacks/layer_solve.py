"""One convolution of the closed form: its input from its output, its error and its weight
gradient, by weighted linear least squares (LSQR, matrix free).

Both the forward equations ``conv(u) + b = z`` and the weight-gradient equations
``dW = δ ⋆ u`` are linear in the unknown input ``u``. Each equation is divided by the size
of the rounding error it carries: a forward equation's right side ``logit(a)`` has error
``ε / σ'(z)`` when ``a`` is known to ``ε`` (huge where a sigmoid saturates), so it is weighted
by ``σ'(z) = a(1 - a)``; a gradient equation's right side is a float32 number of the layer's
typical size, so that block is weighted by ``1 / rms(dW)``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.sparse.linalg import LinearOperator, lsqr
from torch import nn

from ..model import activation_slope

SATURATION = 1e-6  # recovered activations are kept this far inside (0, 1) before logit
MAX_CONDITION = 1e8  # a weighted layer system worse conditioned than this cannot be trusted
MAX_RESIDUAL = 3e-2  # relative residual above which a layer's equations contradict each other
RELU_ACTIVE = 1e-3  # ReLU: a recovered output below this fraction of the layer's largest counts as zero


@dataclass
class LayerSolve:
    """One convolution's linear system and how well it was solved."""

    name: str
    unknowns: int  # size of the layer's input
    forward_equations: int  # conv(u) + b = z
    gradient_equations: int  # dW = δ ⋆ u
    iterations: int  # LSQR iterations
    residual: float  # weighted residual / weighted right-hand side norm
    condition: float  # LSQR's estimate of the weighted system's condition number
    saturated: float  # fraction of this layer's outputs whose forward equation has weight < 0.01
    usable_forward: int  # forward equations that carry information (not saturated, weights not all zero)
    usable_gradient: int  # gradient equations whose output channel has a non-zero error δ
    seconds: float

    @property
    def equations(self) -> int:
        return self.forward_equations + self.gradient_equations


def invert_activation(a: torch.Tensor, activation: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Pre-activation ``z`` from the output ``a`` and how much each value can be trusted.

    Sigmoid: ``z = logit(a)``, whose error is ``ε / σ'(z)`` for ``a`` known to ``ε``, so the
    weight is ``σ'(z) = a(1 - a)`` (near zero where the unit saturates). ReLU: ``z = a`` where
    ``a > 0``; where ``a = 0`` only ``z <= 0`` is known, so that equation gets weight zero.
    """
    if activation == "sigmoid":
        return logit(a), activation_slope("sigmoid", a)
    active = relu_active(a)
    return a * active, active


def relu_active(a: torch.Tensor) -> torch.Tensor:
    """1 where a recovered ReLU output is clearly positive, 0 where it is (numerically) zero:
    a unit that is truly off comes back from the solve above as a tiny positive number."""
    return (a > RELU_ACTIVE * a.abs().max().clamp_min(1e-30)).to(a.dtype)


def logit(a: torch.Tensor) -> torch.Tensor:
    a = a.clamp(SATURATION, 1 - SATURATION)
    return torch.log(a) - torch.log1p(-a)


def solve_layer(
    conv: nn.Conv2d,
    output: torch.Tensor,
    delta: torch.Tensor,
    d_weight: torch.Tensor,
    input_shape: tuple[int, ...],
    activation: str = "sigmoid",
    name: str = "",
    iterations: int = 3000,
    tolerance: float = 1e-7,
) -> tuple[torch.Tensor, LayerSolve]:
    """Solve one convolution for its input ``u`` given its sigmoid output ``a = σ(conv(u) + b)``,
    the error ``δ = dL/dz`` at its output and its weight gradient ``dW``.

    Returns ``u`` (shape ``input_shape``, float64) and the system's statistics.
    """
    start = time.perf_counter()
    weight = conv.weight.detach().double()
    bias = conv.bias.detach().double()
    stride, padding = conv.stride, conv.padding
    z, trust = invert_activation(output, activation)
    forward_weight = trust.reshape(-1)  # 1 / error of the recovered pre-activation
    live_channels = weight.flatten(1).abs().sum(dim=1) > 0  # an all-zero filter sees nothing of u
    gradient_weight = 1.0 / d_weight.pow(2).mean().sqrt().clamp_min(1e-30)

    def apply(u: torch.Tensor) -> torch.Tensor:
        u = u.reshape(input_shape)
        forward = F.conv2d(u, weight, stride=stride, padding=padding).reshape(-1) * forward_weight
        grads = torch.nn.grad.conv2d_weight(u, weight.shape, delta, stride=stride, padding=padding).reshape(-1)
        return torch.cat([forward, grads * gradient_weight])

    def apply_transpose(v: torch.Tensor) -> torch.Tensor:
        n_forward = forward_weight.numel()
        v_forward = (v[:n_forward] * forward_weight).reshape(output.shape)
        v_grads = (v[n_forward:] * gradient_weight).reshape(weight.shape)
        from_forward = torch.nn.grad.conv2d_input(input_shape, weight, v_forward, stride=stride, padding=padding)
        from_grads = torch.nn.grad.conv2d_input(input_shape, v_grads, delta, stride=stride, padding=padding)
        return (from_forward + from_grads).reshape(-1)

    # Jacobi (column) scaling: solve for D u with D² = diag(AᵀA), computed from two transposed
    # convolutions instead of 3072 matrix-vector products
    column_norm = (
        torch.nn.grad.conv2d_input(input_shape, weight**2, (forward_weight**2).reshape(output.shape), stride=stride, padding=padding)
        + gradient_weight**2 * torch.nn.grad.conv2d_input(input_shape, torch.ones_like(weight), delta**2, stride=stride, padding=padding)
    ).reshape(-1).sqrt().clamp_min(1e-12)

    rhs = torch.cat([((z - bias.reshape(1, -1, 1, 1)).reshape(-1)) * forward_weight, d_weight.reshape(-1) * gradient_weight])
    n = math.prod(input_shape)
    operator = LinearOperator(
        (rhs.numel(), n),
        matvec=lambda u: apply(torch.from_numpy(np.ascontiguousarray(u)) / column_norm).numpy(),
        rmatvec=lambda v: (apply_transpose(torch.from_numpy(np.ascontiguousarray(v))) / column_norm).numpy(),
        dtype=np.float64,
    )
    solution = lsqr(operator, rhs.numpy(), atol=tolerance, btol=tolerance, conlim=1e12, iter_lim=iterations)
    u = (torch.from_numpy(solution[0]) / column_norm).reshape(input_shape)
    residual = float(torch.linalg.vector_norm(apply(u) - rhs) / torch.linalg.vector_norm(rhs).clamp_min(1e-300))
    stats = LayerSolve(
        name=name,
        unknowns=n,
        forward_equations=forward_weight.numel(),
        gradient_equations=weight.numel(),
        iterations=int(solution[2]),
        residual=residual,
        condition=float(solution[6]),
        saturated=float((forward_weight < 0.01).double().mean()),  # ReLU: the zeroed units
        usable_forward=int(((trust >= 0.01) & live_channels.reshape(1, -1, 1, 1)).sum()),
        usable_gradient=int((delta.flatten(2).abs().sum(dim=(0, 2)) > 0).sum()) * weight[0].numel(),
        seconds=time.perf_counter() - start,
    )
    return u, stats


def diagnose(u: torch.Tensor, stats: LayerSolve) -> str:
    """Why a layer's solution cannot be trusted ("" if it can)."""
    if not torch.isfinite(u).all():
        return f"{stats.name}: the solve produced NaN/inf"
    usable = stats.usable_forward + stats.usable_gradient
    if usable < stats.unknowns:
        return f"{stats.name}: about {usable:.0f} usable equations for {stats.unknowns} unknowns (underdetermined)"
    if not stats.condition < MAX_CONDITION:
        return f"{stats.name}: the weighted system is singular (condition ~{stats.condition:.1e})"
    if stats.residual > MAX_RESIDUAL:
        return (
            f"{stats.name}: the equations contradict each other (relative residual {stats.residual:.1e}): "
            "not the gradient of one image, or too noisy"
        )
    return ""

