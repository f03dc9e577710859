"""How close a reconstruction is to the private image: MSE, PSNR, SSIM and the label.

Computed outside the attack, from its output and the ground truth. Pixels are compared in
[0, 1] (the attacker knows ``ToTensor`` images live there, so the reconstruction is
clipped first). A non-finite reconstruction gets NaN metrics, never a number.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from skimage.metrics import structural_similarity

SUCCESS_PSNR = 30.0  # dB: the series calls a reconstruction at or above this a success
RECOGNISABLE_SSIM = 0.5  # at or above this SSIM the private image is still recognisable by eye (see notebook 07)


def succeeded(psnr: float, diverged: bool = False) -> bool:
    """The one rule for success: the run did not diverge and its reconstruction reached
    :data:`SUCCESS_PSNR` dB. An exact copy (``+inf`` dB) succeeds; NaN (no image) never does."""
    return not diverged and psnr >= SUCCESS_PSNR


def recognisable(ssim: float, diverged: bool = False) -> bool:
    """The weaker mark: not diverged and SSIM at least :data:`RECOGNISABLE_SSIM` (NaN never is)."""
    return not diverged and ssim >= RECOGNISABLE_SSIM


def _pair(reconstruction: torch.Tensor, truth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    recon = reconstruction.detach().cpu().double().reshape(truth.shape)
    return recon.clamp(0, 1), truth.detach().cpu().double()


def mse(reconstruction: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean squared pixel error in [0, 1] units."""
    if not torch.isfinite(reconstruction).all():
        return math.nan
    recon, truth = _pair(reconstruction, truth)
    return float(((recon - truth) ** 2).mean())


def psnr(reconstruction: torch.Tensor, truth: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB (peak 1); ``inf`` for an exact copy."""
    error = mse(reconstruction, truth)
    if math.isnan(error):
        return math.nan
    return math.inf if error == 0 else 10 * math.log10(1.0 / error)


def ssim(reconstruction: torch.Tensor, truth: torch.Tensor) -> float:
    """Structural similarity (scikit-image's, 7x7 window, averaged over the colour channels)."""
    if not torch.isfinite(reconstruction).all():
        return math.nan
    recon, truth = _pair(reconstruction, truth)
    return float(structural_similarity(recon.numpy(), truth.numpy(), channel_axis=0, data_range=1.0))


@dataclass(frozen=True)
class Metrics:
    """A reconstruction scored against the truth."""

    mse: float
    psnr: float
    ssim: float
    label_true: int
    label_recovered: int

    @property
    def label_correct(self) -> bool:
        return self.label_true == self.label_recovered

    @property
    def success(self) -> bool:
        """Recovered by :func:`succeeded`'s rule."""
        return succeeded(self.psnr)

    def as_dict(self) -> dict:
        return {**asdict(self), "label_correct": self.label_correct, "success": self.success}


def evaluate(reconstruction: torch.Tensor, label_recovered: int, truth: torch.Tensor, label_true: int) -> Metrics:
    """Score one reconstructed image [3, 32, 32] (or [1, 3, 32, 32]) and label against the truth."""
    return Metrics(
        mse=mse(reconstruction, truth),
        psnr=psnr(reconstruction, truth),
        ssim=ssim(reconstruction, truth),
        label_true=int(label_true),
        label_recovered=int(label_recovered),
    )
