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
