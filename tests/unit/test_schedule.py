"""The crontab entry for the scheduled snapshot: built from params.yaml, escaped for cron,
installed idempotently (a fake `crontab` program stands in for cron's)."""

from __future__ import annotations

import dataclasses
import fcntl
import os
import shlex
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seedctl.cli.app import app
from seedctl.snapshot.schedule import CronJob, cron_job, escape_percent, merge_crontab

PARAMS = """\
sources:
  ticks: {table: public.ticks}
backup:
  schedule: "15 3 * * 1-5"
"""

FAKE_CRONTAB = """#!/bin/sh
# `crontab -l` / `crontab -` of cron, kept in $FAKE_CRONTAB_FILE.
case "$1" in
  -l) if [ -f "$FAKE_CRONTAB_FILE" ]; then cat "$FAKE_CRONTAB_FILE"; else echo "no crontab for $(id -un)" >&2; exit 1; fi ;;
  -) cat > "$FAKE_CRONTAB_FILE" ;;
  *) echo "fake crontab: unexpected $*" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "my project"  # a space: every path in the line must be quoted
    root.mkdir()
    (root / "params.yaml").write_text(PARAMS)
    return root


def job(project: Path, schedule: str = "15 3 * * 1-5") -> CronJob:
    return CronJob(project=project, schedule=schedule, seedctl=project / ".venv/bin/seedctl", log_dir=project / "logs")


def test_schedule_comes_from_params(project: Path) -> None:
    built = cron_job(project / "params.yaml", log_dir=project / "logs")
    assert built.schedule == "15 3 * * 1-5"
    assert built.project == project.resolve()
    assert built.line().startswith("15 3 * * 1-5 cd ")


def test_default_schedule_when_params_has_none(project: Path) -> None:
    (project / "params.yaml").write_text("sources:\n  ticks: {table: public.ticks}\n")
    assert cron_job(project / "params.yaml").schedule == "0 2 * * 0"


def test_line_escapes_percent_and_holds_lock_env_and_log(project: Path) -> None:
    entry = job(project)
    command, line = entry.command(), entry.line()
    assert "%" in command  # date +%Y...
    assert line == f"15 3 * * 1-5 {command.replace('%', chr(92) + '%')}"
    # cron ends the command at the first % that is not escaped
    assert all(line[i - 1] == "\\" for i, ch in enumerate(line) if ch == "%")
    assert "\n" not in line
    assert f"flock -n -E 75 {shlex.quote(str(project / '.dvc/tmp/cron.lock'))}" in command
    steps = shlex.quote('"$0" snapshot && "$0" prune --yes')
    assert f"/bin/sh -c {steps} {shlex.quote(str(project / '.venv/bin/seedctl'))}; rc=$?" in command
    assert f"cd {shlex.quote(str(project))} && " in command
    assert "set -a; . ./.env; set +a" in command
    assert f">> {shlex.quote(str(project / 'logs'))}/snapshot-$(date -u +%Y%m%dT%H%M%SZ)-$$.log 2>&1" in command
    assert entry.entry() == f"# seedctl snapshot {project}\n{line}\n"


def test_escape_percent() -> None:
    assert escape_percent("date +%F %% x") == r"date +\%F \%\% x"


def test_command_is_posix_sh(project: Path) -> None:
    """cron runs the line with /bin/sh: it must parse there (sh -n: syntax only)."""
    checked = subprocess.run(["sh", "-n", "-c", job(project).command()], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_merge_adds_replaces_and_keeps_other_lines(project: Path) -> None:
    other = "MAILTO=ops@example.invalid\n# backups\n30 1 * * * /usr/local/bin/other-job\n"
    first = merge_crontab(other, job(project))
    assert first.startswith(other) and first.endswith(job(project).entry())
    assert merge_crontab(first, job(project)) == first  # idempotent
    moved = merge_crontab(first, job(project, schedule="0 4 * * *"))
    assert moved.count("# seedctl snapshot") == 1
    assert "15 3 * * 1-5" not in moved and "\n0 4 * * * cd " in moved
    assert moved.startswith(other)
    # Another project's entry is someone else's.
    elsewhere = job(project.parent / "other", schedule="5 5 * * *")
    both = merge_crontab(moved, elsewhere)
    assert merge_crontab(both, job(project)).count("# seedctl snapshot") == 2
    assert merge_crontab("", job(project)) == job(project).entry()


@pytest.fixture
def fake_crontab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "crontab").write_text(FAKE_CRONTAB)
    (bindir / "crontab").chmod(0o755)
    store = tmp_path / "crontab.txt"
    monkeypatch.setenv("FAKE_CRONTAB_FILE", str(store))
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return store


def test_cli_installs_idempotently(project: Path, fake_crontab: Path) -> None:
    fake_crontab.write_text("30 1 * * * /usr/local/bin/other-job\n")
    args = ["cron", "--params", str(project / "params.yaml"), "--log-dir", str(project / "logs")]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    installed = fake_crontab.read_text()
    assert installed.startswith("30 1 * * * /usr/local/bin/other-job\n")
    assert installed.count(f"# seedctl snapshot {project}\n15 3 * * 1-5 cd ") == 1
    assert (project / "logs").is_dir()
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert fake_crontab.read_text() == installed


def test_cli_installs_into_an_empty_crontab(project: Path, fake_crontab: Path) -> None:
    result = CliRunner().invoke(app, ["cron", "--params", str(project / "params.yaml")])
    assert result.exit_code == 0, result.output
    assert fake_crontab.read_text().startswith(f"# seedctl snapshot {project}\n15 3 * * 1-5 ")


def test_dry_run_prints_and_installs_nothing(project: Path, fake_crontab: Path) -> None:
    result = CliRunner().invoke(app, ["cron", "--dry-run", "--params", str(project / "params.yaml")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"# seedctl snapshot {project}\n15 3 * * 1-5 cd ")
    assert not fake_crontab.exists()


def test_without_cron_installed(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    dry = CliRunner().invoke(app, ["cron", "--dry-run", "--params", str(project / "params.yaml")])
    assert dry.exit_code == 0 and "flock -n" in dry.output
    result = CliRunner().invoke(app, ["cron", "--params", str(project / "params.yaml")])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("seedctl: error: crontab not found")
    assert "apt-get install cron" in lines[0]


def test_bad_schedule_is_a_config_error(project: Path) -> None:
    (project / "params.yaml").write_text(PARAMS.replace("15 3 * * 1-5", "@weekly"))
    result = CliRunner().invoke(app, ["cron", "--dry-run", "--params", str(project / "params.yaml")])
    assert result.exit_code == 2
    assert "backup.schedule" in result.output


FAKE_SEEDCTL = """#!/bin/sh
# Records each call; `snapshot` exits $SNAPSHOT_EXIT.
echo "$*" >> "$CALLS"
if [ "$1" = snapshot ]; then exit "${SNAPSHOT_EXIT:-0}"; fi
"""


def run_line(project: Path, tmp_path: Path, entry: CronJob, snapshot_exit: int) -> tuple[int, list[str]]:
    """Run the job's command with /bin/sh as cron would, against a seedctl that records calls."""
    calls = tmp_path / f"calls-{snapshot_exit}-{entry.prune}"
    env = {"PATH": "/usr/bin:/bin", "CALLS": str(calls), "SNAPSHOT_EXIT": str(snapshot_exit)}
    done = subprocess.run(["/bin/sh", "-c", entry.command()], env=env, capture_output=True, text=True, check=False)
    return done.returncode, calls.read_text().splitlines() if calls.exists() else []


@pytest.fixture
def recording_job(project: Path) -> CronJob:
    fake = project / "fake-seedctl"
    fake.write_text(FAKE_SEEDCTL)
    fake.chmod(0o755)
    return CronJob(project=project, schedule="0 * * * *", seedctl=fake, log_dir=project / "logs")


def test_prune_runs_only_after_a_successful_snapshot(project: Path, tmp_path: Path, recording_job: CronJob) -> None:
    assert run_line(project, tmp_path, recording_job, 0) == (0, ["snapshot", "prune --yes"])
    assert run_line(project, tmp_path, recording_job, 5) == (5, ["snapshot"])
    no_prune = dataclasses.replace(recording_job, prune=False)
    assert run_line(project, tmp_path, no_prune, 0) == (0, ["snapshot"])


def test_a_run_while_the_previous_holds_the_lock_exits_75_and_says_so(
    project: Path, tmp_path: Path, recording_job: CronJob
) -> None:
    recording_job.lock.parent.mkdir(parents=True)
    with recording_job.lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert run_line(project, tmp_path, recording_job, 0) == (75, [])
    (log,) = (project / "logs").glob("snapshot-*.log")
    assert log.read_text().splitlines() == [
        f"seedctl cron: another snapshot is running (the previous run holds {recording_job.lock}); skipped"
    ]


def test_cli_schedule_and_no_prune(project: Path, fake_crontab: Path) -> None:
    args = ["cron", "--params", str(project / "params.yaml"), "--dry-run"]
    hourly = CliRunner().invoke(app, [*args, "--schedule", "0 * * * *"])
    assert hourly.exit_code == 0, hourly.output
    assert hourly.output.splitlines()[1].startswith("0 * * * * cd ")
    assert "prune --yes" in hourly.output
    only = CliRunner().invoke(app, [*args, "--schedule", "0 * * * *", "--no-prune"])
    assert only.exit_code == 0 and "prune --yes" not in only.output
    installed = CliRunner().invoke(app, ["cron", "--params", str(project / "params.yaml"), "--schedule", "0 * * * *"])
    assert installed.exit_code == 0, installed.output
    assert "`0 * * * *` seedctl snapshot then seedctl prune --yes in" in installed.output
    assert fake_crontab.read_text().splitlines()[1].startswith("0 * * * * cd ")


def test_bad_schedule_option_is_a_config_error(project: Path) -> None:
    result = CliRunner().invoke(
        app, ["cron", "--dry-run", "--params", str(project / "params.yaml"), "--schedule", "hourly"]
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "--schedule 'hourly' is not a 5-field cron expression" in lines[0]
    assert "--schedule '0 * * * *'" in lines[0]
