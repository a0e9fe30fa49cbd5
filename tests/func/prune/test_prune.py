"""Retention end to end: six pushed snapshots with changing data, then `seedctl prune` through
the real CLI, dvc and git against a real S3 API server. The kept versions must restore
bit-exactly from a fresh clone; only objects that the pruned versions alone used may go."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from seedctl.parts import snapshot_parts
from seedctl.store.catalog import ENTRY_FILES
from seedctl_dev import sample
from seedctl_dev.devs3 import S3Server
from seedctl_dev.devserver import TempPostgres
from tests.helpers import SMALL_SCALE, Project, gate, kill_group, make_project, one_error_line, small_params

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


def take_snapshots(
    project: Project, url: str, env: dict[str, str], changes: list[str | None], dates: list[str] | None = None
) -> tuple[list[str], dict[str, dict[str, list[str]]]]:
    """One `seedctl snapshot` after each change (None: none), committed at `dates` when given:
    the tags, oldest first, and the database's contents at each."""
    tags, dumps = [], {}
    for i, change in enumerate(changes):
        if change:
            project.sql(change)
        when = {"GIT_COMMITTER_DATE": dates[i]} if dates else {}
        result = project.seedctl("snapshot", env={**env, **when})
        assert result.returncode == 0, result.stderr
        tag = re.search(r"committed and tagged (\S+)", result.stdout)
        assert tag, result.stdout
        tags.append(tag[1])
        dumps[tag[1]] = contents(url)
    return tags, dumps


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
    env = s3_server.new_bucket("prune")
    tags, dumps = take_snapshots(project, url, env, CHANGES)
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
    assert result.stdout.startswith("retention (--keep): last 4\n"), result.stdout
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
    listed = [v["version"] for v in index(s3_server, bucket)["versions"]]
    assert version_name(six.project, second) not in listed and version_name(six.project, oldest) in listed
    assert_catalog_consistent(s3_server, bucket)


def test_a_version_only_the_bucket_index_lists_is_kept_with_its_objects(
    six: Six, s3_server: S3Server, tmp_path: Path
) -> None:
    """A clone that lacks the tag of the oldest version (pushed from elsewhere: only the
    bucket's index.json lists it) prunes to 4: the oldest stays, listed, with every object
    its files.json names, even those it shares with the pruned one alone; the second oldest goes,
    entry and objects. The index and latest never name anything gone."""
    clone, bucket, env = copy_of(six, s3_server, tmp_path)
    oldest, second = six.tags[0], six.tags[1]
    clone.git("tag", "-d", oldest)
    names = {t: version_name(six.project, t) for t in six.tags}
    files = json.loads(get(s3_server, bucket, f"{names[oldest]}/files.json"))["files"]
    needed = {f["md5"] for f in files.values()}
    later = set().union(*(objects_of(six.project, t) for t in six.tags[2:]))
    at_risk = (needed & objects_of(six.project, second)) - later
    assert at_risk  # the pruned version's objects that only the index-only version still needs

    # Its files.json gone from the bucket: which objects it needs cannot be told, so nothing
    # is deleted; `seedctl catalog` as printed, in a clone that has its tag, writes it again.
    s3_server.client().delete_object(Bucket=bucket, Key=f"{PREFIX}/{names[oldest]}/files.json")
    before = set(s3_server.keys(bucket))
    refused = clone.seedctl("prune", "--keep", "4", "--yes", env=env)
    assert refused.returncode == 6, refused.stderr
    line = one_error_line(refused, f"cannot tell which objects version {names[oldest]} needs")
    assert line.endswith("nothing was deleted; run `seedctl catalog` in a clone that has the git history"), line
    assert set(s3_server.keys(bucket)) == before and oldest not in version_tags(clone)
    assert len(version_tags(clone)) == 5
    rebuilt = six.project.seedctl("catalog", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr

    dry = clone.seedctl("prune", "--keep", "4", env=env)
    assert dry.returncode == 0, dry.stderr
    assert f"kept, with their objects: {names[oldest]} (listed in the bucket's index.json" in dry.stdout, dry.stdout
    result = clone.seedctl("prune", "--keep", "4", "--yes", env=env)

    assert result.returncode == 0, result.stderr
    assert f"pruned 1 version ({second})" in result.stdout and "1 catalog entry" in result.stdout, result.stdout
    keys = set(s3_server.keys(bucket))
    assert {key(m) for m in needed} <= keys
    listed = [v["version"] for v in index(s3_server, bucket)["versions"]]
    assert names[oldest] in listed and names[second] not in listed
    assert not [k for k in keys if k.startswith(f"{PREFIX}/{names[second]}/")]
    assert_catalog_consistent(s3_server, bucket)


def test_prune_killed_after_the_index_update_is_finished_by_the_next(
    six: Six, s3_server: S3Server, tmp_path: Path
) -> None:
    """`seedctl prune --yes` SIGKILLed while a proxy holds its first delete (the catalog
    entries'): index.json already lists only the kept versions, and everything it lists is
    whole. The next `seedctl prune --yes` deletes the entries and objects left behind."""
    clone, bucket, env = copy_of(six, s3_server, tmp_path)
    names = {t: version_name(six.project, t) for t in six.tags}
    deletes = lambda method, path: method == "POST" and path == f"/{bucket}"  # noqa: E731 - DeleteObjects
    with gate(env["MINIO_ENDPOINT"], deletes) as g:
        proc = clone.spawn("prune", "--keep", "4", "--yes", env={**env, "MINIO_ENDPOINT": g.endpoint})
        try:
            assert g.arrived.wait(120), "the prune never deleted anything"
            assert proc.poll() is None
        finally:
            kill_group(proc)
    listed = [v["version"] for v in index(s3_server, bucket)["versions"]]
    assert listed == [names[t] for t in reversed(six.tags[2:])]
    assert_catalog_consistent(s3_server, bucket)
    assert s3_server.keys(bucket, f"{PREFIX}/{names[six.tags[0]]}/")  # left behind, not listed

    again = clone.seedctl("prune", "--keep", "4", "--yes", env=env)
    assert again.returncode == 0, again.stderr
    keys = set(s3_server.keys(bucket))
    assert not [k for k in keys for t in six.tags[:2] if k.startswith(f"{PREFIX}/{names[t]}/")]
    kept = set().union(*(objects_of(six.project, t) for t in six.tags[2:]))
    only_old = (objects_of(six.project, six.tags[0]) | objects_of(six.project, six.tags[1])) - kept
    assert not {key(m) for m in only_old} & keys
    assert_catalog_consistent(s3_server, bucket)


def test_the_bucket_latest_is_never_pruned(six: Six, s3_server: S3Server, tmp_path: Path) -> None:
    """index.json whose latest is the oldest version (as hand-written, or by a clock gone
    wrong): prune to 4 keeps it as if pinned, with its entry and objects; latest/manifest.json
    is then the latest's of the updated index, and everything listed is whole."""
    clone, bucket, env = copy_of(six, s3_server, tmp_path)
    names = {t: version_name(six.project, t) for t in six.tags}
    oldest, second = six.tags[0], six.tags[1]
    listed = index(s3_server, bucket)
    listed["latest"] = names[oldest]
    client = s3_server.client()
    client.put_object(Bucket=bucket, Key=f"{PREFIX}/index.json", Body=json.dumps(listed).encode())

    result = clone.seedctl("prune", "--keep", "4", "--yes", env=env)

    assert result.returncode == 0, result.stderr
    assert re.search(rf"{re.escape(oldest)}\s.*pinned \(the bucket's latest\)", result.stdout), result.stdout
    assert f"pruned 1 version ({second})" in result.stdout, result.stdout
    assert version_tags(clone) == sorted([oldest, *six.tags[2:]])
    after = [v["version"] for v in index(s3_server, bucket)["versions"]]
    assert names[oldest] in after and names[second] not in after
    assert {key(m) for m in objects_of(six.project, oldest)} <= set(s3_server.keys(bucket))
    assert_catalog_consistent(s3_server, bucket)


def copy_of(six: Six, s3_server: S3Server, tmp_path: Path) -> tuple[Project, str, dict[str, str]]:
    """A git clone of the six and a copy of their bucket, so that the shared six stay untouched."""
    clone = fresh_clone(six.project, tmp_path / "copy")
    bucket = f"copy-{uuid.uuid4().hex[:12]}"
    s3 = s3_server.client()
    s3.create_bucket(Bucket=bucket)
    for k in s3_server.keys(six.bucket):
        s3.copy_object(Bucket=bucket, Key=k, CopySource={"Bucket": six.bucket, "Key": k})
    return clone, bucket, {**six.env, "MINIO_BUCKET": bucket}


def get(s3_server: S3Server, bucket: str, rel: str) -> bytes:
    return bytes(s3_server.client().get_object(Bucket=bucket, Key=f"{PREFIX}/{rel}")["Body"].read())


def index(s3_server: S3Server, bucket: str) -> dict[str, Any]:
    return json.loads(get(s3_server, bucket, "index.json"))


def version_name(project: Project, tag: str) -> str:
    return str(json.loads(project.git("show", f"{tag}:seeds/manifest.json"))["version"])


def assert_catalog_consistent(s3_server: S3Server, bucket: str) -> None:
    """Everything index.json lists is whole: each entry file matches the index's sha256, each
    object files.json names is in the bucket, latest/manifest.json is the latest's manifest."""
    listed = index(s3_server, bucket)
    keys = set(s3_server.keys(bucket))
    for line in listed["versions"]:
        blobs = {f: get(s3_server, bucket, f"{line['version']}/{f}") for f in ENTRY_FILES}
        assert {f: hashlib.sha256(b).hexdigest() for f, b in blobs.items()} == line["sha256"], line["version"]
        for f in json.loads(blobs["files.json"])["files"].values():
            assert f"{PREFIX}/{f['object']}" in keys, (line["version"], f)
    latest = get(s3_server, bucket, f"{listed['latest']}/manifest.json")
    assert get(s3_server, bucket, "latest/manifest.json") == latest


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
    names = {t: version_name(project, t) for t in tags}
    assert [v["version"] for v in index(s3_server, six.bucket)["versions"]] == [names[t] for t in reversed(tags)]
    entries = {f"{PREFIX}/{names[t]}/{f}" for t in tags[:2] for f in ENTRY_FILES}
    assert entries <= set(before)

    result = project.seedctl("prune", "--keep", "4", "--yes", env=six.env)

    assert result.returncode == 0, result.stderr
    assert f"pruned 2 versions ({tags[0]}, {tags[1]}), deleted {len(only_old)} objects and 2 catalog entries" in (
        result.stdout
    )
    assert version_tags(project) == sorted(tags[2:])
    after = sizes(s3_server, six.bucket)
    gone = set(before) - set(after)
    assert gone == {key(m) for m in only_old} | entries  # the pruned versions' objects and catalog entries
    assert {key(m) for m in shared} <= set(after) and set(foreign) <= set(after)
    freed = FREED.search(result.stdout)
    assert freed and int(freed[1].replace(",", "")) == sum(before[key(m)] for m in only_old)
    listed = index(s3_server, six.bucket)
    assert [v["version"] for v in listed["versions"]] == [names[t] for t in reversed(tags[2:])]
    assert listed["latest"] == names[tags[-1]]
    assert_catalog_consistent(s3_server, six.bucket)

    again = project.seedctl("prune", "--keep", "4", env=six.env)
    assert again.returncode == 0 and "would prune 0 versions, delete 0 objects" in again.stdout

    for tag in tags[2:]:
        clone = fresh_clone(project, tmp_path / tag.replace("/", "_"), rev=tag)
        target = pg_server.create_database(f"k_{uuid.uuid4().hex[:10]}")
        restored = clone.seedctl("restore", env={**six.env, "DATABASE_URL": target})
        assert restored.returncode == 0, f"{tag}: {restored.stderr}"
        assert contents(target) == six.dumps[tag], tag
