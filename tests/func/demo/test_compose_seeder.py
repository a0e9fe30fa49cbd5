"""The data-seeder of docker-compose.yml, run as a plain process: its command line and the
environment the compose file gives it (from .env), the service names pointed at the test
PostgreSQL and S3 server. Started while the database port is still closed, it waits, then
seeds every table from the snapshot in the remote."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from seedctl_dev.testing import BIN
from tests.helpers import fresh_clone, new_database, pushed_project, sample_contents, seeder

if TYPE_CHECKING:
    from collections.abc import Iterator

    from seedctl_dev.devserver import TempPostgres
    from tests.helpers import Project


class LateProxy:
    """A TCP port that refuses connections until open(), then forwards them to target."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._server: socket.socket | None = None

    def open(self) -> None:
        self._server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        assert self._server is not None
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        if self._server is not None:
            self._server.close()


def _proxied(target_url: str) -> Iterator[LateProxy]:
    parts = urlsplit(target_url)
    proxy = LateProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    try:
        yield proxy
    finally:
        proxy.close()


def test_compose_seeder_waits_for_the_database_then_seeds_from_the_remote(
    sample_project: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    pushed_project(sample_project, s3_env)
    clone = fresh_clone(sample_project, tmp_path / "server")
    target = new_database(pg_server)
    dbname = urlsplit(target).path.lstrip("/")
    dotenv = {
        **s3_env,
        "PGUSER": pg_server.user,
        "PGPASSWORD": pg_server.password,
        "PGDATABASE": dbname,
        "PGHOST": "localhost",
        "PGPORT": "5432",
    }
    env, command, workdir = seeder(dotenv)

    for proxy in _proxied(target):
        # What Compose's network does: the service names resolve to the servers.
        assert env.pop("PGHOST") == "timescaledb" and env.pop("PGPORT") == "5432"
        assert env.pop("MINIO_ENDPOINT") == "minio:9000"
        env.update(PGHOST="127.0.0.1", PGPORT=str(proxy.port), MINIO_ENDPOINT=s3_env["MINIO_ENDPOINT"])
        mounted = {workdir: str(clone.root), f"{workdir}/src": str(clone.root / "src")}
        env = {k: mounted.get(v, v) for k, v in env.items()}
        argv = [sys.executable if arg.startswith("/opt/seedctl/") else mounted.get(arg, arg) for arg in command]
        base = {"PATH": f"{BIN}{os.pathsep}/usr/bin:/bin", "HOME": str(tmp_path)}

        process = subprocess.Popen(
            argv,
            cwd=mounted[workdir],
            env={**base, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        try:
            time.sleep(4)  # the seeder is up and finds the port closed (it retries every 2 s)
            assert process.poll() is None, process.communicate()
            proxy.open()
            stdout, stderr = process.communicate(timeout=300)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()

    assert process.returncode == 0, stderr
    assert "seeded 4 table(s)" in stdout
    assert sample_contents(target) == sample_contents(sample_project.database_url)
