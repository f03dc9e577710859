"""Long runs, measured offline and shipped: the full-length sweeps the notebooks and the README
quote, each stored in ``results/long_runs/NAME.json`` with the command, date, package
versions and machine that made it (``python scripts/long_runs.py NAME`` remakes one).

Every long run is one ``python -m helpers sweep`` command, so a reader can run it as it
stands. Its stored runs can be checked one at a time: :func:`rerun_argv` is the
``python -m helpers attack`` command of one stored run, and :func:`compare` says whether a
fresh record reproduces it: digit for digit where the record's arithmetic is the one this
machine computes with, otherwise in what survives a change of machine.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .. import arithmetic
from ..data import sample_names
from ..metrics import succeeded
from .storage import from_json_number
from .summaries import SweepSummary

FOLDER = Path(__file__).resolve().parents[2] / "results" / "long_runs"


@dataclass(frozen=True)
class LongRun:
    """One shipped long run: a sweep command and where its numbers are quoted."""

    name: str
    argv: tuple[str, ...]  # the arguments of ``python -m helpers``
    about: str
    quoted_in: tuple[str, ...]

    @property
    def command(self) -> str:
        return "python -m helpers " + shlex.join(self.argv)

    @property
    def path(self) -> Path:
        return FOLDER / f"{self.name}.json"

    @property
    def saves(self) -> bool:
        """A defence sweep writes its runs with ``--save`` (plus reconstructions, .npz);
        any other sweep prints its records with ``--json``."""
        return "--save" in self.argv


_SWEEP = ("sweep", "--arithmetic", "portable", "--workers", "2")
_DEFENCES = ("--defence", "none", "--defence", "prune=0.01,0.1,0.2,0.3,0.5,0.9", "--defence", "fp16",
             "--defence", "int8", "--defence", "noise=1e-6,1e-5,1e-4,1e-3,1e-2,1e-1",
             "--defence", "laplace=1e-6,1e-5,1e-4,1e-3,1e-2,1e-1")

_DPSGD = tuple(x for sigma in ("0", "0.0001", "0.001", "0.003", "0.01", "0.03", "0.1", "1")
               for x in ("--defence", f"dpsgd:sigma={sigma},clip=1"))

LONG_RUNS: dict[str, LongRun] = {run.name: run for run in (
    LongRun("dlg_astronaut_100", (*_SWEEP, "--recipe", "dlg", "--seeds", "0-99", "--index", "0", "--at", "1,10,100",
                                  "--json"),
            "the faithful attack on the astronaut with 100 seeds, 300 steps; loss and PSNR after steps 1, 10, 100",
            ("05_seed_sensitivity", "06_reliable_attack", "README")),
    LongRun("robust_astronaut_100", (*_SWEEP, "--recipe", "robust", "--seeds", "0-99", "--index", "0", "--json"),
            "the robust recipe on the astronaut with the same 100 seeds", ("06_reliable_attack", "README")),
    LongRun("seed_table", (*_SWEEP, "--recipe", "dlg", "--seeds", "1234,78483847", "--all-samples", "--json"),
            "the seed blog's two seeds on every bundled image, 300 steps", ("05_seed_sensitivity", "README")),
    LongRun("closed_form_all_samples", (*_SWEEP, "--recipe", "closed-form", "--seeds", "0-99", "--all-samples",
                                        "--json"),
            "the closed form with 100 seeds on every bundled image (800 attacks)", ("09_closed_form", "README")),
    LongRun("defences_dlg", (*_SWEEP, "--recipe", "dlg", "--seeds", "0,2,78483847", "--iters", "100", *_DEFENCES,
                             "--save", "results/long_runs/defences_dlg"),
            "the paper's attack against every defence of the grid, three seeds, 100 steps", ("07_defences",)),
    LongRun("batches_dlg", (*_SWEEP, "--recipe", "dlg", "--seeds", "0,2,78483847", "--iters", "100",
                            "--defence", "batch=2,4,8", "--save", "results/long_runs/batches_dlg"),
            "the paper's attack on local batches of 2, 4 and 8 images, three seeds, 100 steps", ("08_batches",)),
    LongRun("ig_relu_all_samples", (*_SWEEP, "--recipe", "ig", "--model", "lenet-relu", "--seeds", "0-3",
                                    "--all-samples", "--json"),
            "Inverting Gradients on the ReLU LeNet, four seeds on every bundled image (32 attacks)",
            ("10_relu_networks", "README")),
    LongRun("dlg_relu_all_samples", (*_SWEEP, "--recipe", "dlg", "--model", "lenet-relu", "--seeds", "0-3",
                                     "--all-samples", "--json"),
            "the paper's attack on the ReLU LeNet, the same 32 cases", ("10_relu_networks", "README")),
    *(LongRun(f"dpsgd_{recipe.replace('-', '_')}", (*_SWEEP, "--recipe", recipe, "--seeds", "0-2", "--index", "0",
                                                     *iters, "--defence", "none", *_DPSGD,
                                                     "--save", f"results/long_runs/dpsgd_{recipe.replace('-', '_')}"),
              f"{recipe} against a DP-SGD client (Opacus, clipping norm 1) at eight noise multipliers, three seeds",
              ("12_dp_sgd", "README"))
      for recipe, iters in (("dlg", ("--iters", "100")), ("robust", ()), ("ig", ("--iters", "1000")), ("closed-form", ()))),
)}


def provenance(started: datetime.datetime, wall_seconds: float) -> dict[str, Any]:
    """Where and when a long run was made: date, wall time, package versions and machine
    (``scripts/long_runs.py`` adds what the sweep's workers computed with)."""
    import numpy
    import torch
    import torchvision

    return {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "wall_seconds": round(wall_seconds, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "cpu": arithmetic.cpu_model(),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "os": platform.platform(),
    }


def load(name: str, folder: Path | None = None) -> dict:
    """A shipped long run: ``{"meta": {...}, ...}``, with the sweep's records under
    ``"trials"`` (``--json``) or ``"runs"`` (``--save``)."""
    if name not in LONG_RUNS:
        raise ValueError(f"no long run named {name!r}; known: {', '.join(LONG_RUNS)}")
    path = (folder or FOLDER) / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; `python scripts/long_runs.py {name}` makes it")
    return json.loads(path.read_text())


def records(record: dict) -> list[dict]:
    """The per-attack records of a long run, whichever kind of sweep made it, as stored."""
    return record["trials"] if "trials" in record else record["runs"]


_NUMBERS = ("psnr", "ssim", "mse", "grad_loss", "first_loss", "mean_psnr", "mean_ssim", "loss", "epsilon")


def _numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: from_json_number(v) if k in _NUMBERS else _numbers(v) for k, v in value.items()}
    return value


def attacks(name: str, folder: Path | None = None) -> list[dict]:
    """The per-attack records of a shipped long run with their numbers read back (a diverged
    run's PSNR is NaN, an exact copy's +inf)."""
    return [_numbers(r) for r in records(load(name, folder))]


def summary(name: str, folder: Path | None = None) -> SweepSummary:
    """The summary a ``--json`` sweep printed with its records (rate, 95 % interval, statuses)."""
    stored = load(name, folder)["summary"]
    return SweepSummary(**{key: from_json_number(stored[key]) for key in SweepSummary.__dataclass_fields__})


def describe(name: str, folder: Path | None = None) -> str:
    """One line saying what a shipped long run is and how, where and when it was made."""
    meta = load(name, folder)["meta"]
    return (f"measured offline: `{meta['command']}`, {meta['date']}, {meta['wall_seconds']:.0f} s on "
            f"{meta['cpu']} ({meta['cores']} cores), torch {meta['torch']}")


def option(argv: Sequence[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


def rerun_argv(run: LongRun, stored: dict) -> list[str]:
    """The ``python -m helpers attack`` arguments that redo one stored attack of ``run``."""
    argv = ["attack", "--seed", str(stored["seed"]), "--recipe", stored["recipe"], "--json"]
    if run.saves:  # a defence sweep's run: its defence, on the sweep's images
        argv += ["--defence", stored["spec"]]
    elif "--all-samples" in run.argv:  # a bundled image, named "sample:NAME"
        argv += ["--index", str(sample_names().index(stored["image"].removeprefix("sample:")))]
    elif (index := option(run.argv, "--index")) is not None:
        argv += ["--index", index]
    for flag in ("--model", "--iters", "--arithmetic"):
        if (value := option(run.argv, flag)) is not None:
            argv += [flag, value]
    return argv


# what must agree digit for digit when the arithmetic is the same, and what survives otherwise
EXACT_FIELDS = ("images", "status", "label_recovered", "labels_recovered", "grad_loss", "first_loss", "psnr", "ssim",
                "iterations", "recovered")
PSNR_MARGIN_DB = 1.0  # a closed-form recovery on another machine: PSNR within this of the stored one


def same_arithmetic(meta: dict, current: dict[str, Any] | None = None, solve: bool = False) -> bool:
    """Whether the record was made in the arithmetic ``current`` (a worker's
    :func:`helpers.arithmetic.describe`) computes with: the same torch and the same forced
    instruction level on the same kind of machine; with nothing forced, also the same CPU.
    ``solve``: the attack goes through LAPACK's least squares (the closed form), whose last
    digits differ between CPUs even in the portable setting (an Intel Xeon and an AMD EPYC
    disagreed in the fourth digit of a matching loss), so it needs the same CPU too."""
    current = current or arithmetic.describe()
    stored = meta.get("arithmetic", {})
    keys = ("torch", "aten_capability", "machine", "forced") + (() if stored.get("forced") and not solve else ("cpu",))
    return bool(stored) and all(stored.get(key) == current.get(key) for key in keys)


def compare(stored: dict, fresh: dict, exact: bool) -> list[str]:
    """What differs between a stored attack record and a fresh one ([] when it reproduces).
    ``exact``: every field of :data:`EXACT_FIELDS` must be equal. Otherwise only what survives a
    change of machine: a closed-form recovery's PSNR within :data:`PSNR_MARGIN_DB`, and for a
    search, a success with a wide margin (PSNR >= 40 dB) stays a success."""
    problems = []
    if exact:
        for key in EXACT_FIELDS:
            if key in stored and stored[key] != fresh.get(key):
                problems.append(f"{key}: stored {stored[key]!r}, now {fresh.get(key)!r}")
        return problems
    before = from_json_number(stored["psnr"])
    after = from_json_number(fresh["psnr"])
    if isinstance(before, list):  # a defence run: the worst image of the batch
        before, after = min(before), min(after)
    if stored["recipe"] == "closed-form":
        if not abs(before - after) <= PSNR_MARGIN_DB:
            problems.append(f"closed-form PSNR moved from {before:.2f} to {after:.2f} dB")
    elif math.isfinite(before) and before >= 40 and not succeeded(after):
        problems.append(f"a {before:.1f} dB success became {after:.1f} dB")
    return problems
