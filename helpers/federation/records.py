"""The shipped federated runs (``results/flower_runs.json``, made by ``scripts/flower_runs.py``)
and the numbers notebook 13 reads off them."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from ..experiments.storage import from_json_number
from ..metrics import recognisable, succeeded

FLOWER_RUNS = Path(__file__).resolve().parents[2] / "results" / "flower_runs.json"


def load_flower_runs(path: str | Path | None = None) -> dict:
    """The stored runs: ``{"meta": {...command, date, machine}, "runs": {name: run}}``, each run
    the ``fl`` command's JSON (settings, attacks, wall time, command)."""
    path = Path(path) if path is not None else FLOWER_RUNS
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; make it with: python scripts/flower_runs.py")
    stored = json.loads(path.read_text())
    for run in stored["runs"].values():
        for attack in run["attacks"]:  # JSON's "Infinity" (no DP noise) back to a number
            if attack.get("epsilon") is not None:
                attack["epsilon"] = from_json_number(attack["epsilon"])
    return stored


def summarise_attacks(attacks: list[dict]) -> dict:
    """How many attacked images the server recovered (PSNR >= 30 dB), how many stay
    recognisable (SSIM >= 0.5), how many labels it read right, and the median PSNR (a refused
    or diverged attack counts as no image)."""
    psnrs = [from_json_number(a["psnr"]) for a in attacks]
    ssims = [from_json_number(a["ssim"]) for a in attacks]
    no_image = [a["status"] == "diverged" for a in attacks]
    finite = [p for p in psnrs if math.isfinite(p)] or [math.nan]
    return {
        "attacked": len(attacks),
        "recovered": sum(succeeded(p, gone) for p, gone in zip(psnrs, no_image)),
        "recognisable": sum(recognisable(s, gone) for s, gone in zip(ssims, no_image)),
        "labels_right": sum(a["label_true"] == a["label_recovered"] for a in attacks),
        "median_psnr": statistics.median(finite) if len(finite) == len(psnrs) else math.nan,  # undefined once one has no image
        "no_image": sum(math.isnan(p) for p in psnrs),
    }


def per_round(attacks: list[dict]) -> dict[int, dict[int, float]]:
    """PSNR by round, then by client (NaN: no image)."""
    table: dict[int, dict[int, float]] = {}
    for a in attacks:
        table.setdefault(a["round"], {})[a["client"]] = from_json_number(a["psnr"])
    return table
