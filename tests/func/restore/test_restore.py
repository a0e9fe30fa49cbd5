"""Restore end to end through the real CLI: exact, all-or-nothing, never overwriting by accident."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from tests.helpers import new_database

if TYPE_CHECKING:
    from seedctl_dev.devserver import TempPostgres
    from tests.helpers import Project

TABLES = {"usdcop_m5_ohlcv": "time, symbol", "macro_indicators_daily": "fecha", "trades_history": "id"}


def rows(url: str, table: str, order: str) -> list[str]:
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        return [r[0] for r in conn.execute(f"SELECT r::text FROM {table} r ORDER BY {order}")]


def state(url: str) -> dict[str, object]:
    """Everything a restore could change: tables and their full contents."""
    with psycopg.connect(url) as conn:
        present = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
    return {t: rows(url, t, TABLES.get(t, "1")) for t in present}


def snapshot(project: Project) -> None:
    result = project.seedctl("snapshot", "--no-push")
    assert result.returncode == 0, result.stderr
    project.commit_all("snapshot")


def test_restore_into_empty_database_is_exact(sample_project: Project, pg_server: TempPostgres) -> None:
    snapshot(sample_project)
    target = new_database(pg_server)

    result = sample_project.seedctl("restore", env={"DATABASE_URL": target})

    assert result.returncode == 0, result.stderr
    for table, order in TABLES.items():
        assert rows(target, table, order) == rows(sample_project.database_url, table, order), table
        assert table in result.stdout
    assert "rows + checksum" in result.stdout
    with psycopg.connect(target) as conn:
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
        assert {"usdcop_m5_ohlcv_pkey", "usdcop_m5_ohlcv_time_idx", "trades_history_pkey"} <= indexes
        # Identity columns continue after the restored ids.
        new_id = conn.execute(
            "INSERT INTO trades_history (opened_at, side, entry_price, quantity) "
            "VALUES (now(), 'long', 4000, 1) RETURNING id"
        ).fetchone()[0]
        assert new_id == conn.execute("SELECT max(id) FROM trades_history WHERE id < %s", (new_id,)).fetchone()[0] + 1
        conn.rollback()
        check = conn.execute("SELECT count(*) FROM trades_history WHERE side NOT IN ('long', 'short')").fetchone()
        assert check == (0,)
    verify = sample_project.seedctl("verify", "--db", env={"DATABASE_URL": target})
    assert verify.returncode == 0, verify.stderr + verify.stdout


def test_non_empty_target_refused_unless_asked(sample_project: Project, pg_server: TempPostgres) -> None:
    snapshot(sample_project)
    target = new_database(pg_server)
    env = {"DATABASE_URL": target}
    assert sample_project.seedctl("restore", env=env).returncode == 0
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("DELETE FROM usdcop_m5_ohlcv WHERE time < '2021-01-01'")
        conn.execute("UPDATE trades_history SET strategy = 'edited here' WHERE id = 3")
    before = state(target)

    refused = sample_project.seedctl("restore", env=env)
    assert refused.returncode == 8
    assert "usdcop_m5_ohlcv has" in refused.stderr and "--mode replace" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert state(target) == before

    kept = sample_project.seedctl("restore", "--mode", "missing", env=env)
    assert kept.returncode == 0, kept.stderr
    assert state(target) == before

    appended = sample_project.seedctl("restore", "--mode", "append", env=env)
    assert appended.returncode == 0, appended.stderr
    assert rows(target, "usdcop_m5_ohlcv", "time") == rows(sample_project.database_url, "usdcop_m5_ohlcv", "time")
    assert rows(target, "trades_history", "id") == before["trades_history"]  # the edit survives

    replaced = sample_project.seedctl("restore", "--mode", "replace", env=env)
    assert replaced.returncode == 0, replaced.stderr
    assert state(target) == state(sample_project.database_url)


def test_dry_run_prints_the_plan_and_changes_nothing(sample_project: Project, pg_server: TempPostgres) -> None:
    snapshot(sample_project)
    target = new_database(pg_server)

    result = sample_project.seedctl("restore", "--dry-run", env={"DATABASE_URL": target})

    assert result.returncode == 0, result.stderr
    assert "dry run" in result.stdout and "create" in result.stdout
    assert state(target) == {}


def test_file_not_matching_manifest_is_never_loaded(sample_project: Project, pg_server: TempPostgres) -> None:
    snapshot(sample_project)
    data = sample_project.seeds / "data" / "usdcop_m5_ohlcv" / "2020-01.parquet"
    data.write_bytes(data.read_bytes()[:-100])  # truncated

    # The DVC cache still holds the verified bytes: they replace the damaged file.
    healed = new_database(pg_server)
    result = sample_project.seedctl("restore", env={"DATABASE_URL": healed})
    assert result.returncode == 0, result.stderr
    assert "cache" in result.stdout
    assert rows(healed, "usdcop_m5_ohlcv", "time") == rows(sample_project.database_url, "usdcop_m5_ohlcv", "time")

    # Damaged file, no cache, no remote, no fallback: refused before the database is touched.
    data.write_bytes(data.read_bytes()[:-100])
    shutil.rmtree(sample_project.root / ".dvc" / "cache")
    target = new_database(pg_server)
    result = sample_project.seedctl("restore", env={"DATABASE_URL": target})

    assert result.returncode == 6
    assert "usdcop_m5_ohlcv" in result.stderr and "database was not touched" in result.stderr
    assert "Traceback" not in result.stderr
    assert state(target) == {}


def test_restore_killed_mid_load_leaves_target_unchanged(sample_project: Project, pg_server: TempPostgres) -> None:
    snapshot(sample_project)
    target = new_database(pg_server)
    env = {"DATABASE_URL": target}
    assert sample_project.seedctl("restore", env=env).returncode == 0
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("DELETE FROM macro_indicators_daily WHERE fecha > '2000-01-01'")
        # Slow every row the restore inserts, so there is time to kill it mid-COPY.
        conn.execute(
            "CREATE FUNCTION crawl() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(0.002); RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER crawl BEFORE INSERT ON macro_indicators_daily FOR EACH ROW EXECUTE FUNCTION crawl()"
        )
    before = state(target)

    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "seedctl"), "restore", "--mode", "replace"],
        cwd=sample_project.root,
        env={**sample_project.env, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        with psycopg.connect(target, autocommit=True) as conn:
            while time.monotonic() < deadline:
                copying = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'seedctl' "
                    "AND query LIKE 'COPY%%macro_indicators_daily%%'"
                ).fetchone()[0]
                if copying:
                    break
                time.sleep(0.02)
            assert copying, "the restore never reached the COPY of macro_indicators_daily"
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    deadline = time.monotonic() + 30  # the server notices the dead client and rolls back
    with psycopg.connect(target, autocommit=True) as conn:
        while (
            conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'seedctl'").fetchone()[0]
            and time.monotonic() < deadline
        ):
            time.sleep(0.1)
    assert state(target) == before


def test_historical_restore_by_revision_leaves_work_tree_alone(
    sample_project: Project, pg_server: TempPostgres
) -> None:
    snapshot(sample_project)
    sample_project.git("tag", "seeds/v1")
    first = state(sample_project.database_url)
    sample_project.sql("DELETE FROM trades_history WHERE id > 5")
    sample_project.sql(
        "UPDATE macro_indicators_daily SET vix = 99.9 WHERE fecha = (SELECT max(fecha) FROM macro_indicators_daily)"
    )
    params = sample_project.params()
    params["validation"]["allow_shrinking_history"] = True
    sample_project.write_params(params)
    snapshot(sample_project)
    sample_project.git("tag", "seeds/v2")
    head = sample_project.git("rev-parse", "HEAD")
    target = new_database(pg_server)

    result = sample_project.seedctl("restore", "--rev", "seeds/v1", env={"DATABASE_URL": target})

    assert result.returncode == 0, result.stderr
    assert state(target) == first
    assert sample_project.git("status", "--porcelain") == ""
    assert sample_project.git("rev-parse", "HEAD") == head
    assert "seedctl-rev" not in sample_project.git("worktree", "list")

    missing = sample_project.seedctl("restore", "--rev", "seeds/v9", env={"DATABASE_URL": target})
    assert missing.returncode != 0 and "seeds/v9" in missing.stderr


def test_edited_manifest_checksum_is_refused(sample_project: Project, pg_server: TempPostgres) -> None:
    snapshot(sample_project)
    manifest = sample_project.seeds / "manifest.json"
    text = manifest.read_text()
    entry = json.loads(text)["tables"]["macro_indicators_daily"]["sha256"]
    manifest.write_text(text.replace(entry, "0" * 64))
    target = new_database(pg_server)

    result = sample_project.seedctl("restore", env={"DATABASE_URL": target})

    assert result.returncode == 6
    assert "macro_indicators_daily" in result.stderr
    assert state(target) == {}


def test_post_restore_hook_runs_and_its_status_is_reported(sample_project: Project, pg_server: TempPostgres) -> None:
    snapshot(sample_project)
    params = sample_project.params()
    params["backup"]["post_restore_hook"] = (
        'echo "$SEEDCTL_SNAPSHOT_VERSION|$SEEDCTL_RESTORED_TABLES" > hook.out; exit ${HOOK_EXIT:-0}'
    )
    sample_project.write_params(params)
    target = new_database(pg_server)

    ok = sample_project.seedctl("restore", env={"DATABASE_URL": target})
    assert ok.returncode == 0, ok.stderr
    assert "post-restore hook" in ok.stdout and "exited 0" in ok.stdout
    version = json.loads((sample_project.seeds / "manifest.json").read_text())["version"]
    assert (sample_project.root / "hook.out").read_text().startswith(f"{version}|public.")

    failing = sample_project.seedctl("restore", "--mode", "replace", env={"DATABASE_URL": target, "HOOK_EXIT": "3"})
    assert failing.returncode == 10
    assert "exited 3" in failing.stdout and "restore committed" in failing.stderr
    assert rows(target, "trades_history", "id") == rows(sample_project.database_url, "trades_history", "id")

    dry = sample_project.seedctl("restore", "--dry-run", "--mode", "replace", env={"DATABASE_URL": target})
    assert dry.returncode == 0 and "post-restore hook" not in dry.stdout
