"""The S3 remote misbehaving: stopped in the middle of `dvc push`, answering errors or not
answering reads. Nothing is committed or tagged without its data on the remote, a restore
uses only bytes that match the manifest (or the fallback chain) and leaves the database
untouched when it cannot, and the next run recovers."""

from __future__ import annotations

import json
import re
import shlex
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from seedctl_dev.devs3 import S3Server
from seedctl_dev.devserver import TempPostgres
from seedctl_dev.testing import table_to_csv_gz
from tests.helpers import Project, add_trade, contents, forward, kill_group, new_database, state

# --- a byte-level TCP proxy that can pull the plug ------------------------------------------


class PlugProxy:
    """Forwards loopback TCP to `upstream`; the first time a client sends `trigger` (e.g. the
    start of an S3 PUT), `on_trigger` runs (the test stops the S3 server) before the bytes go on."""

    def __init__(self, upstream_port: int, trigger: bytes, on_trigger: Callable[[], None]) -> None:
        self.upstream_port = upstream_port
        self.trigger = trigger
        self.on_trigger = on_trigger
        self.fired = threading.Event()
        self._lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, outbound: bool) -> None:
        try:
            while data := src.recv(65536):
                if outbound and self.trigger in data:
                    with self._lock:
                        if not self.fired.is_set():
                            self.on_trigger()
                            self.fired.set()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self.sock.close()


# --- an HTTP proxy that fails object reads --------------------------------------------------


def faulty_s3(upstream: str, mode: str) -> ThreadingHTTPServer:
    """An HTTP server on loopback passing every request to the S3 server `upstream` (host:port)
    unchanged (Host header included, so signatures stay valid), except object reads (GET of
    DVC's content-addressed files), which get HTTP 500 / 503, or no answer at all (mode hang)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.command == "GET" and "/files/md5/" in self.path:
                if mode == "hang":
                    time.sleep(3600)
                    return
                status = int(mode)
                payload = (
                    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>"
                    + (b"SlowDown" if status == 503 else b"InternalError")
                    + b"</Code><Message>injected by the test</Message></Error>"
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            forward(self, upstream, body, timeout=30)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def own_s3(tmp_path: Path) -> Iterator[S3Server]:
    """An S3 server of this test's own: stopping and restarting it disturbs no other test."""
    log_dir = tmp_path / "s3"
    log_dir.mkdir()
    server = S3Server(log_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def env_for(server: S3Server, bucket: str, endpoint: str | None = None) -> dict[str, str]:
    return {
        "MINIO_ENDPOINT": endpoint or server.endpoint,
        "MINIO_ACCESS_KEY": server.access_key,
        "MINIO_SECRET_KEY": server.secret_key,
        "MINIO_BUCKET": bucket,
        "MINIO_USE_SSL": "false",
    }


# --- tests -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_s3_server_stopped_mid_push_then_next_push_completes(
    snapshotted: Project, own_s3: S3Server, pg_server: TempPostgres, tmp_path: Path
) -> None:
    """The S3 server is stopped as the first object upload starts, and started again. The
    snapshot fails with exit 7 and is neither committed nor tagged. moto keeps nothing across
    a restart (a new key pair, no buckets: the test recreates the bucket and passes the new
    MINIO_* to the next run), like a MinIO whose disk was replaced: the next `seedctl snapshot`
    uploads everything again, and a fresh clone restores it bit-exact."""
    bucket = f"seedctl-{uuid.uuid4().hex[:12]}"
    own_s3.create_bucket(bucket)
    add_trade(snapshotted)
    head = snapshotted.git("rev-parse", "HEAD")
    old_env = env_for(own_s3, bucket)
    restarted = threading.Event()

    def stop_and_restart() -> None:
        own_s3.stop()

        def start() -> None:  # same port, empty, a new key pair
            own_s3.start()
            own_s3.create_bucket(bucket)
            restarted.set()

        threading.Thread(target=start, daemon=True).start()

    proxy = PlugProxy(own_s3.port, b"PUT ", stop_and_restart)
    try:
        failed = snapshotted.seedctl("snapshot", env={**old_env, "MINIO_ENDPOINT": proxy.endpoint}, timeout=240)
        assert proxy.fired.is_set(), "the push never started an upload"
    finally:
        proxy.close()
    assert failed.returncode == 7, (failed.stdout, failed.stderr)
    assert "Traceback" not in failed.stderr
    assert snapshotted.git("rev-parse", "HEAD") == head and "seeds/v" not in snapshotted.git("tag")

    assert restarted.wait(60)
    env = env_for(own_s3, bucket)
    assert env["MINIO_SECRET_KEY"] != old_env["MINIO_SECRET_KEY"]
    again = snapshotted.seedctl("snapshot", env=env)
    assert again.returncode == 0, again.stderr
    assert "pushed" in again.stdout
    assert snapshotted.git("rev-parse", "HEAD") != head and "seeds/v" in snapshotted.git("tag")

    target = new_database(pg_server)
    clone = snapshotted.clone(tmp_path / "new-server", target)
    restored = clone.seedctl("restore", env=env)
    assert restored.returncode == 0, restored.stderr
    assert clone.seedctl("verify").returncode == 0  # every pulled file matches the manifest's sha256
    assert clone.files() == snapshotted.files()  # every data file (and record), byte for byte
    assert contents(target) == contents(snapshotted.database_url)


def test_killed_between_validation_and_push_status_says_not_pushed(
    snapshotted: Project, s3_server: S3Server, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    """`seedctl snapshot` SIGKILLed once the pipeline has validated a new snapshot and the push
    has sent its first request, which a proxy holds (nothing reaches the remote). LATEST_VERSION
    names the new snapshot, neither pushed nor tagged: `seedctl status` says so and prints the
    commands that publish it; run exactly as printed, they do (a fresh clone restores it)."""
    add_trade(snapshotted)
    head = snapshotted.git("rev-parse", "HEAD")
    committed = json.loads(snapshotted.git("show", "HEAD:seeds/manifest.json"))["version"]
    arrived, release = threading.Event(), threading.Event()

    def hold() -> None:  # the first request after the bucket check (a HEAD): never forwarded
        arrived.set()
        release.wait(120)

    proxy = PlugProxy(s3_server.port, b"GET ", hold)
    try:
        proc = snapshotted.spawn("snapshot", env={**s3_env, "MINIO_ENDPOINT": proxy.endpoint})
        try:
            assert arrived.wait(120), "the push never started"
            assert proc.poll() is None, "the snapshot ended before it could be killed"
        finally:
            kill_group(proc)
    finally:
        release.set()
        proxy.close()

    version = json.loads((snapshotted.seeds / "manifest.json").read_text())["version"]
    assert version != committed
    assert (snapshotted.seeds / "LATEST_VERSION").read_text().strip() == version  # validated
    assert snapshotted.git("rev-parse", "HEAD") == head and "seeds/v" not in snapshotted.git("tag")
    assert s3_server.keys(s3_env["MINIO_BUCKET"]) == []

    def publication_line() -> tuple[str, list[str]]:
        status = snapshotted.seedctl("status", env=s3_env)
        assert status.returncode == 0, status.stderr
        line = next((ln for ln in status.stdout.splitlines() if ln.startswith(f"snapshot {version} ")), "")
        return line, re.findall(r"`(seedctl [^`]+)`", line)

    line, commands = publication_line()
    assert f"snapshot {version} (LATEST_VERSION) is not pushed" in line and "not tagged" in line, line
    assert commands == ["seedctl push", "seedctl tag"], line
    pushed = snapshotted.run(*shlex.split(commands[0]), env=s3_env)
    assert pushed.returncode == 0, pushed.stderr

    line, commands = publication_line()
    assert f"(LATEST_VERSION) is in s3://{s3_env['MINIO_BUCKET']}/" in line, line
    assert "not tagged" in line and commands == ["seedctl tag"], line
    tagged = snapshotted.run(*shlex.split(commands[0]), env=s3_env)
    assert tagged.returncode == 0, tagged.stderr

    line, commands = publication_line()
    tag = snapshotted.git("describe", "--tags", "--exact-match", "HEAD").strip()
    assert line.startswith(f"snapshot {version} is version {tag} "), line
    assert tag.startswith("seeds/v") and commands == []
    target = new_database(pg_server)
    clone = snapshotted.clone(tmp_path / "new-server", target)
    restored = clone.seedctl("restore", env=s3_env)
    assert restored.returncode == 0, restored.stderr
    assert contents(target) == contents(snapshotted.database_url)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["503", "500"])
def test_s3_read_errors_refuse_cleanly_then_fallback_then_recover(
    pushed: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path, mode: str
) -> None:
    """Object GETs answer HTTP 500/503 (listing and HEAD still work): a required table cannot be
    had, so the restore refuses before touching the database; with fallback files it restores
    from them; once the server answers again the next restore is exact."""
    proxy = faulty_s3(s3_env["MINIO_ENDPOINT"], mode)
    try:
        target = new_database(pg_server)
        clone = pushed.clone(tmp_path / "new-server", target)
        bad_env = {**s3_env, "MINIO_ENDPOINT": f"127.0.0.1:{proxy.server_address[1]}"}

        refused = clone.seedctl("restore", env=bad_env, timeout=240)
        assert refused.returncode == 6, (refused.stdout, refused.stderr)
        lines = refused.stderr.strip().splitlines()
        assert lines[-1].startswith("seedctl: error: ") and "not touched" in lines[-1], refused.stderr
        assert "Traceback" not in refused.stderr
        assert state(target)["contents"] == {}

        if mode == "503":
            write_fallbacks(pushed.database_url, clone)
            rescued = clone.seedctl("restore", env=bad_env, timeout=240)
            assert rescued.returncode == 0, rescued.stderr
            assert "fallback" in rescued.stdout
            assert contents(target) == contents(pushed.database_url)
            return
    finally:
        proxy.shutdown()
        proxy.server_close()

    healed = clone.seedctl("restore", env=s3_env)
    assert healed.returncode == 0, healed.stderr
    assert contents(target) == contents(pushed.database_url)


def write_fallbacks(url: str, clone: Project) -> None:
    """csv.gz backups of every table, where params.yaml's fallback globs look (trades_history
    has none configured: it is not required and may end empty, so it gets one added)."""

    params = clone.params()
    params["sources"]["trades_history"]["fallback"] = ["backups/trades_history*.csv.gz"]
    clone.write_params(params)
    for table in ("usdcop_m5_ohlcv", "macro_indicators_daily", "trades_history"):
        table_to_csv_gz(url, table, clone.root / "backups" / f"{table}_latest.csv.gz")


@pytest.mark.slow
def test_s3_read_that_never_answers_is_bounded(
    pushed: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    """An object GET that never gets an answer: within a bounded time (here 90 s) the restore
    gives up on the remote and refuses (no fallback configured), database untouched."""
    # Measured: ~15 s on a loaded 2-core machine (DVC's S3 client gives up on its own).
    proxy = faulty_s3(s3_env["MINIO_ENDPOINT"], "hang")
    try:
        target = new_database(pg_server)
        clone = pushed.clone(tmp_path / "new-server", target)
        bad_env = {**s3_env, "MINIO_ENDPOINT": f"127.0.0.1:{proxy.server_address[1]}"}
        import subprocess

        started = time.monotonic()
        try:
            refused = clone.seedctl("restore", env=bad_env, timeout=90)
        except subprocess.TimeoutExpired:
            pytest.fail(f"seedctl restore still waiting on the remote after {time.monotonic() - started:.0f} s")
        assert refused.returncode == 6, refused.stderr
        assert state(target)["contents"] == {}
    finally:
        proxy.shutdown()
        proxy.server_close()
