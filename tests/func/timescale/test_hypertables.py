"""Hypertables against a real TimescaleDB (2.23 in PGlite: tests/func/timescale/conftest.py),
through the real CLI, over one connection at a time (backup.single_connection: PGlite serves
one session).

The source: `ohlcv`, a hypertable with monthly chunks (`1 month`, which TimescaleDB keeps as
30 days) and 2 space partitions on symbol, compression with segmentby, some chunks compressed and some not, a compression and
a retention policy, and a continuous aggregate over it; `ohlcv_plain`, the same rows in a
plain table of the same database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from seedctl_dev.devserver import TempPostgres
from seedctl_dev.testing import run_sql
from tests.helpers import Project, make_project, new_database, one_error_line

ROWS = """
    SELECT ts, s, 100 + i % 7, 101 + i % 7, 99 + i % 7, 100.5 + i % 7, i
    FROM generate_series('2024-01-01'::timestamptz, '2024-06-30 23:00', interval '1 hour') WITH ORDINALITY AS g(ts, i),
         unnest(ARRAY['USD/COP', 'EUR/COP']) AS s
"""
TABLE = """
    CREATE TABLE {name} (
        time timestamptz NOT NULL, symbol text NOT NULL,
        open numeric(12,4), high numeric(12,4), low numeric(12,4), close numeric(12,4), volume bigint,
        PRIMARY KEY (time, symbol)
    )
"""
EXPECTED_ROWS = 182 * 24 * 2  # 2024-01-01 .. 2024-06-30, hourly, two symbols
ORDER = "time, symbol"


def _source(url: str) -> None:
    run_sql(url, TABLE.format(name="ohlcv"))
    run_sql(url, "SELECT create_hypertable('ohlcv', 'time', chunk_time_interval => interval '1 month')")
    run_sql(url, "SELECT add_dimension('ohlcv', 'symbol', number_partitions => 2)")
    run_sql(url, f"INSERT INTO ohlcv {ROWS}")
    run_sql(url, TABLE.format(name="ohlcv_plain"))
    run_sql(url, f"INSERT INTO ohlcv_plain {ROWS}")
    run_sql(
        url,
        "ALTER TABLE ohlcv SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol', "
        "timescaledb.compress_orderby = 'time DESC')",
    )
    run_sql(
        url, "SELECT compress_chunk(c) FROM show_chunks('ohlcv'::regclass, older_than => '2024-04-01'::timestamptz) c"
    )
    run_sql(url, "SELECT add_compression_policy('ohlcv', interval '60 days')")
    run_sql(url, "SELECT add_retention_policy('ohlcv', interval '10 years')")
    run_sql(
        url,
        "CREATE MATERIALIZED VIEW ohlcv_daily WITH (timescaledb.continuous) AS "
        "SELECT time_bucket('1 day', time) AS day, symbol, max(high) AS high FROM ohlcv GROUP BY 1, 2 WITH NO DATA",
    )


def _project(tmp_path: Path, url: str, **sources: dict[str, Any]) -> Project:
    project = make_project(tmp_path / "repo", url)
    params = project.params()
    params["sources"] = sources or {
        "ohlcv": {"table": "public.ohlcv", "time_column": "time", "partition": "month", "min_rows": 1},
        "ohlcv_plain": {"table": "public.ohlcv_plain", "time_column": "time", "partition": "month", "min_rows": 1},
    }
    params["backup"]["single_connection"] = True
    project.write_params(params)
    project.commit_all("timescale params")
    return project


def _rows(url: str, table: str) -> list[tuple[Any, ...]]:
    return run_sql(url, f"SELECT * FROM {table} ORDER BY {ORDER}")


def _chunks(url: str, table: str = "ohlcv") -> list[tuple[Any, ...]]:
    """(schema, range start, range end, compressed) of every chunk, in time order."""
    return run_sql(
        url,
        "SELECT chunk_schema, range_start, range_end, is_compressed FROM timescaledb_information.chunks "
        "WHERE hypertable_name = %s ORDER BY range_start",
        table,
    )


def _settings(url: str) -> dict[str, Any]:
    """What makes `ohlcv` the hypertable it is, as TimescaleDB itself reports it."""
    return {
        "dimensions": run_sql(
            url,
            "SELECT column_name, dimension_type, time_interval, num_partitions FROM timescaledb_information.dimensions "
            "WHERE hypertable_name = 'ohlcv' ORDER BY dimension_number",
        ),
        "compression": run_sql(
            url,
            "SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc, orderby_nullsfirst "
            "FROM timescaledb_information.compression_settings WHERE hypertable_name = 'ohlcv' ORDER BY attname",
        ),
        "policies": sorted(
            (name, {k: v for k, v in config.items() if k != "hypertable_id"})
            for name, config in run_sql(
                url, "SELECT proc_name, config FROM timescaledb_information.jobs WHERE hypertable_name = 'ohlcv'"
            )
        ),
    }


@dataclass(frozen=True)
class Snapshot:
    project: Project
    stderr: str  # what `seedctl snapshot` said


@pytest.fixture
def snapshotted(tmp_path: Path, tsdb: str) -> Snapshot:
    """The source in TimescaleDB, snapshotted (no push) over one connection."""
    _source(tsdb)
    project = _project(tmp_path, tsdb)
    result = project.seedctl("snapshot", "--no-push")
    assert result.returncode == 0, result.stderr
    return Snapshot(project, result.stderr)


def test_snapshot_reads_every_row_once_with_compressed_and_uncompressed_chunks(snapshotted: Snapshot) -> None:
    project = snapshotted.project
    url = project.database_url
    chunks = _chunks(url)
    # Monthly chunks, the older ones compressed, the newer not, all inside TimescaleDB's schema.
    assert len(chunks) >= 6
    assert {c[3] for c in chunks} == {True, False}
    assert {c[0] for c in chunks} == {"_timescaledb_internal"}

    schema = json.loads((project.seeds / "schema.json").read_text())
    hyper, plain = schema["tables"]["ohlcv"], schema["tables"]["ohlcv_plain"]
    assert hyper["rows"] == plain["rows"] == EXPECTED_ROWS
    # The same content checksum as the same rows in a plain table, and byte-identical files.
    assert hyper["content_checksum"] == plain["content_checksum"]
    hyper_files = sorted((project.seeds / "data" / "ohlcv").glob("*.parquet"))
    plain_files = sorted((project.seeds / "data" / "ohlcv_plain").glob("*.parquet"))
    assert [p.name for p in hyper_files] == [p.name for p in plain_files] == [f"2024-0{m}.parquet" for m in range(1, 7)]
    assert [p.read_bytes() for p in hyper_files] == [p.read_bytes() for p in plain_files]

    # Every row once: the files hold exactly the table's rows (compressed chunks' included).
    read = [pq.read_table(p) for p in hyper_files]
    keys = [(t, s) for table in read for t, s in zip(table["time"].to_pylist(), table["symbol"].to_pylist())]
    assert len(keys) == len(set(keys)) == EXPECTED_ROWS
    assert keys == [(r[0], r[1]) for r in _rows(url, "ohlcv")]

    # No TimescaleDB internals snapshotted as user tables.
    text = (project.seeds / "schema.json").read_text()
    assert "_timescaledb_" not in text and "_hyper_" not in text
    assert sorted(schema["tables"]) == ["ohlcv", "ohlcv_plain"]


def test_snapshot_records_the_hypertable_and_the_timescaledb_version(snapshotted: Snapshot) -> None:
    project = snapshotted.project
    url = project.database_url
    schema = json.loads((project.seeds / "schema.json").read_text())
    [(interval,)] = run_sql(
        url,
        "SELECT time_interval::text FROM timescaledb_information.dimensions "
        "WHERE hypertable_name = 'ohlcv' AND dimension_type = 'Time'",
    )
    assert interval == "30 days"  # TimescaleDB keeps `1 month` as 30 days
    assert schema["tables"]["ohlcv"]["schema"]["hypertable"] == {
        "time_column": "time",
        "chunk_interval": "30 days",
        "space": [{"column": "symbol", "partitions": "2"}],
        "compression": {
            "segmentby": ["symbol"],
            "orderby": [{"column": "time", "asc": "false", "nulls_first": "true"}],
        },
        "policies": {"compress_after": "60 days", "drop_after": "10 years"},
        "not_carried": ["continuous aggregate public.ohlcv_daily"],
    }
    assert schema["tables"]["ohlcv_plain"]["schema"]["hypertable"] is None
    [(version,)] = run_sql(url, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    manifest = json.loads((project.seeds / "manifest.json").read_text())
    assert manifest["compatibility"]["timescaledb_version"] == version
    assert version.startswith("2.")
    # The continuous aggregate is named, in one line, at snapshot time.
    lines = [ln for ln in snapshotted.stderr.splitlines() if "ohlcv_daily" in ln]
    assert lines == [
        "seedctl: hypertable public.ohlcv: not carried by the snapshot (recreate by hand after a restore): "
        "continuous aggregate public.ohlcv_daily"
    ]


def test_restore_onto_timescaledb_recreates_the_hypertable(snapshotted: Snapshot) -> None:
    project = snapshotted.project
    url = project.database_url
    before = {"rows": _rows(url, "ohlcv"), "plain": _rows(url, "ohlcv_plain"), "settings": _settings(url)}
    chunk_ranges = [c[1:3] for c in _chunks(url)]
    run_sql(url, "DROP MATERIALIZED VIEW ohlcv_daily")
    run_sql(url, "DROP TABLE ohlcv")
    run_sql(url, "DROP TABLE ohlcv_plain")

    restored = project.seedctl("restore")

    assert restored.returncode == 0, restored.stderr
    assert run_sql(url, "SELECT hypertable_name FROM timescaledb_information.hypertables") == [("ohlcv",)]
    assert _rows(url, "ohlcv") == before["rows"]
    assert _rows(url, "ohlcv_plain") == before["plain"]
    # Loaded through the hypertable: TimescaleDB made the chunks, the same monthly ranges.
    assert [c[1:3] for c in _chunks(url)] == chunk_ranges
    assert {c[0] for c in _chunks(url)} == {"_timescaledb_internal"}
    assert run_sql(url, "SELECT count(*) FROM ONLY ohlcv") == [(0,)]
    # The same dimensions, compression settings and policies.
    assert _settings(url) == before["settings"]
    # The primary key and TimescaleDB's time index, as the source had them.
    assert run_sql(url, "SELECT indexname FROM pg_indexes WHERE tablename = 'ohlcv' ORDER BY 1") == [
        ("ohlcv_pkey",),
        ("ohlcv_time_idx",),
    ]
    out = " ".join(restored.stdout.split())
    assert "compression settings re-applied" in out and "compression policy re-applied (after 60 days)" in out
    assert "retention policy re-applied" in out
    assert "not carried (recreate by hand): continuous aggregate public.ohlcv_daily" in out

    verified = project.seedctl("verify", "--db")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_restore_onto_a_fresh_timescaledb_database_creates_the_extension_first(
    snapshotted: Snapshot, tsdb_fresh: str
) -> None:
    project = snapshotted.project
    assert run_sql(tsdb_fresh, "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'") == [(0,)]

    restored = project.seedctl("restore", env={"DATABASE_URL": tsdb_fresh})

    assert restored.returncode == 0, restored.stderr
    assert "created extension timescaledb" in restored.stdout
    assert run_sql(tsdb_fresh, "SELECT hypertable_name FROM timescaledb_information.hypertables") == [("ohlcv",)]
    assert _rows(tsdb_fresh, "ohlcv") == _rows(project.database_url, "ohlcv")
    assert _settings(tsdb_fresh) == _settings(project.database_url)
    assert [c[1:3] for c in _chunks(tsdb_fresh)] == [c[1:3] for c in _chunks(project.database_url)]


def test_restore_onto_plain_postgresql_makes_a_plain_table_and_names_what_was_not_applied(
    snapshotted: Snapshot, pg_server: TempPostgres
) -> None:
    project = snapshotted.project
    target = new_database(pg_server)
    try:
        restored = project.seedctl("restore", env={"DATABASE_URL": target})

        assert restored.returncode == 0, restored.stderr
        assert "Traceback" not in restored.stdout + restored.stderr
        assert run_sql(target, "SELECT relkind::text FROM pg_class WHERE oid = 'ohlcv'::regclass") == [("r",)]
        assert run_sql(target, "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'") == [(0,)]
        assert _rows(target, "ohlcv") == _rows(project.database_url, "ohlcv")
        lines = [ln for ln in restored.stdout.splitlines() if "TimescaleDB is not installed" in ln]
        assert len(lines) == 1, restored.stdout
        line = " ".join(lines[0].split())
        assert line.startswith("ohlcv: TimescaleDB is not installed on this server: restored as a plain table"), line
        for applied in (
            "time dimension time with chunk interval 30 days",
            "space partitions on symbol (2)",
            "compression (segmentby symbol, orderby time DESC)",
            "compression policy after 60 days",
            "retention policy after 10 years",
            "continuous aggregate public.ohlcv_daily",
        ):
            assert applied in line, line
    finally:
        pg_server.drop_database(target.rsplit("/", 1)[1])


def test_internal_chunks_and_continuous_aggregates_are_refused_as_sources(tmp_path: Path, tsdb: str) -> None:
    _source(tsdb)
    [(chunk,)] = run_sql(tsdb, "SELECT show_chunks('ohlcv'::regclass) LIMIT 1")
    project = _project(tmp_path, tsdb, chunk={"table": chunk, "min_rows": 1})
    refused = project.seedctl("snapshot", "--no-push")
    line = one_error_line(refused, "sources.chunk", "TimescaleDB's internal schema _timescaledb_internal")
    assert "name the hypertable itself" in line

    params = project.params()
    params["sources"] = {"daily": {"table": "public.ohlcv_daily", "min_rows": 0}}
    project.write_params(params)
    refused = project.seedctl("snapshot", "--no-push")
    line = one_error_line(refused, "sources.daily", "public.ohlcv_daily is a TimescaleDB continuous aggregate")
    assert "snapshot public.ohlcv instead" in line
