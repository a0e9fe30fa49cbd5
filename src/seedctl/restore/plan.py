"""Planning a restore: each table's action under the mode, and every refusal that must come
before the first write (a non-empty table in safe mode, columns the snapshot's rows do not
fit, a TRUNCATE another table's foreign key forbids).

Modes (never overwrite a non-empty table unless asked):
  safe     default; refuse if any target table has rows
  replace  empty the tables (TRUNCATE, in the same transaction) and load
  append   insert only rows whose primary key is missing; keep the rest
  missing  load tables that are absent or empty, leave the others (idempotent seeding)

With a time range (--since/--until) the same rules decide, but replace deletes only the
target's rows in the range (DELETE, not TRUNCATE) and append inserts the range's rows, a key
already present being a refusal (load.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import psycopg
from psycopg import sql

from seedctl.errors import RestoreRefused
from seedctl.pg import db
from seedctl.pg.catalog import Column, read_columns, table_oid
from seedctl.pg.ddl import column_problems, widened_columns
from seedctl.restore import Mode
from seedctl.restore.acquire import TableData

Action = Literal["create", "load", "replace", "append", "keep", "create-empty"]


@dataclass
class TableResult:
    data: TableData
    action: Action
    existing_rows: int | None  # None: the table does not exist yet
    loaded_rows: int = 0
    seconds: float = 0.0
    verified: str = ""
    notes: list[str] = field(default_factory=list)
    widened: list[Column] = field(default_factory=list)  # snapshot columns the existing target widens


class Stage(Protocol):
    """Tables the restore creates, loaded over other connections while its transaction loads
    the rest, then switched in by that transaction (parallel.py; load.load_tables calls it)."""

    def take(self, conn: psycopg.Connection, results: list[TableResult]) -> set[int]:
        """Before any write: start loading the tables it can; the id() of their results."""

    def switch(self, conn: psycopg.Connection) -> None:
        """Once the other tables are loaded: wait, then move its tables in, in this transaction."""


def plan(conn: psycopg.Connection, tables: list[TableData], mode: Mode, *, named: bool = False) -> list[TableResult]:
    """Each table's action under `mode`; RestoreRefused if `safe` meets a non-empty table,
    if an existing table to load has columns the snapshot's rows do not fit, or (named: the
    tables were chosen with --table) if a table would be created without a table it references."""
    results = []
    for data in tables:
        existing = _existing_rows(conn, data)
        if existing is None:
            action: Action = "create" if data.origin != "empty" else "create-empty"
        elif existing == 0:
            action = "load"
        elif mode == "replace":
            action = "replace"
        elif mode == "append":
            action = "append"
        elif mode == "missing":
            action = "keep"
        else:
            action = "keep"
        results.append(TableResult(data, action, existing))
    _check_existing_columns(conn, results)
    _check_truncatable(conn, results)
    if named:
        _check_referenced(conn, results)
    if mode == "safe":
        busy = [r for r in results if r.existing_rows]
        if busy:
            listed = ", ".join(f"{r.data.table.qualified} has {r.existing_rows:,} rows" for r in busy)
            raise RestoreRefused(
                f"target is not empty: {listed}",
                "use --mode replace (overwrite), append (add missing rows) or missing (only empty tables)",
            )
    return results


def _check_existing_columns(conn: psycopg.Connection, results: list[TableResult]) -> None:
    """The one rule for existing target tables (ddl.column_problems), before any write."""
    problems = []
    for result in results:
        if result.existing_rows is None or result.action == "keep":
            continue
        table = result.data.table
        oid = table_oid(conn, table.identifier())
        target = read_columns(conn, oid) if oid is not None else []
        problems += column_problems(table, target)
        result.widened = widened_columns(table, target)
    if problems:
        what, fix = problems[0]
        more = f" (and {len(problems) - 1} more column problem(s))" if len(problems) > 1 else ""
        raise RestoreRefused(f"{what}{more}", f"nothing was changed; {fix}")


# Foreign keys between existing tables on the target: (referencing, referenced, name).
_TARGET_FOREIGN_KEYS = """
SELECT cn.nspname || '.' || c.relname, pn.nspname || '.' || p.relname, k.conname
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
JOIN pg_class p ON p.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace
WHERE k.contype = 'f' AND k.conrelid <> k.confrelid AND k.conparentid = 0  -- not the per-partition clones
ORDER BY 1, 2, 3
"""


def _check_truncatable(conn: psycopg.Connection, results: list[TableResult]) -> None:
    """TRUNCATE refuses a table another table references unless both are emptied together:
    refuse before any write if a table to replace is referenced from one this restore
    does not empty."""
    emptied = {r.data.table.qualified for r in results if r.action == "replace" and not r.data.ranged}
    if not emptied:
        return
    for child, parent, name in conn.execute(_TARGET_FOREIGN_KEYS).fetchall():
        if parent in emptied and child not in emptied:
            raise RestoreRefused(
                f"--mode replace cannot empty table {parent}: foreign key {name} of table {child} references it "
                f"and {child} is not replaced by this restore",
                f"nothing was changed; add {child} to sources (and snapshot again), or restore into a new database",
            )


def _check_referenced(conn: psycopg.Connection, results: list[TableResult]) -> None:
    """A table created here gets its recorded foreign keys: the tables they reference must be
    restored with it or be on the target already, or it would be restored half-tied."""
    restored = {r.data.table.qualified for r in results}
    for result in results:
        if result.action not in ("create", "create-empty"):
            continue
        for fk in result.data.table.foreign_keys:
            parent = f"{fk['ref_schema']}.{fk['ref_table']}"
            if parent not in restored and table_oid(conn, sql.Identifier(fk["ref_schema"], fk["ref_table"])) is None:
                raise RestoreRefused(
                    f"table {result.data.source}: foreign key {fk['name']} references table {parent}, which is "
                    "neither restored here nor on the target",
                    f"nothing was changed; add --table {parent} to restore it too",
                )


def load_order(conn: psycopg.Connection, results: list[TableResult]) -> list[TableResult]:
    """Referenced tables before the tables referencing them (foreign keys on the target's
    existing tables are checked as each COPY ends); otherwise the snapshot's order. Tables
    created here get their foreign keys only after every table is loaded."""
    by_name = {r.data.table.qualified: r for r in results}
    parents: dict[str, list[str]] = {name: [] for name in by_name}
    for child, parent, _ in conn.execute(_TARGET_FOREIGN_KEYS).fetchall():
        if child in by_name and parent in by_name:
            parents[child].append(parent)
    ordered: list[TableResult] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:  # done, or on the current path: a cycle keeps the snapshot's order
            return
        seen.add(name)
        for parent in parents[name]:
            visit(parent)
        ordered.append(by_name[name])

    for name in by_name:
        visit(name)
    return ordered


def _existing_rows(conn: psycopg.Connection, data: TableData) -> int | None:
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (data.table.identifier().as_string(conn),))
        if db.one(cur)[0] is None:
            return None
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(data.table.identifier()))
        return int(db.one(cur)[0])
