"""Solve instead of search: recover the private image from one gradient, layer by layer.

For one image and the Sigmoid LeNet, the shared gradient pins the input down (the idea of
R-GAP, Zhu & Blaschko, ICLR 2021):

* last layer: ``dW_fc = δ ⊗ a₃`` and ``db_fc = δ``, so the features ``a₃`` entering it are
  the weight gradient divided by the bias gradient (least squares over all rows), and the
  label is the one row where ``db_fc`` is negative;
* each convolution, top down: the output's pre-activation is known (``z = logit(a)``), the
  back-propagated error ``δ`` is known from the layers above, and both the forward equations
  ``conv(u) + b = z`` and the weight-gradient equations ``dW = δ ⋆ u`` are *linear* in the
  unknown input ``u``. Stack them and solve by weighted linear least squares (LSQR, matrix
  free: the convolution and its transpose are the operator); ``u`` is the next layer's
  output, or the image at the bottom.

Weights come from the conditioning: each equation is divided by the size of the rounding
error it carries. A forward equation's right side ``logit(a)`` has error ``ε / σ'(z)`` when
``a`` is known to ``ε`` (huge where a sigmoid saturates), so it is weighted by
``σ'(z) = a(1 - a)``; a gradient equation's right side is a float32 number of the layer's
typical size, so that block is weighted by ``1 / rms(dW)``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from scipy.sparse.linalg import LinearOperator, lsqr
from torch import nn

from .gradients import Gradient, infer_label

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


@dataclass
class Recovery:
    """Everything the closed-form attack recovered, from the top layer down."""

    image: torch.Tensor  # [1, 3, 32, 32] float64
    label: int
    features: dict[str, torch.Tensor]  # recovered activations: "a3" (fc input), "a2", "a1"
    layers: list[LayerSolve] = field(default_factory=list)
    ok: bool = True
    reason: str = ""


def _layers(model: nn.Module) -> tuple[list[nn.Conv2d], nn.Linear, str]:
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    kinds = {type(m).__name__.lower() for m in model.modules() if isinstance(m, (nn.Sigmoid, nn.ReLU))}
    if len(linears) != 1 or not convs or len(kinds) != 1:
        raise ValueError("the closed-form attack needs convolutions with one kind of activation (Sigmoid or ReLU) and one final linear layer")
    return convs, linears[0], kinds.pop()


def invert_activation(a: torch.Tensor, activation: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Pre-activation ``z`` from the output ``a`` and how much each value can be trusted.

    Sigmoid: ``z = logit(a)``, whose error is ``ε / σ'(z)`` for ``a`` known to ``ε``, so the
    weight is ``σ'(z) = a(1 - a)`` (near zero where the unit saturates). ReLU: ``z = a`` where
    ``a > 0``; where ``a = 0`` only ``z <= 0`` is known, so that equation gets weight zero.
    """
    if activation == "sigmoid":
        return logit(a), a * (1 - a)
    active = relu_active(a)
    return a * active, active


def activation_slope(a: torch.Tensor, activation: str) -> torch.Tensor:
    """The activation's derivative at the unit, from its output: σ' = a(1 - a); ReLU' = [a > 0]."""
    return a * (1 - a) if activation == "sigmoid" else relu_active(a)


def relu_active(a: torch.Tensor) -> torch.Tensor:
    """1 where a recovered ReLU output is clearly positive, 0 where it is (numerically) zero:
    a unit that is truly off comes back from the solve above as a tiny positive number."""
    return (a > RELU_ACTIVE * a.abs().max().clamp_min(1e-30)).to(a.dtype)


def _split_gradient(model: nn.Module, gradient: Gradient) -> dict[str, torch.Tensor]:
    names = [name for name, _ in model.named_parameters()]
    if len(names) != len(gradient):
        raise ValueError(f"gradient has {len(gradient)} tensors, the model {len(names)} parameters")
    return {name: g.detach().double() for name, g in zip(names, gradient)}


def last_layer_features(d_weight: torch.Tensor, d_bias: torch.Tensor) -> torch.Tensor:
    """The input of a linear layer from its gradient: every row ``i`` of ``dW`` is
    ``db_i`` times that input, so least squares over all rows gives ``dWᵀ db / ‖db‖²``."""
    return (d_weight.T @ d_bias) / (d_bias @ d_bias)


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


def conv_shapes(convs: list[nn.Conv2d], image_shape: tuple[int, ...]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(input shape, output shape) of every convolution, from a forward pass of zeros."""
    shapes, x = [], torch.zeros(image_shape)
    for conv in convs:
        y = F.conv2d(x, conv.weight.detach().float(), stride=conv.stride, padding=conv.padding)
        shapes.append((tuple(x.shape), tuple(y.shape)))
        x = y
    return shapes


def equation_counts(model: nn.Module, image_shape: tuple[int, ...] = (1, 3, 32, 32)) -> list[dict]:
    """Unknowns and equations per layer, top down: the counting argument of the closed form."""
    convs, fc, _ = _layers(model)
    rows = [{"layer": "fc", "unknowns": fc.in_features, "forward_equations": 0, "gradient_equations": fc.weight.numel()}]
    shapes = conv_shapes(convs, image_shape)
    for depth in range(len(convs), 0, -1):
        (_, *input_shape), (_, *output_shape) = shapes[depth - 1]
        rows.append(
            {
                "layer": f"conv{depth}",
                "unknowns": math.prod(input_shape),
                "forward_equations": math.prod(output_shape),
                "gradient_equations": convs[depth - 1].weight.numel(),
            }
        )
    return rows


def recover(
    model: nn.Module,
    gradient: Gradient,
    image_shape: tuple[int, ...] = (1, 3, 32, 32),
    tolerance: float = 1e-7,
    strict: bool = True,
) -> Recovery:
    """Recover image and label from one image's gradient, layer by layer, no optimiser.

    ``tolerance`` is LSQR's relative stopping tolerance for every layer's system. A layer
    whose system cannot be trusted (see :func:`diagnose`) stops the recovery with a NaN
    image; ``strict=False`` solves on through every layer anyway (to look at what comes
    out) and still reports ``ok=False`` with the first reason."""
    convs, fc, activation = _layers(model)
    grads = _split_gradient(model, gradient)
    names = {module: name for name, module in model.named_modules()}
    d_fc_weight, d_fc_bias = grads[names[fc] + ".weight"], grads[names[fc] + ".bias"]
    label = infer_label(gradient)
    if float(d_fc_bias @ d_fc_bias) == 0.0 or not torch.isfinite(d_fc_weight).all():
        nan_image = torch.full(image_shape, math.nan, dtype=torch.float64)
        return Recovery(nan_image, label, {}, ok=False, reason="the last layer's gradient is zero or not finite")

    shapes = conv_shapes(convs, image_shape)

    features: dict[str, torch.Tensor] = {}
    top = last_layer_features(d_fc_weight, d_fc_bias)  # the fc layer's input, flattened a3
    output = top.reshape(shapes[-1][1])
    features[f"a{len(convs)}"] = output
    # error at the last convolution's output: through the fc weights, then the sigmoid
    delta = (fc.weight.detach().double().T @ d_fc_bias).reshape(output.shape) * activation_slope(output, activation)
    layers = []
    problem = ""
    u = output
    for depth in range(len(convs), 0, -1):
        conv = convs[depth - 1]
        d_weight = grads[names[conv] + ".weight"]
        clipped = output.clamp(0, 1) if activation == "sigmoid" else output.clamp_min(0)
        u, stats = solve_layer(
            conv, clipped, delta, d_weight, shapes[depth - 1][0], activation, name=f"conv{depth}", tolerance=tolerance
        )
        layers.append(stats)
        problem = problem or diagnose(u, stats)
        if problem and (strict or not torch.isfinite(u).all()):
            return Recovery(torch.full(image_shape, math.nan, dtype=torch.float64), label, features, layers, ok=False, reason=problem)
        if depth > 1:
            features[f"a{depth - 1}"] = u
            # error at the layer below: back through this convolution, then its sigmoid
            below = torch.nn.grad.conv2d_input(u.shape, conv.weight.detach().double(), delta, stride=conv.stride, padding=conv.padding)
            a = u.clamp(0, 1) if activation == "sigmoid" else u.clamp_min(0)
            delta = below * activation_slope(a, activation)
            output = u
    return Recovery(u, label, features, layers, ok=not problem, reason=problem)


def closed_form_attack(
    model: nn.Module,
    target: Gradient,
    recipe,
    image_shape: tuple[int, ...] = (1, 3, 32, 32),
    on_step=None,
):
    """The closed form as an attack recipe: a :class:`helpers.attack.Result` judged, like every
    recipe, by the matching loss of what it recovered, and flagged diverged when a layer's
    system cannot be trusted. With ``recipe.iterations > 0`` the recovered image is then
    polished by that many steps of L-BFGS (``recipe.line_search``) on the matching loss."""
    from .attack import DIVERGED, Result, judge, run_attack
    from .gradients import gradient_distance, model_gradient, model_num_classes, one_hot

    start = time.perf_counter()
    recovery = recover(model, target, image_shape, tolerance=recipe.solver_tolerance)
    parameter = next(model.parameters())
    image = recovery.image.to(dtype=parameter.dtype, device=parameter.device)
    extras = {"layers": recovery.layers}
    if not recovery.ok:
        return Result(
            recipe=recipe.name, image=image, label=[recovery.label], losses=[math.nan], snapshots={},
            iterations=0, evals=0, seconds=time.perf_counter() - start, status=DIVERGED,
            reason=recovery.reason, extras=extras,
        )
    if recipe.iterations > 0:
        polish = run_attack(
            model, target, image, None, recipe.with_(optimiser="torch-lbfgs"), snapshot_steps=(0, recipe.iterations), on_step=on_step
        )
        polish.seconds = time.perf_counter() - start
        polish.extras.update(extras)
        return polish
    soft = one_hot([recovery.label], model_num_classes(model)).to(parameter.device)
    with torch.enable_grad():
        loss = float(gradient_distance(model_gradient(model, image, soft), target, recipe.loss))
    status, reason = judge([loss], image, recipe)
    return Result(
        recipe=recipe.name,
        image=image,
        label=[recovery.label],
        losses=[loss],
        snapshots={0: image[0].clone()},
        iterations=0,
        evals=1,
        seconds=time.perf_counter() - start,
        status=status,
        reason=reason,
        extras=extras,
    )
