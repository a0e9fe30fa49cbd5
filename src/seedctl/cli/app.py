"""The `seedctl` command line: assembles the commands; each lives with its verb."""

from __future__ import annotations

from typing import Annotated

import typer

from seedctl import __version__
from seedctl.cli import prune as cli_prune
from seedctl.cli import query as cli_query
from seedctl.cli import restore as cli_restore
from seedctl.cli import schedule
from seedctl.cli import snapshot as cli_snapshot
from seedctl.cli import versions as cli_versions
from seedctl.cli.common import state

app = typer.Typer(
    help="Versioned, checksummed Parquet snapshots of PostgreSQL tables, driven by DVC.\n\n"
    "The database comes from DATABASE_URL, else PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE; "
    "the remote from MINIO_ENDPOINT, MINIO_ACCESS_KEY, MINIO_SECRET_KEY, MINIO_BUCKET (or .env). "
    "Run from the project root (where params.yaml and dvc.yaml are).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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
    state["verbose"] = verbose


for command in (
    cli_snapshot.snapshot,
    cli_snapshot.tag,
    cli_snapshot.export,
    cli_snapshot.manifest,
    cli_snapshot.validate,
    cli_restore.restore,
    cli_restore.verify,
    cli_versions.show,
    cli_snapshot.status,
    cli_restore.remote,
    cli_restore.push,
    cli_restore.pull,
    cli_prune.prune,
    cli_versions.diff,
    schedule.cron,
):
    app.command()(command)
app.command("list")(cli_versions.list_)
app.command()(cli_query.query)
app.command("sample-data")(cli_snapshot.sample_data)


def main() -> None:
    app()
