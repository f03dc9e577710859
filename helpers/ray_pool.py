"""The generic pool's other backend: ``function(job)`` for many jobs as Ray tasks, on a Ray
started here for the call or on an existing cluster. Like :mod:`helpers.pool` it knows
nothing of attacks; each task runs on one torch thread, as a pool worker does, so a job
gives the same numbers on either backend when the workers compute with the same
instructions (:mod:`helpers.arithmetic`)."""

from __future__ import annotations

import logging
import os
from typing import Callable, Sequence, TypeVar

from .arithmetic import get_arithmetic
from .pool import spawn_environment

T = TypeVar("T")
R = TypeVar("R")
QUIET = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0"}


def ray_map(function: Callable[[T], R], jobs: Sequence[T], workers: int | None = None, address: str | None = None,
            on_done: Callable[[], object] | None = None, arithmetic: str | None = None) -> list[R]:
    """``function(job)`` for every job as a Ray task of one CPU, results in job order.

    Without ``address`` a local Ray is started for the call with ``workers`` CPUs (default:
    every core) and shut down before this returns, even on an error; its workers start with
    ``arithmetic``'s instruction-set variables. With ``address`` (``host:port`` of a running
    cluster's head, or ``auto``) the tasks run on that cluster, whose nodes need this package
    installed; ``arithmetic`` is then passed to them in the tasks' environment, and this
    process only disconnects at the end. ``on_done()`` is called as each result arrives."""
    import ray

    jobs = list(jobs)
    if not jobs:
        return []
    if ray.is_initialized():
        raise RuntimeError("Ray is already running in this process; ray_map starts and stops its own connection")
    for name, value in QUIET.items():
        os.environ.setdefault(name, value)
    options = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    if address is not None:
        variables = {} if arithmetic is None else get_arithmetic(arithmetic).variables
        ray.init(address=address, runtime_env={"env_vars": dict(variables)}, log_to_driver=False,
                 logging_level=logging.ERROR)
    else:
        with spawn_environment(arithmetic):  # the raylet and its workers copy this environment
            ray.init(num_cpus=max(1, min(workers or os.cpu_count() or 1, len(jobs))), **options)
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(_one_thread)
        pending = [task.remote(function, job) for job in jobs]
        results = []
        for ref in pending:
            results.append(ray.get(ref))
            if on_done is not None:
                on_done()
        return results
    finally:
        ray.shutdown()


def _one_thread(function: Callable[[T], R], job: T) -> R:
    import torch

    torch.set_num_threads(1)
    return function(job)
