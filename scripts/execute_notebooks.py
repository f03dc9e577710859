"""Execute notebooks top to bottom in a fresh kernel, in place, the way they are committed.

    python scripts/execute_notebooks.py notebooks/*.ipynb
    python scripts/execute_notebooks.py --readme README.md --guide docs/seminar.md notebooks/*.ipynb

Saved widget state is stripped (GitHub will not render a notebook that carries it),
progress bars are disabled, and the kernel is ``python3``. Each run records the wall time of
every notebook and of every cell in ``results/notebook_timings.json`` (with the date, the
machine and torch's version); with ``--readme`` the README's runtime column is rewritten from
that file, and with ``--guide`` the seminar guide's timing table, so the runtimes the project
states have one measured source.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
TIMINGS = ROOT / "results" / "notebook_timings.json"


def cell_seconds(cell: nbformat.NotebookNode) -> float | None:
    """A code cell's wall time from nbclient's timestamps (None if it did not run)."""
    stamps = cell.metadata.get("execution", {})
    start, end = stamps.get("iopub.execute_input"), stamps.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return round((parse(end) - parse(start)).total_seconds(), 2)


def execute(path: Path, timeout: int = 600) -> dict:
    """Run one notebook in place; returns its wall time and every code cell's."""
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    start = time.perf_counter()
    NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = round(time.perf_counter() - start, 1)  # as the timings file keeps it, so every statement of it agrees
    cells = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            first = next((line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")), "")
            cells.append({"cell": index, "seconds": cell_seconds(cell), "code": first[:80]})
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:  # run timestamps only make diffs noisy
        cell.metadata.pop("execution", None)
    set_runtime_line(notebook, seconds)
    nbformat.write(notebook, path)
    return {"seconds": seconds, "cells": cells}


RUNTIME = re.compile(r"\*\*Runtime:\*\*[^\n]*(?:\n(?!\n)[^\n]*)*")  # the paragraph, up to a blank line


def runtime_line(seconds: float) -> str:
    return (f"**Runtime:** {round(seconds)} s when last executed top to bottom, on {machine()} "
            "(`scripts/execute_notebooks.py` measures it; the README lists every notebook's).")


def set_runtime_line(notebook: nbformat.NotebookNode, seconds: float) -> None:
    """The introduction's **Runtime:** paragraph becomes this run's measurement."""
    intro = notebook.cells[0]
    if intro.cell_type == "markdown" and RUNTIME.search(intro.source):
        intro.source = RUNTIME.sub(lambda _: runtime_line(seconds), intro.source, count=1)


def machine() -> str:
    from helpers.arithmetic import cpu_model

    import torch

    return f"{cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__}"


def record(results: dict[str, dict], command: str) -> dict:
    """Merge this run's timings into the timings file (one entry per notebook)."""
    stored = json.loads(TIMINGS.read_text()) if TIMINGS.is_file() else {"notebooks": {}}
    stamp = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(), "command": command}
    for name, timing in results.items():
        stored["notebooks"][name] = stamp | timing
    stored["notebooks"] = dict(sorted(stored["notebooks"].items()))
    TIMINGS.parent.mkdir(exist_ok=True)
    TIMINGS.write_text(json.dumps(stored, indent=1) + "\n")
    return stored


def rewrite_readme(readme: Path, stored: dict) -> None:
    """Set the runtime column of the README's notebook table, and its total, from the timings file."""
    text = readme.read_text()
    notebooks = stored["notebooks"]
    for name, timing in notebooks.items():
        pattern = re.compile(rf"^(\| [^|]+ \| \[`{re.escape(name)}`\][^\n]*\| )\d+ s \|$", re.M)
        text = pattern.sub(lambda m: f"{m.group(1)}{round(timing['seconds'])} s |", text)
    total = round(sum(t["seconds"] for t in notebooks.values()))
    text = re.sub(r"\d+ s, about \d+ minutes, for the whole series", f"{total} s, about {round(total / 60)} minutes, "
                  "for the whole series", text)
    readme.write_text(text)


GUIDE_START, GUIDE_END = "<!-- timings:start -->", "<!-- timings:end -->"


def timing_table(stored: dict) -> str:
    """The seminar guide's table: each notebook's run and its three slowest cells."""
    notebooks = {name: t for name, t in stored["notebooks"].items() if not name.endswith("_solutions")}  # the series
    machines = sorted({t["machine"] for t in notebooks.values()})
    dates = sorted(t["date"][:10] for t in notebooks.values())
    lines = [f"Measured on {'; '.join(machines)}, {dates[0]} to {dates[-1]}.", "",
             "| notebook | whole run (s) | slowest cells: seconds, first line of code |", "|---|---|---|"]
    for name, timing in notebooks.items():
        slow = sorted((c for c in timing["cells"] if c["seconds"] is not None), key=lambda c: -c["seconds"])[:3]
        cells = "; ".join(f"{c['seconds']:.1f} s `{c['code'].replace('|', '/').replace('`', '')}`" for c in slow)
        lines.append(f"| {name} | {timing['seconds']:.0f} | {cells} |")
    return "\n".join(lines)


def rewrite_guide(guide: Path, stored: dict) -> None:
    text = guide.read_text()
    start, end = text.index(GUIDE_START) + len(GUIDE_START), text.index(GUIDE_END)
    guide.write_text(text[:start] + "\n" + timing_table(stored) + "\n" + text[end:])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*")
    parser.add_argument("--readme", help="rewrite this README's runtime table from the timings")
    parser.add_argument("--guide", help="rewrite this seminar guide's timing table from the timings")
    args = parser.parse_args(argv)
    os.environ.setdefault("TQDM_DISABLE", "1")
    notebooks = [Path(p) for p in args.notebooks if p.endswith(".ipynb") and Path(p).is_file()]
    if not notebooks:
        print("no notebooks to execute")
        return 0
    command = "python scripts/execute_notebooks.py " + " ".join(argv)
    for path in notebooks:  # each notebook's timing is recorded as soon as it has run
        timing = execute(path)
        stored = record({path.stem: timing}, command)
        print(f"{path}: {timing['seconds']:.1f} s", flush=True)
    if args.readme:
        rewrite_readme(Path(args.readme), stored)
    if args.guide:
        rewrite_guide(Path(args.guide), stored)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
