"""The Inverting Gradients attack (recipe ig): its prior, its recipe checks, and its search."""

import math

import pytest
import torch

from helpers import load_sample
from helpers.attacks import IG, RECIPES, DLG
from helpers.attacks.signed_adam import feature_distance, last_layer_input, total_variation
from helpers.experiments import attack_example
from helpers.gradients import true_gradient
from helpers.model import seeded_setup


def test_total_variation_of_a_constant_is_zero_and_of_a_checkerboard_is_two():
    assert total_variation(torch.full((2, 3, 8, 8), 0.3)).tolist() == [0.0, 0.0]
    board = ((torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2).float().expand(1, 3, 8, 8)
    assert total_variation(board).item() == pytest.approx(2.0)


def test_the_ig_recipe_is_registered_and_its_settings_are_checked():
    assert RECIPES["ig"] is IG and IG.optimiser == "signed-adam" and IG.loss == "cosine" and IG.label == "infer"
    with pytest.raises(ValueError, match="does not use line_search"):
        IG.with_(line_search="strong_wolfe")
    with pytest.raises(ValueError, match="tv must be a finite number >= 0"):
        IG.with_(tv=-1.0)
    with pytest.raises(ValueError, match="does not use tv"):
        DLG.with_(tv=0.1)
    with pytest.raises(ValueError, match="needs label='infer'"):
        IG.with_(label="joint")
    with pytest.raises(ValueError, match="features must be a finite number >= 0"):
        IG.with_(features=-1.0)
    with pytest.raises(ValueError, match="does not use features"):
        DLG.with_(features=1.0)


@pytest.mark.parametrize("model", ["lenet", "lenet-relu"])
def test_the_feature_prior_is_zero_at_the_private_image_and_not_elsewhere(model):
    """The last layer's input read off the gradient is the private image's own (an independent
    forward pass through the network's body gives it), so the prior vanishes there only."""
    setup = seeded_setup(1, model=model)
    example = load_sample(2)
    target = true_gradient(setup.model, example.image, example.label)
    body = setup.model.body(example.image[None]).flatten(1)
    assert torch.allclose(last_layer_input(setup.model)(example.image[None]), body)
    distance = feature_distance(setup.model, target)
    rows = torch.stack([example.image, load_sample(3).image])
    at_truth, elsewhere = distance(rows).tolist()
    assert abs(at_truth) < 1e-5 and elsewhere > 1e-3


def test_ig_is_deterministic_keeps_pixels_in_range_and_picks_the_lowest_matching_loss():
    example = load_sample(0)
    first, again = (attack_example(example, 3, "ig", iterations=30, model="lenet-relu") for _ in range(2))
    r = first.result
    assert torch.equal(r.image, again.result.image) and r.losses == again.result.losses
    assert r.image.shape == (1, 3, 32, 32) and 0 <= r.image.min() and r.image.max() <= 1
    assert len(r.losses) == 31 and r.iterations == 30 and r.evals == 31 * IG.restarts
    assert r.grad_loss == min(r.extras["restart_losses"]) == r.extras["restart_losses"][r.extras["winner"]]
    assert r.label == [example.label]


def test_ig_lowers_the_cosine_matching_loss_on_a_relu_lenet_and_reports_every_step():
    seen = []
    trial = attack_example(load_sample(4), 1, "ig", iterations=60, model="lenet-relu", on_step=seen.append)
    losses = trial.result.losses
    assert [p.step for p in seen] == list(range(61))
    assert all(p.loss_step == p.step - 1 for p in seen)  # a step reports the loss of the dummy it started from
    assert all(math.isfinite(v) for v in losses) and losses[-1] < 0.5 * losses[0]
