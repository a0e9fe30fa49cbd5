"""Unchanged periods are not exported again, and reuse is never wrong.

A snapshot over the previous one copies the files of the periods whose rows are proven
unchanged (snapshot/reuse.py). Every test compares the result with a full export of the same
database into an empty directory: the data files and schema.json must be the same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from seedctl.config import Params, parse_params
from seedctl.pg.catalog import read_table_schema
from seedctl.pg.checksum import CHECKSUM_ALGORITHM, PeriodSums, added, checksum_columns, period_sums, table_checksum
from seedctl.snapshot import sums
from seedctl.snapshot.export import ExportResult, run_export
from seedctl.snapshot.manifest import run_manifest
from seedctl.snapshot.partition import periods_filter
from seedctl.snapshot.sums import complement
from seedctl_dev.devserver import TempPostgres
from tests.helpers import Project, new_database

# Six months of hourly bars; volume is a bigint, settled_at a second timestamp.
BARS = """
CREATE TABLE bars (
    time timestamptz NOT NULL,
    symbol text NOT NULL,
    price numeric(12,4) NOT NULL,
    volume bigint NOT NULL,
    settled_at timestamptz,
    PRIMARY KEY (time, symbol)
);
INSERT INTO bars
SELECT t, 'USDCOP', 4000 + (extract(epoch FROM t)::bigint % 97), extract(epoch FROM t)::bigint % 1000,
       t + interval '2 days'
FROM generate_series('2024-01-01 00:00+00'::timestamptz, '2024-06-30 23:00+00', interval '1 hour') AS t;
"""
MONTHS = [f"2024-{m:02d}" for m in range(1, 7)]
ROW = "time = '2024-03-10 05:00+00'"

# Values whose typed 64-bit hash folds to the same 32 bits as the old value's (PostgreSQL's
# hashint8extended and timestamp_hash_extended): the content checksum cannot see the change.
BIGINT_TWIN = f"UPDATE bars SET volume = 4294967296 + (volume # 1) WHERE {ROW}"
TIMESTAMP_TWIN = f"""
UPDATE bars SET settled_at = timestamptz '2000-01-01 00:00+00' + interval '1 microsecond' * (
    (((us >> 32) + 1) << 32) | ((us & 4294967295) # (us >> 32) # ((us >> 32) + 1)))
FROM (SELECT ((extract(epoch FROM settled_at) - 946684800) * 1000000)::bigint AS us FROM bars WHERE {ROW}) AS v
WHERE {ROW}
"""
CHANGES = {
    "update": f"UPDATE bars SET price = price + 0.0001 WHERE {ROW}",
    "delete": f"DELETE FROM bars WHERE {ROW}",
    "backfilled insert": "INSERT INTO bars VALUES ('2024-03-10 05:00+00', 'EURUSD', 1.1, 5, NULL)",
    "bigint with the same typed hash": BIGINT_TWIN,
    "timestamp with the same typed hash": TIMESTAMP_TWIN,
}


def _params(partition: str = "month") -> Params:
    return parse_params(
        {
            "sources": {"bars": {"table": "bars", "time_column": "time", "partition": partition}},
            "backup": {"batch_rows": 1024},
        }
    )


def _snapshot(params: Params, seeds: Path) -> ExportResult:
    """Export then manifest, as the pipeline's first two stages do."""
    result = run_export(params, seeds)
    run_manifest(params, seeds)
    return result


def _snapshot_files(seeds: Path) -> dict[str, bytes]:
    found = {str(p.relative_to(seeds)): p.read_bytes() for p in (seeds / "data").rglob("*") if p.is_file()}
    return {**found, "schema.json": (seeds / "schema.json").read_bytes()}


def _assert_same_as_full_export(params: Params, seeds: Path, tmp_path: Path) -> None:
    full = tmp_path / "full"
    run_export(params, full)
    assert _snapshot_files(seeds) == _snapshot_files(full)


@pytest.fixture
def bars(env_db: str) -> str:
    with psycopg.connect(env_db) as conn:
        conn.execute(BARS)
    return env_db


def _sql(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


def test_an_unchanged_database_reuses_every_file_and_changes_no_byte(bars: str, tmp_path: Path) -> None:
    params, seeds = _params(), tmp_path / "seeds"
    first = _snapshot(params, seeds)
    assert first.tables[0].reused == 0 and [p.period for p in first.tables[0].parts] == MONTHS
    assert all(p.fingerprint for p in first.tables[0].parts)
    before = _snapshot_files(seeds)

    again = _snapshot(params, seeds)
    assert again.tables[0].reused == len(MONTHS)
    assert again.tables[0].checksum == first.tables[0].checksum
    assert _snapshot_files(seeds) == before


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_in_a_closed_month_is_exported_again(bars: str, tmp_path: Path, change: str) -> None:
    params, seeds = _params(), tmp_path / "seeds"
    _snapshot(params, seeds)
    march = (seeds / "data" / "bars" / "2024-03.parquet").read_bytes()
    checksum_before = _content_checksum(bars)
    _sql(bars, CHANGES[change])
    if "same typed hash" in change:  # the case the content checksum alone would miss
        assert _content_checksum(bars) == checksum_before

    result = _snapshot(params, seeds)
    assert result.tables[0].reused == len(MONTHS) - 1
    assert (seeds / "data" / "bars" / "2024-03.parquet").read_bytes() != march
    _assert_same_as_full_export(params, seeds, tmp_path)


def test_a_month_deleted_whole_disappears_and_a_new_one_appears(bars: str, tmp_path: Path) -> None:
    params, seeds = _params(), tmp_path / "seeds"
    _snapshot(params, seeds)
    _sql(bars, "DELETE FROM bars WHERE time < '2024-03-01' AND time >= '2024-02-01'")
    _sql(bars, "INSERT INTO bars VALUES ('2024-07-01 00:00+00', 'USDCOP', 4100, 7, NULL)")

    result = _snapshot(params, seeds)
    assert [p.period for p in result.tables[0].parts] == ["2024-01", *MONTHS[2:], "2024-07"]
    assert result.tables[0].reused == 5  # all but July, which is new
    assert not (seeds / "data" / "bars" / "2024-02.parquet").exists()
    _assert_same_as_full_export(params, seeds, tmp_path)


def test_a_schema_change_exports_the_table_whole(bars: str, tmp_path: Path) -> None:
    params, seeds = _params(), tmp_path / "seeds"
    _snapshot(params, seeds)
    _sql(bars, "ALTER TABLE bars ADD COLUMN note text")

    result = _snapshot(params, seeds)
    assert result.tables[0].reused == 0
    _assert_same_as_full_export(params, seeds, tmp_path)


def test_a_new_grant_or_trigger_exports_nothing_again(bars: str, tmp_path: Path) -> None:
    """Objects on the table (pg/objects.py) describe no row of its files."""
    params, seeds = _params(), tmp_path / "seeds"
    _snapshot(params, seeds)
    _sql(bars, "GRANT SELECT ON bars TO PUBLIC")
    result = _snapshot(params, seeds)
    assert result.tables[0].reused == len(MONTHS)
    assert result.tables[0].table.to_dict()["objects"]["grants"]  # the new record is this export's
    _assert_same_as_full_export(params, seeds, tmp_path)


def test_a_damaged_previous_file_is_exported_again_not_copied(bars: str, tmp_path: Path) -> None:
    params, seeds = _params(), tmp_path / "seeds"
    _snapshot(params, seeds)
    damaged = seeds / "data" / "bars" / "2024-02.parquet"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))

    result = _snapshot(params, seeds)
    assert result.tables[0].reused == len(MONTHS) - 1
    _assert_same_as_full_export(params, seeds, tmp_path)


def test_a_previous_snapshot_made_with_other_writer_settings_is_not_reused(bars: str, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    _snapshot(_params(), seeds)
    other = parse_params(
        {
            "sources": {"bars": {"table": "bars", "time_column": "time", "partition": "month"}},
            "backup": {"batch_rows": 2048},
        }
    )
    assert _snapshot(other, seeds).tables[0].reused == 0
    _assert_same_as_full_export(other, seeds, tmp_path)


def test_an_emptied_table_gets_its_empty_file(bars: str, tmp_path: Path) -> None:
    params, seeds = _params(), tmp_path / "seeds"
    _snapshot(params, seeds)
    _sql(bars, "DELETE FROM bars")
    result = run_export(params, seeds)
    assert [p.period for p in result.tables[0].parts] == ["empty"] and result.tables[0].reused == 0
    _assert_same_as_full_export(params, seeds, tmp_path)


def test_a_file_is_reused_only_if_it_passed_the_checks_this_export_makes(bars: str, tmp_path: Path) -> None:
    """Adding OHLCV rules to a source: the old files were never checked against them."""
    seeds = tmp_path / "seeds"
    _snapshot(_params(), seeds)
    raw = {
        "sources": {
            "bars": {
                "table": "bars",
                "time_column": "time",
                "partition": "month",
                "ohlcv": {"open": "price", "high": "price", "low": "price", "close": "price"},
            }
        },
        "backup": {"batch_rows": 1024},
    }
    checked = parse_params(raw)
    first = _snapshot(checked, seeds)
    assert first.tables[0].reused == 0 and first.tables[0].checks["ohlcv_violations"] == 0
    assert _snapshot(checked, seeds).tables[0].reused == len(MONTHS)
    _assert_same_as_full_export(checked, seeds, tmp_path)


def test_periods_at_utc_month_and_year_edges_reuse_exactly(env_db: str, tmp_path: Path) -> None:
    """The server's periods are the writer's: UTC months for timestamptz (a bar at 23:30 on
    31 March in Bogota is April's), the first and last years a date can be dated in."""
    _sql(
        env_db,
        """
        CREATE TABLE edges (d date PRIMARY KEY, at timestamptz NOT NULL, v int);
        INSERT INTO edges VALUES ('0001-01-01', '2024-03-31 23:30-05', 1), ('1999-12-31', '2024-03-31 18:59-05', 2),
            ('2000-01-01', '2024-04-01 00:00+00', 3), ('9999-12-31', '2024-02-29 23:59:59.999999+00', 4);
        CREATE TABLE moments (at timestamptz PRIMARY KEY, v int);
        INSERT INTO moments SELECT at, v FROM edges;
        """,
    )
    params = parse_params(
        {
            "sources": {
                "edges": {"table": "edges", "time_column": "d", "partition": "year"},
                "moments": {"table": "moments", "time_column": "at", "partition": "month"},
            }
        }
    )
    seeds = tmp_path / "seeds"
    first = _snapshot(params, seeds)
    periods = {t.source: [(p.period, p.rows, bool(p.fingerprint)) for p in t.parts] for t in first.tables}
    assert periods == {
        "edges": [("0001", 1, True), ("1999", 1, True), ("2000", 1, True), ("9999", 1, True)],
        "moments": [("2024-02", 1, True), ("2024-03", 1, True), ("2024-04", 2, True)],
    }
    assert [t.reused for t in _snapshot(params, seeds).tables] == [4, 3]
    _sql(env_db, "UPDATE edges SET v = 5 WHERE d = '9999-12-31'; UPDATE moments SET v = 6 WHERE v = 1")
    assert [t.reused for t in _snapshot(params, seeds).tables] == [3, 2]
    _assert_same_as_full_export(params, seeds, tmp_path)


def test_values_outside_the_ordinary_calendar_export_the_table_whole_and_exactly(env_db: str, tmp_path: Path) -> None:
    """BC dates and infinities are read another way (the epoch fallback): the files of such a
    table are exported again, and the result is still exactly a full export."""
    _sql(
        env_db,
        "CREATE TABLE eras (d date PRIMARY KEY, v int);"
        "INSERT INTO eras VALUES ('-infinity', 1), ('0044-03-15 BC', 2), ('2024-01-01', 3), ('infinity', 4)",
    )
    params = parse_params({"sources": {"eras": {"table": "eras", "time_column": "d", "partition": "year"}}})
    seeds = tmp_path / "seeds"
    first = _snapshot(params, seeds)
    assert [p.period for p in first.tables[0].parts] == ["early", "2024", "late"]
    _sql(env_db, "UPDATE eras SET v = 7 WHERE d = '0044-03-15 BC'")
    _snapshot(params, seeds)
    _assert_same_as_full_export(params, seeds, tmp_path)


def test_snapshot_says_what_it_reused_and_its_version_restores_exactly(
    sample_project: Project, pg_server: TempPostgres
) -> None:
    first = sample_project.seedctl("snapshot", "--no-push")
    assert first.returncode == 0, first.stderr
    assert "reused" not in first.stderr
    sample_project.commit_all("snapshot")
    sample_project.sql(
        "UPDATE usdcop_m5_ohlcv SET close = close + 0.01 WHERE time = (SELECT min(time) FROM usdcop_m5_ohlcv)"
    )

    second = sample_project.seedctl("snapshot", "--no-push")
    assert second.returncode == 0, second.stderr
    line = next(x for x in second.stderr.splitlines() if "export usdcop_m5_ohlcv" in x)
    assert line.startswith("seedctl: export usdcop_m5_ohlcv: 1 of ") and "proven unchanged and reused" in line
    sample_project.commit_all("second snapshot")

    target = new_database(pg_server)
    restored = sample_project.seedctl("restore", env={"DATABASE_URL": target})
    assert restored.returncode == 0, restored.stderr
    verify = sample_project.seedctl("verify", "--db", env={"DATABASE_URL": target})
    assert verify.returncode == 0, verify.stderr
    with psycopg.connect(target) as a, psycopg.connect(sample_project.database_url) as b:
        query = "SELECT * FROM usdcop_m5_ohlcv ORDER BY time"
        assert a.execute(query).fetchall() == b.execute(query).fetchall()


def _content_checksum(url: str) -> object:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = 'bars'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        ).fetchall()
        names, types = [r[0] for r in rows], [r[1] for r in rows]
        return table_checksum(conn, sql.Identifier("public", "bars"), names, algorithm=CHECKSUM_ALGORITHM, types=types)


def test_a_scan_split_in_two_adds_up_to_the_whole_one(env_db: str) -> None:
    """The sums of a share of the rows and of all the others are the sums of all: every row
    is in exactly one share, undated, infinite and BC ones included."""
    _sql(
        env_db,
        """
        CREATE TABLE odd (at timestamptz, v bigint);
        INSERT INTO odd VALUES (NULL, 1), ('-infinity', 2), ('0044-03-15 00:00+00 BC', 3),
            ('2024-01-31 23:59:59.999999+00', 4), ('2024-02-01 00:00+00', 5), ('2024-02-29 19:00-05', 6),
            ('2024-03-15 12:00+00', 7), ('infinity', 8);
        """,
    )
    source = parse_params({"sources": {"odd": {"table": "odd", "time_column": "at", "partition": "month"}}})
    with psycopg.connect(env_db) as conn:
        table = read_table_schema(conn, "odd", source.sources["odd"], timescaledb=False)
        column = table.column("at")
        assert column is not None
        names, types = checksum_columns(table.columns)

        def sums(where: sql.Composable | None) -> dict[str, PeriodSums]:
            return period_sums(
                conn, table.identifier(), names, types, time_column="at", time_type="timestamptz",
                granularity="month", algorithm=CHECKSUM_ALGORITHM, where=where,
            )  # fmt: skip

        whole = sums(None)
        assert sorted(whole) == ["2024-01", "2024-02", "2024-03", "early", "late", "undated"]
        for head in (["2024-01"], ["early", "2024-01", "2024-02"], ["2024-03", "undated"]):
            share = periods_filter(column, "month", head)
            assert added([sums(share), sums(complement(share))]) == whole


def test_the_reused_tables_scan_runs_on_two_server_processes_at_once(
    bars: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params, seeds = _params(), tmp_path / "seeds"
    _snapshot(params, seeds)
    _sql(bars, CHANGES["update"])
    shares: list[tuple[int, bool]] = []

    def recorded(conn: psycopg.Connection, *args: Any, **kwargs: Any) -> dict[str, PeriodSums]:
        shares.append((conn.info.backend_pid, kwargs["where"] is not None))
        return period_sums(conn, *args, **kwargs)

    monkeypatch.setattr(sums, "period_sums", recorded)
    result = _snapshot(params, seeds)
    assert len(shares) == 2 and len({pid for pid, _ in shares}) == 2 and all(where for _, where in shares)
    assert result.tables[0].reused == len(MONTHS) - 1
    _assert_same_as_full_export(params, seeds, tmp_path)


def test_a_reused_file_is_the_previous_one_linked_not_a_copy(bars: str, tmp_path: Path) -> None:
    """No byte written for an unchanged period: the new snapshot's file is the old file's
    inode (its times kept, so DVC's state still knows its md5), alone once published."""
    params, seeds = _params(), tmp_path / "seeds"
    _snapshot(params, seeds)
    files = {m: seeds / "data" / "bars" / f"{m}.parquet" for m in MONTHS}
    before = {m: (p.stat().st_ino, p.stat().st_mtime_ns) for m, p in files.items()}
    _sql(bars, CHANGES["update"])

    _snapshot(params, seeds)
    after = {m: (p.stat().st_ino, p.stat().st_mtime_ns) for m, p in files.items()}
    assert {m for m in MONTHS if after[m] == before[m]} == set(MONTHS) - {"2024-03"}
    assert all(p.stat().st_nlink == 1 for p in files.values())
    _assert_same_as_full_export(params, seeds, tmp_path)


def test_a_file_also_linked_elsewhere_is_copied_not_linked_again(bars: str, tmp_path: Path) -> None:
    """A file with more than one link (e.g. DVC's cache.type hardlink: the file IS the cache
    object) is copied: the new snapshot never shares an inode with something outside it."""
    params, seeds = _params(), tmp_path / "seeds"
    _snapshot(params, seeds)
    january = seeds / "data" / "bars" / "2024-01.parquet"
    os.link(january, tmp_path / "cache-object")
    inode = january.stat().st_ino

    assert _snapshot(params, seeds).tables[0].reused == len(MONTHS)
    assert january.stat().st_ino != inode and january.stat().st_nlink == 1
    assert (tmp_path / "cache-object").read_bytes() == january.read_bytes()
