"""The federated client: how many private images its shared gradient is of, and which
conditions (a local batch, a gradient defence) the command line can put on it.

A local batch is not a transform of one image's gradient: the client trains on ``size``
private images at once and shares the gradient of the mean loss, so the attacker faces a
batch (DLG's batch attack). The trial pipeline reads :func:`batch_size`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

import numpy as np
import torch

from ..clients import DPSGD, parse_dpsgd
from ..clients.privacy import DPSGD_HELP
from ..defences import Defence, parse_defences
from ..defences.transforms import Described, Description
from ..defences.spec import KINDS, SPEC_HELP, only_one, spec_number, split_spec
from ..metrics import mse

MAX_BATCH = 64
CONDITION_HELP = f"{SPEC_HELP}, {DPSGD_HELP} or batch=SIZE"


@dataclass(frozen=True)
class LocalBatch(Described):
    """The client trains on ``size`` private images at once and shares the gradient of the
    mean loss (attacked jointly, one dummy row per image)."""

    size: int

    def __post_init__(self) -> None:
        if not 1 <= self.size <= MAX_BATCH:
            raise ValueError(f"batch size must be a whole number from 1 to {MAX_BATCH}, got {self.size}")

    def describe(self) -> Description:
        return Description("batch", float(self.size), f"batch={self.size}", f"local batch of {self.size}")


Condition = Union[Defence, LocalBatch, DPSGD]


def batch_size(condition: Condition) -> int:
    """How many private images one shared gradient is of (1 unless a local batch)."""
    return condition.size if isinstance(condition, LocalBatch) else 1


def parse_condition(spec: str) -> Condition:
    """One condition from its command-line spelling (see :data:`CONDITION_HELP`)."""
    return only_one(parse_conditions(spec), spec)


def parse_conditions(spec: str) -> list[Condition]:
    """``batch=2,4`` gives two local batches, ``dpsgd:sigma=1,clip=1`` DP-SGD on the client;
    anything else is a gradient defence."""
    if spec.strip().lower().partition(":")[0].strip() == "dpsgd":
        return [parse_dpsgd(spec)]
    kind, eq, values = split_spec(spec)
    if kind != "batch":
        if kind not in KINDS:
            raise ValueError(f"unknown defence {spec!r}; use {CONDITION_HELP}")
        return list(parse_defences(spec))
    if not values:
        raise ValueError(f"cannot read defence {spec!r}: batch needs a value, e.g. batch=4")
    sizes = [spec_number(kind, v, spec) for v in values]
    if any(v != int(v) or not 1 <= v <= MAX_BATCH for v in sizes):
        raise ValueError(f"cannot read defence {spec!r}: a batch size is a whole number from 1 to {MAX_BATCH}")
    return [LocalBatch(int(v)) for v in sizes]


def pair_reconstructions(reconstructions: torch.Tensor, truths: torch.Tensor) -> list[int]:
    """The pairing problem: the attack's dummy rows come back in no particular order. Match
    each private image to one reconstruction so the total MSE (pixels clipped to [0, 1]) is
    least (Hungarian algorithm); ``pairing[i]`` is the row that reconstructs image ``i``.
    Non-finite rows cost infinitely much (they are matched last)."""
    from scipy.optimize import linear_sum_assignment

    n = truths.shape[0]
    costs = np.full((n, reconstructions.shape[0]), 1e6)
    for i in range(n):
        for j in range(reconstructions.shape[0]):
            error = mse(reconstructions[j], truths[i])
            if math.isfinite(error):
                costs[i, j] = error
    rows, cols = linear_sum_assignment(costs)
    return [int(c) for _, c in sorted(zip(rows, cols))]
