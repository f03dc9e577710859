"""A client's local training and what the server receives from it.

:func:`local_update` trains a copy of the global model on one client's images (plain SGD, or
Opacus's DP-SGD) and returns its contribution read as a gradient; :func:`share` averages the
contributions of several clients, as a server behind secure aggregation sees them.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from ..gradients import Gradient, model_num_classes, one_hot, soft_cross_entropy, true_gradient
from .privacy import DPSGD, privatise, quiet_opacus
from .spec import Client, FedAvg, FedSGD

ClientData = tuple[torch.Tensor, Sequence[int]]  # a client's images [B, 3, 32, 32] and labels


@dataclass
class Message:
    """What the server receives from the attacked client, as the attacker reads it: the mean of
    ``clients`` contributions (1: the attacked client's own), each its weight update divided by
    the learning rate (or its gradient, for FedSGD), and the privacy each client's DP-SGD
    guarantees (``epsilon`` None without DP-SGD, infinite without noise)."""

    gradient: Gradient
    clients: int = 1
    epsilon: float | None = None
    delta: float | None = None


def local_update(
    model: nn.Module, images: torch.Tensor, labels: Sequence[int], client: Client = FedSGD(),
    dp: DPSGD | None = None, seed: int = 0,
) -> tuple[Gradient, float | None]:
    """One client's contribution read as a gradient, and its DP-SGD epsilon (None without).

    A FedSGD client without DP-SGD shares :func:`helpers.gradients.true_gradient`, the paper's
    message. Otherwise a copy of ``model`` trains (:func:`local_training`); a FedSGD client
    shares that one step's gradient, a FedAvg client ``(w_start - w_end) / lr``. ``model``
    itself is never changed."""
    images = images.unsqueeze(0) if images.dim() == 3 else images
    if dp is None and isinstance(client, FedSGD):
        return true_gradient(model, images, labels), None
    weights, gradient, epsilon = local_training(model, images, labels, client, dp, seed)
    if gradient is None:
        lr = client.lr if isinstance(client, FedAvg) else 1.0
        gradient = [(s.detach() - w) / lr for s, w in zip(model.parameters(), weights)]
    return gradient, epsilon


def local_training(
    model: nn.Module, images: torch.Tensor, labels: Sequence[int], client: Client = FedSGD(),
    dp: DPSGD | None = None, seed: int = 0,
) -> tuple[list[torch.Tensor], Gradient | None, float | None]:
    """Train a copy of ``model`` as the client does: each of ``client.steps`` steps is one SGD
    step on the mean loss of all ``images`` (with DP-SGD: per-example clipping and noise drawn
    from a generator seeded by ``seed``). Returns the weights after training, the gradient of
    a FedSGD client's one step (None for FedAvg) and DP-SGD's epsilon (None without it).
    A FedSGD client's weights are the start, as it does not step."""
    images = images.unsqueeze(0) if images.dim() == 3 else images
    device = next(model.parameters()).device
    worker = copy.deepcopy(model)
    lr = client.lr if isinstance(client, FedAvg) else 1.0
    optimiser = torch.optim.SGD(worker.parameters(), lr=lr)
    batch = (images.to(device), one_hot(labels, model_num_classes(model)).to(device))
    epsilon, gradient = None, None
    with quiet_opacus():
        if dp is not None:  # every step takes the whole local batch: sampling rate 1, as the accountant records
            data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*batch), batch_size=len(batch[0]))
            generator = torch.Generator(batch[0].device).manual_seed(seed)
            worker, optimiser, _, engine = privatise(worker, optimiser, data, dp, generator, poisson_sampling=False)
        for _ in range(client.steps):
            optimiser.zero_grad()
            soft_cross_entropy(worker(batch[0]), batch[1]).backward()
            if isinstance(client, FedSGD):  # the gradient (clipped and noised by DP-SGD) is the message
                if dp is not None:
                    optimiser.pre_step()
                gradient = [p.grad.detach().clone() for p in worker.parameters()]
                break
            optimiser.step()
        if dp is not None:
            epsilon = math.inf if dp.sigma == 0 else float(engine.get_epsilon(dp.delta))
    weights = [p.detach().clone() for p in worker.parameters()]
    return weights, gradient, epsilon


def share(
    model: nn.Module, images: torch.Tensor, labels: Sequence[int], client: Client = FedSGD(),
    dp: DPSGD | None = None, seed: int = 0, others: Sequence[ClientData] = (),
) -> Message:
    """What the server receives when the attacked client (``images``, ``labels``) and the
    ``others`` train on the same global ``model`` with the same ``client`` settings: with no
    others, the attacked client's contribution; with others (secure aggregation), only the mean
    of every client's contribution. Each client's DP-SGD noise has its own seed."""
    gradient, epsilon = local_update(model, images, labels, client, dp, seed)
    for k, (other_images, other_labels) in enumerate(others, start=1):
        update, _ = local_update(model, other_images, other_labels, client, dp, seed + k * 100_003)
        gradient = [g + u for g, u in zip(gradient, update)]
    if others:
        gradient = [g / (len(others) + 1) for g in gradient]
    return Message(gradient, len(others) + 1, epsilon, dp.delta if dp is not None else None)
