"""The l0_seed_backup DAG in a real Airflow (its own virtualenv, `make airflow-venv`, so
Airflow's pins never touch .venv): it imports cleanly, and `airflow dags test` runs it end
to end against the session's PostgreSQL and S3 server; a failing validation fails the run
at once and publishes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from seedctl_dev.testing import BIN
from tests.helpers import REPO

if TYPE_CHECKING:
    from seedctl_dev.devs3 import S3Server
    from tests.helpers import Project

pytestmark = pytest.mark.slow

DAG_FILE = REPO / "airflow" / "dags" / "l0_seed_backup.py"
HOURLY = "0 * * * *"
AIRFLOW_VENV = REPO / ".venv-airflow"

# Loads the DAG file with Airflow's own interpreter and prints what a scheduler would see.
INSPECT = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("l0_seed_backup", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
dag, snap = mod.dag, mod.dag.get_task("snapshot")
timetable = getattr(dag.timetable, "summary", None) or str(dag.schedule)
print(json.dumps({
    "dag_id": dag.dag_id, "schedule": timetable, "catchup": dag.catchup,
    "max_active_runs": dag.max_active_runs,
    "tasks": {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks},
    "bash": all(any(c.__name__ == "BashOperator" for c in type(t).__mro__) for t in dag.tasks),
    "retries": snap.retries, "retry_delay": snap.retry_delay.total_seconds(),
    "backoff": bool(snap.retry_exponential_backoff), "max_retry_delay": snap.max_retry_delay.total_seconds(),
    "start_date": dag.start_date.isoformat(),
}))
"""


@dataclass
class Airflow:
    bin: Path
    env: dict[str, str]

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "airflow"), *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def python(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "python"), *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
            check=False,
        )


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Airflow:
    """.venv-airflow (built once from its lock) and a fresh SQLite-backed AIRFLOW_HOME."""
    built = subprocess.run(
        ["make", "--no-print-directory", "airflow-venv"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    home = tmp_path_factory.mktemp("airflow-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SEEDCTL_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FILE.parent),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        }
    )
    af = Airflow(AIRFLOW_VENV / "bin", env)
    migrated = af.run("db", "migrate")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    return af


def dag_env(project: Project, s3_env: dict[str, str]) -> dict[str, str]:
    """The Airflow worker's environment for a deployment of this scratch project."""
    env = {k: v for k, v in project.env.items() if k.startswith(("GIT_", "DVC_", "CI"))}
    env.update(s3_env)
    env.update(
        {
            "SEEDCTL_PROJECT_DIR": str(project.root),
            "SEEDCTL_BIN": str(BIN / "seedctl"),
            "DATABASE_URL": project.database_url,
        }
    )
    if project.run(str(BIN / "seedctl"), "prune", "--help").returncode != 0:
        env["SEEDCTL_DAG_SKIP_PRUNE"] = "1"  # `seedctl prune` not in this checkout yet
    return env


def import_errors(result: subprocess.CompletedProcess[str]) -> list[dict[str, str]]:
    """The JSON list `airflow dags list-import-errors -o json` prints last (warnings come first)."""
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_dag_imports_without_errors(airflow: Airflow) -> None:
    # Default project dir: the repository holding the DAG file (its params.yaml).
    listed = airflow.run("dags", "list-import-errors", "--local", "-o", "json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert import_errors(listed) == []
    inspected = airflow.python("-c", INSPECT, str(DAG_FILE))
    assert inspected.returncode == 0, inspected.stderr
    dag = json.loads(inspected.stdout.strip().splitlines()[-1])
    assert dag == {
        "dag_id": "l0_seed_backup",
        "schedule": "0 2 * * 0",
        "catchup": False,
        "max_active_runs": 1,
        "tasks": {"snapshot": ["push"], "push": ["tag"], "tag": ["prune"], "prune": []},
        "bash": True,
        "retries": 2,
        "retry_delay": 300.0,
        "backoff": True,
        "max_retry_delay": 3600.0,
        "start_date": "2026-01-01T00:00:00+00:00",
    }


def test_schedule_follows_params_and_a_missing_project_is_an_import_error(airflow: Airflow, tmp_path: Path) -> None:
    project = tmp_path / "deployed"
    project.mkdir()
    (project / "params.yaml").write_text((REPO / "params.yaml").read_text().replace('"0 2 * * 0"', '"30 4 * * 6"'))
    inspected = airflow.python("-c", INSPECT, str(DAG_FILE), env={"SEEDCTL_PROJECT_DIR": str(project)})
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout.strip().splitlines()[-1])["schedule"] == "30 4 * * 6"
    # The DAG's schedule parameter: SEEDCTL_SCHEDULE wins over params.yaml (hourly recovery point).
    hourly = airflow.python(
        "-c", INSPECT, str(DAG_FILE), env={"SEEDCTL_PROJECT_DIR": str(project), "SEEDCTL_SCHEDULE": HOURLY}
    )
    assert hourly.returncode == 0, hourly.stderr
    assert json.loads(hourly.stdout.strip().splitlines()[-1])["schedule"] == HOURLY
    bad = airflow.run("dags", "list-import-errors", "--local", "-o", "json", env={"SEEDCTL_SCHEDULE": "hourly"})
    assert bad.returncode != 0
    (error,) = import_errors(bad)
    assert "SEEDCTL_SCHEDULE 'hourly' is not a 5-field cron expression (hourly: '0 * * * *')" in error["error"]
    broken = airflow.run(
        "dags", "list-import-errors", "--local", "-o", "json", env={"SEEDCTL_PROJECT_DIR": str(tmp_path / "nowhere")}
    )
    assert broken.returncode != 0
    (error,) = import_errors(broken)
    assert error["filepath"] == str(DAG_FILE)
    assert "params.yaml not found: set SEEDCTL_PROJECT_DIR to the seedctl checkout" in error["error"]


def test_dags_test_end_to_end(
    airflow: Airflow, sample_project: Project, s3_env: dict[str, str], s3_server: S3Server
) -> None:
    project = sample_project
    head = project.git("rev-parse", "HEAD").strip()
    env = dag_env(project, s3_env)
    result = airflow.run("dags", "test", "l0_seed_backup", "2026-01-04", env=env)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    assert "DagRun failed" not in log
    commands = [line for line in log.splitlines() if "Running command" in line]
    assert len(commands) == 4, commands
    assert ["snapshot --no-push" in commands[0], "push" in commands[1], " tag" in commands[2]] == [True] * 3
    assert ("prune skipped" if "SEEDCTL_DAG_SKIP_PRUNE" in env else "prune --yes") in log

    tags = project.git("tag", "--list", "seeds/v*").split()
    assert len(tags) == 1, tags
    assert project.git("log", "-1", "--format=%s").startswith("seeds: snapshot ")
    assert project.git("rev-list", "--count", f"{head}..HEAD").strip() == "1"
    keys = s3_server.keys(s3_env["MINIO_BUCKET"], "seedctl/")
    # DVC's objects, and the bucket catalog beside them: index.json, latest/, <version>/...
    catalog = {k for k in keys if k.split("/")[1][:1].isdigit() or k.split("/")[1] in ("index.json", "latest")}
    assert "seedctl/index.json" in catalog and "seedctl/latest/manifest.json" in catalog
    assert all(k.startswith("seedctl/files/md5/") for k in set(keys) - catalog)
    status = project.run("dvc", "status", "-c")
    assert status.returncode == 0 and "in sync" in status.stdout, status.stdout + status.stderr


def test_failed_validation_fails_the_run_and_publishes_nothing(
    airflow: Airflow, sample_project: Project, s3_env: dict[str, str], s3_server: S3Server
) -> None:
    project = sample_project
    params = project.params()
    params["sources"]["usdcop_m5_ohlcv"]["min_rows"] = 10**9
    project.write_params(params)
    project.commit_all("impossible min_rows")
    head = project.git("rev-parse", "HEAD").strip()

    result = airflow.run("dags", "test", "l0_seed_backup", "2026-01-11", env=dag_env(project, s3_env))
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "DagRun failed" in log
    assert "seedctl exited 5 (validation failed): not retried" in log, log[-6000:]
    assert "min_rows" in log  # seedctl's own line names the failed check
    assert "prune" not in "".join(line for line in log.splitlines() if "Running command" in line)

    assert project.git("tag", "--list", "seeds/v*").strip() == ""
    assert project.git("rev-parse", "HEAD").strip() == head
    assert s3_server.keys(s3_env["MINIO_BUCKET"], "seedctl/") == []
    assert not (project.seeds / "LATEST_VERSION").exists()


def test_a_run_triggered_with_allow_shrink_accepts_lost_history(
    airflow: Airflow, sample_project: Project, s3_env: dict[str, str]
) -> None:
    project = sample_project
    assert project.seedctl("snapshot", env=s3_env).returncode == 0
    project.sql("DELETE FROM usdcop_m5_ohlcv WHERE time >= '2021-03-01' AND time < '2021-04-01'")
    result = airflow.run(
        "dags", "test", "l0_seed_backup", "2026-01-18", "--conf", '{"allow_shrink": true}', env=dag_env(project, s3_env)
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    commands = [line for line in log.splitlines() if "Running command" in line]
    assert "snapshot --no-push --allow-shrink" in commands[0], commands
    manifest = json.loads((project.seeds / "manifest.json").read_text())
    assert list(manifest["history_accepted"]["tables"]) == ["usdcop_m5_ohlcv"]
    assert len(project.git("tag", "--list", "seeds/v*").split()) == 2


def test_an_hourly_run_prunes_by_the_retention_tiers(
    airflow: Airflow, sample_project: Project, s3_env: dict[str, str], s3_server: S3Server
) -> None:
    """The DAG on the hourly schedule with backup.retention {hourly: 1, daily: 1}: a version
    tagged in January (GIT_COMMITTER_DATE) is neither the newest of the last hour nor of the
    last day that have a version (the run's own is both), so the run's prune task removes it."""
    project = sample_project
    params = project.params()
    del params["backup"]["retention_count"]
    params["backup"]["retention"] = {"hourly": 1, "daily": 1}
    project.write_params(params)
    project.commit_all("hourly retention")
    first = project.seedctl("snapshot", env={**s3_env, "GIT_COMMITTER_DATE": "2026-01-04T10:00:00Z"})
    assert first.returncode == 0, first.stderr
    (old,) = project.git("tag", "--list", "seeds/v*").split()
    project.sql("UPDATE trades_history SET quantity = quantity + 1 WHERE id = (SELECT min(id) FROM trades_history)")

    env = {**dag_env(project, s3_env), "SEEDCTL_SCHEDULE": HOURLY}
    result = airflow.run("dags", "test", "l0_seed_backup", "2026-01-04T11:00:00+00:00", env=env)

    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    assert "prune --yes" in log and f"pruned 1 version ({old})" in log, log[-6000:]
    (new,) = project.git("tag", "--list", "seeds/v*").split()
    assert new != old
    listed = json.loads(
        s3_server.client().get_object(Bucket=s3_env["MINIO_BUCKET"], Key="seedctl/index.json")["Body"].read()
    )
    assert [v["tag"] for v in listed["versions"]] == [new]
