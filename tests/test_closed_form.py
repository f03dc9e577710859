import math

import torch
import torch.nn.functional as F
from torch import nn

from helpers.attacks.closed_form import equation_counts, last_layer_features, recover
from helpers.data import load_sample
from helpers.gradients import true_gradient
from helpers.metrics import psnr
from helpers.model import LeNet, init_weights, seeded_setup


class TinyNet(nn.Module):
    """A two-convolution Sigmoid net on 8x8 images, in float64: small enough to check
    exact recovery, with as many equations per layer as the LeNet has."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 12, 5, padding=2, stride=2), nn.Sigmoid(), nn.Conv2d(12, 12, 5, padding=2, stride=1), nn.Sigmoid()
        )
        self.fc = nn.Sequential(nn.Linear(12 * 4 * 4, 10))

    def forward(self, x):
        return self.fc(self.body(x).flatten(1))


def tiny_case(seed=0):
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        model = TinyNet().double()
    init_weights(model, generator)
    image = torch.rand(3, 8, 8, generator=generator, dtype=torch.float64)
    return model, image


def test_exact_recovery_on_a_tiny_float64_net():
    model, image = tiny_case()
    recovery = recover(model, true_gradient(model, image, 7), image_shape=(1, 3, 8, 8), tolerance=1e-14)
    assert recovery.ok, recovery.reason
    assert recovery.label == 7
    assert float((recovery.image[0] - image).abs().max()) < 1e-8
    # every intermediate activation is recovered as well
    a1 = torch.sigmoid(model.body[0](image[None]))
    assert torch.allclose(recovery.features["a1"], a1, atol=1e-6)


def test_last_layer_division():
    model, image = tiny_case(1)
    gradient = true_gradient(model, image, 3)
    features = model.body(image[None]).flatten()
    assert torch.allclose(last_layer_features(gradient[-2], gradient[-1]), features, atol=1e-10)


def test_lenet_recovery_for_the_blog_seeds():
    example = load_sample(4)  # coffee: seed 1234 defeats the reference DLG here
    for seed in (1234, 78483847):
        setup = seeded_setup(seed)
        recovery = recover(setup.model, true_gradient(setup.model, example.image, example.label))
        assert recovery.ok and recovery.label == example.label
        assert psnr(recovery.image.float(), example.image) > 40


def test_equation_counts_of_the_lenet():
    rows = {r["layer"]: r for r in equation_counts(LeNet())}
    assert rows["conv3"] == {"layer": "conv3", "unknowns": 768, "forward_equations": 768, "gradient_equations": 3600}
    assert rows["conv2"]["unknowns"] == 3072 and rows["conv2"]["forward_equations"] == 768  # stride 2: too few alone
    assert rows["conv1"]["unknowns"] == 3072 and rows["conv1"]["forward_equations"] + rows["conv1"]["gradient_equations"] == 3972
    for row in rows.values():
        assert row["forward_equations"] + row["gradient_equations"] >= row["unknowns"]


def test_singular_case_is_flagged_not_returned_as_an_image():
    """All first-layer filters zero: the forward equations see nothing of the image and the
    900 gradient equations cannot pin down 3072 pixels."""
    setup = seeded_setup(1)
    with torch.no_grad():
        setup.model.body[0].weight.zero_()
    example = load_sample(0)
    recovery = recover(setup.model, true_gradient(setup.model, example.image, example.label))
    assert not recovery.ok and "underdetermined" in recovery.reason
    assert torch.isnan(recovery.image).all() and recovery.image.shape == (1, 3, 32, 32)


def test_relu_network_is_underdetermined():
    setup = seeded_setup(1, activation="relu")
    example = load_sample(0)
    recovery = recover(setup.model, true_gradient(setup.model, example.image, example.label))
    assert not recovery.ok and "underdetermined" in recovery.reason


def test_zero_gradient_is_flagged():
    setup = seeded_setup(1)
    zeros = [torch.zeros_like(p) for p in setup.model.parameters()]
    recovery = recover(setup.model, zeros)
    assert not recovery.ok and math.isnan(float(recovery.image.flatten()[0]))


def test_closed_form_recipes_through_the_common_attack_path():
    from helpers.experiments import attack_example

    example = load_sample(4)
    for name in ("closed-form", "closed-form+lbfgs"):
        trial = attack_example(example, 1234, name)
        assert trial.result.recipe == name and trial.result.status == "converged"
        assert trial.success and trial.metrics.label_correct
    again = attack_example(example, 1234, "closed-form")
    first = attack_example(example, 1234, "closed-form")
    assert torch.equal(again.result.image, first.result.image) and again.result.losses == first.result.losses


def test_closed_form_recipe_flags_a_singular_system_as_diverged():
    from helpers.attacks import run_attack
    from helpers.experiments import score

    setup = seeded_setup(1)
    with torch.no_grad():
        setup.model.body[0].weight.zero_()
    example = load_sample(0)
    gradient = true_gradient(setup.model, example.image, example.label)
    result = run_attack(setup.model, gradient, setup.dummy_image, setup.dummy_label, "closed-form")
    assert result.status == "diverged" and "underdetermined" in result.reason
    assert math.isnan(score(result, example).psnr)


def test_two_images_contradict_the_one_image_equations():
    setup = seeded_setup(1234)
    a, b = load_sample(0), load_sample(4)
    gradient = true_gradient(setup.model, torch.stack([a.image, b.image]), [a.label, b.label])
    refused = recover(setup.model, gradient)
    assert not refused.ok and "contradict" in refused.reason and torch.isnan(refused.image).all()
    forced = recover(setup.model, gradient, strict=False)
    assert not forced.ok and forced.reason == refused.reason and len(forced.layers) == 3
    assert psnr(forced.image.float(), a.image) < 20 and psnr(forced.image.float(), b.image) < 20


def test_layer_solve_matches_a_dense_least_squares_solve():
    """The top convolution of the tiny net: LSQR on the weighted, matrix-free system against
    ``torch.linalg.lstsq`` on the dense matrices of the same equations (forward and
    weight-gradient), built column by column; both give the true input."""
    from helpers.attacks.layer_solve import logit, solve_layer

    model, image = tiny_case(2)
    conv1, conv2, fc = model.body[0], model.body[2], model.fc[0]
    gradient = true_gradient(model, image, 4)
    with torch.no_grad():
        a1 = torch.sigmoid(conv1(image[None]))
        a2 = torch.sigmoid(conv2(a1))
    delta = (fc.weight.detach().T @ gradient[-1]).reshape(a2.shape) * a2 * (1 - a2)
    d_weight = gradient[2]
    u, stats = solve_layer(conv2, a2, delta, d_weight, tuple(a1.shape), "sigmoid", tolerance=1e-14)

    n = a1.numel()
    columns = torch.eye(n, dtype=torch.float64).reshape(n, *a1.shape[1:])
    weight = conv2.weight.detach()
    forward = torch.stack([F.conv2d(c[None], weight, stride=conv2.stride, padding=conv2.padding).flatten() for c in columns], 1)
    grads = torch.stack([torch.nn.grad.conv2d_weight(c[None], weight.shape, delta, stride=conv2.stride,
                                                     padding=conv2.padding).flatten() for c in columns], 1)
    matrix = torch.cat([forward, grads])
    rhs = torch.cat([(logit(a2) - conv2.bias.detach().reshape(1, -1, 1, 1)).flatten(), d_weight.flatten()])
    dense = torch.linalg.lstsq(matrix, rhs[:, None]).solution[:, 0]
    assert stats.unknowns == n and stats.equations == matrix.shape[0]
    assert torch.allclose(u.flatten(), dense, atol=1e-8)
    assert torch.allclose(dense, a1.flatten(), atol=1e-8)
