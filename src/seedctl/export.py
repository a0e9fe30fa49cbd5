"""Export: every configured table, at one point in time, to deterministic Parquet files.

All tables are read inside ONE `REPEATABLE READ READ ONLY` transaction (the consistency
pg_dump gives), each streamed with `COPY (SELECT ... ORDER BY <primary key>) TO STDOUT`
(csv) through pyarrow's streaming CSV reader, in bounded batches, into Parquet row groups
of exactly `backup.batch_rows` rows. Each row group is written from one contiguous chunk
with fixed writer settings, so the same rows always give the same bytes.

Output (replaced atomically only when every table succeeded):
    seeds/data/<source>.parquet   one file per source
    seeds/schema.json             catalog description of every table + server versions
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from psycopg import sql

from seedctl import db
from seedctl.catalog import TableSchema, read_table_schema
from seedctl.checksum import Checksum, table_checksum
from seedctl.config import Backup, Params
from seedctl.errors import DatabaseError, ExportError, SeedctlError
from seedctl.pgtypes import OUT_OF_RANGE, Codec, arrow_field, codec_for, select_expr, to_storage
from seedctl.progress import RowCounter, row_progress
from seedctl.tools import pid_alive

SNAPSHOT_FORMAT = 1  # bump when the layout or encodings change incompatibly
DATA_DIR = "data"
SCHEMA_FILE = "schema.json"
_CSV_BLOCK_BYTES = 4 << 20
_NUMERIC_SPECIALS = {"NaN", "Infinity", "-Infinity"}


@dataclass
class TableExport:
    source: str
    table: TableSchema
    file: str  # relative to the seeds directory
    rows: int
    checksum: Checksum
    text_columns: list[str] = field(default_factory=list)


@dataclass
class ExportResult:
    tables: list[TableExport]
    server_version: str
    server_version_num: int
    timescaledb_version: str | None


def run_export(params: Params, seeds_dir: Path) -> ExportResult:
    """Snapshot every source in params into seeds_dir (data/ and schema.json)."""
    seeds_dir.mkdir(parents=True, exist_ok=True)
    staging = seeds_dir / f".export-{os.getpid()}"
    _remove_stale_staging(seeds_dir)
    staging.mkdir()
    try:
        with db.connect() as conn:
            result = _export_all(conn, params, staging / DATA_DIR)
        _write_json(staging / SCHEMA_FILE, schema_document(result))
        _publish(staging, seeds_dir)
    except OSError as exc:
        space = exc.errno == errno.ENOSPC
        raise ExportError(
            f"cannot write the snapshot under {seeds_dir}: {exc.strerror or exc}",
            "free disk space there and run the snapshot again; the previous snapshot is intact"
            if space else "check the directory's permissions; the previous snapshot is intact",
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def preflight(params: Params) -> None:
    """Fail fast, before DVC starts: the database answers and every configured table exists."""
    with db.connect() as conn:
        timescale = db.extension_version(conn, "timescaledb")
        for name, src in params.sources.items():
            read_table_schema(conn, name, src, timescaledb=timescale is not None)


def _export_all(conn: psycopg.Connection, params: Params, data_dir: Path) -> ExportResult:
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    data_dir.mkdir(parents=True)
    try:
        with conn.transaction():
            version, version_num = db.server_version(conn)
            timescale = db.extension_version(conn, "timescaledb")
            schemas = {
                name: read_table_schema(conn, name, src, timescaledb=timescale is not None)
                for name, src in params.sources.items()
            }
            with _checksums_alongside(conn, schemas) as checksums:
                tables = [
                    _export_table(conn, name, schemas[name], data_dir, params.backup)
                    for name in params.sources
                ]
                for table in tables:
                    table.checksum = checksums.result()[table.source]
                    if table.checksum.rows != table.rows:  # impossible in one snapshot; guard anyway
                        raise ExportError(f"table {table.table.qualified}: wrote {table.rows} rows "
                                          f"but the snapshot has {table.checksum.rows}")
    except psycopg.Error as exc:
        raise DatabaseError(
            f"export failed: {db.first_line(exc)}",
            "nothing was written; check the server and run the snapshot again",
        ) from None
    return ExportResult(tables, version, version_num, timescale)


@contextmanager
def _checksums_alongside(
    conn: psycopg.Connection, schemas: dict[str, TableSchema]
) -> Iterator[Future[dict[str, Checksum]]]:
    """Content checksums of every table, computed on a second connection that shares the
    export's snapshot (pg_export_snapshot), while the first one streams the rows: the two
    server processes use both cores instead of scanning every table twice in a row."""
    try:
        with conn.transaction():  # a savepoint: a refusal must not abort the export
            snapshot_id = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
    except psycopg.Error:
        snapshot_id = None  # e.g. a server that cannot export snapshots: compute in line
    with ThreadPoolExecutor(max_workers=1) as pool:
        if snapshot_id is None:
            done: Future[dict[str, Checksum]] = Future()
            done.set_result({n: _checksum(conn, t) for n, t in schemas.items()})
            yield done
            return
        yield pool.submit(_checksums_at, snapshot_id, schemas)


def _checksums_at(snapshot_id: str, schemas: dict[str, TableSchema]) -> dict[str, Checksum]:
    with db.connect() as other:
        other.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        other.read_only = True
        with other.transaction():
            other.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot_id)))
            return {name: _checksum(other, table) for name, table in schemas.items()}


def _checksum(conn: psycopg.Connection, table: TableSchema) -> Checksum:
    return table_checksum(conn, table.identifier(), [c.name for c in table.columns])


def _export_table(
    conn: psycopg.Connection, source: str, table: TableSchema, data_dir: Path, backup: Backup
) -> TableExport:
    """Export one table; a column with values its compact encoding cannot hold (numeric
    NaN/Infinity, timestamps past year 294246) is exported again as exact text."""
    forced_text: set[str] = set()
    while True:
        try:
            rows = _write_table(conn, source, table, data_dir / f"{source}.parquet", backup, forced_text)
            break
        except _NeedsText as special:
            forced_text.add(special.column)
    return TableExport(
        source=source,
        table=table,
        file=f"{DATA_DIR}/{source}.parquet",
        rows=rows,
        checksum=Checksum(-1, ""),  # filled in from the parallel checksum pass
        text_columns=sorted(forced_text),
    )


class _NeedsText(Exception):
    def __init__(self, column: str) -> None:
        self.column = column


def _write_table(
    conn: psycopg.Connection,
    source: str,
    table: TableSchema,
    path: Path,
    backup: Backup,
    forced_text: set[str],
) -> int:
    codecs = [codec_for(c, force_text=c.name in forced_text) for c in table.columns]
    schema = pa.schema(
        [arrow_field(c, k) for c, k in zip(table.columns, codecs)],
        metadata={"seedctl.table": json.dumps(table.to_dict(), sort_keys=True)},
    )
    query = sql.SQL("COPY (SELECT {cols} FROM {table} ORDER BY {order}) TO STDOUT (FORMAT csv)").format(
        cols=sql.SQL(", ").join(select_expr(c, k) for c, k in zip(table.columns, codecs)),
        table=table.identifier(),
        order=sql.SQL(", ").join(sql.Identifier(c) for c in table.order_by()),
    )
    estimate = _estimated_rows(conn, table)
    with conn.cursor() as cur, cur.copy(query) as copy:
        writer = pq.ParquetWriter(path, schema, **_writer_options(backup))
        try:
            with row_progress(f"export {source}", estimate) as bar:
                with _piped(copy) as stream:
                    reader = _csv_reader(stream, codecs)
                    return _stream_row_groups(reader, writer, schema, codecs, backup.batch_rows, bar)
        except pa.ArrowInvalid as exc:
            raise _conversion_error(exc, table, codecs) from None
        finally:
            writer.close()


def _stream_row_groups(
    reader: pa_csv.CSVStreamingReader,
    writer: pq.ParquetWriter,
    schema: pa.Schema,
    codecs: list[Codec],
    group_rows: int,
    bar: RowCounter,
) -> int:
    pending: list[pa.RecordBatch] = []
    pending_rows = total = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        columns = [to_storage(batch.column(i), k) for i, k in enumerate(codecs)]
        pending.append(pa.RecordBatch.from_arrays(columns, schema=schema))
        pending_rows += batch.num_rows
        total += batch.num_rows
        bar.advance(batch.num_rows)
        # One contiguous chunk per row group: pyarrow's bytes depend on chunking.
        while pending_rows >= group_rows:
            buffered = pa.Table.from_batches(pending, schema)
            writer.write_table(buffered.slice(0, group_rows).combine_chunks(), row_group_size=group_rows)
            rest = buffered.slice(group_rows).combine_chunks()
            pending, pending_rows = rest.to_batches(), rest.num_rows
    if pending_rows:
        writer.write_table(pa.Table.from_batches(pending, schema).combine_chunks(), row_group_size=group_rows)
    return total


def _conversion_error(exc: pa.ArrowInvalid, table: TableSchema, codecs: list[Codec]) -> Exception:
    """Map pyarrow's CSV conversion error to the column and the kind of value."""
    text = str(exc)
    match = re.search(r"column #(\d+)", text)
    if not match:
        return ExportError(f"table {table.qualified}: cannot convert a value: {text.splitlines()[0]}")
    index = int(match.group(1))
    column, codec = table.columns[index], codecs[index]
    value = re.search(r"(?:invalid value|The string) '([^']*)'", text)
    if value and (
        (pa.types.is_decimal(codec.csv_type) and value.group(1) in _NUMERIC_SPECIALS)
        or value.group(1) == OUT_OF_RANGE
    ):
        return _NeedsText(column.name)
    kind = "text that is not valid UTF-8" if "UTF8" in text else f"a {column.pg_type} value"
    return ExportError(
        f"table {table.qualified}, column {column.name}: cannot store {kind} exactly "
        f"({text.splitlines()[0]})",
        "report this with the column type; the snapshot was not written",
    )


def _csv_reader(stream: pa.NativeFile, codecs: list[Codec]) -> pa_csv.CSVStreamingReader:
    names = [f"c{i}" for i in range(len(codecs))]
    return pa_csv.open_csv(
        stream,
        read_options=pa_csv.ReadOptions(column_names=names, block_size=_CSV_BLOCK_BYTES),
        parse_options=pa_csv.ParseOptions(
            newlines_in_values=any(pa.types.is_string(k.csv_type) for k in codecs)
        ),
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


@contextmanager
def _piped(copy: psycopg.Copy) -> Iterator[pa.NativeFile]:
    """COPY's rows, pumped by a thread into an OS pipe that pyarrow reads natively.

    psycopg hands COPY data over one row per call; feeding those calls to pyarrow through a
    Python file object costs more than the parsing. Here a thread writes the rows into a
    buffered pipe, and pyarrow reads it back in whole blocks (a few hundred calls).
    """
    read_fd, write_fd = os.pipe()
    failures: list[BaseException] = []

    def pump() -> None:
        try:
            with os.fdopen(write_fd, "wb", buffering=1 << 20) as sink:
                for row in copy:
                    sink.write(row)
        except BrokenPipeError:
            pass  # the reader stopped early (a conversion error); it reports why
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failures.append(exc)

    thread = threading.Thread(target=pump, name="seedctl-copy-pump", daemon=True)
    thread.start()
    source = os.fdopen(read_fd, "rb", buffering=_CSV_BLOCK_BYTES)  # whole blocks per read
    try:
        yield pa.PythonFile(source, mode="r")
    finally:
        source.close()  # a pump still writing now gets EPIPE and stops
        thread.join()
    if failures:
        raise failures[0]


def _writer_options(backup: Backup) -> dict[str, Any]:
    return {
        "compression": None if backup.compression == "none" else backup.compression,
        "compression_level": backup.compression_level,
        "store_decimal_as_integer": True,
        "write_statistics": True,
        "use_dictionary": True,
    }


def _estimated_rows(conn: psycopg.Connection, table: TableSchema) -> int | None:
    with conn.cursor() as cur:
        cur.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                    (table.identifier().as_string(conn),))
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
        "tables": {
            t.source: {
                "file": t.file,
                "rows": t.rows,
                "content_checksum": t.checksum.digest,
                "text_columns": t.text_columns,
                "schema": t.table.to_dict(),
            }
            for t in result.tables
        },
    }


def _write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _publish(staging: Path, seeds_dir: Path) -> None:
    """Swap the finished export into place; a crash before this leaves the old one intact."""
    target = seeds_dir / DATA_DIR
    old = seeds_dir / f".old-{os.getpid()}"
    if target.exists():
        target.rename(old)
    (staging / DATA_DIR).rename(target)
    os.replace(staging / SCHEMA_FILE, seeds_dir / SCHEMA_FILE)
    shutil.rmtree(old, ignore_errors=True)


def _remove_stale_staging(seeds_dir: Path) -> None:
    """Leftovers of a killed export are never mistaken for a snapshot: remove them
    (but not those of an export that is still running)."""
    for stale in [*seeds_dir.glob(".export-*"), *seeds_dir.glob(".old-*")]:
        pid = stale.name.rsplit("-", 1)[-1]
        if stale.is_dir() and not (pid.isdigit() and pid_alive(int(pid))):
            shutil.rmtree(stale, ignore_errors=True)



def load_schema_document(seeds_dir: Path) -> dict[str, Any]:
    path = seeds_dir / SCHEMA_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeedctlError(f"{path} is missing", "run the export stage first (dvc repro)") from None
