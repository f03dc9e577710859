"""A sweep in numbers, by the one rule of :mod:`helpers.statistics`: a recipe's success rate
over seeds (:func:`summarise`), a defence's effect at each strength (:func:`points`) and the
strength from which it stops the attack (:func:`threshold`)."""

from __future__ import annotations

import statistics as stats
from dataclasses import dataclass
from typing import Sequence

from ..statistics import aggregate, median_psnr
from .defended import DefenceRun
from .trial import Trial


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
    """Success rate and its spread over a sweep's trials (:func:`helpers.statistics.aggregate`)."""
    outcome = aggregate([t.metrics.psnr for t in trials], [t.result.diverged for t in trials])
    statuses: dict[str, int] = {}
    for t in trials:
        statuses[t.result.status] = statuses.get(t.result.status, 0) + 1
    seconds = [t.result.seconds for t in trials]
    low, high = outcome.interval
    return SweepSummary(
        recipe=trials[0].result.recipe if trials else "",
        attacks=outcome.runs,
        successes=outcome.successes,
        rate=outcome.rate,
        rate_low=low,
        rate_high=high,
        statuses=statuses,
        median_psnr=outcome.median_psnr,
        median_seconds=stats.median(seconds) if seconds else float("nan"),
        total_seconds=sum(seconds),
    )


@dataclass(frozen=True)
class Point:
    """One (defence, strength) of a sweep over seeds."""

    spec: str
    kind: str
    strength: float
    psnr: list[float]  # mean PSNR per seed (NaN: diverged)
    ssim: list[float]
    successes: int  # runs that recovered every image (helpers.metrics.succeeded)
    runs: int
    recognisable: int = 0  # runs whose every image is still recognisable (helpers.metrics.recognisable)

    median_psnr = property(lambda self: median_psnr(self.psnr), doc="Median over the seeds that produced an image.")
    median_ssim = property(lambda self: median_psnr(self.ssim), doc="Median over the seeds that produced an image.")


def points(runs: Sequence[DefenceRun]) -> list[Point]:
    """Runs grouped by defence spec, in first-seen order."""
    groups: dict[str, list[DefenceRun]] = {}
    for r in runs:
        groups.setdefault(r.spec, []).append(r)
    return [
        Point(spec, g[0].kind, g[0].strength, [r.mean_psnr for r in g], [r.mean_ssim for r in g],
              sum(r.success for r in g), len(g), sum(r.recognisable for r in g))
        for spec, g in groups.items()
    ]


def threshold(curve: Sequence[Point], criterion: str = "psnr") -> float | None:
    """The weakest strength, along a curve of increasing strength, from which the attack
    stops working: fewer than half the seeds succeed at that strength and at every stronger
    one. ``criterion="psnr"``: success is every image recovered (:func:`helpers.metrics.succeeded`);
    ``"ssim"``: every image still recognisable (:func:`helpers.metrics.recognisable`).
    ``None`` if the attack still works at the strongest strength tried."""
    if criterion not in ("psnr", "ssim"):
        raise ValueError(f"unknown criterion {criterion!r}; choose psnr or ssim")
    ordered = sorted(curve, key=lambda p: p.strength)
    stopped = [2 * (p.successes if criterion == "psnr" else p.recognisable) < p.runs for p in ordered]
    for i, p in enumerate(ordered):
        if all(stopped[i:]):
            return p.strength
    return None
