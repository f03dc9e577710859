"""The clients that train (FedAvg), DP-SGD with Opacus, and secure aggregation: each checked
against an independent computation of what it must share."""

import json
import math
import warnings

import pytest
import torch

from helpers.cli import main
from helpers.clients import DPSGD, FedAvg, FedSGD, local_update, parse_client, parse_dpsgd, share
from helpers.data import load_sample
from helpers.experiments import defended_attack
from helpers.gradients import true_gradient
from helpers.model import seeded_setup


@pytest.fixture(scope="module")
def case():
    setup = seeded_setup(0)
    examples = [load_sample(i) for i in range(3)]
    return setup.model, examples


def close(a, b, tol=1e-5):
    return all(torch.allclose(x, y, rtol=tol, atol=tol * float(y.abs().max())) for x, y in zip(a, b))


def flat(gradient):
    return torch.cat([g.reshape(-1) for g in gradient])


def test_fedsgd_shares_the_reference_gradient_and_leaves_the_model_alone(case):
    model, (ex, *_) = case
    before = [p.detach().clone() for p in model.parameters()]
    message = share(model, ex.image, [ex.label])
    assert all(torch.equal(a, b) for a, b in zip(message.gradient, true_gradient(model, ex.image, ex.label)))
    assert message.clients == 1 and message.epsilon is None
    share(model, ex.image, [ex.label], FedAvg(steps=3, lr=0.5), DPSGD(1.0, 1.0))
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters()))


def test_one_fedavg_step_divided_by_its_learning_rate_is_the_gradient(case):
    model, (ex, *_) = case
    gradient = true_gradient(model, ex.image, ex.label)
    update, epsilon = local_update(model, ex.image, [ex.label], FedAvg(steps=1, lr=0.1))
    assert close(update, gradient, 1e-4) and epsilon is None


def test_several_fedavg_steps_are_the_sum_of_the_gradients_along_the_way(case):
    """An oracle: E SGD steps by hand, each on the gradient at the current weights."""
    import copy

    model, (ex, *_) = case
    worker = copy.deepcopy(model)
    total = None
    for _ in range(3):
        g = true_gradient(worker, ex.image, ex.label)
        total = g if total is None else [t + x for t, x in zip(total, g)]
        with torch.no_grad():
            for p, x in zip(worker.parameters(), g):
                p -= 0.002 * x
    update, _ = local_update(model, ex.image, [ex.label], FedAvg(steps=3, lr=0.002))
    assert close(update, total, 1e-4)
    first = flat(true_gradient(model, ex.image, ex.label))
    assert float((flat(update) - first).norm()) > 0.1 * float(first.norm())  # the later steps add to the first
    again, _ = local_update(model, ex.image, [ex.label], FedAvg(steps=3, lr=0.002))
    assert all(torch.equal(a, b) for a, b in zip(update, again))


def test_dpsgd_clips_each_example_before_averaging(case):
    """Without noise, Opacus's gradient is the mean of each example's gradient scaled to norm
    at most C (computed here one image at a time); with a clipping norm far above every
    gradient's it is the plain gradient: strength zero is the identity."""
    model, examples = case
    images = torch.stack([e.image for e in examples[:2]])
    labels = [e.label for e in examples[:2]]
    per_example = [true_gradient(model, e.image, e.label) for e in examples[:2]]
    clip = 0.1
    scaled = [[g * min(1.0, clip / float(flat(gs).norm())) for g in gs] for gs in per_example]
    oracle = [(a + b) / 2 for a, b in zip(*scaled)]
    clipped, epsilon = local_update(model, images, labels, FedSGD(batch=2), DPSGD(0.0, clip))
    assert close(clipped, oracle, 1e-4) and epsilon == math.inf
    assert float(flat(clipped).norm()) <= clip * (1 + 1e-5)
    plain, _ = local_update(model, images, labels, FedSGD(batch=2), DPSGD(0.0, 1e9))
    assert close(plain, true_gradient(model, images, labels), 1e-4)


def test_dpsgd_noise_is_seeded_and_has_the_calibrated_spread(case):
    model, (ex, *_) = case
    dp = DPSGD(sigma=2.0, clip=0.5)
    noisy, _ = local_update(model, ex.image, [ex.label], FedSGD(), dp, seed=4)
    again, _ = local_update(model, ex.image, [ex.label], FedSGD(), dp, seed=4)
    other, _ = local_update(model, ex.image, [ex.label], FedSGD(), dp, seed=5)
    assert all(torch.equal(a, b) for a, b in zip(noisy, again))
    assert not torch.equal(flat(noisy), flat(other))
    clipped, _ = local_update(model, ex.image, [ex.label], FedSGD(), DPSGD(0.0, 0.5))
    noise = flat(noisy) - flat(clipped)
    assert abs(float(noise.std()) / (dp.sigma * dp.clip) - 1) < 0.02  # one example: std sigma * C
    assert abs(float(noise.mean())) < 0.02


@pytest.mark.parametrize("sigma, steps", [(1.0, 1), (0.5, 4), (4.0, 2)])
def test_epsilon_is_what_opacus_accountant_says(case, sigma, steps):
    """The epsilon the client reports is Opacus's RDP accountant's for its steps at sampling
    rate 1 (every step takes the whole local batch), asked here directly."""
    from opacus.accountants import RDPAccountant

    model, (ex, *_) = case
    client = FedSGD() if steps == 1 else FedAvg(steps=steps, lr=0.1)
    _, epsilon = local_update(model, ex.image, [ex.label], client, DPSGD(sigma, 1.0, delta=1e-5))
    accountant = RDPAccountant()
    for _ in range(steps):
        accountant.step(noise_multiplier=sigma, sample_rate=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Opacus may suggest a wider range of orders: the bound is still its bound
        expected = accountant.get_epsilon(1e-5)
    assert epsilon == pytest.approx(expected, rel=1e-12) and math.isfinite(epsilon)
    assert DPSGD(sigma, 1.0).epsilon(1.0, steps) == pytest.approx(expected, rel=1e-12)


def test_more_noise_means_a_smaller_epsilon():
    values = [DPSGD(s, 1.0).epsilon(1.0, 1) for s in (0.5, 1.0, 2.0, 4.0)]
    assert values == sorted(values, reverse=True) and all(math.isfinite(v) for v in values)
    assert DPSGD(0.0, 1.0).epsilon(1.0, 1) == math.inf


def test_secure_aggregation_shows_the_mean_of_the_clients_updates(case):
    """One client is the identity; the mean of FedSGD updates on single images is the
    gradient of their mean loss (an independent computation on the whole batch)."""
    model, examples = case
    ex, *rest = examples
    alone = share(model, ex.image, [ex.label])
    assert all(torch.equal(a, b) for a, b in zip(alone.gradient, share(model, ex.image, [ex.label], others=()).gradient))
    mixed = share(model, ex.image, [ex.label], others=[(e.image[None], [e.label]) for e in rest])
    batch = torch.stack([e.image for e in examples])
    assert mixed.clients == 3
    assert close(mixed.gradient, true_gradient(model, batch, [e.label for e in examples]), 1e-4)


@pytest.mark.parametrize("spec, expected", [
    ("fedsgd", FedSGD()), ("fedavg:steps=5,lr=0.05,batch=2", FedAvg(5, 0.05, 2)), ("FedAvg:steps=2", FedAvg(2, 0.1, 1)),
])
def test_client_specs(spec, expected):
    assert parse_client(spec) == expected
    assert parse_client(expected.spec) == expected


@pytest.mark.parametrize("spec", ["fedavg:steps=0", "fedavg:lr=0", "fedavg:lr=nan", "fedavg:batch=65", "fedavg:steps=1.5",
                                  "fedavg:epochs=2", "fedavg:steps=1,steps=2", "fedprox", "fedavg:lr=x"])
def test_bad_client_specs_are_refused(spec):
    with pytest.raises(ValueError):
        parse_client(spec)


@pytest.mark.parametrize("spec", ["dpsgd:clip=1", "dpsgd:sigma=-1", "dpsgd:sigma=1,clip=0", "dpsgd:sigma=1,delta=1",
                                  "dpsgd:sigma=inf", "dpsgd:noise=1"])
def test_bad_dpsgd_specs_are_refused(spec):
    with pytest.raises(ValueError):
        parse_dpsgd(spec)


def test_dpsgd_spec_round_trips():
    dp = parse_dpsgd("dpsgd:sigma=0.5,clip=2")
    assert dp == DPSGD(0.5, 2.0) and parse_dpsgd(dp.spec) == dp and dp.kind == "dpsgd" and dp.strength == 0.5


def test_fedavg_with_one_step_and_a_known_rate_is_solved_in_closed_form(capsys):
    argv = ["attack", "--seed", "0", "--recipe", "closed-form", "--client", "fedavg:steps=1,lr=0.1,batch=1", "--json"]
    assert main(argv) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["client"] == "fedavg:steps=1,lr=0.1,batch=1" and record["model"] == "lenet"
    assert record["psnr"][0] >= 30 and record["labels_recovered"] == record["labels_true"]


def test_the_json_reports_dpsgd_epsilon_and_delta(capsys):
    assert main(["attack", "--seed", "1", "--recipe", "closed-form", "--defence", "dpsgd:sigma=1,clip=1", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["epsilon"] == pytest.approx(DPSGD(1.0, 1.0).epsilon(1.0, 1)) and record["delta"] == 1e-5
    assert record["kind"] == "dpsgd" and record["aggregate"] == 1


def test_the_cli_is_the_api_for_aggregated_fedavg_clients(capsys):
    argv = ["attack", "--seed", "3", "--recipe", "idlg", "--iters", "3", "--client", "fedavg:steps=2,lr=0.1",
            "--aggregate", "2", "--model", "lenet-relu", "--json"]
    assert main(argv) == 0
    record = json.loads(capsys.readouterr().out)
    run = defended_attack([load_sample(0), load_sample(1)], 3, "none", "idlg", iterations=3,
                          client=FedAvg(2, 0.1), aggregate=2, model="lenet-relu")
    assert {k: v for k, v in record.items() if k != "seconds"} == {k: v for k, v in json.loads(json.dumps(
        __import__("helpers.experiments", fromlist=["to_json"]).to_json(run.as_dict()))).items() if k != "seconds"}
    assert record["aggregate"] == 2 and record["model"] == "lenet-relu" and record["images"] == ["sample:astronaut"]


@pytest.mark.parametrize("argv, message", [
    (["attack", "--seed", "0", "--client", "fedavg:steps=0"], "steps from 1"),
    (["attack", "--seed", "0", "--client", "gossip"], "unknown client"),
    (["attack", "--seed", "0", "--aggregate", "0"], "must be >= 1"),
    (["attack", "--seed", "0", "--aggregate", "two"], "--aggregate"),
    (["attack", "--seed", "0", "--aggregate", "9"], "bundled ones are 0..7"),
    (["attack", "--seed", "0", "--defence", "dpsgd:sigma=1,clip=-1"], "clipping norm > 0"),
    (["attack", "--seed", "0", "--recipe", "ig", "--client", "fedavg:batch=2"], "recovers one image"),
    (["attack", "--seed", "0", "--client", "fedavg:batch=2", "--defence", "batch=2"], "give the client's batch once"),
    (["sweep", "--seeds", "0", "--client", "fedavg:lr=-1"], "learning rate > 0"),
])
def test_bad_client_options_are_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
