"""One rule for success and aggregation, and numbers that keep their meaning in JSON."""

import json
import math

import pytest
import torch

from helpers.experiments import DefenceRun, load_runs, points, save_runs, threshold, to_json
from helpers.experiments.storage import dumps, from_json_number
from helpers.metrics import SUCCESS_PSNR, succeeded
from helpers.statistics import aggregate, mean_score, median_psnr, wilson_interval

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    "successes, trials, low, high",
    # Newcombe (1998), Statistics in Medicine 17:857, Table II, method 3 (Wilson score, no correction)
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718),
     (29, 29, 0.8830, 1.0)],
)
def test_wilson_interval_matches_published_values(successes, trials, low, high):
    got = wilson_interval(successes, trials)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_success_rule_counts_an_exact_copy_and_never_a_diverged_run():
    assert succeeded(INF) and succeeded(SUCCESS_PSNR) and not succeeded(SUCCESS_PSNR - 1e-9)
    assert not succeeded(NAN) and not succeeded(INF, diverged=True)


def test_aggregate_keeps_infinity_and_leaves_diverged_runs_out_of_the_median():
    outcome = aggregate([INF, 35.0, NAN, 10.0])
    assert (outcome.runs, outcome.successes, outcome.diverged) == (4, 2, 1)
    assert outcome.median_psnr == 35.0  # median of inf, 35, 10; the NaN run is no 0 dB
    assert outcome.rate == 0.5 and outcome.interval == wilson_interval(2, 4)
    flagged = aggregate([40.0, 12.0], diverged=[True, False])  # a diverged run's number does not count
    assert (flagged.successes, flagged.diverged, flagged.median_psnr) == (0, 1, 12.0)
    assert math.isnan(aggregate([NAN]).median_psnr) and math.isnan(median_psnr([]))


def _run(psnr, ssim=None, status="converged", spec="noise=0.01", strength=1e-2, seed=0):
    ssim = ssim if ssim is not None else [0.9 if not math.isnan(p) else NAN for p in psnr]
    n = len(psnr)
    return DefenceRun(spec=spec, kind="gaussian", strength=strength, seed=seed, recipe="dlg", images=["x"] * n,
                      status=status, reason="", grad_loss=1e-5, iterations=1, seconds=0.1, psnr=list(psnr),
                      ssim=list(ssim), labels_true=[1] * n, labels_recovered=[1] * n, pairing=list(range(n)),
                      reconstruction=torch.full((n, 3, 32, 32), 0.5))


def test_a_defence_run_scores_by_the_same_rule():
    perfect = _run([INF])
    assert perfect.success and perfect.recovered == 1 and perfect.mean_psnr == INF
    diverged = _run([NAN], status="diverged")
    assert not diverged.success and math.isnan(diverged.mean_psnr) and diverged.recognised == 0
    assert _run([40.0, 20.0]).recovered == 1 and _run([40.0, 20.0]).mean_psnr == 30.0
    assert mean_score([1.0, NAN]) != mean_score([1.0, NAN])  # NaN: no mean of a run without an image


def test_points_and_threshold_follow_the_rule():
    runs = [_run([INF], strength=1e-3, spec="noise=0.001", seed=s) for s in (0, 1)]
    runs += [_run([NAN], status="diverged", strength=1e-2, seed=0), _run([12.0], strength=1e-2, seed=1)]
    curve = points(runs)
    assert [(p.spec, p.successes, p.runs) for p in curve] == [("noise=0.001", 2, 2), ("noise=0.01", 0, 2)]
    assert curve[0].median_psnr == INF and curve[1].median_psnr == 12.0
    assert threshold(curve) == 1e-2
    assert threshold(curve[:1]) is None  # still works at the strongest strength tried


def test_non_finite_numbers_survive_a_json_round_trip(tmp_path):
    text = dumps({"psnr": [INF, NAN, -INF, 3.5]})
    assert "NaN" not in text and json.loads(text) == {"psnr": ["Infinity", None, "-Infinity", 3.5]}
    back = from_json_number(json.loads(text)["psnr"])
    assert back[0] == INF and math.isnan(back[1]) and back[2] == -INF and back[3] == 3.5
    runs = [_run([INF]), _run([NAN], status="diverged")]
    save_runs(runs, tmp_path / "sweep", {"note": "test"})
    loaded, meta = load_runs(tmp_path / "sweep")
    assert meta == {"note": "test"}
    assert loaded[0].psnr == [INF] and loaded[0].success and loaded[0].reconstruction.shape == (1, 3, 32, 32)
    assert math.isnan(loaded[1].psnr[0]) and loaded[1].reconstruction is None and not loaded[1].success
    assert to_json(runs[0].as_dict())["mean_psnr"] == "Infinity"
