"""Verdict flips and rates of a sweep run in several arithmetics, on a record made by hand."""

import math

import pytest

from helpers.experiments import reproducibility
from helpers.statistics import wilson_interval


def run(setting, seed, status, psnr):
    return {"recipe": "dlg", "arithmetic": setting, "seed": seed, "status": status, "psnr": psnr}


RECORD = {
    "meta": {"settings": {"native": {}, "portable": {}}},
    "runs": [
        run("native", 0, "converged", 40.0), run("portable", 0, "converged", 41.0),  # success in both
        run("native", 1, "converged", 35.0), run("portable", 1, "diverged", None),  # a flip
        run("native", 2, "diverged", None), run("portable", 2, "stalled", 5.0),  # fails both times: no flip
        run("native", 3, "converged", "Infinity"), run("portable", 3, "stalled", 29.9),  # an exact copy succeeds: a flip
    ],
}


def test_a_flip_is_a_seed_that_succeeds_in_one_arithmetic_and_not_another():
    flips = reproducibility.flips(RECORD, "dlg")
    assert flips.flipped == [1, 3] and flips.seeds == 4 and flips.pairs == {"native/portable": 2}
    assert flips.rate == 0.5 and flips.interval == wilson_interval(2, 4)
    assert reproducibility.flips(RECORD, "dlg", "status").flipped == [1, 2, 3]


def test_rates_follow_the_one_success_rule():
    rates = reproducibility.rates(RECORD, "dlg")
    assert rates["native"] == (0.75, *wilson_interval(3, 4))
    assert rates["portable"] == (0.25, *wilson_interval(1, 4))


def test_a_seed_missing_from_an_arithmetic_is_refused():
    broken = {"meta": RECORD["meta"], "runs": RECORD["runs"][:-1]}
    with pytest.raises(ValueError, match=r"seeds \[3\]"):
        reproducibility.flips(broken, "dlg")
    empty = reproducibility.rates({"meta": RECORD["meta"], "runs": []}, "dlg")
    assert all(math.isnan(rate) for rate, _, _ in empty.values())


def test_a_small_sweep_in_two_arithmetics_records_what_each_worker_computed_with():
    """The runner itself: one record per (recipe, setting, seed), and each setting's workers
    report the variables they were started with."""
    from helpers import arithmetic
    from helpers.data import load_sample
    from helpers.pool import _close_pool

    try:
        record = reproducibility.arithmetic_sweep(load_sample(4), [1234], ("dlg", "idlg"), ("native", "portable"),
                                                  iterations=2, workers=1)
    finally:
        _close_pool()
    assert [(r["arithmetic"], r["recipe"]) for r in record["runs"]] == [
        ("native", "dlg"), ("native", "idlg"), ("portable", "dlg"), ("portable", "idlg")]
    assert record["meta"]["settings"]["native"]["forced"] == {}
    assert record["meta"]["settings"]["portable"]["forced"] == arithmetic.PORTABLE.variables
    assert set(record["meta"]["wall_seconds"]) == {"dlg/native", "idlg/native", "dlg/portable", "idlg/portable"}
