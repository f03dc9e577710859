"""The curious server, as an ordinary Flower ``ServerApp``: its strategy is Flower's FedAvg,
and before aggregating a round it keeps every update it received and runs one of the
project's attacks on it.

It knows only what a Flower server knows: the global weights it sent, the weights each
client returned, the number of examples each reported and the training settings it chose
(local steps, learning rate, batch). Behind SecAgg+ it receives only the clients' weighted
mean, and attacks that."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..attacks import Result, get_recipe, run_attack
from ..model import exact_cuda_matmul, seeded_setup
from .client import load_weights
from .settings import Federation


@dataclass
class Observation:
    """One update the server received and its attack on it: ``partition`` is the client
    whose update it was (None behind SecAgg+: the mean of every client's), ``examples`` the
    number of examples the client reported, ``epsilon`` the DP-SGD guarantee it reported for
    this round's training alone (not composed over rounds)."""

    server_round: int
    partition: int | None
    examples: int
    result: Result
    epsilon: float | None = None
    participants: list[int] = field(default_factory=list)


def read_gradient(sent: list[np.ndarray], returned: list[np.ndarray], lr: float) -> list[torch.Tensor]:
    """The update read as a gradient: (sent - returned) / lr, the gradient itself (up to
    float32 rounding) for one local SGD step (FedSGD)."""
    return [torch.from_numpy((np.asarray(s, dtype=np.float32) - np.asarray(r, dtype=np.float32)) / np.float32(lr))
            for s, r in zip(sent, returned, strict=True)]


def attack_update(federation: Federation, sent: list[np.ndarray], returned: list[np.ndarray]) -> Result:
    """The server's attack on one update: the model loaded with the weights it sent, the update
    read as a gradient, a dummy of ``federation.batch`` rows (or the recipe's restarts) seeded
    by ``federation.seed``."""
    recipe = get_recipe(federation.recipe)
    rows = federation.batch if federation.batch > 1 else recipe.restarts
    setup = seeded_setup(federation.seed, batch=rows, model=federation.model)
    model = load_weights(setup.model, sent)
    gradient = read_gradient(sent, returned, federation.lr)
    with exact_cuda_matmul():
        return run_attack(model, gradient, setup.dummy_image, setup.dummy_label, recipe,
                          iterations=federation.iterations, snapshot_steps=())


def curious_strategy(federation: Federation, initial: list[np.ndarray]) -> Any:
    """Flower's FedAvg, sampling every client every round and telling them the training
    settings, that attacks each update before aggregating; its ``observations`` list grows
    as the rounds go."""
    from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.server.strategy import FedAvg

    class CuriousFedAvg(FedAvg):
        def __init__(self) -> None:
            super().__init__(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=federation.clients,
                             min_available_clients=federation.clients, min_evaluate_clients=0,
                             initial_parameters=ndarrays_to_parameters(initial),
                             on_fit_config_fn=lambda server_round: {
                                 "round": server_round, "local-steps": federation.local_steps, "lr": federation.lr,
                                 "batch": federation.batch})
            self.observations: list[Observation] = []
            self.sent: dict[int, list[np.ndarray]] = {}
            self.failures: list[str] = []  # why a client's round failed, if one did

        def configure_fit(self, server_round, parameters, client_manager):
            self.sent[server_round] = parameters_to_ndarrays(parameters)  # what every client starts from
            return super().configure_fit(server_round, parameters, client_manager)

        def aggregate_fit(self, server_round, results, failures):
            # replies arrive in whatever order the clients finish; FedAvg's float sum in a fixed
            # order makes the next round's weights the same on every run
            results = sorted(results, key=lambda item: int(item[1].metrics.get("partition", -1)))
            sent = self.sent[server_round]
            self.failures += [str(f) if isinstance(f, BaseException) else "a client returned no update" for f in failures]
            if federation.secagg:  # every result carries the same unmasked mean
                mean = parameters_to_ndarrays(results[0][1].parameters) if results else None
                if mean is not None:
                    participants = sorted(int(r.metrics["partition"]) for _, r in results if "partition" in r.metrics)
                    epsilon = results[0][1].metrics.get("epsilon")  # every client trains with the same DP-SGD
                    self.observations.append(Observation(server_round, None, sum(r.num_examples for _, r in results),
                                                         attack_update(federation, sent, mean),
                                                         None if epsilon is None else float(epsilon), participants))
            else:
                for _, res in results:
                    partition = int(res.metrics["partition"])
                    epsilon = res.metrics.get("epsilon")
                    self.observations.append(Observation(
                        server_round, partition, res.num_examples,
                        attack_update(federation, sent, parameters_to_ndarrays(res.parameters)),
                        None if epsilon is None else float(epsilon), [partition]))
            return super().aggregate_fit(server_round, results, failures)

    return CuriousFedAvg()


def make_server_app(federation: Federation, strategy: Any):
    """A Flower ``ServerApp`` running ``strategy`` for ``federation.rounds`` rounds, through
    Flower's SecAgg+ workflow when ``federation.secagg``."""
    from flwr.server import LegacyContext, ServerConfig
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
    from flwr.serverapp import ServerApp

    app = ServerApp()

    @app.main()
    def main(grid, context) -> None:
        legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=federation.rounds), strategy=strategy)
        fit = None
        if federation.secagg:  # every client's key shared among all of them; all but one share unmask it
            fit = SecAggPlusWorkflow(num_shares=federation.clients, reconstruction_threshold=federation.clients - 1)
        DefaultWorkflow(fit_workflow=fit)(grid, legacy)

    return app
