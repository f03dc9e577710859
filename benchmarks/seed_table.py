"""Which of the blog's two seeds recover each bundled image with the faithful recipe?

    python benchmarks/seed_table.py [--seeds 1234,78483847] [--recipe dlg] [--workers 2]

Prints one row per image and seed (status, loss after the first step, PSNR, seconds) and a
markdown table. Each attack runs on one thread; images are spread over --workers processes.
"""

from __future__ import annotations

import argparse
import platform
import time
from concurrent.futures import ProcessPoolExecutor

import torch

from helpers.data import load_sample, sample_names
from helpers.experiments import attack_example


def one(job: tuple[int, int, str]) -> dict:
    index, seed, recipe = job
    torch.set_num_threads(1)
    return attack_example(load_sample(index), seed, recipe).as_dict() | {"index": index}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="1234,78483847")
    parser.add_argument("--recipe", default="dlg")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    jobs = [(i, s, args.recipe) for i in range(len(sample_names())) for s in seeds]
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(one, jobs))
    wall = time.perf_counter() - start
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.workers} worker(s) x 1 thread, wall {wall:.0f} s")
    print("| image | " + " | ".join(f"seed {s}" for s in seeds) + " |")
    print("|---|" + "---|" * len(seeds))
    for index, name in enumerate(sample_names()):
        cells = []
        for seed in seeds:
            r = next(r for r in rows if r["index"] == index and r["seed"] == seed)
            psnr = "n/a" if r["psnr"] is None else f"{r['psnr']:.1f} dB"
            cells.append(f"{r['status']}, first loss {r['first_loss']:.0f}, {psnr}, {r['seconds']:.0f} s")
        print(f"| {index} {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
