"""The shipped long runs: each loads, says how it was made, and a random sample of its stored
attacks reproduces when run again."""

import json
import os
import random

import pytest

from helpers.arithmetic import describe_job
from helpers.cli import main
from helpers.cli.parser import build_parser
from helpers.experiments import long_run_tables, long_runs
from helpers.experiments.long_runs import LONG_RUNS, compare, option, records, rerun_argv, same_arithmetic
from helpers.pool import parallel_map

PROVENANCE = {"command", "ran_as", "date", "wall_seconds", "python", "torch", "torchvision", "numpy", "cpu",
              "machine", "cores", "arithmetic"}
SPOT_CHECKS = 2  # stored attacks rerun per test run
AFFORDABLE_SECONDS = 20.0  # only attacks that took at most this long when stored are rerun


@pytest.mark.parametrize("name", list(LONG_RUNS))
def test_a_long_run_is_shipped_with_how_it_was_made(name):
    run = LONG_RUNS[name]
    record = long_runs.load(name)
    meta = record["meta"]
    assert PROVENANCE <= set(meta), PROVENANCE - set(meta)
    assert meta["command"] == run.command
    build_parser().parse_args(run.argv)  # the command is one the CLI accepts as it stands
    stored = records(record)
    assert stored and all(r["recipe"] == option(run.argv, "--recipe") for r in stored)
    seeds = {r["seed"] for r in stored}
    assert seeds == set(_seeds(run))
    if run.saves:
        assert run.path.with_suffix(".npz").exists()


def _seeds(run):
    from helpers.experiments import parse_seeds

    return parse_seeds(option(run.argv, "--seeds"))


def test_unknown_long_run_is_refused():
    with pytest.raises(ValueError, match="no long run named"):
        long_runs.load("nope")


def _sample() -> tuple[int, list[tuple[str, dict]]]:
    """Two long runs drawn at random, and one affordable stored attack drawn from each (so the
    800 closed-form attacks do not crowd out the rest)."""
    seed = int(os.environ.get("DLG_SPOT_CHECK_SEED", random.SystemRandom().randrange(2**32)))
    draw = random.Random(seed)
    sample = []
    affordable = {name: [r for r in records(long_runs.load(name)) if r["seconds"] <= AFFORDABLE_SECONDS]
                  for name in sorted(LONG_RUNS)}
    # a long run whose every attack took longer (the ReLU runs) is checked by remaking it
    for name in draw.sample([n for n, rows in affordable.items() if rows], SPOT_CHECKS):
        sample.append((name, draw.choice(affordable[name])))
    return seed, sample


def test_a_random_sample_of_the_stored_attacks_reproduces(capsys):
    """Digit for digit where this machine's workers compute in the record's arithmetic;
    otherwise in what survives a change of machine (:func:`long_runs.compare`).
    ``DLG_SPOT_CHECK_SEED`` repeats a sample."""
    seed, sample = _sample()
    for name, stored in sample:
        run = LONG_RUNS[name]
        meta = long_runs.load(name)["meta"]
        here = parallel_map(describe_job, [None], 1, arithmetic=option(run.argv, "--arithmetic"))[0]
        exact = same_arithmetic(meta, here, solve=stored["recipe"].startswith("closed-form"))
        argv = rerun_argv(run, stored)
        assert main(argv) == 0
        fresh = json.loads(capsys.readouterr().out)
        problems = compare(stored, fresh, exact)
        assert not problems, (f"DLG_SPOT_CHECK_SEED={seed}: {name}, `python -m helpers {' '.join(argv)}` "
                              f"({'exact' if exact else 'across machines'}): {problems}")


def test_rerun_argv_names_the_stored_attack():
    trial = {"seed": 7, "recipe": "dlg", "image": "sample:coffee"}
    assert rerun_argv(LONG_RUNS["seed_table"], trial) == [
        "attack", "--seed", "7", "--recipe", "dlg", "--json", "--index", "4", "--arithmetic", "portable"]
    defended = {"seed": 2, "recipe": "dlg", "spec": "batch=4"}
    assert rerun_argv(LONG_RUNS["batches_dlg"], defended) == [
        "attack", "--seed", "2", "--recipe", "dlg", "--json", "--defence", "batch=4", "--iters", "100",
        "--arithmetic", "portable"]


def test_compare_sees_a_changed_digit_and_tolerates_what_moves_between_machines():
    stored = {"recipe": "dlg", "status": "converged", "psnr": 45.0, "grad_loss": 1e-6, "label_recovered": 3}
    assert compare(stored, dict(stored), exact=True) == []
    assert compare(stored, stored | {"grad_loss": 1.0000001e-6}, exact=True)
    assert compare(stored, stored | {"psnr": 31.0, "grad_loss": 2e-6}, exact=False) == []  # still a success
    assert compare(stored, stored | {"psnr": 20.0, "status": "stalled"}, exact=False)  # a wide success lost
    chaotic = stored | {"psnr": None, "status": "diverged"}
    assert compare(chaotic, stored, exact=False) == []  # a single search's failure may not travel
    solved = {"recipe": "closed-form", "psnr": 60.0}
    assert compare(solved, {"psnr": 60.9}, exact=False) == []
    assert compare(solved, {"psnr": 55.0}, exact=False)


def test_same_arithmetic_needs_torch_and_instructions_to_match():
    here = {"torch": "2.14.1", "aten_capability": "DEFAULT", "machine": "x86_64", "forced": {"A": "1"}, "cpu": "X"}
    assert same_arithmetic({"arithmetic": here | {"cpu": "Y"}}, here)  # another CPU, the same portable digits
    assert not same_arithmetic({"arithmetic": here | {"cpu": "Y"}}, here, solve=True)  # but not LAPACK's
    assert not same_arithmetic({"arithmetic": here | {"torch": "2.15.0"}}, here)
    assert not same_arithmetic({"arithmetic": here | {"aten_capability": "AVX2"}}, here)
    assert not same_arithmetic({}, here)
    native = here | {"aten_capability": "AVX512", "forced": {}}
    assert same_arithmetic({"arithmetic": native}, native)
    assert not same_arithmetic({"arithmetic": native | {"cpu": "Y"}}, native)  # own arithmetic: only that CPU


def test_the_readme_tables_are_the_shipped_records():
    """The README's long-run tables are written from the records (scripts/long_runs.py --readme)."""
    readme = (long_runs.FOLDER.parents[1] / "README.md").read_text()
    assert long_run_tables.rewrite_readme(readme, long_run_tables.readme_blocks()) == readme


def test_rewrite_readme_replaces_only_between_the_markers():
    text = "a\n<!-- long-run:x -->\nold\n<!-- long-run:end -->\nb"
    assert long_run_tables.rewrite_readme(text, {"x": "new"}) == "a\n<!-- long-run:x -->\nnew\n<!-- long-run:end -->\nb"
    with pytest.raises(ValueError, match="no <!-- long-run:y -->"):
        long_run_tables.rewrite_readme(text, {"y": "new"})
