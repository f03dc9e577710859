"""DP-SGD as a client-side defence, the one practitioners deploy (Abadi et al. 2016), run by
Opacus: every example's gradient is clipped to norm ``clip``, Gaussian noise of standard
deviation ``sigma * clip`` is added to their sum, and Opacus's RDP accountant turns
(``sigma``, the sampling rate, the number of steps) into the ``epsilon`` of an
(epsilon, delta) guarantee."""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass
from typing import Iterator

import torch

from ..defences.transforms import Described, Description
from .spec import key_values

DEFAULT_DELTA = 1e-5
DPSGD_HELP = "dpsgd:sigma=S,clip=C[,delta=D] (DP-SGD with Opacus: noise multiplier S, per-example clipping norm C)"


@dataclass(frozen=True)
class DPSGD(Described):
    """Opacus's DP-SGD on the client: noise multiplier ``sigma`` (0: clipping alone), clipping
    norm ``clip`` and the ``delta`` of the guarantee its accountant reports."""

    sigma: float
    clip: float = 1.0
    delta: float = DEFAULT_DELTA

    def __post_init__(self) -> None:
        if not (math.isfinite(self.sigma) and self.sigma >= 0):
            raise ValueError(f"dpsgd needs sigma >= 0, got {self.sigma}")
        if not (math.isfinite(self.clip) and self.clip > 0):
            raise ValueError(f"dpsgd needs a clipping norm > 0, got {self.clip}")
        if not 0 < self.delta < 1:
            raise ValueError(f"dpsgd needs delta in (0, 1), got {self.delta}")

    def describe(self) -> Description:
        spec = f"dpsgd:sigma={self.sigma:g},clip={self.clip:g}"
        if self.delta != DEFAULT_DELTA:
            spec += f",delta={self.delta:g}"
        return Description("dpsgd", self.sigma, spec, f"DP-SGD σ={self.sigma:g}, C={self.clip:g}")

    def epsilon(self, sample_rate: float, steps: int) -> float:
        """The epsilon Opacus's RDP accountant gives for ``steps`` steps at ``sample_rate``
        (infinite without noise)."""
        return accountant_epsilon(self.sigma, sample_rate, steps, self.delta)


def accountant_epsilon(sigma: float, sample_rate: float, steps: int, delta: float) -> float:
    """Opacus's RDP accountant, asked directly."""
    from opacus.accountants import RDPAccountant

    if sigma == 0:
        return math.inf
    accountant = RDPAccountant()
    accountant.history = [(sigma, sample_rate, steps)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "optimal order is the smallest alpha": a looser bound, still a bound
        return float(accountant.get_epsilon(delta))


def parse_dpsgd(spec: str) -> DPSGD:
    """``dpsgd:sigma=1,clip=1`` (see :data:`DPSGD_HELP`)."""
    values = key_values(spec, "dpsgd", {"sigma": float, "clip": float, "delta": float})
    if "sigma" not in values:
        raise ValueError(f"cannot read {spec!r}: dpsgd needs sigma=..., e.g. {DPSGD_HELP}")
    return DPSGD(**values)


@contextlib.contextmanager
def quiet_opacus() -> Iterator[None]:
    """Opacus without its three expected warnings: no cryptographically secure generator (the
    noise is seeded on purpose, for reproducible runs), full backward hooks, and "optimal order
    is the smallest alpha" (the accountant's bound is looser there, still a bound)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(Secure RNG|[Ff]ull backward hook|optimal order).*")
        yield


def privatise(module: torch.nn.Module, optimiser: torch.optim.Optimizer, data: torch.utils.data.DataLoader,
              dp: DPSGD, generator: torch.Generator, poisson_sampling: bool) -> tuple:
    """Opacus's ``PrivacyEngine`` (RDP accountant) on a model, its optimiser and its data: each
    example's gradient clipped to ``dp.clip``, noise ``dp.sigma * dp.clip`` drawn from
    ``generator``; batches drawn by Poisson sampling, or taken as the loader gives them.
    Returns the wrapped model, optimiser and loader, and the engine (its ``get_epsilon``)."""
    from opacus import PrivacyEngine

    engine = PrivacyEngine(accountant="rdp")
    module, optimiser, data = engine.make_private(module=module, optimizer=optimiser, data_loader=data,
                                                  noise_multiplier=dp.sigma, max_grad_norm=dp.clip,
                                                  poisson_sampling=poisson_sampling, noise_generator=generator)
    return module, optimiser, data, engine
