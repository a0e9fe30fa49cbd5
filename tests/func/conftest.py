"""Fixtures for end-to-end tests: a throwaway copy of this repository, driven through the
real `seedctl` CLI, the real `dvc` and `git` binaries, against the session's PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from seedctl_dev import sample
from seedctl_dev import testing
from seedctl_dev.testing import BIN, Project  # noqa: F401 - BIN is imported by test modules

REPO = Path(__file__).resolve().parents[2]

# Rows of the sample data at scale 0.02, far below the plan's min_rows: tests lower them.
SMALL_SCALE = 0.02


def make_project(root: Path, database_url: str) -> Project:
    """A scratch copy of this repository at root, pointed at database_url."""
    return testing.make_project(REPO, root, database_url)


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
