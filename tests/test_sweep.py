import json

import pytest

from helpers.cli import main
from helpers.data import load_sample
from helpers.experiments import attack_job, parse_seeds, run_sweep, summarise
from helpers.pool import parallel_map


def test_parse_seeds():
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("1,5, 9") == [1, 5, 9]
    assert parse_seeds("0-2,1234") == [0, 1, 2, 1234]
    for bad in ("", "a-b", "5-1", "x"):
        with pytest.raises(ValueError):
            parse_seeds(bad)


def test_sweep_in_processes_matches_the_same_sweep_in_process():
    example = load_sample(0)
    here = run_sweep(example, [1, 2], "dlg", workers=1, iterations=3)
    there = run_sweep(example, [1, 2], "dlg", workers=2, iterations=3)
    assert [t.seed for t in there] == [1, 2]
    for a, b in zip(here, there):
        assert a.result.losses == b.result.losses
    summary = summarise(here)
    assert summary.attacks == 2 and summary.successes == sum(t.success for t in here)
    assert sum(summary.statuses.values()) == 2


def test_parallel_map_keeps_order_and_reuses_its_workers():
    assert parallel_map(abs, [-3, 1, -2], workers=2) == [3, 1, 2]
    from helpers import pool as pool_module

    pool = pool_module._POOL[2, None]
    assert parallel_map(abs, [-1, -5], workers=2) == [1, 5] and pool_module._POOL[2, None] is pool  # no new pool per sweep


def test_attack_job_is_attack_example():
    from helpers.experiments import attack_example

    example = load_sample(0)
    job = attack_job((example, 5, "dlg", {"weight_seed": 7, "iterations": 2}))
    direct = attack_example(example, 5, "dlg", weight_seed=7, iterations=2)
    assert job.result.losses == direct.result.losses


def test_sweep_cli_json(capsys):
    assert main(["sweep", "--seeds", "0-1", "--iters", "2", "--workers", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [t["seed"] for t in out["trials"]] == [0, 1]
    assert out["summary"]["attacks"] == 2


def test_another_arithmetic_replaces_the_pool_and_closing_ends_its_workers():
    """A pool started with an arithmetic is its own pool (its workers were started with other
    variables) and replaces the plain one; closing it ends every worker process."""
    from helpers import pool as pool_module

    assert parallel_map(abs, [-1, -2], workers=2) == [1, 2]
    plain = list(pool_module._POOL[2, None]._processes.values())
    assert parallel_map(abs, [-3, -4], workers=2, arithmetic="portable") == [3, 4]
    assert list(pool_module._POOL) == [(2, "portable")]
    portable = list(pool_module._POOL[2, "portable"]._processes.values())
    pool_module._close_pool()
    assert pool_module._POOL == {}
    assert plain and portable and not any(p.is_alive() for p in plain + portable)


def test_pool_workers_exit_when_their_parent_is_killed(tmp_path):
    """A kernel killed outright must not leave its sweep workers running."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import time\n"
        "import helpers.pool as pool\n"
        "if __name__ == '__main__':\n"
        "    print(pool.parallel_map(abs, [0, 0], workers=2), flush=True)\n"
        "    print(' '.join(str(p.pid) for live in pool._POOL.values() for p in live._processes.values()), flush=True)\n"
        "    time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        parent.stdout.readline()
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(workers) == 2 and all(os.path.exists(f"/proc/{pid}") for pid in workers)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
    deadline = time.time() + 20
    while any(os.path.exists(f"/proc/{pid}") and "Z" not in open(f"/proc/{pid}/stat").read().split()[2] for pid in workers):
        assert time.time() < deadline, "a pool worker outlived its killed parent"
        time.sleep(0.2)


def test_a_batch_is_attacked_by_a_search_with_one_row_per_image():
    """dlg and idlg (labels read off the batch's negative rows) attack a batch; the restarts and
    the closed form, which recover one image, are refused with a reason."""
    import pytest

    from helpers.data import load_sample_set
    from helpers.experiments import attack_shared, attacks_batches, defended_attack, LocalBatch

    batch = load_sample_set()[:2]
    assert attacks_batches("dlg") and attacks_batches("idlg")
    assert not attacks_batches("robust") and not attacks_batches("closed-form")
    run = defended_attack(batch, 0, LocalBatch(2), "idlg", iterations=2)
    assert sorted(run.labels_recovered) == sorted(e.label for e in batch) and len(run.psnr) == 2
    with pytest.raises(ValueError, match="recovers one image"):
        attack_shared(batch, 0, "robust", iterations=1)
