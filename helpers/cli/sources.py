"""Where the command line's private images come from, checked so that no option is quietly
ignored or changed: it is honoured, or refused as bad input."""

from __future__ import annotations

import argparse

import torch

from ..attacks import RECIPES
from ..experiments import attacks_batches
from ..data import Example, check_label, load_cifar100, load_image, load_sample, sample_size
from .parser import UsageError


def check_sources(args: argparse.Namespace) -> None:
    """Refuse options that the chosen source of images would ignore."""
    if args.dataset != "cifar100" and (args.download or args.data_dir):
        raise UsageError("--download and --data-dir apply to --dataset cifar100 only")
    if args.image is not None and args.dataset == "cifar100":
        raise UsageError("--image reads a file; it cannot be combined with --dataset cifar100")
    if getattr(args, "all_samples", False) and (args.label is not None or args.dataset == "cifar100"):
        raise UsageError("--all-samples uses every bundled image with its own label; drop --label / --dataset")


def load_example(args: argparse.Namespace) -> Example:
    check_sources(args)
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


def check_batch_recipe(size: int, recipe: str) -> None:
    if size > 1 and not attacks_batches(RECIPES[recipe]):
        raise UsageError(f"recipe {recipe} recovers one image; a batch of {size} needs --recipe dlg or idlg")


def load_examples(args: argparse.Namespace, count: int) -> list[Example]:
    """``count`` private images from ``--index`` on (a local batch), or the one image."""
    if getattr(args, "all_samples", False):
        raise UsageError("--defence attacks one image (or a batch from --index on); drop --all-samples")
    if count == 1:
        return [load_example(args)]
    check_sources(args)
    if args.image is not None:
        raise UsageError(f"a batch of {count} needs several images: use --index I (images I, I+1, ...)")
    if args.label is not None:
        raise UsageError("--label sets one image's label; it cannot be used with a batch")
    start = (25 if args.dataset == "cifar100" else 0) if args.index is None else args.index
    if args.dataset == "cifar100":
        return [load_cifar100(start + k, args.data_dir, download=args.download) for k in range(count)]
    if not 0 <= start or start + count > sample_size():
        raise UsageError(f"a batch of {count} from --index {start} needs sample images {start}..{start + count - 1}, "
                         f"but the bundled ones are 0..{sample_size() - 1}")
    return [load_sample(start + k) for k in range(count)]

