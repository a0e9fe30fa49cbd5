"""The snapshot pipeline end to end: real `seedctl`, `dvc`, `git` and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
from typing import TYPE_CHECKING

import psycopg

if TYPE_CHECKING:
    from seedctl_dev.devserver import TempPostgres
    from tests.helpers import Project


def _manifest(project: Project) -> dict:
    return json.loads((project.seeds / "manifest.json").read_text())


def test_snapshot_writes_validated_checksummed_manifest(sample_project: Project) -> None:
    result = sample_project.seedctl("snapshot", "--no-push")
    assert result.returncode == 0, result.stderr
    # One line per stage, seedctl's; not DVC's "Generating/Updating lock file" besides.
    stages = [ln for ln in result.stderr.splitlines() if ln.startswith("stage ")]
    assert [ln.split(":")[0] for ln in stages] == ["stage export", "stage manifest", "stage validate"]
    assert "lock file" not in result.stderr + result.stdout

    manifest = _manifest(sample_project)
    assert manifest["version"] in result.stdout
    assert (sample_project.seeds / "LATEST_VERSION").read_text().strip() == manifest["version"]
    counts = {name: t["rows"] for name, t in manifest["tables"].items()}
    assert counts == {
        name: sample_project.sql(f"SELECT count(*) FROM {name}")[0][0]
        for name in ("usdcop_m5_ohlcv", "macro_indicators_daily", "trades_history")
    }
    ohlcv = manifest["tables"]["usdcop_m5_ohlcv"]
    assert ohlcv["date_range"] == {"column": "time", "min": "2020-01-02 13:00:00+00", "max": "2026-01-15 17:55:00+00"}
    assert ohlcv["schema"]["primary_key"] == ["time", "symbol"]
    assert manifest["compatibility"]["postgres_version_num"] >= 140000
    assert manifest["compatibility"]["timescaledb_version"] is None
    assert set(manifest["config_snapshot"]) == {"sources", "backup", "validation"}

    check = subprocess.run(
        ["sha256sum", "-c", "checksums.sha256"], cwd=sample_project.seeds, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    parts = {name: t["parts"] for name, t in manifest["tables"].items()}
    assert check.stdout.count(": OK") == sum(len(p) for p in parts.values()) + 1
    # One file per month of bars, per year of macro data, one file of trades; rows add up.
    assert [p["period"] for p in parts["usdcop_m5_ohlcv"]] == list(ohlcv["rows_per_month"])
    assert [p["rows"] for p in parts["usdcop_m5_ohlcv"]] == list(ohlcv["rows_per_month"].values())
    assert all(p["file"] == f"data/usdcop_m5_ohlcv/{p['period']}.parquet" for p in parts["usdcop_m5_ohlcv"])
    assert [p["period"] for p in parts["macro_indicators_daily"]] == sorted(
        {m[:4] for m in manifest["tables"]["macro_indicators_daily"]["rows_per_month"]}
    )
    assert [p["file"] for p in parts["trades_history"]] == ["data/trades_history.parquet"]

    metrics = sample_project.run("dvc", "metrics", "show", "--json")
    assert metrics.returncode == 0, metrics.stderr
    assert '"passed": true' in metrics.stdout.replace(" ", " ")

    # Data files are DVC's, manifest and LATEST_VERSION are git's.
    ignored = (sample_project.seeds / ".gitignore").read_text().split()
    assert "/data" in ignored and "/manifest.json" not in ignored

    status = sample_project.seedctl("status")
    assert status.returncode == 0 and manifest["version"] in status.stdout


def test_unchanged_database_changes_nothing_and_one_row_changes_one_file(sample_project: Project) -> None:
    assert sample_project.seedctl("snapshot", "--no-push").returncode == 0
    sample_project.commit_all("snapshot 1")
    first = _manifest(sample_project)
    lock = (sample_project.root / "dvc.lock").read_text()

    again = sample_project.run("dvc", "repro")
    assert again.returncode == 0, again.stderr
    assert sample_project.git("status", "--porcelain") == ""
    assert (sample_project.root / "dvc.lock").read_text() == lock

    sample_project.sql(
        "UPDATE macro_indicators_daily SET dxy = dxy + 0.0001 "
        "WHERE fecha = (SELECT max(fecha) FROM macro_indicators_daily)"
    )
    assert sample_project.seedctl("snapshot", "--no-push").returncode == 0
    second = _manifest(sample_project)
    assert second["version"] != first["version"]
    changed = {n for n in first["tables"] if first["tables"][n]["sha256"] != second["tables"][n]["sha256"]}
    assert changed == {"macro_indicators_daily"}
    assert (sample_project.seeds / "LATEST_VERSION").read_text().strip() == second["version"]


def test_failed_validation_never_becomes_latest(sample_project: Project) -> None:
    assert sample_project.seedctl("snapshot", "--no-push").returncode == 0
    sample_project.commit_all("good snapshot")
    good = (sample_project.seeds / "LATEST_VERSION").read_text()

    sample_project.sql("DELETE FROM usdcop_m5_ohlcv WHERE time > '2021-01-01'")  # history lost
    result = sample_project.seedctl("snapshot", "--no-push")

    assert result.returncode == 5
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("seedctl: error:")]
    assert len(errors) == 1 and "usdcop_m5_ohlcv" in errors[0] and "history" in errors[0]
    assert "Traceback" not in result.stderr
    assert (sample_project.seeds / "LATEST_VERSION").read_text() == good
    report = json.loads((sample_project.seeds / "reports" / "validation.json").read_text())
    assert report["passed"] is False and report["tables"]["usdcop_m5_ohlcv"]["months_shrunk"] > 0

    allowed = sample_project.seedctl("validate", "--allow-shrink")
    assert allowed.returncode == 0, allowed.stderr


def test_ohlcv_and_null_ratio_checks_name_table_and_column(sample_project: Project) -> None:
    sample_project.sql("UPDATE usdcop_m5_ohlcv SET high = low - 1 WHERE time = (SELECT min(time) FROM usdcop_m5_ohlcv)")
    sample_project.sql("UPDATE trades_history SET strategy = NULL")
    params = sample_project.params()
    params["sources"]["trades_history"]["column_max_null_ratio"].pop("strategy")
    sample_project.write_params(params)

    assert sample_project.seedctl("export").returncode == 0
    assert sample_project.seedctl("manifest").returncode == 0
    result = sample_project.seedctl("validate")

    assert result.returncode == 5
    report = json.loads((sample_project.seeds / "reports" / "validation.json").read_text())
    problems = "\n".join(report["problems"])
    assert "table usdcop_m5_ohlcv: ohlcv: 1 bar(s)" in problems
    assert "table trades_history: null_ratio: column strategy is 100.0% NULL" in problems
    assert not (sample_project.seeds / "LATEST_VERSION").exists()


def test_future_dates_fail_validation(sample_project: Project) -> None:
    sample_project.sql(
        "INSERT INTO usdcop_m5_ohlcv (time, symbol, open, high, low, close, volume) "
        "VALUES (now() + interval '30 days', 'USD/COP', 4000, 4001, 3999, 4000, 1)"
    )
    result = sample_project.seedctl("snapshot", "--no-push")
    assert result.returncode == 5
    assert "date_range" in result.stderr and "in the future" in result.stderr


def test_plain_repro_needs_no_write_privilege(sample_project: Project, pg_server: TempPostgres) -> None:
    """A plain `dvc repro` never writes to the database: a read-only role is enough."""
    dbname = sample_project.database_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_server.url(dbname), autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS snapshot_reader")
        conn.execute("CREATE ROLE snapshot_reader LOGIN PASSWORD 'reader-pw' NOSUPERUSER")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO snapshot_reader")
        before = conn.execute("SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables").fetchone()
    url = f"postgresql://snapshot_reader:reader-pw@{pg_server.host}:{pg_server.port}/{dbname}"
    try:
        result = sample_project.run("dvc", "repro", env={"DATABASE_URL": url})
        assert result.returncode == 0, result.stderr
    finally:
        with psycopg.connect(pg_server.url(dbname), autocommit=True) as conn:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            after = conn.execute("SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables").fetchone()
            conn.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM snapshot_reader")
            conn.execute("DROP OWNED BY snapshot_reader")
            conn.execute("DROP ROLE snapshot_reader")
    assert after == before
