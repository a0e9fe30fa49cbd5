"""Loading a restore's tables in one transaction, all or nothing.

Order of work: one transaction: target tables locked and inspected, the plan (plan.py)
decides each table's action (a refusal here comes before any write), present types and
available extensions checked, missing extensions, types, functions and sequences created,
the tables to replace emptied in one TRUNCATE, missing tables created bare, rows loaded
with COPY (referenced tables first), keys and indexes built, row count and content
checksum compared with the snapshot, sequences raised past the restored ids, foreign keys
of the created tables added -> COMMIT. Any failure, a kill or a lost connection rolls
everything back: the target is exactly as it was.

A time range (partial.py) is loaded through a staging table: the snapshot's rows in the
range (from the verified files), checksummed there; then the target's rows in the range
deleted (replace) and the staged rows inserted; then the target's rows in the range must
have the staged rows' count and checksum. The manifest's checksum covers the whole table
only, so the range's expected checksum is computed from the files' rows themselves.
"""

from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from psycopg import sql

from seedctl import kernels
from seedctl.errors import DatabaseError, RestoreRefused
from seedctl.pg import db
from seedctl.pg.catalog import TableSchema
from seedctl.pg.checksum import Checksum, recorded_checksum
from seedctl.pg.copybinary import HEADER, TRAILER, binary_layout, encode_batch
from seedctl.pg.ddl import (
    add_foreign_key,
    add_keys_and_indexes,
    as_snapshot_types,
    bump_sequences,
    create_extension,
    create_extension_sql,
    create_sequences,
    create_table,
    create_type,
    prerequisites,
    show_name,
)
from seedctl.pg.hypertable import apply_hypertable_settings, make_hypertable
from seedctl.pg.objects import View, create_function, planned_objects, recreate, recreate_views
from seedctl.pg.pgtypes import to_copy_csv
from seedctl.progress import row_progress
from seedctl.restore import Mode
from seedctl.restore.acquire import TableData
from seedctl.restore.partial import in_range, time_column
from seedctl.restore.plan import Stage, TableResult, load_order, plan
from seedctl.timerange import TimeRange, time_mask

_LOCK_TIMEOUT = "60s"


def _add_foreign_keys(conn: psycopg.Connection, results: list[TableResult]) -> None:
    """The recorded foreign keys of the tables created here, once every table is loaded."""
    for result in results:
        if result.action not in ("create", "create-empty"):
            continue
        table = result.data.table
        for fk in table.foreign_keys:
            try:
                with conn.transaction():  # a savepoint, to report this one failure precisely
                    note = add_foreign_key(conn, table, fk)
            except psycopg.errors.ForeignKeyViolation as exc:
                raise RestoreRefused(
                    f"table {table.qualified}: foreign key {fk['name']} does not hold for the restored rows: "
                    f"{db.first_line(exc)}",
                    f"rolled back; nothing was changed. Load {fk['ref_schema']}.{fk['ref_table']}'s rows first "
                    "(or add it to sources) and restore again",
                ) from None
            if note:
                result.notes.append(note)


def _add_table_objects(conn: psycopg.Connection, results: list[TableResult]) -> None:
    """Triggers, row-level security, grants and views of the tables created here, last: no
    trigger fires on a restored row, no policy hides one from the checks. The objects of
    tables that were there already are theirs, left as they are."""
    created = [r for r in results if r.action in ("create", "create-empty")]
    views: dict[tuple[str, str], tuple[View, TableResult]] = {}
    for r in created:
        table = r.data.table
        r.notes += recreate(conn, table.objects, table.identifier(), table.qualified)
        for view in table.objects.views if table.objects else []:
            views.setdefault((view.schema, view.name), (view, r))
    for view, note in recreate_views(conn, [v for v, _ in views.values()]):
        views[(view.schema, view.name)][1].notes.append(note)


def _prepare(conn: psycopg.Connection, results: list[TableResult], *, dry_run: bool) -> None:
    """Extensions and user-defined types the tables need: checked before any write, then
    (unless dry_run) created in dependency order."""
    needed = prerequisites(conn, [r.data.table for r in results if r.action != "keep"])
    if needed.problems:
        what, fix = needed.problems[0]
        raise RestoreRefused(what, f"nothing was changed; {fix}")
    if dry_run:
        return
    by_table = {id(r.data.table): r for r in results}
    for name, table in needed.extensions:
        try:
            with conn.transaction():  # a savepoint, to report this one failure precisely
                create_extension(conn, name)
        except psycopg.Error as exc:
            raise RestoreRefused(
                f"cannot create extension {name} that the snapshot's types need: {db.first_line(exc)}",
                f"nothing was changed; run as a superuser in the target database: {create_extension_sql(name)} "
                "then restore again",
            ) from None
        by_table[id(table)].notes.append(f"created extension {name}")
    for utype, table in needed.types:
        create_type(conn, utype, table)
        by_table[id(table)].notes.append(f"created {utype.kind} type {utype.qualified}")
    for function, table in needed.functions:
        create_function(conn, function, table.qualified)
        by_table[id(table)].notes.append(f"created function {function['signature']}")


def load_tables(
    tables: list[TableData],
    mode: Mode,
    *,
    named: bool = False,
    dry_run: bool = False,
    batch_rows: int = 131072,
    stage: Stage | None = None,
) -> list[TableResult]:
    """Plan and (unless dry_run) execute the restore in one transaction (stage: some tables
    loaded over other connections, switched in by this transaction)."""
    with db.connect() as conn:
        if dry_run:
            conn.read_only = True
            with conn.transaction():
                planned = plan(conn, tables, mode, named=named)
                _prepare(conn, planned, dry_run=True)
                for result in planned:
                    _count_planned(conn, result)
                    if result.action in ("create", "create-empty"):
                        result.notes += planned_objects(result.data.table.objects)
                return planned
        try:
            with conn.transaction():
                with conn.cursor() as cur:
                    cur.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(_LOCK_TIMEOUT)))
                _lock_existing(conn, tables)
                results = plan(conn, tables, mode, named=named)
                staged = stage.take(conn, results) if stage else set()  # before _prepare: others see no type it creates
                _prepare(conn, results, dry_run=False)
                timescale = _timescale(conn, results)
                _truncate(conn, results)
                for result in load_order(conn, results):
                    if id(result) not in staged:
                        apply_in_encoding(conn, result, timescale, batch_rows)
                if stage:
                    stage.switch(conn)
                _add_foreign_keys(conn, results)
                _add_table_objects(conn, results)
        except psycopg.errors.LockNotAvailable:
            raise DatabaseError(
                f"a target table is locked by another session (waited {_LOCK_TIMEOUT})",
                "find it in pg_stat_activity and retry; nothing was changed",
            ) from None
        except psycopg.Error as exc:
            raise DatabaseError(
                f"restore failed and was rolled back: {db.first_line(exc)}",
                "nothing was changed; fix the cause and run the restore again",
            ) from None
    return results


def _timescale(conn: psycopg.Connection, results: list[TableResult]) -> bool:
    """Is TimescaleDB there for the hypertables this restore creates? Created first where
    the server has it but this database does not yet (a fresh database)."""
    if db.extension_version(conn, "timescaledb") is not None:
        return True
    hyper = [r for r in results if r.action in ("create", "create-empty") and r.data.table.hypertable]
    if not hyper:
        return False
    available = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
    if available is None:
        return False
    try:
        with conn.transaction():  # a savepoint, to report this one failure precisely
            create_extension(conn, "timescaledb")
    except psycopg.Error as exc:
        raise RestoreRefused(
            f"cannot create extension timescaledb that the snapshot's hypertables need: {db.first_line(exc)}",
            f"nothing was changed; run as a superuser in the target database: {create_extension_sql('timescaledb')} "
            "then restore again",
        ) from None
    hyper[0].notes.append("created extension timescaledb (this server has it; the snapshot's hypertables need it)")
    return True


def _count_planned(conn: psycopg.Connection, result: TableResult) -> None:
    """The dry run's account of one table, counted as the run counts: the rows it will load
    (a time range: those of the files inside it) and the target's rows it will remove."""
    data = result.data
    if result.action == "keep" or data.origin == "empty":
        return
    column = time_column(data.entry)
    if not data.ranged or column is None or data.fallback is not None:
        result.loaded_rows = data.rows
    elif len(data.parquet) == len(data.parts):
        result.loaded_rows = sum(_rows_in_window(path, column, data) for path in data.parquet)
    else:  # the files are not here yet: only their total is known
        result.loaded_rows = data.rows
        result.notes.append(f"up to {data.rows:,} rows: those of the range are counted once its files are here")
    if result.action != "replace":
        return
    if data.ranged:
        schema_column = data.table.column(column or "")
        assert schema_column is not None, "partial.select lets only tables with a time column through"
        where = in_range(schema_column.name, schema_column.pg_type, data.window)
        removed = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}").format(data.table.identifier(), where))
        result.notes.append(f"{db.one(removed)[0]:,} rows of the range would be deleted first")
    else:
        result.notes.append(f"its {result.existing_rows or 0:,} rows would be emptied first")


def _rows_in_window(path: Path, column: str, data: TableData) -> int:
    """The rows of one data file whose time lies in the restore's window (only that column read)."""
    times = pq.ParquetFile(path).read(columns=[column])
    keep = time_mask(times.column(column), times.schema.field(column), data.window, data.source)
    return int(kernels.call("sum", keep).as_py() or 0)


def _lock_existing(conn: psycopg.Connection, tables: list[TableData]) -> None:
    """No one writes to the targets while we count, load and verify."""
    with conn.cursor() as cur:
        for data in tables:
            cur.execute("SELECT to_regclass(%s)", (data.table.identifier().as_string(conn),))
            if db.one(cur)[0] is not None:
                cur.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(data.table.identifier()))


def _truncate(conn: psycopg.Connection, results: list[TableResult]) -> None:
    """Empty the tables to replace in one TRUNCATE: foreign keys between them allow it.
    A time range replaces only its rows (_load_range)."""
    emptied = [r.data.table.identifier() for r in results if r.action == "replace" and not r.data.ranged]
    if emptied:
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(emptied)))
    for r in results:
        if r.action == "replace" and not r.data.ranged:
            r.notes.append(f"its {r.existing_rows or 0:,} rows emptied first")


def apply_in_encoding(conn: psycopg.Connection, result: TableResult, timescale: bool, batch_rows: int) -> None:
    """_apply, refusing in one line text the target database's encoding cannot hold
    (snapshots hold UTF-8; a LATIN1 database has no euro sign, no CJK)."""
    try:
        _apply(conn, result, timescale, batch_rows)
    except psycopg.errors.UntranslatableCharacter as exc:
        encoding = db.server_encoding(conn)
        raise RestoreRefused(
            f"table {result.data.source}: the snapshot holds text that this {encoding} database cannot store: "
            f"{db.first_line(exc)}",
            "rolled back; nothing was changed. Restore into a database whose encoding is UTF8",
        ) from None


def _apply(conn: psycopg.Connection, result: TableResult, timescale: bool, batch_rows: int) -> None:
    data, table = result.data, result.data.table
    started = time.perf_counter()
    if result.action == "keep":
        result.verified = "untouched"
        return
    if result.action in ("create", "create-empty"):
        create_sequences(conn, table)
        result.notes += create_table(conn, table)
        if table.hypertable and timescale:
            make_hypertable(conn, table)
        elif table.hypertable:
            not_carried = (
                "; not carried by the snapshot either: " + ", ".join(table.hypertable.not_carried)
                if table.hypertable.not_carried
                else ""
            )
            result.notes.append(
                "TimescaleDB is not installed on this server: restored as a plain table, hypertable settings "
                f"not applied ({table.hypertable.describe()}{not_carried})"
            )
    if fired := _insert_triggers(conn, table):  # as pg_restore without --disable-triggers: they fire
        result.notes.append(f"trigger(s) {', '.join(fired)} fired for every restored row")
    if data.ranged:
        _load_range(conn, result, batch_rows)
    elif result.action == "append":
        _append(conn, result, batch_rows)
    else:
        # FREEZE only into a table this transaction created: rows frozen into a TRUNCATEd
        # live table would show to concurrent snapshots older than the restore (RELIABILITY.md).
        fresh = result.action in ("create", "create-empty")
        result.loaded_rows = copy_into(
            conn,
            table.identifier(),
            data,
            batch_rows,
            freeze=fresh and not (table.hypertable and timescale) and not _partitioned(conn, table),
            binary=not result.widened,
        )
        if result.action in ("create", "create-empty"):
            add_keys_and_indexes(conn, table)
        verify_loaded(conn, result, table.identifier())
    if result.action in ("create", "create-empty") and table.hypertable and timescale:
        result.notes += apply_hypertable_settings(conn, table)
    bump_sequences(conn, table)
    result.seconds = time.perf_counter() - started


def _insert_triggers(conn: psycopg.Connection, table: TableSchema) -> list[str]:
    """The enabled user triggers that fire on INSERT (hence on COPY) into the target table."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND NOT tgisinternal "
            "AND tgenabled <> 'D' AND tgtype & 4 <> 0 ORDER BY tgname",  # 4: TRIGGER_TYPE_INSERT
            (table.identifier().as_string(conn),),
        ).fetchall()
    ]


def _partitioned(conn: psycopg.Connection, table: TableSchema) -> bool:
    """Is the target a partitioned table (COPY FREEZE refuses those)?"""
    row = conn.execute(
        "SELECT relkind::text FROM pg_class WHERE oid = to_regclass(%s)", (table.identifier().as_string(conn),)
    ).fetchone()
    return row is not None and row[0] == "p"


def copy_into(
    conn: psycopg.Connection,
    target: sql.Composable,
    data: TableData,
    batch_rows: int,
    *,
    freeze: bool = False,
    binary: bool = False,
) -> int:
    """Stream the table's rows into `target` with COPY; returns rows sent.

    freeze: the table was created or truncated in this transaction, so COPY may write the
    rows already frozen (no later vacuum pass over the whole table).
    binary: target's columns have exactly the snapshot's types, so the rows may go in
    PostgreSQL's binary format where every column maps exactly (copybinary.py; about half
    the server's work of CSV), else CSV.
    """
    if data.origin == "empty":
        return 0
    if data.fallback is not None:
        fb = data.fallback
        query = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT {})").format(
            target, sql.SQL(", ").join(sql.Identifier(c) for c in fb.columns), sql.SQL(fb.copy_format)
        )
        with conn.cursor() as cur, db.copy_in(cur, query) as copy:
            for block in fb.chunks():
                copy.write(block)
        return fb.rows
    if not data.parquet:  # a time range no file of the table overlaps
        return 0
    schema = pq.ParquetFile(data.parquet[0]).schema_arrow
    encoders = binary_layout(schema) if binary else None
    query = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT {}{})").format(
        target,
        sql.SQL(", ").join(sql.Identifier(c) for c in schema.names),
        sql.SQL("binary" if encoders else "csv"),
        sql.SQL(", FREEZE" if freeze else ""),
    )
    render = (lambda batch: encode_batch(batch, encoders)) if encoders else _csv
    sent = 0
    with row_progress(f"restore {data.source}", data.rows) as bar, conn.cursor() as cur, db.copy_in(cur, query) as copy:
        if encoders:
            copy.write(HEADER)
        for chunk, rows in _rendered(
            data.parquet, batch_rows, data.window, time_column(data.entry), data.source, render
        ):
            copy.write(chunk)
            sent += rows
            bar.advance(rows)
        if encoders:
            copy.write(TRAILER)
    return sent


def _csv(batch: pa.RecordBatch) -> memoryview:
    columns = [to_copy_csv(batch.column(i), batch.schema.field(i)) for i in range(batch.num_columns)]
    buf = io.BytesIO()
    pa_csv.write_csv(
        pa.RecordBatch.from_arrays(columns, names=batch.schema.names), buf, pa_csv.WriteOptions(include_header=False)
    )
    return buf.getbuffer()


def _rendered(
    files: list[Path],
    batch_rows: int,
    window: TimeRange,
    column: str | None,
    source: str,
    render: Callable[[pa.RecordBatch], memoryview],
) -> Iterator[tuple[memoryview, int]]:
    """The rows of `files` (those of them in the time window) as COPY chunks, rendered by
    a thread one batch ahead, so the client renders the next batch while the server parses
    this one (pyarrow and numpy release the GIL); at most two rendered batches are held at once."""
    ahead: queue.Queue[tuple[memoryview, int] | BaseException | None] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def offer(item: tuple[memoryview, int] | BaseException | None) -> bool:
        while not stop.is_set():  # the consumer may have stopped: never block forever
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for path in files:
                parquet = pq.ParquetFile(path)
                # Row group by row group: a group of large values holds fewer rows (export's
                # ROW_GROUP_BYTES), and a batch must not gather several such groups.
                batches = (
                    b
                    for g in range(parquet.num_row_groups)
                    for b in parquet.iter_batches(batch_size=batch_rows, row_groups=[g])
                )
                for batch in batches:
                    if column is not None and not window.unbounded:
                        keep = time_mask(batch.column(column), batch.schema.field(column), window, source)
                        batch = kernels.filter_rows(batch, keep)
                    if not offer((render(batch), batch.num_rows)):
                        return
            offer(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread
            offer(exc)

    thread = threading.Thread(target=produce, name="seedctl-render", daemon=True)
    thread.start()
    try:
        while (item := ahead.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def verify_loaded(conn: psycopg.Connection, result: TableResult, target: sql.Composable) -> None:
    """Row count, and for snapshot data the content checksum, or roll back."""
    data = result.data
    got = _checksum(conn, result, target)
    if got.rows != result.loaded_rows:
        raise RestoreRefused(
            f"table {data.source}: {got.rows} rows after loading, expected {result.loaded_rows}",
            "rolled back; nothing was changed",
        )
    if data.origin in ("local", "cache", "remote"):
        if got.digest != data.entry["content_checksum"]:
            _changed(conn, data)
        result.verified = "rows + checksum"
    else:
        result.verified = "rows" if data.origin == "fallback" else "empty"


def _checksum(conn: psycopg.Connection, result: TableResult, relation: sql.Composable) -> Checksum:
    """The content checksum of `relation` as the snapshot computes it, or roll back."""
    data = result.data
    try:
        with conn.transaction():  # a savepoint: the refusal below rolls everything back anyway
            return recorded_checksum(conn, as_snapshot_types(relation, data.table, result.widened), data.entry)
    except (psycopg.errors.UndefinedFunction, psycopg.errors.DatatypeMismatch):
        raise RestoreRefused(
            f"table {data.source}: cannot compare the loaded rows with the snapshot: the target's "
            "column types differ from the snapshot's",
            "rolled back; nothing was changed. Restore into a new database",
        ) from None


def _changed(conn: psycopg.Connection, data: TableData) -> None:
    """The loaded rows' checksum differs from the snapshot's: refuse, naming the triggers that
    fire on INSERT if there are any (the likely cause)."""
    if fired := _insert_triggers(conn, data.table):
        name = show_name(data.table.schema, data.table.name)
        disable = " ".join(f"ALTER TABLE {name} DISABLE TRIGGER {show_name(t)};" for t in fired)
        raise RestoreRefused(
            f"table {data.source}: content checksum after loading differs from the snapshot's: trigger(s) "
            f"{', '.join(fired)} on {name} changed the rows as they were loaded",
            f"rolled back; nothing was changed. Restore with them disabled ({disable} restore, then ENABLE "
            "TRIGGER) or restore into a new database",
        )
    raise RestoreRefused(
        f"table {data.source}: content checksum after loading differs from the snapshot's",
        "rolled back; nothing was changed. The target table changed the rows as they were loaded "
        "(a trigger, a rule or a column definition): restore into a new database",
    )


def _load_range(conn: psycopg.Connection, result: TableResult, batch_rows: int) -> None:
    """The snapshot's rows in the time range, in place of the target's (replace) or added to
    them; then the target's rows in the range must be exactly the staged ones."""
    data, table = result.data, result.data.table
    schema_column = table.column(time_column(data.entry) or "")
    assert schema_column is not None, "partial.select lets only tables with a time column through"
    staging = sql.Identifier(f"seedctl_stage_{data.source}")
    conn.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {}) ON COMMIT DROP").format(staging, table.identifier()))
    result.loaded_rows = copy_into(conn, staging, data, batch_rows, binary=not result.widened)
    expected = _checksum(conn, result, staging)  # the range's rows, straight from the verified files
    where = in_range(schema_column.name, schema_column.pg_type, data.window)
    if result.action == "replace":
        deleted = conn.execute(sql.SQL("DELETE FROM {} WHERE {}").format(table.identifier(), where)).rowcount
        result.notes.append(f"{deleted:,} rows of the range deleted first")
    cols = sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns)
    try:
        with conn.transaction():  # a savepoint, to report a key conflict precisely
            # OVERRIDING SYSTEM VALUE: the snapshot's ids go into GENERATED ALWAYS columns as is
            conn.execute(
                sql.SQL("INSERT INTO {t} ({c}) OVERRIDING SYSTEM VALUE SELECT {c} FROM {s}").format(
                    t=table.identifier(), c=cols, s=staging
                )
            )
    except psycopg.errors.UniqueViolation as exc:
        raise RestoreRefused(
            f"table {data.source}: rows of the range are already in the target: {db.first_line(exc)}",
            "rolled back; nothing was changed. Use --mode replace to overwrite the range's rows",
        ) from None
    if result.action in ("create", "create-empty"):
        add_keys_and_indexes(conn, table)
    in_target = sql.SQL("(SELECT * FROM {} WHERE {}) AS seedctl_range").format(table.identifier(), where)
    got = _checksum(conn, result, in_target)
    if got.rows != expected.rows:
        raise RestoreRefused(
            f"table {data.source}: {got.rows} rows in the range after loading, expected {expected.rows}",
            "rolled back; nothing was changed. The target holds other rows in the range (use --mode replace)",
        )
    if got.digest != expected.digest:
        _changed(conn, data)
    result.verified = "range rows + checksum"


def _append(conn: psycopg.Connection, result: TableResult, batch_rows: int) -> None:
    """Load into a staging copy, verify it, then insert the rows whose key is missing."""
    data, table = result.data, result.data.table
    if not table.primary_key:
        raise RestoreRefused(
            f"table {data.source}: append needs a primary key and the snapshot has none", "use --mode replace"
        )
    staging = sql.Identifier(f"seedctl_stage_{data.source}")
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {}) ON COMMIT DROP").format(staging, table.identifier()))
    result.loaded_rows = copy_into(conn, staging, data, batch_rows, binary=not result.widened)
    verify_loaded(conn, result, staging)
    cols = sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns)
    key = sql.SQL(", ").join(sql.Identifier(c) for c in table.primary_key)
    with conn.cursor() as cur:
        cur.execute(
            # OVERRIDING SYSTEM VALUE: the snapshot's ids go into GENERATED ALWAYS columns as is
            sql.SQL("INSERT INTO {t} ({c}) OVERRIDING SYSTEM VALUE SELECT {c} FROM {s} ON CONFLICT DO NOTHING").format(
                t=table.identifier(), c=cols, s=staging
            )
        )
        inserted = cur.rowcount
        cur.execute(
            sql.SQL("SELECT count(*) FROM {s} s WHERE NOT EXISTS (SELECT 1 FROM {t} t WHERE ({tk}) = ({sk}))").format(
                s=staging,
                t=table.identifier(),
                tk=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in table.primary_key),
                sk=sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c in table.primary_key),
            )
        )
        absent = db.one(cur)[0]
    if absent:
        raise RestoreRefused(
            f"table {data.source}: {absent} snapshot keys still missing after append (on {key.as_string(conn)})",
            "rolled back",
        )
    result.notes.append(f"{inserted:,} new rows inserted, {result.loaded_rows - inserted:,} already present")
    result.loaded_rows = inserted
