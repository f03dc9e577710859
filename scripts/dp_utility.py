"""What DP-SGD costs in accuracy: train the reference LeNet on scikit-learn's bundled digits
with plain SGD and with Opacus's DP-SGD at several noise multipliers (clipping norm fixed),
and store each run's test accuracy and epsilon in results/dp_utility.json with the command,
date, versions and machine that made it.

    python scripts/dp_utility.py                       # the stored grid
    python scripts/dp_utility.py --sigmas 0.5,1 --epochs 2 --out /tmp/quick.json
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import sys
import time
from pathlib import Path

import torch

from helpers.experiments.long_runs import provenance
from helpers.experiments.storage import dumps
from helpers.experiments.utility import train_digits
from helpers.pool import parallel_map

ROOT = Path(__file__).resolve().parents[1]
SIGMAS = "0,0.0001,0.001,0.003,0.01,0.03,0.1,0.3,1,2,4"


def run(job: tuple) -> dict:
    sigma, args = job
    lr = args.lr if sigma is None else args.dp_lr
    return train_digits(sigma, args.clip, model=args.model, epochs=args.epochs, batch=args.batch, lr=lr,
                        seed=args.seed).as_dict()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sigmas", default=SIGMAS, help=f"noise multipliers (default {SIGMAS}); plain SGD is always added")
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.2, help="plain SGD's learning rate")
    parser.add_argument("--dp-lr", type=float, default=1.0, help="DP-SGD's learning rate (clipped gradients are smaller)")
    parser.add_argument("--model", default="lenet")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "dp_utility.json")
    args = parser.parse_args(argv)
    try:
        sigmas = [float(s) for s in args.sigmas.split(",")]
    except ValueError:
        print(f"error: --sigmas needs numbers like 0.5,1,2, got {args.sigmas!r}", file=sys.stderr)
        return 2
    if any(s < 0 for s in sigmas) or args.clip <= 0 or args.epochs < 1 or args.batch < 1:
        print("error: sigmas must be >= 0, --clip > 0, --epochs and --batch >= 1", file=sys.stderr)
        return 2
    started = datetime.datetime.now(datetime.timezone.utc)
    start = time.perf_counter()
    torch.set_num_threads(1)
    runs = parallel_map(run, [(s, args) for s in [None, *sigmas]], args.workers)
    command = "python scripts/dp_utility.py" + ("" if argv is None and len(sys.argv) == 1 else
                                                 " " + shlex.join(sys.argv[1:] if argv is None else argv))
    meta = {"about": "test accuracy on scikit-learn's digits (360 held-out images) after training with plain SGD "
                     "and with DP-SGD (Opacus, Poisson sampling, RDP accountant) at each noise multiplier",
            "command": command} | provenance(started, time.perf_counter() - start)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps({"meta": meta, "runs": runs}, indent=1) + "\n")
    for r in runs:
        print(f"sigma {r['sigma']!s:>6}  accuracy {r['accuracy']:.3f}  epsilon {r['epsilon']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
