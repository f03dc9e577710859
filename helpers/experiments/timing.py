"""How long an attack takes to reach a PSNR: the fair speed measure between recipes."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from ..attacks import Recipe
from ..data import Example
from ..metrics import SUCCESS_PSNR, psnr
from .trial import Trial, attack_example


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
                           on_step=lambda progress: clock.__setitem__(progress.step, time.perf_counter() - start))
    by_step = {step: psnr(image, example.image) for step, image in sorted(trial.result.snapshots.items()) if step in clock}
    curve = {clock[step]: value for step, value in by_step.items()}
    step = next((s for s, value in by_step.items() if value >= mark), None)
    seconds = clock[step] if step is not None else math.nan
    if trial.result.iterations == 0 and trial.metrics.psnr >= mark:  # solved, not searched: no steps to clock
        step, seconds = 0, trial.result.seconds
    return Timing(trial, step, seconds, curve)


def timing_job(job: tuple) -> Timing:
    """``time_to_psnr(*job)``: a picklable job for :func:`helpers.pool.parallel_map`, so two
    recipes can be timed at once, one per core."""
    return time_to_psnr(*job)
