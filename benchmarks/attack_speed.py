"""Faithful ``dlg`` against ``robust``, side by side, on the same image and seeds, in one run.

    python benchmarks/attack_speed.py                      # seed 78483847 + a sweep over seeds 0-19
    python benchmarks/attack_speed.py --seeds 0-99         # the full comparison (~15+ min on 2 cores)

1. One attack each (``--seed``, default 78483847, on ``--index``, default 0, the astronaut),
   one thread: wall time until the reconstruction first reaches PSNR >= 30 dB. The attack
   only reports its matching loss and a snapshot per outer step; the PSNR of each snapshot
   is computed afterwards, here, against the truth (the attack never sees it).
2. A sweep over ``--seeds`` with each recipe (``helpers.sweep.run_sweep``, ``--workers``
   processes x one thread): success rate (PSNR >= 30 dB, not diverged) and wall time.

Prints the machine and a markdown table with the ratios dlg / robust.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import torch

from helpers.data import load_sample
from helpers.experiment import attack_example
from helpers.metrics import SUCCESS_PSNR, psnr
from helpers.sweep import parse_seeds, summarise, timed_sweep


def time_to_psnr(recipe: str, index: int, seed: int) -> dict:
    """One attack with a snapshot at every outer step and the wall clock at every step."""
    example = load_sample(index)
    clock: dict[int, float] = {}
    start = time.perf_counter()
    trial = attack_example(
        example, seed, recipe, snapshot_steps=range(0, 100_000), on_step=lambda step, loss: clock.__setitem__(step, time.perf_counter())
    )
    reached = math.nan
    for step in sorted(trial.result.snapshots):
        if step and psnr(trial.result.snapshots[step], example.image) >= SUCCESS_PSNR:
            reached = clock[step] - start
            break
    return {
        "seconds_to_30db": reached,
        "seconds": trial.result.seconds,
        "psnr": trial.metrics.psnr,
        "status": trial.result.status,
        "evals": trial.result.evals,
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
    parser.add_argument("--recipes", default="dlg,robust", help="faithful first, then the challenger")
    args = parser.parse_args()
    base, fast = args.recipes.split(",")
    seeds = parse_seeds(args.seeds)

    print(f"# machine: {machine()}")
    torch.set_num_threads(1)
    single = {}
    for recipe in (base, fast):
        single[recipe] = time_to_psnr(recipe, args.index, args.seed)
        print(f"single {recipe}: {single[recipe]}", flush=True)
    sweep = {}
    example = load_sample(args.index)
    for recipe in (base, fast):
        trials, wall = timed_sweep(example, seeds, recipe, workers=args.workers, snapshot_steps=())
        sweep[recipe] = (summarise(trials), wall)
        print(f"sweep {recipe}: {sweep[recipe][0].line()}, wall {wall:.1f} s", flush=True)
    print(f"# machine: {machine()}")
    print(f"# image {example.name}, single attack seed {args.seed} (1 thread), "
          f"sweep seeds {args.seeds} ({len(seeds)} seeds, {args.workers} workers x 1 thread)")
    print(f"| measure | {base} | {fast} | ratio {base}/{fast} |")
    print("|---|---|---|---|")
    a, b = single[base], single[fast]
    print(f"| seconds to PSNR >= 30 dB, seed {args.seed} | {a['seconds_to_30db']:.2f} | {b['seconds_to_30db']:.2f} | "
          f"{ratio(a['seconds_to_30db'], b['seconds_to_30db'])} |")
    print(f"| whole attack, seed {args.seed}: status, PSNR, evaluations, seconds | {a['status']}, {a['psnr']:.1f} dB, "
          f"{a['evals']}, {a['seconds']:.1f} s | {b['status']}, {b['psnr']:.1f} dB, {b['evals']}, {b['seconds']:.1f} s | "
          f"{ratio(a['seconds'], b['seconds'])} |")
    (sa, wa), (sb, wb) = sweep[base], sweep[fast]
    print(f"| sweep success (PSNR >= 30 dB) | {sa.successes}/{sa.attacks} ({100 * sa.rate:.0f} %, "
          f"{100 * sa.rate_low:.0f}-{100 * sa.rate_high:.0f} %) | {sb.successes}/{sb.attacks} ({100 * sb.rate:.0f} %, "
          f"{100 * sb.rate_low:.0f}-{100 * sb.rate_high:.0f} %) | |")
    print(f"| sweep statuses | {sa.statuses} | {sb.statuses} | |")
    print(f"| sweep wall seconds | {wa:.1f} | {wb:.1f} | {ratio(wa, wb)} |")
    print(f"| median seconds per attack | {sa.median_seconds:.1f} | {sb.median_seconds:.1f} | "
          f"{ratio(sa.median_seconds, sb.median_seconds)} |")


if __name__ == "__main__":
    main()
