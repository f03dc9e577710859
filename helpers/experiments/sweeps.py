"""Many seeds at once: every (example or condition, seed) trial is independent, so a sweep
hands them to the generic process pool (:func:`helpers.pool.parallel_map`) as picklable jobs.
Both runners, :func:`run_sweep` (one recipe) and :func:`defence_sweep` (defences at several
strengths), run :func:`.trial.attack_shared` through the same job path."""

from __future__ import annotations

import time
from typing import Callable, Iterable, Sequence, TypeVar

from ..attacks import Recipe, get_recipe
from ..data import Example
from ..pool import parallel_map
from ..ray_pool import ray_map
from .client import Condition, batch_size
from .defended import DefenceRun, defended_attack
from .trial import Trial, attack_example

T = TypeVar("T")
R = TypeVar("R")


def parse_seeds(text: str) -> list[int]:
    """``"0-99"``, ``"1,5,9"`` or a mix (``"0-9,1234"``) as a list of seeds, in order."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, dash, high = part.partition("-")
        try:
            if dash and low:
                first, last = int(low), int(high)
                if last < first:
                    raise ValueError
                seeds.extend(range(first, last + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise ValueError(f"cannot read seeds {text!r}: use e.g. 0-99 or 1,5,9") from None
    if not seeds:
        raise ValueError(f"no seeds in {text!r}")
    return seeds


def attack_job(job: tuple) -> Trial:
    """``attack_example(example, seed, recipe, **kwargs)`` for ``job = (example, seed, recipe,
    kwargs)``: one attack as a picklable job, so that attacks with different settings can share
    the pool's workers."""
    example, seed, recipe, kwargs = job
    return attack_example(example, seed, recipe, **kwargs)


def defence_job(job: tuple) -> DefenceRun:
    """``defended_attack(examples, seed, defence, recipe, iterations=..., **client)`` as a
    picklable job (``client``: the keywords ``client``, ``aggregate`` and ``model``, optional)."""
    examples, seed, defence, recipe, iterations, *client = job
    return defended_attack(examples, seed, defence, recipe, iterations=iterations, **(client[0] if client else {}))


BACKENDS = ("pool", "ray")


def run_jobs(function: Callable[[T], R], jobs: Sequence[T], workers: int | None, label: str = "",
             progress: bool = False, order: Callable[[T], float] | None = None,
             arithmetic: str | None = None, backend: str = "pool", address: str | None = None) -> list[R]:
    """``function`` over ``jobs``, results in job order, in the process pool (``backend``
    "pool") or as Ray tasks ("ray": a local Ray, or the cluster at ``address``); ``order``
    (optional) ranks the jobs to start first (largest first), a progress bar if ``progress``;
    with ``arithmetic`` the workers compute with that instruction-set setting."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    if address is not None and backend != "ray":
        raise ValueError("an address names a Ray cluster; it needs the ray backend")
    indices = sorted(range(len(jobs)), key=lambda i: -order(jobs[i])) if order else list(range(len(jobs)))
    bar = _progress(len(jobs), label, progress)
    ordered = [jobs[i] for i in indices]
    try:
        if backend == "ray":
            results = ray_map(function, ordered, workers, address, on_done=bar.update, arithmetic=arithmetic)
        else:
            results = parallel_map(function, ordered, workers, on_done=bar.update, arithmetic=arithmetic)
        done = dict(zip(indices, results))
    finally:
        bar.close()
    return [done[i] for i in range(len(jobs))]


def run_sweep(
    examples: Example | Sequence[Example],
    seeds: Iterable[int],
    recipe: str | Recipe = "dlg",
    *,
    workers: int | None = None,
    progress: bool = False,
    arithmetic: str | None = None,
    backend: str = "pool",
    address: str | None = None,
    **attack_kwargs,
) -> list[Trial]:
    """Attack every example with every seed; trials come back in (example, seed) order.

    ``workers`` processes (default: every core) each run one attack on one thread;
    ``workers=1`` runs in this process. ``arithmetic`` runs the attacks in workers started
    with that choice of vector instructions (:func:`helpers.pool.parallel_map`); ``backend="ray"``
    runs them as Ray tasks instead, on a local Ray or the cluster at ``address``
    (:func:`helpers.ray_pool.ray_map`), with the same per-seed numbers. Extra keyword arguments go to
    :func:`.trial.attack_example` (e.g. ``iterations``, ``snapshot_steps``, ``defence``).
    """
    recipe = get_recipe(recipe)
    examples = [examples] if isinstance(examples, Example) else list(examples)
    jobs = [(example, seed, recipe, attack_kwargs) for example in examples for seed in seeds]
    return run_jobs(attack_job, jobs, workers, f"{recipe.name} sweep", progress, arithmetic=arithmetic, backend=backend,
                    address=address)


def defence_sweep(
    examples: Example | Sequence[Example],
    seeds: Sequence[int],
    defences: Sequence[Condition],
    recipe: str | Recipe = "dlg",
    *,
    iterations: int | None = None,
    workers: int | None = None,
    progress: bool = False,
    arithmetic: str | None = None,
    backend: str = "pool",
    address: str | None = None,
    **client,
) -> list[DefenceRun]:
    """Every defence with every seed (each seed's own noise); runs come back in (defence,
    seed) order. The longest jobs (big batches) start first, so no worker is left with one
    at the end. ``arithmetic``, ``backend`` and ``address`` as for :func:`run_sweep`; ``client`` (the keywords ``client``,
    ``aggregate``, ``model`` of :func:`.defended.defended_attack`) is the same for every run."""
    recipe = get_recipe(recipe)
    examples = [examples] if isinstance(examples, Example) else list(examples)
    jobs = [(examples, seed, defence, recipe, iterations, client) for defence in defences for seed in seeds]
    return run_jobs(defence_job, jobs, workers, "defence sweep", progress, order=lambda job: batch_size(job[2]),
                    arithmetic=arithmetic, backend=backend, address=address)


def timed_sweep(*args, **kwargs) -> tuple[list[Trial], float]:
    """:func:`run_sweep` and its wall-clock seconds."""
    start = time.perf_counter()
    trials = run_sweep(*args, **kwargs)
    return trials, time.perf_counter() - start


def _progress(total: int, label: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=label, unit="attack", disable=not enabled, leave=False)
