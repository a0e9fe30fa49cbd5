"""Everything seedctl imports is declared: each third-party module that src/seedctl imports,
at the top of a module or lazily inside a function, belongs to a distribution named in
pyproject.toml's [project].dependencies, and each of those is pinned in requirements.lock.

A module that only arrives through another package (numpy through pandas, in the dev lock
only) works in the dev venv and fails on a server installed from requirements.lock alone:
tests/func/install/test_runtime_install.py builds such an install; this test names the
missing declaration in a fraction of a second. Imports under `if TYPE_CHECKING:` are not
run, so they are not counted."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
# The repository's own top-level packages: seedctl, and the dev tooling that `seedctl
# sample-data` imports behind a guard (tests/unit/test_layers.py keeps it to that).
FIRST_PARTY = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them: PyYAML, pyyaml and py_yaml are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, f"not a requirement: {requirement!r}"
    return canonical(match.group(1))


def declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {requirement_name(r) for r in project["dependencies"]}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, top-level module) of every absolute import that runs: module level, inside
    functions and classes, in try/except; not relative imports, not `if TYPE_CHECKING:`."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def third_party_imports() -> dict[str, list[str]]:
    """Each third-party top-level module src/seedctl imports, with where (file:line)."""
    where: dict[str, list[str]] = {}
    for path in sorted((SRC / "seedctl").rglob("*.py")):
        for line, module in imported_modules(path.read_text(encoding="utf-8")):
            if module not in FIRST_PARTY and module not in sys.stdlib_module_names:
                where.setdefault(module, []).append(f"{path.relative_to(REPO)}:{line}")
    return where


def test_the_scan_sees_lazy_imports_and_skips_type_checking_and_relative_ones() -> None:
    source = """
import os, numpy.linalg
from yaml import safe_load
from . import sibling
from .pkg import thing
if TYPE_CHECKING:
    import pandas
else:
    import rich
def f():
    from dotenv import dotenv_values
    try:
        import botocore.session
    except ImportError:
        pass
class C:
    import duckdb
"""
    assert sorted(m for _, m in imported_modules(source)) == [
        "botocore",
        "dotenv",
        "duckdb",
        "numpy",
        "os",
        "rich",
        "yaml",
    ]


def test_every_third_party_import_is_a_declared_dependency() -> None:
    imports = third_party_imports()
    assert imports, "the scan found no third-party import in src/seedctl"
    distributions = packages_distributions()
    wanted = declared()
    missing = []
    for module, places in sorted(imports.items()):
        owners = distributions.get(module, [])
        if not owners:
            missing.append(f"{module} ({places[0]}): no installed distribution provides it")
        elif not wanted & {canonical(d) for d in owners}:
            missing.append(f"{module} ({', '.join(places[:3])}): add {' or '.join(sorted(set(owners)))}")
    assert not missing, (
        "src/seedctl imports modules that pyproject.toml's [project].dependencies does not declare "
        "(then `make lock`):\n" + "\n".join(missing)
    )


def test_every_declared_dependency_is_pinned_in_the_runtime_lock() -> None:
    lock = (REPO / "requirements.lock").read_text(encoding="utf-8")
    pinned = {canonical(m.group(1)) for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", lock, re.M)}
    unpinned = sorted(declared() - pinned)
    assert not unpinned, f"declared in pyproject.toml but not in requirements.lock (run `make lock`): {unpinned}"
