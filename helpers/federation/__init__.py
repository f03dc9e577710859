"""Federated learning in a real framework: Flower's simulation engine (on Ray) runs honest
clients that train the reference LeNet, and a curious server (an ordinary Flower
``ServerApp`` with FedAvg) that attacks every update it receives with the project's recipes.

* :class:`Federation` sets the run up (clients, rounds, local steps, learning rate, batch,
  SecAgg+, DP-SGD, the attack);
* :func:`simulate` runs it and scores every attack against the attacked client's images.

Flower and Ray are imported only when a simulation runs (the ``fl`` extra)."""

from .records import load_flower_runs, per_round, summarise_attacks
from .server import Observation, attack_update, read_gradient
from .settings import Federation, partition, round_batch
from .simulation import FederatedRun, shutdown_ray, simulate

__all__ = ["FederatedRun", "Federation", "Observation", "attack_update", "load_flower_runs", "partition",
           "per_round", "read_gradient", "round_batch", "shutdown_ray", "simulate", "summarise_attacks"]
