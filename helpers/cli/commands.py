"""The command line's commands: each runs the same pipeline as the notebooks and prints text
or one JSON object (non-finite numbers spelled as :mod:`helpers.experiments.storage` says)."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Callable, TypeVar

import torch

from ..clients import parse_client
from ..data import CIFAR100_CLASSES, load_sample_set, sample_catalogue
from ..experiments import (
    attack_job,
    batch_size,
    defence_job,
    defence_sweep,
    parse_condition,
    parse_conditions,
    parse_seeds,
    points,
    save_runs,
    summarise,
    timed_sweep,
    to_json,
)
from ..experiments.storage import from_json_number
from ..experiments.trial import Trial
from ..metrics import RECOGNISABLE_SSIM, SUCCESS_PSNR
from ..pool import parallel_map
from .parser import UsageError, as_usage
from .sources import check_batch_recipe, check_sources, load_example, load_examples, resolve_device

T = TypeVar("T")
R = TypeVar("R")


def write_outputs(trial: Trial, folder: Path) -> None:
    from .. import plots

    plots.use_style()
    folder.mkdir(parents=True, exist_ok=True)
    fig = plots.compare(trial.example.image, {plots.trial_title(trial): trial.result.image})
    fig.savefig(folder / "reconstruction.png")
    fig = plots.loss_curves({f"seed {trial.seed}": trial.result.losses})
    fig.savefig(folder / "loss.png")
    (folder / "result.json").write_text(json.dumps(to_json(trial.as_dict()), indent=2) + "\n")


def number(value: float | str | None, fmt: str) -> str:
    """A record's number as text: NaN (``None`` in JSON) is "n/a", +-inf ("Infinity") is "inf"."""
    value = from_json_number(value)
    return "n/a" if math.isnan(value) else format(value, fmt)


def describe(record: dict) -> str:
    return "\n".join(
        [
            f"image {record['image']}  seed {record['seed']}  recipe {record['recipe']}",
            f"status   {record['status']} ({record['reason']})",
            f"label    true {record['label_true']} ({CIFAR100_CLASSES[record['label_true']]}), "
            f"recovered {record['label_recovered']} ({CIFAR100_CLASSES[record['label_recovered']]})",
            f"loss     after step 1: {number(record['first_loss'], '.4g')}, final: {number(record['grad_loss'], '.3g')}",
            f"image    MSE {number(record['mse'], '.3g')}  PSNR {number(record['psnr'], '.2f')} dB  SSIM {number(record['ssim'], '.3f')}",
            f"cost     {record['iterations']} steps, {record['evals']} evaluations, {record['seconds']:.1f} s",
        ]
    )


def in_arithmetic(function: Callable[[T], R], job: T, arithmetic: str | None) -> R:
    """``function(job)`` in this process, or (with ``arithmetic``) in one worker process
    started with that choice of vector instructions."""
    return function(job) if arithmetic is None else parallel_map(function, [job], 1, arithmetic=arithmetic)[0]


def run_attack_command(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    if args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    if args.arithmetic is not None and device.type != "cpu":
        raise UsageError("--arithmetic chooses CPU instructions; it cannot be combined with --device cuda")
    if args.arithmetic is not None and args.threads != 1:
        raise UsageError("--arithmetic runs the attack in a worker on one thread; it cannot be combined with --threads")
    torch.set_num_threads(args.threads)
    if args.defence is not None or args.client is not None or args.aggregate > 1:
        return run_defended_attack_command(args, device)
    example = load_example(args)
    options = dict(iterations=args.iters, device=device, model=args.model)
    trial = in_arithmetic(attack_job, (example, args.seed, args.recipe, options), args.arithmetic)
    record = to_json(trial.as_dict())
    if args.out is not None:
        write_outputs(trial, args.out)
    print(json.dumps(record) if args.json else describe(record))
    return 0


def client_options(args: argparse.Namespace, defences: list) -> tuple[dict, int]:
    """The keywords of :func:`helpers.experiments.defended_attack` that set the client, and how
    many private images its runs need (a batch per client, for every aggregated client)."""
    client = None if args.client is None else as_usage(parse_client, args.client)
    sizes = {batch_size(d) for d in defences}
    if client is not None and client.batch > 1 and sizes != {1}:
        raise UsageError("give the client's batch once: in --client ...,batch=B or in --defence batch=B")
    size = max(sizes | {client.batch if client else 1})
    check_batch_recipe(size, args.recipe)
    return {"client": client, "aggregate": args.aggregate, "model": args.model}, size * args.aggregate


def run_defended_attack_command(args: argparse.Namespace, device: torch.device) -> int:
    if device.type != "cpu":
        raise UsageError("--defence, --client and --aggregate run on the cpu")
    if args.out is not None:
        raise UsageError("--out writes a single attack's figures; it cannot be combined with --defence, --client or --aggregate")
    defence = as_usage(parse_condition, args.defence or "none")
    options, count = client_options(args, [defence])
    examples = load_examples(args, count)
    run = in_arithmetic(defence_job, (examples, args.seed, defence, args.recipe, args.iters, options), args.arithmetic)
    record = to_json(run.as_dict())
    if args.json:
        print(json.dumps(record))
    else:
        psnr = ", ".join(number(p, ".1f") for p in record["psnr"])
        privacy = "" if run.epsilon is None else f"  epsilon {number(record['epsilon'], '.3g')} (delta {run.delta:g})"
        print(f"defence  {defence.label} ({defence.spec}){privacy}\nclient   {run.client}, the server sees the mean of "
              f"{run.aggregate} client(s)  model {run.model}")
        print(f"images   {', '.join(run.images)}  seed {run.seed}  recipe {run.recipe}")
        print(f"status   {run.status} ({run.reason})\nPSNR     {psnr} dB (paired)  recovered {run.recovered}/{len(run.psnr)}")
        print(f"labels   true {run.labels_true}, recovered {run.labels_recovered}\ncost     {run.iterations} steps, {run.seconds:.1f} s")
    return 0


def run_defence_sweep_command(args: argparse.Namespace, seeds: list[int]) -> int:
    defences = [d for spec in args.defence or ["none"] for d in as_usage(parse_conditions, spec)]
    options, count = client_options(args, defences)
    examples = load_examples(args, count)
    start = time.perf_counter()
    runs = defence_sweep(examples, seeds, defences, args.recipe, iterations=args.iters, workers=args.workers,
                         arithmetic=args.arithmetic, backend=args.backend, address=args.address, **options)
    wall = time.perf_counter() - start
    if args.save is not None:
        save_runs(runs, args.save, {"command": "python -m helpers " + " ".join(args.argv),
                                    "seeds": seeds, "recipe": args.recipe, "iterations": args.iters,
                                    "model": args.model, "client": args.client or "fedsgd", "aggregate": args.aggregate,
                                    "arithmetic": args.arithmetic, "backend": args.backend, "address": args.address,
                                    "wall_seconds": round(wall, 1), "workers": args.workers, "torch": torch.__version__})
    if args.json:
        print(json.dumps(to_json({"runs": [r.as_dict() for r in runs], "wall_seconds": round(wall, 2), "workers": args.workers,
                                  "backend": args.backend, "address": args.address})))
        return 0
    for p in points(runs):
        print(f"{p.spec:<16} {p.successes}/{p.runs} succeed (>= {SUCCESS_PSNR:g} dB), {p.recognisable}/{p.runs} "
              f"recognisable (SSIM >= {RECOGNISABLE_SSIM:g}), median PSNR {p.median_psnr:5.1f} dB, "
              f"median SSIM {p.median_ssim:.3f}")
    print(f"wall time {wall:.1f} s on {where(args)}")
    return 0


def run_sweep_command(args: argparse.Namespace) -> int:
    seeds = as_usage(parse_seeds, args.seeds)
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    if args.address is not None and args.backend != "ray":
        raise UsageError("--address names a Ray cluster; it needs --backend ray")
    if args.backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UsageError("--backend ray needs Ray: pip install -e '.[fl]'") from None
    if args.defence or args.client is not None or args.aggregate > 1:
        if args.at:
            raise UsageError("--at records single-image trials; it cannot be combined with --defence, --client or --aggregate")
        return run_defence_sweep_command(args, seeds)
    if args.save is not None:
        raise UsageError("--save needs --defence, --client or --aggregate")
    if args.at and not args.json:
        raise UsageError("--at adds to each trial's JSON record; it needs --json")
    if args.all_samples:
        check_sources(args)
    examples = load_sample_set() if args.all_samples else [load_example(args)]
    trials, wall = timed_sweep(
        examples, seeds, args.recipe, iterations=args.iters, workers=args.workers, progress=sys.stderr.isatty(),
        arithmetic=args.arithmetic, snapshot_steps=args.at, model=args.model, backend=args.backend, address=args.address,
    )
    summary = summarise(trials)
    records = [t.as_dict() | ({"at": {str(step): t.at(step) for step in args.at}} if args.at else {}) for t in trials]
    if args.json:
        summary_record = {k: v for k, v in vars(summary).items()} | {"wall_seconds": round(wall, 2), "workers": args.workers,
                                                                     "arithmetic": args.arithmetic, "backend": args.backend,
                                                                     "address": args.address}
        print(json.dumps(to_json({"summary": summary_record, "trials": records})))
    else:
        for r in records:
            psnr = number(r["psnr"], "6.1f").rjust(6)  # a diverged run has no PSNR
            print(f"{r['image']:<20} seed {r['seed']:>10}  {r['status']:<9} PSNR {psnr} dB  {r['seconds']:6.1f} s")
        print(summary.line())
        print(f"wall time {wall:.1f} s on {where(args)}")
    return 0


def where(args: argparse.Namespace) -> str:
    """Where a sweep ran, in words."""
    if args.address is not None:
        return f"the Ray cluster at {args.address}"
    return f"{args.workers} worker(s)" + (" (Ray tasks)" if args.backend == "ray" else "")


def list_samples() -> int:
    for i, record in enumerate(sample_catalogue()):
        print(f"{i}  {record['name']:<13} {record['class']:<8} {record['licence']}")
    return 0

