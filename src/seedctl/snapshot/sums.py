"""The export's checksum pass: each table's content checksum, and for a partitioned table
the sums of each period of its time column (reuse.py), computed in the export's snapshot,
on a second connection alongside the COPY where it can be."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from typing import Any

import psycopg
from psycopg import sql

from seedctl.config import Partition, Source
from seedctl.errors import DatabaseError
from seedctl.pg import db
from seedctl.pg.catalog import TableSchema
from seedctl.pg.checksum import Checksum, PeriodSums, added, checksum_columns, period_sums, table_checksum, total
from seedctl.snapshot.partition import period_number
from seedctl.snapshot.writer import Part

# A table's content checksum, and for a partitioned one the sums of each period (reuse.py).
TableSums = tuple[Checksum, dict[str, PeriodSums] | None]


def table_sums(
    conn: psycopg.Connection, source: Source, table: TableSchema, algorithm: str, where: sql.Composable | None = None
) -> TableSums:
    """where: only the rows it holds for (a partitioned table's share of a split scan)."""
    names, types = checksum_columns(table.columns)
    column = table.column(source.time_column) if source.time_column else None
    if source.partition == "none" or column is None:
        assert where is None  # only partitioned tables' scans are split
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
        where=where,
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


def first_half(parts: list[dict[str, Any]], granularity: Partition) -> list[str]:
    """The periods of a previous snapshot's first files (in time order) that hold about half
    of its rows: where a table's period-sums scan is split in two. [] when it cannot be."""
    parts = sorted(parts, key=lambda p: period_number(p["period"], granularity))
    rows = sum(p["rows"] for p in parts)
    head: list[str] = []
    seen = 0
    for part in parts:  # while taking the next one brings the share nearer to half
        if head and abs(2 * (seen + part["rows"]) - rows) >= abs(2 * seen - rows):
            break
        head.append(part["period"])
        seen += part["rows"]
    return head if rows and len(head) < len(parts) else []


# How one table's sums are measured on a connection: (conn, name, where) -> its sums, of
# the rows `where` holds for (None: all).
Measure = Callable[[psycopg.Connection, str, sql.Composable | None], TableSums]


@contextmanager
def checksums_alongside(
    conn: psycopg.Connection,
    snapshot_id: str | None,
    schemas: dict[str, TableSchema],
    measure: Measure,
    *,
    first: dict[str, sql.Composable | None],
    rest: list[str],
) -> Iterator[tuple[dict[str, TableSums], Future[dict[str, TableSums]]]]:
    """The sums of the `first` tables, measured now, and the future sums of the `rest`,
    measured while the export streams rows. Both on a second connection that shares the
    export's snapshot (pg_export_snapshot), so that the two server processes use two cores:
    each first table's scan is split in two, the rows its condition holds for read on the
    export's connection and the others on the second one, at once (the export cannot start
    before it knows which periods are unchanged); the rest are scanned on the second
    connection while the first one streams the rows. Without an exported snapshot
    (backup.single_connection, or a server that cannot export one), or when the second
    connection cannot lock the tables at once, all on the export's own connection, in its
    transaction: the same snapshot, so the same sums."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        wanted = rest or any(share is not None for share in first.values())
        other = _locked_at(snapshot_id, schemas) if snapshot_id is not None and wanted else None
        with other if other is not None else nullcontext():
            measured = {name: _split(pool, conn, other, name, share, measure) for name, share in first.items()}
            if other is None:
                later: Future[dict[str, TableSums]] = Future()
                later.set_result({name: measure(conn, name, None) for name in rest})
            else:
                later = pool.submit(lambda: {name: measure(other, name, None) for name in rest})
            yield measured, later


def complement(share: sql.Composable) -> sql.Composable:
    """The rows a condition does not hold for: false or NULL (a NULL time is in no period range)."""
    return sql.SQL("NOT coalesce({}, false)").format(share)


def _split(
    pool: ThreadPoolExecutor,
    conn: psycopg.Connection,
    other: psycopg.Connection | None,
    name: str,
    share: sql.Composable | None,
    measure: Measure,
) -> TableSums:
    """A table's sums in two halves at once: `share`'s rows on conn, the others on other."""
    if other is None or share is None:
        return measure(conn, name, None)
    theirs = pool.submit(measure, other, name, complement(share))
    _, mine = measure(conn, name, share)
    _, others = theirs.result()
    periods = added([mine or {}, others or {}])
    return total(periods), periods


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
