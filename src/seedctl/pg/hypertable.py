"""TimescaleDB hypertables: what makes a table one (read from TimescaleDB's information
views at snapshot time) and how a restore makes the recreated table one again.

The functions take any table record with an identifier() and a hypertable (catalog.TableSchema),
so that this module does not import the catalog, which records a Hypertable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg
from psycopg import sql

from seedctl.errors import ConfigError


class HypertableRecord(Protocol):
    """A recorded table as the restore's hypertable steps need it (catalog.TableSchema)."""

    @property
    def hypertable(self) -> Hypertable | None: ...

    def identifier(self) -> sql.Identifier: ...


@dataclass(frozen=True)
class Hypertable:
    """What makes a table a TimescaleDB hypertable, as TimescaleDB's information views say.

    Intervals are PostgreSQL interval text ("30 days"), or an integer for integer time."""

    time_column: str
    chunk_interval: str
    # Space partitions: [{"column": ..., "partitions": "4"}] (hash dimensions after the time one).
    space: list[dict[str, str]] = field(default_factory=list)
    # Compression settings, None if compression is off: {"segmentby": [column, ...],
    # "orderby": [{"column": ..., "asc": "true"|"false", "nulls_first": "true"|"false"}]}.
    compression: dict[str, Any] | None = None
    # The policies seedctl re-applies: {"compress_after": interval} and {"drop_after": interval}.
    policies: dict[str, str] = field(default_factory=dict)
    # TimescaleDB objects on the hypertable that a restore does NOT recreate, by name
    # ("continuous aggregate public.x", "job 1002 public.my_action"): said at snapshot and restore.
    not_carried: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """The settings in one phrase, for the line that says they were not applied."""
        parts = [f"time dimension {self.time_column} with chunk interval {self.chunk_interval}"]
        parts += [f"space partitions on {d['column']} ({d['partitions']})" for d in self.space]
        if self.compression is not None:
            order = ", ".join(
                f"{o['column']} {'ASC' if o['asc'] == 'true' else 'DESC'}" for o in self.compression["orderby"]
            )
            parts.append(
                f"compression (segmentby {', '.join(self.compression['segmentby']) or '-'}, orderby {order or '-'})"
            )
        if "compress_after" in self.policies:
            parts.append(f"compression policy after {self.policies['compress_after']}")
        if "drop_after" in self.policies:
            parts.append(f"retention policy after {self.policies['drop_after']}")
        return ", ".join(parts)


# Jobs whose settings a Hypertable records (and a restore re-applies): the config key of each.
_POLICIES = {"policy_compression": "compress_after", "policy_retention": "drop_after"}


def read_hypertable(conn: psycopg.Connection, schema: str, name: str) -> Hypertable | None:
    """The hypertable's dimensions, compression settings and policies, and by name what a
    restore would not recreate (continuous aggregates, other jobs). The information views
    used here exist from TimescaleDB 2.0 on."""
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT column_name, dimension_type, coalesce(time_interval::text, integer_interval::text),
                   num_partitions
            FROM timescaledb_information.dimensions
            WHERE hypertable_schema = %s AND hypertable_name = %s
            ORDER BY dimension_number
            """,
            (schema, name),
        )
        dims = cur.fetchall()
        if not dims:
            return None
        time_dim = next((d for d in dims if d[1] == "Time"), dims[0])
        space = [{"column": d[0], "partitions": str(d[3])} for d in dims if d is not time_dim]
        cur.execute(
            "SELECT compression_enabled FROM timescaledb_information.hypertables "
            "WHERE hypertable_schema = %s AND hypertable_name = %s",
            (schema, name),
        )
        enabled = cur.fetchone()
        compression = None
        if enabled and enabled[0]:
            cur.execute(
                """
                SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc, orderby_nullsfirst
                FROM timescaledb_information.compression_settings
                WHERE hypertable_schema = %s AND hypertable_name = %s
                """,
                (schema, name),
            )
            settings = cur.fetchall()
            compression = {
                "segmentby": [r[0] for r in sorted((r for r in settings if r[1] is not None), key=lambda r: r[1])],
                "orderby": [
                    {"column": r[0], "asc": str(bool(r[3])).lower(), "nulls_first": str(bool(r[4])).lower()}
                    for r in sorted((r for r in settings if r[2] is not None), key=lambda r: r[2])
                ],
            }
        cur.execute(
            """
            SELECT job_id, proc_schema, proc_name, config
            FROM timescaledb_information.jobs
            WHERE hypertable_schema = %s AND hypertable_name = %s
            ORDER BY job_id
            """,
            (schema, name),
        )
        policies: dict[str, str] = {}
        not_carried: list[str] = []
        for job_id, proc_schema, proc_name, config in cur.fetchall():
            key = _POLICIES.get(proc_name) if proc_schema.startswith("_timescaledb_") else None
            if key and isinstance(config, dict) and config.get(key) is not None:
                policies[key] = str(config[key])
            else:
                not_carried.append(f"job {job_id} ({proc_schema}.{proc_name})")
        cur.execute(
            """
            SELECT view_schema, view_name FROM timescaledb_information.continuous_aggregates
            WHERE hypertable_schema = %s AND hypertable_name = %s
            ORDER BY view_schema, view_name
            """,
            (schema, name),
        )
        not_carried += [f"continuous aggregate {r[0]}.{r[1]}" for r in cur.fetchall()]
    return Hypertable(
        time_column=time_dim[0],
        chunk_interval=str(time_dim[2]),
        space=space,
        compression=compression,
        policies=policies,
        not_carried=not_carried,
    )


def refuse_continuous_aggregate(conn: psycopg.Connection, source_name: str, schema: str, name: str) -> None:
    row = conn.execute(
        "SELECT hypertable_schema, hypertable_name FROM timescaledb_information.continuous_aggregates "
        "WHERE view_schema = %s AND view_name = %s",
        (schema, name),
    ).fetchone()
    if row:
        raise ConfigError(
            f"sources.{source_name}: {schema}.{name} is a TimescaleDB continuous aggregate (over {row[0]}.{row[1]}); "
            "seedctl does not snapshot continuous aggregates",
            f"snapshot {row[0]}.{row[1]} instead and recreate the aggregate after a restore",
        )


def _interval(value: str) -> sql.Composable:
    """A recorded TimescaleDB interval as SQL: an integer (integer time) or an interval."""
    if value.lstrip("-").isdigit():
        return sql.Literal(int(value))
    return sql.SQL("{}::interval").format(sql.Literal(value))


def make_hypertable(conn: psycopg.Connection, table: HypertableRecord) -> None:
    """Turn the (still empty) table into a TimescaleDB hypertable as in the snapshot: its
    time dimension and chunk interval, then its space partitions. No default indexes: the
    snapshot's indexes (TimescaleDB's default one among them) are built after the rows."""
    hyper = table.hypertable
    assert hyper is not None
    target = sql.Literal(table.identifier().as_string(conn))
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "SELECT create_hypertable({t}, {c}, chunk_time_interval => {i}, create_default_indexes => false)"
            ).format(t=target, c=sql.Literal(hyper.time_column), i=_interval(hyper.chunk_interval))
        )
        for dim in hyper.space:
            cur.execute(
                sql.SQL("SELECT add_dimension({t}, {c}, number_partitions => {n})").format(
                    t=target, c=sql.Literal(dim["column"]), n=sql.Literal(int(dim["partitions"]))
                )
            )


def apply_hypertable_settings(conn: psycopg.Connection, table: HypertableRecord) -> list[str]:
    """Compression settings and the compression / retention policies, once the rows, keys
    and indexes are in (TimescaleDB refuses new constraints on a compressed hypertable).
    Chunks are not compressed here: the compression policy does that when it runs."""
    hyper = table.hypertable
    assert hyper is not None
    notes = []
    target = sql.Literal(table.identifier().as_string(conn))
    with conn.cursor() as cur:
        if hyper.compression is not None:
            options: list[sql.Composable] = [sql.SQL("timescaledb.compress")]
            segmentby = ", ".join(sql.Identifier(c).as_string(conn) for c in hyper.compression["segmentby"])
            orderby = ", ".join(
                f"{sql.Identifier(o['column']).as_string(conn)} {'ASC' if o['asc'] == 'true' else 'DESC'} "
                f"NULLS {'FIRST' if o['nulls_first'] == 'true' else 'LAST'}"
                for o in hyper.compression["orderby"]
            )
            if segmentby:
                options.append(sql.SQL("timescaledb.compress_segmentby = {}").format(sql.Literal(segmentby)))
            if orderby:
                options.append(sql.SQL("timescaledb.compress_orderby = {}").format(sql.Literal(orderby)))
            cur.execute(sql.SQL("ALTER TABLE {} SET ({})").format(table.identifier(), sql.SQL(", ").join(options)))
            notes.append("compression settings re-applied (chunks are compressed when the compression policy runs)")
        if "compress_after" in hyper.policies:
            cur.execute(
                sql.SQL("SELECT add_compression_policy({}, {})").format(
                    target, _interval(hyper.policies["compress_after"])
                )
            )
            notes.append(f"compression policy re-applied (after {hyper.policies['compress_after']})")
        if "drop_after" in hyper.policies:
            cur.execute(
                sql.SQL("SELECT add_retention_policy({}, {})").format(target, _interval(hyper.policies["drop_after"]))
            )
            notes.append(f"retention policy re-applied (drops chunks older than {hyper.policies['drop_after']})")
    if hyper.not_carried:
        notes.append(f"not carried (recreate by hand): {', '.join(hyper.not_carried)}")
    return notes
