"""Export: every configured table, at one point in time, to deterministic Parquet files.

All tables are read inside ONE `REPEATABLE READ READ ONLY` transaction (the consistency
pg_dump gives), each streamed with `COPY (SELECT ... ORDER BY <primary key>) TO STDOUT`
(csv) through pyarrow's streaming CSV reader, in bounded batches, into deterministic
Parquet files (writer.py). A row longer than the reader's block (values of several MB)
makes the table be read again with a block sized from its longest row.

Output (staged, and swapped into place only when every table succeeded: publish.py):
    seeds/data/<source>.parquet           a source with `partition: none`
    seeds/data/<source>/<period>.parquet  one file per month or year (partition.py)
    seeds/data/<source>/empty.parquet     a partitioned source without rows
    seeds/schema.json                     every table's parts, catalog description, checksum
"""

from __future__ import annotations

import errno
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import sql

from seedctl.config import Params, Partition, Source
from seedctl.errors import ConfigError, DatabaseError, ExportError
from seedctl.layout import DATA_DIR, SNAPSHOT_FORMAT
from seedctl.pg import db
from seedctl.pg.catalog import TableSchema, read_table_schema
from seedctl.pg.checksum import Checksum, PeriodSums, algorithm_for
from seedctl.pg.copyout import BLOCK_BYTES, LockBusy, copy_out
from seedctl.pg.objects import read_objects
from seedctl.pg.pgtypes import OUT_OF_RANGE, Codec, Fallback, arrow_field, codec_for, select_expr
from seedctl.progress import row_progress
from seedctl.snapshot.partition import period_number, periods_filter
from seedctl.snapshot.publish import publish, staging_dir
from seedctl.snapshot.reuse import Previous, copy_verified, load_previous, unchanged, writer_settings
from seedctl.snapshot.sums import TableSums, checksums_alongside, first_half, table_sums, with_fingerprints
from seedctl.snapshot.writer import Part, PartFiles

_NUMERIC_SPECIALS = {"NaN", "Infinity", "-Infinity"}


@dataclass
class TableExport:
    source: str
    table: TableSchema
    partition: Partition
    parts: list[Part]
    checksum: Checksum
    checks: dict[str, Any]  # facts.RowChecks: primary-key duplicates, OHLCV violations
    text_columns: list[str] = field(default_factory=list)
    time_column: str | None = None
    reused: int = 0  # files copied from the previous snapshot, their rows proven unchanged (reuse.py)

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.parts)


@dataclass
class ExportResult:
    tables: list[TableExport]
    server_version: str
    server_version_num: int
    timescaledb_version: str | None
    checksum_algorithm: str  # the database's encoding decides (checksum.algorithm_for)
    writer: dict[str, Any]  # reuse.writer_settings


def run_export(params: Params, seeds_dir: Path) -> ExportResult:
    """Snapshot every source in params into seeds_dir (data/ and schema.json)."""
    try:
        with staging_dir(seeds_dir) as staging:
            previous = load_previous(seeds_dir, params.backup)
            with db.connect() as conn:
                result = _export_all(conn, params, staging / DATA_DIR, previous)
            publish(staging, seeds_dir, schema_document(result))
    except OSError as exc:
        space = exc.errno == errno.ENOSPC
        raise ExportError(
            f"cannot write the snapshot under {seeds_dir}: {exc.strerror or exc}",
            "free disk space there and run the snapshot again; the previous snapshot is intact"
            if space
            else "check the directory's permissions; the previous snapshot is intact",
        ) from None
    return result


TIME_TYPES = ("date", "timestamp", "timestamptz")


def check_time_column(name: str, source: Source, table: TableSchema) -> None:
    """Refused before any row is read: a time_column that is not a date or timestamp (its date
    range, rows per month and --since/--until windows have no meaning), and a partitioned
    source whose primary key (the export order) does not start with it."""
    column = table.column(source.time_column) if source.time_column else None
    if column is None:
        return
    if column.base_type not in TIME_TYPES:
        raise ConfigError(
            f"sources.{name}.time_column {column.name!r} of {table.qualified} is {column.pg_type}, "
            "not a date or timestamp column",
            f"name a date or timestamp column of {table.qualified} in params.yaml, or remove time_column"
            + (" and set partition: none" if source.partition != "none" else ""),
        )
    if source.partition != "none" and table.order_by()[:1] != [column.name]:
        raise ConfigError(
            f"sources.{name}.partition: the primary key of {table.qualified} does not "
            f"start with {column.name} (rows are exported in key order)",
            "set partition: none for this source",
        )


def _export_all(conn: psycopg.Connection, params: Params, data_dir: Path, previous: Previous | None) -> ExportResult:
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    data_dir.mkdir(parents=True)
    try:
        try:
            alongside = not params.backup.single_connection
            return _export_in_one_transaction(conn, params, data_dir, previous, alongside=alongside)
        except _NoSnapshotExport:  # e.g. a server that cannot export snapshots: checksums in line
            return _export_in_one_transaction(conn, params, data_dir, previous, alongside=False)
    except _LockNotGranted as waited:  # the transaction is rolled back: ask who holds the lock
        raise DatabaseError(
            f"export failed: table {waited.table} stayed locked by {_lock_holder(conn, waited.table)} "
            f"for {params.backup.lock_timeout_s} s",
            "nothing was written; run the snapshot again when that session has finished",
        ) from None
    except psycopg.Error as exc:
        raise DatabaseError(
            f"export failed: {db.first_line(exc)}",
            "nothing was written; check the server and run the snapshot again",
        ) from None


class _NoSnapshotExport(Exception):
    pass


class _LockNotGranted(Exception):
    def __init__(self, table: str) -> None:
        self.table = table


def _lock_tables(conn: psycopg.Connection, params: Params) -> None:
    """ACCESS SHARE on every source table, taken before the transaction's snapshot is (a
    REPEATABLE READ snapshot is fixed by its first query, and LOCK is not one), as pg_dump
    does: TRUNCATE, ALTER and DROP then wait for the export instead of breaking it
    (TRUNCATE is not MVCC-safe: an older snapshot would see the table empty, and rows that
    a restore writes with COPY FREEZE would appear in it)."""
    timeout = sql.Literal(f"{params.backup.lock_timeout_s}s")
    conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(timeout))
    for source in params.sources.values():
        table = sql.Identifier(source.schema_name, source.table_name)
        try:
            with conn.transaction():  # a savepoint: a missing table is reported by the catalog read
                conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(table))
        except psycopg.errors.LockNotAvailable:
            raise _LockNotGranted(table.as_string(conn)) from None
        except psycopg.errors.UndefinedTable:
            continue


def _lock_holder(conn: psycopg.Connection, table: str) -> str:
    """The session whose ACCESS EXCLUSIVE lock on table kept the export out: the one holding
    it, else one queued for it (a TRUNCATE waiting behind a long writer queues readers too)."""
    try:
        row = conn.execute(
            "SELECT a.pid, a.usename, a.application_name, a.state, left(a.query, 80), l.granted"
            " FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a USING (pid)"
            " WHERE l.relation = to_regclass(%s) AND l.mode = 'AccessExclusiveLock'"
            " AND l.pid <> pg_backend_pid() ORDER BY l.granted DESC LIMIT 1",
            (table,),
        ).fetchone()
        conn.rollback()
    except psycopg.Error:
        row = None
    if row is None:
        return "another session (it has finished since)"
    pid, user, app, state, query, granted = row
    queued = "" if granted else ", itself waiting for the lock"
    return (
        f"session pid {pid} (user {user}, application {app or '-'}, {state}{queued}: {' '.join(str(query).split())!r})"
    )


def _export_in_one_transaction(
    conn: psycopg.Connection, params: Params, data_dir: Path, previous: Previous | None, *, alongside: bool
) -> ExportResult:
    with conn.transaction():
        _lock_tables(conn, params)
        snapshot_id = None
        if alongside:
            try:  # the first query (it fixes the snapshot), not in a savepoint: none is exported from those
                snapshot_id = db.one(conn.execute("SELECT pg_export_snapshot()"))[0]
            except psycopg.Error:
                raise _NoSnapshotExport from None
        version, version_num = db.server_version(conn)
        timescale = db.extension_version(conn, "timescaledb")
        schemas = {
            name: read_table_schema(conn, name, src, timescaledb=timescale is not None)
            for name, src in params.sources.items()
        }
        for name, table in schemas.items():
            check_time_column(name, params.sources[name], table)
        objects = read_objects(conn, [(t.schema, t.name) for t in schemas.values()])
        schemas = {name: replace(t, objects=objects[(t.schema, t.name)]) for name, t in schemas.items()}
        algorithm = algorithm_for(db.server_encoding(conn))

        def measure(on: psycopg.Connection, name: str, where: sql.Composable | None) -> TableSums:
            return table_sums(on, params.sources[name], schemas[name], algorithm, where)

        candidates = {
            name: found
            for name in params.sources
            if previous is not None
            and (found := previous.candidates(name, schemas[name], params.sources[name], algorithm))
        }
        # Tables with files to reuse: their period sums decide what to export, so they come
        # first, each scan split in two at about half its rows (by the previous snapshot's files).
        first = {name: _first_share(params.sources[name], schemas[name], found) for name, found in candidates.items()}
        rest = [name for name in params.sources if name not in first]
        with checksums_alongside(conn, snapshot_id, schemas, measure, first=first, rest=rest) as (measured, later):
            tables = []
            for name in params.sources:
                reuse = None
                if previous is not None and name in measured and (periods := measured[name][1]) is not None:
                    reuse = (previous, candidates[name], periods)
                tables.append(_export_table(conn, name, schemas[name], data_dir, params, snapshot_id, reuse))
            sums = {**later.result(), **measured}
            for exported in tables:
                exported.checksum, periods = sums[exported.source]
                if periods is not None:
                    exported.parts = with_fingerprints(exported.parts, periods)
                if exported.checksum.rows != exported.rows:  # the locks prevent it; never publish it
                    raise ExportError(
                        f"table {exported.table.qualified} changed under the export: wrote {exported.rows} rows "
                        f"but its checksum pass counted {exported.checksum.rows}",
                        "nothing was written or pushed; run the snapshot again",
                    )
    return ExportResult(tables, version, version_num, timescale, algorithm, writer_settings(params.backup))


def _first_share(source: Source, table: TableSchema, parts: list[dict[str, Any]]) -> sql.Composable | None:
    """The rows of the periods that held the first half of the previous snapshot's rows
    (sums.first_half), or None: the table's scan is not split."""
    column = table.column(source.time_column or "")
    head = first_half(parts, source.partition)
    return periods_filter(column, source.partition, head) if head and column is not None else None


def _export_table(
    conn: psycopg.Connection,
    source: str,
    table: TableSchema,
    data_dir: Path,
    params: Params,
    snapshot_id: str | None,
    reuse: tuple[Previous, list[dict[str, Any]], dict[str, PeriodSums]] | None = None,
) -> TableExport:
    """Export one table. Each column is first read the cheapest way; a column with values
    that way cannot parse is read again another way (dates and timestamps outside years
    1-9999: the exact epoch expression; numeric NaN/Infinity and timestamps past year
    294246: exact text), and the table exported again.

    reuse: the previous snapshot, this table's parts in it and its period sums now: the
    files of the periods proven unchanged are copied instead (reuse.py), the others exported."""
    partition = params.sources[source].partition
    fallbacks: dict[str, Fallback] = {}
    block_bytes = BLOCK_BYTES
    while True:
        reused: list[Part] = []
        only: list[str] | None = None
        if reuse is not None:
            previous, candidates, periods = reuse
            same = unchanged(candidates, periods)
            copied = copy_verified(previous, same, data_dir.parent, _file_schema(table, fallbacks))
            reused = [Part(p["file"], p["rows"], p["period"]) for p in same if p["period"] in copied]
            if copied:  # else the whole table, as without a previous snapshot (an emptied one too)
                only = [period for period in periods if period not in copied]
        try:
            parts, checks = _write_table(
                conn, source, table, data_dir, params, fallbacks, snapshot_id, block_bytes, only
            )
            break
        except _ReadAgain as again:  # a new fallback changes every file of the table: export it whole
            fallbacks[again.column] = again.fallback
            reuse = None
        except LockBusy:  # a TRUNCATE or ALTER waits for the export: read on its own connection
            snapshot_id = None
        except _RowTooLong:
            needed = _block_for_largest_row(conn, table, [codec_for(c, fallbacks.get(c.name)) for c in table.columns])
            if needed <= block_bytes:  # cannot happen if the bound holds; never loop
                raise ExportError(
                    f"table {table.qualified}: a row does not fit the CSV reader's {block_bytes:,}-byte block",
                    "report this; the snapshot was not written",
                ) from None
            block_bytes = needed
        shutil.rmtree(data_dir / source, ignore_errors=True)
        (data_dir / f"{source}.parquet").unlink(missing_ok=True)
    if reused:
        parts = sorted([*parts, *reused], key=lambda p: period_number(p.period or "", partition))
    return TableExport(
        source=source,
        table=table,
        partition=partition,
        parts=parts,
        checksum=Checksum(-1, ""),  # filled in from the parallel checksum pass
        checks=checks,
        text_columns=sorted(c for c, f in fallbacks.items() if f == "text"),
        time_column=params.sources[source].time_column,
        reused=len(reused),
    )


def _file_schema(table: TableSchema, fallbacks: dict[str, Fallback]) -> pa.Schema:
    """The Arrow schema of the table's files: each field says its PostgreSQL type and encoding;
    the table's description lives once, in schema.json (not in every file's footer)."""
    return pa.schema([arrow_field(c, codec_for(c, fallbacks.get(c.name))) for c in table.columns])


class _ReadAgain(Exception):
    def __init__(self, column: str, fallback: Fallback) -> None:
        self.column, self.fallback = column, fallback


class _RowTooLong(Exception):
    """A row's CSV is longer than the reader's block: read the table again with larger blocks."""


# pyarrow's CSV block size is a 32-bit count; PostgreSQL's own limit (1 GB a value, and COPY
# refuses a row over 1 GB of text) keeps every row below it.
_MAX_BLOCK_BYTES = 2**31 - 1


def _block_for_largest_row(conn: psycopg.Connection, table: TableSchema, codecs: list[Codec]) -> int:
    """A CSV block size that holds the table's longest row, measured in the export's snapshot.

    A value's CSV field is its text with every quote doubled, its own quotes and a
    separator; the sum over the columns bounds the row. Costs one scan, only for a table
    whose rows outgrew the default block (values of several MB)."""
    field = sql.SQL(
        "coalesce(2 * pg_catalog.octet_length(v) - pg_catalog.octet_length(pg_catalog.replace(v, '\"', '')) + 3, 1)"
    )
    lengths = [
        sql.SQL("(SELECT {f} FROM (SELECT ({e})::pg_catalog.text AS v) AS x)").format(f=field, e=select_expr(c, k))
        for c, k in zip(table.columns, codecs)
    ]
    query = sql.SQL("SELECT pg_catalog.max({}) FROM {}").format(sql.SQL(" + ").join(lengths), table.identifier())
    with conn.cursor() as cur:
        cur.execute(query)
        row = cur.fetchone()
    longest = int(row[0] or 0) if row else 0
    return min(longest + BLOCK_BYTES, _MAX_BLOCK_BYTES)  # headroom: one default block


def _write_table(
    conn: psycopg.Connection,
    source: str,
    table: TableSchema,
    data_dir: Path,
    params: Params,
    fallbacks: dict[str, Fallback],
    snapshot_id: str | None,
    block_bytes: int = BLOCK_BYTES,
    only: list[str] | None = None,
) -> tuple[list[Part], dict[str, Any]]:
    """The table's files and its row checks (facts.RowChecks); only: the periods to export
    (the others' files are reused), None for all."""
    codecs = [codec_for(c, fallbacks.get(c.name)) for c in table.columns]
    source_params = params.sources[source]
    where: sql.Composable = sql.SQL("")
    if only is not None:
        column = table.column(source_params.time_column or "")
        assert column is not None  # reuse needs the time column
        where = sql.SQL(" WHERE ") + periods_filter(column, source_params.partition, only)
    query = sql.SQL("COPY (SELECT {cols} FROM {table}{where} ORDER BY {order}) TO STDOUT (FORMAT csv)").format(
        cols=sql.SQL(", ").join(select_expr(c, k) for c, k in zip(table.columns, codecs)),
        table=table.identifier(),
        where=where,
        order=sql.SQL(", ").join(sql.Identifier(c) for c in table.order_by()),
    )
    schema = _file_schema(table, fallbacks)
    files = PartFiles(data_dir, source, source_params, table, schema, codecs, params.backup)
    if only == []:  # every period's file reused
        return [], files.checks.to_dict()
    try:
        with (
            row_progress(f"export {source}", _estimated_rows(conn, table)) as bar,
            copy_out(conn, query, snapshot_id, table.identifier()) as stream,
        ):
            for batch in _csv_batches(stream.file, codecs, block_bytes):
                stream.taken()
                files.add(batch)
                bar.advance(batch.num_rows)
        return files.finish(), files.checks.to_dict()
    except pa.ArrowInvalid as exc:
        raise _conversion_error(exc, table, codecs) from None
    finally:
        files.close()


def _conversion_error(exc: pa.ArrowInvalid, table: TableSchema, codecs: list[Codec]) -> Exception:
    """Map pyarrow's CSV conversion error to the column and the kind of value."""
    text = str(exc)
    if text.startswith("straddling object straddles two block boundaries"):
        return _RowTooLong()
    match = re.search(r"column #(\d+)", text)
    if not match:
        return ExportError(f"table {table.qualified}: cannot convert a value: {text.splitlines()[0]}")
    index = int(match.group(1))
    column, codec = table.columns[index], codecs[index]
    value = re.search(r"(?:invalid value|The string) '([^']*)'", text)
    if value and codec.plain and pa.types.is_temporal(codec.csv_type):
        return _ReadAgain(column.name, "epoch")  # infinity, BC, years past 9999
    if value and (
        (pa.types.is_decimal(codec.csv_type) and value.group(1) in _NUMERIC_SPECIALS) or value.group(1) == OUT_OF_RANGE
    ):
        return _ReadAgain(column.name, "text")
    kind = "text that is not valid UTF-8" if "UTF8" in text else f"a {column.pg_type} value"
    return ExportError(
        f"table {table.qualified}, column {column.name}: cannot store {kind} exactly ({text.splitlines()[0]})",
        "report this with the column type; the snapshot was not written",
    )


def _csv_batches(
    stream: pa.NativeFile, codecs: list[Codec], block_bytes: int = BLOCK_BYTES
) -> Iterator[pa.RecordBatch]:
    """The parsed batches of a COPY csv stream; none for an empty table (pyarrow refuses to
    open a stream without a first row)."""
    try:
        reader = _csv_reader(stream, codecs, block_bytes)
    except pa.ArrowInvalid as exc:
        if str(exc).startswith("Empty CSV file"):
            return
        raise
    yield from reader


def _csv_reader(
    stream: pa.NativeFile, codecs: list[Codec], block_bytes: int = BLOCK_BYTES
) -> pa_csv.CSVStreamingReader:
    names = [f"c{i}" for i in range(len(codecs))]
    return pa_csv.open_csv(
        stream,
        read_options=pa_csv.ReadOptions(
            column_names=names,
            block_size=block_bytes,
            # Blocks grown for rows of many MB: parse one at a time, not one per core ahead.
            use_threads=block_bytes <= BLOCK_BYTES,
        ),
        parse_options=pa_csv.ParseOptions(newlines_in_values=any(pa.types.is_string(k.csv_type) for k in codecs)),
        convert_options=pa_csv.ConvertOptions(
            column_types={n: k.csv_type for n, k in zip(names, codecs)},
            # COPY csv writes NULL as an unquoted empty field and '' as "": keep them apart.
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],
        ),
    )


def _estimated_rows(conn: psycopg.Connection, table: TableSchema) -> int | None:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", (table.identifier().as_string(conn),)
        )
        row = cur.fetchone()
    return int(row[0]) if row and row[0] and row[0] > 0 else None


def schema_document(result: ExportResult) -> dict[str, Any]:
    """Contents of seeds/schema.json: deterministic for the same database content."""
    return {
        "snapshot_format": SNAPSHOT_FORMAT,
        "server": {
            "postgres_version": result.server_version,
            "postgres_version_num": result.server_version_num,
            "timescaledb_version": result.timescaledb_version,
        },
        "writer": result.writer,
        "tables": {
            t.source: {
                "partition": t.partition,
                "parts": [p.to_dict() for p in t.parts],
                "rows": t.rows,
                "content_checksum": t.checksum.digest,
                "checks": t.checks,
                "checksum_algorithm": result.checksum_algorithm,
                "text_columns": t.text_columns,
                "time_column": t.time_column,
                "schema": t.table.to_dict(),
            }
            for t in result.tables
        },
    }
