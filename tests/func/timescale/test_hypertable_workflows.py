"""The operator's other workflows around a hypertable snapshot, against the real TimescaleDB
(2.23 in PGlite, one session at a time: conftest.py): `seedctl verify --db` of a restored
TimescaleDB target, partial restores (`--table`, `--since/--until`) onto a fresh TimescaleDB
database, `seedctl query` over the snapshot, and the plan's seeder
(scripts/init/04-seed-from-minio.py, as docker-compose.yml runs it) from the S3 server.
The source is conftest.py's `create_source`: `ohlcv`, a hypertable with some chunks
compressed, and `ohlcv_plain`, the same rows in a plain table.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.parquet as pq
import pytest

from seedctl_dev.testing import BIN, run_sql
from tests.func.timescale.conftest import (
    EXPECTED_ROWS,
    TABLE,
    Snapshot,
    chunk_list,
    create_source,
    hypertable_settings,
    table_rows,
    tsdb_project,
)
from tests.helpers import Project, fresh_clone, one_error_line, seeder

FEBRUARY_MARCH = ("--since", "2024-02-01", "--until", "2024-03-31")  # two monthly files, three 30-day chunks


def _in(rows: list[tuple[object, ...]], since: str, before: str) -> list[tuple[object, ...]]:
    """The rows whose time (column 1) is in [since, before)."""
    lo, hi = (datetime.fromisoformat(d).replace(tzinfo=UTC) for d in (since, before))
    return [r for r in rows if lo <= r[1] < hi]  # type: ignore[operator]


def _compared(stdout: str) -> dict[str, list[str]]:
    """`verify --db`'s table: snapshot rows, database rows and content, by table."""
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in stdout.splitlines() if line.startswith("│")]
    return {row[0]: row[1:] for row in cells if row[0] != "table"}


def test_verify_db_passes_on_a_restored_target_and_names_a_row_changed_in_a_compressed_chunk(
    snapshotted: Snapshot, tsdb_fresh: str
) -> None:
    project = snapshotted.project
    env = {"DATABASE_URL": tsdb_fresh}
    restored = project.seedctl("restore", env=env)
    assert restored.returncode == 0, restored.stderr
    # Every chunk of the target compressed: verify reads the rows back through TimescaleDB.
    run_sql(tsdb_fresh, "SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks('ohlcv'::regclass) c")
    assert {c[3] for c in chunk_list(tsdb_fresh)} == {True}

    verified = project.seedctl("verify", "--db", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    rows = f"{EXPECTED_ROWS:,}"
    assert _compared(verified.stdout) == {
        "public.ohlcv": [rows, rows, "equal"],
        "public.ohlcv_plain": [rows, rows, "equal"],
    }

    # One value of one row, inside a compressed chunk: the same row count, other content.
    run_sql(tsdb_fresh, "UPDATE ohlcv SET close = close + 1 WHERE time = '2024-02-15 12:00+00' AND symbol = 'USD/COP'")
    changed = project.seedctl("verify", "--db", env=env)
    line = one_error_line(changed, "1 table(s) differ from snapshot", "public.ohlcv")
    assert "ohlcv_plain" not in line
    assert [ln for ln in changed.stderr.splitlines() if ln.startswith("seedctl: error: ")] == [line]
    assert _compared(changed.stdout) == {
        "public.ohlcv": [rows, rows, "differs"],
        "public.ohlcv_plain": [rows, rows, "equal"],
    }

    # The advice, as printed, puts the snapshot's rows back; verify passes again.
    assert "`make restore MODE=replace`" in changed.stderr
    made = {**env, "VENV": str(BIN.parent)} if (BIN.parent / ".installed").exists() else env  # this venv, not a new one
    fixed = project.run("make", "restore", "MODE=replace", env=made)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    again = project.seedctl("verify", "--db", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert table_rows(tsdb_fresh, "ohlcv") == table_rows(project.database_url, "ohlcv")


def test_partial_restore_by_table_and_time_range_creates_the_hypertable_on_a_fresh_database(
    snapshotted: Snapshot, tsdb_fresh: str
) -> None:
    project = snapshotted.project
    source = project.database_url
    env = {"DATABASE_URL": tsdb_fresh}

    restored = project.seedctl("restore", "--table", "ohlcv", *FEBRUARY_MARCH, env=env)

    assert restored.returncode == 0, restored.stderr
    assert "created extension timescaledb" in restored.stdout
    # Only the table asked for, and only its rows of the range.
    assert run_sql(tsdb_fresh, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'") == [("ohlcv",)]
    assert run_sql(tsdb_fresh, "SELECT hypertable_name FROM timescaledb_information.hypertables") == [("ohlcv",)]
    expected = _in(table_rows(source, "ohlcv"), "2024-02-01", "2024-04-01")
    assert table_rows(tsdb_fresh, "ohlcv") == expected and len(expected) == (29 + 31) * 24 * 2
    # TimescaleDB made the chunks (the source's ranges that hold those rows), none in the parent.
    lo, hi = expected[0][1], expected[-1][1]
    wanted = [c[1:3] for c in chunk_list(source) if c[2] > lo and c[1] <= hi]
    assert [c[1:3] for c in chunk_list(tsdb_fresh)] == wanted
    assert {c[0] for c in chunk_list(tsdb_fresh)} == {"_timescaledb_internal"}
    assert run_sql(tsdb_fresh, "SELECT count(*) FROM ONLY ohlcv") == [(0,)]
    # The hypertable's dimensions, compression settings and policies, as the source's.
    assert hypertable_settings(tsdb_fresh) == hypertable_settings(source)

    # A second range by --since alone, into the hypertable now there: its rows added, nothing else.
    more = project.seedctl("restore", "--table", "ohlcv", "--since", "2024-06-01", "--mode", "append", env=env)
    assert more.returncode == 0, more.stderr
    assert table_rows(tsdb_fresh, "ohlcv") == expected + _in(table_rows(source, "ohlcv"), "2024-06-01", "2024-07-01")
    assert run_sql(tsdb_fresh, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'") == [("ohlcv",)]
    assert run_sql(tsdb_fresh, "SELECT count(*) FROM ONLY ohlcv") == [(0,)]


def test_query_reads_a_time_range_of_the_hypertable_snapshot(snapshotted: Snapshot, tmp_path: Path) -> None:
    project = snapshotted.project
    source = table_rows(project.database_url, "ohlcv")
    statement = "SELECT id, time, symbol, close, volume FROM ohlcv ORDER BY time, symbol"

    # --since/--until across two monthly files (March's and April's) of the snapshot.
    out = tmp_path / "range.parquet"
    ranged = project.seedctl(
        "query", "--since", "2024-03-30", "--until", "2024-04-02", "--parquet", str(out), statement
    )
    assert ranged.returncode == 0, ranged.stderr
    got = [(r["id"], r["time"], r["symbol"], r["close"], r["volume"]) for r in pq.read_table(out).to_pylist()]
    expected = [(r[0], r[1], r[2], r[6], r[7]) for r in _in(source, "2024-03-30", "2024-04-03")]
    assert got == expected and len(expected) == 4 * 24 * 2
    assert f"{len(expected):,} rows written" in ranged.stdout

    # The same range in the SQL itself, over every file of the snapshot.
    counted = project.seedctl(
        "query",
        "SELECT count(*) AS n, sum(volume) AS v FROM ohlcv "
        "WHERE time >= TIMESTAMPTZ '2024-03-30 00:00+00' AND time < TIMESTAMPTZ '2024-04-03 00:00+00'",
        "--csv",
        "-",
    )
    assert counted.returncode == 0, counted.stderr
    assert list(csv.reader(io.StringIO(counted.stdout))) == [
        ["n", "v"],
        [f"{len(expected)}", f"{sum(r[4] for r in expected)}"],
    ]


def _pushed_clone(tmp_path: Path, tsdb: str, s3_env: dict[str, str]) -> Project:
    """The source snapshotted and pushed to the S3 server, committed; what a new server checks out."""
    create_source(tsdb)
    project = tsdb_project(tmp_path, tsdb)
    pushed = project.seedctl("snapshot", env=s3_env)
    assert pushed.returncode == 0, pushed.stderr
    assert "pushed" in pushed.stdout
    project.commit_all("snapshot")
    return fresh_clone(project, tmp_path / "server")


def _compose_seeder(clone: Project, url: str, s3_env: dict[str, str]) -> Callable[[], subprocess.CompletedProcess[str]]:
    """A run of docker-compose.yml's data-seeder (its command and environment from .env), the
    checkout mounted from clone and the service names pointed at the database url and the S3 server."""
    target = urlsplit(url)
    dotenv = {**s3_env, "PGUSER": target.username or "", "PGPASSWORD": target.password or "", "PGDATABASE": "postgres"}
    env, command, workdir = seeder(dotenv)
    # What Compose's network does: the service names resolve to the servers.
    assert env.pop("PGHOST") == "timescaledb" and env.pop("PGPORT") == "5432"
    assert env.pop("MINIO_ENDPOINT") == "minio:9000"
    env.update(PGHOST="127.0.0.1", PGPORT=str(target.port), MINIO_ENDPOINT=s3_env["MINIO_ENDPOINT"])
    env["PGSSLMODE"] = "disable"  # the test TimescaleDB speaks no TLS (seedctl_dev.tsdbserver)
    mounted = {workdir: str(clone.root), f"{workdir}/src": str(clone.root / "src")}
    env = {k: mounted.get(v, v) for k, v in env.items()}
    argv = [sys.executable if arg.startswith("/opt/seedctl/") else mounted.get(arg, arg) for arg in command]
    base = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(clone.root.parent)}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, cwd=clone.root, env={**base, **env}, capture_output=True, text=True, timeout=300, check=False
        )

    return run


@pytest.mark.parametrize("history", ["git", "no-git"])
def test_compose_seeder_seeds_a_fresh_timescaledb_from_the_bucket_then_leaves_it_alone(
    tmp_path: Path, tsdb: str, tsdb_fresh: str, s3_env: dict[str, str], history: str
) -> None:
    """With the checkout's git history (dvc pull), and without it (a container given the files
    but not .git: the bucket's catalog alone)."""
    clone = _pushed_clone(tmp_path, tsdb, s3_env)
    if history == "no-git":
        shutil.rmtree(clone.root / ".git")
    run_seeder = _compose_seeder(clone, tsdb_fresh, s3_env)

    first = run_seeder()

    assert first.returncode == 0, first.stdout + first.stderr
    assert ("no git history here: seeding from the bucket's catalog" in first.stdout) == (history == "no-git")
    assert "seeded 2 table(s)" in first.stdout
    assert "created extension timescaledb" in first.stdout
    assert run_sql(tsdb_fresh, "SELECT hypertable_name FROM timescaledb_information.hypertables") == [("ohlcv",)]
    for table in ("ohlcv", "ohlcv_plain"):
        assert table_rows(tsdb_fresh, table) == table_rows(tsdb, table)
    assert hypertable_settings(tsdb_fresh) == hypertable_settings(tsdb)
    assert [c[1:3] for c in chunk_list(tsdb_fresh)] == [c[1:3] for c in chunk_list(tsdb)]
    assert run_sql(tsdb_fresh, "SELECT count(*) FROM ONLY ohlcv") == [(0,)]
    seeded = {t: table_rows(tsdb_fresh, t) for t in ("ohlcv", "ohlcv_plain")}
    chunks = chunk_list(tsdb_fresh)

    second = run_seeder()

    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing to do: every table already holds data" in second.stdout
    assert "public.ohlcv: already has data, left alone" in second.stdout
    assert {t: table_rows(tsdb_fresh, t) for t in seeded} == seeded
    assert chunk_list(tsdb_fresh) == chunks
    assert hypertable_settings(tsdb_fresh) == hypertable_settings(tsdb)


def test_compose_seeder_fills_a_hypertable_an_earlier_init_script_created(
    tmp_path: Path, tsdb: str, tsdb_fresh: str, s3_env: dict[str, str]
) -> None:
    """An init script ran first (as docker-entrypoint-initdb.d would): the extension and an
    empty `ohlcv` hypertable exist, with a chunk interval of its own. The seeder fills that
    hypertable through TimescaleDB (it is not replaced), and creates the absent plain table."""
    clone = _pushed_clone(tmp_path, tsdb, s3_env)
    run_sql(tsdb_fresh, "CREATE EXTENSION timescaledb")
    run_sql(tsdb_fresh, TABLE.format(name="ohlcv"))
    run_sql(tsdb_fresh, "SELECT create_hypertable('ohlcv', 'time', chunk_time_interval => interval '7 days')")
    [(oid,)] = run_sql(tsdb_fresh, "SELECT 'ohlcv'::regclass::oid")

    seeded = _compose_seeder(clone, tsdb_fresh, s3_env)()

    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    assert "seeded 2 table(s)" in seeded.stdout
    assert run_sql(tsdb_fresh, "SELECT 'ohlcv'::regclass::oid") == [(oid,)]  # the script's table, filled
    for table in ("ohlcv", "ohlcv_plain"):
        assert table_rows(tsdb_fresh, table) == table_rows(tsdb, table)
    assert run_sql(tsdb_fresh, "SELECT count(*) FROM ONLY ohlcv") == [(0,)]
    # The script's hypertable as the script made it: weekly chunks (26 weeks of rows), one
    # dimension, no compression, no policy; the snapshot's settings are for a table it creates.
    ranges = [c[1:3] for c in chunk_list(tsdb_fresh)]
    assert len(ranges) == len(set(ranges)) >= 26
    assert all((end - start).days == 7 for start, end in ranges)
    assert hypertable_settings(tsdb_fresh) == {
        "dimensions": [("time", "Time", timedelta(days=7), None)],
        "compression": [],
        "policies": [],
    }
    # The identity continues after the restored ids.
    [(new_id, max_id)] = run_sql(
        tsdb_fresh,
        "WITH n AS (INSERT INTO ohlcv (time, symbol) VALUES ('2024-07-01', 'USD/COP') RETURNING id) "
        "SELECT n.id, (SELECT max(id) FROM ohlcv WHERE time < '2024-07-01') FROM n",
    )
    assert new_id > max_id
