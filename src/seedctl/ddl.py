"""Recreate a table from the schema captured in a snapshot.

The table is created bare (columns, types, NOT NULL, identity, plain defaults), loaded,
and only then given its primary key, constraints and indexes: building them once over
the loaded rows is much faster than maintaining them row by row. Type names and index
definitions come from the snapshot's own catalog dump; they are checked for shape so that
an edited manifest cannot smuggle a second statement in.
"""

from __future__ import annotations

import re

import psycopg
from psycopg import sql

from seedctl.catalog import TableSchema
from seedctl.errors import IntegrityError

# format_type() output: words, digits, spaces, commas, parentheses, brackets, dots, quotes.
_TYPE_SHAPE = re.compile(r'[A-Za-z0-9_ ,()\[\]."]+')
_INDEX_SHAPE = re.compile(r"CREATE (UNIQUE )?INDEX [^;]+")
_CONSTRAINT_SHAPE = re.compile(r"(UNIQUE|CHECK|EXCLUDE) [^;]+")


def _checked(pattern: re.Pattern[str], text: str, what: str, table: TableSchema) -> str:
    if not pattern.fullmatch(text):
        raise IntegrityError(
            f"snapshot schema of {table.qualified}: unexpected {what} {text[:80]!r}",
            "the manifest may have been edited; restore it from git",
        )
    return text


def create_table(conn: psycopg.Connection, table: TableSchema) -> list[str]:
    """CREATE TABLE without keys or indexes; returns notes for the operator."""
    notes = []
    columns = []
    for col in table.columns:
        parts = [sql.Identifier(col.name), sql.SQL(_checked(_TYPE_SHAPE, col.pg_type, "type", table))]
        if col.identity:
            kind = "ALWAYS" if col.identity == "a" else "BY DEFAULT"
            parts.append(sql.SQL(f"GENERATED {kind} AS IDENTITY"))
        elif col.default and "nextval(" in col.default:
            notes.append(f"column {col.name}: default {col.default} not recreated (its sequence is not part of the snapshot)")
        elif col.default:
            parts.append(sql.SQL("DEFAULT {}").format(sql.SQL(_checked(re.compile(r"[^;]+"), col.default, "default", table))))
        if col.not_null:
            parts.append(sql.SQL("NOT NULL"))
        columns.append(sql.SQL(" ").join(parts))
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(table.schema)))
        cur.execute(sql.SQL("CREATE TABLE {} ({})").format(table.identifier(), sql.SQL(", ").join(columns)))
    return notes


def make_hypertable(conn: psycopg.Connection, table: TableSchema) -> None:
    """Turn the (still empty) table into a TimescaleDB hypertable as in the snapshot."""
    assert table.hypertable is not None
    interval = table.hypertable.chunk_interval
    chunk = sql.SQL("{}::interval").format(sql.Literal(interval)) if not interval.isdigit() else sql.Literal(int(interval))
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("SELECT create_hypertable({t}, {c}, chunk_time_interval => {i})").format(
                t=sql.Literal(table.identifier().as_string(conn)), c=sql.Literal(table.hypertable.time_column), i=chunk
            )
        )


def add_keys_and_indexes(conn: psycopg.Connection, table: TableSchema) -> None:
    """Primary key, unique/check constraints and indexes, after the rows are in."""
    with conn.cursor() as cur:
        if table.primary_key:
            cur.execute(
                sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
                    table.identifier(), sql.SQL(", ").join(sql.Identifier(c) for c in table.primary_key)
                )
            )
        for constraint in table.constraints:
            cur.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                    table.identifier(),
                    sql.Identifier(constraint["name"]),
                    sql.SQL(_checked(_CONSTRAINT_SHAPE, constraint["definition"], "constraint", table)),
                )
            )
        for index in table.indexes:
            cur.execute(sql.SQL(_checked(_INDEX_SHAPE, index, "index", table)))  # type: ignore[arg-type]


def bump_identities(conn: psycopg.Connection, table: TableSchema) -> None:
    """Identity sequences continue after the restored rows; they are only ever raised.

    setval() is not transactional: if the restore is rolled back the sequence keeps its
    new value. Touching it only when a restored id would otherwise come up again means a
    rolled-back restore can at worst skip ids, never hand out one a row already has.
    """
    with conn.cursor() as cur:
        for col in table.columns:
            if not col.identity:
                continue
            cur.execute(
                sql.SQL(
                    "SELECT setval(x.seq, x.top + 1, false) FROM ("
                    " SELECT s.seq, (SELECT max({ci}) FROM {ti}) AS top,"
                    " coalesce(pg_sequence_last_value(s.seq),"
                    " (SELECT seqstart - 1 FROM pg_sequence WHERE seqrelid = s.seq)) AS used"
                    " FROM (SELECT pg_get_serial_sequence({t}, {c})::regclass AS seq) s) x"
                    " WHERE x.top IS NOT NULL AND x.top > x.used"
                ).format(
                    t=sql.Literal(table.identifier().as_string(conn)),
                    c=sql.Literal(col.name),
                    ci=sql.Identifier(col.name),
                    ti=table.identifier(),
                )
            )
