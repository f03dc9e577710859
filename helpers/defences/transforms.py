"""What a client can do to its gradient before sharing it.

The DLG paper (Zhu, Liu and Han, NeurIPS 2019, section 5) asks how to stop the leak and tries
noise, pruning and lower precision, all here as *picklable* objects (frozen dataclasses with
``__call__``), so a sweep can send them to worker processes:

* :class:`Noise`: add Gaussian or Laplacian noise of a given **variance** to every entry
  (``std = sqrt(variance)``; Laplacian scale ``b = sqrt(variance / 2)``);
* :class:`Prune`: share only the largest-magnitude entries, zeroing the smallest
  ``fraction`` of each tensor (per layer, as the paper prunes);
* :class:`Quantise`: round-trip the gradient through float16, or a per-tensor symmetric
  8-bit integer code.

Each maps a gradient (list of tensors) to a new list of the same shapes; strength 0 is the
identity, bit for bit.

Seeding rule: a defence's randomness comes from its own ``torch.Generator`` seeded with
``seed``; an attack trial uses ``defence.seeded(trial_seed)``, so the noise of a trial is
decided by the trial's seed alone, whichever entry point runs it (and every seed of a sweep
draws its own noise). Deterministic defences ignore the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal, Union

import torch

from ..gradients import Gradient


@dataclass(frozen=True)
class Description:
    """How a client condition is named: its kind, a number for its strength, its
    command-line spelling and a label for figures."""

    kind: str
    strength: float
    spec: str
    label: str


class Described:
    """``kind``, ``strength``, ``spec`` and ``label`` read from :meth:`describe`."""

    def describe(self) -> Description:
        raise NotImplementedError

    kind = property(lambda self: self.describe().kind)
    strength = property(lambda self: self.describe().strength)
    spec = property(lambda self: self.describe().spec)
    label = property(lambda self: self.describe().label)

    def seeded(self, seed: int) -> "Described":
        """The condition for a trial with seed ``seed`` (itself, unless it draws random numbers)."""
        return self


@dataclass(frozen=True)
class NoDefence(Described):
    """Share the gradient as it is (the baseline)."""

    def describe(self) -> Description:
        return Description("none", 0.0, "none", "no defence")

    def __call__(self, gradient: Gradient) -> Gradient:
        return [g.clone() for g in gradient]


@dataclass(frozen=True)
class Noise(Described):
    """Add zero-mean noise of variance ``variance`` to every gradient entry.

    ``kind="gaussian"``: N(0, variance). ``kind="laplacian"``: Laplace(0, b) with
    ``b = sqrt(variance / 2)``, which has the same variance. The noise comes from a
    ``torch.Generator`` seeded with ``seed``, drawn tensor by tensor in parameter order.
    """

    variance: float
    kind: Literal["gaussian", "laplacian"] = "gaussian"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("gaussian", "laplacian"):
            raise ValueError(f"unknown noise {self.kind!r}; choose gaussian or laplacian")
        if not (self.variance >= 0 and math.isfinite(self.variance)):
            raise ValueError(f"noise variance must be a finite number >= 0, got {self.variance}")

    def describe(self) -> Description:
        spec = f"{'noise' if self.kind == 'gaussian' else 'laplace'}={self.variance:g}"
        return Description(self.kind, self.variance, spec, f"{self.kind} noise, variance {self.variance:g}")

    def seeded(self, seed: int) -> "Noise":
        """The same noise drawn from a generator seeded with ``seed`` (a trial's seed)."""
        return replace(self, seed=seed)

    def __call__(self, gradient: Gradient) -> Gradient:
        if self.variance == 0:
            return [g.clone() for g in gradient]
        generator = torch.Generator().manual_seed(self.seed)
        std = math.sqrt(self.variance)
        noisy = []
        for g in gradient:
            if self.kind == "gaussian":
                noise = torch.randn(g.shape, generator=generator, dtype=torch.float64) * std
            else:  # inverse CDF of the Laplace distribution, u uniform in (-1/2, 1/2)
                u = (torch.rand(g.shape, generator=generator, dtype=torch.float64) - 0.5).clamp(-0.5 + 1e-12, 0.5 - 1e-12)
                noise = -math.sqrt(self.variance / 2) * torch.sign(u) * torch.log1p(-2 * u.abs())
            noisy.append(g + noise.to(device=g.device, dtype=g.dtype))
        return noisy


@dataclass(frozen=True)
class Prune(Described):
    """Zero the smallest-magnitude ``fraction`` of the entries of each tensor (per layer):
    the client shares only its largest ``1 - fraction``. Ties are broken by position, so the
    result is deterministic."""

    fraction: float

    def __post_init__(self) -> None:
        if not 0 <= self.fraction <= 1:
            raise ValueError(f"pruned fraction must be in [0, 1], got {self.fraction}")

    def describe(self) -> Description:
        return Description("prune", self.fraction, f"prune={self.fraction:g}", f"{100 * self.fraction:g} % pruned")

    def __call__(self, gradient: Gradient) -> Gradient:
        pruned = []
        for g in gradient:
            out = g.clone()
            k = int(round(self.fraction * g.numel()))
            if k > 0:
                order = torch.sort(g.abs().flatten(), stable=True).indices
                out.view(-1)[order[:k]] = 0
            pruned.append(out)
        return pruned


@dataclass(frozen=True)
class Quantise(Described):
    """Share a lower-precision gradient: ``"fp16"`` rounds every entry to float16 and back;
    ``"int8"`` codes each tensor as integers -127..127 times one scale ``max|g| / 127``
    (symmetric, per tensor) and decodes it; ``"none"`` shares the float32 gradient."""

    precision: Literal["none", "fp16", "int8"]

    def __post_init__(self) -> None:
        if self.precision not in ("none", "fp16", "int8"):
            raise ValueError(f"unknown precision {self.precision!r}; choose fp16 or int8")

    def describe(self) -> Description:
        bits = {"none": 32.0, "fp16": 16.0, "int8": 8.0}[self.precision]  # the strength: bits per number
        label = {"none": "float32", "fp16": "half precision (fp16)", "int8": "8-bit integers (int8)"}[self.precision]
        return Description(self.precision, bits, self.precision, label)

    def __call__(self, gradient: Gradient) -> Gradient:
        if self.precision == "none":
            return [g.clone() for g in gradient]
        if self.precision == "fp16":
            return [g.to(torch.float16).to(g.dtype) for g in gradient]
        coded = []
        for g in gradient:
            top = g.abs().max()
            if top == 0 or not torch.isfinite(top):
                coded.append(g.clone())
                continue
            scale = top / 127
            coded.append((torch.round(g / scale).clamp(-127, 127) * scale).to(g.dtype))
        return coded


Defence = Union[NoDefence, Noise, Prune, Quantise]
