"""A real TimescaleDB for the tests in this directory (seedctl_dev.tsdbserver: PGlite with
TimescaleDB, from npm, installed by `make timescale-deps`).

Started once per test session, only when a test here asks for it (so no other test waits
for Node), and stopped at the end. Skipped, saying why, only where Node is not installed.
PGlite has one database: `tsdb` empties it after each test instead of dropping it.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from seedctl_dev import tsdbserver
from seedctl_dev.tsdbserver import TimescaleServer


def _start(tmp_path_factory: pytest.TempPathFactory, *, extension: bool) -> Iterator[TimescaleServer]:
    reason = tsdbserver.unavailable()
    if reason:
        pytest.skip(reason)
    server = TimescaleServer(tmp_path_factory.mktemp("timescale"), extension=extension)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tsdb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TimescaleServer]:
    """TimescaleDB with `CREATE EXTENSION timescaledb` done."""
    yield from _start(tmp_path_factory, extension=True)


def _empty(url: str) -> None:
    """Every user relation dropped: continuous aggregates, then tables (hypertables take their
    chunks and jobs along), views and sequences, and every user schema but public. Not the
    extension, whose objects live in public: TimescaleDB cannot be created again in the same
    session, and PGlite is one session."""
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone():
            for schema, name in conn.execute(
                "SELECT view_schema, view_name FROM timescaledb_information.continuous_aggregates"
            ).fetchall():
                conn.execute(sql.SQL("DROP MATERIALIZED VIEW {} CASCADE").format(sql.Identifier(schema, name)))
        user = (
            "left(n.nspname, 3) <> 'pg_' AND left(n.nspname, 12) <> '_timescaledb' AND n.nspname NOT IN "
            "('information_schema', 'timescaledb_information', 'timescaledb_experimental')"
        )
        kinds = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}
        for kind, what in kinds.items():
            for schema, name in conn.execute(
                "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                f"WHERE c.relkind = %s AND {user} AND NOT EXISTS "
                "(SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')",
                (kind,),
            ).fetchall():
                conn.execute(sql.SQL(f"DROP {what} IF EXISTS {{}} CASCADE").format(sql.Identifier(schema, name)))
        for (schema,) in conn.execute(f"SELECT n.nspname FROM pg_namespace n WHERE {user} AND n.nspname <> 'public'"):
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def tsdb(tsdb_server: TimescaleServer) -> Iterator[str]:
    """URL of the TimescaleDB database, emptied after the test."""
    try:
        yield tsdb_server.url
    finally:
        _empty(tsdb_server.url)


@pytest.fixture
def tsdb_fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a TimescaleDB database that has not created the extension yet: a server of
    its own for the one test (TimescaleDB cannot be created twice in PGlite's one session)."""
    for server in _start(tmp_path_factory, extension=False):
        yield server.url
