"""One rule for every number a set of attacks is summarised by.

* :func:`helpers.metrics.succeeded` decides whether one run recovered the private image: it
  did not diverge and its PSNR is at least :data:`helpers.metrics.SUCCESS_PSNR`. An exact
  copy (``+inf`` dB) is a success; a diverged run (NaN) is a failure, never a number of dB.
* :func:`aggregate` summarises a set of runs: how many, how many succeeded (with a 95 % Wilson
  interval), how many diverged, and the median PSNR of the runs that produced an image
  (diverged runs have no PSNR and are left out of it, not scored as 0 dB; ``+inf`` stays in).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Sequence

from .metrics import succeeded


def mean_score(values: Sequence[float]) -> float:
    """The mean of one run's per-image scores: NaN if any image has none (the run produced no
    reconstruction to score), ``+inf`` kept as it is (an exact copy is not 0 dB)."""
    if not values or any(math.isnan(v) for v in values):
        return math.nan
    return sum(values) / len(values)


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a success rate (honest spread for a few dozen seeds)."""
    if trials == 0:
        return (math.nan, math.nan)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return (max(0.0, centre - half), min(1.0, centre + half))


def median_psnr(psnrs: Sequence[float]) -> float:
    """The median score (PSNR, SSIM) of the runs that produced an image (NaN runs left out;
    NaN if none)."""
    scored = [p for p in psnrs if not math.isnan(p)]
    return statistics.median(scored) if scored else math.nan


@dataclass(frozen=True)
class Aggregate:
    """A set of runs in numbers (see the module's rule)."""

    runs: int
    successes: int
    diverged: int
    median_psnr: float

    @property
    def rate(self) -> float:
        return self.successes / self.runs if self.runs else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.runs)


def aggregate(psnrs: Sequence[float], diverged: Sequence[bool] | None = None) -> Aggregate:
    """Summarise runs given their PSNRs (NaN: no image) and, optionally, which diverged."""
    flags = [False] * len(psnrs) if diverged is None else list(diverged)
    if len(flags) != len(psnrs):
        raise ValueError(f"{len(psnrs)} PSNRs but {len(flags)} divergence flags")
    gone = [d or math.isnan(p) for p, d in zip(psnrs, flags)]
    return Aggregate(
        runs=len(psnrs),
        successes=sum(succeeded(p, d) for p, d in zip(psnrs, gone)),
        diverged=sum(gone),
        median_psnr=median_psnr([p for p, d in zip(psnrs, gone) if not d]),
    )
