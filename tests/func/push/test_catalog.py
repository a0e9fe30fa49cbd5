"""The bucket catalog (write side), through the real CLI against a real S3 API server:
every push writes <prefix>/<version>/{params.yaml,checksums.sha256,files.json,manifest.json},
index.json and latest/manifest.json, pointing at the objects DVC pushed (no byte copied),
in an order that a kill at any point, or a concurrent push, cannot break."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from seedctl.parts import snapshot_parts
from seedctl_dev import sample
from seedctl_dev.devs3 import S3Server
from seedctl_dev.devserver import TempPostgres
from tests.helpers import Project, add_trade, gate, kill_group, new_database, one_error_line

PREFIX = "seedctl"


# --- reading the bucket ------------------------------------------------------------------------


def get(s3_server: S3Server, bucket: str, key: str) -> bytes:
    return bytes(s3_server.client().get_object(Bucket=bucket, Key=f"{PREFIX}/{key}")["Body"].read())


def index(s3_server: S3Server, bucket: str) -> dict[str, Any]:
    return json.loads(get(s3_server, bucket, "index.json"))


def objects(s3_server: S3Server, bucket: str) -> set[str]:
    """The DVC objects in the bucket (md5 content addresses), as md5s."""
    return {"".join(k.split("/")[-2:]) for k in s3_server.keys(bucket, f"{PREFIX}/files/md5/")}


def etags(s3_server: S3Server, bucket: str) -> dict[str, str]:
    pages = s3_server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}


def cache_objects(project: Project) -> set[str]:
    cache = project.root / ".dvc" / "cache" / "files" / "md5"
    return {p.parent.name + p.name for p in cache.glob("*/*")}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_entry_is_the_snapshot(s3_server: S3Server, bucket: str, project: Project, rev: str | None = None) -> str:
    """The bucket's entry for the project's snapshot (the work tree's, or at git rev) holds
    its manifest, checksums and params byte for byte, and files.json names for every file the
    object DVC pushed, with the manifest's md5, sha256 and size; the index line agrees."""

    def record(path: str) -> bytes:
        return project.git("show", f"{rev}:{path}").encode() if rev else (project.root / path).read_bytes()

    manifest_bytes = record("seeds/manifest.json")
    manifest = json.loads(manifest_bytes)
    version = manifest["version"]
    entry = {
        name: get(s3_server, bucket, f"{version}/{name}")
        for name in ("manifest.json", "checksums.sha256", "params.yaml", "files.json")
    }
    assert entry["manifest.json"] == manifest_bytes
    assert entry["checksums.sha256"] == record("seeds/checksums.sha256")
    assert entry["params.yaml"] == record("params.yaml")
    files = json.loads(entry["files.json"])
    assert files["catalog_format"] == 1 and files["version"] == version
    expected = {
        p["file"]: {"md5": p["md5"], "sha256": p["sha256"], "size": p["size_bytes"]} for p in snapshot_parts(manifest)
    }
    expected["schema.json"] = {"md5": manifest["schema_md5"], "sha256": manifest["schema_sha256"]}
    assert set(files["files"]) == set(expected)
    bucket_objects = objects(s3_server, bucket)
    for rel, f in files["files"].items():
        assert {k: f[k] for k in expected[rel]} == expected[rel], rel
        assert f["object"] == f"files/md5/{f['md5'][:2]}/{f['md5'][2:]}"
        assert f["md5"] in bucket_objects, rel
    # every file the checksums list (what `sha256sum -c` checks) is in files.json, same sha256
    for line in entry["checksums.sha256"].decode().splitlines():
        digest, _, rel = line.partition("  ")
        assert files["files"][rel]["sha256"] == digest
    line = next(v for v in index(s3_server, bucket)["versions"] if v["version"] == version)
    assert line["sha256"] == {name: sha(data) for name, data in entry.items()}
    assert line["created_at"] == manifest["created_at"]
    assert line["tables"] == {n: t["rows"] for n, t in manifest["tables"].items()}
    assert line["rows"] == sum(t["rows"] for t in manifest["tables"].values())
    assert line["files"] == len(expected)
    assert line["size_bytes"] == sum(f["size"] for f in files["files"].values())
    return version


def put_of(bucket: str, key: str) -> Callable[[str, str], bool]:
    return lambda method, path: method == "PUT" and path == f"/{bucket}/{PREFIX}/{key}"


# --- tests ---------------------------------------------------------------------------------------


def test_every_push_writes_the_catalog_beside_the_objects_dvc_pushed(
    sample_project: Project, s3_env: dict[str, str], s3_server: S3Server
) -> None:
    """`seedctl snapshot`: the entry holds the snapshot's records byte for byte and maps every
    file to the DVC object holding it (the objects under files/md5 are exactly what DVC's
    cache holds: nothing uploaded twice, nothing copied); index.json lists it with its tag;
    latest/manifest.json is its manifest. A repeated snapshot of the unchanged database
    changes no key of the bucket; a new week adds only the changed month's objects and its own
    entry, whose unchanged months point at the objects the first version's entry names."""
    project, bucket = sample_project, s3_env["MINIO_BUCKET"]
    first = project.seedctl("snapshot", env=s3_env)
    assert first.returncode == 0, first.stderr
    assert "catalog: " in first.stdout and "listed in" in first.stdout, first.stdout
    v1 = assert_entry_is_the_snapshot(s3_server, bucket, project)
    assert objects(s3_server, bucket) == cache_objects(project)
    tag1 = project.git("describe", "--tags", "--exact-match", "HEAD").strip()
    listed = index(s3_server, bucket)
    assert listed["latest"] == v1 and [(v["version"], v["tag"]) for v in listed["versions"]] == [(v1, tag1)]
    assert get(s3_server, bucket, "latest/manifest.json") == (project.seeds / "manifest.json").read_bytes()
    before = etags(s3_server, bucket)

    again = project.seedctl("snapshot", env=s3_env)
    assert again.returncode == 0, again.stderr
    pushed = project.seedctl("push", env=s3_env)
    assert pushed.returncode == 0, pushed.stderr
    assert etags(s3_server, bucket) == before  # not one object written again, catalog included

    with psycopg.connect(project.database_url) as conn:
        assert sample.append_ohlcv_week(conn) > 0
    second = project.seedctl("snapshot", env=s3_env)
    assert second.returncode == 0, second.stderr
    v2 = assert_entry_is_the_snapshot(s3_server, bucket, project)
    assert v2 != v1
    assert_entry_is_the_snapshot(s3_server, bucket, project, rev=tag1)  # v1's entry untouched
    assert objects(s3_server, bucket) == cache_objects(project)  # one copy of each object
    new_keys = {k for k in etags(s3_server, bucket) if k not in before and "/files/md5/" in k}
    files1 = json.loads(get(s3_server, bucket, f"{v1}/files.json"))["files"]
    files2 = json.loads(get(s3_server, bucket, f"{v2}/files.json"))["files"]
    changed = {rel for rel in files2 if files1.get(rel) != files2[rel]}
    # the changed month(s) and schema.json, plus DVC's listing of seeds/data: nothing else
    assert len(new_keys) == len(changed) + 1 and "schema.json" in changed, (sorted(new_keys), changed)
    assert {f"{PREFIX}/{files2[rel]['object']}" for rel in changed} <= new_keys
    assert {rel for rel in files1 if files1[rel] == files2.get(rel)}  # unchanged months: same objects
    tag2 = project.git("describe", "--tags", "--exact-match", "HEAD").strip()
    listed = index(s3_server, bucket)
    assert listed["latest"] == v2
    assert [(v["version"], v["tag"]) for v in listed["versions"]] == [(v2, tag2), (v1, tag1)]
    assert get(s3_server, bucket, "latest/manifest.json") == (project.seeds / "manifest.json").read_bytes()


def catalog_state(s3_server: S3Server, bucket: str) -> dict[str, bytes]:
    """What a reader starts from: index.json and latest/manifest.json, byte for byte."""
    return {k: get(s3_server, bucket, k) for k in ("index.json", "latest/manifest.json")}


def new_version(project: Project) -> str:
    """A new validated snapshot in the work tree (not pushed, not committed): its version."""
    add_trade(project)
    snap = project.seedctl("snapshot", "--no-push")
    assert snap.returncode == 0, snap.stderr
    return str(json.loads((project.seeds / "manifest.json").read_text())["version"])


@pytest.mark.parametrize("killed_at", ["entry manifest.json", "index.json"])
def test_push_killed_before_the_index_leaves_the_previous_catalog_usable(
    snapshotted: Project, s3_server: S3Server, s3_env: dict[str, str], killed_at: str
) -> None:
    """`seedctl push` of a second version SIGKILLed (the whole process group) while a proxy
    holds its PUT of the entry's manifest.json (params, checksums and files.json written) or
    of index.json (the whole entry written): index.json and latest/manifest.json are
    byte for byte the previous ones, whose entry still matches them and the bucket; the new
    version is not listed. The next `seedctl push` completes the catalog (the entry files
    already there are taken as they are, not written twice)."""
    project, bucket = snapshotted, s3_env["MINIO_BUCKET"]
    first = project.seedctl("push", env=s3_env)
    assert first.returncode == 0, first.stderr
    v1 = assert_entry_is_the_snapshot(s3_server, bucket, project, rev="HEAD")
    before = catalog_state(s3_server, bucket)
    v2 = new_version(project)
    held = put_of(bucket, "index.json" if killed_at == "index.json" else f"{v2}/manifest.json")

    with gate(s3_env["MINIO_ENDPOINT"], held) as g:
        proc = project.spawn("push", env={**s3_env, "MINIO_ENDPOINT": g.endpoint})
        try:
            assert g.arrived.wait(120), "the push never reached the held request"
            assert proc.poll() is None
        finally:
            kill_group(proc)

    assert catalog_state(s3_server, bucket) == before
    assert [v["version"] for v in index(s3_server, bucket)["versions"]] == [v1]
    assert_entry_is_the_snapshot(s3_server, bucket, project, rev="HEAD")  # v1: consistent
    written = {k.rsplit("/", 1)[1] for k in s3_server.keys(bucket, f"{PREFIX}/{v2}/")}
    assert written == (
        {"params.yaml", "checksums.sha256", "files.json"}
        if killed_at != "index.json"
        else {"params.yaml", "checksums.sha256", "files.json", "manifest.json"}
    )

    again = project.seedctl("push", env=s3_env)
    assert again.returncode == 0, again.stderr
    assert assert_entry_is_the_snapshot(s3_server, bucket, project) == v2
    assert index(s3_server, bucket)["latest"] == v2
    assert [v["version"] for v in index(s3_server, bucket)["versions"]] == [v2, v1]
    assert get(s3_server, bucket, "latest/manifest.json") == (project.seeds / "manifest.json").read_bytes()


def test_index_write_failing_is_one_line_and_changes_nothing_readers_see(
    snapshotted: Project, s3_server: S3Server, s3_env: dict[str, str]
) -> None:
    """Every PUT of index.json answered HTTP 500: `seedctl push` exits 7 with one line naming
    index.json; index.json and latest/manifest.json are unchanged; `seedctl push` again,
    as the line says, lists the version."""
    project, bucket = snapshotted, s3_env["MINIO_BUCKET"]
    assert project.seedctl("push", env=s3_env).returncode == 0
    before = catalog_state(s3_server, bucket)
    v2 = new_version(project)
    with gate(s3_env["MINIO_ENDPOINT"], put_of(bucket, "index.json"), fail=True) as g:
        failed = project.seedctl("push", env={**s3_env, "MINIO_ENDPOINT": g.endpoint})
    assert failed.returncode == 7, failed.stderr
    line = one_error_line(failed, f"snapshot {v2} is pushed but not listed", "index.json", "HTTP 500")
    assert "-- run `seedctl push` again" in line, line
    assert catalog_state(s3_server, bucket) == before
    again = project.seedctl("push", env=s3_env)
    assert again.returncode == 0, again.stderr
    assert index(s3_server, bucket)["latest"] == v2


def test_two_pushes_at_once_both_listed(
    snapshotted: Project, s3_server: S3Server, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    """Two clones push two versions into one bucket at once, interleaved deterministically:
    the first has read index.json and its compare-and-swap PUT is held by a proxy while the
    second push runs to the end. Released, the first gets 412, reads the index again, merges:
    both versions listed, newest first, latest (and latest/manifest.json) the newer one, and
    the first push says in one line that it merged."""
    one, bucket = snapshotted, s3_env["MINIO_BUCKET"]
    v1 = json.loads((one.seeds / "manifest.json").read_text())["version"]
    other_root = tmp_path / "other"
    shutil.copytree(one.root, other_root, symlinks=True)
    other_db = new_database(pg_server, one.database_url.rsplit("/", 1)[1])
    other = Project(other_root, {**one.env, "DATABASE_URL": other_db}, other_db)
    v2 = new_version(other)

    with gate(s3_env["MINIO_ENDPOINT"], put_of(bucket, "index.json")) as g:
        proc = one.spawn("push", env={**s3_env, "MINIO_ENDPOINT": g.endpoint})
        try:
            assert g.arrived.wait(120), "the first push never wrote index.json"
            second = other.seedctl("push", env=s3_env)
            assert second.returncode == 0, second.stderr
            assert index(s3_server, bucket)["latest"] == v2
            g.release.set()
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                kill_group(proc)
    assert proc.returncode == 0, err
    assert "another push updated the index meanwhile" in out, out
    listed = index(s3_server, bucket)
    assert [v["version"] for v in listed["versions"]] == [v2, v1] and listed["latest"] == v2
    assert get(s3_server, bucket, "latest/manifest.json") == (other.seeds / "manifest.json").read_bytes()
    assert_entry_is_the_snapshot(s3_server, bucket, one)
    assert_entry_is_the_snapshot(s3_server, bucket, other)


def test_seedctl_catalog_writes_the_catalog_of_an_older_bucket_from_git_history(
    sample_project: Project, s3_env: dict[str, str], s3_server: S3Server, tmp_path: Path
) -> None:
    """A bucket pushed before the catalog existed (three versions; every catalog key deleted,
    only DVC's objects left), one object of the oldest version gone. `seedctl catalog`, run
    exactly so in a fresh clone (git history, no DVC cache), writes the entries of the two
    complete versions from `git show <tag>:...`, names the incomplete one in one line and
    leaves it out; index.json lists the two with their tags, newest first, latest the newest.
    Run again, it changes nothing. Pushing the old version from its tag afterwards repairs
    its object and lists it, without making it latest."""
    project, bucket = sample_project, s3_env["MINIO_BUCKET"]
    tags = []
    for change in (None, "trade", "trade"):
        if change:
            add_trade(project)
        snap = project.seedctl("snapshot", env=s3_env)
        assert snap.returncode == 0, snap.stderr
        tags.append(project.git("describe", "--tags", "--exact-match", "HEAD").strip())
    client = s3_server.client()
    for k in s3_server.keys(bucket):
        if "/files/md5/" not in k:
            client.delete_object(Bucket=bucket, Key=k)
    old = json.loads(project.git("show", f"{tags[0]}:seeds/manifest.json"))
    newer = {json.loads(project.git("show", f"{t}:seeds/manifest.json"))["schema_md5"] for t in tags[1:]}
    assert old["schema_md5"] not in newer
    client.delete_object(Bucket=bucket, Key=f"{PREFIX}/files/md5/{old['schema_md5'][:2]}/{old['schema_md5'][2:]}")

    clone = project.clone(tmp_path / "clone")
    assert not (clone.root / ".dvc" / "cache").exists()
    made = clone.seedctl("catalog", env=s3_env)
    assert made.returncode == 0, made.stderr
    skipped = [ln for ln in made.stdout.splitlines() if ln.startswith("skipped ")]
    assert len(skipped) == 1 and skipped[0].startswith(f"skipped {tags[0]}: {old['version']}: 1 of its "), made.stdout
    assert "seeds/schema.json: not in the remote" in skipped[0], skipped[0]
    assert "2 version tag(s) catalogued, 1 skipped" in made.stdout, made.stdout
    versions = [assert_entry_is_the_snapshot(s3_server, bucket, clone, rev=t) for t in tags[1:]]
    listed = index(s3_server, bucket)
    assert [(v["version"], v["tag"]) for v in listed["versions"]] == list(zip(reversed(versions), reversed(tags[1:])))
    assert listed["latest"] == versions[-1]
    assert (
        get(s3_server, bucket, "latest/manifest.json") == clone.git("show", f"{tags[2]}:seeds/manifest.json").encode()
    )
    assert not s3_server.keys(bucket, f"{PREFIX}/{old['version']}/")

    before = etags(s3_server, bucket)
    again = clone.seedctl("catalog", env=s3_env)
    assert again.returncode == 0, again.stderr
    assert again.stdout == made.stdout and etags(s3_server, bucket) == before

    project.git("checkout", "-q", tags[0])
    pulled = project.seedctl("pull", env=s3_env)  # the work tree's files, from the local cache
    assert pulled.returncode == 0, pulled.stderr
    repaired = project.seedctl("push", env=s3_env)
    assert repaired.returncode == 0, repaired.stderr
    assert assert_entry_is_the_snapshot(s3_server, bucket, project, rev=tags[0]) == old["version"]
    listed = index(s3_server, bucket)
    assert [v["tag"] for v in listed["versions"]] == list(reversed(tags)) and listed["latest"] == versions[-1]

    # The latest's entry manifest lost: a push of another version says so in one line; run
    # as printed, `seedctl catalog` (in the clone with the history) puts it back.
    client.delete_object(Bucket=bucket, Key=f"{PREFIX}/{versions[-1]}/manifest.json")
    refused = project.seedctl("push", env=s3_env)
    assert refused.returncode == 6, refused.stderr
    line = one_error_line(refused, f"s3://{bucket}/{PREFIX}/{versions[-1]}/manifest.json is missing")
    assert line.endswith("-- run `seedctl catalog` in a clone that has the git history"), line
    fixed = clone.seedctl("catalog", env=s3_env)
    assert fixed.returncode == 0, fixed.stderr
    assert assert_entry_is_the_snapshot(s3_server, bucket, clone, rev=tags[2]) == versions[-1]
    assert (
        get(s3_server, bucket, "latest/manifest.json") == clone.git("show", f"{tags[2]}:seeds/manifest.json").encode()
    )


def test_damaged_catalog_files_are_repaired_and_a_damaged_index_is_one_line(
    snapshotted: Project, s3_server: S3Server, s3_env: dict[str, str]
) -> None:
    """`seedctl push` then `seedctl tag`: the index line gets the tag. An entry file edited in
    the bucket and another deleted: the next `seedctl push` puts the snapshot's own bytes
    back (index.json still vouches for them). index.json made unreadable: push refuses in one
    line (exit 6) naming it, with what to do; done as printed (the index deleted, then
    `seedctl catalog`), the catalog is whole again. `seedctl catalog` against a bucket that
    holds none of the versions' objects: one line, exit 7."""
    project, bucket = snapshotted, s3_env["MINIO_BUCKET"]
    new_version(project)  # validated, not committed: `seedctl tag` has a snapshot to tag
    assert project.seedctl("push", env=s3_env).returncode == 0
    assert [v["tag"] for v in index(s3_server, bucket)["versions"]] == [None]
    tagged = project.seedctl("tag", env=s3_env)
    assert tagged.returncode == 0, tagged.stderr
    tag = project.git("describe", "--tags", "--exact-match", "HEAD").strip()
    version = assert_entry_is_the_snapshot(s3_server, bucket, project)
    assert [v["tag"] for v in index(s3_server, bucket)["versions"]] == [tag]

    client = s3_server.client()
    client.put_object(Bucket=bucket, Key=f"{PREFIX}/{version}/manifest.json", Body=b'{"version": "edited"}')
    client.delete_object(Bucket=bucket, Key=f"{PREFIX}/{version}/files.json")
    repaired = project.seedctl("push", env=s3_env)
    assert repaired.returncode == 0, repaired.stderr
    assert assert_entry_is_the_snapshot(s3_server, bucket, project) == version

    client.put_object(Bucket=bucket, Key=f"{PREFIX}/index.json", Body=b'{"catalog_format": 1, "vers')
    refused = project.seedctl("push", env=s3_env)
    assert refused.returncode == 6, refused.stderr
    line = one_error_line(refused, f"s3://{bucket}/{PREFIX}/index.json is damaged")
    assert line.endswith("-- delete it, then run `seedctl catalog` in a clone that has the git history"), line
    client.delete_object(Bucket=bucket, Key=f"{PREFIX}/index.json")
    rebuilt = project.seedctl("catalog", env=s3_env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert [(v["version"], v["tag"]) for v in index(s3_server, bucket)["versions"]] == [(version, tag)]
    assert_entry_is_the_snapshot(s3_server, bucket, project)
    assert get(s3_server, bucket, "latest/manifest.json") == (project.seeds / "manifest.json").read_bytes()

    empty = f"empty-{bucket}"[:63]
    s3_server.create_bucket(empty)
    nothing = project.seedctl("catalog", env={**s3_env, "MINIO_BUCKET": empty})
    assert nothing.returncode == 7, nothing.stderr
    one_error_line(nothing, "none of the 1 version tags has all its objects in", "-- check MINIO_BUCKET")


def test_push_asks_the_bucket_about_its_objects_once(
    snapshotted: Project, s3_server: S3Server, s3_env: dict[str, str]
) -> None:
    """Push checks the objects in the bucket (one listing of <prefix>/files/md5/), uploads
    what is missing and checks those again; the catalog then takes those answers instead of
    asking the bucket a second time. Counted at a proxy: a push with nothing to upload lists
    the objects once, a push that uploads twice (check, then check of the uploaded), and
    neither sends a HEAD per object."""
    project, bucket = snapshotted, s3_env["MINIO_BUCKET"]
    assert project.seedctl("push", env=s3_env).returncode == 0
    seen: list[tuple[str, str]] = []

    def record(method: str, path: str) -> bool:
        seen.append((method, path))
        return False

    def object_requests(*args: str) -> tuple[int, int]:
        seen.clear()
        with gate(s3_env["MINIO_ENDPOINT"], record) as g:
            result = project.seedctl(*args, env={**s3_env, "MINIO_ENDPOINT": g.endpoint})
        assert result.returncode == 0, result.stderr
        listings = sum(1 for m, p in seen if m == "GET" and p.rstrip("/") == f"/{bucket}")
        heads = sum(1 for m, p in seen if m == "HEAD" and "/files/md5/" in p)
        return listings, heads

    assert object_requests("push") == (1, 0)
    new_version(project)
    assert object_requests("push") == (2, 0)
    assert index(s3_server, bucket)["latest"] == json.loads((project.seeds / "manifest.json").read_text())["version"]
