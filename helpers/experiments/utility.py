"""What DP-SGD costs the model: train the victim network on scikit-learn's bundled handwritten
digits (offline; 8x8 grey images upscaled to the model's 32x32 colour input) with Opacus's
DP-SGD at a given noise multiplier and clipping norm, and measure its test accuracy beside the
epsilon the accountant gives for the whole training run."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from ..clients import DEFAULT_DELTA, DPSGD
from ..clients.privacy import privatise, quiet_opacus
from ..gradients import model_num_classes, one_hot, soft_cross_entropy
from ..model import seeded_setup

DIGITS_TEST_FRACTION = 0.2


def load_digits_32(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 handwritten digits as ``[N, 3, 32, 32]`` images in [0, 1] (bilinear
    upscaling, grey copied to three channels), split by a seeded shuffle into train and test
    (a fifth): ``(train_x, train_y, test_x, test_y)``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0
    images = F.interpolate(images, size=(32, 32), mode="bilinear", align_corners=False).clamp(0, 1).repeat(1, 3, 1, 1)
    labels = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    test = round(DIGITS_TEST_FRACTION * len(labels))
    return images[order[test:]], labels[order[test:]], images[order[:test]], labels[order[:test]]


@dataclass
class UtilityRun:
    """One training run: its settings, the test accuracy and DP-SGD's guarantee."""

    model: str
    sigma: float | None  # None: plain SGD, no clipping and no noise
    clip: float | None
    epochs: int
    batch: int
    lr: float
    seed: int
    accuracy: float
    epsilon: float | None  # inf: clipping without noise; None: no DP-SGD
    delta: float | None
    steps: int
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(images).argmax(1) == labels).float().mean())


def train_digits(sigma: float | None, clip: float = 1.0, *, model: str = "lenet", epochs: int = 10, batch: int = 64,
                 lr: float = 0.5, seed: int = 0, delta: float = DEFAULT_DELTA) -> UtilityRun:
    """Train the seeded ``model`` on the digits with SGD (``sigma`` None) or Opacus's DP-SGD
    (Poisson sampling at rate ``batch / N``, per-example clipping to ``clip``, noise ``sigma *
    clip``) and report its test accuracy and epsilon at ``delta``."""
    train_x, train_y, test_x, test_y = load_digits_32()
    torch.manual_seed(seed)  # the data loader's (Poisson) sampling
    network = seeded_setup(seed, model=model).model
    targets = one_hot(train_y, model_num_classes(network))
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(train_x, targets), batch_size=batch,
                                       shuffle=True, generator=torch.Generator().manual_seed(seed))
    optimiser = torch.optim.SGD(network.parameters(), lr=lr)
    engine = None
    start = time.perf_counter()
    with quiet_opacus():
        if sigma is not None:
            network, optimiser, data, engine = privatise(network, optimiser, data, DPSGD(sigma, clip, delta),
                                                         torch.Generator().manual_seed(seed), poisson_sampling=True)
        steps = 0
        for _ in range(epochs):
            for x, y in data:
                if len(x) == 0:
                    continue  # Poisson sampling can draw an empty batch
                optimiser.zero_grad()
                soft_cross_entropy(network(x), y).backward()
                optimiser.step()
                steps += 1
        epsilon = None if engine is None else (math.inf if sigma == 0 else float(engine.get_epsilon(delta)))
    return UtilityRun(model, sigma, None if sigma is None else clip, epochs, batch, lr, seed,
                      accuracy(network, test_x, test_y), epsilon, None if sigma is None else delta, steps,
                      round(time.perf_counter() - start, 2))
