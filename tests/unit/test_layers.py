"""The layout shows the architecture: imports point only inward and downward.

    cli  ->  snapshot | restore | read  ->  store | pg  ->  core (seedctl/*.py)

Sides never import each other, store and pg never import each other, and the product never
imports the dev tooling (seedctl_dev), except `seedctl sample-data`, which says so when it is
missing. Imports inside functions count too: a lazy import is still a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "seedctl"
RANK = {"core": 0, "pg": 1, "store": 1, "snapshot": 2, "restore": 2, "read": 2, "cli": 3}
ALLOWED_DEV = {("cli", "seedctl_dev")}  # sample-data, guarded
# The package's public face: `seedctl.open_snapshot` (loaded on first use, see __init__.py).
FACADE = {("__init__.py", "seedctl.read.reader")}


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "seedctl_dev":
        return "seedctl_dev"
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in RANK) else "core"


def imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = (
                [node.module]
                if node.module not in ("seedctl", "seedctl_dev")
                else [f"{node.module}.{a.name}" for a in node.names]
            )
            found += [(node.lineno, n) for n in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] in ("seedctl", "seedctl_dev")]


MODULES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_inward_and_down(path: Path) -> None:
    rel = path.relative_to(SRC.parent).with_suffix("")
    here = layer(".".join(p for p in rel.parts if p != "__init__"))
    wrong = []
    for line, name in imports(path):
        there = layer(name)
        if (str(path.relative_to(SRC)), name) in FACADE:
            continue
        if there == "seedctl_dev":
            ok = (here, there) in ALLOWED_DEV
        else:
            ok = there == here or RANK[there] < RANK[here]
        if not ok:
            wrong.append(f"line {line}: {here} imports {name} ({there})")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_every_failure_raises_the_class_of_its_exit_code(path: Path) -> None:
    """SeedctlError is only a base: a bare raise of it would hide which exit code it means."""
    bare = [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Raise)
        and isinstance(node.exc, ast.Call)
        and isinstance(node.exc.func, ast.Name)
        and node.exc.func.id == "SeedctlError"
    ]
    assert not bare, f"raise SeedctlError(...) at lines {bare}: raise the class of its exit code (errors.py)"
