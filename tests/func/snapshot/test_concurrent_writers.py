"""Snapshots taken while another session rewrites a table (TRUNCATE + re-INSERT, as an
application's nightly reload does) still restore exactly: the export locks what it reads
(ACCESS SHARE, as pg_dump), so the TRUNCATE waits for the snapshot instead of breaking it.
Real seedctl, dvc, git, PostgreSQL and S3 server; the writer is a real concurrent session."""

from __future__ import annotations

import threading
import time

import psycopg

from seedctl_dev.devserver import TempPostgres
from tests.helpers import Project, add_trade, new_database, one_error_line, sample_contents

RELOAD = (
    "BEGIN; TRUNCATE macro_indicators_daily; "
    "INSERT INTO macro_indicators_daily SELECT * FROM macro_reload ORDER BY fecha; COMMIT"
)


def _writer(url: str, stop: threading.Event, reloads: list[float]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            conn.execute(RELOAD)
            reloads.append(time.monotonic())
            time.sleep(0.05)


def test_every_tagged_snapshot_restores_while_a_writer_truncates_and_refills(
    sample_project: Project, s3_env: dict[str, str], pg_server: TempPostgres
) -> None:
    sample_project.sql("CREATE TABLE macro_reload AS SELECT * FROM macro_indicators_daily")
    stop, reloads = threading.Event(), []
    writer = threading.Thread(target=_writer, args=(sample_project.database_url, stop, reloads))
    writer.start()
    taken: list[tuple[str, dict[str, list[str]], float, float]] = []
    try:
        for _ in range(3):
            add_trade(sample_project)
            expected = sample_contents(sample_project.database_url)  # a reload commits whole: always full
            started = time.monotonic()
            result = sample_project.seedctl("snapshot", env=s3_env)
            assert result.returncode == 0, result.stderr
            tags = set(sample_project.git("tag", "--list", "seeds/v*").split())
            [tag] = tags - {t for t, *_ in taken}  # every snapshot is tagged
            taken.append((tag, expected, started, time.monotonic()))
    finally:
        stop.set()
        writer.join(timeout=60)
    # The writer ran during the snapshots, not only between them.
    assert any(start < t < end for _, _, start, end in taken for t in reloads)
    for tag, expected, *_ in taken:
        target = new_database(pg_server)
        restored = sample_project.seedctl("restore", "--rev", tag, env={**s3_env, "DATABASE_URL": target})
        assert restored.returncode == 0, restored.stderr
        assert sample_contents(target) == expected, tag


def test_a_lock_held_too_long_names_the_session_holding_it(sample_project: Project, s3_env: dict[str, str]) -> None:
    params = sample_project.params()
    params["backup"]["lock_timeout_s"] = 1
    sample_project.write_params(params)
    with psycopg.connect(sample_project.database_url, autocommit=True) as holder:
        holder.execute("SET application_name = 'nightly-migration'")
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE trades_history IN ACCESS EXCLUSIVE MODE")
        result = sample_project.seedctl("snapshot", env=s3_env)
        holder.execute("ROLLBACK")
    assert result.returncode == 3, result.stderr
    line = one_error_line(result, "trades_history", "nightly-migration", "for 1 s")
    assert "run the snapshot again" in line
    assert not (sample_project.seeds / "LATEST_VERSION").exists()
    assert sample_project.git("tag", "--list", "seeds/v*").split() == []
