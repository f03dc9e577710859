"""Federated learning in Flower: the curious server's reading of an update, its attack, a
real simulation on Ray, sweeps as Ray tasks, and the command line's refusals. Every test
that starts Ray checks that nothing of it is left running."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest
import torch

from helpers.cli import main
from helpers.clients import FedAvg, local_training
from helpers.data import Example, load_sample, load_sample_set
from helpers.experiments import run_sweep, to_json
from helpers.federation import (Federation, attack_update, load_flower_runs, partition, read_gradient, round_batch,
                                simulate)
from helpers.federation.client import as_arrays
from helpers.gradients import true_gradient
from helpers.metrics import psnr
from helpers.model import seeded_setup

RAY_PROCESSES = ("raylet", "gcs_server", "ray::", "dashboard.py", "log_monitor.py", "ray/autoscaler")


def ray_processes() -> dict[int, str]:
    """Live (not zombie) Ray processes on this machine, by pid."""
    found = {}
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            line = " ".join(process.info["cmdline"] or [])
            if process.info["status"] != psutil.STATUS_ZOMBIE and any(p in line for p in RAY_PROCESSES):
                found[process.pid] = line[:80]
        except psutil.Error:
            continue
    return found


def belongs_elsewhere(pid: int) -> bool:
    """Whether a Ray process belongs to another program's live Ray: one of its ancestors is
    alive and is neither this process nor the init process (a Ray process this test left
    behind would be this process's descendant, or an orphan)."""
    try:
        for ancestor in psutil.Process(pid).parents():
            if ancestor.pid == os.getpid():
                return False
            if ancestor.pid != 1 and "python" in ancestor.name():
                return True
    except psutil.Error:
        return True  # gone already
    return False


@pytest.fixture
def no_ray_left():
    """Fails the test if a Ray process it started is still running a few seconds after it
    ends (Ray processes of another program on this machine are not its own)."""
    before = set(ray_processes())
    yield
    import ray

    assert not ray.is_initialized()

    def left() -> dict[int, str]:
        return {pid: line for pid, line in ray_processes().items() if pid not in before and not belongs_elsewhere(pid)}

    deadline = time.monotonic() + 15
    while left() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert left() == {}


# ------------------------------------------------------------------ the server's reading, no Ray


def test_one_local_step_read_by_the_server_is_the_clients_gradient():
    setup = seeded_setup(0)
    example = load_sample(0)
    sent = as_arrays(setup.model.parameters())
    weights, _, _ = local_training(setup.model, example.image, [example.label], FedAvg(steps=1, lr=0.1))
    read = read_gradient(sent, as_arrays(weights), 0.1)
    truth = true_gradient(setup.model, example.image, example.label)
    cosine = torch.nn.functional.cosine_similarity(torch.cat([r.flatten() for r in read]),
                                                   torch.cat([t.flatten() for t in truth]), dim=0)
    assert float(cosine) > 0.9999


def test_the_curious_servers_closed_form_recovers_a_fedsgd_clients_image_without_flower():
    federation = Federation(clients=2, rounds=1)
    example = load_sample(2)
    model = seeded_setup(federation.seed).model
    sent = as_arrays(model.parameters())
    weights, _, _ = local_training(model, example.image, [example.label], federation.client)
    result = attack_update(federation, sent, as_arrays(weights))
    assert psnr(result.image[0], example.image) >= 30 and result.label[0] == example.label


def test_clients_hold_equal_shares_and_take_new_images_each_round():
    examples = load_sample_set()
    holdings = partition(examples, 4, 1)
    assert [len(h) for h in holdings] == [2, 2, 2, 2]
    assert sum(holdings, []) == examples
    assert round_batch(holdings[1], 1, 1) == [examples[2]] and round_batch(holdings[1], 2, 1) == [examples[3]]
    assert round_batch(holdings[1], 3, 1) == [examples[2]]  # wraps around
    with pytest.raises(ValueError, match="need at least 10 images"):
        partition(examples, 5, 2)


@pytest.mark.parametrize("options, message", [
    (dict(clients=1), "from 2 to"), (dict(rounds=0), "--rounds"), (dict(local_steps=0), "steps"),
    (dict(lr=-1.0), "learning rate"), (dict(batch=2, recipe="closed-form"), "recovers one image"),
    (dict(secagg=True, clients=2), "at least 3"), (dict(recipe="nope"), "unknown recipe"),
])
def test_a_federation_refuses_bad_settings(options, message):
    with pytest.raises(ValueError, match=message):
        Federation(**options)


@pytest.mark.parametrize("argv, message", [
    (["--clients", "0"], "--clients"), (["--clients", "9"], "need 9 images"),
    (["--rounds", "0"], "--rounds"), (["--local-steps", "two"], "--local-steps"),
    (["--lr", "0"], "--lr"), (["--lr", "nan"], "--lr"), (["--batch", "2"], "recovers one image"),
    (["--secagg", "--clients", "2"], "at least 3"), (["--defence", "noise=1e-2"], "DP-SGD"),
    (["--defence", "dpsgd:sigma=-1"], "sigma"), (["--recipe", "nope"], "--recipe"),
    (["--data-dir", "/tmp"], "--data-dir"), (["--workers", "0"], "--workers"),
])
def test_bad_fl_options_are_refused_in_one_line_without_starting_ray(capsys, no_ray_left, argv, message):
    assert main(["fl", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err


@pytest.mark.parametrize("argv, message", [
    (["--address", "127.0.0.1:6379"], "--backend ray"), (["--backend", "spark"], "--backend"),
    (["--backend", "ray", "--address", "nowhere"], "host:port"), (["--backend", "ray", "--address", ""], "host:port"),
])
def test_bad_backend_options_are_refused_in_one_line(capsys, no_ray_left, argv, message):
    assert main(["sweep", "--seeds", "0", "--recipe", "closed-form", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err


def test_an_unreachable_cluster_is_one_line_and_exit_2(capsys, no_ray_left):
    assert main(["sweep", "--seeds", "0", "--recipe", "closed-form", "--backend", "ray", "--address", "127.0.0.1:9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot connect to a Ray cluster at 127.0.0.1:9") and "\n" not in err


# ------------------------------------------------------------------ Flower and Ray, for real


def test_a_two_client_flower_simulation_leaks_each_fedsgd_clients_image_and_leaves_no_ray(no_ray_left):
    """The command line end to end: Flower's simulation engine on Ray, the curious server's
    closed form on each client's update, scored against that client's own image; then the
    same run from the Python API, which must give the same numbers."""
    argv = ["fl", "--clients", "2", "--rounds", "2", "--local-steps", "1", "--recipe", "closed-form", "--json"]
    done = subprocess.run([sys.executable, "-m", "helpers", *argv], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads(done.stdout)
    attacks = record["attacks"]
    assert [(a["round"], a["client"]) for a in attacks] == [(1, 0), (1, 1), (2, 0), (2, 1)]
    names = [e.name for e in load_sample_set()]
    assert [a["image"] for a in attacks] == [names[0], names[4], names[1], names[5]]  # a new image each round
    for a in attacks:
        assert set(a) >= {"round", "client", "recipe", "psnr", "ssim", "label_true", "label_recovered", "status"}
        assert a["recipe"] == "closed-form" and a["psnr"] >= 30 and a["label_recovered"] == a["label_true"]

    again = simulate(Federation(clients=2, rounds=2, local_steps=1, recipe="closed-form"), load_sample_set())
    assert [(a["psnr"], a["ssim"], a["label_recovered"]) for a in again.attacks] == \
        [(a["psnr"], a["ssim"], a["label_recovered"]) for a in attacks]

    # the same run is shipped for notebook 13: its numbers still hold (a closed form moves by
    # well under 1 dB from one CPU's rounding to another's)
    shipped = load_flower_runs()["runs"]["two_clients"]
    assert shipped["settings"] == record["settings"]
    assert [a["image"] for a in shipped["attacks"]] == [a["image"] for a in attacks]
    assert all(abs(a["psnr"] - b["psnr"]) < 1 for a, b in zip(shipped["attacks"], attacks))


def test_the_ray_backend_gives_the_pools_numbers_seed_for_seed(no_ray_left):
    """In the portable arithmetic, which both backends must pass on to the workers they start."""
    example = load_sample(0)
    options = dict(iterations=15, workers=2, arithmetic="portable")
    pool = run_sweep(example, [0, 1, 2], "dlg", **options)
    on_ray = run_sweep(example, [0, 1, 2], "dlg", backend="ray", **options)
    def record(trial):  # NaN (a diverged run's image metrics) as None, so that equal records compare equal
        return {k: v for k, v in to_json(trial.as_dict()).items() if k != "seconds"}

    assert len(pool) == len(on_ray) == 3
    for a, b in zip(pool, on_ray):
        assert a.result.losses == b.result.losses and torch.equal(a.result.image, b.result.image)
        assert record(a) == record(b)
    assert len({t.result.grad_loss for t in pool}) == 3  # three different problems, not one


def test_a_sweep_refuses_to_reuse_a_running_ray(no_ray_left, monkeypatch):
    import ray

    from helpers.ray_pool import QUIET, ray_map

    for name, value in QUIET.items():
        monkeypatch.setenv(name, value)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        with pytest.raises(RuntimeError, match="already running"):
            ray_map(abs, [-1])
    finally:
        ray.shutdown()


def test_a_client_that_fails_stops_the_run_with_its_reason_and_ray_is_still_shut_down(no_ray_left):
    """A client whose data cannot be trained on (a label outside the 100 classes) fails in its
    Ray actor; the run raises with the reason instead of returning fewer attacks."""
    examples = load_sample_set()[:2]
    broken = [examples[0], Example(examples[1].image, 500, "broken")]
    with pytest.raises(RuntimeError, match="attacked 1 of 2 update"):
        simulate(Federation(clients=2, rounds=1), broken)

