"""Fixtures of the push tests: the session's committed snapshot, pushed."""

from __future__ import annotations

import pytest

from seedctl_dev.devs3 import S3Server
from tests.helpers import Project


@pytest.fixture
def pushed(snapshotted: Project, s3_server: S3Server, s3_env: dict[str, str]) -> Project:
    """The project's committed snapshot, pushed to the session's S3 server."""
    result = snapshotted.seedctl("push", env=s3_env)
    assert result.returncode == 0, result.stderr
    return snapshotted
