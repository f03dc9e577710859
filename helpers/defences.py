"""Defences: what a client can do to its gradient before sharing it, and what that costs.

The DLG paper (Zhu, Liu and Han, NeurIPS 2019, section 5) asks how to stop the leak and tries
four things, all reproduced here as *picklable* objects (frozen dataclasses with
``__call__``), so a sweep can send them to worker processes:

* :class:`Noise`: add Gaussian or Laplacian noise of a given **variance** to every entry
  (``std = sqrt(variance)``; Laplacian scale ``b = sqrt(variance / 2)``), drawn from the
  defence's own seeded ``torch.Generator``: the same defence always adds the same noise;
* :class:`Prune`: share only the largest-magnitude entries, zeroing the smallest
  ``fraction`` of each tensor (per layer, as the paper prunes);
* :class:`Quantise`: round-trip the gradient through float16, or a per-tensor symmetric
  8-bit integer code;
* :class:`LocalBatch`: the client averages its gradient over ``size`` private images
  before sharing. This is not a transform of one image's gradient: it changes what the
  gradient is *of*, so :func:`defended_attack` handles it by attacking a batch.

Each gradient defence maps a gradient (list of tensors) to a new list of the same shapes;
strength 0 is the identity, bit for bit. :func:`parse_defence` reads the command line's
``noise=1e-2``, ``laplace=1e-3``, ``prune=0.3``, ``fp16``, ``int8``, ``batch=4``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Sequence, Union

import numpy as np
import torch

from .data import Example
from .gradients import Gradient, gradient_norm, one_hot, soft_cross_entropy, true_gradient
from .metrics import evaluate, mse
from .recipes import Recipe, get_recipe
from .sweep import parallel_map

RECOGNISABLE_SSIM = 0.5  # at or above this SSIM the private image is still recognisable by eye (see notebook 07)


# ----------------------------------------------------------------------------- the defences


@dataclass(frozen=True)
class NoDefence:
    """Share the gradient as it is (the baseline)."""

    kind: str = field(default="none", init=False)

    @property
    def strength(self) -> float:
        return 0.0

    @property
    def spec(self) -> str:
        return "none"

    @property
    def label(self) -> str:
        return "no defence"

    def __call__(self, gradient: Gradient) -> Gradient:
        return [g.clone() for g in gradient]


@dataclass(frozen=True)
class Noise:
    """Add zero-mean noise of variance ``variance`` to every gradient entry.

    ``kind="gaussian"``: N(0, variance). ``kind="laplacian"``: Laplace(0, b) with
    ``b = sqrt(variance / 2)``, which has the same variance. The noise comes from a
    ``torch.Generator`` seeded with ``seed``, drawn tensor by tensor in parameter order.
    """

    variance: float
    kind: Literal["gaussian", "laplacian"] = "gaussian"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("gaussian", "laplacian"):
            raise ValueError(f"unknown noise {self.kind!r}; choose gaussian or laplacian")
        if not (self.variance >= 0 and math.isfinite(self.variance)):
            raise ValueError(f"noise variance must be a finite number >= 0, got {self.variance}")

    @property
    def strength(self) -> float:
        return self.variance

    @property
    def spec(self) -> str:
        return f"{'noise' if self.kind == 'gaussian' else 'laplace'}={self.variance:g}"

    @property
    def label(self) -> str:
        return f"{self.kind} noise, variance {self.variance:g}"

    def __call__(self, gradient: Gradient) -> Gradient:
        if self.variance == 0:
            return [g.clone() for g in gradient]
        generator = torch.Generator().manual_seed(self.seed)
        std = math.sqrt(self.variance)
        noisy = []
        for g in gradient:
            if self.kind == "gaussian":
                noise = torch.randn(g.shape, generator=generator, dtype=torch.float64) * std
            else:  # inverse CDF of the Laplace distribution, u uniform in (-1/2, 1/2)
                u = (torch.rand(g.shape, generator=generator, dtype=torch.float64) - 0.5).clamp(-0.5 + 1e-12, 0.5 - 1e-12)
                noise = -math.sqrt(self.variance / 2) * torch.sign(u) * torch.log1p(-2 * u.abs())
            noisy.append(g + noise.to(device=g.device, dtype=g.dtype))
        return noisy


@dataclass(frozen=True)
class Prune:
    """Zero the smallest-magnitude ``fraction`` of the entries of each tensor (per layer):
    the client shares only its largest ``1 - fraction``. Ties are broken by position, so the
    result is deterministic."""

    fraction: float

    def __post_init__(self) -> None:
        if not 0 <= self.fraction <= 1:
            raise ValueError(f"pruned fraction must be in [0, 1], got {self.fraction}")

    @property
    def kind(self) -> str:
        return "prune"

    @property
    def strength(self) -> float:
        return self.fraction

    @property
    def spec(self) -> str:
        return f"prune={self.fraction:g}"

    @property
    def label(self) -> str:
        return f"{100 * self.fraction:g} % pruned"

    def __call__(self, gradient: Gradient) -> Gradient:
        pruned = []
        for g in gradient:
            out = g.clone()
            k = int(round(self.fraction * g.numel()))
            if k > 0:
                order = torch.sort(g.abs().flatten(), stable=True).indices
                out.view(-1)[order[:k]] = 0
            pruned.append(out)
        return pruned


@dataclass(frozen=True)
class Quantise:
    """Share a lower-precision gradient: ``"fp16"`` rounds every entry to float16 and back;
    ``"int8"`` codes each tensor as integers -127..127 times one scale ``max|g| / 127``
    (symmetric, per tensor) and decodes it; ``"none"`` shares the float32 gradient."""

    precision: Literal["none", "fp16", "int8"]

    def __post_init__(self) -> None:
        if self.precision not in ("none", "fp16", "int8"):
            raise ValueError(f"unknown precision {self.precision!r}; choose fp16 or int8")

    @property
    def kind(self) -> str:
        return self.precision

    @property
    def strength(self) -> float:
        return {"none": 32.0, "fp16": 16.0, "int8": 8.0}[self.precision]  # bits per number

    @property
    def spec(self) -> str:
        return self.precision

    @property
    def label(self) -> str:
        return {"none": "float32", "fp16": "half precision (fp16)", "int8": "8-bit integers (int8)"}[self.precision]

    def __call__(self, gradient: Gradient) -> Gradient:
        if self.precision == "none":
            return [g.clone() for g in gradient]
        if self.precision == "fp16":
            return [g.to(torch.float16).to(g.dtype) for g in gradient]
        coded = []
        for g in gradient:
            top = g.abs().max()
            if top == 0 or not torch.isfinite(top):
                coded.append(g.clone())
                continue
            scale = top / 127
            coded.append((torch.round(g / scale).clamp(-127, 127) * scale).to(g.dtype))
        return coded


@dataclass(frozen=True)
class LocalBatch:
    """The client trains on ``size`` private images at once and shares the gradient of the
    mean loss. Not a transform of one image's gradient: :func:`defended_attack` builds the
    batch's gradient and attacks all ``size`` images jointly (DLG's batch attack)."""

    size: int

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.size}")

    @property
    def kind(self) -> str:
        return "batch"

    @property
    def strength(self) -> float:
        return float(self.size)

    @property
    def spec(self) -> str:
        return f"batch={self.size}"

    @property
    def label(self) -> str:
        return f"local batch of {self.size}"

    def __call__(self, gradient: Gradient) -> Gradient:
        raise TypeError("a local batch changes what the gradient is of; use defended_attack(examples, ...)")


Defence = Union[NoDefence, Noise, Prune, Quantise, LocalBatch]

KINDS = ("none", "noise", "gaussian", "laplace", "laplacian", "prune", "fp16", "int8", "batch")
SPEC_HELP = "none, noise=VARIANCE (Gaussian), laplace=VARIANCE, prune=FRACTION, fp16, int8 or batch=SIZE"


def _number(kind: str, text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"cannot read defence {spec!r}: {kind} needs a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"cannot read defence {spec!r}: {kind} needs a finite number")
    return value


def parse_defence(spec: str, seed: int = 0) -> Defence:
    """One defence from its command-line spelling (see :data:`SPEC_HELP`); ``seed`` seeds noise."""
    defences = parse_defences(spec, seed)
    if len(defences) != 1:
        raise ValueError(f"cannot read defence {spec!r}: give one strength (a list of strengths is for sweep)")
    return defences[0]


def parse_defences(spec: str, seed: int = 0) -> list[Defence]:
    """A defence at one or several strengths: ``noise=1e-4,1e-3,1e-2`` gives three."""
    text = spec.strip()
    kind, eq, values = text.partition("=")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise ValueError(f"unknown defence {spec!r}; use {SPEC_HELP}")
    if kind in ("none", "fp16", "int8"):
        if eq:
            raise ValueError(f"cannot read defence {spec!r}: {kind} takes no value")
        return [NoDefence() if kind == "none" else Quantise(kind)]
    if not eq or not values.strip():
        raise ValueError(f"cannot read defence {spec!r}: {kind} needs a value, e.g. {kind}={_EXAMPLE[kind]}")
    out: list[Defence] = []
    for part in values.split(","):
        value = _number(kind, part.strip(), spec)
        if kind in ("noise", "gaussian", "laplace", "laplacian"):
            if value < 0:
                raise ValueError(f"cannot read defence {spec!r}: a variance must be >= 0")
            out.append(Noise(value, "gaussian" if kind in ("noise", "gaussian") else "laplacian", seed))
        elif kind == "prune":
            if not 0 <= value <= 1:
                raise ValueError(f"cannot read defence {spec!r}: the pruned fraction must be in [0, 1]")
            out.append(Prune(value))
        else:
            if value != int(value) or not 1 <= value <= 64:
                raise ValueError(f"cannot read defence {spec!r}: a batch size is a whole number from 1 to 64")
            out.append(LocalBatch(int(value)))
    return out


_EXAMPLE = {"noise": "1e-2", "gaussian": "1e-2", "laplace": "1e-2", "laplacian": "1e-2", "prune": "0.3", "batch": "4"}


# ----------------------------------------------------------------------------- what a defence costs


@dataclass(frozen=True)
class Cost:
    """How much a defence changes the client's own training step (no trained model here, so
    the cost is measured on the update itself, not on test accuracy)."""

    relative_change: float  # ||g~ - g|| / ||g||
    cosine: float  # cos(g~, g): 1 = same direction
    loss_before: float  # the client's loss on its private example
    decrease_true: float  # loss decrease of one SGD step with the true gradient
    decrease_defended: float  # ... with the defended gradient

    @property
    def step_efficiency(self) -> float:
        """Defended decrease / true decrease: 1 = the defence costs nothing on this step,
        0 = the step is useless, < 0 = it makes the loss worse."""
        return self.decrease_defended / self.decrease_true if self.decrease_true else math.nan


def defence_cost(model: torch.nn.Module, image: torch.Tensor, label: int, defence: Defence, lr: float = 1e-2) -> Cost:
    """The defence's effect on the client's own SGD step ``w <- w - lr * g`` on its private
    example: relative change and cosine of the gradient, and the loss decrease it buys."""
    g = true_gradient(model, image, label)
    shared = defence(g)
    diff = gradient_norm([a - b for a, b in zip(shared, g)])
    norm_g, norm_s = gradient_norm(g), gradient_norm(shared)
    dot = float(sum((a.double() * b.double()).sum() for a, b in zip(shared, g)))
    images = image.unsqueeze(0) if image.dim() == 3 else image
    target = one_hot(label).to(images.device)
    params = list(model.parameters())

    def loss_after(step: Gradient | None) -> float:
        with torch.no_grad():
            saved = [p.detach().clone() for p in params]
            if step is not None:
                for p, s in zip(params, step):
                    p -= lr * s
            value = float(soft_cross_entropy(model(images), target))
            for p, s in zip(params, saved):
                p.copy_(s)
        return value

    before = loss_after(None)
    return Cost(
        relative_change=diff / norm_g if norm_g else math.nan,
        cosine=dot / (norm_g * norm_s) if norm_g and norm_s else math.nan,
        loss_before=before,
        decrease_true=before - loss_after(g),
        decrease_defended=before - loss_after(shared),
    )


# ----------------------------------------------------------------------------- attacking a defended gradient


def pair_reconstructions(reconstructions: torch.Tensor, truths: torch.Tensor) -> list[int]:
    """The pairing problem: the attack's dummy rows come back in no particular order. Match
    each private image to one reconstruction so the total MSE (pixels clipped to [0, 1]) is
    least (Hungarian algorithm); ``pairing[i]`` is the row that reconstructs image ``i``.
    Non-finite rows cost infinitely much (they are matched last)."""
    from scipy.optimize import linear_sum_assignment

    n = truths.shape[0]
    costs = np.full((n, reconstructions.shape[0]), 1e6)
    for i in range(n):
        for j in range(reconstructions.shape[0]):
            error = mse(reconstructions[j], truths[i])
            if math.isfinite(error):
                costs[i, j] = error
    rows, cols = linear_sum_assignment(costs)
    return [int(c) for _, c in sorted(zip(rows, cols))]


@dataclass
class DefenceRun:
    """One attack on a defended gradient, scored (batch runs: per image, after pairing)."""

    spec: str
    kind: str
    strength: float
    seed: int
    recipe: str
    images: list[str]
    status: str
    reason: str
    grad_loss: float
    iterations: int
    seconds: float
    psnr: list[float]  # one per private image (paired), NaN when diverged
    ssim: list[float]
    labels_true: list[int]
    labels_recovered: list[int]  # the label of the reconstruction paired with each image
    pairing: list[int]
    reconstruction: torch.Tensor | None = None  # [B, 3, 32, 32], in the private images' order

    @property
    def mean_psnr(self) -> float:
        finite = [p if math.isfinite(p) else 0.0 for p in self.psnr]  # diverged: scored as 0 dB
        return float(np.mean(finite)) if finite else math.nan

    @property
    def mean_ssim(self) -> float:
        finite = [s if math.isfinite(s) else 0.0 for s in self.ssim]
        return float(np.mean(finite)) if finite else math.nan

    @property
    def recovered(self) -> int:
        """How many private images came back at >= 30 dB."""
        return sum(p >= 30 for p in self.psnr if math.isfinite(p))

    @property
    def success(self) -> bool:
        """Every private image recovered at >= 30 dB (and the run did not diverge)."""
        return self.status != "diverged" and self.recovered == len(self.psnr)

    @property
    def recognised(self) -> int:
        """How many private images came back recognisable (SSIM >= :data:`RECOGNISABLE_SSIM`)."""
        return sum(v >= RECOGNISABLE_SSIM for v in self.ssim if math.isfinite(v))

    @property
    def recognisable(self) -> bool:
        """Every private image still recognisable: a weaker kind of success than 30 dB."""
        return self.status != "diverged" and self.recognised == len(self.ssim)

    @property
    def labels_correct(self) -> int:
        return sum(a == b for a, b in zip(self.labels_true, self.labels_recovered))

    def as_dict(self) -> dict:
        record = {k: v for k, v in asdict(self).items() if k != "reconstruction"}
        record |= {"mean_psnr": self.mean_psnr, "mean_ssim": self.mean_ssim, "success": self.success}
        return _json_ready(record)


def _json_ready(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    return value


def defended_attack(
    examples: Example | Sequence[Example],
    seed: int,
    defence: Defence | str = NoDefence(),
    recipe: str | Recipe = "dlg",
    *,
    iterations: int | None = None,
) -> DefenceRun:
    """Attack what a defended client shares: ``defence`` applied to the gradient of
    ``examples[0]`` (or, for :class:`LocalBatch` of size B, the mean gradient of
    ``examples[:B]``, attacked with a B-row dummy from ``seeded_setup(seed, batch=B)``).
    Reconstructions are paired with the private images by least MSE."""
    from .attack import run_attack
    from .model import seeded_setup

    if isinstance(defence, str):
        defence = parse_defence(defence, seed=0)
    recipe = get_recipe(recipe)
    examples = [examples] if isinstance(examples, Example) else list(examples)
    size = batch_size(defence)
    if len(examples) < size:
        raise ValueError(f"a batch of {size} needs {size} private images, got {len(examples)}")
    if size > 1 and recipe.label != "joint":
        raise ValueError(f"recipe {recipe.name!r} infers one label for one image; a batch attack needs a recipe that "
                         "optimises the labels (dlg)")
    batch = examples[:size]
    setup = seeded_setup(seed, batch=size if size > 1 else recipe.restarts)  # one dummy row per image, or per restart
    images = torch.stack([e.image for e in batch])
    labels = [e.label for e in batch]
    shared = true_gradient(setup.model, images, labels)
    if not isinstance(defence, LocalBatch):
        shared = defence(shared)
    result = run_attack(setup.model, shared, setup.dummy_image, setup.dummy_label, recipe,
                        iterations=iterations, snapshot_steps=())
    diverged = result.status == "diverged"
    pairing = list(range(size)) if diverged else pair_reconstructions(result.image, images)
    psnr, ssim = [], []
    for i, row in enumerate(pairing):
        if diverged:
            psnr.append(math.nan)
            ssim.append(math.nan)
        else:
            m = evaluate(result.image[row], result.label[row], images[i], labels[i])
            psnr.append(m.psnr)
            ssim.append(m.ssim)
    return DefenceRun(
        spec=defence.spec,
        kind=defence.kind,
        strength=defence.strength,
        seed=seed,
        recipe=recipe.name,
        images=[e.name for e in batch],
        status=result.status,
        reason=result.reason,
        grad_loss=result.grad_loss,
        iterations=result.iterations,
        seconds=round(result.seconds, 3),
        psnr=psnr,
        ssim=ssim,
        labels_true=labels,
        labels_recovered=[result.label[row] for row in pairing],
        pairing=pairing,
        reconstruction=result.image.detach()[pairing].clone(),
    )


def _one(job: tuple) -> DefenceRun:
    examples, seed, defence, recipe, iterations = job
    return defended_attack(examples, seed, defence, recipe, iterations=iterations)


def defence_sweep(
    examples: Example | Sequence[Example],
    seeds: Sequence[int],
    defences: Sequence[Defence],
    recipe: str | Recipe = "dlg",
    *,
    iterations: int | None = None,
    workers: int | None = None,
) -> list[DefenceRun]:
    """Every defence with every seed, over ``workers`` processes (one torch thread each);
    runs come back in (defence, seed) order. ``workers=1`` runs in this process."""
    recipe = get_recipe(recipe)
    examples = [examples] if isinstance(examples, Example) else list(examples)
    jobs = [(examples, seed, defence, recipe, iterations) for defence in defences for seed in seeds]
    # longest jobs (big batches) first, so no worker is left with one at the end
    order = sorted(range(len(jobs)), key=lambda i: -batch_size(jobs[i][2]))
    done = dict(zip(order, parallel_map(_one, [jobs[i] for i in order], workers)))
    return [done[i] for i in range(len(jobs))]


def batch_size(defence: Defence) -> int:
    """How many private images the defence puts in one shared gradient (1 unless a local batch)."""
    return defence.size if isinstance(defence, LocalBatch) else 1


# ----------------------------------------------------------------------------- saving a sweep


def save_runs(runs: Sequence[DefenceRun], path: str | Path, meta: dict | None = None) -> None:
    """Records to ``path`` (.json, readable) and reconstructions to the same name with .npz
    (uint8 pixels, clipped to [0, 1]: what a figure shows)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".json").write_text(json.dumps({"meta": meta or {}, "runs": [r.as_dict() for r in runs]}, indent=1) + "\n")
    arrays = {}
    for i, r in enumerate(runs):
        if r.reconstruction is not None and r.status != "diverged":
            pixels = r.reconstruction.detach().cpu().float().nan_to_num(0.0).clamp(0, 1)
            arrays[f"run{i}"] = (pixels * 255).round().to(torch.uint8).numpy()
    np.savez_compressed(path.with_suffix(".npz"), **arrays)


def load_runs(path: str | Path) -> tuple[list[DefenceRun], dict]:
    """What :func:`save_runs` wrote: the runs (reconstructions as float tensors in [0, 1],
    ``None`` for diverged runs) and the metadata."""
    path = Path(path)
    stored = json.loads(path.with_suffix(".json").read_text())
    arrays = np.load(path.with_suffix(".npz"))
    runs = []
    names = {f.name for f in DefenceRun.__dataclass_fields__.values()} - {"reconstruction"}
    for i, record in enumerate(stored["runs"]):
        fields = {k: record[k] for k in names}
        for key in ("psnr", "ssim"):
            fields[key] = [math.nan if v is None else v for v in fields[key]]
        fields["grad_loss"] = math.nan if fields["grad_loss"] is None else fields["grad_loss"]
        image = torch.from_numpy(arrays[f"run{i}"].astype(np.float32) / 255) if f"run{i}" in arrays else None
        runs.append(DefenceRun(**fields, reconstruction=image))
    return runs, stored["meta"]


# ----------------------------------------------------------------------------- reading a sweep


@dataclass(frozen=True)
class Point:
    """One (defence, strength) of a sweep over seeds."""

    spec: str
    kind: str
    strength: float
    psnr: list[float]  # mean PSNR per seed (diverged: 0 dB)
    ssim: list[float]
    successes: int  # runs that recovered every image at >= 30 dB
    runs: int
    recognisable: int = 0  # runs whose every image is still recognisable (SSIM >= RECOGNISABLE_SSIM)

    @property
    def median_psnr(self) -> float:
        return float(np.median(self.psnr))

    @property
    def median_ssim(self) -> float:
        return float(np.median(self.ssim))


def points(runs: Sequence[DefenceRun]) -> list[Point]:
    """Runs grouped by defence spec, in first-seen order."""
    groups: dict[str, list[DefenceRun]] = {}
    for r in runs:
        groups.setdefault(r.spec, []).append(r)
    return [
        Point(spec, g[0].kind, g[0].strength, [r.mean_psnr for r in g], [r.mean_ssim for r in g],
              sum(r.success for r in g), len(g), sum(r.recognisable for r in g))
        for spec, g in groups.items()
    ]


def threshold(curve: Sequence[Point], criterion: str = "psnr") -> float | None:
    """The weakest strength, along a curve of increasing strength, from which the attack
    stops working: fewer than half the seeds succeed at that strength and at every stronger
    one. ``criterion="psnr"``: success is every image at >= 30 dB (pixel-accurate);
    ``"ssim"``: every image still recognisable (SSIM >= :data:`RECOGNISABLE_SSIM`).
    ``None`` if the attack still works at the strongest strength tried."""
    if criterion not in ("psnr", "ssim"):
        raise ValueError(f"unknown criterion {criterion!r}; choose psnr or ssim")
    ordered = sorted(curve, key=lambda p: p.strength)
    stopped = [2 * (p.successes if criterion == "psnr" else p.recognisable) < p.runs for p in ordered]
    for i, p in enumerate(ordered):
        if all(stopped[i:]):
            return p.strength
    return None
