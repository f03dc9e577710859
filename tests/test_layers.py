"""The package's shape: layers import only downward, and no module imports itself back."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "helpers"

# Lowest first. A module may import its own layer and the ones before it; a generic module
# (the process pool, the instruction-set settings its workers start with, the live runner) may import only
# other generic modules, and every layer may import them.
LAYERS = [
    ["helpers.data"],
    ["helpers.model"],
    ["helpers.gradients"],
    ["helpers.metrics"],
    ["helpers.statistics"],
    ["helpers.attacks"],
    ["helpers.defences"],
    ["helpers.clients"],
    ["helpers.experiments"],
    ["helpers.federation"],
    ["helpers.plots", "helpers.display"],
    ["helpers.console"],
    ["helpers.cli"],
    ["helpers.__main__", "helpers"],
]
GENERIC = ["helpers.pool", "helpers.ray_pool", "helpers.arithmetic", "helpers.live"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module of the package that ``path`` imports, at any depth of its code."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "helpers"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != "helpers":
                continue
            for alias in node.names:  # ``from . import display`` imports the module display
                candidate = PACKAGE.parent / f"{module}.{alias.name}".replace(".", "/")
                if candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists():
                    found.add(f"{module}.{alias.name}")
                else:
                    found.add(module)
    return found - {name}


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    """The layer of a module (a module inside a subpackage belongs to the subpackage's layer)."""
    best = None
    for index, layer in enumerate(LAYERS):
        for prefix in layer:
            inside = module == prefix or (prefix != "helpers" and module.startswith(prefix + "."))  # helpers: the package itself
            if inside and (best is None or len(prefix) > len(best[1])):
                best = (index, prefix)
    return None if best is None else best[0]


def violations(edges: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in edges.items():
        if any(module == g or module.startswith(g + ".") for g in GENERIC):
            found += [f"{module} (generic) imports {t}" for t in sorted(targets)
                      if not any(t == g or t.startswith(g + ".") for g in GENERIC)]
            continue
        here = layer_of(module)
        for target in sorted(targets):
            if any(target == g or target.startswith(g + ".") for g in GENERIC):
                continue
            there = layer_of(target)
            if here is None or there is None:
                found.append(f"{module} -> {target}: a module in no layer")
            elif there > here:
                found.append(f"{module} (layer {here}) imports {target} (layer {there})")
    return found


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def test_every_module_sits_in_a_layer_and_imports_only_downward():
    edges = graph()
    assert len(edges) > 20  # the walk found the package
    assert violations(edges) == []


def test_no_import_cycle():
    assert cycles(graph()) == []


def test_the_checks_catch_an_upward_import_and_a_cycle():
    """The two checks above on a made-up graph: they are not vacuous."""
    assert violations({"helpers.data": {"helpers.attacks"}}) == ["helpers.data (layer 0) imports helpers.attacks (layer 5)"]
    assert violations({"helpers.pool": {"helpers.experiments.trial"}}) != []
    assert violations({"helpers.pool": {"helpers.arithmetic"}}) == []
    assert violations({"helpers.brand_new": {"helpers.cli"}}) != []  # a module in no layer is flagged
    assert violations({"helpers.arithmetic": {"helpers.data"}}) != []
    assert violations({"helpers.attacks.search": {"helpers.gradients", "helpers.pool"}}) == []
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_over_300_lines(path):
    assert len(path.read_text().splitlines()) <= 300
