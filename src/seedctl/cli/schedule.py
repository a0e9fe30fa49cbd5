"""`seedctl cron`: install the scheduled snapshot (the crontab entry: snapshot/schedule.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seedctl.cli.common import ParamsOpt, out, run
from seedctl.snapshot.schedule import cron_job, install


def cron(
    params: ParamsOpt = Path("params.yaml"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the crontab entry; install nothing.")] = False,
    log_dir: Annotated[
        Path | None,
        typer.Option("--log-dir", help="Where each run writes snapshot-<time>-<pid>.log (default .dvc/tmp/logs)."),
    ] = None,
) -> None:
    """Install the scheduled snapshot in your crontab, at backup.schedule of params.yaml.

    The job runs `seedctl snapshot` in this project under `flock -n` (a run still going
    turns the next one into a logged no-op), with .env loaded (cron's environment is
    empty), one log file per run. This project's previous entry is replaced.
    """

    def go() -> None:
        job = cron_job(params, log_dir=log_dir)
        if dry_run:
            print(job.entry(), end="")
            return
        install(job)
        out.print(f"crontab: `{job.schedule}` seedctl snapshot in {job.project}; logs in {job.log_dir}")

    run(go)
