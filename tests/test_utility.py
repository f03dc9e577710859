"""The accuracy side of DP-SGD: the offline digits, and a training run's epsilon checked against
Opacus's accountant asked directly."""

import math
import warnings

import pytest
import torch

from helpers.experiments.utility import load_digits_32, train_digits


def test_the_digits_are_32x32_colour_images_in_unit_range_split_without_overlap():
    train_x, train_y, test_x, test_y = load_digits_32()
    assert train_x.shape[1:] == (3, 32, 32) and len(train_x) + len(test_x) == 1797 and len(test_x) == 359
    assert float(train_x.min()) >= 0 and float(train_x.max()) <= 1 and set(train_y.tolist()) == set(range(10))
    rows = {tuple(x.flatten()[::7].tolist()) for x in test_x}
    assert sum(tuple(x.flatten()[::7].tolist()) in rows for x in train_x[:200]) < 5  # (a few digits are duplicates)
    again = load_digits_32()
    assert torch.equal(again[3], test_y)


def test_a_dp_training_run_is_deterministic_and_reports_the_accountants_epsilon():
    from opacus.accountants import RDPAccountant

    first = train_digits(1.0, 1.0, epochs=1, batch=128, lr=1.0)
    second = train_digits(1.0, 1.0, epochs=1, batch=128, lr=1.0)
    assert first.accuracy == second.accuracy and first.steps == second.steps
    n = len(load_digits_32()[0])
    accountant = RDPAccountant()
    for _ in range(first.steps):
        accountant.step(noise_multiplier=1.0, sample_rate=1 / math.ceil(n / 128))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert first.epsilon == pytest.approx(accountant.get_epsilon(1e-5), rel=1e-9)
    assert 0.1 <= first.accuracy <= 1


def test_plain_training_learns_the_digits():
    run = train_digits(None, epochs=2, lr=0.2)
    assert run.epsilon is None and run.accuracy > 0.5  # ten classes: chance is 0.1
