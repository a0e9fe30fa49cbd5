"""What a table looks like, read from the PostgreSQL catalog (never guessed from data).

The result is saved with every snapshot so that a restore can recreate the table on a
server that has never seen it: columns with their exact types, nullability, primary key,
other indexes and constraints, and the TimescaleDB hypertable settings where present.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from seedctl.config import Source
from seedctl.errors import ConfigError


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str  # format_type(): e.g. "numeric(12,4)", "timestamp with time zone"
    base_type: str  # pg_type.typname of the (domain's base) type: "numeric", "timestamptz"
    typmod: int
    not_null: bool
    identity: str = ""  # "a" ALWAYS, "d" BY DEFAULT, "" not an identity column
    default: str | None = None


@dataclass(frozen=True)
class Hypertable:
    time_column: str
    chunk_interval: str  # PostgreSQL interval text, or an integer for integer time


@dataclass(frozen=True)
class TableSchema:
    schema: str
    name: str
    columns: list[Column]
    primary_key: list[str]
    indexes: list[str] = field(default_factory=list)  # CREATE INDEX statements
    constraints: list[dict[str, str]] = field(default_factory=list)  # unique/check/exclusion
    hypertable: Hypertable | None = None

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def order_by(self) -> list[str]:
        """Primary-key order, else every column: either way a total, repeatable order."""
        return self.primary_key or [c.name for c in self.columns]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableSchema:
        hyper = data.get("hypertable")
        return cls(
            schema=data["schema"],
            name=data["name"],
            columns=[Column(**c) for c in data["columns"]],
            primary_key=list(data["primary_key"]),
            indexes=list(data.get("indexes", [])),
            constraints=list(data.get("constraints", [])),
            hypertable=Hypertable(**hyper) if hyper else None,
        )


def read_table_schema(
    conn: psycopg.Connection, source_name: str, source: Source, *, timescaledb: bool
) -> TableSchema:
    """The catalog's description of a configured source; ConfigError if it does not exist."""
    schema, name = source.schema_name, source.table_name
    qualified = sql.Identifier(schema, name).as_string(conn)
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)::oid", (qualified,))
        row = cur.fetchone()
        oid = row[0] if row else None
        if oid is None:
            raise ConfigError(
                f"sources.{source_name}: table {schema}.{name} does not exist in the database",
                "create it, fix sources.<name>.table in params.yaml, or point DATABASE_URL elsewhere",
            )
        cur.execute(
            """
            SELECT a.attname, format_type(a.atttypid, a.atttypmod),
                   coalesce(bt.typname, t.typname), a.atttypmod, a.attnotnull,
                   a.attidentity::text, pg_get_expr(d.adbin, d.adrelid)
            FROM pg_attribute a
            JOIN pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum
            """,
            (oid,),
        )
        columns = [
            Column(
                name=r[0], pg_type=r[1], base_type=r[2], typmod=r[3], not_null=r[4],
                identity=r[5] or "", default=r[6],
            )
            for r in cur.fetchall()
        ]
        cur.execute(
            """
            SELECT a.attname
            FROM pg_index i
            CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            WHERE i.indrelid = %s AND i.indisprimary
            ORDER BY k.ord
            """,
            (oid,),
        )
        primary_key = [r[0] for r in cur.fetchall()]
        # Indexes that back a constraint are recreated by the constraint itself.
        cur.execute(
            """
            SELECT pg_get_indexdef(i.indexrelid)
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = %s AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
            ORDER BY c.relname
            """,
            (oid,),
        )
        indexes = [r[0] for r in cur.fetchall()]
        cur.execute(
            """
            SELECT conname, contype::text, pg_get_constraintdef(oid)
            FROM pg_constraint
            WHERE conrelid = %s AND contype IN ('u', 'c', 'x')
            ORDER BY conname
            """,
            (oid,),
        )
        constraints = [{"name": r[0], "type": r[1], "definition": r[2]} for r in cur.fetchall()]
    hypertable = _hypertable(conn, schema, name) if timescaledb else None
    table = TableSchema(schema, name, columns, primary_key, indexes, constraints, hypertable)
    _check_configured_columns(source_name, source, table)
    return table


def _hypertable(conn: psycopg.Connection, schema: str, name: str) -> Hypertable | None:
    # timescaledb_information.dimensions exists from TimescaleDB 2.0 on.
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT column_name, coalesce(time_interval::text, integer_interval::text)
            FROM timescaledb_information.dimensions
            WHERE hypertable_schema = %s AND hypertable_name = %s
            ORDER BY dimension_number LIMIT 1
            """,
            (schema, name),
        )
        row = cur.fetchone()
    return Hypertable(time_column=row[0], chunk_interval=str(row[1])) if row else None


def _check_configured_columns(source_name: str, source: Source, table: TableSchema) -> None:
    named = [source.time_column] if source.time_column else []
    named += list(source.column_max_null_ratio)
    if source.ohlcv:
        o = source.ohlcv
        named += [o.open, o.high, o.low, o.close]
    for col in named:
        if table.column(col) is None:
            raise ConfigError(
                f"sources.{source_name}: column '{col}' is not in table {table.qualified}",
                f"columns are: {', '.join(c.name for c in table.columns)}",
            )
