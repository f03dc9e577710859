import json
import subprocess
import sys

import pytest

from helpers.cli import main

JSON_KEYS = {
    "seed", "recipe", "image", "label_true", "label_recovered", "status", "grad_loss",
    "mse", "psnr", "ssim", "iterations", "evals", "seconds",
}


def test_attack_json_is_the_api_trial(capsys):
    """The CLI's record is the Python API's trial for the same seed, image and recipe."""
    from helpers.data import load_sample
    from helpers.experiments import attack_example, to_json

    assert main(["attack", "--seed", "78483847", "--iters", "3", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert JSON_KEYS <= set(record)
    api = to_json(attack_example(load_sample(0), 78483847, "dlg", iterations=3).as_dict())
    assert record | {"seconds": 0} == api | {"seconds": 0}
    assert record["image"] == "sample:astronaut" and record["iterations"] == 3


def test_attack_text_and_out_folder(tmp_path, capsys):
    assert main(["attack", "--seed", "1", "--index", "2", "--iters", "2", "--recipe", "idlg", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "status" in text and "PSNR" in text
    assert (tmp_path / "reconstruction.png").stat().st_size > 1000
    assert (tmp_path / "loss.png").stat().st_size > 1000
    assert json.loads((tmp_path / "result.json").read_text())["recipe"] == "idlg"


def test_attack_on_an_image_file(tmp_path, capsys):
    from PIL import Image

    Image.new("RGB", (50, 40), (10, 200, 30)).save(tmp_path / "green.png")
    assert main(["attack", "--seed", "1", "--image", str(tmp_path / "green.png"), "--label", "5", "--iters", "1", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["image"] == "file:green.png" and record["label_true"] == 5


@pytest.mark.parametrize(
    "args, message",
    [
        (["attack", "--seed", "1", "--recipe", "nope"], "invalid choice"),
        (["attack", "--seed", "1", "--index", "99"], "out of range"),
        (["attack", "--seed", "1", "--iters", "-3"], "must be >= 0"),
        (["attack", "--seed", "1", "--image", "/no/such/file.png"], "not found"),
        (["attack", "--seed", "1", "--label", "100"], "label 100"),
        (["attack", "--seed", "x"], "invalid int"),
        (["attack"], "required"),
        (["attack", "--seed", "1", "--dataset", "cifar100", "--data-dir", "/nonexistent"], "not in /nonexistent"),
        (["attack", "--seed", "1", "--device", "tpu"], "device"),
        (["launch"], "invalid choice"),
        (["sweep", "--seeds", "1", "--all-samples", "--label", "3"], "--all-samples"),
        (["attack", "--seed", "1", "--download"], "--dataset cifar100 only"),
        (["sweep", "--seeds", "5-1"], "cannot read seeds"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    done = subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_samples_listing(capsys):
    assert main(["samples"]) == 0
    assert "astronaut" in capsys.readouterr().out


def test_an_internal_error_is_not_bad_input(monkeypatch, capsys):
    """A failure inside the pipeline (here a ValueError, which bad input also raises) exits 1
    with one line; ``--debug`` shows the traceback instead."""
    import helpers.cli.commands as commands

    def broken(*args, **kwargs):
        raise ValueError("something inside broke")

    monkeypatch.setattr(commands, "attack_job", broken)
    assert main(["attack", "--seed", "1", "--iters", "1"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("internal error: ValueError: something inside broke")
    with pytest.raises(ValueError, match="something inside broke"):
        main(["attack", "--seed", "1", "--iters", "1", "--debug"])


def test_sweep_text_says_n_a_for_a_diverged_run(capsys):
    """The text table prints "n/a", not "nan", where a run has no PSNR (seed 1234 on coffee in
    the portable arithmetic diverges within 20 steps)."""
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("the portable arithmetic is an x86-64 instruction set")
    assert main(["sweep", "--seeds", "1234", "--index", "4", "--iters", "20", "--workers", "1", "--arithmetic", "portable"]) == 0
    row = capsys.readouterr().out.splitlines()[0]
    assert "diverged" in row and "n/a" in row and "nan" not in row


def test_text_output_reads_non_finite_numbers():
    """An exact copy (+inf dB, "Infinity" in JSON) and a run with no image (NaN, null) print as
    "inf" and "n/a" in the text output instead of crashing it."""
    from helpers.cli.commands import describe

    record = {"image": "sample:astronaut", "seed": 1, "recipe": "closed-form", "status": "converged", "reason": "",
              "label_true": 0, "label_recovered": 0, "first_loss": 1.0, "grad_loss": "Infinity", "mse": 0.0,
              "psnr": "Infinity", "ssim": None, "iterations": 0, "evals": 1, "seconds": 0.5}
    text = describe(record)
    assert "PSNR inf dB" in text and "SSIM n/a" in text and "final: inf" in text


def test_sweep_at_records_loss_and_psnr_after_the_steps_asked(capsys):
    from helpers.data import load_sample
    from helpers.experiments import attack_example
    from helpers.metrics import psnr

    assert main(["sweep", "--seeds", "0", "--iters", "4", "--workers", "1", "--at", "2,1", "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)["trials"]
    trial = attack_example(load_sample(0), 0, "dlg", iterations=4, snapshot_steps=(1, 2))
    assert list(record["at"]) == ["1", "2"]
    for step in (1, 2):
        assert record["at"][str(step)]["loss"] == trial.result.losses[step]
        assert record["at"][str(step)]["psnr"] == psnr(trial.result.snapshots[step], load_sample(0).image)


@pytest.mark.parametrize("argv, message", [
    (["--at", "1,x", "--json"], "expected steps like 1,10,100"),
    (["--at", "-3", "--json"], "steps must be >= 0"),
    (["--at", "5"], "needs --json"),
    (["--at", "5", "--json", "--defence", "noise=1e-4"], "cannot be combined with --defence"),
])
def test_sweep_at_refuses_bad_input(argv, message, capsys):
    assert main(["sweep", "--seeds", "0", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_attack_model_option_reaches_the_trial_and_its_json(capsys):
    from helpers.data import load_sample
    from helpers.experiments import attack_example, to_json

    assert main(["attack", "--seed", "2", "--model", "lenet-relu", "--iters", "2", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    api = to_json(attack_example(load_sample(0), 2, "dlg", iterations=2, model="lenet-relu").as_dict())
    assert record["model"] == "lenet-relu" and record | {"seconds": 0} == api | {"seconds": 0}
    assert main(["sweep", "--seeds", "2", "--model", "lenet-relu", "--iters", "2", "--workers", "1", "--json"]) == 0
    (swept,) = json.loads(capsys.readouterr().out)["trials"]
    assert swept | {"seconds": 0} == record | {"seconds": 0}


@pytest.mark.parametrize("argv, message", [
    (["attack", "--seed", "0", "--model", "resnet"], "invalid choice: 'resnet'"),
])
def test_bad_model_options_are_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
