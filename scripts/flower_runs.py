"""Federated runs in Flower's simulation engine, each attacked by the curious server, for
notebook 13: how the leak changes with local steps and learning rate, the batch, the round,
SecAgg+ and DP-SGD. Each run is the command line's ``python -m helpers fl ... --json``, one
after another; results/flower_runs.json keeps each run's command, settings, attacks and wall
time, and the date, versions and machine that made them.

    python scripts/flower_runs.py                   # every run (about 10 minutes on 2 cores)
    python scripts/flower_runs.py --only secagg     # one run, by name
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from helpers.experiments.long_runs import provenance
from helpers.experiments.storage import dumps

ROOT = Path(__file__).resolve().parents[1]
BASE = "--clients 4 --recipe closed-form"
RUNS = {  # name -> the fl command's options
    "two_clients": "--clients 2 --rounds 2 --recipe closed-form",  # tests/test_federation.py reruns it
    "fedsgd_rounds": f"{BASE} --rounds 3",
    "fedavg_steps5": f"{BASE} --rounds 2 --local-steps 5",
    "fedavg_steps20": f"{BASE} --rounds 1 --local-steps 20",
    "small_lr_steps1": f"{BASE} --rounds 1 --local-steps 1 --lr 0.001",
    "small_lr_steps2": f"{BASE} --rounds 1 --local-steps 2 --lr 0.001",
    "batch2": "--clients 4 --rounds 1 --batch 2 --recipe idlg --iters 100",
    "secagg": f"{BASE} --rounds 2 --secagg",
    "dpsgd_clip": f"{BASE} --rounds 1 --defence dpsgd:sigma=0,clip=1",
    "dpsgd_noise": f"{BASE} --rounds 1 --defence dpsgd:sigma=0.01,clip=1",
}


def run_one(options: str) -> dict:
    argv = [sys.executable, "-m", "helpers", "fl", *shlex.split(options), "--json"]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise SystemExit(f"python -m helpers fl {options} failed: {why}")
    record = json.loads(done.stdout)
    made = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return record | {"process_seconds": round(time.perf_counter() - start, 1), "date": made}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(RUNS), help="run only these (repeat); the others "
                        "already stored are kept, each with its own date")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "flower_runs.json")
    args = parser.parse_args(argv)
    stored = json.loads(args.out.read_text())["runs"] if args.only and args.out.exists() else {}
    started = datetime.datetime.now(datetime.timezone.utc)
    start = time.perf_counter()
    runs = dict(stored)
    for name in args.only or RUNS:
        runs[name] = run_one(RUNS[name])
        print(f"{name:<16} {runs[name]['process_seconds']:6.1f} s  " + ", ".join(
            f"r{a['round']}c{a['client']} {a['psnr'] if a['psnr'] is None else round(a['psnr'], 1)}"
            for a in runs[name]["attacks"]), flush=True)
    meta = {"about": "federated runs in Flower's simulation engine (Ray backend), every update attacked by the "
                     "curious server; each run is its command's JSON",
            "command": "python scripts/flower_runs.py" + ("" if not args.only else " " + " ".join(f"--only {n}" for n in args.only)),
            } | provenance(started, time.perf_counter() - start)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps({"meta": meta, "runs": {n: runs[n] for n in RUNS if n in runs}}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
