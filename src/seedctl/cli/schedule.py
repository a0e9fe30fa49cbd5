"""`seedctl cron`: install the scheduled snapshot (the crontab entry: snapshot/schedule.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seedctl.cli.common import ParamsOpt, out, run


def cron(
    params: ParamsOpt = Path("params.yaml"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the crontab entry; install nothing.")] = False,
    log_dir: Annotated[
        Path | None,
        typer.Option("--log-dir", help="Where each run writes snapshot-<time>-<pid>.log (default .dvc/tmp/logs)."),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(
            "--schedule", help="Cron schedule, e.g. '0 * * * *' hourly (default: params.yaml backup.schedule)."
        ),
    ] = None,
    no_prune: Annotated[
        bool, typer.Option("--no-prune", help="Only snapshot: leave out `seedctl prune --yes` after it.")
    ] = False,
) -> None:
    """Install the scheduled snapshot in your crontab, at backup.schedule of params.yaml.

    The job runs `seedctl snapshot` in this project and, if it succeeded, `seedctl prune
    --yes` (retention by backup.retention; --no-prune leaves it out), both under one
    `flock -n`: a run still going makes the next one exit 75 with "another snapshot is
    running" in its log. .env is loaded (cron's environment is empty), one log file per
    run. This project's previous entry is replaced.
    """
    from seedctl.snapshot.schedule import cron_job, install  # only for this command: shlex, the crontab

    def go() -> None:
        job = cron_job(params, log_dir=log_dir, schedule=schedule, prune=not no_prune)
        if dry_run:
            print(job.entry(), end="")
            return
        install(job)
        then = " then seedctl prune --yes" if job.prune else ""
        out.print(f"crontab: `{job.schedule}` seedctl snapshot{then} in {job.project}; logs in {job.log_dir}")

    run(go)
