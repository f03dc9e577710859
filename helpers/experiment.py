"""The whole chain for one private example and one seed, as the notebooks and the CLI run it:

    seeded_setup(seed) -> true_gradient -> run_attack(recipe) -> evaluate
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import torch

from .attack import Result, run_attack
from .data import Example
from .gradients import true_gradient
from .metrics import SUCCESS_PSNR, Metrics, evaluate, psnr
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


@dataclass
class Timing:
    """How long one attack took to reach a PSNR: the fair speed measure between recipes."""

    trial: Trial
    step: int | None  # first outer step whose reconstruction reached the mark (None: never)
    seconds: float  # wall clock at that step (NaN: never)
    curve: dict[float, float]  # wall-clock seconds after each outer step -> PSNR of that step's dummy


def time_to_psnr(example: Example, seed: int, recipe: str | Recipe = "dlg", iterations: int | None = None,
                 mark: float = SUCCESS_PSNR) -> Timing:
    """One attack with a snapshot and the wall clock after every outer step. The attack itself
    only reports its matching loss; the PSNR of each snapshot is computed here, afterwards,
    against the truth, so measuring costs the attack nothing but the snapshot copies."""
    clock: dict[int, float] = {}
    start = time.perf_counter()
    trial = attack_example(example, seed, recipe, iterations=iterations, snapshot_steps=range(0, 100_000),
                           on_step=lambda step, loss: clock.__setitem__(step, time.perf_counter() - start))
    by_step = {step: psnr(image, example.image) for step, image in sorted(trial.result.snapshots.items()) if step in clock}
    curve = {clock[step]: value for step, value in by_step.items()}
    step = next((s for s, value in by_step.items() if value >= mark), None)
    seconds = clock[step] if step is not None else math.nan
    if trial.result.iterations == 0 and trial.metrics.psnr >= mark:  # solved, not searched: no steps to clock
        step, seconds = 0, trial.result.seconds
    return Timing(trial, step, seconds, curve)


def timing_job(job: tuple) -> Timing:
    """``time_to_psnr(*job)``: a picklable job for :func:`helpers.sweep.parallel_map`, so two
    recipes can be timed at once, one per core."""
    return time_to_psnr(*job)
