"""What a federated client shares: the gradient of its loss, and what it gives away at once.

``true_gradient`` is the message the client sends; ``infer_label`` is iDLG's observation
that the last layer's weight gradient alone names the label; ``gradient_distance`` is the
matching loss the attack minimises.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .data import NUM_CLASSES

Gradient = list[torch.Tensor]  # one tensor per model parameter, in ``model.parameters()`` order


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The reference's loss for soft labels: ``mean(sum(-target * log_softmax(logits)))``."""
    return torch.mean(torch.sum(-target * F.log_softmax(logits, dim=-1), dim=-1))


def logit_error(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per example, d(sum(-target * log_softmax(logits)))/d(logits) = softmax * sum(target) -
    target: the error a soft cross-entropy sends back into the last layer."""
    return F.softmax(logits, dim=-1) * target.sum(-1, keepdim=True) - target


def one_hot(label: int | Sequence[int] | torch.Tensor, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """Class indices as one-hot rows ``[B, num_classes]`` (a single int gives ``[1, num_classes]``)."""
    labels = torch.as_tensor(label).reshape(-1).long()
    return F.one_hot(labels, num_classes).float()


def model_gradient(
    model: nn.Module, images: torch.Tensor, soft_labels: torch.Tensor, create_graph: bool = False
) -> Gradient:
    """d(loss)/d(parameters) for ``images`` [B, 3, 32, 32] with ``soft_labels`` [B, classes]."""
    loss = soft_cross_entropy(model(images), soft_labels)
    return list(torch.autograd.grad(loss, list(model.parameters()), create_graph=create_graph))


def true_gradient(model: nn.Module, image: torch.Tensor, label: int | Sequence[int] | torch.Tensor) -> Gradient:
    """The gradient a client shares after one step on its private ``image`` and ``label``.

    ``image`` is one ``[3, 32, 32]`` image or a batch ``[B, 3, 32, 32]``; the result is
    detached: it is a message, not part of any graph.
    """
    images = image.unsqueeze(0) if image.dim() == 3 else image
    device = next(model.parameters()).device
    targets = one_hot(label, model_num_classes(model)).to(device)
    if targets.shape[0] != images.shape[0]:
        raise ValueError(f"{images.shape[0]} image(s) but {targets.shape[0]} label(s)")
    return [g.detach().clone() for g in model_gradient(model, images.to(device), targets)]


def model_num_classes(model: nn.Module) -> int:
    """The width of the last layer (the number of classes)."""
    return list(model.parameters())[-1].shape[0]


def label_scores(gradient: Gradient) -> torch.Tensor:
    """Row sums of the last layer's weight gradient, one per class.

    For one image, row ``i`` is ``(p_i - y_i) * x`` with ``x`` the (positive, sigmoid)
    features entering the layer: only the true class has ``p_i - y_i < 0``.
    """
    return gradient[-2].sum(dim=1)


def infer_label(gradient: Gradient) -> int:
    """iDLG: the label is the class whose last-layer weight-gradient row sums lowest."""
    return int(torch.argmin(label_scores(gradient)).item())


def gradient_distance(dummy: Gradient, target: Gradient, kind: str = "l2") -> torch.Tensor:
    """The matching loss: ``l2`` sums squared differences over all tensors (DLG);
    ``cosine`` is one minus the cosine similarity of the whole flattened gradients
    (Inverting Gradients)."""
    if kind == "l2":
        return sum(((gx - gy) ** 2).sum() for gx, gy in zip(dummy, target))
    if kind == "cosine":
        dot = sum((gx * gy).sum() for gx, gy in zip(dummy, target))
        norm_x = torch.sqrt(sum((gx**2).sum() for gx in dummy))
        norm_y = torch.sqrt(sum((gy**2).sum() for gy in target))
        return 1 - dot / (norm_x * norm_y + 1e-12)
    raise ValueError(f"unknown matching loss {kind!r}; choose 'l2' or 'cosine'")


def dummy_pull(
    model: nn.Module, target: Gradient, dummy_image: torch.Tensor, dummy_logits: torch.Tensor
) -> tuple[float, torch.Tensor]:
    """The reference's matching loss at a dummy and its gradient with respect to the dummy
    image: the direction in which a search moves the pixels (a double backward through
    ``model``). ``dummy_logits`` go through a softmax, as in the reference."""
    image = dummy_image.detach().clone().requires_grad_(True)
    dummy = model_gradient(model, image, F.softmax(dummy_logits.detach(), dim=-1), create_graph=True)
    loss = gradient_distance(dummy, target)
    (pull,) = torch.autograd.grad(loss, [image])
    return float(loss.detach()), pull


def gradient_norm(gradient: Gradient) -> float:
    """The Euclidean norm of a whole gradient (all tensors flattened together)."""
    return float(torch.sqrt(sum((g.double() ** 2).sum() for g in gradient)))


def infer_labels(gradient: Gradient, count: int | None = None) -> list[int]:
    """Label inference for a batch (iDLG's argument, generalised as far as it goes).

    For a batch of B images the last layer's row ``c`` is ``mean_b (p_bc - y_bc) h_b``. A
    class that no image carries has only positive terms, so its row sum is positive; a class
    that some image carries gets a ``-(1 - p) h`` term that usually, but not provably, wins.
    So: the classes whose row sums are negative, most negative first. What it cannot tell:
    how many images share a class (a repeated label shows up once), and a present class whose
    negative term is outweighed by the other images' ``p h`` terms is missed. With ``count``
    the list is cut to ``count`` classes, or padded by repeating the most negative classes in
    order (a guess at the repeats, not an inference).
    """
    scores = label_scores(gradient)
    order = torch.argsort(scores, stable=True).tolist()
    labels = [c for c in order if scores[c] < 0]
    if count is None:
        return labels
    if not labels:
        labels = order[:1]
    if len(labels) >= count:
        return labels[:count]
    return labels + [labels[i % len(labels)] for i in range(count - len(labels))]
