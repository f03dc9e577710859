"""Many seeds at once: how often does an attack succeed, and how sure are we of that rate?

Each (example, seed) attack is independent, so a sweep spreads them over worker processes
(one torch thread each: on a small network that is faster than sharing threads).
"""

from __future__ import annotations

import atexit
import contextlib
import math
import multiprocessing
import os
import signal
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence, TypeVar

import torch

from .arithmetic import VARIABLES, get_arithmetic
from .data import Example
from .experiment import Trial, attack_example
from .recipes import Recipe, get_recipe

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
    :func:`parallel_map`'s workers."""
    example, seed, recipe, kwargs = job
    return attack_example(example, seed, recipe, **kwargs)


def run_sweep(
    examples: Example | Sequence[Example],
    seeds: Iterable[int],
    recipe: str | Recipe = "dlg",
    *,
    workers: int | None = None,
    progress: bool = False,
    arithmetic: str | None = None,
    **attack_kwargs,
) -> list[Trial]:
    """Attack every example with every seed; trials come back in (example, seed) order.

    ``workers`` processes (default: every core) each run one attack on one thread;
    ``workers=1`` runs in this process. ``arithmetic`` runs the attacks in workers started
    with that choice of vector instructions (see :func:`parallel_map`). Extra keyword arguments go to
    :func:`helpers.experiment.attack_example` (e.g. ``iterations``, ``snapshot_steps``).
    """
    recipe = get_recipe(recipe)
    examples = [examples] if isinstance(examples, Example) else list(examples)
    jobs = [(example, seed, recipe, attack_kwargs) for example in examples for seed in seeds]
    bar = _progress(len(jobs), f"{recipe.name} sweep", progress)
    trials = parallel_map(attack_job, jobs, workers, on_done=bar.update, arithmetic=arithmetic)
    bar.close()
    return trials


def parallel_map(function: Callable[[T], R], jobs: Sequence[T], workers: int | None = None,
                 on_done: Callable[[], object] | None = None, arithmetic: str | None = None) -> list[R]:
    """``function(job)`` for every job, results in job order, over ``workers`` processes
    (default: every core) each on one torch thread; ``workers=1`` runs here, also on one
    thread. ``on_done()`` is called as each result arrives (for progress bars).

    ``arithmetic`` (a name from :data:`helpers.arithmetic.SETTINGS`) runs the jobs in worker
    processes started with that choice of vector instructions, even with ``workers=1``;
    ``None`` keeps this process's own choice."""
    jobs = list(jobs)
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    results: list[R] = []
    if workers == 1 and arithmetic is None:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for job in jobs:
                results.append(function(job))
                if on_done is not None:
                    on_done()
        finally:
            torch.set_num_threads(threads)
        return results
    pool = _pool(workers, arithmetic)
    try:
        # a spawn pool starts its workers as jobs are submitted: under the setting's variables
        with _spawn_environment(arithmetic):
            futures = [pool.submit(function, job) for job in jobs]
        for future in futures:
            results.append(future.result())
            if on_done is not None:
                on_done()
    except BaseException:  # a crashed worker or an interrupt: start afresh next time
        _close_pool(cancel=True)
        raise
    return results


_POOL: dict[tuple[int, str | None], ProcessPoolExecutor] = {}  # (workers, arithmetic) -> the live pool


def _pool(workers: int, arithmetic: str | None = None) -> ProcessPoolExecutor:
    """One pool of ``workers`` processes per Python session (and arithmetic), reused by every
    sweep: starting a worker means importing torch again (several seconds on a 2-core
    machine), which would otherwise be paid by every sweep of a notebook."""
    key = (workers, None if arithmetic is None else get_arithmetic(arithmetic).name)
    if key not in _POOL:
        _close_pool()
        # spawn, not fork: forking a process that already ran torch's thread pools can hang
        context = multiprocessing.get_context("spawn")
        _POOL[key] = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker)
    return _POOL[key]


@contextlib.contextmanager
def _spawn_environment(arithmetic: str | None):
    """This process's instruction-set variables set to ``arithmetic``'s while workers start
    (a spawned worker copies the environment), and put back at once afterwards."""
    if arithmetic is None:
        yield
        return
    saved = {name: os.environ.get(name) for name in VARIABLES}
    for name in VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(get_arithmetic(arithmetic).variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _start_worker() -> None:
    """One torch thread per worker; Ctrl-C (or a notebook kernel's interrupt and shutdown) is the
    parent's to handle, so an idle worker does not print a KeyboardInterrupt traceback."""
    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _close_pool(cancel: bool = False) -> None:
    for pool in _POOL.values():
        pool.shutdown(wait=not cancel, cancel_futures=cancel)
    _POOL.clear()


atexit.register(_close_pool)


def _progress(total: int, label: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=label, unit="attack", disable=not enabled, leave=False)


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a success rate (honest spread for a few dozen seeds)."""
    if trials == 0:
        return (math.nan, math.nan)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class SweepSummary:
    """A sweep in numbers: success rate with its 95 % interval, PSNR and time."""

    recipe: str
    attacks: int
    successes: int
    rate: float
    rate_low: float
    rate_high: float
    statuses: dict
    median_psnr: float  # over the runs that did not diverge (a diverged run has no PSNR)
    median_seconds: float
    total_seconds: float

    def line(self) -> str:
        return (
            f"{self.recipe}: {self.successes}/{self.attacks} succeed "
            f"({100 * self.rate:.0f} %, 95 % interval {100 * self.rate_low:.0f}-{100 * self.rate_high:.0f} %), "
            f"median PSNR of the {self.attacks - self.statuses.get('diverged', 0)} non-diverged runs "
            f"{self.median_psnr:.1f} dB, median {self.median_seconds:.1f} s per attack"
        )


def summarise(trials: Sequence[Trial]) -> SweepSummary:
    """Success rate (PSNR >= 30 dB and not diverged) and its spread over a sweep's trials;
    the median PSNR leaves diverged runs out (they have no reconstruction to score)."""
    successes = sum(t.success for t in trials)
    statuses: dict[str, int] = {}
    for t in trials:
        statuses[t.result.status] = statuses.get(t.result.status, 0) + 1
    psnrs = [t.metrics.psnr for t in trials if t.result.status != "diverged" and not math.isnan(t.metrics.psnr)]
    seconds = [t.result.seconds for t in trials]
    low, high = wilson_interval(successes, len(trials))
    return SweepSummary(
        recipe=trials[0].result.recipe if trials else "",
        attacks=len(trials),
        successes=successes,
        rate=successes / len(trials) if trials else math.nan,
        rate_low=low,
        rate_high=high,
        statuses=statuses,
        median_psnr=statistics.median(psnrs) if psnrs else math.nan,
        median_seconds=statistics.median(seconds) if seconds else math.nan,
        total_seconds=sum(seconds),
    )


def timed_sweep(*args, **kwargs) -> tuple[list[Trial], float]:
    """:func:`run_sweep` and its wall-clock seconds."""
    start = time.perf_counter()
    trials = run_sweep(*args, **kwargs)
    return trials, time.perf_counter() - start
