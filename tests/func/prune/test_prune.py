"""Retention end to end: six pushed snapshots with changing data, then `seedctl prune` through
the real CLI, dvc and git against a real S3 API server. The kept versions must restore
bit-exactly from a fresh clone; only objects that the pruned versions alone used may go."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import yaml

from seedctl.parts import snapshot_parts
from seedctl_dev import sample
from seedctl_dev.devs3 import S3Server
from seedctl_dev.devserver import TempPostgres
from tests.helpers import SMALL_SCALE, Project, make_project, small_params

TABLES = {"usdcop_m5_ohlcv": "time, symbol", "macro_indicators_daily": "fecha", "trades_history": "id"}
PREFIX = "seedctl"

# What changes before each of the six snapshots. The macro table is the same for the first
# three, so snapshots 1-2 share an object with the kept snapshot 3; trades of snapshot 2
# live on in snapshots 3 and 4; the ohlcv file of snapshots 1-2 and the trades file of
# snapshot 1 are used by nothing that is kept.
CHANGES = [
    None,
    "INSERT INTO trades_history (opened_at, side, entry_price, quantity) VALUES ('2026-01-15 17:00+00', 'short', 3700, 1000)",
    "UPDATE usdcop_m5_ohlcv SET volume = volume + 1 WHERE time = (SELECT min(time) FROM usdcop_m5_ohlcv)",
    "UPDATE macro_indicators_daily SET dxy = dxy + 1 WHERE fecha = (SELECT max(fecha) FROM macro_indicators_daily WHERE dxy IS NOT NULL)",
    "INSERT INTO trades_history (opened_at, side, entry_price, quantity) VALUES ('2026-01-16 17:00+00', 'long', 3710, 500)",
    "UPDATE usdcop_m5_ohlcv SET volume = volume + 1 WHERE time = (SELECT max(time) FROM usdcop_m5_ohlcv)",
]
FREED = re.compile(r"freed? [\d.,]+ MB \(([\d,]+) bytes\)")


@dataclass
class Six:
    project: Project
    env: dict[str, str]
    tags: list[str]  # oldest first
    dumps: dict[str, dict[str, list[str]]]  # tag -> the source database when it was taken

    @property
    def bucket(self) -> str:
        return self.env["MINIO_BUCKET"]


def contents(url: str) -> dict[str, list[str]]:
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        return {t: [r[0] for r in conn.execute(f"SELECT r::text FROM {t} r ORDER BY {k}")] for t, k in TABLES.items()}


def objects_of(project: Project, rev: str) -> set[str]:
    """md5s a snapshot needs, read straight from git: data files, schema, directory listing."""
    manifest = json.loads(project.git("show", f"{rev}:seeds/manifest.json"))
    lock = yaml.safe_load(project.git("show", f"{rev}:dvc.lock"))
    found = {p["md5"] for p in snapshot_parts(manifest)} | {manifest["schema_md5"]}
    found |= {o["md5"] for s in lock["stages"].values() for o in s.get("outs", []) if o["md5"].endswith(".dir")}
    return found


def key(md5: str, prefix: str = PREFIX) -> str:
    return f"{prefix}/files/md5/{md5[:2]}/{md5[2:]}"


def version_tags(project: Project) -> list[str]:
    return sorted(project.git("tag", "--list", "seeds/v*").split())


def sizes(s3: S3Server, bucket: str) -> dict[str, int]:
    pages = s3.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}


def fresh_clone(project: Project, dest: Path, rev: str | None = None) -> Project:
    subprocess.run(["git", "clone", "-q", str(project.root), str(dest)], check=True, capture_output=True)
    clone = Project(dest, dict(project.env), project.database_url)
    if rev:
        clone.git("checkout", "-q", rev)
    assert not (dest / ".dvc" / "cache").exists()
    return clone


@pytest.fixture(scope="module")
def six(pg_server: TempPostgres, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Six]:
    name = f"prune_{uuid.uuid4().hex[:10]}"
    url = pg_server.create_database(name)
    project = make_project(tmp_path_factory.mktemp("prune") / "repo", url)
    with psycopg.connect(url) as conn:
        sample.load_sample_data(conn, scale=SMALL_SCALE)
    small_params(project)
    project.commit_all("small params")
    bucket = f"prune-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(bucket)
    env = {
        "MINIO_ENDPOINT": s3_server.endpoint,
        "MINIO_ACCESS_KEY": s3_server.access_key,
        "MINIO_SECRET_KEY": s3_server.secret_key,
        "MINIO_BUCKET": bucket,
        "MINIO_USE_SSL": "false",
    }
    tags, dumps = [], {}
    for change in CHANGES:
        if change:
            project.sql(change)
        result = project.seedctl("snapshot", env=env)
        assert result.returncode == 0, result.stderr
        tag = re.search(r"committed and tagged (\S+)", result.stdout)
        assert tag, result.stdout
        tags.append(tag[1])
        dumps[tag[1]] = contents(url)
    assert len(set(map(json.dumps, dumps.values()))) == 6
    try:
        yield Six(project, env, tags, dumps)
    finally:
        pg_server.drop_database(name)


def test_remote_layout_is_dvc3_md5_keys(six: Six, s3_server: S3Server) -> None:
    keys = set(s3_server.keys(six.bucket))
    needed = set().union(*(objects_of(six.project, t) for t in six.tags))
    assert {key(m) for m in needed} <= keys
    assert any(m.endswith(".dir") for m in needed)


def test_dry_run_lists_the_two_oldest_and_changes_nothing(six: Six, s3_server: S3Server) -> None:
    before = sizes(s3_server, six.bucket), version_tags(six.project)

    result = six.project.seedctl("prune", "--keep", "4", env=six.env)

    assert result.returncode == 0, result.stderr
    assert f"would prune 2 versions ({six.tags[0]}, {six.tags[1]})" in result.stdout
    assert "nothing changed" in result.stdout
    for tag in six.tags[2:]:
        assert re.search(rf"{re.escape(tag)}\s.*\skept", result.stdout), result.stdout
    assert (sizes(s3_server, six.bucket), version_tags(six.project)) == before

    pinned = six.project.seedctl("prune", "--keep", "4", "--pin", six.tags[1], env=six.env)
    assert pinned.returncode == 0, pinned.stderr
    assert f"would prune 1 version ({six.tags[0]})" in pinned.stdout
    assert re.search(rf"{re.escape(six.tags[1])}\s.*pinned \(--pin\)", pinned.stdout), pinned.stdout
    assert (sizes(s3_server, six.bucket), version_tags(six.project)) == before


def test_refusals_are_one_line(six: Six) -> None:
    for args, code, words in (
        (("--keep", "0"), 2, "--keep must be at least 1"),
        (("--pin", "seeds/v1999.01.01", "--yes"), 2, "seeds/v1999.01.01"),
    ):
        result = six.project.seedctl("prune", *args, env=six.env)
        assert result.returncode == code, result.stdout + result.stderr
        assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert len(version_tags(six.project)) == 6


def test_pinned_old_version_survives_with_its_objects(six: Six, s3_server: S3Server, tmp_path: Path) -> None:
    # A copy of the setup (git clone + its own bucket), so the shared six stay untouched.
    clone = fresh_clone(six.project, tmp_path / "pinning")
    bucket = f"pin-{uuid.uuid4().hex[:12]}"
    s3 = s3_server.client()
    s3.create_bucket(Bucket=bucket)
    for k in s3_server.keys(six.bucket):
        s3.copy_object(Bucket=bucket, Key=k, CopySource={"Bucket": six.bucket, "Key": k})
    env = {**six.env, "MINIO_BUCKET": bucket}
    params = clone.params()
    params["backup"]["pinned"] = [six.tags[0]]
    clone.write_params(params)
    oldest, second = six.tags[0], six.tags[1]
    kept = set().union(*(objects_of(clone, t) for t in [oldest, *six.tags[2:]]))
    only_second = objects_of(clone, second) - kept
    assert only_second

    result = clone.seedctl("prune", "--keep", "4", "--yes", env=env)

    assert result.returncode == 0, result.stderr
    assert f"pruned 1 version ({second})" in result.stdout
    assert version_tags(clone) == sorted([oldest, *six.tags[2:]])
    keys = set(s3_server.keys(bucket))
    assert {key(m) for m in objects_of(clone, oldest)} <= keys
    assert not {key(m) for m in only_second} & keys


def test_prune_to_four_frees_only_what_the_two_oldest_alone_used(
    six: Six, s3_server: S3Server, pg_server: TempPostgres, tmp_path: Path
) -> None:
    project, tags = six.project, six.tags
    objects = {t: objects_of(project, t) for t in tags}
    kept = set().union(*(objects[t] for t in tags[2:]))
    only_old = (objects[tags[0]] | objects[tags[1]]) - kept
    shared = (objects[tags[0]] | objects[tags[1]]) & kept
    macro_v1 = json.loads(project.git("show", f"{tags[0]}:seeds/manifest.json"))["tables"]["macro_indicators_daily"]
    assert {p["md5"] for p in macro_v1["parts"]} <= shared and only_old
    # Not ours to judge: another project's copy of one of our doomed objects, and a key
    # under our prefix that none of our manifests names.
    doomed = sorted(only_old)[0]
    s3 = s3_server.client()
    foreign = [key(doomed, "other-project"), key("0" * 32)]
    for k in foreign:
        s3.put_object(Bucket=six.bucket, Key=k, Body=b"not seedctl's")
    before = sizes(s3_server, six.bucket)

    result = project.seedctl("prune", "--keep", "4", "--yes", env=six.env)

    assert result.returncode == 0, result.stderr
    assert f"pruned 2 versions ({tags[0]}, {tags[1]}), deleted {len(only_old)} objects" in result.stdout
    assert version_tags(project) == sorted(tags[2:])
    after = sizes(s3_server, six.bucket)
    gone = set(before) - set(after)
    assert gone == {key(m) for m in only_old}
    assert {key(m) for m in shared} <= set(after) and set(foreign) <= set(after)
    freed = FREED.search(result.stdout)
    assert freed and int(freed[1].replace(",", "")) == sum(before[k] for k in gone)

    again = project.seedctl("prune", "--keep", "4", env=six.env)
    assert again.returncode == 0 and "would prune 0 versions, delete 0 objects" in again.stdout

    for tag in tags[2:]:
        clone = fresh_clone(project, tmp_path / tag.replace("/", "_"), rev=tag)
        target = pg_server.create_database(f"k_{uuid.uuid4().hex[:10]}")
        restored = clone.seedctl("restore", env={**six.env, "DATABASE_URL": target})
        assert restored.returncode == 0, f"{tag}: {restored.stderr}"
        assert contents(target) == six.dumps[tag], tag
