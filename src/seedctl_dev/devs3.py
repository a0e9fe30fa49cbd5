"""A throwaway S3 API server for tests and `make demo`: the real `moto_server` over HTTP.

MinIO's server is packaged neither on PyPI nor in Debian; moto_server speaks the same S3
API on loopback, and seedctl talks to it with exactly the settings a MinIO user would use.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request as urlrequest
import uuid
from pathlib import Path

from seedctl.errors import DevServerError


class S3Server:
    """`moto_server` as a subprocess on 127.0.0.1, with authentication switched on.

    Like MinIO, it checks every request's signature: at start an IAM user with full access
    is created and its key pair (`access_key`, `secret_key`) is the only one accepted
    afterwards. moto keeps everything in memory, so a restart (`stop()` + `start()`) loses
    buckets, objects and the key pair: `start()` makes a new pair.
    """

    def __init__(self, log_dir: Path, port: int | None = None) -> None:
        self.log_dir = log_dir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.access_key = ""
        self.secret_key = ""

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def new_bucket(self, prefix: str = "seedctl") -> dict[str, str]:
        """A new, empty bucket on this server, and the MINIO_* settings a client uses for it."""
        bucket = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.create_bucket(bucket)
        return {
            "MINIO_ENDPOINT": self.endpoint,
            "MINIO_ACCESS_KEY": self.access_key,
            "MINIO_SECRET_KEY": self.secret_key,
            "MINIO_BUCKET": bucket,
            "MINIO_USE_SSL": "false",
        }

    def start(self, timeout: float = 30) -> None:
        binary = Path(sys.executable).parent / "moto_server"
        log = (self.log_dir / "moto_server.log").open("ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
        self.proc = subprocess.Popen(
            [str(binary), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise DevServerError(f"moto_server exited {self.proc.returncode}; see {self.log_dir}")
            try:
                with urlrequest.urlopen(f"{self.url}/moto-api/", timeout=1):  # noqa: S310 - http://127.0.0.1, ours
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise DevServerError(f"moto_server did not answer on {self.url}") from None
                time.sleep(0.1)
        self._enable_auth()

    def _enable_auth(self) -> None:
        iam = self.client("iam", "testing", "testing")
        iam.create_user(UserName="seedctl")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="seedctl", PolicyName="all", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="seedctl")["AccessKey"]
        self.access_key, self.secret_key = key["AccessKeyId"], key["SecretAccessKey"]
        request = urlrequest.Request(  # noqa: S310 - http://127.0.0.1, ours
            f"{self.url}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
        )
        with urlrequest.urlopen(request, timeout=5):  # noqa: S310 - http://127.0.0.1, ours
            pass

    def __enter__(self) -> S3Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self.proc = None

    def client(self, service: str = "s3", access_key: str | None = None, secret_key: str | None = None):
        import botocore.session
        from botocore.config import Config

        return botocore.session.Session().create_client(
            service,
            region_name="us-east-1",
            endpoint_url=self.url,
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
