"""l0_seed_backup: the scheduled seedctl snapshot (the plan's weekly L0 seed backup).

    snapshot  ->  push  ->  tag  ->  prune

- snapshot: `seedctl snapshot --no-push` = `dvc repro` (export -> manifest -> validate);
  nothing leaves the machine and nothing is committed.
- push: `seedctl push` uploads the data; it refuses a snapshot that did not pass validation.
- tag: `seedctl tag` commits exactly the snapshot's files and tags seeds/vYYYY.MM.DD; it
  refuses unless the snapshot is validated and all its data is in the remote, so a tag
  never names data the remote lacks. `seedctl snapshot` (cron) does the same three steps
  in one command under one lock; here each step takes the lock itself and
  max_active_runs=1 keeps runs of this DAG apart.
- prune: `seedctl prune --yes` keeps what backup.retention keeps (e.g. the last 24 hourly
  and the last 8 weekly versions; or backup.retention_count, the newest N) on the remote.

A failed validation exits 5: the snapshot task fails at once (no retry: the same data
fails the same checks) and nothing is pushed or tagged. Other failures (database or
remote unreachable, another snapshot running) are retried with exponential back-off.
A known, legitimate loss of history is accepted for one run by triggering it with
`airflow dags trigger l0_seed_backup --conf '{"allow_shrink": true}'` (the snapshot task
then runs `seedctl snapshot --no-push --allow-shrink`; the manifest records it).

On execution_timeout Airflow sends SIGTERM: seedctl stops what it started (dvc, its
stages, psql), prints one line and exits 143; nothing is pushed or tagged.

Environment (of the Airflow worker):
    SEEDCTL_PROJECT_DIR  the seedctl checkout (default: the repository holding this file)
    SEEDCTL_BIN          the seedctl executable (default: <project>/.venv/bin/seedctl)
    SEEDCTL_SCHEDULE     the DAG's schedule, a 5-field cron expression (e.g. "0 * * * *",
                         hourly); default: backup.schedule of the project's params.yaml
    DATABASE_URL or PG*, MINIO_*   as for `seedctl snapshot` (MINIO_* may come from <project>/.env)

The schedule is SEEDCTL_SCHEDULE, else `backup.schedule` in the project's params.yaml
(default "0 2 * * 0"), read here with PyYAML only: no seedctl import at parse time, so Airflow's environment
needs none of seedctl's dependencies.
"""

from __future__ import annotations

import os
import shlex
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

try:  # Airflow 3 (tested: 3.3, airflow/requirements-airflow.lock)
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG
    from airflow.sdk.exceptions import AirflowFailException
except ImportError:  # Airflow 2.10+
    from airflow import DAG
    from airflow.exceptions import AirflowFailException
    from airflow.operators.bash import BashOperator

DAG_ID = "l0_seed_backup"
DEFAULT_SCHEDULE = "0 2 * * 0"  # seedctl.config.Backup.schedule

# seedctl exit codes that a retry cannot fix: 2 configuration, 5 validation failed.
NO_RETRY_EXIT_CODES = frozenset({2, 5})


def project_dir() -> Path:
    return Path(os.environ.get("SEEDCTL_PROJECT_DIR") or Path(__file__).resolve().parents[2])


def seedctl_bin(project: Path) -> str:
    return os.environ.get("SEEDCTL_BIN") or str(project / ".venv" / "bin" / "seedctl")


def schedule_from_params(project: Path) -> str:
    """SEEDCTL_SCHEDULE, else backup.schedule of the project's params.yaml; the default when
    the key is absent."""
    override = os.environ.get("SEEDCTL_SCHEDULE")
    if override:
        if len(override.split()) != 5:
            raise ValueError(f"SEEDCTL_SCHEDULE {override!r} is not a 5-field cron expression (hourly: '0 * * * *')")
        return " ".join(override.split())
    params_path = project / "params.yaml"
    try:
        params = yaml.safe_load(params_path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise FileNotFoundError(f"{params_path} not found: set SEEDCTL_PROJECT_DIR to the seedctl checkout") from None
    schedule = (params.get("backup") or {}).get("schedule") or DEFAULT_SCHEDULE
    if len(str(schedule).split()) != 5:
        raise ValueError(f"{params_path}: backup.schedule {schedule!r} is not a 5-field cron expression")
    return str(schedule)


class SeedctlOperator(BashOperator):
    """A BashOperator running a seedctl command; fails without retry on NO_RETRY_EXIT_CODES."""

    def execute(self, context: Any) -> Any:
        try:
            return super().execute(context)
        except Exception as exc:  # BashOperator's "non-zero exit code": look at the code itself
            process = getattr(self.subprocess_hook, "sub_process", None)
            code = getattr(process, "returncode", None)
            if code in NO_RETRY_EXIT_CODES:
                raise AirflowFailException(
                    f"seedctl exited {code} ({'validation failed' if code == 5 else 'configuration error'}): "
                    "not retried, nothing was pushed or tagged; see the log above"
                ) from exc
            raise


PROJECT = project_dir()
SEEDCTL = seedctl_bin(PROJECT)


def seedctl(*args: str) -> str:
    """The bash command: cd into the project and run seedctl there (it reads MINIO_* from
    .env itself; the worker's environment wins, as everywhere in seedctl)."""
    return f"cd {shlex.quote(str(PROJECT))} && {shlex.join([SEEDCTL, *args])}"


with DAG(
    dag_id=DAG_ID,
    description="seedctl snapshot of the L0 tables to the DVC remote, then retention",
    schedule=schedule_from_params(PROJECT),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "data",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(hours=1),
    },
    tags=["seedctl", "backup", "l0"],
    doc_md=__doc__,
) as dag:
    snapshot = SeedctlOperator(
        task_id="snapshot",
        # Accepting lost history is asked for per run (trigger --conf), never by default.
        bash_command=seedctl("snapshot", "--no-push")
        + "{{ ' --allow-shrink' if (dag_run.conf or {}).get('allow_shrink') else '' }}",
        execution_timeout=timedelta(hours=3),
    )
    push = SeedctlOperator(
        task_id="push",
        bash_command=seedctl("push"),
        execution_timeout=timedelta(hours=2),
    )
    tag = SeedctlOperator(
        task_id="tag",
        bash_command=seedctl("tag"),
        execution_timeout=timedelta(minutes=30),
    )
    prune = SeedctlOperator(
        task_id="prune",
        # Exit 99 = skipped: lets a deployment (or a test) without `seedctl prune` opt out.
        bash_command='if [ -n "${SEEDCTL_DAG_SKIP_PRUNE:-}" ]; then echo "prune skipped '
        '(SEEDCTL_DAG_SKIP_PRUNE)"; exit 99; fi; ' + seedctl("prune", "--yes"),
        execution_timeout=timedelta(hours=1),
    )
    snapshot >> push >> tag >> prune
