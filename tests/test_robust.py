"""Recipe ``robust``: batched restarts, selection by matching loss, honest status."""

import inspect
import math

import pytest
import torch

import helpers.metrics
from helpers.attacks import run_attack
from helpers.attacks.restarts import restart_dummies
from helpers.attacks.batched_loss import batched_matching_loss
from helpers.data import load_sample
from helpers.experiments import attack_example
from helpers.gradients import gradient_distance, infer_label, model_gradient, one_hot, true_gradient
from helpers.attacks.lbfgs import minimise
from helpers.model import seeded_setup
from helpers.attacks.recipes import get_recipe


def _case(seed=78483847, index=0, restarts=2):
    example = load_sample(index)
    setup = seeded_setup(seed, batch=restarts)
    return example, setup, true_gradient(setup.model, example.image, example.label)


def test_batched_loss_equals_the_per_dummy_loss():
    """Row i of one batched evaluation is the plain matching loss of dummy i (LeNet fast
    path and the generic vmap path), and so is its gradient."""
    example, setup, target = _case(restarts=3)
    label = one_hot([infer_label(target)])
    x = (0.5 + 0.1 * setup.dummy_image).requires_grad_(True)

    class Wrapped(torch.nn.Module):  # not LeNet-shaped: goes through torch.func.vmap
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, images):
            return self.inner(images)

    plain = torch.stack([gradient_distance(model_gradient(setup.model, x[i : i + 1], label, create_graph=True), target) for i in range(3)])
    (plain_grad,) = torch.autograd.grad(plain.sum(), x)
    for model in (setup.model, Wrapped(setup.model)):
        batched = batched_matching_loss(model, target, label)(x)
        (batched_grad,) = torch.autograd.grad(batched.sum(), x)
        assert torch.allclose(batched, plain.detach(), rtol=1e-4, atol=1e-5)
        assert torch.allclose(batched_grad, plain_grad, rtol=1e-3, atol=1e-5)


def test_same_seed_twice_gives_identical_numbers():
    example = load_sample(0)
    a = attack_example(example, 78483847, "robust", iterations=4)
    b = attack_example(example, 78483847, "robust", iterations=4)
    assert a.result.losses == b.result.losses
    assert torch.equal(a.result.image, b.result.image)
    assert a.result.extras == b.result.extras
    assert a.as_dict() | {"seconds": 0} == b.as_dict() | {"seconds": 0}


def test_restart_dummies_are_the_seeds_rows():
    setup = seeded_setup(5, batch=3)
    assert torch.equal(restart_dummies(setup.dummy_image, 3), setup.dummy_image)
    # row 0 of a batch-3 draw is the batch-1 dummy: restarts extend the reference's start
    assert torch.equal(setup.dummy_image[:1], seeded_setup(5).dummy_image)
    assert not torch.equal(setup.dummy_image[1], setup.dummy_image[2])
    with pytest.raises(ValueError, match="batch=3"):
        restart_dummies(seeded_setup(5).dummy_image, 3)
    with pytest.raises(ValueError, match="batch=2"):  # extra rows are refused, not silently dropped
        restart_dummies(setup.dummy_image, 2)


def test_winner_is_the_lowest_matching_loss_and_the_truth_is_never_consulted(monkeypatch):
    """Restart 1 starts on a decoy that is NOT the private image but whose gradient is the
    target (the target is computed from the decoy): it has the lower matching loss and wins,
    although restart 0 is the one started closer to the private image. The attack has no
    argument for the truth, and every metric is rigged to fail if called."""
    example, setup, _ = _case(restarts=2)
    decoy = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))
    target = true_gradient(setup.model, decoy, example.label)  # what the attacker intercepts
    rows = torch.stack([(example.image - 0.5) / 0.1 + 0.05 * setup.dummy_image[0], (decoy - 0.5) / 0.1])
    for name in ("mse", "psnr", "ssim", "evaluate"):
        monkeypatch.setattr(helpers.metrics, name, lambda *a, **k: pytest.fail("the attack consulted a metric"))
    assert "truth" not in inspect.signature(run_attack).parameters
    result = run_attack(setup.model, target, rows, None, "robust", iterations=3)
    losses = result.extras["restart_losses"]
    assert result.extras["winner"] == 1 and losses[1] < losses[0]
    assert result.grad_loss == losses[1]
    assert torch.allclose(result.image[0], decoy, atol=1e-3)
    assert result.status == "converged" and "restart 1 of 2" in result.reason


def test_winner_is_the_argmin_of_the_final_losses_on_a_real_run():
    example, setup, target = _case(seed=1234, restarts=3)
    result = run_attack(setup.model, target, setup.dummy_image, None, get_recipe("robust").with_(restarts=3), iterations=3)
    losses = result.extras["restart_losses"]
    assert result.extras["winner"] == min(range(3), key=lambda k: losses[k])
    assert result.grad_loss == min(losses)
    assert result.extras["batched_evals"] * 3 >= result.evals >= result.extras["batched_evals"]


def test_non_finite_target_is_flagged_diverged_and_never_scored():
    example, setup, target = _case(seed=1)
    target[0][0, 0, 0, 0] = float("nan")
    trial_result = run_attack(setup.model, target, setup.dummy_image, None, "robust", iterations=3)
    assert trial_result.status == "diverged"
    assert set(trial_result.extras["restart_status"]) == {"diverged"}
    assert all(math.isnan(v) for v in trial_result.extras["restart_losses"])


def test_a_blown_up_restart_cannot_win():
    """A restart whose dummy leaves any sane pixel range is diverged (judge's rule) and loses
    to a finite one even if its matching loss were lower."""
    example, setup, target = _case(seed=2)
    rows = setup.dummy_image.clone()
    rows[0] = 1e5  # restart 0 starts far outside [0, 1]: sigmoids saturate, its gradient vanishes
    result = run_attack(setup.model, target, rows, None, get_recipe("robust").with_(init="randn"), iterations=2)
    assert result.extras["restart_status"][0] == "diverged"
    assert result.extras["winner"] == 1


def test_minimise_solves_independent_quadratics():
    """The batched L-BFGS itself: K separate ill-conditioned quadratics, one call each step."""
    scales = torch.logspace(0, 3, 50)

    def evaluate(x, rows):
        weights = scales * (1 + rows[:, None].double())
        return 0.5 * (weights * x**2).sum(1), weights * x

    run = minimise(evaluate, torch.ones(3, 50, dtype=torch.float64), steps=20, tolerance=1e-12, stop_at_first=False)
    assert all(v <= 1e-12 for v in run.losses.tolist())
    assert run.evals < 200


@pytest.mark.parametrize("seed", [78483847, 1234])
def test_robust_converges_on_the_default_image(seed):
    trial = attack_example(load_sample(0), seed, "robust")
    assert trial.result.status == "converged" and trial.success
    assert trial.metrics.psnr >= 30 and trial.metrics.label_correct
    assert trial.result.evals < 3000
