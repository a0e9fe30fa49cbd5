"""Two snapshot runs at once, by hand and from the cron line: the second waits or exits with
one clear line; git gets one snapshot commit and tag, and the remote matches it.

A snapshot is held mid-run deterministically: the test takes an ACCESS EXCLUSIVE lock on a
sample table, so the first run's export blocks (holding seedctl's lock) until released.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from seedctl.snapshot.schedule import LOCKED_EXIT, cron_job
from seedctl_dev.testing import BIN

if TYPE_CHECKING:
    from seedctl_dev.devs3 import S3Server
    from tests.helpers import Project

SNAPSHOT_LOCK = Path(".dvc/tmp/seedctl-snapshot.lock")


@contextmanager
def table_locked(database_url: str, table: str = "public.usdcop_m5_ohlcv") -> Iterator[None]:
    """Block every reader of table until the block ends."""
    with psycopg.connect(database_url) as conn:
        conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")  # a fixed name, not input
        yield
        conn.rollback()


def wait_for(predicate, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def snapshot_lock_held(project: Project) -> bool:
    path = project.root / SNAPSHOT_LOCK
    return path.exists() and path.read_text().startswith("seedctl snapshot, pid ")


def start(project: Project, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        list(args),
        cwd=project.root,
        env={**project.env, **env},
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 300) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def snapshot_tags(project: Project) -> list[str]:
    return project.git("tag", "--list", "seeds/v*").split()


def assert_remote_consistent(project: Project, s3_env: dict[str, str], s3_server: S3Server) -> None:
    """Every object of the tagged snapshot is on the remote, and the work tree is that snapshot."""
    status = project.run("dvc", "status", "-c", env=s3_env)
    assert status.returncode == 0, status.stderr
    assert "Cache and remote 'minio' are in sync" in status.stdout, status.stdout
    verify = project.seedctl("verify", env=s3_env)
    assert verify.returncode == 0, verify.stderr
    assert s3_server.keys(s3_env["MINIO_BUCKET"], "seedctl/")
    assert project.git("status", "--porcelain", "--", "dvc.lock", "seeds") == ""


def test_second_snapshot_exits_9_or_waits(sample_project: Project, s3_env: dict[str, str], s3_server: S3Server) -> None:
    project = sample_project
    seedctl = str(BIN / "seedctl")
    before = project.git("rev-parse", "HEAD").strip()
    with table_locked(project.database_url):
        first = start(project, seedctl, "snapshot", env=s3_env)
        wait_for(lambda: snapshot_lock_held(project), "the first snapshot to take its lock")

        second = project.seedctl("snapshot", env=s3_env)
        assert second.returncode == 9, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert lines[0].startswith("seedctl: error: another snapshot is running in ")
        assert "--wait" in lines[0] and "nothing was done" in lines[0]

        waiting = start(project, seedctl, "snapshot", "--wait", "600", env=s3_env)
        time.sleep(3)
        assert waiting.poll() is None, "the --wait run did not wait"
        assert first.poll() is None, "the first run was not held by the table lock"

    code, out, err = finish(first)
    assert code == 0, err
    assert "committed and tagged seeds/v" in out
    code, out, err = finish(waiting)
    assert code == 0, err
    assert "database unchanged" in out and "nothing committed" in out

    tags = snapshot_tags(project)
    assert len(tags) == 1, tags
    new_commits = project.git("log", "--format=%s", f"{before}..HEAD").splitlines()
    assert len(new_commits) == 1 and new_commits[0].startswith("seeds: snapshot "), new_commits
    assert project.git("rev-list", "-n1", tags[0]).strip() == project.git("rev-parse", "HEAD").strip()
    assert_remote_consistent(project, s3_env, s3_server)


def cron_env(project: Project) -> dict[str, str]:
    """What cron gives a job: next to nothing (the settings come from the project's .env)."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(project.root.parent),
        "SHELL": "/bin/sh",
        "LOGNAME": "seedctl",
        "GIT_AUTHOR_NAME": "cron",
        "GIT_AUTHOR_EMAIL": "cron@seedctl.invalid",
        "GIT_COMMITTER_NAME": "cron",
        "GIT_COMMITTER_EMAIL": "cron@seedctl.invalid",
    }


def test_cron_line_runs_once_at_a_time_with_a_log_per_run(
    sample_project: Project, s3_env: dict[str, str], s3_server: S3Server, tmp_path: Path
) -> None:
    project = sample_project
    # cron's environment is empty: the database and the remote come from the project's .env.
    settings = {**s3_env, "DATABASE_URL": project.database_url}
    (project.root / ".env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    log_dir = tmp_path / "cron logs"
    job = cron_job(project.root / "params.yaml", log_dir=log_dir, seedctl=BIN / "seedctl")
    # What cron runs: the crontab line's command, its \% unescaped, with /bin/sh.
    command = job.line().split(" ", 5)[5].replace("\\%", "%")
    assert command == job.command()

    def run_cron() -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["/bin/sh", "-c", command],
            env=cron_env(project),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )

    with table_locked(project.database_url):
        first = run_cron()
        wait_for(lambda: snapshot_lock_held(project), "the first cron run to start its snapshot")
        second = run_cron()
        code, out, err = finish(second, timeout=60)
        assert code == LOCKED_EXIT, (out, err)
        assert first.poll() is None
    code, out, err = finish(first)
    assert (code, out, err) == (0, "", ""), "cron output goes to the log file only"

    logs = sorted(log_dir.glob("snapshot-*.log"))
    assert len(logs) == 2, logs
    texts = [p.read_text() for p in logs]
    skipped = [t for t in texts if "another snapshot is running" in t]
    ran = [t for t in texts if "committed and tagged seeds/v" in t]
    assert len(skipped) == 1 and len(ran) == 1, texts
    assert skipped[0].strip().splitlines() == [
        f"seedctl cron: another snapshot is running (the previous run holds {project.root / '.dvc/tmp/cron.lock'}); "
        "skipped"
    ]
    # The retention step ran after the snapshot, in the same run: one version, nothing to prune.
    assert "pruned 0 versions, deleted 0 objects" in ran[0], ran[0]
    assert s3_env["MINIO_SECRET_KEY"] not in ran[0]
    assert len(snapshot_tags(project)) == 1
    assert_remote_consistent(project, s3_env, s3_server)
