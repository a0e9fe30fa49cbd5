"""The core promise in ONE checkout: `git checkout <tag> && dvc pull && make restore` for any
sequence of snapshot revisions (older -> newer -> older), each giving exactly that snapshot."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest

if TYPE_CHECKING:
    from seedctl_dev.devserver import TempPostgres
    from tests.helpers import Project

# Snapshot B changes one month of the partitioned OHLCV table (the other months' files are
# shared by both snapshots) and one row of trades_history.
CHANGE = """
UPDATE usdcop_m5_ohlcv SET volume = volume + 7
 WHERE time >= (SELECT date_trunc('month', max(time)) FROM usdcop_m5_ohlcv);
UPDATE trades_history SET pnl = 12345.5 WHERE id = (SELECT min(id) FROM trades_history);
"""


def table_digests(url: str) -> dict[str, tuple[int, str]]:
    """Per table: rows and an md5 of all rows in key order (what a user would compare)."""
    keys = {"usdcop_m5_ohlcv": "time, symbol", "macro_indicators_daily": "fecha", "trades_history": "id"}
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        return {
            t: tuple(
                conn.execute(
                    f"SELECT count(*), md5(coalesce(string_agg(r::text, '|' ORDER BY {k}), '')) FROM {t} r"
                ).fetchone()
            )  # type: ignore[misc]
            for t, k in keys.items()
        }


def snapshot(project: Project, s3_env: dict[str, str]) -> tuple[str, dict[str, tuple[int, str]]]:
    result = project.seedctl("snapshot", env=s3_env)
    assert result.returncode == 0, result.stderr
    tag = project.git("describe", "--tags", "--exact-match", "HEAD").strip()
    return tag, table_digests(project.database_url)


@pytest.mark.parametrize(
    ("pull_first", "clone"),
    [(True, False), (False, False), (False, True)],
    ids=["dvc-pull", "restore-pulls", "fresh-clone"],
)
def test_older_newer_older_in_one_checkout(
    sample_project: Project,
    s3_env: dict[str, str],
    pg_server: TempPostgres,
    tmp_path: Path,
    pull_first: bool,
    clone: bool,
) -> None:
    tag_a, state_a = snapshot(sample_project, s3_env)
    sample_project.sql(CHANGE)
    tag_b, state_b = snapshot(sample_project, s3_env)
    assert tag_a != tag_b and state_a["usdcop_m5_ohlcv"] != state_b["usdcop_m5_ohlcv"]
    assert state_a["macro_indicators_daily"] == state_b["macro_indicators_daily"]
    target = pg_server.create_database(f"t_{uuid.uuid4().hex[:10]}")
    env = {**s3_env, "DATABASE_URL": target}
    checkout = sample_project.clone(tmp_path / "other-server") if clone else sample_project

    for tag, expected in ((tag_a, state_a), (tag_b, state_b), (tag_a, state_a)):
        checkout.git("checkout", "-q", tag)
        if pull_first:
            pulled = checkout.run("dvc", "pull", env=env)
            assert pulled.returncode == 0, pulled.stderr
        restored = checkout.run("make", "restore", "MODE=replace", env=env)
        assert restored.returncode == 0, f"{tag}: {restored.stdout}\n{restored.stderr}"
        assert table_digests(target) == expected, tag
        verify = checkout.seedctl("verify", "--db", env=env)
        assert verify.returncode == 0, verify.stdout + verify.stderr

    # A snapshot commit tagged by hand: not a version, but named apart by list and prune.
    sample_project.git("tag", "release-a", tag_a)
    sample_project.git("tag", "not-a-snapshot", sample_project.git("rev-list", "--max-parents=0", "HEAD").strip())
    listed = sample_project.seedctl("list", "--json", "--no-remote")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["other_snapshot_tags"] == ["release-a"]
    shown = sample_project.seedctl("list", "--no-remote")
    assert "release-a" in shown.stdout and "not-a-snapshot" not in shown.stdout
    pruned = sample_project.seedctl("prune", "--keep", "1", env=s3_env)
    assert pruned.returncode == 0, pruned.stderr
    assert "never pruned" in pruned.stdout and "release-a" in pruned.stdout
