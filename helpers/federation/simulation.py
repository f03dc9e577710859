"""A federated run in Flower's simulation engine (Ray is its backend), attacked by the
curious server, and scored afterwards against each client's true images."""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import torch

from ..data import Example
from ..experiments.client import pair_reconstructions
from ..experiments.trial import score
from ..model import seeded_setup
from ..pool import scoped_environment
from ..ray_pool import QUIET as RAY_QUIET
from ..ray_pool import shutdown, terminate_as_exit
from .client import as_arrays, make_client_app
from .server import Observation, curious_strategy, make_server_app
from .settings import Federation, partition, round_batch

QUIET = {"FLWR_TELEMETRY_ENABLED": "0", **RAY_QUIET}  # no usage events sent (and none tried offline)


@dataclass
class FederatedRun:
    """A simulation's outcome: one record per attacked image (``attacks``), the server's
    observations (each with its reconstruction), the wall time, and the settings."""

    federation: Federation
    attacks: list[dict]
    observations: list[Observation] = field(repr=False)
    wall_seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"settings": self.federation.describe(), "attacks": self.attacks,
                "wall_seconds": round(self.wall_seconds, 1)}


def simulate(federation: Federation, examples: Sequence[Example], workers: int | None = None) -> FederatedRun:
    """Run ``federation`` in Flower's simulation engine with ``examples`` shared among the
    clients (:func:`.settings.partition`) on ``workers`` Ray CPUs (default: every core, one
    client at a time on each), and score every attack of the curious server against the
    images of the client(s) it attacked. Ray is shut down before this returns, even on an
    error."""
    import ray

    if ray.is_initialized():
        raise RuntimeError("Ray is already running in this process; a simulation starts and stops its own")
    holdings = partition(examples, federation.clients, federation.batch)
    initial = as_arrays(seeded_setup(federation.seed, model=federation.model).model.parameters())
    start = time.perf_counter()
    threads = torch.get_num_threads()
    with terminate_as_exit(), _quiet_engine():
        from flwr.simulation import run_simulation

        strategy = curious_strategy(federation, initial)
        cpus = workers or os.cpu_count() or 1
        try:
            torch.set_num_threads(1)  # the server's attacks on one thread, as every other entry point's
            run_simulation(server_app=make_server_app(federation, strategy),
                           client_app=make_client_app(federation, holdings), num_supernodes=federation.clients,
                           backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0},
                                           "init_args": {"num_cpus": cpus, "include_dashboard": False,
                                                         "log_to_driver": False, "logging_level": logging.ERROR}})
        finally:
            shutdown_ray()
            torch.set_num_threads(threads)
    wall = time.perf_counter() - start
    expected = federation.rounds * (1 if federation.secagg else federation.clients)
    if strategy.failures or len(strategy.observations) != expected:
        why = strategy.failures[-1].strip().splitlines()[-1] if strategy.failures else "a client did not answer"
        raise RuntimeError(f"the simulation attacked {len(strategy.observations)} of {expected} update(s): {why}")
    return FederatedRun(federation, score_observations(federation, strategy.observations, holdings),
                        strategy.observations, wall)


def score_observations(federation: Federation, observations: Sequence[Observation],
                       holdings: Sequence[Sequence[Example]]) -> list[dict]:
    """One record per (observation, attacked client, image of its batch): PSNR and SSIM of the
    reconstruction paired with that image, and the labels. Behind SecAgg+ the one
    reconstruction of the mean is scored against every participating client's images."""
    records = []
    for seen in observations:
        targets = seen.participants if seen.partition is None else [seen.partition]
        for client in targets:
            batch = round_batch(holdings[client], seen.server_round, federation.batch)
            truths = torch.stack([e.image for e in batch])
            result = seen.result
            pairing = list(range(len(batch))) if result.diverged else pair_reconstructions(result.image, truths)
            for example, row in zip(batch, pairing):
                metrics = score(result, example, row)
                records.append({
                    "round": seen.server_round, "client": client, "recipe": result.recipe,
                    "update": "own" if seen.partition is not None else "secagg-mean",
                    "image": example.name, "psnr": metrics.psnr, "ssim": metrics.ssim,
                    "label_true": metrics.label_true, "label_recovered": metrics.label_recovered,
                    "status": result.status, "reason": result.reason, "examples": seen.examples,
                    "epsilon": seen.epsilon, "seconds": round(result.seconds, 3)})
    return records


def shutdown_ray() -> None:
    """Stop this process's Ray and every process it started (also after a start that failed
    half way)."""
    import ray

    shutdown(ray)


@contextmanager
def _quiet_engine() -> Iterator[None]:
    """Flower and Ray without telemetry, usage reports or per-round INFO lines; the
    environment and ``PYTHONPATH`` (which Flower's Ray backend rewrites) put back afterwards."""
    with scoped_environment(QUIET, keep=["PYTHONPATH"]):
        import flwr.simulation  # noqa: F401  (read the variables above; set up Flower's logger before it is quietened)

        logger = logging.getLogger("flwr")
        levels = [(item, item.level) for item in [logger, *logger.handlers]]  # Flower's console handler has its own
        for item, _ in levels:
            item.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for item, level in levels:
                item.setLevel(level)
