"""`seedctl query`: SQL over a snapshot's tables, without a checkout or a database."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from seedctl.cli.common import ParamsOpt, out, project_root, run
from seedctl.errors import ConfigError, QueryError

if TYPE_CHECKING:
    import pyarrow as pa

# Rows printed on the terminal; --csv / --parquet write them all.
TERMINAL_ROWS = 1000


def query(
    statement: Annotated[str, typer.Argument(metavar="SQL", help="DuckDB SQL; each table is named after its source.")],
    rev: Annotated[
        str | None, typer.Option("--rev", help="A snapshot tag, version (2026.01.18) or commit; default: the checkout.")
    ] = None,
    csv: Annotated[
        str | None, typer.Option("--csv", metavar="FILE", help="Write the result as CSV to FILE ('-' for stdout).")
    ] = None,
    parquet: Annotated[
        Path | None, typer.Option("--parquet", metavar="FILE", help="Write the result as Parquet to FILE.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="DATE", help="Tables with a time column hold only rows from DATE (inclusive)."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", metavar="DATE", help="... up to DATE (inclusive: a date takes in that whole day)."),
    ] = None,
    params: ParamsOpt = Path("params.yaml"),
    from_bucket: Annotated[
        bool, typer.Option("--from-bucket", help="Read a version of the bucket's catalog alone: no git, no checkout.")
    ] = False,
    version: Annotated[
        str | None,
        typer.Option("--version", metavar="VERSION", help="With --from-bucket: latest (default) or a version."),
    ] = None,
) -> None:
    """Run SQL (DuckDB) over a snapshot's tables, read from the DVC cache or remote.

    With --from-bucket, from a version of the bucket's catalog (MINIO_*), each file verified
    as it is downloaded.

    Every data file is checked against the snapshot's manifest before a row is used; only the
    tables the SQL names are read, and with --since/--until only the monthly or yearly files
    that overlap the range. Prints a table (first 1,000 rows), or writes --csv / --parquet.
    """

    def go() -> None:
        from seedctl.read.reader import open_snapshot

        if csv is not None and parquet is not None:
            raise QueryError("--csv and --parquet both given", "choose one output")
        if from_bucket and rev is not None:
            raise ConfigError("--rev is a git revision; --from-bucket reads no git", "name the version with --version")
        if version is not None and not from_bucket:
            raise ConfigError("--version names a version in the bucket", "add --from-bucket, or use --rev for git")
        where = version if from_bucket else rev
        with open_snapshot(rev=where, project=project_root(params), from_bucket=from_bucket) as snap:
            result = snap.query(statement, since=since, until=until)
        if parquet is not None:
            _write(result, parquet, "parquet")
            out.print(f"{result.num_rows:,} rows written to {parquet}")
        elif csv == "-":
            sys.stdout.flush()
            _write(result, sys.stdout.buffer, "csv")
            sys.stdout.buffer.flush()
        elif csv is not None:
            _write(result, Path(csv), "csv")
            out.print(f"{result.num_rows:,} rows written to {csv}")
        else:
            _print(result)

    run(go)


def _write(result: pa.Table, sink: Path | object, kind: str) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        if kind == "parquet":
            pq.write_table(result, sink)
        else:
            pacsv.write_csv(result, sink)
    except (pa.ArrowException, OSError) as exc:
        where = "stdout" if not isinstance(sink, Path) else str(sink)
        raise QueryError(
            f"cannot write the result as {kind} to {where}: {' '.join(str(exc).split())[:200]}",
            "choose another file, or the other format",
        ) from None


def _print(result: pa.Table) -> None:
    table = Table(*result.column_names)
    shown = result.slice(0, TERMINAL_ROWS)
    columns = [_texts(shown.column(i)) for i in range(shown.num_columns)]
    for row in zip(*columns):
        table.add_row(*row)
    out.print(table)
    more = result.num_rows - shown.num_rows
    out.print(
        f"{result.num_rows:,} row{'s' if result.num_rows != 1 else ''}"
        + (f" ({more:,} not shown: use --csv or --parquet)" if more else "")
    )


def _texts(column: pa.ChunkedArray) -> list[str]:
    """Printable values; NULL as 'NULL'."""
    import pyarrow as pa

    try:
        values = column.cast(pa.string()).to_pylist()
    except (pa.ArrowException, OverflowError, ValueError):  # e.g. a timestamp of +/-infinity
        values = [_scalar_text(s) for s in column]
    return ["NULL" if v is None else v for v in values]


def _scalar_text(scalar: pa.Scalar) -> str | None:
    try:
        value = scalar.as_py()
    except (OverflowError, ValueError):  # outside Python's range: show what is stored
        return f"{scalar.cast('int64').as_py()} ({scalar.type})"
    return None if value is None else str(value)
