"""The command line's grammar: options, their checks, and what counts as bad input."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Callable, TypeVar

from ..arithmetic import SETTINGS
from ..attacks import RECIPES
from ..clients import CLIENT_HELP
from ..model import MODELS

USAGE_EXIT, INTERNAL_EXIT = 2, 1
ARITHMETIC_HELP = ("run the attacks in worker processes that compute with these vector instructions "
                   "(portable: the same digits on every x86-64 CPU); default: this process's own")
AGGREGATE_HELP = ("secure aggregation: the server sees only the mean update of N clients, the attacked one "
                  "(images from --index on) and N-1 others (the images after them); default 1")
MODEL_HELP = "the victim network: " + "; ".join(f"{m.name}: {m.about}" for m in MODELS.values()) + " (default: lenet)"
T = TypeVar("T")


class UsageError(Exception):
    """Bad input: reported in one line, exit status 2."""


def as_usage(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)``, its ValueError (a spec or a list of seeds that does not parse)
    reported as bad input."""
    try:
        return function(*args)
    except ValueError as err:
        raise UsageError(str(err)) from None


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump, exit 2
        raise UsageError(message)


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def step_list(text: str) -> tuple[int, ...]:
    """``1,10,100``: distinct outer steps, each >= 0, in increasing order."""
    try:
        steps = sorted({int(part) for part in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected steps like 1,10,100, got {text!r}") from None
    if steps[0] < 0:
        raise argparse.ArgumentTypeError(f"steps must be >= 0, got {steps[0]}")
    return tuple(steps)


def ray_address(text: str) -> str:
    """``auto`` or ``host:port``."""
    host, colon, port = text.strip().rpartition(":")
    if text.strip() == "auto" or (colon and host and port.isdigit() and 0 < int(port) < 65536):
        return text.strip()
    raise argparse.ArgumentTypeError(f"expected host:port or auto, got {text!r}")


def build_parser() -> Parser:
    parser = Parser(prog="python -m helpers", description="Deep Leakage from Gradients from the command line.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="on an internal error, show the traceback")
    attack = commands.add_parser("attack", parents=[common], help="recover one private image from its gradient")
    attack.add_argument("--seed", type=int, required=True, help="seeds the network's weights and the dummy start")
    source = attack.add_mutually_exclusive_group()
    source.add_argument("--index", type=int, help="image index (bundled sample: 0-7, default 0; CIFAR-100: default 25)")
    source.add_argument("--image", type=Path, help="any image file (centre crop, resized to 32x32)")
    attack.add_argument("--dataset", choices=("sample", "cifar100"), default="sample", help="where --index points (default: sample)")
    attack.add_argument("--data-dir", help="folder holding cifar-100-python/ (default: $DLG_DATA_DIR or ~/.torch)")
    attack.add_argument("--download", action="store_true", help="download CIFAR-100 if missing (checksummed)")
    attack.add_argument("--label", type=int, help="the private label (default: the image's own; 0 for --image)")
    attack.add_argument("--recipe", choices=sorted(RECIPES), default="dlg", help="attack recipe (default: dlg)")
    attack.add_argument("--model", choices=list(MODELS), default="lenet", help=MODEL_HELP)
    attack.add_argument("--iters", type=non_negative, help="outer L-BFGS steps (default: the recipe's, 300 for dlg)")
    attack.add_argument("--device", default="cpu", help="cpu (default) or cuda; a seed draws other weights on cuda")
    attack.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default 1)")
    attack.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    attack.add_argument("--out", type=Path, help="folder for reconstruction.png, loss.png and result.json")
    attack.add_argument("--defence", help="defend the shared gradient first: none, noise=VAR, laplace=VAR, prune=FRAC, "
                        "fp16, int8, batch=B (B images from --index on, attacked jointly) or dpsgd:sigma=S,clip=C "
                        "(DP-SGD with Opacus on the client; the JSON adds epsilon and delta)")
    attack.add_argument("--client", help=CLIENT_HELP)
    attack.add_argument("--aggregate", type=positive, default=1, metavar="N", help=AGGREGATE_HELP)
    attack.add_argument("--arithmetic", choices=sorted(SETTINGS), help=ARITHMETIC_HELP)

    sweep = commands.add_parser("sweep", parents=[common], help="attack one image with many seeds; success rate and spread")
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
    sweep.add_argument("--model", choices=list(MODELS), default="lenet", help=MODEL_HELP)
    sweep.add_argument("--iters", type=non_negative)
    sweep.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: every core)")
    sweep.add_argument("--json", action="store_true", help="print one JSON object: per-seed records and a summary")
    sweep.add_argument("--defence", action="append", help="sweep a defence's strength, e.g. noise=1e-4,1e-3,1e-2 "
                       "or prune=0.1,0.3 (repeat for several defences; see attack --defence)")
    sweep.add_argument("--client", help=CLIENT_HELP)
    sweep.add_argument("--aggregate", type=positive, default=1, metavar="N", help=AGGREGATE_HELP)
    sweep.add_argument("--save", type=Path, help="with --defence: write the runs to PATH.json and reconstructions to PATH.npz")
    sweep.add_argument("--arithmetic", choices=sorted(SETTINGS), help=ARITHMETIC_HELP)
    sweep.add_argument("--backend", choices=("pool", "ray"), default="pool",
                       help="run the attacks in a process pool here (default) or as Ray tasks: on a Ray started for the "
                       "sweep, or on the cluster at --address; the same numbers either way")
    sweep.add_argument("--address", type=ray_address, help="with --backend ray: a running Ray cluster's head, host:port "
                       "(or auto: the cluster this machine belongs to)")
    sweep.add_argument("--at", type=step_list, default=(), metavar="STEPS",
                       help="with --json: record each trial's matching loss and PSNR after these outer steps, e.g. 1,10,100")

    fl = commands.add_parser("fl", parents=[common], help="federated training in Flower (on Ray) with a curious server "
                             "that attacks every update it receives")
    fl.add_argument("--clients", type=positive, default=4, help="clients, each holding an equal share of the images (default 4)")
    fl.add_argument("--rounds", type=positive, default=2, help="training rounds; every client is attacked in each (default 2)")
    fl.add_argument("--local-steps", type=positive, default=1, help="local SGD steps per round (1: FedSGD; default 1)")
    fl.add_argument("--lr", type=float, default=0.1, help="the clients' learning rate, which the server sets (default 0.1)")
    fl.add_argument("--batch", type=positive, default=1, help="images per client per round (default 1)")
    fl.add_argument("--recipe", choices=sorted(RECIPES), default="closed-form", help="the server's attack (default closed-form)")
    fl.add_argument("--iters", type=non_negative, help="the attack's steps (default: the recipe's)")
    fl.add_argument("--seed", type=int, default=1234, help="seeds the initial global model and the dummy (default 1234)")
    fl.add_argument("--secagg", action="store_true", help="the clients run Flower's SecAgg+: the server sees only their mean")
    fl.add_argument("--defence", help="dpsgd:sigma=S,clip=C: the clients train with Opacus's DP-SGD")
    fl.add_argument("--model", choices=list(MODELS), default="lenet", help="the network the clients train: " + MODEL_HELP)
    fl.add_argument("--dataset", choices=("sample", "cifar100"), default="sample",
                    help="the bundled images (default) or CIFAR-100's training images 0, 1, ... (if on disk)")
    fl.add_argument("--data-dir", help="folder holding cifar-100-python/ (default: $DLG_DATA_DIR or ~/.torch)")
    fl.add_argument("--download", action="store_true", help="download CIFAR-100 if missing (checksummed)")
    fl.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="CPUs Ray may use (default: every core)")
    fl.add_argument("--json", action="store_true", help="print one JSON object: the settings and every attack")

    commands.add_parser("samples", parents=[common], help="list the bundled offline images")
    return parser

