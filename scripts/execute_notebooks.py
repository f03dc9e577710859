"""Execute notebooks top to bottom in a fresh kernel, in place, the way they are committed.

    python scripts/execute_notebooks.py notebooks/*.ipynb

Saved widget state is stripped (GitHub will not render a notebook that carries it),
progress bars are disabled, and the kernel is ``python3``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path, timeout: int = 600) -> float:
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    start = time.perf_counter()
    NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:  # run timestamps only make diffs noisy
        cell.metadata.pop("execution", None)
    nbformat.write(notebook, path)
    return time.perf_counter() - start


def main(paths: list[str]) -> int:
    os.environ.setdefault("TQDM_DISABLE", "1")
    notebooks = [Path(p) for p in paths if p.endswith(".ipynb") and Path(p).is_file()]
    if not notebooks:
        print("no notebooks to execute")
        return 0
    for path in notebooks:
        print(f"{path}: {execute(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
