"""The `seedctl` command line: assembles the commands; each lives with its verb."""

from __future__ import annotations

import atexit
import importlib.abc
import os
import sys
from typing import Annotated

import typer

from seedctl import __version__
from seedctl.cli import catalog as cli_catalog
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
    cli_catalog.catalog,
    cli_versions.diff,
    schedule.cron,
):
    app.command()(command)
app.command("list")(cli_versions.list_)
app.command("versions", help="The same as `seedctl list`.")(cli_versions.list_)
app.command()(cli_query.query)
app.command("sample-data")(cli_snapshot.sample_data)


class _WithoutPandas(importlib.abc.MetaPathFinder):
    """No command hands data to pandas, but pyarrow imports pandas, where it is installed, at
    its first conversion of a Python value: 0.3 s of every export, restore and query. In the
    command line's process only (library users are unaffected), pandas is not installed."""

    def find_spec(self, fullname: str, path: object, target: object = None) -> None:
        if fullname.partition(".")[0] == "pandas":
            raise ModuleNotFoundError(f"No module named {fullname!r} (not used by the seedctl command)", name=fullname)


def main() -> None:
    # Arrow's allocator: jemalloc, where the operator did not choose one. The default
    # (mimalloc) keeps freed pages resident: the 10M-row export peaked 100-150 MB higher,
    # and slower (docs/BENCHMARKS.md). Read when pyarrow first allocates, so set it first.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _WithoutPandas())
    try:
        app()  # always ends in SystemExit (click's standalone mode)
    except SystemExit as done:
        code = done.code
    # Tearing the interpreter down (freeing DVC's, pyarrow's and psycopg's objects) takes
    # 0.3 s after the command is done, and nothing is left to do: every file is closed and
    # every connection ended by then. So: the exit handlers (logging, temporary files), then
    # the process ends at once.
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    os._exit(code or 0)
