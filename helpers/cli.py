"""Command line: the same chain as the notebooks, scriptable, numbers as JSON.

    python -m helpers attack --seed 78483847 --json
    python -m helpers attack --seed 1234 --index 4 --out out/
    python -m helpers attack --seed 1 --image photo.jpg --label 17 --recipe idlg
    python -m helpers sweep --seeds 0-99 --recipe dlg --json
    python -m helpers attack --seed 78483847 --defence noise=1e-2        # or prune=0.3, fp16, int8, batch=4
    python -m helpers sweep --seeds 0,2 --defence prune=0.1,0.3,0.5 --save out/prune
    python -m helpers samples
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

import torch

from .data import (
    CIFAR100_CLASSES,
    DataError,
    Example,
    check_label,
    load_cifar100,
    load_image,
    load_sample,
    load_sample_set,
    sample_catalogue,
    sample_size,
)
from .recipes import RECIPES


class UsageError(Exception):
    """Bad input: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump, exit 2
        raise UsageError(message)


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def build_parser() -> Parser:
    parser = Parser(prog="python -m helpers", description="Deep Leakage from Gradients from the command line.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    attack = commands.add_parser("attack", help="recover one private image from its gradient")
    attack.add_argument("--seed", type=int, required=True, help="seeds the network's weights and the dummy start")
    source = attack.add_mutually_exclusive_group()
    source.add_argument("--index", type=int, help="image index (bundled sample: 0-7, default 0; CIFAR-100: default 25)")
    source.add_argument("--image", type=Path, help="any image file (centre crop, resized to 32x32)")
    attack.add_argument("--dataset", choices=("sample", "cifar100"), default="sample", help="where --index points (default: sample)")
    attack.add_argument("--data-dir", help="folder holding cifar-100-python/ (default: $DLG_DATA_DIR or ~/.torch)")
    attack.add_argument("--download", action="store_true", help="download CIFAR-100 if missing (checksummed)")
    attack.add_argument("--label", type=int, help="the private label (default: the image's own; 0 for --image)")
    attack.add_argument("--recipe", choices=sorted(RECIPES), default="dlg", help="attack recipe (default: dlg)")
    attack.add_argument("--iters", type=non_negative, help="outer L-BFGS steps (default: the recipe's, 300 for dlg)")
    attack.add_argument("--device", default="cpu", help="cpu (default) or cuda; a seed draws other weights on cuda")
    attack.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default 1)")
    attack.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    attack.add_argument("--out", type=Path, help="folder for reconstruction.png, loss.png and result.json")
    attack.add_argument("--defence", help="defend the shared gradient first: none, noise=VAR, laplace=VAR, prune=FRAC, "
                        "fp16, int8 or batch=B (B images from --index on, attacked jointly)")

    sweep = commands.add_parser("sweep", help="attack one image with many seeds; success rate and spread")
    sweep.add_argument("--seeds", default="0-99", help="e.g. 0-99, 1,5,9 or 0-9,1234 (default 0-99)")
    sweep_source = sweep.add_mutually_exclusive_group()
    sweep_source.add_argument("--index", type=int, help="image index (bundled sample: 0-7, default 0; CIFAR-100: default 25)")
    sweep_source.add_argument("--image", type=Path, help="any image file (centre crop, resized to 32x32)")
    sweep_source.add_argument("--all-samples", action="store_true", help="every bundled image")
    sweep.add_argument("--dataset", choices=("sample", "cifar100"), default="sample")
    sweep.add_argument("--data-dir")
    sweep.add_argument("--download", action="store_true")
    sweep.add_argument("--label", type=int)
    sweep.add_argument("--recipe", choices=sorted(RECIPES), default="dlg")
    sweep.add_argument("--iters", type=non_negative)
    sweep.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: every core)")
    sweep.add_argument("--json", action="store_true", help="print one JSON object: per-seed records and a summary")
    sweep.add_argument("--defence", action="append", help="sweep a defence's strength, e.g. noise=1e-4,1e-3,1e-2 "
                       "or prune=0.1,0.3 (repeat for several defences; see attack --defence)")
    sweep.add_argument("--save", type=Path, help="with --defence: write the runs to PATH.json and reconstructions to PATH.npz")

    commands.add_parser("samples", help="list the bundled offline images")
    return parser


def load_example(args: argparse.Namespace) -> Example:
    if args.image is not None:
        example = load_image(args.image, label=args.label)
    elif args.dataset == "cifar100":
        example = load_cifar100(25 if args.index is None else args.index, args.data_dir, download=args.download)
    else:
        example = load_sample(0 if args.index is None else args.index)
    if args.label is not None and args.image is None:
        example = Example(example.image, check_label(args.label), example.name)
    return example


def resolve_device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r}; use cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda asked for, but no CUDA GPU is available")
    if device.type not in ("cpu", "cuda"):
        raise UsageError(f"unsupported device {name!r}; use cpu or cuda")
    return device


def write_outputs(trial, folder: Path) -> None:
    from . import plots

    plots.use_style()
    folder.mkdir(parents=True, exist_ok=True)
    fig = plots.compare(trial.example.image, {plots.trial_title(trial): trial.result.image})
    fig.savefig(folder / "reconstruction.png")
    fig = plots.loss_curves({f"seed {trial.seed}": trial.result.losses})
    fig.savefig(folder / "loss.png")
    (folder / "result.json").write_text(json.dumps(trial.as_dict(), indent=2) + "\n")


def describe(record: dict) -> str:
    def num(value, fmt):
        return "n/a" if value is None else format(value, fmt)

    return "\n".join(
        [
            f"image {record['image']}  seed {record['seed']}  recipe {record['recipe']}",
            f"status   {record['status']} ({record['reason']})",
            f"label    true {record['label_true']} ({CIFAR100_CLASSES[record['label_true']]}), "
            f"recovered {record['label_recovered']} ({CIFAR100_CLASSES[record['label_recovered']]})",
            f"loss     after step 1: {num(record['first_loss'], '.4g')}, final: {num(record['grad_loss'], '.3g')}",
            f"image    MSE {num(record['mse'], '.3g')}  PSNR {num(record['psnr'], '.2f')} dB  SSIM {num(record['ssim'], '.3f')}",
            f"cost     {record['iterations']} steps, {record['evals']} evaluations, {record['seconds']:.1f} s",
        ]
    )


def run_attack_command(args: argparse.Namespace) -> int:
    from .experiment import attack_example

    device = resolve_device(args.device)
    if args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    if args.defence is not None:
        return run_defended_attack_command(args, device)
    example = load_example(args)
    trial = attack_example(example, args.seed, args.recipe, iterations=args.iters, device=device)
    record = trial.as_dict()
    if args.out is not None:
        write_outputs(trial, args.out)
    print(json.dumps(record) if args.json else describe(record))
    return 0


def load_examples(args: argparse.Namespace, count: int) -> list[Example]:
    """``count`` private images from ``--index`` on (a local batch), or the one image."""
    if count == 1:
        return [load_example(args)]
    if args.image is not None or getattr(args, "all_samples", False):
        raise UsageError(f"a batch of {count} needs several images: use --index I (images I, I+1, ...)")
    start = (25 if args.dataset == "cifar100" else 0) if args.index is None else args.index
    if args.dataset == "cifar100":
        examples = [load_cifar100(start + k, args.data_dir, download=args.download) for k in range(count)]
    else:
        examples = [load_sample((start + k) % sample_size()) for k in range(count)]
    if args.label is not None:
        raise UsageError("--label sets one image's label; it cannot be used with a batch")
    return examples


def run_defended_attack_command(args: argparse.Namespace, device: torch.device) -> int:
    from .defences import batch_size, defended_attack, parse_defence

    if device.type != "cpu":
        raise UsageError("--defence runs on the cpu")
    defence = parse_defence(args.defence, seed=args.seed)
    examples = load_examples(args, batch_size(defence))
    run = defended_attack(examples, args.seed, defence, args.recipe, iterations=args.iters)
    record = run.as_dict()
    if args.json:
        print(json.dumps(record))
    else:
        psnr = ", ".join("n/a" if p is None else f"{p:.1f}" for p in record["psnr"])
        print(f"defence  {defence.label} ({defence.spec})\nimages   {', '.join(run.images)}  seed {run.seed}  recipe {run.recipe}")
        print(f"status   {run.status} ({run.reason})\nPSNR     {psnr} dB (paired)  recovered {run.recovered}/{len(run.psnr)}")
        print(f"labels   true {run.labels_true}, recovered {run.labels_recovered}\ncost     {run.iterations} steps, {run.seconds:.1f} s")
    return 0


def run_defence_sweep_command(args: argparse.Namespace, seeds: list[int]) -> int:
    import time

    from .defences import batch_size, defence_sweep, parse_defences, points, save_runs

    defences = [d for spec in args.defence for d in parse_defences(spec, seed=0)]
    size = max(batch_size(d) for d in defences)
    examples = load_examples(args, size)
    start = time.perf_counter()
    runs = defence_sweep(examples, seeds, defences, args.recipe, iterations=args.iters, workers=args.workers)
    wall = time.perf_counter() - start
    if args.save is not None:
        save_runs(runs, args.save, {"command": "python -m helpers " + " ".join(sys.argv[1:]) if sys.argv else "",
                                    "seeds": seeds, "recipe": args.recipe, "iterations": args.iters,
                                    "wall_seconds": round(wall, 1), "workers": args.workers, "torch": torch.__version__})
    if args.json:
        print(json.dumps({"runs": [r.as_dict() for r in runs], "wall_seconds": round(wall, 2), "workers": args.workers}))
        return 0
    for p in points(runs):
        print(f"{p.spec:<16} {p.successes}/{p.runs} succeed (>= 30 dB), {p.recognisable}/{p.runs} recognisable "
              f"(SSIM >= 0.5), median PSNR {p.median_psnr:5.1f} dB, median SSIM {p.median_ssim:.3f}")
    print(f"wall time {wall:.1f} s on {args.workers} worker(s)")
    return 0


def run_sweep_command(args: argparse.Namespace) -> int:
    from .sweep import parse_seeds, summarise, timed_sweep

    seeds = parse_seeds(args.seeds)
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    if args.defence:
        return run_defence_sweep_command(args, seeds)
    if args.save is not None:
        raise UsageError("--save needs --defence")
    examples = load_sample_set() if args.all_samples else [load_example(args)]
    trials, wall = timed_sweep(
        examples, seeds, args.recipe, iterations=args.iters, workers=args.workers, progress=sys.stderr.isatty(),
        snapshot_steps=(),
    )
    summary = summarise(trials)
    records = [t.as_dict() for t in trials]
    if args.json:
        summary_record = {k: v for k, v in vars(summary).items()} | {"wall_seconds": round(wall, 2), "workers": args.workers}
        print(json.dumps({"summary": summary_record, "trials": records}))
    else:
        for r in records:
            psnr = "   n/a" if r["psnr"] is None else f"{r['psnr']:6.1f}"
            print(f"{r['image']:<20} seed {r['seed']:>10}  {r['status']:<9} PSNR {psnr} dB  {r['seconds']:6.1f} s")
        print(summary.line())
        print(f"wall time {wall:.1f} s on {args.workers} worker(s)")
    return 0


def list_samples() -> int:
    for i, record in enumerate(sample_catalogue()):
        print(f"{i}  {record['name']:<13} {record['class']:<8} {record['licence']}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "samples":
            return list_samples()
        if args.command == "sweep":
            return run_sweep_command(args)
        return run_attack_command(args)
    except (UsageError, DataError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
