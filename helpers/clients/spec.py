"""The command line's spelling of a client: ``fedsgd`` or ``fedavg:steps=E,lr=LR,batch=B``.

Both train on ``batch`` private images (the attacked one and the next ones of the data set);
every local step is one full-batch SGD step on their mean loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

MAX_STEPS, MAX_BATCH = 1000, 64
CLIENT_HELP = "fedsgd (one gradient, the default) or fedavg:steps=E,lr=LR,batch=B (E local SGD steps; shares the update)"


@dataclass(frozen=True)
class FedSGD:
    """The paper's client: one gradient of the mean loss over ``batch`` images, shared as it is."""

    batch: int = 1

    def __post_init__(self) -> None:
        _check_batch(self.batch)

    steps = property(lambda self: 1)
    spec = property(lambda self: "fedsgd" if self.batch == 1 else f"fedsgd:batch={self.batch}")


@dataclass(frozen=True)
class FedAvg:
    """Federated averaging's client: ``steps`` local SGD steps with learning rate ``lr`` on its
    ``batch`` images; it shares the change of its weights, which the attacker reads as a
    gradient once divided by ``lr`` (exactly the gradient when ``steps`` is 1)."""

    steps: int = 1
    lr: float = 0.1
    batch: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= MAX_STEPS:
            raise ValueError(f"fedavg needs steps from 1 to {MAX_STEPS}, got {self.steps}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"fedavg needs a learning rate > 0, got {self.lr}")
        _check_batch(self.batch)

    @property
    def spec(self) -> str:
        return f"fedavg:steps={self.steps},lr={self.lr:g},batch={self.batch}"


Client = Union[FedSGD, FedAvg]


def _check_batch(batch: int) -> None:
    if not 1 <= batch <= MAX_BATCH:
        raise ValueError(f"a client's batch is a whole number from 1 to {MAX_BATCH}, got {batch}")


def key_values(spec: str, kind: str, allowed: dict[str, type]) -> dict[str, float | int]:
    """``kind:a=1,b=2`` as ``{"a": 1, "b": 2}``, each value of its ``allowed`` type; a
    ValueError in one line names the spec otherwise."""
    head, _, rest = spec.strip().partition(":")
    if head.strip().lower() != kind:
        raise ValueError(f"cannot read {spec!r}: expected {kind}:...")
    values: dict[str, float | int] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, text = (s.strip() for s in part.partition("="))
        key = key.lower()
        if not eq or key not in allowed:
            raise ValueError(f"cannot read {spec!r}: {part!r} is not one of {', '.join(k + '=...' for k in allowed)}")
        if key in values:
            raise ValueError(f"cannot read {spec!r}: {key} is given twice")
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"cannot read {spec!r}: {key} needs a number, got {text!r}") from None
        if allowed[key] is int and number != int(number):
            raise ValueError(f"cannot read {spec!r}: {key} needs a whole number, got {text!r}")
        if not math.isfinite(number):
            raise ValueError(f"cannot read {spec!r}: {key} needs a finite number")
        values[key] = int(number) if allowed[key] is int else number
    return values


def parse_client(spec: str) -> Client:
    """A client from its command-line spelling (see :data:`CLIENT_HELP`)."""
    kind = spec.strip().partition(":")[0].strip().lower()
    if kind == "fedsgd":
        return FedSGD(**key_values(spec, "fedsgd", {"batch": int}))
    if kind == "fedavg":
        return FedAvg(**key_values(spec, "fedavg", {"steps": int, "lr": float, "batch": int}))
    raise ValueError(f"unknown client {spec!r}; use {CLIENT_HELP}")
