"""One trial, the one pipeline every entry point (notebooks, CLI, sweeps) runs:

    seeded_setup(seed) -> what the client shares (helpers.clients.share: its gradient, its
        FedAvg update, DP-SGD, the mean over securely aggregated clients)
        -> defence.seeded(seed) -> run_attack(recipe) -> score against the truth

A trial with a local batch attacks all the client's images at once (one dummy row each);
otherwise the dummy has one row per restart of the recipe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import torch

from ..attacks import DIVERGED, Checkpoint, Recipe, Result, StepHook, get_recipe, run_attack
from ..clients import DPSGD, Client, FedSGD, share
from ..data import Example
from ..defences import Defence
from ..metrics import Metrics, evaluate, psnr
from ..model import exact_cuda_matmul, seeded_setup


def attack_shared(
    examples: Sequence[Example],
    seed: int,
    recipe: str | Recipe = "dlg",
    *,
    defence: Defence | DPSGD | None = None,
    client: Client | None = None,
    others: Sequence[Sequence[Example]] = (),
    iterations: int | None = None,
    weight_seed: int | None = None,
    dummy_seed: int | None = None,
    device: str | torch.device = "cpu",
    snapshot_steps: Iterable[int] | None = None,
    on_step: StepHook | None = None,
    checkpoint: Checkpoint | None = None,
    model: str = "lenet",
) -> Result:
    """Seed the network (``model``, one of :data:`helpers.model.MODELS`) and the dummy, let the
    client (``client``, default FedSGD) train on ``examples`` (one image, or a local batch of
    several) and share its gradient or update, averaged with the ``others``' (each a list of
    examples: secure aggregation) if given; a ``defence`` is DP-SGD on every client, or a
    transform of what is shared, seeded by ``seed``. The attack reads what the server receives
    as a gradient. ``result.extras["client"]`` records the client, the number of aggregated
    clients and DP-SGD's epsilon and delta."""
    recipe = get_recipe(recipe)
    size = len(examples)
    if size == 0:
        raise ValueError("a trial needs at least one private image")
    if size > 1 and not attacks_batches(recipe):
        raise ValueError(f"recipe {recipe.name!r} recovers one image; a batch of {size} needs a search with one "
                         "dummy row per image (dlg, idlg, or a recipe made from them)")
    client = client or FedSGD(batch=size)
    if client.batch != size:
        raise ValueError(f"the client trains on {client.batch} image(s) but {size} were given")
    dp = defence if isinstance(defence, DPSGD) else None
    device = torch.device(device)
    rows = size if size > 1 else recipe.restarts  # one dummy row per image, or per restart
    setup = seeded_setup(seed, weight_seed=weight_seed, dummy_seed=dummy_seed, device=device, batch=rows, model=model)
    images = torch.stack([e.image for e in examples])
    with exact_cuda_matmul():  # the client's gradient and the attacker's dummy gradients alike
        message = share(setup.model, images, [e.label for e in examples], client, dp, seed,
                        [(torch.stack([e.image for e in other]), [e.label for e in other]) for other in others])
        shared = message.gradient
        if defence is not None and dp is None:
            shared = defence.seeded(seed)(shared)
        result = run_attack(setup.model, shared, setup.dummy_image, setup.dummy_label, recipe,
                            iterations=iterations, snapshot_steps=snapshot_steps, on_step=on_step,
                            checkpoint=checkpoint)
    result.extras["client"] = {"client": client.spec, "aggregate": message.clients,
                               "epsilon": message.epsilon, "delta": message.delta}
    return result


def attacks_batches(recipe: str | Recipe) -> bool:
    """Whether a recipe can attack a local batch: the reference's search, one dummy row per
    image, with each row's label optimised (dlg) or read off the gradient (idlg: the batch's
    negative rows, :func:`helpers.gradients.infer_labels`)."""
    recipe = get_recipe(recipe)
    return recipe.optimiser == "torch-lbfgs" and recipe.restarts == 1


@dataclass
class Trial:
    """One attack on one example with one seed, scored against the truth."""

    seed: int
    example: Example
    result: Result
    metrics: Metrics  # NaN image metrics when the attack diverged: no reconstruction to score
    model: str = "lenet"  # the victim network (helpers.model.MODELS)

    @property
    def success(self) -> bool:
        return self.metrics.success and not self.result.diverged

    def at(self, step: int) -> dict[str, float]:
        """The matching loss and the leading dummy's PSNR after ``step`` outer steps (the final
        ones if the run stopped earlier); needs ``step`` among the trial's ``snapshot_steps``
        unless the run stopped before it. PSNR is NaN once the dummy is not finite."""
        r = self.result
        if step in r.snapshots:
            image = r.snapshots[step]
        elif step >= r.iterations:
            image = r.image[0]
        else:
            raise ValueError(f"step {step} was not among the snapshot steps of this trial")
        value = psnr(image, self.example.image) if torch.isfinite(image).all() else math.nan
        return {"loss": r.loss_at(step), "psnr": value}

    def as_dict(self) -> dict:
        """A flat record; :func:`helpers.experiments.storage.to_json` writes it."""
        r, m = self.result, self.metrics
        return {
            "seed": self.seed,
            "model": self.model,
            **r.extras.get("client", {}),
            "recipe": r.recipe,
            "image": self.example.name,
            "label_true": m.label_true,
            "label_recovered": m.label_recovered,
            "label_correct": m.label_correct,
            "status": r.status,
            "reason": r.reason,
            "success": self.success,
            "grad_loss": r.grad_loss,
            "first_loss": r.first_loss,
            "mse": m.mse,
            "psnr": m.psnr,
            "ssim": m.ssim,
            "iterations": r.iterations,
            "evals": r.evals,
            "seconds": round(r.seconds, 3),
        }


def score(result: Result, example: Example, row: int = 0) -> Metrics:
    """Metrics of row ``row`` of a result; a diverged run is not a reconstruction and gets NaN
    image metrics."""
    if result.status == DIVERGED:
        return Metrics(math.nan, math.nan, math.nan, example.label, result.label[row])
    return evaluate(result.image[row], result.label[row], example.image, example.label)


def attack_example(example: Example, seed: int, recipe: str | Recipe = "dlg", **options: Any) -> Trial:
    """Run the reference experiment on one private ``example``: :func:`attack_shared` (whose
    keyword ``options`` it takes: ``iterations``, ``defence``, ``client``, ``others``,
    ``weight_seed``, ``dummy_seed``, ``device``, ``snapshot_steps``, ``on_step``, ``checkpoint``,
    ``model``), then score the result.
    A ``defence`` transforms the gradient before it is shared, its noise seeded by ``seed``."""
    result = attack_shared([example], seed, recipe, **options)
    return Trial(seed=seed, example=example, result=result, metrics=score(result, example),
                 model=options.get("model", "lenet"))
