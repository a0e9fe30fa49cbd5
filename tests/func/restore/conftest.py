"""Fixtures of the restore tests: a target database that differs from the snapshot."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from seedctl_dev.devserver import TempPostgres
from seedctl_dev.testing import run_sql
from tests.helpers import Project


@pytest.fixture
def diverged_target(snapshotted: Project, pg_server: TempPostgres) -> Iterator[str]:
    """A copy of the snapshot's source database, then made different from the snapshot."""
    name = f"f_{uuid.uuid4().hex[:12]}"
    source = snapshotted.database_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_server.url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    url = pg_server.url(name)
    run_sql(
        url,
        """
        DROP TABLE usdcop_m5_ohlcv;
        DELETE FROM macro_indicators_daily WHERE fecha > (SELECT min(fecha) + 30 FROM macro_indicators_daily);
        UPDATE trades_history SET strategy = 'edited on the target' WHERE id = (SELECT min(id) FROM trades_history);
        CREATE TABLE keepme (id int PRIMARY KEY, note text);
        INSERT INTO keepme VALUES (1, 'not in any snapshot');
    """,
    )
    try:
        yield url
    finally:
        pg_server.drop_database(name)
