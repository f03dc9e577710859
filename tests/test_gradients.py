import pytest
import torch
import torch.nn.functional as F

from helpers.data import load_sample_set
from helpers.gradients import (
    gradient_distance,
    infer_label,
    label_scores,
    one_hot,
    soft_cross_entropy,
    true_gradient,
)
from helpers.model import seeded_setup


def test_soft_cross_entropy_is_cross_entropy_for_one_hot_targets():
    logits = torch.randn(4, 100, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([3, 14, 15, 92])
    assert torch.allclose(soft_cross_entropy(logits, one_hot(labels)), F.cross_entropy(logits, labels))


def test_true_gradient_has_one_tensor_per_parameter_and_is_detached():
    setup = seeded_setup(1234)
    example = load_sample_set()[0]
    gradient = true_gradient(setup.model, example.image, example.label)
    shapes = [tuple(p.shape) for p in setup.model.parameters()]
    assert [tuple(g.shape) for g in gradient] == shapes
    assert not any(g.requires_grad for g in gradient)
    # the bias gradient of the last layer is softmax(logits) - one_hot(label)
    probs = F.softmax(setup.model(example.image[None]), dim=-1)[0]
    assert torch.allclose(gradient[-1], probs - one_hot(example.label)[0], atol=1e-6)


@pytest.mark.parametrize("seed", [1234, 78483847, 1, 2, 3])
def test_infer_label_recovers_every_sample_label(seed):
    """iDLG's claim: for one image, the label leaks with certainty from the last layer."""
    setup = seeded_setup(seed)
    for example in load_sample_set():
        gradient = true_gradient(setup.model, example.image, example.label)
        assert infer_label(gradient) == example.label
        scores = label_scores(gradient)
        assert (scores < 0).sum() == 1  # only the true class has a negative row sum


def test_infer_label_for_any_label_of_one_image():
    setup = seeded_setup(3)
    image = load_sample_set()[0].image
    for label in (0, 17, 55, 99):
        assert infer_label(true_gradient(setup.model, image, label)) == label


def test_gradient_distance():
    setup = seeded_setup(1)
    examples = load_sample_set()
    g0 = true_gradient(setup.model, examples[0].image, examples[0].label)
    g1 = true_gradient(setup.model, examples[1].image, examples[1].label)
    assert float(gradient_distance(g0, g0)) == 0.0
    assert float(gradient_distance(g0, g1)) > 0.0
    assert float(gradient_distance(g0, g0, "cosine")) == pytest.approx(0.0, abs=1e-6)
    assert 0 < float(gradient_distance(g0, g1, "cosine")) <= 2
    with pytest.raises(ValueError, match="unknown matching loss"):
        gradient_distance(g0, g1, "l3")


def test_dummy_pull_is_the_matching_loss_and_its_gradient_for_either_activation():
    """The search's direction, computed once by hand with autograd: the same numbers; on a
    ReLU LeNet the matching loss still depends on the dummy image."""
    from helpers import load_sample, seeded_setup
    from helpers.gradients import dummy_pull, gradient_distance, model_gradient, true_gradient

    example = load_sample(0)
    for activation in ("sigmoid", "relu"):
        setup = seeded_setup(3, activation=activation)
        shared = true_gradient(setup.model, example.image, example.label)
        image = setup.dummy_image.clone().requires_grad_(True)
        dummy = model_gradient(setup.model, image, torch.softmax(setup.dummy_label, -1), create_graph=True)
        loss = gradient_distance(dummy, shared)
        loss.backward(inputs=[image])
        value, pull = dummy_pull(setup.model, shared, setup.dummy_image, setup.dummy_label)
        assert value == loss.item() and torch.equal(pull, image.grad)
        assert pull.abs().sum() > 0
