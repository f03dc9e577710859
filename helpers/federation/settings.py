"""What a federated run is set up with: how many clients, how many rounds, how each client
trains, which attack the curious server runs, and which images each client holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..attacks import RECIPES, get_recipe
from ..clients import DPSGD, FedAvg
from ..data import Example
from ..experiments import attacks_batches
from ..model import MODELS

MAX_CLIENTS, MAX_ROUNDS = 64, 50


@dataclass(frozen=True)
class Federation:
    """A federated training run and the curious server's attack on it.

    ``clients`` clients train the global ``model`` for ``rounds`` rounds. In every round each
    client takes ``local_steps`` full-batch SGD steps with learning rate ``lr`` on ``batch``
    of its own images and returns its weights (one step: FedSGD, exactly; more: FedAvg); with
    ``dp`` it trains with Opacus's DP-SGD. With ``secagg`` the clients run Flower's SecAgg+
    protocol, so the server receives only the weighted mean of their weights. The server
    starts from the reference initialisation that ``seed`` draws, reads every update it
    receives as a gradient ((sent - returned) / lr) and runs ``recipe`` on it (``iterations``
    steps; None: the recipe's own), its dummy seeded by ``seed``."""

    clients: int = 4
    rounds: int = 2
    local_steps: int = 1
    lr: float = 0.1
    batch: int = 1
    recipe: str = "closed-form"
    iterations: int | None = None
    seed: int = 1234
    secagg: bool = False
    dp: DPSGD | None = None
    model: str = "lenet"

    def __post_init__(self) -> None:
        if not 2 <= self.clients <= MAX_CLIENTS:
            raise ValueError(f"a federation needs from 2 to {MAX_CLIENTS} clients, got {self.clients}")
        if not 1 <= self.rounds <= MAX_ROUNDS:
            raise ValueError(f"--rounds must be from 1 to {MAX_ROUNDS}, got {self.rounds}")
        FedAvg(steps=self.local_steps, lr=self.lr, batch=self.batch)  # its own checks, its own messages
        if self.recipe not in RECIPES:
            raise ValueError(f"unknown recipe {self.recipe!r}; choose one of: {', '.join(sorted(RECIPES))}")
        if self.batch > 1 and not attacks_batches(get_recipe(self.recipe)):
            raise ValueError(f"recipe {self.recipe} recovers one image; a batch of {self.batch} needs dlg or idlg")
        if self.iterations is not None and self.iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {self.iterations}")
        if self.secagg and self.clients < 3:
            raise ValueError(f"SecAgg+ needs at least 3 clients, got {self.clients}")
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of: {', '.join(MODELS)}")

    @property
    def client(self) -> FedAvg:
        """Every client's local training, in :mod:`helpers.clients`' terms."""
        return FedAvg(steps=self.local_steps, lr=self.lr, batch=self.batch)

    def describe(self) -> dict:
        """The settings as a flat record (what the JSON output repeats)."""
        return {"clients": self.clients, "rounds": self.rounds, "local_steps": self.local_steps, "lr": self.lr,
                "batch": self.batch, "recipe": self.recipe, "iterations": self.iterations, "seed": self.seed,
                "secagg": self.secagg, "dp": None if self.dp is None else self.dp.spec, "model": self.model}


def partition(examples: Sequence[Example], clients: int, batch: int) -> list[list[Example]]:
    """The images each client holds: consecutive equal shares of ``examples`` (any left over
    go unused). Each share needs at least one batch."""
    share = len(examples) // clients
    if share < batch:
        raise ValueError(f"{clients} clients with a batch of {batch} need at least {clients * batch} images, "
                         f"got {len(examples)}")
    return [list(examples[k * share:(k + 1) * share]) for k in range(clients)]


def round_batch(holding: Sequence[Example], server_round: int, batch: int) -> list[Example]:
    """The ``batch`` images a client trains on in round ``server_round`` (from 1): the next
    ones of its share, wrapping around, so that each round brings new images while any are left."""
    start = (server_round - 1) * batch
    return [holding[(start + j) % len(holding)] for j in range(batch)]
