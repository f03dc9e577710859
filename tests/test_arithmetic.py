"""Instruction-set settings: a worker computes with the setting it was started with, and the
parent process is left as it was."""

import os
import platform

import pytest
import torch

from helpers import arithmetic
from helpers.pool import _close_pool, parallel_map


@pytest.fixture(autouse=True)
def _no_pool_left():
    yield
    _close_pool()


def test_environment_replaces_only_the_instruction_set_variables():
    base = {"PATH": "/bin", "ATEN_CPU_CAPABILITY": "avx512", "MKL_CBWR": "AVX2"}
    assert arithmetic.environment("portable", base) == {"PATH": "/bin", **arithmetic.PORTABLE.variables}
    assert arithmetic.environment("native", base) == {"PATH": "/bin"}
    with pytest.raises(ValueError, match="unknown arithmetic"):
        arithmetic.get_arithmetic("avx9000")


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 instruction sets")
def test_workers_compute_with_their_setting_and_the_parent_is_unchanged():
    before = dict(os.environ)
    portable, native = (parallel_map(arithmetic.describe_job, [None], 1, arithmetic=name)[0] for name in ("portable", "native"))
    assert portable["aten_capability"] == "DEFAULT" and portable["forced"] == arithmetic.PORTABLE.variables
    assert native["forced"] == {}  # removed even where this process was started with them forced
    assert dict(os.environ) == before
    assert torch.backends.cpu.get_cpu_capability() == arithmetic.describe()["aten_capability"]


def test_a_convolution_agrees_to_float32_rounding_in_every_arithmetic():
    """A setting changes how a result is rounded, never what is computed: the same convolution
    in two arithmetics agrees to float32 rounding (whether its last bits differ depends on the
    CPU, so that is not asserted)."""
    a, b = (parallel_map(_convolution, [0], 1, arithmetic=name)[0] for name in ("native", "portable"))
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


def _convolution(seed):
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 3, 32, 32, generator=generator)
    w = torch.rand(12, 3, 5, 5, generator=generator) - 0.5
    return torch.nn.functional.conv2d(x, w, padding=2, stride=2)


@pytest.mark.skipif("DLG_EXPECT_ARITHMETIC" not in os.environ, reason="set by make test-native / test-portable")
def test_the_test_pass_computes_with_the_arithmetic_it_names():
    """make test runs everything twice; this checks that each pass really is the arithmetic it
    says (a typo in a variable's value would otherwise leave both passes native)."""
    expected = arithmetic.get_arithmetic(os.environ["DLG_EXPECT_ARITHMETIC"])
    assert arithmetic.forced() == expected.variables
    if expected is arithmetic.PORTABLE:
        assert torch.backends.cpu.get_cpu_capability() == "DEFAULT"


def test_the_cli_attack_in_an_arithmetic_is_the_api_trial_in_that_arithmetic(capsys):
    """``attack --arithmetic portable`` gives the record that the same job gives in a portable
    worker through the Python API: one pipeline, whatever the entry point."""
    import json

    from helpers.cli import main
    from helpers.data import load_sample
    from helpers.experiments import attack_job, to_json

    assert main(["attack", "--seed", "1234", "--index", "4", "--iters", "6", "--arithmetic", "portable", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    job = (load_sample(4), 1234, "dlg", dict(iterations=6))
    (trial,) = parallel_map(attack_job, [job], 1, arithmetic="portable")
    assert record | {"seconds": 0} == to_json(trial.as_dict()) | {"seconds": 0}
    if arithmetic.forced() != arithmetic.PORTABLE.variables and torch.backends.cpu.get_cpu_capability() != "DEFAULT":
        # and it did not run here: this process's own arithmetic takes seed 1234 elsewhere after one step
        assert attack_job(job).result.first_loss != record["first_loss"]


@pytest.mark.parametrize("argv", [
    ["attack", "--seed", "1", "--arithmetic", "x87"],
    ["attack", "--seed", "1", "--arithmetic", "portable", "--threads", "2"],
    ["sweep", "--seeds", "0", "--arithmetic", "avx"],
])
def test_the_cli_refuses_a_bad_arithmetic(argv, capsys):
    from helpers.cli import main

    assert main(argv) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
