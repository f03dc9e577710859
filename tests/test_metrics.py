import math

import pytest
import torch

from helpers.data import load_sample
from helpers.metrics import evaluate, mse, psnr, ssim


def test_identical_images():
    image = load_sample(0).image
    assert mse(image, image) == 0.0
    assert psnr(image, image) == math.inf
    assert ssim(image, image) == pytest.approx(1.0)


def test_known_error():
    truth = torch.full((3, 32, 32), 0.5)
    off = truth + 0.1
    assert mse(off, truth) == pytest.approx(0.01)
    assert psnr(off, truth) == pytest.approx(20.0)
    assert ssim(load_sample(1).image, load_sample(0).image) < 0.5


def test_reconstruction_is_clipped_to_the_pixel_range():
    truth = torch.ones(3, 32, 32)
    assert mse(torch.full((1, 3, 32, 32), 5.0), truth) == 0.0


def test_non_finite_reconstruction_gets_nan_never_a_score():
    truth = load_sample(0).image
    bad = truth.clone()
    bad[0, 0, 0] = float("inf")
    m = evaluate(bad, 3, truth, 3)
    assert math.isnan(m.mse) and math.isnan(m.psnr) and math.isnan(m.ssim)
    assert not m.success and m.label_correct


def test_success_threshold():
    truth = torch.full((3, 32, 32), 0.5)
    assert evaluate(truth + 0.03, 1, truth, 1).success  # 30.5 dB
    assert not evaluate(truth + 0.04, 1, truth, 1).success  # 28 dB
