"""The bucket catalog (write side), through the real CLI against a real S3 API server:
every push writes <prefix>/<version>/{params.yaml,checksums.sha256,files.json,manifest.json},
index.json and latest/manifest.json, pointing at the objects DVC pushed (no byte copied),
in an order that a kill at any point, or a concurrent push, cannot break."""

from __future__ import annotations

import hashlib
import http.client
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg

from seedctl.parts import snapshot_parts
from seedctl_dev import sample
from seedctl_dev.devs3 import S3Server
from tests.helpers import Project

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


# --- a proxy that can hold or fail chosen requests ------------------------------------------------


class Gate:
    """A loopback HTTP proxy to the S3 server. The first request for which `match(method,
    path)` is true sets `arrived` and then waits for `release` (or, with `fail`, is answered
    HTTP 500); every other request passes unchanged (Host header included: signatures hold)."""

    def __init__(self, upstream: str, match: Callable[[str, str], bool], *, fail: bool = False) -> None:
        self.arrived, self.release = threading.Event(), threading.Event()
        gate = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not gate.arrived.is_set() and match(self.command, self.path.split("?")[0]):
                    gate.arrived.set()
                    if fail:
                        payload = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
                        self.send_response(500)
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                    gate.release.wait(120)
                conn = http.client.HTTPConnection(upstream, timeout=60)
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in self.headers.items():
                    conn.putheader(k, v)
                conn.endheaders(body or None)
                response = conn.getresponse()
                data = response.read()
                self.send_response(response.status, response.reason)
                for k, v in response.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def gate(upstream: str, match: Callable[[str, str], bool], *, fail: bool = False) -> Iterator[Gate]:
    g = Gate(upstream, match, fail=fail)
    try:
        yield g
    finally:
        g.close()


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
