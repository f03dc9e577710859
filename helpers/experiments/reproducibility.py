"""What survives a change of machine: the same sweep in several arithmetics, and how often a
seed's verdict changes between them.

A verdict (success, or the run's status) of one chaotic attack is a fact about the seed, the
image *and* the arithmetic (see :mod:`helpers.arithmetic`). :func:`arithmetic_sweep` runs
one sweep per arithmetic, each in workers started with it; :func:`flips` counts the seeds
whose verdict differs between arithmetics; :func:`rates` gives each arithmetic's success rate
with its interval, the number that travels between machines.
"""

from __future__ import annotations

import datetime
import json
import math
import platform
import time
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Sequence

from .. import arithmetic
from ..data import Example
from ..metrics import succeeded
from ..pool import parallel_map
from ..statistics import aggregate, wilson_interval
from .storage import from_json_number, to_json
from .sweeps import run_sweep


def arithmetic_sweep(
    example: Example,
    seeds: Sequence[int],
    recipes: Sequence[str] = ("dlg",),
    settings: Sequence[str] = tuple(arithmetic.SETTINGS),
    *,
    iterations: int | None = None,
    workers: int = 2,
    snapshot_steps: Sequence[int] = (),
) -> dict:
    """Every recipe on ``example`` with every seed, once per arithmetic, each sweep in workers
    started with that arithmetic. Returns ``{"meta": ..., "runs": [one record per trial]}``;
    ``meta["settings"]`` says what each setting's workers actually computed with."""
    names = [arithmetic.get_arithmetic(name).name for name in settings]
    record: dict = {
        "meta": {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "python": platform.python_version(),
            "cpu": arithmetic.cpu_model(),
            "machine": platform.machine(),
            "image": example.name,
            "seeds": list(seeds),
            "recipes": list(recipes),
            "iterations": iterations,
            "workers": workers,
            "settings": {},
            "wall_seconds": {},
        },
        "runs": [],
    }
    for name in names:  # setting by setting: every recipe's sweep reuses the setting's workers
        # what the workers really compute with, asked of the very pool the sweeps then use
        record["meta"]["settings"][name] = parallel_map(arithmetic.describe_job, [None] * workers, workers,
                                                        arithmetic=name)[0]
        for recipe in recipes:
            start = time.perf_counter()
            trials = run_sweep(example, seeds, recipe, workers=workers, arithmetic=name,
                               iterations=iterations, snapshot_steps=snapshot_steps)
            record["meta"]["wall_seconds"][f"{recipe}/{name}"] = round(time.perf_counter() - start, 1)
            record["runs"] += [
                to_json({"recipe": recipe, "arithmetic": name, "seed": t.seed, "status": t.result.status,
                         "success": t.success, "psnr": t.metrics.psnr, "first_loss": t.result.first_loss,
                         "grad_loss": t.result.grad_loss, "iterations": t.result.iterations,
                         "seconds": round(t.result.seconds, 2)})
                for t in trials
            ]
    record["meta"]["torch"] = record["meta"]["settings"][names[0]]["torch"]
    return record


def load(path: str | Path) -> dict:
    """A stored :func:`arithmetic_sweep` (JSON; its numbers as :mod:`.storage` writes them)."""
    return json.loads(Path(path).read_text())


def _psnr(run: dict) -> float:
    return from_json_number(run["psnr"])


def verdicts(record: dict, recipe: str, key: str = "success") -> dict[int, dict[str, object]]:
    """seed -> {arithmetic: the run's verdict} for one recipe: ``key="success"`` by the series'
    one success rule (:func:`helpers.metrics.succeeded`), ``"status"`` the attack's own status."""
    table: dict[int, dict[str, object]] = {}
    for run in record["runs"]:
        if run["recipe"] == recipe:
            verdict = succeeded(_psnr(run), run["status"] == "diverged") if key == "success" else run[key]
            table.setdefault(run["seed"], {})[run["arithmetic"]] = verdict
    return table


@dataclass(frozen=True)
class Flips:
    """How many seeds change verdict between arithmetics."""

    recipe: str
    seeds: int
    flipped: list[int]  # seeds whose verdict is not the same in every arithmetic
    pairs: dict[str, int]  # "a/b" -> seeds whose verdict differs between a and b

    @property
    def rate(self) -> float:
        return len(self.flipped) / self.seeds if self.seeds else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(len(self.flipped), self.seeds)


def flips(record: dict, recipe: str, key: str = "success") -> Flips:
    """The seeds whose verdict (``key``) is not the same in every arithmetic of ``record``."""
    table = verdicts(record, recipe, key)
    names = list(record["meta"]["settings"])
    missing = [seed for seed, row in table.items() if set(row) != set(names)]
    if missing:
        raise ValueError(f"seeds {missing} were not run in every arithmetic of the record")
    flipped = [seed for seed, row in table.items() if len({row[name] for name in names}) > 1]
    pairs = {f"{a}/{b}": sum(row[a] != row[b] for row in table.values()) for a, b in combinations(names, 2)}
    return Flips(recipe, len(table), flipped, pairs)


def rates(record: dict, recipe: str) -> dict[str, tuple[float, float, float]]:
    """arithmetic -> (success rate, low, high of its 95 % Wilson interval) for one recipe."""
    out = {}
    for name in record["meta"]["settings"]:
        runs = [run for run in record["runs"] if run["recipe"] == recipe and run["arithmetic"] == name]
        summary = aggregate([_psnr(run) for run in runs], [run["status"] == "diverged" for run in runs])
        out[name] = (summary.rate, *wilson_interval(summary.successes, summary.runs))
    return out
