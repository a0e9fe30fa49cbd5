"""Schedule: the crontab line for `seedctl snapshot`, built from params.yaml backup.schedule
(or a schedule given on the command line, e.g. hourly `0 * * * *`).

The line cds into the project, loads .env (cron's environment is nearly empty, and
DATABASE_URL / PG* are read from the environment only), and runs the snapshot, then, only
if it succeeded, `seedctl prune --yes` (retention, backup.retention), both under one
`flock -n`: a run that is still going when the next one is due makes the next one exit
LOCKED_EXIT with "another snapshot is running" in its log instead of a second snapshot.
Each run writes its own log file.

In a crontab an unescaped `%` ends the command (cron turns it into a newline), so the
command's `%` are written as `\\%`; cron removes the backslashes before running it.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from seedctl.config import load_params
from seedctl.errors import ConfigError, Failed

MARKER_PREFIX = "# seedctl snapshot "
# flock's exit status when the lock is held (EX_TEMPFAIL): told apart from seedctl's own codes.
LOCKED_EXIT = 75


@dataclass(frozen=True)
class CronJob:
    """One project's scheduled snapshot."""

    project: Path
    schedule: str
    seedctl: Path
    log_dir: Path
    prune: bool = True  # `seedctl prune --yes` after each successful snapshot

    @property
    def lock(self) -> Path:
        return self.project / ".dvc" / "tmp" / "cron.lock"

    @property
    def marker(self) -> str:
        return f"{MARKER_PREFIX}{self.project}"

    def command(self) -> str:
        """The shell command cron runs (before crontab escaping): /bin/sh syntax."""
        q = shlex.quote
        lock = q(str(self.lock))
        skipped = f"seedctl cron: another snapshot is running (the previous run holds {self.lock}); skipped"
        # One flock around both: a prune must not start while the next run's snapshot does.
        steps = '"$0" snapshot && "$0" prune --yes' if self.prune else '"$0" snapshot'
        return (
            f"cd {q(str(self.project))} && mkdir -p {q(str(self.log_dir))} {q(str(self.lock.parent))} && "
            "{ if [ -f .env ]; then set -a; . ./.env; set +a; fi; "
            f"flock -n -E {LOCKED_EXIT} {lock} /bin/sh -c {q(steps)} {q(str(self.seedctl))}; rc=$?; "
            f"if [ $rc -eq {LOCKED_EXIT} ]; then echo {q(skipped)}; fi; exit $rc; }} "
            f">> {q(str(self.log_dir))}/snapshot-$(date -u +%Y%m%dT%H%M%SZ)-$$.log 2>&1"
        )

    def line(self) -> str:
        """The crontab entry: schedule and escaped command."""
        return f"{self.schedule} {escape_percent(self.command())}"

    def entry(self) -> str:
        """The marker comment and the crontab line, as installed."""
        return f"{self.marker}\n{self.line()}\n"


def escape_percent(command: str) -> str:
    """Escape `%` for a crontab command field (cron turns a bare `%` into a newline)."""
    return command.replace("%", r"\%")


def cron_job(
    params_path: Path,
    *,
    log_dir: Path | None = None,
    seedctl: Path | None = None,
    schedule: str | None = None,
    prune: bool = True,
) -> CronJob:
    """The cron job for the project holding params_path: at `schedule`, else its backup.schedule."""
    params = load_params(params_path)
    if schedule is not None and len(schedule.split()) != 5:
        raise ConfigError(
            f"--schedule {schedule!r} is not a 5-field cron expression",
            "give minute hour day month weekday, e.g. --schedule '0 * * * *' for hourly",
        )
    project = params_path.resolve().parent
    # This environment's seedctl (not resolved: a venv's bin/ is what makes it that venv).
    exe = seedctl or Path(sys.executable).absolute().parent / "seedctl"
    return CronJob(
        project=project,
        schedule=" ".join(schedule.split()) if schedule is not None else params.backup.schedule,
        seedctl=Path(exe).absolute(),
        log_dir=(log_dir or project / ".dvc" / "tmp" / "logs").absolute(),
        prune=prune,
    )


def merge_crontab(current: str, job: CronJob) -> str:
    """current crontab text with this project's entry replaced (or added); all else kept."""
    kept: list[str] = []
    lines = current.splitlines()
    skip_next = False
    for line in lines:
        if skip_next:
            skip_next = False
            continue
        if line.strip() == job.marker:
            skip_next = True  # the job line that follows its marker
            continue
        kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    text = "\n".join(kept)
    return (text + "\n" if text else "") + job.entry()


def read_crontab() -> str:
    """The user's crontab ('' when they have none)."""
    result = subprocess.run([_crontab(), "-l"], capture_output=True, text=True, check=False)
    if result.returncode == 0:
        return result.stdout
    if "no crontab" in result.stderr:
        return ""
    raise Failed(f"crontab -l failed: {result.stderr.strip() or result.returncode}")


def install(job: CronJob) -> None:
    """Install the job into the user's crontab, replacing this project's previous entry."""
    text = merge_crontab(read_crontab(), job)
    job.log_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([_crontab(), "-"], input=text, capture_output=True, text=True, check=False)
    if result.returncode:
        raise Failed(
            f"crontab - failed: {result.stderr.strip() or result.returncode}",
            "check that cron allows this user (/etc/cron.allow)",
        )


def _crontab() -> str:
    found = shutil.which("crontab")
    if not found:
        raise Failed(
            "crontab not found: cron is not installed",
            "install it (apt-get install cron), or print the line with --dry-run and add it yourself",
        )
    return found
