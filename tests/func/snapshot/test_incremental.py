"""Incremental snapshots: a table split into monthly files re-uploads only what changed,
and every part comes back on restore, old tags (one file per table) included."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest

from seedctl.config import parse_params
from seedctl.errors import ConfigError
from seedctl.snapshot.export import run_export
from seedctl_dev import sample

if TYPE_CHECKING:
    from seedctl_dev.devs3 import S3Server
    from seedctl_dev.devserver import TempPostgres
    from tests.helpers import Project


def objects(s3_server: S3Server, bucket: str) -> dict[str, int]:
    """DVC's objects in the bucket (the catalog beside them is not data: test_catalog.py)."""
    pages = s3_server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="seedctl/files/md5/")
    return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}


def parts(project: Project, table: str) -> dict[str, str]:
    manifest = json.loads((project.seeds / "manifest.json").read_text())
    return {p["file"]: p["md5"] for p in manifest["tables"][table]["parts"]}


def test_a_new_week_uploads_only_the_changed_month(
    sample_project: Project, s3_env: dict[str, str], s3_server: S3Server, pg_server: TempPostgres, tmp_path: Path
) -> None:
    first = sample_project.seedctl("snapshot", env=s3_env)
    assert first.returncode == 0, first.stderr
    before, full = parts(sample_project, "usdcop_m5_ohlcv"), objects(s3_server, s3_env["MINIO_BUCKET"])

    with psycopg.connect(sample_project.env["DATABASE_URL"]) as conn:
        assert sample.append_ohlcv_week(conn) > 0
    second = sample_project.seedctl("snapshot", env=s3_env)
    assert second.returncode == 0, second.stderr
    after, now = parts(sample_project, "usdcop_m5_ohlcv"), objects(s3_server, s3_env["MINIO_BUCKET"])

    changed = {f for f in after if before.get(f) != after[f]}
    assert changed and len(changed) <= 2, changed  # the last month, or it and a new one
    assert all(before[f] == after[f] for f in before if f not in changed)
    uploaded = {k: s for k, s in now.items() if k not in full}
    # The changed month(s), schema.json and DVC's new listing of seeds/data: nothing else.
    # (What share of the bytes that is, at the plan's size, is measured by bench/run.py.)
    assert {after[f] for f in changed} <= {"".join(k.split("/")[-2:]) for k in uploaded}
    assert len(uploaded) == len(changed) + 2, sorted(uploaded)

    # Every part comes back on a new server (fresh clone, empty cache, new database).
    target = pg_server.create_database(f"n_{uuid.uuid4().hex[:10]}")
    clone = sample_project.clone(tmp_path / "clone", database_url=target)
    restored = clone.seedctl("restore", env=s3_env)
    assert restored.returncode == 0, restored.stderr
    count = "SELECT count(*), max(time) FROM usdcop_m5_ohlcv"
    assert clone.sql(count) == sample_project.sql(count)


@pytest.mark.parametrize(
    "table, source, complaint",
    [
        ("trades_history", {"time_column": "opened_at", "partition": "month"}, "does not start with opened_at"),
        ("usdcop_m5_ohlcv", {"time_column": "symbol", "partition": "year"}, "is text, not a date or timestamp"),
    ],
)
def test_partitioning_needs_a_key_that_starts_with_a_time_column(
    env_db: str, tmp_path: Path, table: str, source: dict[str, str], complaint: str
) -> None:
    with psycopg.connect(env_db) as conn:
        sample.load_sample_data(conn, scale=0.01)
    params = parse_params({"sources": {table: {"table": table, **source}}})
    with pytest.raises(ConfigError, match=complaint):
        run_export(params, tmp_path / "seeds")
    assert not (tmp_path / "seeds" / "data").exists()
