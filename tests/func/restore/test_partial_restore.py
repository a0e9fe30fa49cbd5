"""Restoring part of a snapshot through the real CLI (PostgreSQL, S3 server, git and dvc):
`--table` restores only the named tables, `--since/--until` only the rows of a time range,
fetching only the files that can hold them; both all or nothing and verified."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from seedctl_dev.testing import run_sql
from tests.helpers import cached_files, fresh_clone, new_database, pushed_project, sample_contents

if TYPE_CHECKING:
    import subprocess

    from seedctl_dev.devs3 import S3Server
    from seedctl_dev.devserver import TempPostgres
    from tests.helpers import Project

MARCH = ("--since", "2024-03-01", "--until", "2024-03-31")  # both inclusive: all of March
IN_MARCH = "time >= '2024-03-01' AND time < '2024-04-01'"
# Two tables tied by a foreign key, to restore one without the other.
LINKED = """
CREATE TABLE strategies (name text PRIMARY KEY);
CREATE TABLE fills (id int PRIMARY KEY, strategy text NOT NULL REFERENCES strategies);
INSERT INTO strategies VALUES ('ppo'), ('breakout');
INSERT INTO fills VALUES (1, 'ppo'), (2, 'breakout');
"""


@pytest.fixture
def two_tags(sample_project: Project, s3_env: dict[str, str]) -> Project:
    """seeds/v1 and seeds/v2 pushed; v2 changed March 2024 of the OHLCV table and one trade."""
    sample_project.sql(LINKED)
    params = sample_project.params()
    for name in ("strategies", "fills"):
        params["sources"][name] = {"table": f"public.{name}", "min_rows": 1}
    sample_project.write_params(params)
    pushed_project(sample_project, s3_env)
    sample_project.git("tag", "seeds/v1")
    sample_project.sql(f"UPDATE usdcop_m5_ohlcv SET volume = volume + 7 WHERE {IN_MARCH}")
    sample_project.sql("UPDATE trades_history SET pnl = 12345.5 WHERE id = (SELECT min(id) FROM trades_history)")
    second = sample_project.seedctl("snapshot", env=s3_env)
    assert second.returncode == 0, second.stderr
    sample_project.commit_all("snapshot 2")
    sample_project.git("tag", "seeds/v2")
    return sample_project


def restored_at_v1(project: Project, pg_server: TempPostgres, s3_env: dict[str, str]) -> str:
    """A new database holding snapshot v1 (restored from the project, not from the clone under test)."""
    target = new_database(pg_server)
    result = project.seedctl("restore", "--rev", "seeds/v1", env={**s3_env, "DATABASE_URL": target})
    assert result.returncode == 0, result.stderr
    return target


def rows(url: str, where: str = "true") -> list[tuple[object, ...]]:
    return run_sql(url, f"SELECT time, symbol, volume, close FROM usdcop_m5_ohlcv WHERE {where} ORDER BY time, symbol")


def one_line(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.returncode == code and len(lines) == 1, (result.returncode, result.stdout, result.stderr)
    assert lines[0].startswith("seedctl: error: ") and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def test_named_tables_only(two_tags: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path) -> None:
    target = restored_at_v1(two_tags, pg_server, s3_env)
    before = sample_contents(target)
    clone = fresh_clone(two_tags, tmp_path / "named")
    env = {**s3_env, "DATABASE_URL": target}

    # By source name or table name; only that table's file is fetched; the others are untouched.
    result = clone.seedctl("restore", "--table", "public.trades_history", "--mode", "replace", env=env)

    assert result.returncode == 0, result.stderr
    manifest = json.loads((clone.seeds / "manifest.json").read_text())
    trades = manifest["tables"]["trades_history"]["parts"][0]["md5"]
    assert cached_files(clone) == {trades, manifest["schema_md5"]}
    after = sample_contents(target)
    assert (
        after["trades_history"] == sample_contents(two_tags.database_url)["trades_history"] != before["trades_history"]
    )
    assert {t: r for t, r in after.items() if t != "trades_history"} == {
        t: r for t, r in before.items() if t != "trades_history"
    }
    assert "usdcop_m5_ohlcv" not in result.stdout

    unknown = clone.seedctl("restore", "--table", "trades", "--mode", "replace", env=env)
    one_line(unknown, 2, "--table trades", "its tables: ", "usdcop_m5_ohlcv", "trades_history", "fills")

    # A table whose foreign key references a table neither restored nor on the target: refused.
    empty = new_database(pg_server)
    alone = clone.seedctl("restore", "--table", "fills", env={**s3_env, "DATABASE_URL": empty})
    one_line(alone, 8, "public.strategies", "--table public.strategies")
    assert sample_contents(empty) == {} and not run_sql(empty, "SELECT 1 FROM pg_tables WHERE tablename = 'fills'")
    both = clone.seedctl("restore", "--table", "fills", "--table", "strategies", env={**s3_env, "DATABASE_URL": empty})
    assert both.returncode == 0, both.stderr
    assert run_sql(empty, "SELECT count(*) FROM fills JOIN strategies ON name = strategy") == [(2,)]


def test_a_time_range_replaces_or_appends_only_its_rows(
    two_tags: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path, s3_server: S3Server
) -> None:
    target = restored_at_v1(two_tags, pg_server, s3_env)
    outside = rows(target, f"NOT ({IN_MARCH})")
    run_sql(target, f"DELETE FROM usdcop_m5_ohlcv WHERE {IN_MARCH} AND extract(minute FROM time)::int = 5")
    run_sql(target, f"UPDATE usdcop_m5_ohlcv SET close = close + 1 WHERE {IN_MARCH}")
    clone = fresh_clone(two_tags, tmp_path / "range")
    env = {**s3_env, "DATABASE_URL": target}
    manifest = json.loads((clone.seeds / "manifest.json").read_text())
    parts = {p["period"]: p for p in manifest["tables"]["usdcop_m5_ohlcv"]["parts"]}

    replaced = clone.seedctl("restore", "--table", "usdcop_m5_ohlcv", *MARCH, "--mode", "replace", env=env)

    assert replaced.returncode == 0, replaced.stderr
    assert cached_files(clone) == {parts["2024-03"]["md5"], manifest["schema_md5"]}  # 1 of the table's files
    assert rows(target, IN_MARCH) == rows(two_tags.database_url, IN_MARCH)  # v2's March
    assert rows(target, f"NOT ({IN_MARCH})") == outside  # the rest as it was (v1)

    # append: the range's rows go in; a row already there is a key conflict and changes nothing.
    run_sql(target, f"DELETE FROM usdcop_m5_ohlcv WHERE {IN_MARCH}")
    appended = clone.seedctl("restore", "--table", "usdcop_m5_ohlcv", *MARCH, "--mode", "append", env=env)
    assert appended.returncode == 0, appended.stderr
    assert rows(target, IN_MARCH) == rows(two_tags.database_url, IN_MARCH)
    run_sql(target, f"DELETE FROM usdcop_m5_ohlcv WHERE {IN_MARCH} AND extract(minute FROM time)::int = 5")
    before = sample_contents(target)
    conflict = clone.seedctl("restore", "--table", "usdcop_m5_ohlcv", *MARCH, "--mode", "append", env=env)
    one_line(conflict, 8, "usdcop_m5_ohlcv", "already in the target", "--mode replace")
    assert sample_contents(target) == before

    # Verification compares the range in the target with the snapshot's rows of the range.
    run_sql(
        target,
        "CREATE FUNCTION nudge() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN NEW.volume := NEW.volume + 1; RETURN NEW; END$$; "
        "CREATE TRIGGER nudge BEFORE INSERT ON usdcop_m5_ohlcv FOR EACH ROW EXECUTE FUNCTION nudge()",
    )
    nudged = clone.seedctl("restore", "--table", "usdcop_m5_ohlcv", *MARCH, "--mode", "replace", env=env)
    one_line(nudged, 8, "usdcop_m5_ohlcv", "checksum", "nudge")
    assert sample_contents(target) == before
    run_sql(target, "DROP TRIGGER nudge ON usdcop_m5_ohlcv")

    # safe refuses a table with rows; a range over a table without a time column is refused.
    safe = clone.seedctl("restore", "--table", "usdcop_m5_ohlcv", *MARCH, env=env)
    one_line(safe, 8, "usdcop_m5_ohlcv", "--mode")
    untimed = clone.seedctl("restore", *MARCH, "--mode", "replace", env=env)
    one_line(untimed, 2, "fidelity", "--table")
    assert sample_contents(target) == before

    # A damaged object of the range: refused before the database is touched.
    other = fresh_clone(two_tags, tmp_path / "damaged")
    good = (two_tags.seeds / "data" / "usdcop_m5_ohlcv" / "2024-03.parquet").read_bytes()
    md5 = hashlib.md5(good).hexdigest()  # noqa: S324 - DVC's content address
    s3_server.client().put_object(
        Bucket=s3_env["MINIO_BUCKET"], Key=f"seedctl/files/md5/{md5[:2]}/{md5[2:]}", Body=good[:-1] + b"X"
    )
    damaged = other.seedctl("restore", "--table", "usdcop_m5_ohlcv", *MARCH, "--mode", "replace", env=env)
    one_line(damaged, 6, "usdcop_m5_ohlcv", "not touched")
    assert sample_contents(target) == before


def plan_of(result: subprocess.CompletedProcess[str], table: str) -> tuple[int, list[str]]:
    """A restore's (or dry run's) rows cell for `table`, and the notes printed for it."""
    assert result.returncode == 0, result.stderr
    cells = next(line.split("│") for line in result.stdout.splitlines() if f" {table} " in line)
    notes = [line for line in result.stdout.splitlines() if line.startswith(f"{table.split('.')[-1]}: ")]
    return int(cells[4].strip().replace(",", "")), notes


def test_a_dry_run_shows_what_the_run_does(
    two_tags: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    """The rows a dry run plans are the rows the run loads, and the target rows it says it would
    delete are those the run deletes: a range over an unpartitioned table counts the rows of
    the range, not of its file (a range without a trade plans 0, not the whole table)."""
    target = restored_at_v1(two_tags, pg_server, s3_env)
    env = {**s3_env, "DATABASE_URL": target}
    first = run_sql(target, "SELECT min(opened_at)::date FROM trades_history")[0][0]
    lo, hi = first, first + timedelta(days=27)
    in_window = f"opened_at >= '{lo}' AND opened_at < '{hi + timedelta(days=1)}'"
    snapshot_rows = run_sql(two_tags.database_url, f"SELECT count(*) FROM trades_history WHERE {in_window}")[0][0]
    total = run_sql(target, "SELECT count(*) FROM trades_history")[0][0]
    assert 0 < snapshot_rows < total
    with_trades = ("--since", str(lo), "--until", str(hi))
    before_any = ("--since", str(lo - timedelta(days=365)), "--until", str(lo - timedelta(days=1)))

    def dry_then_run(window: tuple[str, ...], mode: str) -> tuple[int, list[str]]:
        args = ("restore", "--table", "trades_history", *window, "--mode", mode)
        dry = plan_of(two_tags.seedctl(*args, "--dry-run", env=env), "public.trades_history")
        done = plan_of(two_tags.seedctl(*args, env=env), "public.trades_history")
        assert dry[0] == done[0], (window, mode, dry, done)
        assert [note.replace(" would be ", " ") for note in dry[1]] == done[1], (window, mode, dry, done)
        return dry

    assert dry_then_run(before_any, "replace") == (0, ["trades_history: 0 rows of the range would be deleted first"])
    in_target = run_sql(target, f"SELECT count(*) FROM trades_history WHERE {in_window}")[0][0]
    assert dry_then_run(with_trades, "replace") == (
        snapshot_rows,
        [f"trades_history: {in_target:,} rows of the range would be deleted first"],
    )
    run_sql(target, f"DELETE FROM trades_history WHERE {in_window}")
    assert dry_then_run(with_trades, "append")[0] == snapshot_rows
    assert dry_then_run((), "replace") == (total, [f"trades_history: its {total:,} rows would be emptied first"])

    # On a new server the files are not here yet: the dry run fetches nothing and says what it knows.
    clone = fresh_clone(two_tags, tmp_path / "new-server")
    dry = clone.seedctl("restore", "--table", "trades_history", *with_trades, "--mode", "replace", "--dry-run", env=env)
    rows, notes = plan_of(dry, "public.trades_history")
    assert rows == total and "trades_history: not present locally: would be pulled" in notes
    assert f"trades_history: up to {total:,} rows: those of the range are counted once its files are here" in notes
