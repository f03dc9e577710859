"""Remake the shipped long runs (results/long_runs/NAME.json): each is one
``python -m helpers sweep`` command, run here as it stands and stored with the command,
date, package versions, machine and arithmetic that made it.

    python scripts/long_runs.py --all                  # every long run (their wall times are in the records)
    python scripts/long_runs.py seed_table             # one of them
    python scripts/long_runs.py --readme README.md     # rewrite the README's tables from the records
    python scripts/long_runs.py --list
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import time
from pathlib import Path

from helpers.arithmetic import describe_job
from helpers.experiments.long_run_tables import readme_blocks, rewrite_readme
from helpers.experiments.long_runs import FOLDER, LONG_RUNS, LongRun, option, provenance
from helpers.experiments.storage import dumps
from helpers.pool import parallel_map


def stamp(run: LongRun, output: dict, started: datetime.datetime, wall: float, ran_as: list[str]) -> dict:
    """A sweep's output with the record of how it was made in front."""
    setting = option(run.argv, "--arithmetic")
    meta = {"name": run.name, "about": run.about, "command": run.command,
            "ran_as": "python -m helpers " + " ".join(ran_as)} | provenance(started, wall)
    # what the sweep's workers computed with, asked of a worker started the same way
    meta["arithmetic"] = parallel_map(describe_job, [None], 1, arithmetic=setting)[0]
    return {"meta": output.pop("meta", {}) | meta, **output}


def remake(run: LongRun) -> Path:
    started = datetime.datetime.now(datetime.timezone.utc)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "helpers", *run.argv], check=True, text=True,
                          stdout=None if run.saves else subprocess.PIPE,
                          cwd=FOLDER.parents[1])  # the repository root: --save paths are relative to it
    wall = time.perf_counter() - start
    output = json.loads(run.path.read_text()) if run.saves else json.loads(done.stdout)
    run.path.parent.mkdir(parents=True, exist_ok=True)
    run.path.write_text(dumps(stamp(run, output, started, wall, list(run.argv)), indent=1) + "\n")
    return run.path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"long runs to remake: {', '.join(LONG_RUNS)}")
    parser.add_argument("--all", action="store_true", help="remake every long run")
    parser.add_argument("--readme", type=Path, help="then rewrite this README's long-run tables from the records")
    parser.add_argument("--list", action="store_true", help="list the long runs and their commands")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in LONG_RUNS]
    if unknown:
        print(f"error: no long run named {', '.join(unknown)}; known: {', '.join(LONG_RUNS)}", file=sys.stderr)
        return 2
    if args.list:
        for run in LONG_RUNS.values():
            print(f"{run.name:<24} {run.about}\n{'':<24} {run.command}")
        return 0
    if not (args.names or args.all or args.readme):
        print("error: name long runs to remake, or give --all, --readme or --list", file=sys.stderr)
        return 2
    for name in LONG_RUNS if args.all else args.names:
        path = remake(LONG_RUNS[name])
        meta = json.loads(path.read_text())["meta"]
        print(f"wrote {path} in {meta['wall_seconds']} s")
    if args.readme:
        args.readme.write_text(rewrite_readme(args.readme.read_text(), readme_blocks()))
        print(f"rewrote the long-run tables of {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
