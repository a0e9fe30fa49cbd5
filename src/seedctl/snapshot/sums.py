"""The export's checksum pass: each table's content checksum, and for a partitioned table
the sums of each period of its time column (reuse.py), computed in the export's snapshot,
on a second connection alongside the COPY where it can be."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace

import psycopg
from psycopg import sql

from seedctl.config import Source
from seedctl.errors import DatabaseError
from seedctl.pg import db
from seedctl.pg.catalog import TableSchema
from seedctl.pg.checksum import Checksum, PeriodSums, checksum_columns, period_sums, table_checksum, total
from seedctl.snapshot.writer import Part

# A table's content checksum, and for a partitioned one the sums of each period (reuse.py).
TableSums = tuple[Checksum, dict[str, PeriodSums] | None]


def table_sums(conn: psycopg.Connection, source: Source, table: TableSchema, algorithm: str) -> TableSums:
    names, types = checksum_columns(table.columns)
    column = table.column(source.time_column) if source.time_column else None
    if source.partition == "none" or column is None:
        return table_checksum(conn, table.identifier(), names, algorithm=algorithm, types=types), None
    periods = period_sums(
        conn,
        table.identifier(),
        names,
        types,
        time_column=column.name,
        time_type=column.base_type,
        granularity=source.partition,
        algorithm=algorithm,
    )
    return total(periods), periods


def with_fingerprints(parts: list[Part], periods: dict[str, PeriodSums]) -> list[Part]:
    """Each file with its period's fingerprint, where the period's rows are the file's (a
    file without one is never reused)."""
    return [
        replace(p, fingerprint=s.fingerprint)
        if p.period is not None and (s := periods.get(p.period)) is not None and s.rows == p.rows
        else p
        for p in parts
    ]


@contextmanager
def checksums_alongside(
    conn: psycopg.Connection,
    snapshot_id: str | None,
    names: list[str],
    schemas: dict[str, TableSchema],
    measure: Callable[[psycopg.Connection, str], TableSums],
) -> Iterator[Future[dict[str, TableSums]]]:
    """Content checksums of every table, computed on a second connection that shares the
    export's snapshot (pg_export_snapshot), while the first one streams the rows: the two
    server processes use both cores instead of scanning every table twice in a row. Without
    an exported snapshot (backup.single_connection, or a server that cannot export one), or
    when the second connection cannot lock the tables at once, on the export's own
    connection first, in its transaction: the same snapshot, so the same checksums."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        other = _locked_at(snapshot_id, schemas) if snapshot_id is not None and names else None
        if other is None:
            done: Future[dict[str, TableSums]] = Future()
            done.set_result({name: measure(conn, name) for name in names})
            yield done
            return
        with other:
            yield pool.submit(lambda: {name: measure(other, name) for name in names})


def _locked_at(snapshot_id: str, schemas: dict[str, TableSchema]) -> psycopg.Connection | None:
    """A second connection in the export's snapshot holding ACCESS SHARE on every table, or
    None. NOWAIT, as pg_dump's parallel workers: once a TRUNCATE waits for the export's own
    locks, a new lock request queues behind it, and waiting here would wait forever (the
    export waits for these checksums)."""
    try:
        other = db.connect()
    except DatabaseError as exc:  # e.g. a server that serves one session at a time (PGlite)
        raise DatabaseError(
            f"export failed: its second connection (the checksums alongside): {exc.message}",
            "if the server or the role allows only one connection at a time, set backup.single_connection: true "
            "in params.yaml; nothing was written",
            composed=exc.composed,
        ) from None
    try:
        other.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        other.read_only = True
        other.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot_id)))
        for table in schemas.values():
            other.execute(sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE NOWAIT").format(table.identifier()))
        return other
    except psycopg.errors.LockNotAvailable:
        other.close()
        return None
    except BaseException:
        other.close()
        raise
