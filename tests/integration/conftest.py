"""Fixtures for end-to-end tests: a throwaway copy of this repository, driven through the
real `seedctl` CLI, the real `dvc` and `git` binaries, against the session's PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from seedctl import sample
from seedctl.demo import scratch_copy

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# Rows of the sample data at scale 0.02, far below the plan's min_rows: tests lower them.
SMALL_SCALE = 0.02


@dataclass
class Project:
    """A scratch clone of the repository with its own git history and DVC workspace."""

    root: Path
    env: dict[str, str]
    database_url: str

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run a command in the project (the `seedctl`, `dvc`, `git` of this test run)."""
        return subprocess.run(
            list(args), cwd=self.root, env={**self.env, **(env or {})}, capture_output=True,
            text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False,
        )

    def seedctl(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.run(str(BIN / "seedctl"), *args, env=env)

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
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cur = conn.execute(query, args or None)
            return cur.fetchall() if cur.description else []

    @property
    def seeds(self) -> Path:
        return self.root / "seeds"


def make_project(root: Path, database_url: str) -> Project:
    root.mkdir(parents=True)
    scratch_copy(REPO, root)
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
    for var in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "SEEDCTL_PARAMS"):
        env.pop(var, None)
    return Project(root, env, database_url)


def small_params(project: Project) -> None:
    """The repository's params.yaml with min_rows scaled to the small sample data."""
    data = project.params()
    for source in data["sources"].values():
        source["min_rows"] = min(source.get("min_rows", 0), 100)
    project.write_params(data)


@pytest.fixture
def project(tmp_path: Path, pg_db: str) -> Project:
    """A scratch repository pointed at an empty database."""
    return make_project(tmp_path / "repo", pg_db)


@pytest.fixture
def sample_project(project: Project) -> Project:
    """A scratch repository whose database holds the small sample data."""
    with psycopg.connect(project.database_url) as conn:
        sample.load_sample_data(conn, scale=SMALL_SCALE)
    small_params(project)
    project.commit_all("small params")
    return project


@pytest.fixture
def env_db(pg_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """pg_db exported as DATABASE_URL for in-process library calls."""
    monkeypatch.setenv("DATABASE_URL", pg_db)
    for var in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"):
        monkeypatch.delenv(var, raising=False)
    yield pg_db
