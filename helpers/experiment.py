"""The whole chain for one private example and one seed, as the notebooks and the CLI run it:

    seeded_setup(seed) -> true_gradient -> run_attack(recipe) -> evaluate
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

import torch

from .attack import Result, run_attack
from .data import Example
from .gradients import true_gradient
from .metrics import Metrics, evaluate
from .model import seeded_setup
from .recipes import Recipe, get_recipe


@dataclass
class Trial:
    """One attack on one example with one seed, scored against the truth."""

    seed: int
    example: Example
    result: Result
    metrics: Metrics  # NaN image metrics when the attack diverged: no reconstruction to score

    @property
    def success(self) -> bool:
        return self.result.status != "diverged" and self.metrics.success

    def as_dict(self) -> dict:
        """A flat, JSON-ready record (non-finite numbers become ``None``)."""
        r, m = self.result, self.metrics
        record = {
            "seed": self.seed,
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
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}


def score(result: Result, example: Example) -> Metrics:
    """Metrics of a result; a diverged run is not a reconstruction and gets NaN image metrics."""
    if result.status == "diverged":
        nan = math.nan
        return Metrics(nan, nan, nan, example.label, result.label[0])
    return evaluate(result.image[0], result.label[0], example.image, example.label)


def attack_example(
    example: Example,
    seed: int,
    recipe: str | Recipe = "dlg",
    *,
    iterations: int | None = None,
    weight_seed: int | None = None,
    dummy_seed: int | None = None,
    device: str | torch.device = "cpu",
    snapshot_steps: Iterable[int] | None = None,
    on_step: Callable[[int, float], None] | None = None,
    defence: Callable[[list[torch.Tensor]], list[torch.Tensor]] | None = None,
) -> Trial:
    """Run the reference experiment: seed the network and the dummy, let the client compute
    its gradient on ``example``, attack that gradient, and score the result.

    ``defence`` (optional) transforms the gradient before it is shared: the attack sees only
    its output."""
    recipe = get_recipe(recipe)
    setup = seeded_setup(seed, weight_seed=weight_seed, dummy_seed=dummy_seed, device=device, batch=recipe.restarts)
    shared = true_gradient(setup.model, example.image, example.label)
    if defence is not None:
        shared = defence(shared)
    result = run_attack(
        setup.model,
        shared,
        setup.dummy_image,
        setup.dummy_label,
        recipe,
        iterations=iterations,
        snapshot_steps=snapshot_steps,
        on_step=on_step,
    )
    return Trial(seed=seed, example=example, result=result, metrics=score(result, example))
