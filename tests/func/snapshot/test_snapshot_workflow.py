"""The operator's snapshot workflow: accepting a known shrink once, stage deps that follow
the library code, and the restore stage that runs only when asked. Real seedctl, dvc, git,
PostgreSQL and S3 server."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from seedctl_dev.testing import run_sql

if TYPE_CHECKING:
    from seedctl_dev.devserver import TempPostgres
    from tests.helpers import Project


def _manifest(project: Project) -> dict:
    return json.loads((project.seeds / "manifest.json").read_text())


def _errors(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("seedctl: error:")]


def _tags(project: Project) -> list[str]:
    return project.git("tag", "--list", "seeds/v*").split()


def test_a_known_shrink_is_accepted_once_and_becomes_the_baseline(
    sample_project: Project, s3_env: dict[str, str]
) -> None:
    first = sample_project.seedctl("snapshot", env=s3_env)
    assert first.returncode == 0, first.stderr
    before = _manifest(sample_project)["tables"]["usdcop_m5_ohlcv"]["rows_per_month"]
    # The broker corrected 2021-03: a third of its bars are gone, legitimately.
    sample_project.sql(
        "DELETE FROM usdcop_m5_ohlcv WHERE time >= '2021-03-01' AND time < '2021-04-01' "
        "AND extract(minute FROM time)::int % 15 = 0"
    )
    after_rows = sample_project.sql(
        "SELECT count(*) FROM usdcop_m5_ohlcv WHERE time >= '2021-03-01' AND time < '2021-04-01'"
    )[0][0]
    assert after_rows < before["2021-03"]

    refused = sample_project.seedctl("snapshot", env=s3_env)
    assert refused.returncode == 5
    [line] = _errors(refused.stderr)
    assert "history" in line and "seedctl snapshot --allow-shrink" in line
    assert len(_tags(sample_project)) == 1

    accepted = sample_project.seedctl("snapshot", "--allow-shrink", env=s3_env)
    assert accepted.returncode == 0, accepted.stderr
    assert "accepted lost history: 1 month(s) of usdcop_m5_ohlcv" in accepted.stdout
    manifest = _manifest(sample_project)
    record = manifest["history_accepted"]
    assert record["tables"] == {"usdcop_m5_ohlcv": {"2021-03": {"before": before["2021-03"], "after": after_rows}}}
    assert record["by"] and record["at"].endswith("Z")
    assert (sample_project.seeds / "LATEST_VERSION").read_text().strip() == manifest["version"]
    # One commit, holding the data change; git, dvc.lock and params.yaml agree.
    assert len(_tags(sample_project)) == 2
    assert sample_project.git("status", "--porcelain") == ""
    changed = sample_project.git("show", "--name-only", "--format=", "HEAD").split()
    assert "seeds/manifest.json" in changed and "dvc.lock" in changed
    status = sample_project.run("dvc", "status", "manifest", "validate")
    assert status.returncode == 0 and "changed" not in status.stdout, status.stdout

    # The next regular snapshot passes: the accepted state is the new baseline.
    regular = sample_project.seedctl("snapshot", env=s3_env)
    assert regular.returncode == 0, regular.stderr
    assert "database unchanged" in regular.stdout
    assert len(_tags(sample_project)) == 2 and sample_project.git("status", "--porcelain") == ""
    sample_project.sql("UPDATE trades_history SET strategy = 'v2' WHERE id = 1")
    later = sample_project.seedctl("snapshot", env=s3_env)
    assert later.returncode == 0, later.stderr
    assert "history_accepted" not in _manifest(sample_project) and len(_tags(sample_project)) == 3


def test_the_plans_create_snapshot_script_accepts_a_shrink_once(
    sample_project: Project, s3_env: dict[str, str]
) -> None:
    """scripts/create_snapshot.py --allow-shrink, as README lists it, does what the CLI flag does."""
    script = ["python", "scripts/create_snapshot.py"]
    assert sample_project.run(*script, env=s3_env).returncode == 0
    sample_project.sql(
        "DELETE FROM usdcop_m5_ohlcv WHERE time >= '2021-03-01' AND time < '2021-04-01' "
        "AND extract(minute FROM time)::int % 15 = 0"
    )
    refused = sample_project.run(*script, env=s3_env)
    assert refused.returncode == 5, refused.stderr
    assert "history_accepted" not in _manifest(sample_project) and len(_tags(sample_project)) == 1

    accepted = sample_project.run(*script, "--allow-shrink", env=s3_env)
    assert accepted.returncode == 0, accepted.stderr
    assert list(_manifest(sample_project)["history_accepted"]["tables"]) == ["usdcop_m5_ohlcv"]
    assert len(_tags(sample_project)) == 2 and sample_project.git("status", "--porcelain") == ""


def test_stage_deps_follow_the_library_code(sample_project: Project, s3_env: dict[str, str]) -> None:
    assert sample_project.seedctl("snapshot", env=s3_env).returncode == 0
    version = _manifest(sample_project)["version"]
    quiet = sample_project.run("dvc", "status", "manifest", "validate")
    assert quiet.returncode == 0 and "changed" not in quiet.stdout, quiet.stdout

    # pgtypes.py was missing from the hand-kept lists; any module of the library counts.
    module = sample_project.root / "src" / "seedctl" / "pg" / "pgtypes.py"
    module.write_text(module.read_text() + "\n# a change to the library\n")
    status = sample_project.run("dvc", "status", "manifest", "validate")
    assert status.returncode == 0
    assert "manifest:" in status.stdout and "validate:" in status.stdout
    assert "modified:           src/seedctl" in status.stdout, status.stdout

    # The stages re-run; the data did not change: dvc.lock is committed alone, no new tag.
    again = sample_project.seedctl("snapshot", env=s3_env)
    assert again.returncode == 0, again.stderr
    assert "committed the pipeline's record (dvc.lock) only" in again.stdout
    assert _manifest(sample_project)["version"] == version and len(_tags(sample_project)) == 1
    assert "seeds/manifest.json" not in sample_project.git("show", "--name-only", "--format=", "HEAD").split()
    assert sample_project.git("status", "--porcelain", "--untracked-files=no") == " M src/seedctl/pg/pgtypes.py\n"
    settled = sample_project.run("dvc", "status", "manifest", "validate")
    assert "changed" not in settled.stdout, settled.stdout


def test_restore_stage_runs_only_when_asked(sample_project: Project, pg_server: TempPostgres) -> None:
    assert sample_project.seedctl("snapshot", "--no-push").returncode == 0
    sample_project.commit_all("snapshot")
    target = pg_server.create_database("restore_stage_target")
    env = {"DATABASE_URL": target}
    tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"

    # A plain `dvc repro` (it reads the source database) never runs the restore stage.
    plain = sample_project.run("dvc", "repro")
    assert plain.returncode == 0, plain.stderr
    assert "Running stage 'export'" in plain.stdout and "stage 'restore'" not in plain.stdout
    assert run_sql(target, tables) == [(0,)]

    asked = sample_project.run("dvc", "repro", "restore/dvc.yaml", env=env)
    assert asked.returncode == 0, asked.stdout + asked.stderr
    manifest = _manifest(sample_project)
    for entry in manifest["tables"].values():
        assert run_sql(target, f"SELECT count(*) FROM {entry['table']}") == [(entry["rows"],)]
    assert sample_project.git("status", "--porcelain", "--untracked-files=all") == ""

    # Default mode is safe: a second run refuses the non-empty tables and changes nothing.
    run_sql(target, "DELETE FROM trades_history WHERE id = 1")
    again = sample_project.run("dvc", "repro", "restore/dvc.yaml", env=env)
    assert again.returncode != 0
    assert len(_errors(again.stderr)) == 1 and "--mode" in _errors(again.stderr)[0]
    rows = manifest["tables"]["trades_history"]["rows"]
    assert run_sql(target, "SELECT count(*) FROM trades_history") == [(rows - 1,)]
    replaced = sample_project.run("dvc", "repro", "restore/dvc.yaml", env={**env, "SEEDCTL_RESTORE_MODE": "replace"})
    assert replaced.returncode == 0, replaced.stderr
    assert run_sql(target, "SELECT count(*) FROM trades_history") == [(rows,)]


def test_a_time_column_that_is_not_a_time_is_refused_before_any_work(sample_project: Project) -> None:
    """`time_column: side` (text) or a numeric column: refused by name before a row is
    exported (it used to export everything, then fail with "time column has no values")."""
    from tests.helpers import one_error_line

    for column, pg_type in (("side", "text"), ("entry_price", "numeric(12,4)")):
        params = sample_project.params()
        params["sources"]["trades_history"]["time_column"] = column
        sample_project.write_params(params)
        refused = sample_project.seedctl("snapshot", "--no-push")
        assert refused.returncode == 2, (refused.stdout, refused.stderr)
        line = one_error_line(refused, f"sources.trades_history.time_column '{column}'", f"is {pg_type}", "remove")
        assert _errors(refused.stderr) == [line]
        assert not list(sample_project.seeds.glob("data/*/*.parquet")), "nothing is exported"
        assert _tags(sample_project) == []
