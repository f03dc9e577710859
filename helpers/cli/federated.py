"""``python -m helpers fl``: a federated run in Flower's simulation engine, attacked by the
curious server; one JSON object (``--json``) or a table."""

from __future__ import annotations

import argparse
import json
import math

from ..clients import parse_dpsgd
from ..data import load_cifar100_images, load_sample_set
from ..experiments import to_json
from ..federation import Federation, simulate
from .commands import number
from .parser import UsageError, as_usage

CIFAR100_TRAIN = 50_000


def federation_from(args: argparse.Namespace) -> Federation:
    """The run the options describe; a bad value is a usage error."""
    dp = None
    if args.defence is not None:
        if not args.defence.strip().lower().startswith("dpsgd"):
            raise UsageError(f"fl runs DP-SGD on the clients (--defence dpsgd:sigma=S,clip=C), not {args.defence!r}")
        dp = as_usage(parse_dpsgd, args.defence)
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise UsageError(f"--lr must be a number > 0, got {args.lr}")
    return as_usage(lambda: Federation(clients=args.clients, rounds=args.rounds, local_steps=args.local_steps, lr=args.lr,
                                       batch=args.batch, recipe=args.recipe, iterations=args.iters, seed=args.seed,
                                       secagg=args.secagg, dp=dp, model=args.model))


def run_fl_command(args: argparse.Namespace) -> int:
    federation = federation_from(args)
    if args.dataset == "cifar100":
        count = federation.clients * federation.rounds * federation.batch  # a new batch for every client and round
        if count > CIFAR100_TRAIN:
            raise UsageError(f"{count} images (clients x rounds x batch) is more than CIFAR-100's {CIFAR100_TRAIN}")
        examples = load_cifar100_images(range(count), args.data_dir, download=args.download)
    else:
        if args.data_dir is not None or args.download:
            raise UsageError("--data-dir and --download apply to --dataset cifar100 only")
        examples = load_sample_set()
    if len(examples) < federation.clients * federation.batch:
        raise UsageError(f"{federation.clients} clients with a batch of {federation.batch} need "
                         f"{federation.clients * federation.batch} images; the bundled sample has {len(examples)} "
                         "(use --dataset cifar100 for more)")
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    try:
        import flwr  # noqa: F401
        import ray  # noqa: F401
    except ImportError:
        raise UsageError("fl needs Flower and Ray: pip install -e '.[fl]'") from None
    run = simulate(federation, examples, workers=args.workers)
    record = to_json(run.as_dict() | {"command": "python -m helpers " + " ".join(args.argv)})
    if args.json:
        print(json.dumps(record))
        return 0
    print(f"{federation.clients} clients, {federation.rounds} round(s), {federation.local_steps} local step(s) at lr "
          f"{federation.lr:g}, batch {federation.batch}{', SecAgg+' if federation.secagg else ''}"
          f"{', ' + federation.dp.spec if federation.dp else ''}; the server runs {federation.recipe}")
    for r in record["attacks"]:
        print(f"round {r['round']}  client {r['client']}  {r['image']:<22} {r['update']:<12} PSNR "
              f"{number(r['psnr'], '6.1f')} dB  SSIM {number(r['ssim'], '.3f')}  label {r['label_true']} -> "
              f"{r['label_recovered']}  {r['status']}")
    print(f"wall time {run.wall_seconds:.1f} s (Flower and Ray included)")
    return 0
