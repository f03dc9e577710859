"""The victim network and everything "seed S" decides.

The reference DLG code (mit-han-lab/dlg, ``main.py``) builds the LeNet, calls
``torch.manual_seed(seed)``, redraws every weight and bias from U(-0.5, 0.5), computes the
true gradient, then draws the dummy image and the dummy label with ``randn``. One seed
therefore fixes both the network the client trains and the attacker's starting point.
:func:`seeded_setup` reproduces that order exactly; its parts (:func:`init_weights`,
:func:`draw_dummy`) let a notebook vary the two separately.

:data:`MODELS` names the victims an attack can be run on: ``lenet`` is the reference's network,
``lenet-relu`` the same layers with ReLU and PyTorch's own default initialisation (what a
network is usually trained from); for both, the seed draws the weights and then the dummy.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import nn

from .data import IMAGE_SIZE, NUM_CLASSES

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}


def activation_name(module: nn.Module) -> str | None:
    """``"sigmoid"``, ``"relu"`` or ``"tanh"`` for one of :data:`ACTIVATIONS`' modules, else ``None``."""
    return next((name for name, kind in ACTIVATIONS.items() if type(module) is kind), None)


def activation_slope(name: str, out: torch.Tensor) -> torch.Tensor:
    """The activation's derivative at a unit, written with the unit's output ``out``:
    sigmoid a(1 - a), tanh 1 - a², ReLU [a > 0]."""
    if name == "sigmoid":
        return out * (1 - out)
    if name == "tanh":
        return 1 - out * out
    if name == "relu":
        return (out > 0).to(out.dtype)
    raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")


class LeNet(nn.Module):
    """The reference's small LeNet: three 5x5 convolutions (3→12→12→12, strides 2, 2, 1,
    padding 2), each followed by a Sigmoid, then one linear layer 768 → 100."""

    def __init__(self, activation: str = "sigmoid", num_classes: int = NUM_CLASSES, channels: int = 12):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        act = ACTIVATIONS[activation]
        self.body = nn.Sequential(
            nn.Conv2d(3, channels, kernel_size=5, padding=2, stride=2),
            act(),
            nn.Conv2d(channels, channels, kernel_size=5, padding=2, stride=2),
            act(),
            nn.Conv2d(channels, channels, kernel_size=5, padding=2, stride=1),
            act(),
        )
        self.fc = nn.Sequential(nn.Linear(channels * (IMAGE_SIZE // 4) ** 2, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return self.fc(out.flatten(1))


def init_weights(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Redraw every weight and bias from U(-0.5, 0.5), in the order ``model.apply`` visits
    the layers (the reference's ``weights_init``), with numbers from ``generator``."""

    def redraw(module: nn.Module) -> None:
        for name in ("weight", "bias"):
            tensor = getattr(module, name, None)
            if isinstance(tensor, torch.Tensor):
                with torch.no_grad():
                    tensor.uniform_(-0.5, 0.5, generator=generator)

    return model.apply(redraw)


def default_init(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """PyTorch's default initialisation of every convolution and linear layer, with numbers
    from ``generator``: weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (the
    ``kaiming_uniform_(a=sqrt(5))`` bound), drawn in the order the layers are built, so
    ``torch.manual_seed(s); LeNet("relu")`` gives the same weights as a generator seeded ``s``."""

    def redraw(module: nn.Module) -> None:
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            bound = 1 / math.sqrt(module.weight[0].numel())
            with torch.no_grad():
                module.weight.uniform_(-bound, bound, generator=generator)
                if module.bias is not None:
                    module.bias.uniform_(-bound, bound, generator=generator)

    return model.apply(redraw)


@dataclass(frozen=True)
class ModelSpec:
    """A victim network an attack can be run on, and how a seed draws its weights."""

    name: str
    activation: str
    init: str  # "reference": every weight and bias redrawn from U(-0.5, 0.5); "pytorch": PyTorch's default
    about: str

    def initialise(self, model: nn.Module, generator: torch.Generator) -> nn.Module:
        return (init_weights if self.init == "reference" else default_init)(model, generator)


MODELS = {spec.name: spec for spec in (
    ModelSpec("lenet", "sigmoid", "reference", "the reference's Sigmoid LeNet, weights redrawn from U(-0.5, 0.5)"),
    ModelSpec("lenet-relu", "relu", "pytorch", "the same layers with ReLU and PyTorch's default initialisation"),
)}


def get_model(name: str) -> ModelSpec:
    """The :data:`MODELS` entry called ``name`` (a one-line error names the known ones)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]


def draw_dummy(
    generator: torch.Generator,
    batch: int = 1,
    num_classes: int = NUM_CLASSES,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The attacker's starting point: a ``randn`` image and ``randn`` label logits.

    Drawn on the CPU and then moved, as the reference does, so the dummy for a seed is
    the same on every device."""
    image = torch.randn((batch, 3, IMAGE_SIZE, IMAGE_SIZE), generator=generator)
    label = torch.randn((batch, num_classes), generator=generator)
    return image.to(device), label.to(device)


@dataclass
class Setup:
    """What one seed decides: the client's network and the attacker's dummy start."""

    model: LeNet
    dummy_image: torch.Tensor  # [B, 3, 32, 32]
    dummy_label: torch.Tensor  # [B, 100] logits (the attack passes them through softmax)
    weight_seed: int
    dummy_seed: int


def _generators(seed: int, device: torch.device) -> tuple[torch.Generator, torch.Generator]:
    """The generators ``torch.manual_seed(seed)`` would leave behind: the weights come from
    the model's device's generator, the dummy from the CPU one (the same one on a CPU)."""
    cpu = torch.Generator().manual_seed(seed)
    if device.type == "cpu":
        return cpu, cpu
    return torch.Generator(device=device).manual_seed(seed), cpu


@contextmanager
def exact_cuda_matmul() -> Iterator[None]:
    """TF32 off inside the block, as it was afterwards: on recent GPUs TF32 rounds matmul/conv
    inputs to 10 mantissa bits, which blurs the tiny gradient differences the attack matches."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _fresh_lenet(activation: str, device: torch.device) -> LeNet:
    """A LeNet whose default initialisation leaves the global random state untouched
    (its weights are redrawn from an explicit generator right after)."""
    with torch.random.fork_rng(devices=[]):
        return LeNet(activation).to(device)


def seeded_setup(
    seed: int,
    *,
    weight_seed: int | None = None,
    dummy_seed: int | None = None,
    batch: int = 1,
    activation: str | None = None,
    model: str = "lenet",
    device: str | torch.device = "cpu",
) -> Setup:
    """Network and dummy exactly as the reference draws them after ``manual_seed(seed)``.

    ``model`` names the victim (:data:`MODELS`); ``activation`` instead keeps the reference's
    initialisation and swaps only the activation (the notebooks' "the same LeNet with ReLU").
    ``weight_seed`` / ``dummy_seed`` override one half: the weights are then those that
    seed ``weight_seed`` draws, and the dummy is the one seed ``dummy_seed`` draws in the
    reference (after its own weights), so ``seeded_setup(a, weight_seed=a, dummy_seed=a)``
    is ``seeded_setup(a)``. On CUDA the weights come from the CUDA generator, so a seed
    gives a different network there than on a CPU (run the attack inside
    :func:`exact_cuda_matmul` there).
    """
    spec = get_model(model)
    if activation is not None:
        if model != "lenet":
            raise ValueError("give either a model or an activation for the reference LeNet, not both")
        spec = ModelSpec(f"lenet ({activation})", activation, "reference", "the reference LeNet with another activation")
    device = torch.device(device)
    weight_seed = seed if weight_seed is None else weight_seed
    dummy_seed = seed if dummy_seed is None else dummy_seed
    network = _fresh_lenet(spec.activation, device)
    weight_gen, dummy_gen = _generators(weight_seed, device)
    spec.initialise(network, weight_gen)
    if dummy_seed != weight_seed:
        # Draw the dummy where the reference would: after seed dummy_seed drew its weights.
        throwaway_weights, dummy_gen = _generators(dummy_seed, device)
        spec.initialise(_fresh_lenet(spec.activation, device), throwaway_weights)
    dummy_image, dummy_label = draw_dummy(dummy_gen, batch=batch, device=device)
    return Setup(network, dummy_image, dummy_label, weight_seed, dummy_seed)


def count_parameters(model: nn.Module) -> int:
    """How many numbers the shared gradient holds (one per parameter)."""
    return sum(p.numel() for p in model.parameters())
