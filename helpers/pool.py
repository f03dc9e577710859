"""A generic process pool: ``function(job)`` for many jobs over worker processes, each on one
torch thread (on a small network that is faster than sharing threads). It knows nothing of
attacks; the experiments hand it picklable jobs. Its workers can be started with a pinned
choice of vector instructions (:mod:`helpers.arithmetic`)."""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

import torch

from .arithmetic import VARIABLES, environment, get_arithmetic

T = TypeVar("T")
R = TypeVar("R")


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
        with spawn_environment(arithmetic):
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
    """The live pool of ``workers`` processes in ``arithmetic``, kept and reused by every later
    call with the same two: starting a worker means importing torch again (several seconds on
    a 2-core machine), which would otherwise be paid by every sweep of a notebook. One pool
    lives at a time: a call with another size or arithmetic closes it and starts its own."""
    key = (workers, None if arithmetic is None else get_arithmetic(arithmetic).name)
    if key not in _POOL:
        _close_pool()
        # spawn, not fork: forking a process that already ran torch's thread pools can hang
        context = multiprocessing.get_context("spawn")
        _POOL[key] = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                         initargs=(os.getpid(),))
    return _POOL[key]


@contextlib.contextmanager
def scoped_environment(values: Mapping[str, str | None], keep: Iterable[str] = ()) -> Iterator[None]:
    """Environment variables set to ``values`` (None: removed) for the ``with`` block, and those
    and the ``keep`` ones (variables the block's own code may rewrite) put back afterwards."""
    saved = {name: os.environ.get(name) for name in [*values, *keep]}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def spawn_environment(arithmetic: str | None) -> Iterator[None]:
    """This process's instruction-set variables set to ``arithmetic``'s while workers start
    (a spawned worker copies the environment), and put back at once afterwards."""
    if arithmetic is None:
        yield
        return
    wanted = environment(arithmetic)
    with scoped_environment({name: wanted.get(name) for name in VARIABLES}):
        yield


def _start_worker(parent: int) -> None:
    """One torch thread per worker; Ctrl-C (or a notebook kernel's interrupt and shutdown) is the
    parent's to handle, so an idle worker does not print a KeyboardInterrupt traceback. A worker
    whose parent is killed outright (a kernel restarted by force, a test's cleanup) exits too,
    instead of being left running with no one to feed it (``parent``: its pid, taken in the
    parent, since a worker still starting when the parent dies would only see its new one)."""
    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), name="exit-with-parent", daemon=True).start()


def _exit_with_parent(parent: int, every: float = 1.0) -> None:
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(0)  # the parent is gone: this worker was re-parented


def _close_pool(cancel: bool = False) -> None:
    for pool in _POOL.values():
        pool.shutdown(wait=not cancel, cancel_futures=cancel)
    _POOL.clear()


atexit.register(_close_pool)
