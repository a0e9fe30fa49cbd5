"""Driving a scratch copy of this repository, for the test suites (and anyone scripting
seedctl end to end): the real `seedctl`, `dvc` and `git` of this environment, against a
given database. Like devserver and devs3, this is development tooling, not used by seedctl.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import yaml

from seedctl_dev.demo import scratch_copy

BIN = Path(sys.executable).parent
SEEDCTL = str(BIN / "seedctl")
# Settings a scratch project must not inherit from the shell running the tests.
_SCRUBBED = (
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "SEEDCTL_PARAMS",
    "MINIO_ENDPOINT",
    "MINIO_ACCESS_KEY",
    "MINIO_SECRET_KEY",
    "MINIO_BUCKET",
    "MINIO_USE_SSL",
    "MINIO_REGION",
)


@dataclass
class Project:
    """A scratch clone of the repository with its own git history, DVC workspace and database."""

    root: Path
    env: dict[str, str]
    database_url: str

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the project (the `seedctl`, `dvc`, `git` of this environment)."""
        return subprocess.run(
            list(args),
            cwd=self.root,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def seedctl(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return self.run(SEEDCTL, *args, env=env, timeout=timeout)

    def spawn(self, *args: str, env: dict[str, str] | None = None, program: str = SEEDCTL) -> subprocess.Popen[str]:
        """Start `seedctl args` (or `program args`) in its own process group (so the whole job can be killed)."""
        return subprocess.Popen(
            [program, *args],
            cwd=self.root,
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )

    def git(self, *args: str) -> str:
        result = self.run("git", *args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def commit_all(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)

    def params(self) -> dict[str, Any]:
        return yaml.safe_load((self.root / "params.yaml").read_text())

    def write_params(self, data: dict[str, Any]) -> None:
        (self.root / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        return run_sql(self.database_url, query, *args)

    @property
    def seeds(self) -> Path:
        return self.root / "seeds"

    def clone(self, dest: Path, database_url: str | None = None) -> Project:
        """What a new server has: a git clone, no DVC cache, no data files."""
        subprocess.run(["git", "clone", "-q", str(self.root), str(dest)], check=True, capture_output=True)
        url = database_url or self.database_url
        return type(self)(dest, {**self.env, "DATABASE_URL": url}, url)


def project_env(database_url: str) -> dict[str, str]:
    """This environment's tools first on PATH, the database set, nothing inherited that matters."""
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATABASE_URL": database_url,
        "DVC_NO_ANALYTICS": "1",
        "CI": "true",
        "GIT_AUTHOR_NAME": "seedctl tests",
        "GIT_AUTHOR_EMAIL": "tests@seedctl.invalid",
        "GIT_COMMITTER_NAME": "seedctl tests",
        "GIT_COMMITTER_EMAIL": "tests@seedctl.invalid",
    }
    for var in _SCRUBBED:
        env.pop(var, None)
    return env


def make_project(repo: Path, root: Path, database_url: str) -> Project:
    """A scratch copy of repo (without tests/ and seeds/) at root, pointed at database_url."""
    root.mkdir(parents=True)
    scratch_copy(repo, root)
    return Project(root, project_env(database_url), database_url)


def run_sql(url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query.encode(), args or None)
        return cur.fetchall() if cur.description else []


def table_to_csv_gz(url: str, table: str, dest: Path) -> None:
    """A fallback file as an operator would keep one: COPY ... (FORMAT csv, HEADER), gzipped."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with psycopg.connect(url) as conn, conn.cursor() as cur, gzip.open(dest, "wb") as out:
        cur.execute("SET TimeZone = 'UTC'")
        with cur.copy(f"COPY {table} TO STDOUT (FORMAT csv, HEADER)") as copy:
            for chunk in copy:
                out.write(chunk)
