"""One live attack as a stream of frames: the same trial pipeline as the command line
(:func:`helpers.experiments.attack_example`), watched step by step.

A :class:`Request` names everything a run depends on (image, seed, recipe, steps, defence),
so the same request gives the same numbers here, in a notebook or from ``python -m helpers``
on the same machine. :func:`stream_attack` turns it into :class:`Frame`\\ s: the dummy at a
step, the matching loss so far, PSNR / SSIM and the label against the truth (the console is
the referee; the attack never sees the truth), and at the end the status with its reason.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from ..attacks import RECIPES, Progress, Recipe, get_recipe
from ..data import Example
from ..defences import Defence, NoDefence, parse_defence
from ..experiments import DefenceRun, Trial, attack_example
from ..metrics import evaluate

RUNNING, STOPPED = "running", "stopped"


@dataclass(frozen=True)
class Request:
    """One attack the console can run: what the CLI's ``attack`` command would be given."""

    example: Example
    seed: int
    recipe: str | Recipe = "dlg"  # a recipe's name, or a recipe made in a notebook (``ROBUST.with_(...)``)
    steps: int | None = None  # outer steps; None: the recipe's own
    defence: str = "none"  # the command line's spelling: none, noise=1e-3, prune=0.5, fp16, ...

    def __post_init__(self) -> None:
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise ValueError(f"a seed is a whole number from 0 to 2**32 - 1, got {self.seed!r}")
        get_recipe(self.recipe)
        if self.steps is not None and self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        parse_defence(self.defence)

    @property
    def recipe_name(self) -> str:
        return get_recipe(self.recipe).name

    @property
    def iterations(self) -> int:
        return get_recipe(self.recipe).iterations if self.steps is None else self.steps

    def gradient_defence(self) -> Defence | None:
        defence = parse_defence(self.defence)
        return None if isinstance(defence, NoDefence) else defence

    def describe(self) -> str:
        defended = "" if self.defence == "none" else f" · defence {self.defence}"
        return f"{self.example.name} · seed {self.seed} · {self.recipe_name} · {self.iterations} steps{defended}"

    def command(self, threads: int = 1) -> str:
        """The same attack from the command line, on ``threads`` torch threads (the count changes
        the float rounding, so the same count gives the same numbers); "" for a recipe made in a
        notebook, which the command line does not know."""
        if RECIPES.get(self.recipe_name) != get_recipe(self.recipe):
            return ""
        source, _, index = self.example.name.partition(":")
        if source == "cifar100":
            where = f"--dataset cifar100 --index {index}"
        elif source == "sample":
            from ..data import sample_names

            where = f"--index {sample_names().index(index)}"
        else:  # an uploaded or other file: the command line reads it from disk, with the label given
            where = f"--image PATH --label {self.example.label}"
        steps = "" if self.steps is None else f" --iters {self.steps}"
        defence = "" if self.defence == "none" else f" --defence {self.defence}"
        return (f"python -m helpers attack {where} --seed {self.seed} --recipe {self.recipe_name}{steps}{defence} "
                f"--threads {threads} --json")


@dataclass
class Frame:
    """What the console shows at one moment of one run."""

    request: Request
    step: int  # outer steps taken (0: the start)
    steps: int  # the run's outer steps
    losses: list[float]  # matching loss per reported step so far (NaN where not yet computed)
    dummy: torch.Tensor | None  # the current dummy [3, 32, 32]; None before the first one exists
    psnr: float = math.nan
    ssim: float = math.nan
    label: int | None = None  # recovered label, once known
    status: str = RUNNING  # running | stopped | converged | stalled | diverged
    reason: str = ""
    seconds: float = 0.0  # since the run started
    stored: bool = False  # replayed from results computed earlier, not run now
    threads: int = 1  # torch threads the run computed with
    trial: Trial | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.status != RUNNING


def stream_attack(
    request: Request,
    emit: Callable[[Frame], object],
    checkpoint: Callable[[], None] | None = None,
    *,
    interval: float = 0.25,
) -> Trial:
    """Run ``request`` and ``emit`` a frame at the start, then at most one every ``interval``
    seconds while it runs (always the first steps), and the final one; ``checkpoint()`` is
    called before every matching-loss evaluation and may raise to stop the run."""
    example = request.example
    start = time.perf_counter()
    threads = torch.get_num_threads()
    known: dict[int, float] = {}  # step -> matching loss of that step's dummy
    last = [-math.inf]

    def seconds() -> float:
        return time.perf_counter() - start

    emit(Frame(request, 0, request.iterations, [], None, seconds=seconds(), threads=threads))

    def on_step(progress: Progress) -> None:
        if progress.loss_step >= 0:
            known[progress.loss_step] = progress.loss
        now = time.perf_counter()
        if progress.step > 1 and now - last[0] < interval:
            return
        last[0] = now
        image = progress.image.detach().cpu().clone()
        metrics = evaluate(image, progress.label, example.image, example.label)
        losses = [known.get(step, math.nan) for step in range(progress.step + 1)]
        emit(Frame(request, progress.step, request.iterations, losses, image, metrics.psnr, metrics.ssim,
                   progress.label, seconds=seconds(), threads=threads))

    trial = attack_example(example, request.seed, request.recipe, iterations=request.steps,
                           defence=request.gradient_defence(), on_step=on_step, checkpoint=checkpoint)
    emit(final_frame(request, trial, seconds(), threads=threads))
    return trial


def final_frame(request: Request, trial: Trial, seconds: float, stored: bool = False, threads: int = 1) -> Frame:
    """The frame of a finished run: its last dummy (none if it diverged), its metrics, status and reason."""
    result, metrics = trial.result, trial.metrics
    dummy = None if result.diverged else result.image[0].detach().cpu().clone()
    return Frame(request, result.iterations, request.iterations, list(result.losses), dummy, metrics.psnr,
                 metrics.ssim, metrics.label_recovered, result.status, result.reason, seconds, stored, threads, trial)


def defended_frame(request: Request, run: DefenceRun) -> Frame:
    """A stored run of a defence sweep (:func:`helpers.experiments.defence_sweep`) as a final
    frame: its reconstruction and scores; a sweep keeps no loss curve, only the final loss."""
    image = None if run.diverged or run.reconstruction is None else run.reconstruction[0].detach().cpu().clone()
    return Frame(request, run.iterations, request.iterations, [run.grad_loss], image, run.psnr[0], run.ssim[0],
                 run.labels_recovered[0], run.status, run.reason, run.seconds, stored=True)
