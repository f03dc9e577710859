"""One job at a time in a worker thread, cancellable, streaming what it reports.

A live demo must never hang and never show a stale picture: starting a new job cancels the
running one, the new job waits for the old one's thread to end before it computes (so two
jobs never share the cores), and once :meth:`LiveRunner.start` has returned, nothing the old
job emits reaches the sink. Cancelling is cooperative: the job calls :meth:`Run.checkpoint`
often (an attack does at every evaluation) and the checkpoint raises :class:`Cancelled`.

Generic: it knows nothing of attacks or widgets; the caller's sink decides what a frame is.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

Sink = Callable[["Run", Any], None]


class Cancelled(Exception):
    """Raised inside a job by :meth:`Run.checkpoint` once the run has been cancelled."""


@dataclass
class Run:
    """One job's run: its number, its cancel flag and its clock."""

    number: int
    runner: "LiveRunner"
    cancelled: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.perf_counter)
    ended: float | None = None  # when the job's thread finished (perf_counter)
    outcome: str = "pending"  # pending | running | finished | cancelled | failed
    error: BaseException | None = None
    thread: threading.Thread | None = None

    def checkpoint(self) -> None:
        """Raise :class:`Cancelled` if this run has been cancelled."""
        if self.cancelled.is_set():
            raise Cancelled(f"run {self.number} cancelled")

    def emit(self, payload: Any) -> bool:
        """Hand ``payload`` to the sink if this run is still the current one; returns whether it was delivered."""
        return self.runner._deliver(self, payload)

    @property
    def current(self) -> bool:
        return self.runner.current is self and not self.cancelled.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for this run's thread; returns whether it has ended."""
        if self.thread is not None:
            self.thread.join(timeout)
        return self.ended is not None


class LiveRunner:
    """Runs ``job(run)`` callables one at a time, each in its own daemon thread.

    ``sink(run, payload)`` receives what the current run emits, under a lock, so a frame from
    a run that has been replaced is dropped, never shown after the new run's first frame.
    ``on_error(run, error)`` is told of a job that raised (anything but :class:`Cancelled`)."""

    def __init__(self, sink: Sink, on_error: Callable[[Run, BaseException], None] | None = None) -> None:
        self._sink = sink
        self._on_error = on_error
        self._lock = threading.RLock()
        self._count = 0
        self.current: Run | None = None
        self.history: list[Run] = []  # every run started, oldest first (for tests and benchmarks)

    def start(self, job: Callable[[Run], Any]) -> Run:
        """Cancel the running job (if any) and start ``job`` in a new thread; returns at once."""
        with self._lock:
            previous = self.current
            if previous is not None:
                previous.cancelled.set()
            self._count += 1
            run = Run(self._count, self)
            self.current = run
            self.history.append(run)
            run.thread = threading.Thread(target=self._work, args=(run, previous, job), name=f"live-run-{run.number}",
                                          daemon=True)
        run.thread.start()
        return run

    def stop(self) -> Run | None:
        """Cancel the running job; returns it (its thread ends at its next checkpoint)."""
        with self._lock:
            run = self.current
            if run is not None:
                run.cancelled.set()
        return run

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the current run to end; returns whether it has."""
        run = self.current
        return True if run is None else run.wait(timeout)

    def close(self, timeout: float | None = 10.0) -> bool:
        """Stop the running job and wait for its thread; returns whether it has ended (False:
        it is still inside a long computation with no checkpoint)."""
        run = self.stop()
        return True if run is None else run.wait(timeout)

    @property
    def busy(self) -> bool:
        run = self.current
        return run is not None and run.ended is None

    def _deliver(self, run: Run, payload: Any) -> bool:
        with self._lock:
            if not run.current:
                return False
            self._sink(run, payload)
            return True

    def _work(self, run: Run, previous: Run | None, job: Callable[[Run], Any]) -> None:
        try:
            if previous is not None and previous.thread is not None:
                previous.thread.join()  # the old job stops at its next checkpoint
            run.checkpoint()
            run.outcome = "running"
            job(run)
            run.outcome = "finished"
        except Cancelled:
            run.outcome = "cancelled"
        except BaseException as error:  # noqa: BLE001 - reported, never lost in a thread
            run.outcome, run.error = "failed", error
            if self._on_error is not None:
                with self._lock:
                    if run.current:
                        self._on_error(run, error)
        finally:
            run.ended = time.perf_counter()
