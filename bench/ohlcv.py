"""Synthetic OHLCV tables generated inside PostgreSQL (generate_series: seconds, not minutes).

Shape: 5-minute bars for four symbols (the same bar time for each symbol), `symbol text`,
numeric(12,4) prices that follow a smooth path with per-bar noise (high >= max(open,
close), low <= min(open, close)), bigint volume, PRIMARY KEY (time, symbol). `setseed`
makes the content the same on every run. The table is vacuumed, analysed and frozen
before it is measured, so neither tool pays for hint bits the other already set.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

SYMBOLS = ("USD/COP", "EUR/COP", "USD/MXN", "USD/BRL")
BASES = (4000.0, 4400.0, 18.0, 5.2)
START = "2001-01-02 13:00:00+00"
# The last bar must not be in the future (validation refuses it): a table too long to end
# before this starts earlier (30M rows: 71 years of bars, from 1954).
LATEST_END = datetime(2026, 1, 1, tzinfo=UTC)


def start_for(rows: int) -> str:
    """START, or earlier where `rows` bars from START would run past LATEST_END."""
    fixed = datetime.fromisoformat(START)
    span = timedelta(minutes=5) * (rows // len(SYMBOLS))
    return min(fixed, LATEST_END - span).isoformat()


PRIMARY_KEY = ("time", "symbol")


def table_name(rows: int) -> str:
    if rows % 1_000_000 == 0:
        return f"ohlcv_{rows // 1_000_000}m"
    return f"ohlcv_{rows // 1000}k"


def create_ohlcv(conn: psycopg.Connection, name: str, rows: int) -> None:
    """(Re)create public.<name> with `rows` bars; autocommit connection expected."""
    ident = sql.Identifier("public", name)
    symbols = sql.Literal(list(SYMBOLS))
    bases = sql.Literal(list(BASES))
    n = len(SYMBOLS)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident))
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (time timestamptz NOT NULL, symbol text NOT NULL, "
            "open numeric(12,4) NOT NULL, high numeric(12,4) NOT NULL, low numeric(12,4) NOT NULL, "
            "close numeric(12,4) NOT NULL, volume bigint NOT NULL)"
        ).format(ident)
    )
    with conn.transaction():
        conn.execute("SELECT setseed(0.20260115)")
        conn.execute(
            sql.SQL("""
            INSERT INTO {t}
            SELECT ts, sym, o, greatest(o, c) + round((mid * random() * 0.0008)::numeric, 4),
                   least(o, c) - round((mid * random() * 0.0008)::numeric, 4), c, vol
            FROM (
                SELECT ts, sym, mid,
                       round((mid * (1 + (random() - 0.5) * 0.002))::numeric, 4) AS o,
                       round((mid * (1 + (random() - 0.5) * 0.002))::numeric, 4) AS c,
                       (random() * 500000)::bigint AS vol
                FROM (
                    SELECT {start}::timestamptz + (g / {n}) * interval '5 minutes' AS ts,
                           ({syms}::text[])[g % {n} + 1] AS sym,
                           ({bases}::float8[])[g % {n} + 1]
                             * (1 + 0.15 * sin((g / {n}) / 40000.0) + 0.01 * sin((g / {n}) / 300.0)) AS mid
                    FROM generate_series(0, {last}) AS g
                ) bars
            ) priced
        """).format(
                t=ident,
                start=sql.Literal(start_for(rows)),
                n=sql.Literal(n),
                syms=symbols,
                bases=bases,
                last=sql.Literal(rows - 1),
            )
        )
    key = sql.SQL(", ").join(sql.Identifier(c) for c in PRIMARY_KEY)
    conn.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(ident, key))
    conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(ident))
