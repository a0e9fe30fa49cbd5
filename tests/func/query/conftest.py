"""Fixtures of the query tests: two snapshot tags, pushed."""

from __future__ import annotations

import pytest

from tests.helpers import Project, pushed_project


@pytest.fixture
def two_tags(sample_project: Project, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Project:
    """Tags seeds/v1 and seeds/v2 (different trades and fidelity rows), pushed; MINIO_* set here."""
    pushed_project(sample_project, s3_env)
    sample_project.git("tag", "seeds/v1")
    sample_project.sql(
        "INSERT INTO trades_history (opened_at, side, entry_price, quantity) "
        "VALUES ('2026-01-15 17:00+00', 'short', 3700, 1000)"
    )
    sample_project.sql("UPDATE fidelity SET t = 'second snapshot' WHERE id = 6")
    second = sample_project.seedctl("snapshot", env=s3_env)
    assert second.returncode == 0, second.stderr
    sample_project.commit_all("snapshot 2")
    sample_project.git("tag", "seeds/v2")
    for name, value in s3_env.items():
        monkeypatch.setenv(name, value)
    return sample_project
