"""What every seedctl command shares: output, the --params option, one-line failures."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from seedctl.errors import run_guarded

# Logs and pipes get a fixed, generous width instead of rich's 80 columns.
out = Console(width=None if sys.stdout.isatty() else 140)
state = {"verbose": False}

ParamsOpt = Annotated[Path, typer.Option("--params", envvar="SEEDCTL_PARAMS", help="The seed configuration.")]


def run(func: Callable[[], object]) -> None:
    """Run a command body: exit 0, or the error's exit code after its one line on stderr."""
    code = run_guarded(func, verbose=state["verbose"])
    if code:
        raise typer.Exit(code)


def project_root(params: Path) -> Path:
    return params.resolve().parent


def seeds_dir(params: Path) -> Path:
    return project_root(params) / "seeds"


def tables_table(data: dict[str, Any]) -> Table:
    table = Table("source", "table", "rows", "from", "to", "size", "sha256")
    for name, entry in data["tables"].items():
        rng = entry.get("date_range") or {}
        table.add_row(
            name,
            entry["table"],
            f"{entry['rows']:,}",
            rng.get("min") or "-",
            rng.get("max") or "-",
            human_bytes(entry["size_bytes"]),
            entry["sha256"][:12],
        )
    return table


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} B"
