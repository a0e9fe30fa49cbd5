"""The layout shows the architecture: imports point only inward and downward.

    cli  ->  snapshot | restore | read  ->  store | pg  ->  core (seedctl/*.py)

Sides never import each other, store and pg never import each other, and the product never
imports the dev tooling (seedctl_dev), except `seedctl sample-data`, which says so when it is
missing. Imports inside functions count too: a lazy import is still a dependency.

And the code stays small enough to read (issue 25): no module in src/, bench/ or scripts/ over
600 lines, and no import circle among seedctl's modules (lazy and TYPE_CHECKING imports count)."""

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
def test_no_module_imports_another_modules_private_names(path: Path) -> None:
    """A name with a leading underscore is its module's own: what two modules share is public."""
    private = [
        f"line {node.lineno}: from {node.module} import {alias.name}"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "seedctl"
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert not private, "\n".join(private)


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


# --- size and import circles (issue 25: "no module over 600 lines, and no import circle") ---

REPO = SRC.parents[1]
MAX_LINES = 600
SIZED = sorted(p for top in ("src", "bench", "scripts") for p in (REPO / top).rglob("*.py"))


@pytest.mark.parametrize("path", SIZED, ids=lambda p: str(p.relative_to(REPO)))
def test_no_module_is_over_600_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(REPO)} has {lines} lines (at most {MAX_LINES}): split it by concern"


def module_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Which modules of `package` (its directory is root/package) each of them imports: every
    import statement counts, at module level, inside functions or under TYPE_CHECKING."""
    files = {}
    for path in (root / package).rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def known(name: str) -> str | None:  # the module a dotted name lives in (x.y.func -> x.y)
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        here = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {known(a.name) for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: level 1 is this package, 2 its parent...
                    anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from pkg import mod` imports the module pkg.mod; `from mod import name`, mod
                targets |= {
                    known(f"{base}.{a.name}") if f"{base}.{a.name}" in files else known(base) for a in node.names
                }
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_no_import_circle_among_seedctl_modules() -> None:
    found = circles(module_graph(SRC.parent, "seedctl"))
    assert not found, "import circles (move what one side needs into a module both can import):\n" + "\n".join(
        " <-> ".join(c) for c in found
    )


def test_circles_are_found_in_a_small_graph() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"f"}, "f": {"e"}, "g": {"a"}}
    assert circles(graph) == [["a", "b", "c"], ["e", "f"]]
    assert circles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_lazy_and_type_checking_imports_close_a_circle(tmp_path: Path) -> None:
    """The shape store/dvc.py, s3.py and settings.py had: one top-level import, one import
    inside a function, one under TYPE_CHECKING; plus a relative import and a package import."""
    pkg = tmp_path / "p" / "store"
    pkg.mkdir(parents=True)
    (tmp_path / "p" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "s3.py").write_text("from p.store.dvc import OBJECTS\n")
    (pkg / "settings.py").write_text("def connect():\n    from p.store import s3\n")
    (pkg / "dvc.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from p.store.settings import RemoteSettings\n"
    )
    (pkg / "push.py").write_text("from . import dvc\nfrom .settings import connect\n")
    graph = module_graph(tmp_path, "p")
    assert graph["p.store.push"] == {"p.store.dvc", "p.store.settings"}
    assert circles(graph) == [["p.store.dvc", "p.store.s3", "p.store.settings"]]
    (pkg / "settings.py").write_text("def connect():\n    pass\n")
    assert circles(module_graph(tmp_path, "p")) == []
