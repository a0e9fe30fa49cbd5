"""Fixtures for end-to-end tests: a throwaway copy of this repository, driven through the
real `seedctl` CLI, the real `dvc` and `git` binaries, against the session's PostgreSQL.

Two kinds of project:

- `project` (and `sample_project`): an empty scratch repository on a new database, for tests
  that build their snapshot themselves.
- `snapshotted`: for the fault-injection tests (test_*_faults.py, test_sigterm.py,
  test_self_healing.py, test_tampering.py, test_bad_input_restore.py). They run against a real
  PostgreSQL, a real S3 API server on loopback, real `dvc` and `git`. Every one of them breaks
  something at a chosen moment (a SIGKILL, a stopped server, a full disk, an edited file, a
  hostile input) and then asserts two things: nothing was lost or silently changed, and the
  next ordinary run recovers without manual repair.

  Taking a snapshot costs a `dvc repro` (seconds), so one committed snapshot of the small
  sample data is made once per session (`snapshot_template`) and every test gets a private
  copy: the project tree copied with `shutil.copytree` (git history and DVC cache included)
  and the database cloned with `CREATE DATABASE ... TEMPLATE`.

The scratch-project driver (Project, run_sql, project_env) is seedctl_dev.testing; the helpers
the test modules share are in tests/helpers.py.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from seedctl_dev import sample
from seedctl_dev.devserver import TempPostgres
from seedctl_dev.testing import project_env
from tests.helpers import SMALL_SCALE, Project, make_project, new_database, small_params


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


# --- one committed snapshot per session, copied by every fault-injection test ----------------


@dataclass(frozen=True)
class Template:
    root: Path
    dbname: str


@pytest.fixture(scope="session")
def snapshot_template(pg_server: TempPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    """One committed snapshot (no push) of the small sample data, copied by each test."""
    dbname = f"faults_template_{uuid.uuid4().hex[:6]}"
    url = pg_server.create_database(dbname)
    with psycopg.connect(url) as conn:
        sample.load_sample_data(conn, scale=SMALL_SCALE)
    root = tmp_path_factory.mktemp("faults-template") / "repo"
    project = make_project(root, url)
    small_params(project)
    project.commit_all("small params")
    result = project.seedctl("snapshot", "--no-push")
    assert result.returncode == 0, result.stderr
    project.commit_all("snapshot")
    try:
        yield Template(root, dbname)
    finally:
        pg_server.drop_database(dbname)


@pytest.fixture
def snapshotted(tmp_path: Path, pg_server: TempPostgres, snapshot_template: Template) -> Iterator[Project]:
    """A private copy of the template: its snapshot committed, its database the snapshot's source."""
    root = tmp_path / "repo"
    shutil.copytree(snapshot_template.root, root, symlinks=True)
    url = new_database(pg_server, snapshot_template.dbname)
    try:
        yield Project(root, project_env(url), url)
    finally:
        pg_server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture
def target(pg_server: TempPostgres) -> Iterator[str]:
    """URL of a new, empty database to restore into."""
    url = new_database(pg_server)
    try:
        yield url
    finally:
        pg_server.drop_database(url.rsplit("/", 1)[1])
