"""Inverting Gradients (``ig``) against the paper's ``dlg`` on the ReLU LeNet: the time one
attack takes here, and the recognisable rate of the shipped 32-case runs.

    python benchmarks/ig_relu.py                   # astronaut and coffee, seed 0, one thread each
    python benchmarks/ig_relu.py --cases 0:0,4:1 --threads 2

1. Each case (``INDEX:SEED``) attacked with ``ig`` at its full length, on ``--threads``
   torch threads, in this process's own arithmetic: wall seconds, SSIM, label.
2. The shipped long runs ``ig_relu_all_samples`` and ``dlg_relu_all_samples`` (every bundled
   image, seeds 0-3; ``python scripts/long_runs.py`` remakes them): attacks left recognisable
   (SSIM >= 0.5), with the seconds their records state (measured on the machine that made them).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from helpers.data import load_sample
from helpers.experiments import attack_example
from helpers.experiments.long_runs import attacks, load
from helpers.metrics import RECOGNISABLE_SSIM


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="0:0,4:0", help="INDEX:SEED pairs (default 0:0,4:0)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{args.threads} thread(s)")
    print("| image | seed | seconds | SSIM | label right |\n|---|---|---|---|---|")
    for case in args.cases.split(","):
        index, seed = (int(v) for v in case.split(":"))
        start = time.perf_counter()
        trial = attack_example(load_sample(index), seed, "ig", model="lenet-relu")
        seconds = time.perf_counter() - start
        print(f"| {trial.example.name} | {seed} | {seconds:.1f} | {trial.metrics.ssim:.3f} | {trial.metrics.label_correct} |")
    print()
    for name in ("ig_relu_all_samples", "dlg_relu_all_samples"):
        rows, meta = attacks(name), load(name)["meta"]
        hits = sum(r["ssim"] >= RECOGNISABLE_SSIM for r in rows)
        print(f"{name}: {hits}/{len(rows)} recognisable, median {statistics.median(r['seconds'] for r in rows):.1f} s "
              f"per attack as recorded ({meta['date']}, {meta['cpu']})")


if __name__ == "__main__":
    main()
