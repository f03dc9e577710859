"""Records as JSON, with every number's meaning kept: a NaN (no value: a diverged run's image
metrics) is written as ``null``, ``+inf`` (an exact copy's PSNR) as the string
``"Infinity"`` and ``-inf`` as ``"-Infinity"``; :func:`from_json_number` reads them back.
Sweeps of defences are saved as such a record plus their reconstructions as uint8 pixels."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .defended import DefenceRun

_INFINITIES = {"Infinity": math.inf, "-Infinity": -math.inf}


def to_json(value: Any) -> Any:
    """``value`` with its non-finite floats spelled as described above (lists and dicts walked)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def from_json_number(value: Any) -> Any:
    """A number field as :func:`to_json` wrote it, back as a float (``null`` is NaN)."""
    if value is None:
        return math.nan
    if isinstance(value, str) and value in _INFINITIES:
        return _INFINITIES[value]
    if isinstance(value, list):
        return [from_json_number(v) for v in value]
    return value


def dumps(value: Any, **kwargs) -> str:
    """Strict JSON text (no bare NaN or Infinity) of :func:`to_json` ``(value)``."""
    return json.dumps(to_json(value), allow_nan=False, **kwargs)


_NUMBERS = ("strength", "grad_loss", "seconds", "psnr", "ssim", "epsilon")


def save_runs(runs: Sequence[DefenceRun], path: str | Path, meta: dict | None = None) -> None:
    """Records to ``path`` (.json, readable) and reconstructions to the same name with .npz
    (uint8 pixels, clipped to [0, 1]: what a figure shows)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".json").write_text(dumps({"meta": meta or {}, "runs": [r.as_dict() for r in runs]}, indent=1) + "\n")
    arrays = {}
    for i, r in enumerate(runs):
        if r.reconstruction is not None and not r.diverged:
            pixels = r.reconstruction.detach().cpu().float().nan_to_num(0.0).clamp(0, 1)
            arrays[f"run{i}"] = (pixels * 255).round().to(torch.uint8).numpy()
    np.savez_compressed(path.with_suffix(".npz"), **arrays)


def load_runs(path: str | Path) -> tuple[list[DefenceRun], dict]:
    """What :func:`save_runs` wrote: the runs (reconstructions as float tensors in [0, 1],
    ``None`` for diverged runs) and the metadata."""
    path = Path(path)
    stored = json.loads(path.with_suffix(".json").read_text())
    arrays = np.load(path.with_suffix(".npz"))
    names = {f for f in DefenceRun.__dataclass_fields__} - {"reconstruction"}
    runs = []
    for i, record in enumerate(stored["runs"]):
        fields = {k: from_json_number(record[k]) if k in _NUMBERS else record[k] for k in names if k in record}
        image = torch.from_numpy(arrays[f"run{i}"].astype(np.float32) / 255) if f"run{i}" in arrays else None
        runs.append(DefenceRun(**fields, reconstruction=image))
    return runs, stored["meta"]
