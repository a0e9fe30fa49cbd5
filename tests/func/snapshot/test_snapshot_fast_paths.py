"""The snapshot's push: seedctl uploads what a plain `dvc push` would and the remote lacks
(nothing at all for an unchanged database: one listing is the evidence), and leaves the push
to DVC whenever that is not certain. Real moto_server, dvc, git."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import subprocess
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from seedctl.errors import RemoteError
from seedctl.store.objects import RemoteObject, pushed_objects
from seedctl.store.push import _upload
from seedctl.store.settings import RemoteSettings

if TYPE_CHECKING:
    from seedctl_dev.devs3 import S3Server
    from tests.helpers import Project

UP_TO_DATE = "already up to date (all "  # seedctl's own evidence line: DVC was not started


def snapshot_keys(project: Project) -> dict[str, Any]:
    """Remote keys of the checked-out snapshot: the data directory's listing, its files, schema.json."""

    def key(md5: str) -> str:
        return f"seedctl/files/md5/{md5[:2]}/{md5[2:]}"

    outs = {
        o["path"]: o["md5"] for o in yaml.safe_load((project.root / "dvc.lock").read_text())["stages"]["export"]["outs"]
    }
    listing = outs["seeds/data"]
    entries = json.loads((project.root / ".dvc" / "cache" / "files" / "md5" / listing[:2] / listing[2:]).read_text())
    return {
        "dir": key(listing),
        "files": {e["relpath"]: key(e["md5"]) for e in entries},
        "schema": key(outs["seeds/schema.json"]),
    }


def first_snapshot(project: Project, s3_env: dict[str, str]) -> None:
    result = project.seedctl("snapshot", env=s3_env)
    assert result.returncode == 0, result.stderr
    assert "pushed to" in result.stdout and "committed and tagged" in result.stdout


def test_unchanged_snapshot_skips_push_only_while_the_remote_has_everything(
    sample_project: Project, s3_env: dict[str, str], s3_server: S3Server
) -> None:
    project, bucket = sample_project, s3_env["MINIO_BUCKET"]
    first_snapshot(project, s3_env)
    keys = s3_server.keys(bucket)
    head = project.git("rev-parse", "HEAD")

    unchanged = project.seedctl("snapshot", env=s3_env)
    assert unchanged.returncode == 0, unchanged.stderr
    assert UP_TO_DATE in unchanged.stdout and "Everything is up to date" not in unchanged.stdout
    assert "database unchanged" in unchanged.stdout
    assert s3_server.keys(bucket) == keys and project.git("rev-parse", "HEAD") == head

    # An object disappears from the bucket: the next snapshot puts it back, also a data file
    # whose directory listing is still there (which `dvc push` would take for present,
    # treeverse/dvc#11011).
    client, objects = s3_server.client(), snapshot_keys(project)
    for lost in (objects["schema"], objects["dir"], sorted(objects["files"].values())[0]):
        client.delete_object(Bucket=bucket, Key=lost)
        again = project.seedctl("snapshot", env=s3_env)
        assert again.returncode == 0, again.stderr
        assert "1 file pushed" in again.stdout and UP_TO_DATE not in again.stdout, again.stdout
        assert s3_server.keys(bucket) == keys
        assert project.git("rev-parse", "HEAD") == head


def test_an_unsure_push_is_dvc_push(sample_project: Project, s3_env: dict[str, str], s3_server: S3Server) -> None:
    """Another DVC file in the project (a `dvc add`ed one): seedctl does not know it, so
    `dvc push` pushes, and that file goes up with the snapshot's."""
    project, bucket = sample_project, s3_env["MINIO_BUCKET"]
    (project.root / "notes.txt").write_text("kept with the snapshots\n")
    added = project.run("dvc", "add", "notes.txt")
    assert added.returncode == 0, added.stderr
    md5 = yaml.safe_load((project.root / "notes.txt.dvc").read_text())["outs"][0]["md5"]
    project.commit_all("notes under DVC")

    first_snapshot(project, s3_env)
    keys = s3_server.keys(bucket)
    assert f"seedctl/files/md5/{md5[:2]}/{md5[2:]}" in keys
    assert set(keys) >= {snapshot_keys(project)["dir"], snapshot_keys(project)["schema"]}
    again = project.seedctl("snapshot", env=s3_env)
    assert again.returncode == 0 and "already up to date" in again.stdout, again.stdout + again.stderr
    assert UP_TO_DATE not in again.stdout  # DVC's answer, not seedctl's listing


def test_another_bucket_gets_everything(sample_project: Project, s3_env: dict[str, str], s3_server: S3Server) -> None:
    project = sample_project
    first_snapshot(project, s3_env)
    old = s3_server.keys(s3_env["MINIO_BUCKET"])
    other = f"seedctl-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(other)

    moved = project.seedctl("snapshot", env={**s3_env, "MINIO_BUCKET": other})
    assert moved.returncode == 0, moved.stderr
    assert UP_TO_DATE not in moved.stdout and f"pushed to s3://{other}/seedctl" in moved.stdout
    assert s3_server.keys(other) == old
    back = project.seedctl("snapshot", env=s3_env)
    assert back.returncode == 0 and UP_TO_DATE in back.stdout, back.stdout + back.stderr


def test_damaged_remote_object_stops_the_tag_until_a_push_replaces_it(
    sample_project: Project, s3_env: dict[str, str], s3_server: S3Server
) -> None:
    """DVC only asks whether an object exists; a truncated one is not taken as pushed."""
    project, bucket = sample_project, s3_env["MINIO_BUCKET"]
    first_snapshot(project, s3_env)
    relpath, victim = next(
        (r, k) for r, k in snapshot_keys(project)["files"].items() if r.startswith("macro_indicators_daily")
    )  # a new trade leaves it alone
    good = s3_server.client().get_object(Bucket=bucket, Key=victim)["Body"].read()
    s3_server.client().put_object(Bucket=bucket, Key=victim, Body=b"truncated")
    project.sql(
        "INSERT INTO trades_history (opened_at, side, entry_price, quantity, strategy) "
        "SELECT max(opened_at) + interval '1 minute', 'long', 4000, 1, 'fast-path' FROM trades_history"
    )
    tags = project.git("tag", "--list", "seeds/v*")

    refused = project.seedctl("tag", env=s3_env)  # the checked-out, committed snapshot needs it too
    assert refused.returncode == 7, refused.stdout + refused.stderr
    assert f"seeds/data/{relpath}: 9 bytes in the remote" in refused.stderr and "seedctl push" in refused.stderr

    result = project.seedctl("snapshot", env=s3_env)
    assert result.returncode == 0, result.stderr
    assert "among them 1 object(s) the remote held damaged" in " ".join(result.stdout.split()), result.stdout
    assert "committed and tagged" in result.stdout
    assert s3_server.client().get_object(Bucket=bucket, Key=victim)["Body"].read() == good
    assert len(project.git("tag", "--list", "seeds/v*").split()) == len(tags.split()) + 1


# --- which objects `dvc push` would upload: no services ---------------------------------------

SETTINGS = RemoteSettings(
    name="minio",
    url="s3://seeds/seedctl",
    endpoint_url="http://127.0.0.1:9",
    access_key="a",
    secret_key="s",
    bucket="seeds",
    prefix="seedctl",
)
CONFIG: dict[str, Any] = {
    "core": {"remote": "minio"},
    "remote": {
        "minio": {
            "url": "s3://seeds/seedctl",
            "endpointurl": "http://127.0.0.1:9",
            "access_key_id": "a",
            "secret_access_key": "s",
        }
    },
}
DVC_YAML = """stages:
  export:
    cmd: python export.py
    outs:
      - data:
          persist: true
      - schema.json
      - report.json:
          cache: false
"""
FILE_MD5, DATA_MD5, SCHEMA_MD5 = "a" * 32, "b" * 32, "c" * 32


def _cache(root: Path, md5: str, content: bytes) -> None:
    path = root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


@pytest.fixture
def dvc_project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    (root / ".dvc").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "dvc.yaml").write_text(DVC_YAML)
    lock = {
        "schema": "2.0",
        "stages": {
            "export": {
                "cmd": "python export.py",
                "outs": [
                    {"path": "data", "hash": "md5", "md5": f"{DATA_MD5}.dir", "size": 3, "nfiles": 1},
                    {"path": "schema.json", "hash": "md5", "md5": SCHEMA_MD5, "size": 2},
                    {"path": "report.json", "hash": "md5", "md5": "d" * 32, "size": 2},
                ],
            }
        },
    }
    (root / "dvc.lock").write_text(json.dumps(lock))
    _cache(root, f"{DATA_MD5}.dir", json.dumps([{"md5": FILE_MD5, "relpath": "t.parquet"}]).encode())
    _cache(root, FILE_MD5, b"abc")
    _cache(root, SCHEMA_MD5, b"{}")
    return root


def test_pushed_objects_are_the_cached_outputs_and_their_files(dvc_project: Path) -> None:
    objects = pushed_objects(dvc_project, SETTINGS, CONFIG)
    assert objects is not None
    assert {k: v.size for k, v in objects.items()} == {
        f"seedctl/files/md5/bb/{DATA_MD5[2:]}.dir": len(json.dumps([{"md5": FILE_MD5, "relpath": "t.parquet"}])),
        f"seedctl/files/md5/aa/{FILE_MD5[2:]}": 3,
        f"seedctl/files/md5/cc/{SCHEMA_MD5[2:]}": 2,
    }
    assert objects[f"seedctl/files/md5/aa/{FILE_MD5[2:]}"].label == "data/t.parquet"


@pytest.mark.parametrize(
    "change",
    [
        "another remote",
        "unknown remote option",
        "other url",
        "cache dir",
        "another dvc file",
        "templating",
        "per-output remote",
        "stage not locked",
        "listing not cached",
        "file not cached",
        "legacy hash",
    ],
)
def test_pushed_objects_is_unsure_rather_than_wrong(dvc_project: Path, change: str) -> None:
    root, config = dvc_project, json.loads(json.dumps(CONFIG))
    remote = config["remote"]["minio"]
    cache = root / ".dvc" / "cache" / "files" / "md5"
    if change == "another remote":
        config["core"]["remote"] = "backup"
    elif change == "unknown remote option":
        remote["version_aware"] = "true"
    elif change == "other url":
        remote["url"] = "s3://seeds/elsewhere"
    elif change == "cache dir":
        config["cache"] = {"dir": "/elsewhere"}
    elif change == "another dvc file":
        (root / "more").mkdir()
        (root / "more" / "raw.dvc").write_text("outs:\n- md5: " + "e" * 32 + "\n  path: raw\n")
    elif change == "templating":
        (root / "dvc.yaml").write_text(DVC_YAML.replace("python export.py", "python ${script}"))
    elif change == "per-output remote":
        (root / "dvc.yaml").write_text(DVC_YAML.replace("persist: true", "remote: other"))
    elif change == "stage not locked":
        (root / "dvc.yaml").write_text(DVC_YAML + "  more:\n    cmd: echo\n    outs:\n      - more.txt\n")
    elif change == "listing not cached":
        (cache / "bb" / f"{DATA_MD5[2:]}.dir").unlink()
    elif change == "file not cached":
        (cache / "aa" / FILE_MD5[2:]).unlink()
    elif change == "legacy hash":
        lock = json.loads((root / "dvc.lock").read_text())
        del lock["stages"]["export"]["outs"][1]["hash"]
        (root / "dvc.lock").write_text(json.dumps(lock))
    assert pushed_objects(root, SETTINGS, config) is None


def test_snapshot_refused_leaves_no_process_behind(sample_project: Project) -> None:
    params = sample_project.params()
    params["sources"]["trades_history"]["table"] = "public.no_such_table"
    sample_project.write_params(params)
    proc = sample_project.spawn("snapshot", "--no-push")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and "no_such_table" in err
    assert not (sample_project.root / "dvc.lock").exists()
    leftover = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _in_group(p, proc.pid)]
    assert leftover == []


def _in_group(proc_dir: Path, pgid: int) -> bool:
    try:
        return os.getpgid(int(proc_dir.name)) == pgid
    except (OSError, ProcessLookupError):
        return False


# --- seedctl's upload of what the remote lacks: no services (a recording client) -----------

ENCRYPTED = dataclasses.replace(SETTINGS, sse="AES256")


class Recorder:
    def __init__(self) -> None:
        self.puts: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def put_object(self, **request: Any) -> None:
        request["Body"] = request["Body"].read()
        with self._lock:
            self.puts.append(request)


def cached(tmp_path: Path, content: bytes, suffix: str = "") -> tuple[str, RemoteObject]:
    md5 = hashlib.md5(content).hexdigest()  # noqa: S324 - DVC's content address
    path = tmp_path / f"{md5}{suffix}"
    path.write_bytes(content)
    return f"seedctl/files/md5/{md5[:2]}/{md5[2:]}{suffix}", RemoteObject(f"data/{md5[:6]}", len(content), path)


def test_listings_go_up_after_every_file(tmp_path: Path) -> None:
    objects = dict(
        [cached(tmp_path, b'[{"md5": "x"}]', ".dir")]
        + [cached(tmp_path, f"part {i}".encode()) for i in range(40)]
        + [cached(tmp_path, b'[{"md5": "y"}]', ".dir")]
    )
    client = Recorder()
    _upload(client, ENCRYPTED, objects)

    keys = [put["Key"] for put in client.puts]
    assert sorted(keys) == sorted(objects)
    assert all(k.endswith(".dir") for k in keys[-2:]) and not any(k.endswith(".dir") for k in keys[:-2])
    for put in client.puts:
        assert put["Bucket"] == "seeds" and put["ServerSideEncryption"] == "AES256"
        assert put["ContentLength"] == len(put["Body"])
        assert base64.b64decode(put["ContentMD5"]).hex() == put["Key"].split("/")[-2] + put["Key"].split("/")[-1][:30]


def test_a_damaged_cache_file_is_not_uploaded_and_no_listing_follows(tmp_path: Path) -> None:
    good_key, good = cached(tmp_path, b"good bytes")
    bad_key, bad = cached(tmp_path, b"the bytes it was named for")
    bad.cache.write_bytes(b"other bytes")
    listing_key, listing = cached(tmp_path, b"[]", ".dir")
    client = Recorder()

    with pytest.raises(RemoteError) as refused:
        _upload(client, ENCRYPTED, {good_key: good, bad_key: bad, listing_key: listing})

    assert str(bad.cache) in refused.value.message and "does not match its md5" in refused.value.message
    assert "delete that cache file" in (refused.value.hint or "")
    assert [put["Key"] for put in client.puts] == [good_key]
