"""How often does a seed's verdict change with the CPU's arithmetic? The long run behind
notebook 05b, stored with the command, date, package versions and machine that made it.

    python scripts/arithmetic_sweep.py --seeds 0-39 --recipes dlg,robust --out results/arithmetic_sweep.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from helpers import load_sample
from helpers.arithmetic import SETTINGS
from helpers.experiments import parse_seeds
from helpers.experiments.reproducibility import arithmetic_sweep
from helpers.experiments.storage import dumps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-39")
    parser.add_argument("--index", type=int, default=0, help="bundled sample image (default 0, the astronaut)")
    parser.add_argument("--recipes", default="dlg,robust")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--iters", type=int, help="outer steps (default: each recipe's own)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results/arithmetic_sweep.json"))
    args = parser.parse_args(argv)
    record = arithmetic_sweep(load_sample(args.index), parse_seeds(args.seeds), args.recipes.split(","),
                              args.settings.split(","), iterations=args.iters, workers=args.workers)
    record["meta"]["command"] = " ".join(["python", "scripts/arithmetic_sweep.py", *(sys.argv[1:] if argv is None else argv)])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}: {len(record['runs'])} runs, wall seconds {record['meta']['wall_seconds']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
