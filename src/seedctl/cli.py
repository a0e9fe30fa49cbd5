"""The `seedctl` command line: thin commands over the library, one line per failure."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from seedctl import __version__
from seedctl.config import load_params
from seedctl.errors import IntegrityError, SeedctlError, run_guarded

app = typer.Typer(
    help="Versioned, checksummed Parquet snapshots of PostgreSQL tables, driven by DVC.\n\n"
    "The database comes from DATABASE_URL, else PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE. "
    "Run from the project root (where params.yaml and dvc.yaml are).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Logs and pipes get a fixed, generous width instead of rich's 80 columns.
out = Console(width=None if sys.stdout.isatty() else 140)
_state = {"verbose": False}

ParamsOpt = Annotated[
    Path, typer.Option("--params", envvar="SEEDCTL_PARAMS", help="The seed configuration.")
]


def _version(value: bool) -> None:
    if value:
        print(f"seedctl {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    _state["verbose"] = verbose


def _run(func: Callable[[], object]) -> None:
    code = run_guarded(func, verbose=_state["verbose"])
    if code:
        raise typer.Exit(code)


def _seeds(params: Path) -> Path:
    return params.resolve().parent / "seeds"


@app.command()
def snapshot(params: ParamsOpt = Path("params.yaml")) -> None:
    """Take a snapshot: run the DVC pipeline (export -> manifest -> validate).

    An unchanged database leaves dvc.lock and git untouched. A snapshot that fails
    validation exits non-zero and never becomes LATEST_VERSION.
    """

    from seedctl.snapshot import run_snapshot

    def go() -> None:
        run_snapshot(params)
        _print_summary(_seeds(params))

    _run(go)


@app.command()
def export(params: ParamsOpt = Path("params.yaml")) -> None:
    """Export every configured table to seeds/data (the pipeline's first stage)."""
    from seedctl.export import run_export

    _run(lambda: run_export(load_params(params), _seeds(params)))


@app.command()
def manifest(params: ParamsOpt = Path("params.yaml")) -> None:
    """Write seeds/manifest.json and seeds/checksums.sha256 for the exported files."""
    from seedctl.manifest import run_manifest

    _run(lambda: run_manifest(load_params(params), _seeds(params)))


@app.command()
def validate(
    params: ParamsOpt = Path("params.yaml"),
    allow_shrink: Annotated[
        bool, typer.Option("--allow-shrink", help="Accept past months with fewer rows than before.")
    ] = False,
) -> None:
    """Check the snapshot: row counts, date ranges, null ratios, keys, OHLCV bars, history."""
    from seedctl.validate import previous_manifest, run_validate

    def go() -> None:
        seeds = _seeds(params)
        report = run_validate(load_params(params), seeds, previous=previous_manifest(seeds),
                              allow_shrink=allow_shrink)
        out.print(f"validation passed: {report['version']} ({len(report['tables'])} tables)")

    _run(go)


@app.command()
def show(
    params: ParamsOpt = Path("params.yaml"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
) -> None:
    """Show the checked-out snapshot's manifest as a table."""
    from seedctl.manifest import load_manifest

    def go() -> None:
        data = load_manifest(_seeds(params))
        if as_json:
            print(json.dumps(data, indent=2))
            return
        out.print(f"snapshot [bold]{data['version']}[/bold]  created {data['created_at']}  by {data['created_by']}")
        compat = data["compatibility"]
        out.print(f"PostgreSQL {compat['postgres_version']}, TimescaleDB {compat['timescaledb_version'] or '-'}, "
                  f"snapshot format {compat['schema_version']}")
        out.print(_tables_table(data))

    _run(go)


@app.command()
def status(params: ParamsOpt = Path("params.yaml")) -> None:
    """Which snapshot this checkout holds, and whether its data files are present and intact."""
    from seedctl.manifest import LATEST_FILE, load_manifest, verify_files

    def go() -> None:
        seeds = _seeds(params)
        data = load_manifest(seeds)
        latest = (seeds / LATEST_FILE).read_text().strip() if (seeds / LATEST_FILE).exists() else None
        out.print(f"checkout holds snapshot {data['version']} (created {data['created_at']})")
        if latest != data["version"]:
            out.print(f"[yellow]LATEST_VERSION is {latest or 'missing'}: this snapshot has not passed "
                      "validation[/yellow]")
        problems = verify_files(seeds, data)
        for problem in problems:
            out.print(f"[red]{problem}[/red]")
        if problems:
            raise IntegrityError(
                f"{len(problems)} file(s) missing or not matching the manifest",
                "run `dvc pull` (or `dvc checkout`) to fetch this snapshot's data",
            )
        out.print(f"all {len(data['tables'])} data files present and matching the manifest")

    _run(go)


@app.command("sample-data")
def sample_data(
    scale: Annotated[float, typer.Option(help="Fraction of the plan's sizes (1.0 = ~91k bars).")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same data.")] = 20260115,
) -> None:
    """Load the synthetic trading tables into the database (for demos and tests)."""
    from seedctl import db, sample

    def go() -> None:
        with db.connect() as conn:
            counts = sample.load_sample_data(conn, seed=seed, scale=scale)
        for table, rows in counts.items():
            out.print(f"{table}: {rows:,} rows")

    _run(go)


def _tables_table(data: dict[str, Any]) -> Table:
    table = Table("source", "table", "rows", "from", "to", "size", "sha256")
    for name, entry in data["tables"].items():
        rng = entry.get("date_range") or {}
        table.add_row(name, entry["table"], f"{entry['rows']:,}", rng.get("min") or "-",
                      rng.get("max") or "-", _human_bytes(entry["size_bytes"]), entry["sha256"][:12])
    return table


def _print_summary(seeds: Path) -> None:
    from seedctl.manifest import load_manifest

    data = load_manifest(seeds)
    total = sum(t["size_bytes"] for t in data["tables"].values())
    out.print(f"snapshot {data['version']}: {len(data['tables'])} tables, {_human_bytes(total)}")
    out.print(_tables_table(data))


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} B"


def main() -> None:
    app()


if __name__ == "__main__":
    main()
