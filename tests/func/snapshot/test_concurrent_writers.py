"""Snapshots taken while another session rewrites a table (TRUNCATE + re-INSERT, as an
application's nightly reload does) still restore exactly: the export locks what it reads
(ACCESS SHARE, as pg_dump), so the TRUNCATE waits for the snapshot instead of breaking it.
Real seedctl, dvc, git, PostgreSQL and S3 server; the writer is a real concurrent session."""

from __future__ import annotations

import threading
import time

import psycopg

from seedctl_dev.devserver import TempPostgres
from tests.helpers import Project, add_trade, new_database, one_error_line, sample_contents, wait_for_session

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


def test_a_restore_and_a_snapshot_in_one_checkout_wait_for_each_other(
    sample_project: Project, s3_env: dict[str, str], pg_server: TempPostgres
) -> None:
    """A restore in the checkout where a snapshot is being written would read the files that
    snapshot replaces: it is refused (exit 9) naming the snapshot's process, and so is a
    snapshot while a restore runs there; each goes through once the other is done."""
    assert sample_project.seedctl("snapshot", env=s3_env).returncode == 0
    target = new_database(pg_server)
    first = sample_project.seedctl("restore", env={"DATABASE_URL": target})
    assert first.returncode == 0, first.stderr
    add_trade(sample_project)
    env = {**s3_env, "DATABASE_URL": target}
    with psycopg.connect(sample_project.database_url, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE trades_history IN ACCESS EXCLUSIVE MODE")  # the export waits here
        snapshot = sample_project.spawn("snapshot", env=s3_env)
        wait_for_session(sample_project.database_url, "LOCK TABLE%", waiting_on="relation", proc=snapshot)
        before = sample_contents(target)
        refused = sample_project.seedctl("restore", "--mode", "replace", env=env)
        holder.execute("ROLLBACK")
    line = one_error_line(
        refused, f"a snapshot is being written in {sample_project.root} (seedctl snapshot, pid {snapshot.pid} since "
    )
    assert line.endswith("-- wait for it to finish, then run the restore again; nothing was changed"), line
    assert refused.returncode == 9 and len(refused.stderr.splitlines()) == 1, refused.stderr
    assert sample_contents(target) == before
    out, err = snapshot.communicate(timeout=300)
    assert snapshot.returncode == 0, err

    with psycopg.connect(target, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE trades_history IN ACCESS EXCLUSIVE MODE")  # the restore waits here
        restore = sample_project.spawn("restore", "--mode", "replace", env=env)
        wait_for_session(target, "LOCK TABLE%", waiting_on="relation", proc=restore)
        busy = sample_project.seedctl("snapshot", env=s3_env)
        holder.execute("ROLLBACK")
    line = one_error_line(busy, f"a restore is running in {sample_project.root} (seedctl restore, pid {restore.pid}")
    assert "wait for it to finish (or pass --wait SECONDS), then run the snapshot again" in line
    out, err = restore.communicate(timeout=300)
    assert restore.returncode == 0, err
    assert sample_contents(target) == sample_contents(sample_project.database_url)  # the restore, as told: again
