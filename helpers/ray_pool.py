"""The generic pool's other backend: ``function(job)`` for many jobs as Ray tasks, on a Ray
started here for the call or on an existing cluster. Like :mod:`helpers.pool` it knows
nothing of attacks; each task runs on one torch thread, as a pool worker does, so a job
gives the same numbers on either backend when the workers compute with the same
instructions (:mod:`helpers.arithmetic`)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from typing import Callable, Iterator, Sequence, TypeVar

from .arithmetic import get_arithmetic
from .pool import scoped_environment, spawn_environment

T = TypeVar("T")
R = TypeVar("R")
QUIET = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0"}


class ClusterError(RuntimeError):
    """The Ray cluster named by an address could not be reached."""


def ray_map(function: Callable[[T], R], jobs: Sequence[T], workers: int | None = None, address: str | None = None,
            on_done: Callable[[], object] | None = None, arithmetic: str | None = None) -> list[R]:
    """``function(job)`` for every job as a Ray task of one CPU, results in job order.

    Without ``address`` a local Ray is started for the call with ``workers`` CPUs (default:
    every core) and shut down before this returns, even on an error; its workers start with
    ``arithmetic``'s instruction-set variables. With ``address`` (``host:port`` of a running
    cluster's head, or ``auto``) the tasks run on that cluster, whose nodes need this package
    installed; ``arithmetic`` is then passed to them in the tasks' environment, and this
    process only disconnects at the end (``workers`` is then the cluster's to decide: every CPU
    it has); an address that cannot be reached raises :class:`ClusterError`. ``on_done()`` is
    called as each result arrives."""
    import ray

    jobs = list(jobs)
    if not jobs:
        return []
    if ray.is_initialized():
        raise RuntimeError("Ray is already running in this process; ray_map starts and stops its own connection")
    with terminate_as_exit():
        return _ray_map(ray, function, jobs, workers, address, on_done, arithmetic)


def _ray_map(ray, function: Callable[[T], R], jobs: list[T], workers: int | None, address: str | None,
             on_done: Callable[[], object] | None, arithmetic: str | None) -> list[R]:
    try:
        _connect(ray, address, workers or os.cpu_count() or 1, len(jobs), arithmetic)
        task = ray.remote(num_cpus=1, max_retries=0)(_one_thread)
        pending = [task.remote(function, job) for job in jobs]
        results = []
        for ref in pending:
            results.append(ray.get(ref))
            if on_done is not None:
                on_done()
        return results
    finally:
        shutdown(ray)  # also after a failed start, which may have left processes running


def _connect(ray, address: str | None, workers: int, jobs: int, arithmetic: str | None) -> None:
    """Start a local Ray of ``min(workers, jobs)`` CPUs whose workers compute with
    ``arithmetic``, or connect to the cluster at ``address``; Ray's usage reports off."""
    with scoped_environment({name: os.environ.get(name) or value for name, value in QUIET.items()}):
        if address is None:
            with spawn_environment(arithmetic):  # the raylet and its workers copy this environment
                ray.init(num_cpus=max(1, min(workers, jobs)), include_dashboard=False, log_to_driver=False,
                         logging_level=logging.ERROR)
            return
        variables = {} if arithmetic is None else get_arithmetic(arithmetic).variables
        _check_reachable(address)
        try:
            ray.init(address=address, runtime_env={"env_vars": dict(variables)}, log_to_driver=False,
                     logging_level=logging.ERROR)
        except Exception as err:  # a malformed address, or no cluster behind "auto"
            first = str(err).splitlines()[0] if str(err) else ""
            raise ClusterError(f"cannot connect to a Ray cluster at {address}: {type(err).__name__}: {first}") from None


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """A ``host:port`` that accepts no connection fails here, at once, instead of in Ray's own
    connection loop, which keeps retrying for minutes."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto": Ray looks the cluster up itself and says so if there is none
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as err:
        raise ClusterError(f"cannot connect to a Ray cluster at {address}: {err.strerror or err}") from None


class _Terminated(SystemExit):
    """SIGTERM, raised as an exit so that cleanup code runs."""


@contextlib.contextmanager
def terminate_as_exit() -> Iterator[None]:
    """While Ray runs, SIGTERM (a test runner's or a scheduler's stop) raises an exit in the
    main thread, so the ``finally`` that shuts Ray down still runs instead of leaving its
    processes behind; then the process ends at once (threads that Ray's users left waiting
    would otherwise keep it alive). Elsewhere than the main thread nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise _Terminated(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    except _Terminated as terminated:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(terminated.code))
    finally:
        signal.signal(signal.SIGTERM, previous)


def shutdown(ray) -> None:
    """``ray.shutdown()``, then stop whatever of the Ray processes this process started is still
    running a few seconds later (agents that outlive their raylet when a start was cut short)."""
    import psutil

    mine = []
    for child in psutil.Process().children(recursive=True):
        try:
            line = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "/ray/" in line or line.startswith("ray::"):
            mine.append(child)
    ray.shutdown()
    _, alive = psutil.wait_procs(mine, timeout=5)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()


def _one_thread(function: Callable[[T], R], job: T) -> R:
    import torch

    torch.set_num_threads(1)
    return function(job)
