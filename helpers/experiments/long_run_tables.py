"""The README's tables of the shipped long runs (:mod:`.long_runs`), written from their records
by ``python scripts/long_runs.py --readme README.md`` between ``<!-- long-run:KEY -->`` and
``<!-- long-run:end -->`` markers, so the numbers the README states are the records'."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Sequence

from ..metrics import RECOGNISABLE_SSIM
from ..statistics import wilson_interval
from .long_runs import attacks, describe, load, summary

README_BLOCK = "<!-- long-run:{} -->"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def _successes(rows: list[dict]) -> list[float]:
    return [r["psnr"] for r in rows if r["success"]]


def sweep_table(names: Sequence[str], folder: Path | None = None) -> str:
    """Success, statuses, PSNR and time of 100-seed sweeps side by side (one column each)."""
    columns = {}
    for name in names:
        rows, s, meta = attacks(name, folder), summary(name, folder), load(name, folder)["meta"]
        wins = _successes(rows)
        columns[s.recipe] = [
            f"{s.successes}/{s.attacks} (95 % interval {100 * s.rate_low:.0f}-{100 * s.rate_high:.0f} %)",
            ", ".join(f"{n} {status}" for status, n in sorted(s.statuses.items(), key=lambda kv: -kv[1])),
            f"{min(wins):.1f} / {_median(wins):.1f} dB" if wins else "n/a",
            f"{meta['wall_seconds']:.0f}",
            f"{s.median_seconds:.1f}",
        ]
    measures = ["success (PSNR >= 30 dB)", "statuses", "lowest / median PSNR of the successes",
                "sweep wall seconds (2 workers)", "median seconds per attack"]
    lines = ["| measure | " + " | ".join(columns) + " |", "| --- |" + " --- |" * len(columns)]
    lines += [f"| {m} | " + " | ".join(col[i] for col in columns.values()) + " |" for i, m in enumerate(measures)]
    return "\n".join(lines)


def closed_form_sentence(name: str = "closed_form_all_samples", folder: Path | None = None) -> str:
    rows, s = attacks(name, folder), summary(name, folder)
    psnrs = [r["psnr"] for r in rows]
    right = sum(r["label_correct"] for r in rows)
    return (f"it recovered {s.successes} of {s.attacks} images at PSNR >= 30 dB (minimum {min(psnrs):.1f} dB, "
            f"median {_median(psnrs):.1f} dB) with the right label {right} times out of {len(rows)}")


def seed_table(name: str = "seed_table", folder: Path | None = None) -> str:
    """Each bundled image with the blog's two seeds: status, first loss, PSNR, seconds."""
    rows = attacks(name, folder)
    seeds = sorted({r["seed"] for r in rows})
    images = list(dict.fromkeys(r["image"] for r in rows))
    cell = {(r["image"], r["seed"]): r for r in rows}

    def text(r: dict) -> str:
        psnr = "n/a" if math.isnan(r["psnr"]) else f"{r['psnr']:.1f} dB"
        return f"{r['status']}, first loss {r['first_loss']:.0f}, {psnr}, {r['seconds']:.0f} s"

    lines = ["| image | " + " | ".join(f"seed {s}" for s in seeds) + " |", "|---|" + "---|" * len(seeds)]
    lines += [f"| {i} {image.split(':')[-1]} | " + " | ".join(text(cell[image, s]) for s in seeds) + " |"
              for i, image in enumerate(images)]
    if len(seeds) == 2:
        a, b = seeds
        groups = {(x, y): [i.split(":")[-1] for i in images if (cell[i, a]["success"], cell[i, b]["success"]) == (x, y)]
                  for x in (True, False) for y in (True, False)}
        said = {(False, True): f"{a} fails and {b} succeeds", (True, True): "both succeed",
                (True, False): f"{a} succeeds and {b} fails", (False, False): "both fail"}
        parts = [f"{said[k]} on {', '.join(v)}" for k, v in groups.items() if v]
        lines += ["", "Success (PSNR >= 30 dB and not diverged): " + "; ".join(parts) + "."]
    return "\n".join(lines)


def recognisable_table(names: Sequence[str], folder: Path | None = None) -> str:
    """Sweeps over images and seeds side by side: how many attacks left a recognisable image
    (SSIM >= 0.5) with its 95 % interval, the median SSIM, and the seconds per attack."""
    columns = {}
    for name in names:
        rows, meta = attacks(name, folder), load(name, folder)["meta"]
        hits = sum(r["ssim"] >= RECOGNISABLE_SSIM for r in rows)
        low, high = wilson_interval(hits, len(rows))
        seconds = [r["seconds"] for r in rows]
        columns[f"{rows[0]['recipe']} on {rows[0]['model']}"] = [
            f"{hits}/{len(rows)} = {100 * hits / len(rows):.0f} % (95 % interval {100 * low:.0f}-{100 * high:.0f} %)",
            f"{_median([r['ssim'] for r in rows]):.2f}",
            f"{_median(seconds):.1f} / {max(seconds):.1f}",
            f"{meta['wall_seconds']:.0f}",
        ]
    measures = [f"recognisable (SSIM >= {RECOGNISABLE_SSIM:g})", "median SSIM",
                "median / longest seconds per attack (1 thread each)", "sweep wall seconds (2 workers)"]
    lines = ["| measure | " + " | ".join(columns) + " |", "| --- |" + " --- |" * len(columns)]
    lines += [f"| {m} | " + " | ".join(col[i] for col in columns.values()) + " |" for i, m in enumerate(measures)]
    return "\n".join(lines)


def dpsgd_table(recipes: Sequence[str] = ("closed_form", "dlg", "robust", "ig"), folder: Path | None = None) -> str:
    """Per DP-SGD setting, the recognisable seeds of each recipe and the step's epsilon."""
    runs = {r: attacks(f"dpsgd_{r}", folder) for r in recipes}
    specs = list(dict.fromkeys(x["spec"] for x in runs[recipes[0]]))
    lines = ["| client | epsilon (delta 1e-5, one step) | " + " | ".join(r.replace("_", "-") for r in recipes) + " |",
             "|---|---|" + "---|" * len(recipes)]
    for spec in specs:
        first = next(x for x in runs[recipes[0]] if x["spec"] == spec)
        eps = first.get("epsilon")
        eps_text = ("none (no DP-SGD)" if eps is None or math.isnan(eps) else
                    "infinite (clipping alone)" if math.isinf(eps) else f"{eps:,.3g}")
        cells = []
        for r in recipes:
            mine = [x for x in runs[r] if x["spec"] == spec]
            cells.append(f"{sum(x['mean_ssim'] >= RECOGNISABLE_SSIM for x in mine)}/{len(mine)}")
        lines.append(f"| {spec} | {eps_text} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def readme_blocks(folder: Path | None = None) -> dict[str, str]:
    """What the README shows between ``<!-- long-run:KEY -->`` and ``<!-- long-run:end -->``."""
    return {
        "sweeps": sweep_table(("dlg_astronaut_100", "robust_astronaut_100"), folder) + "\n\n" + describe_all(
            ("dlg_astronaut_100", "robust_astronaut_100"), folder),
        "closed-form": "Over 100 seeds on each of the 8 bundled images, " + closed_form_sentence(folder=folder)
                       + ".\n\n" + describe_all(("closed_form_all_samples",), folder),
        "seed-table": seed_table(folder=folder) + "\n\n" + describe_all(("seed_table",), folder),
        "relu": recognisable_table(("ig_relu_all_samples", "dlg_relu_all_samples"), folder) + "\n\n" + describe_all(
            ("ig_relu_all_samples", "dlg_relu_all_samples"), folder),
        "dpsgd": "Recognisable seeds (SSIM >= 0.5) of three, attacking the astronaut:\n\n" + dpsgd_table(folder=folder)
                 + "\n\n" + describe_all(tuple(f"dpsgd_{r}" for r in ("closed_form", "dlg", "robust", "ig")), folder),
    }


def describe_all(names: Sequence[str], folder: Path | None = None) -> str:
    return "\n".join(f"- `{name}`: " + describe(name, folder) for name in names)


def rewrite_readme(text: str, blocks: dict[str, str]) -> str:
    """``text`` with every long-run block replaced by its current rendering."""
    for key, body in blocks.items():
        start = README_BLOCK.format(key)
        end = README_BLOCK.format("end")
        if start not in text:
            raise ValueError(f"the README has no {start} block")
        head, tail = text.split(start, 1)
        tail = tail[tail.index(end):]
        text = f"{head}{start}\n{body}\n{tail}"
    return text
