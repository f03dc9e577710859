"""The command line's spelling of a gradient defence: ``noise=1e-2``, ``laplace=1e-3``,
``prune=0.3``, ``fp16``, ``int8``, ``none``; a comma list of strengths gives several."""

from __future__ import annotations

import math
from typing import TypeVar

from .transforms import Defence, NoDefence, Noise, Prune, Quantise

KINDS = ("none", "noise", "gaussian", "laplace", "laplacian", "prune", "fp16", "int8")
SPEC_HELP = "none, noise=VARIANCE (Gaussian), laplace=VARIANCE, prune=FRACTION, fp16, int8"
T = TypeVar("T")
_EXAMPLE = {"noise": "1e-2", "gaussian": "1e-2", "laplace": "1e-2", "laplacian": "1e-2", "prune": "0.3"}


def split_spec(spec: str) -> tuple[str, bool, list[str]]:
    """``"kind=v1,v2"`` as ``(kind, has '=', [v1, v2])``, the kind lower-cased."""
    kind, eq, values = spec.strip().partition("=")
    return kind.strip().lower(), bool(eq), [v.strip() for v in values.split(",")] if values.strip() else []


def spec_number(kind: str, text: str, spec: str) -> float:
    """One finite number of a spec, or a ValueError naming the spec."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"cannot read defence {spec!r}: {kind} needs a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"cannot read defence {spec!r}: {kind} needs a finite number")
    return value


def only_one(parsed: list[T], spec: str) -> T:
    """The one item a spec was meant to give (a list of strengths is for sweep)."""
    if len(parsed) != 1:
        raise ValueError(f"cannot read defence {spec!r}: give one strength (a list of strengths is for sweep)")
    return parsed[0]


def parse_defence(spec: str) -> Defence:
    """One gradient defence from its command-line spelling (see :data:`SPEC_HELP`)."""
    return only_one(parse_defences(spec), spec)


def parse_defences(spec: str) -> list[Defence]:
    """A gradient defence at one or several strengths: ``noise=1e-4,1e-3,1e-2`` gives three."""
    kind, eq, values = split_spec(spec)
    if kind not in KINDS:
        raise ValueError(f"unknown defence {spec!r}; use {SPEC_HELP}")
    if kind in ("none", "fp16", "int8"):
        if eq:
            raise ValueError(f"cannot read defence {spec!r}: {kind} takes no value")
        return [NoDefence() if kind == "none" else Quantise(kind)]
    if not values:
        raise ValueError(f"cannot read defence {spec!r}: {kind} needs a value, e.g. {kind}={_EXAMPLE[kind]}")
    out: list[Defence] = []
    for part in values:
        value = spec_number(kind, part, spec)
        if kind == "prune":
            if not 0 <= value <= 1:
                raise ValueError(f"cannot read defence {spec!r}: the pruned fraction must be in [0, 1]")
            out.append(Prune(value))
        else:
            if value < 0:
                raise ValueError(f"cannot read defence {spec!r}: a variance must be >= 0")
            out.append(Noise(value, "gaussian" if kind in ("noise", "gaussian") else "laplacian"))
    return out
