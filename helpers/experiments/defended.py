"""A trial against a defended client, scored image by image: what the defence chapters
measure. A local batch's reconstructions come back in no order and are paired with the
private images first (:func:`.client.pair_reconstructions`). The client may train with FedAvg
or DP-SGD, and hide among other clients behind secure aggregation (:mod:`helpers.clients`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Callable, Sequence

import torch

from ..attacks import Recipe, get_recipe
from ..clients import DPSGD, Client, FedSGD
from ..data import Example
from ..defences import NoDefence
from ..metrics import recognisable, succeeded
from ..statistics import mean_score
from .client import Condition, LocalBatch, batch_size, pair_reconstructions, parse_condition
from .trial import attack_shared, score


@dataclass
class DefenceRun:
    """One attack on a defended gradient, scored (batch runs: per image, after pairing)."""

    spec: str
    kind: str
    strength: float
    seed: int
    recipe: str
    images: list[str]
    status: str
    reason: str
    grad_loss: float
    iterations: int
    seconds: float
    psnr: list[float]  # one per private image (paired), NaN when diverged
    ssim: list[float]
    labels_true: list[int]
    labels_recovered: list[int]  # the label of the reconstruction paired with each image
    pairing: list[int]
    reconstruction: torch.Tensor | None = None  # [B, 3, 32, 32], in the private images' order
    model: str = "lenet"
    client: str = "fedsgd"  # helpers.clients' spelling of the attacked client
    aggregate: int = 1  # clients whose mean update the server sees (secure aggregation)
    epsilon: float | None = None  # DP-SGD's guarantee per client (None: no DP-SGD; inf: no noise)
    delta: float | None = None

    diverged = property(lambda self: self.status == "diverged")
    mean_psnr = property(lambda self: mean_score(self.psnr), doc="Mean PSNR over the images (NaN: diverged).")
    mean_ssim = property(lambda self: mean_score(self.ssim), doc="Mean SSIM over the images (NaN: diverged).")
    recovered = property(lambda self: self._passing(succeeded, self.psnr), doc="Images recovered (success rule).")
    recognised = property(lambda self: self._passing(recognisable, self.ssim), doc="Images still recognisable.")
    success = property(lambda self: self._every(self.recovered), doc="Every private image recovered.")
    recognisable = property(lambda self: self._every(self.recognised), doc="Every private image recognisable.")
    labels_correct = property(lambda self: sum(a == b for a, b in zip(self.labels_true, self.labels_recovered)))

    def _passing(self, rule: Callable[[float, bool], bool], scores: list[float]) -> int:
        return sum(rule(v, self.diverged) for v in scores)

    def _every(self, count: int) -> bool:
        return not self.diverged and count == len(self.psnr)

    def as_dict(self) -> dict:
        """A flat record (without the reconstruction); :func:`.storage.to_json` writes it."""
        record = {k: v for k, v in asdict(self).items() if k != "reconstruction"}
        return record | {"mean_psnr": self.mean_psnr, "mean_ssim": self.mean_ssim, "success": self.success}


def defended_attack(
    examples: Example | Sequence[Example],
    seed: int,
    defence: Condition | DPSGD | str = NoDefence(),
    recipe: str | Recipe = "dlg",
    *,
    iterations: int | None = None,
    client: Client | None = None,
    aggregate: int = 1,
    model: str = "lenet",
) -> DefenceRun:
    """Attack what a defended client shares: the gradient of ``examples[0]`` defended by
    ``defence`` (its noise seeded by ``seed``), or for a :class:`.client.LocalBatch` of size
    B (or a ``client`` training on B images) what it shares of ``examples[:B]``, attacked with
    B dummy rows. With ``aggregate`` N > 1 the next (N - 1) * B examples are the other
    clients' (B each) and the server sees the mean of the N updates. The trial is
    :func:`.trial.attack_shared`, as for every other entry point."""
    if isinstance(defence, str):
        defence = parse_condition(defence)
    recipe = get_recipe(recipe)
    examples = [examples] if isinstance(examples, Example) else list(examples)
    if isinstance(defence, LocalBatch) and client is not None and client.batch not in (1, defence.size):
        raise ValueError(f"batch={defence.size} and a client batch of {client.batch} disagree; give one of them")
    size = batch_size(defence) if isinstance(defence, LocalBatch) else (client.batch if client else 1)
    client = client or FedSGD()
    if client.batch != size:
        client = replace(client, batch=size)
    if aggregate < 1:
        raise ValueError(f"the number of aggregated clients must be >= 1, got {aggregate}")
    if len(examples) < size * aggregate:
        raise ValueError(f"{aggregate} client(s) with {size} image(s) each need {size * aggregate} private images, "
                         f"got {len(examples)}")
    batch = examples[:size]
    others = [examples[k * size:(k + 1) * size] for k in range(1, aggregate)]
    gradient_defence = None if isinstance(defence, LocalBatch) else defence
    result = attack_shared(batch, seed, recipe, defence=gradient_defence, client=client, others=others,
                           iterations=iterations, snapshot_steps=(), model=model)
    shared = result.extras["client"]
    images = torch.stack([e.image for e in batch])
    pairing = list(range(size)) if result.diverged else pair_reconstructions(result.image, images)
    metrics = [score(result, example, row) for example, row in zip(batch, pairing)]
    return DefenceRun(
        spec=defence.spec,
        kind=defence.kind,
        strength=defence.strength,
        seed=seed,
        recipe=recipe.name,
        images=[e.name for e in batch],
        status=result.status,
        reason=result.reason,
        grad_loss=result.grad_loss,
        iterations=result.iterations,
        seconds=round(result.seconds, 3),
        psnr=[m.psnr for m in metrics],
        ssim=[m.ssim for m in metrics],
        labels_true=[e.label for e in batch],
        labels_recovered=[result.label[row] for row in pairing],
        pairing=pairing,
        reconstruction=result.image.detach()[pairing].clone(),
        model=model,
        client=shared["client"],
        aggregate=shared["aggregate"],
        epsilon=shared["epsilon"],
        delta=shared["delta"],
    )
