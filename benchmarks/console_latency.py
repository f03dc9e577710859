"""How fast the live attack console answers, measured on the console itself (no browser).

    python benchmarks/console_latency.py                 # 3 changes per recipe
    python benchmarks/console_latency.py --changes 5 --out results/console_latency.json

For each recipe the console is attacking (a ``dlg`` run of 300 steps is streaming) when the
seed is changed, as a person typing a new one would. Measured from that change:

* stop: until the old attack's thread has ended;
* first frame: until the view shows the new run's first dummy (for ``closed-form``, which has
  no dummy, its solution);
* finished: until the final frame (the closed form's target);
* frame interval: the longest gap between two views of the new run while it runs
  (``dlg``, ``idlg``, ``robust``; measured over ``--watch`` seconds);

and, separately, Stop pressed mid-attack: until the attack's thread has ended. Torch uses
this process's default threads (a notebook kernel's). Prints a markdown table (the worst
of ``--changes`` changes per recipe) and the machine.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from datetime import datetime, timezone

import torch

from helpers.arithmetic import cpu_model
from helpers.attacks import get_recipe
from helpers.console.app import TARGETS, AttackConsole
from helpers.experiments.storage import dumps
from helpers.data import load_sample

RECIPES = ("dlg", "idlg", "robust", "closed-form", "closed-form+lbfgs")
STREAMED = ("dlg", "idlg", "robust")


def wait_for(condition, timeout: float = 120.0) -> None:
    end = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > end:
            raise TimeoutError("the console did not answer in time")
        time.sleep(0.002)


def streaming(console: AttackConsole, run) -> bool:
    return any(s.run == run.number and s.frame.dummy is not None for s in console.shown)


def one_change(console: AttackConsole, recipe: str, seed: int, watch: float) -> dict:
    """A dlg attack is running; the seed changes to ``seed`` with ``recipe`` chosen."""
    with console.controls.quietly():  # set up the run without starting it
        console.controls.recipe.value = get_recipe("dlg")
        console.controls.steps.value = 300
    old = console.run()
    wait_for(lambda: any(s.run == old.number and s.frame.step >= 2 for s in console.shown))
    with console.controls.quietly():
        console.controls.recipe.value = get_recipe(recipe)
        console.controls.steps.value = 300 if recipe in STREAMED else 100
    changed = time.perf_counter()
    console.controls.seed.value = seed  # what a person typing a seed does
    new = console.runner.current
    wait_for(lambda: old.ended is not None)
    stop = old.ended - changed
    wait_for(lambda: streaming(console, new) or (new.ended is not None))
    first = next((s.at for s in console.shown if s.run == new.number and (s.frame.dummy is not None or s.frame.done)),
                 math.nan) - changed
    if recipe in STREAMED:
        time.sleep(watch)
        console.stop()
        new.wait(30)
        times = [changed] + [s.at for s in console.shown if s.run == new.number]
        interval = max(b - a for a, b in zip(times[1:], times[2:])) if len(times) > 2 else math.nan
        finished = math.nan
    else:
        new.wait(120)
        interval = math.nan
        finished = [s.at for s in console.shown if s.run == new.number and s.frame.done][-1] - changed
    runs = [s.run for s in console.shown]
    stale = new.number in runs and old.number in runs[runs.index(new.number):]
    return {"recipe": recipe, "seed": seed, "stop": stop, "first frame": first, "finished": finished,
            "frame interval": interval, "stale frames": stale}


def stop_pressed(console: AttackConsole, recipe: str, seed: int) -> float:
    with console.controls.quietly():
        console.controls.recipe.value = get_recipe(recipe)
        console.controls.seed.value = seed
        console.controls.steps.value = 300
    run = console.run()
    wait_for(lambda: any(s.run == run.number and s.frame.step >= 3 for s in console.shown))
    time.sleep(0.3)
    pressed = time.perf_counter()
    console.stop()
    run.wait(30)
    return run.ended - pressed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=3, help="seed changes per recipe (default 3)")
    parser.add_argument("--watch", type=float, default=6.0, help="seconds a streamed run is watched (default 6)")
    parser.add_argument("--index", type=int, default=0, help="bundled image (default 0)")
    parser.add_argument("--out", help="also write the measurements as JSON here")
    args = parser.parse_args(argv)
    if args.changes < 1 or args.watch <= 0:
        print("console_latency: --changes must be >= 1 and --watch > 0", file=sys.stderr)
        return 2
    console = AttackConsole([load_sample(args.index)], seed=0, recipe="closed-form", interval=0.25)
    try:
        console.run().wait(120)  # warm: the first closed form imports SciPy's LSQR
        rows = [one_change(console, recipe, 1000 + k, args.watch) for recipe in RECIPES for k in range(args.changes)]
        stops = [stop_pressed(console, recipe, 2000 + k) for recipe in STREAMED for k in range(args.changes)]
    finally:
        console.close()
    print(f"machine: {cpu_model()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
          f"Python {platform.python_version()}")
    print("\n| recipe | first frame (s) | finished (s) | longest frame interval (s) | the dlg attack before it stopped (s) |")
    print("|---|---|---|---|---|")
    for recipe in RECIPES:
        mine = [r for r in rows if r["recipe"] == recipe]

        def worst(key: str) -> str:
            values = [r[key] for r in mine if math.isfinite(r[key])]
            return f"{max(values):.2f}" if values else "n/a"

        print(f"| {recipe} | {worst('first frame')} | {worst('finished')} | {worst('frame interval')} | {worst('stop')} |")
    print(f"\nStop pressed mid-attack (dlg, idlg, robust; {len(stops)} presses): thread ended within "
          f"{max(stops):.2f} s (median {sorted(stops)[len(stops) // 2]:.2f} s)")
    print(f"stale frames after a new run's first frame: {sum(r['stale frames'] for r in rows)}")
    worst = {"first frame": max(r["first frame"] for r in rows),
             "closed-form finished": max(r["finished"] for r in rows if r["recipe"] == "closed-form"),
             "frame interval": max(r["frame interval"] for r in rows if r["recipe"] in STREAMED),
             "stop": max([r["stop"] for r in rows] + stops)}
    for key, target in TARGETS.items():
        print(f"target {key} <= {target:g} s: worst {worst[key]:.2f} s, {'met' if worst[key] <= target else 'MISSED'}")
    if args.out:
        record = {"command": "python benchmarks/console_latency.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                  "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": cpu_model(),
                  "torch": torch.__version__, "threads": torch.get_num_threads(), "changes": rows, "stop_pressed": stops}
        with open(args.out, "w") as out:
            out.write(dumps(record, indent=1) + "\n")  # NaN (not measured for that recipe) as null
    return 0


if __name__ == "__main__":
    sys.exit(main())
