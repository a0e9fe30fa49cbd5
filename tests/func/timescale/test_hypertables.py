"""Hypertables against a real TimescaleDB (2.23 in PGlite: tests/func/timescale/conftest.py),
through the real CLI, over one connection at a time (backup.single_connection: PGlite serves
one session). The source (`ohlcv`, a hypertable, and `ohlcv_plain`, the same rows in a plain
table) is conftest.py's `create_source`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from seedctl_dev.devserver import TempPostgres
from seedctl_dev.testing import run_sql
from tests.func.timescale.conftest import (
    EXPECTED_ROWS,
    Snapshot,
    chunk_list,
    create_source,
    hypertable_settings,
    table_rows,
    tsdb_project,
)
from tests.helpers import new_database, one_error_line


def test_snapshot_reads_every_row_once_with_compressed_and_uncompressed_chunks(snapshotted: Snapshot) -> None:
    project = snapshotted.project
    url = project.database_url
    chunks = chunk_list(url)
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
    assert keys == [(r[1], r[2]) for r in table_rows(url, "ohlcv")]

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
    # TimescaleDB's own trigger (ts_insert_blocker) is create_hypertable's to make, not the snapshot's.
    assert [t["name"] for t in schema["tables"]["ohlcv"]["schema"]["objects"]["triggers"]] == ["ohlcv_keep"]
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
    before = {
        "rows": table_rows(url, "ohlcv"),
        "plain": table_rows(url, "ohlcv_plain"),
        "settings": hypertable_settings(url),
    }
    chunk_ranges = [c[1:3] for c in chunk_list(url)]
    run_sql(url, "DROP MATERIALIZED VIEW ohlcv_daily")
    run_sql(url, "DROP TABLE ohlcv")
    run_sql(url, "DROP TABLE ohlcv_plain")

    restored = project.seedctl("restore")

    assert restored.returncode == 0, restored.stderr
    assert run_sql(url, "SELECT hypertable_name FROM timescaledb_information.hypertables") == [("ohlcv",)]
    assert table_rows(url, "ohlcv") == before["rows"]
    assert table_rows(url, "ohlcv_plain") == before["plain"]
    # Loaded through the hypertable: TimescaleDB made the chunks, the same monthly ranges.
    assert [c[1:3] for c in chunk_list(url)] == chunk_ranges
    assert {c[0] for c in chunk_list(url)} == {"_timescaledb_internal"}
    assert run_sql(url, "SELECT count(*) FROM ONLY ohlcv") == [(0,)]
    # The same dimensions, compression settings and policies.
    assert hypertable_settings(url) == before["settings"]
    # The primary key and TimescaleDB's time index, as the source had them.
    assert run_sql(url, "SELECT indexname FROM pg_indexes WHERE tablename = 'ohlcv' ORDER BY 1") == [
        ("ohlcv_pkey",),
        ("ohlcv_time_idx",),
    ]
    out = " ".join(restored.stdout.split())
    assert "compression settings re-applied" in out and "compression policy re-applied (after 60 days)" in out
    assert "retention policy re-applied" in out
    assert "not carried (recreate by hand): continuous aggregate public.ohlcv_daily" in out
    assert "ohlcv: recreated trigger ohlcv_keep, 1 grant(s)" in out  # keep() is still there
    assert run_sql(url, "SELECT has_table_privilege('public', 'ohlcv', 'SELECT')") == [(True,)]

    verified = project.seedctl("verify", "--db")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # The identity continues above every restored id (the source's sequence never drew one).
    [(new_id, max_id)] = run_sql(
        url,
        "WITH n AS (INSERT INTO ohlcv (time, symbol) VALUES ('2024-07-01', 'USD/COP') RETURNING id) "
        "SELECT n.id, (SELECT max(id) FROM ohlcv WHERE time < '2024-07-01') FROM n",
    )
    assert new_id > max_id


def test_restore_onto_a_fresh_timescaledb_database_creates_the_extension_first(
    snapshotted: Snapshot, tsdb_fresh: str
) -> None:
    project = snapshotted.project
    assert run_sql(tsdb_fresh, "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'") == [(0,)]

    restored = project.seedctl("restore", env={"DATABASE_URL": tsdb_fresh})

    assert restored.returncode == 0, restored.stderr
    assert "created extension timescaledb" in restored.stdout
    assert run_sql(tsdb_fresh, "SELECT hypertable_name FROM timescaledb_information.hypertables") == [("ohlcv",)]
    assert table_rows(tsdb_fresh, "ohlcv") == table_rows(project.database_url, "ohlcv")
    assert hypertable_settings(tsdb_fresh) == hypertable_settings(project.database_url)
    assert [c[1:3] for c in chunk_list(tsdb_fresh)] == [c[1:3] for c in chunk_list(project.database_url)]


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
        assert table_rows(target, "ohlcv") == table_rows(project.database_url, "ohlcv")
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
    create_source(tsdb)
    [(chunk,)] = run_sql(tsdb, "SELECT show_chunks('ohlcv'::regclass) LIMIT 1")
    project = tsdb_project(tmp_path, tsdb, chunk={"table": chunk, "min_rows": 1})
    refused = project.seedctl("snapshot", "--no-push")
    line = one_error_line(refused, "sources.chunk", "TimescaleDB's internal schema _timescaledb_internal")
    assert "name the hypertable itself" in line

    params = project.params()
    params["sources"] = {"daily": {"table": "public.ohlcv_daily", "min_rows": 0}}
    project.write_params(params)
    refused = project.seedctl("snapshot", "--no-push")
    line = one_error_line(refused, "sources.daily", "public.ohlcv_daily is a TimescaleDB continuous aggregate")
    assert "snapshot public.ohlcv instead" in line


def test_replace_and_time_range_restores_into_the_existing_hypertable(snapshotted: Snapshot) -> None:
    """Into the source itself, its older chunks compressed: the whole table replaced, then one
    month replaced after that month's rows were changed, and the snapshot queried."""
    project = snapshotted.project
    url = project.database_url
    before = table_rows(url, "ohlcv")
    assert any(c[3] for c in chunk_list(url))

    replaced = project.seedctl("restore", "--table", "ohlcv", "--mode", "replace")
    assert replaced.returncode == 0, replaced.stderr
    assert table_rows(url, "ohlcv") == before
    assert run_sql(url, "SELECT hypertable_name FROM timescaledb_information.hypertables") == [("ohlcv",)]

    run_sql(url, "SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks('ohlcv'::regclass) c")
    run_sql(url, "DELETE FROM ohlcv WHERE time >= '2024-02-10' AND time < '2024-02-12'")
    run_sql(url, "UPDATE ohlcv SET close = 0 WHERE time >= '2024-02-20' AND time < '2024-02-21'")
    run_sql(url, "UPDATE ohlcv SET close = 0 WHERE time >= '2024-03-05' AND time < '2024-03-06'")  # outside the range
    ranged = project.seedctl(
        "restore", "--table", "ohlcv", "--since", "2024-02-01", "--until", "2024-02-29", "--mode", "replace"
    )
    assert ranged.returncode == 0, ranged.stderr
    after = table_rows(url, "ohlcv")
    february = [r for r in before if r[1].month == 2]
    assert [r for r in after if r[1].month == 2] == february
    march_changed = [r for r in after if r[1].month == 3 and r[1].day == 5]
    assert march_changed and all(r[6] == 0 for r in march_changed)  # left alone: outside the range

    queried = project.seedctl("query", "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM ohlcv", "--csv", "-")
    assert queried.returncode == 0, queried.stderr
    assert f"{EXPECTED_ROWS},{EXPECTED_ROWS}" in queried.stdout


def test_dvc_repro_runs_each_stage_in_its_own_process_over_the_one_session(tmp_path: Path, tsdb: str) -> None:
    """`dvc repro`, a process per stage (only the export connects), against the one-session
    server: the whole pipeline runs and validates over that one connection."""
    create_source(tsdb)
    project = tsdb_project(tmp_path, tsdb)
    repro = project.run("dvc", "repro")
    assert repro.returncode == 0, repro.stdout + repro.stderr
    schema = json.loads((project.seeds / "schema.json").read_text())
    assert schema["tables"]["ohlcv"]["rows"] == EXPECTED_ROWS
    assert (project.seeds / "LATEST_VERSION").exists()


def test_append_and_missing_restore_into_the_existing_compressed_hypertable(snapshotted: Snapshot) -> None:
    """Into the source itself, every chunk compressed: a deleted month appended back exactly once
    (TimescaleDB routes it into chunks), appending rows already there refused with nothing
    changed, and `--mode missing` keeps the non-empty hypertable as it is."""
    project = snapshotted.project
    url = project.database_url
    before = table_rows(url, "ohlcv")
    run_sql(url, "SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks('ohlcv'::regclass) c")
    run_sql(url, "DELETE FROM ohlcv WHERE time >= '2024-02-01' AND time < '2024-03-01'")
    february = ("--since", "2024-02-01", "--until", "2024-02-29")

    appended = project.seedctl("restore", "--table", "ohlcv", *february, "--mode", "append")
    assert appended.returncode == 0, appended.stderr
    assert table_rows(url, "ohlcv") == before
    assert run_sql(url, "SELECT hypertable_name FROM timescaledb_information.hypertables") == [("ohlcv",)]
    assert run_sql(url, "SELECT count(*) FROM ONLY ohlcv") == [(0,)]  # every row in a chunk

    again = project.seedctl("restore", "--table", "ohlcv", *february, "--mode", "append")
    assert again.returncode == 8, again.stderr
    assert "already in the target" in again.stderr and "Traceback" not in again.stderr
    assert table_rows(url, "ohlcv") == before

    run_sql(url, "DELETE FROM ohlcv WHERE time >= '2024-02-01' AND time < '2024-03-01'")
    kept = project.seedctl("restore", "--table", "ohlcv", "--mode", "missing")
    assert kept.returncode == 0, kept.stderr
    assert table_rows(url, "ohlcv") == [r for r in before if r[1].month != 2]
