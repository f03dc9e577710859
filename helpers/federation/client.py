"""The honest clients, as a Flower ``ClientApp``: each holds its share of the private images,
and in every round trains the global weights it receives with :func:`helpers.clients.local_training`
(plain SGD, or Opacus's DP-SGD) and returns its new weights, its number of examples and
nothing else the server could not have. The ``partition`` it reports is the simulation's
bookkeeping (which share it holds), used only to score the attack afterwards."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..clients import FedAvg, local_training
from ..data import Example
from ..model import seeded_setup
from .settings import Federation, round_batch


def load_weights(model: torch.nn.Module, arrays: Sequence[np.ndarray]) -> torch.nn.Module:
    """``model`` with its parameters (in ``parameters()`` order) set to ``arrays``."""
    with torch.no_grad():
        for parameter, array in zip(model.parameters(), arrays, strict=True):
            parameter.copy_(torch.from_numpy(np.asarray(array)))
    return model


def as_arrays(tensors: Sequence[torch.Tensor]) -> list[np.ndarray]:
    return [t.detach().cpu().numpy().copy() for t in tensors]


def client_seed(federation: Federation, server_round: int, partition: int) -> int:
    """The seed of one client's DP-SGD noise in one round: its own, and the run's."""
    return federation.seed + 1_000_003 * server_round + 7_919 * partition


def make_client_app(federation: Federation, holdings: Sequence[Sequence[Example]]):
    """A Flower ``ClientApp`` whose node ``k`` (Flower's ``partition-id``) holds ``holdings[k]``,
    running the SecAgg+ client mod when ``federation.secagg``."""
    from flwr.client import NumPyClient
    from flwr.client.mod import secaggplus_mod
    from flwr.clientapp import ClientApp

    class HonestClient(NumPyClient):
        def __init__(self, partition: int) -> None:
            self.partition = partition

        def fit(self, parameters, config):
            torch.set_num_threads(1)
            server_round = int(config["round"])
            seed = client_seed(federation, server_round, self.partition)
            np.random.seed(seed % 2**32)  # SecAgg+'s stochastic rounding draws from numpy's global generator
            batch = round_batch(holdings[self.partition], server_round, int(config["batch"]))
            model = load_weights(seeded_setup(federation.seed, model=federation.model).model, parameters)
            client = FedAvg(steps=int(config["local-steps"]), lr=float(config["lr"]), batch=len(batch))  # as the server says
            weights, _, epsilon = local_training(model, torch.stack([e.image for e in batch]), [e.label for e in batch],
                                                 client, federation.dp, seed)
            metrics = {"partition": self.partition}
            if epsilon is not None:
                metrics["epsilon"] = float(epsilon)
            return as_arrays(weights), len(batch), metrics

    def client_fn(context):
        return HonestClient(int(context.node_config["partition-id"])).to_client()

    return ClientApp(client_fn=client_fn, mods=[secaggplus_mod] if federation.secagg else [])
