"""What the package imports is declared, and every subpackage is installed."""

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "helpers"
DISTRIBUTION = {"PIL": "pillow", "skimage": "scikit-image", "IPython": "ipython", "matplotlib_inline": "matplotlib-inline",
                "sklearn": "scikit-learn"}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _third_party_imports() -> set[str]:
    names = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "helpers"}


def test_every_imported_package_is_declared():
    project = _project()["project"]
    declared = project["dependencies"] + [d for group in project.get("optional-dependencies", {}).values() for d in group]
    names = {re.split(r"[<>=!~ \[;]", d, maxsplit=1)[0].lower() for d in declared}
    imported = _third_party_imports()
    assert "scipy" in imported
    assert {DISTRIBUTION.get(n, n).lower() for n in imported} - names == set()


def test_every_subpackage_is_installed():
    listed = set(_project()["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("__init__.py")}
    assert found <= listed


def test_every_benchmark_starts():
    """A benchmark that no longer imports would only be found when someone needs its numbers."""
    import subprocess

    for script in sorted((ROOT / "benchmarks").glob("*.py")) + [ROOT / "scripts" / n for n in ("arithmetic_sweep.py", "long_runs.py", "dp_utility.py")]:
        done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "usage:" in done.stdout, f"{script.name}: {done.stderr[-500:]}"
