import pytest
import torch

from helpers.model import LeNet, count_parameters, seeded_setup

from reference import LeNet as ReferenceLeNet, weights_init


def test_lenet_shapes_and_size():
    model = LeNet()
    x = torch.zeros(2, 3, 32, 32)
    assert model(x).shape == (2, 100)
    assert model.body(x).shape == (2, 12, 8, 8)  # 12 * 8 * 8 = 768 features
    assert count_parameters(model) == 912 + 3612 + 3612 + 76900
    assert [type(m).__name__ for m in model.body] == ["Conv2d", "Sigmoid"] * 3
    # same parameter names as the reference, so state dicts are interchangeable
    assert list(model.state_dict()) == list(ReferenceLeNet().state_dict())


def test_seeded_setup_matches_the_reference_random_order():
    for seed in (1234, 78483847, 0):
        setup = seeded_setup(seed)
        reference = ReferenceLeNet()
        torch.manual_seed(seed)
        reference.apply(weights_init)
        dummy_image = torch.randn(1, 3, 32, 32)
        dummy_label = torch.randn(1, 100)
        for ours, theirs in zip(setup.model.parameters(), reference.parameters()):
            assert torch.equal(ours, theirs)
        assert torch.equal(setup.dummy_image, dummy_image)
        assert torch.equal(setup.dummy_label, dummy_label)


def test_weights_are_uniform_in_half_interval():
    weights = torch.cat([p.detach().flatten() for p in seeded_setup(7).model.parameters()])
    assert -0.5 <= float(weights.min()) < -0.49 and 0.49 < float(weights.max()) <= 0.5


def test_weight_and_dummy_seeds_separate_cleanly():
    a, b = seeded_setup(1234), seeded_setup(78483847)
    mixed = seeded_setup(0, weight_seed=1234, dummy_seed=78483847)
    for ours, theirs in zip(mixed.model.parameters(), a.model.parameters()):
        assert torch.equal(ours, theirs)
    assert torch.equal(mixed.dummy_image, b.dummy_image)
    assert torch.equal(mixed.dummy_label, b.dummy_label)
    same = seeded_setup(5, weight_seed=5, dummy_seed=5)
    assert torch.equal(same.dummy_image, seeded_setup(5).dummy_image)


def test_seeded_setup_leaves_the_global_generator_alone():
    torch.manual_seed(99)
    expected = torch.rand(3)
    torch.manual_seed(99)
    seeded_setup(1234)
    assert torch.equal(torch.rand(3), expected)


def test_exact_cuda_matmul_leaves_the_flags_as_it_found_them():
    from helpers.model import exact_cuda_matmul

    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        with exact_cuda_matmul():
            assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def test_activation_slope_is_the_derivative():
    from helpers.model import activation_slope

    z = torch.linspace(-3, 3, 13, dtype=torch.float64, requires_grad=True)
    for name, f in (("sigmoid", torch.sigmoid), ("tanh", torch.tanh), ("relu", torch.relu)):
        out = f(z)
        (slope,) = torch.autograd.grad(out.sum(), z)
        assert torch.allclose(activation_slope(name, out.detach()), slope)


# ---- the model registry: lenet (the reference) and lenet-relu (PyTorch's default initialisation) ----

@pytest.mark.parametrize("seed", [0, 1234])
def test_lenet_relu_is_what_manual_seed_and_a_default_built_relu_lenet_give(seed):
    """An independent oracle: torch's own default initialisation after manual_seed, then randn."""
    from helpers.model import LeNet, seeded_setup

    torch.manual_seed(seed)
    oracle = LeNet("relu")
    image, label = torch.randn(1, 3, 32, 32), torch.randn(1, 100)
    setup = seeded_setup(seed, model="lenet-relu")
    assert all(torch.equal(a, b) for a, b in zip(oracle.parameters(), setup.model.parameters()))
    assert torch.equal(setup.dummy_image, image) and torch.equal(setup.dummy_label, label)
    assert isinstance(setup.model.body[1], torch.nn.ReLU)


def test_models_draw_their_weights_from_the_seed():
    from helpers.model import MODELS, seeded_setup

    for name in MODELS:
        first, again, other = (seeded_setup(s, model=name) for s in (3, 3, 4))
        assert all(torch.equal(a, b) for a, b in zip(first.model.parameters(), again.model.parameters()))
        assert not torch.equal(next(first.model.parameters()), next(other.model.parameters()))
    reference = seeded_setup(3)
    assert all(torch.equal(a, b) for a, b in zip(reference.model.parameters(), seeded_setup(3, model="lenet").model.parameters()))


def test_lenet_relu_weights_lie_within_the_default_bound_and_the_halves_of_a_seed_swap():
    import math

    from helpers.model import seeded_setup

    setup = seeded_setup(7, model="lenet-relu")
    for layer in [m for m in setup.model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]:
        bound = 1 / math.sqrt(layer.weight[0].numel())
        assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound
        assert layer.weight.abs().max() > 0.9 * bound  # drawn over the whole range, not a narrower one
    swapped = seeded_setup(7, model="lenet-relu", weight_seed=7, dummy_seed=8)
    assert torch.equal(swapped.dummy_image, seeded_setup(8, model="lenet-relu").dummy_image)
    assert torch.equal(next(swapped.model.parameters()), next(setup.model.parameters()))


def test_unknown_model_and_model_with_activation_are_refused():
    from helpers.model import seeded_setup

    with pytest.raises(ValueError, match="unknown model 'resnet'; choose one of lenet, lenet-relu"):
        seeded_setup(0, model="resnet")
    with pytest.raises(ValueError, match="either a model or an activation"):
        seeded_setup(0, model="lenet-relu", activation="relu")
