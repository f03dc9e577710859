"""Faithful ``dlg`` against ``robust`` and ``closed-form``, side by side, on the same image and seeds, in one run.

    python benchmarks/attack_speed.py                      # seed 78483847 + a sweep over seeds 0-19
    python benchmarks/attack_speed.py --seeds 0-99         # the full comparison (~15+ min on 2 cores)

1. One attack each (``--seed``, default 78483847, on ``--index``, default 0, the astronaut),
   one thread: wall time until the reconstruction first reaches PSNR >= 30 dB. The attack
   only reports its matching loss and a snapshot per outer step; the PSNR of each snapshot
   is computed afterwards, here, against the truth (the attack never sees it).
2. A sweep over ``--seeds`` with each recipe (``helpers.experiments.run_sweep``, ``--workers``
   processes x one thread): success rate (PSNR >= 30 dB, not diverged) and wall time.

Prints the machine and a markdown table with the ratios dlg / each challenger.
"""

from __future__ import annotations

import argparse
import math
import os
import platform

import torch

from helpers.experiments import time_to_psnr as clocked_attack
from helpers.data import load_sample
from helpers.experiments import parse_seeds, summarise, timed_sweep
from helpers.pool import parallel_map


def time_to_psnr(recipe: str, index: int, seed: int) -> dict:
    """One attack, clocked after every outer step (``helpers.experiments.time_to_psnr``)."""
    timing = clocked_attack(load_sample(index), seed, recipe)
    result = timing.trial.result
    return {
        "seconds_to_30db": timing.seconds,
        "seconds": result.seconds,
        "psnr": timing.trial.metrics.psnr,
        "status": result.status,
        "evals": result.evals,
    }


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            model = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        load = " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        load = "n/a"
    return f"{model}, {os.cpu_count()} cores, load average {load}, torch {torch.__version__}"


def ratio(a: float, b: float) -> str:
    return "n/a" if not (math.isfinite(a) and math.isfinite(b)) or b == 0 else f"{a / b:.1f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=78483847, help="seed of the single-attack timing")
    parser.add_argument("--index", type=int, default=0, help="bundled image (default 0, astronaut)")
    parser.add_argument("--seeds", default="0-19", help="sweep seeds (default 0-19; the full run is 0-99)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--recipes", default="dlg,robust,closed-form", help="the faithful one first, then the challengers")
    args = parser.parse_args()
    recipes = args.recipes.split(",")
    base = recipes[0]
    seeds = parse_seeds(args.seeds)

    print(f"# machine: {machine()}")
    torch.set_num_threads(1)
    single = {}
    for recipe in recipes:
        single[recipe] = time_to_psnr(recipe, args.index, args.seed)
        print(f"single {recipe}: {single[recipe]}", flush=True)
    sweep = {}
    example = load_sample(args.index)
    parallel_map(abs, [0] * args.workers, args.workers)  # start the worker pool first: no sweep pays for it
    for recipe in recipes:
        trials, wall = timed_sweep(example, seeds, recipe, workers=args.workers, snapshot_steps=())
        sweep[recipe] = (summarise(trials), wall)
        print(f"sweep {recipe}: {sweep[recipe][0].line()}, wall {wall:.1f} s", flush=True)
    print(f"# machine: {machine()}")
    print(f"# image {example.name}, single attack seed {args.seed} (1 thread), "
          f"sweep seeds {args.seeds} ({len(seeds)} seeds, {args.workers} workers x 1 thread); "
          f"(x N) = {base}'s figure divided by this recipe's")

    def row(measure: str, cells) -> None:
        print(f"| {measure} | " + " | ".join(cells) + " |")

    row("measure", recipes)
    row("---", ["---"] * len(recipes))
    a = single[base]
    row(f"seconds to PSNR >= 30 dB, seed {args.seed}",
        [f"{single[r]['seconds_to_30db']:.2f}" + ("" if r == base else f" (x {ratio(a['seconds_to_30db'], single[r]['seconds_to_30db'])})")
         for r in recipes])
    row(f"whole attack, seed {args.seed}",
        [f"{single[r]['status']}, {single[r]['psnr']:.1f} dB, {single[r]['evals']} evals, {single[r]['seconds']:.2f} s" for r in recipes])
    row("sweep success (PSNR >= 30 dB)",
        [f"{sweep[r][0].successes}/{sweep[r][0].attacks} ({100 * sweep[r][0].rate:.0f} %, "
         f"{100 * sweep[r][0].rate_low:.0f}-{100 * sweep[r][0].rate_high:.0f} %)" for r in recipes])
    row("sweep statuses", [str(sweep[r][0].statuses) for r in recipes])
    wa = sweep[base][1]
    row("sweep wall seconds", [f"{sweep[r][1]:.1f}" + ("" if r == base else f" (x {ratio(wa, sweep[r][1])})") for r in recipes])
    ma = sweep[base][0].median_seconds
    row("median seconds per attack",
        [f"{sweep[r][0].median_seconds:.2f}" + ("" if r == base else f" (x {ratio(ma, sweep[r][0].median_seconds)})") for r in recipes])

if __name__ == "__main__":
    main()
