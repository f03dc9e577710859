"""Solve instead of search: recover the private image from one gradient, layer by layer.

For one image and the Sigmoid LeNet, the shared gradient pins the input down (the idea of
R-GAP, Zhu & Blaschko, ICLR 2021):

* last layer: ``dW_fc = δ ⊗ a₃`` and ``db_fc = δ``, so the features ``a₃`` entering it are
  the weight gradient divided by the bias gradient (least squares over all rows), and the
  label is the one row where ``db_fc`` is negative;
* each convolution, top down: the output's pre-activation is known (``z = logit(a)``), the
  back-propagated error ``δ`` is known from the layers above, and the input ``u`` is solved
  from linear equations (:mod:`.layer_solve`); ``u`` is the next layer's output, or the
  image at the bottom.

This module imports nothing from the search: :mod:`.polish` composes "solve, then polish".

"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..gradients import Gradient, infer_label
from ..model import activation_slope
from .layer_solve import LayerSolve, diagnose, relu_active, solve_layer

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


def unit_slope(a: torch.Tensor, activation: str) -> torch.Tensor:
    """The activation's derivative at a recovered unit: σ' = a(1 - a); for ReLU, 1 where the
    recovered output is clearly positive (:func:`relu_active`), 0 elsewhere."""
    return relu_active(a) if activation == "relu" else activation_slope(activation, a)


def _split_gradient(model: nn.Module, gradient: Gradient) -> dict[str, torch.Tensor]:
    names = [name for name, _ in model.named_parameters()]
    if len(names) != len(gradient):
        raise ValueError(f"gradient has {len(gradient)} tensors, the model {len(names)} parameters")
    return {name: g.detach().double() for name, g in zip(names, gradient)}


def last_layer_features(d_weight: torch.Tensor, d_bias: torch.Tensor) -> torch.Tensor:
    """The input of a linear layer from its gradient: every row ``i`` of ``dW`` is
    ``db_i`` times that input, so least squares over all rows gives ``dWᵀ db / ‖db‖²``."""
    return (d_weight.T @ d_bias) / (d_bias @ d_bias)


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
    checkpoint: Callable[[], None] | None = None,
) -> Recovery:
    """Recover image and label from one image's gradient, layer by layer, no optimiser.

    ``tolerance`` is LSQR's relative stopping tolerance for every layer's system. A layer
    whose system cannot be trusted (see :func:`diagnose`) stops the recovery with a NaN
    image; ``strict=False`` solves on through every layer anyway (to look at what comes
    out) and still reports ``ok=False`` with the first reason. ``checkpoint()`` is called
    before each layer's solve (raise there to stop)."""
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
    delta = (fc.weight.detach().double().T @ d_fc_bias).reshape(output.shape) * unit_slope(output, activation)
    layers = []
    problem = ""
    u = output
    for depth in range(len(convs), 0, -1):
        if checkpoint is not None:
            checkpoint()
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
            delta = below * unit_slope(a, activation)
            output = u
    return Recovery(u, label, features, layers, ok=not problem, reason=problem)

