"""Many dummies at once: per-example matching losses for K dummies in one batched
forward/backward, so restarts cost one evaluation per iteration, not K."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..gradients import Gradient, gradient_distance, logit_error, soft_cross_entropy
from ..model import activation_name, activation_slope

_FORWARD = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}


def _lenet_layers(model: nn.Module):
    """(convs, activations, linear) when ``model`` is a conv-activation stack and one linear
    layer, as :class:`helpers.model.LeNet` is; ``None`` otherwise."""
    body, fc = getattr(model, "body", None), getattr(model, "fc", None)
    if not isinstance(body, nn.Sequential) or not isinstance(fc, nn.Sequential) or len(fc) != 1:
        return None
    mods = list(body)
    if len(mods) % 2 or not isinstance(fc[0], nn.Linear):
        return None
    convs, acts = mods[0::2], mods[1::2]
    if not all(isinstance(c, nn.Conv2d) and c.groups == 1 and c.dilation == (1, 1) and c.bias is not None
               and isinstance(c.padding, tuple) for c in convs):
        return None
    if any(activation_name(a) is None for a in acts):
        return None
    names = [n for n, _ in model.named_parameters()]
    expected = [f"body.{2 * i}.{w}" for i in range(len(convs)) for w in ("weight", "bias")] + ["fc.0.weight", "fc.0.bias"]
    return (convs, [activation_name(a) for a in acts], fc[0]) if names == expected else None


def _lenet_gradients(layers, x: torch.Tensor, soft_label: torch.Tensor) -> list[torch.Tensor]:
    """Per-example parameter gradients of the soft cross-entropy for a batch ``x`` [n, C, H, W],
    each tensor with a leading n: the forward and backward written out as batched matrix
    products (``unfold``/``fold``), differentiable once more with respect to ``x``."""
    convs, kinds, linear = layers
    n = x.shape[0]
    a, cols, outs, sizes = x, [], [], []
    for conv, kind in zip(convs, kinds):
        size = a.shape[-2:]
        u = F.unfold(a, conv.kernel_size, padding=conv.padding, stride=conv.stride)  # [n, C*k*k, L]
        h_out = (size[0] + 2 * conv.padding[0] - conv.kernel_size[0]) // conv.stride[0] + 1
        w_out = (size[1] + 2 * conv.padding[1] - conv.kernel_size[1]) // conv.stride[1] + 1
        z = conv.weight.detach().flatten(1) @ u + conv.bias.detach()[:, None]
        a = _FORWARD[kind](z).reshape(n, -1, h_out, w_out)
        cols.append(u)
        outs.append(a)
        sizes.append(size)
    features = a.reshape(n, -1)
    logits = features @ linear.weight.detach().T + linear.bias.detach()
    delta = logit_error(logits, soft_label)
    grads: list[torch.Tensor] = [delta[:, :, None] * features[:, None, :], delta]
    upstream = (delta @ linear.weight.detach()).reshape(a.shape)
    for i in range(len(convs) - 1, -1, -1):
        conv = convs[i]
        dz = (upstream * activation_slope(kinds[i], outs[i])).flatten(2)  # [n, C_out, L]
        grads = [(dz @ cols[i].transpose(1, 2)).reshape(n, *conv.weight.shape), dz.sum(-1)] + grads
        if i:
            upstream = F.fold(
                conv.weight.detach().flatten(1).T @ dz, sizes[i], conv.kernel_size, padding=conv.padding, stride=conv.stride
            )
    return grads


def _rowwise_distance(dummy: list[torch.Tensor], target: Gradient, kind: str) -> torch.Tensor:
    """:func:`helpers.gradients.gradient_distance` for each row of per-example gradients."""
    n = dummy[0].shape[0]
    flat = [g.reshape(n, -1) for g in dummy]
    goal = [t.reshape(1, -1) for t in target]
    if kind == "l2":
        return sum(((g - t) ** 2).sum(1) for g, t in zip(flat, goal))
    if kind == "cosine":
        dot = sum((g * t).sum(1) for g, t in zip(flat, goal))
        norm_x = torch.sqrt(sum((g**2).sum(1) for g in flat))
        norm_y = torch.sqrt(sum((t**2).sum() for t in goal))
        return 1 - dot / (norm_x * norm_y + 1e-12)
    raise ValueError(f"unknown matching loss {kind!r}; choose 'l2' or 'cosine'")


def batched_matching_loss(
    model: nn.Module, target: Gradient, soft_label: torch.Tensor, kind: str = "l2"
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function mapping dummies [n, 3, 32, 32] to their n matching losses in one batched
    forward/backward: row i is ``gradient_distance(model_gradient(model, x[i:i+1], label), target)``.

    A LeNet-shaped model (conv-activation stack, one linear layer) gets a hand-batched
    gradient (``unfold`` + batched matrix products); any other model goes through
    ``torch.func.vmap`` over per-example gradients."""
    layers = _lenet_layers(model)
    if layers is not None:
        def losses(x: torch.Tensor) -> torch.Tensor:
            label = soft_label.expand(x.shape[0], -1)
            return _rowwise_distance(_lenet_gradients(layers, x, label), target, kind)

        return losses

    from torch.func import functional_call, grad, vmap

    params = {name: p.detach() for name, p in model.named_parameters()}
    label = soft_label[:1]

    def one(x: torch.Tensor) -> torch.Tensor:
        def ce(p: dict[str, torch.Tensor]) -> torch.Tensor:
            return soft_cross_entropy(functional_call(model, p, (x.unsqueeze(0),)), label)

        g = grad(ce)(params)
        return gradient_distance(list(g.values()), target, kind)

    batched = vmap(one)
    return lambda x: batched(x)
