"""Smoke test of the throwaway PostgreSQL server used by every integration test."""

from __future__ import annotations

import psycopg
import pytest

from seedctl_dev.devserver import TempPostgres


def test_select_1_over_tcp_with_password(pg_server: TempPostgres) -> None:
    with psycopg.connect(pg_server.url(), connect_timeout=10) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
        version_num = conn.execute("show server_version_num").fetchone()[0]
    assert int(version_num) // 10000 == pg_server.major_version
    assert pg_server.host == "127.0.0.1"


def test_wrong_password_is_rejected(pg_server: TempPostgres) -> None:
    bad = pg_server.url().replace(f":{pg_server.password}@", ":not-the-password@")
    assert bad != pg_server.url()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(bad, connect_timeout=10)


def test_pg_db_is_fresh_and_isolated(pg_db: str, pg_server: TempPostgres) -> None:
    with psycopg.connect(pg_db, autocommit=True) as conn:
        dbname = conn.execute("select current_database()").fetchone()[0]
        assert dbname.startswith("t_")
        conn.execute("create table t (id int primary key)")
        conn.execute("insert into t values (1)")
    env = pg_server.env(dbname)
    assert env["DATABASE_URL"] == pg_db
    assert env["PGPORT"] == str(pg_server.port)
    assert env["PGPASSWORD"] == pg_server.password
