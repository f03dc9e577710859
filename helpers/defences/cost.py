"""What a defence costs the client: how much it changes the client's own training step (no
trained model here, so the cost is measured on the update itself, not on test accuracy)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..gradients import Gradient, gradient_norm, one_hot, soft_cross_entropy, true_gradient
from .transforms import Defence


@dataclass(frozen=True)
class Cost:
    """The defended step against the true one."""

    relative_change: float  # ||g~ - g|| / ||g||
    cosine: float  # cos(g~, g): 1 = same direction
    loss_before: float  # the client's loss on its private example
    decrease_true: float  # loss decrease of one SGD step with the true gradient
    decrease_defended: float  # ... with the defended gradient

    @property
    def step_efficiency(self) -> float:
        """Defended decrease / true decrease: 1 = the defence costs nothing on this step,
        0 = the step is useless, < 0 = it makes the loss worse."""
        return self.decrease_defended / self.decrease_true if self.decrease_true else math.nan


def loss_after_step(model: torch.nn.Module, images: torch.Tensor, target: torch.Tensor, step: Gradient | None,
                    lr: float) -> float:
    """The client's loss after ``w <- w - lr * step`` (``None``: no step); the model's
    weights are restored afterwards, also when the evaluation fails."""
    params = list(model.parameters())
    with torch.no_grad():
        saved = [p.detach().clone() for p in params]
        try:
            if step is not None:
                for p, s in zip(params, step):
                    p -= lr * s
            return float(soft_cross_entropy(model(images), target))
        finally:
            for p, s in zip(params, saved):
                p.copy_(s)


def defence_cost(model: torch.nn.Module, image: torch.Tensor, label: int, defence: Defence, lr: float = 1e-2) -> Cost:
    """The defence's effect on the client's own SGD step ``w <- w - lr * g`` on its private
    example: relative change and cosine of the gradient, and the loss decrease it buys."""
    g = true_gradient(model, image, label)
    shared = defence(g)
    diff = gradient_norm([a - b for a, b in zip(shared, g)])
    norm_g, norm_s = gradient_norm(g), gradient_norm(shared)
    dot = float(sum((a.double() * b.double()).sum() for a, b in zip(shared, g)))
    images = image.unsqueeze(0) if image.dim() == 3 else image
    target = one_hot(label).to(images.device)
    before = loss_after_step(model, images, target, None, lr)
    return Cost(
        relative_change=diff / norm_g if norm_g else math.nan,
        cosine=dot / (norm_g * norm_s) if norm_g and norm_s else math.nan,
        loss_before=before,
        decrease_true=before - loss_after_step(model, images, target, g, lr),
        decrease_defended=before - loss_after_step(model, images, target, shared, lr),
    )
