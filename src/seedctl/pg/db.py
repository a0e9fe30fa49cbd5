"""Connections: DATABASE_URL if set, else the standard libpq variables (PGHOST, PGPORT, ...).

The same rules for snapshot and restore. Every message that leaves this module has the
password removed: psycopg errors can echo parts of a connection string.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.copy import LibpqWriter

from seedctl import errors
from seedctl.errors import DatabaseError

CONNECT_TIMEOUT_S = 10
# Every seedctl session: text output of dates, timestamps, intervals and floats must not
# depend on the server's settings; and, as pg_dump does, a row-level security policy makes
# a query fail rather than silently return fewer rows (a partial snapshot, or a restore
# that verifies a subset).
SESSION_SETTINGS = (
    # Snapshots hold UTF-8 (Arrow strings): the server converts from and to its own encoding.
    # Binary COPY's text values are read in this encoding too.
    ("client_encoding", "'UTF8'"),
    ("TimeZone", "'UTC'"),
    ("DateStyle", "'ISO, YMD'"),
    ("IntervalStyle", "'postgres'"),
    ("extra_float_digits", "1"),
    ("row_security", "off"),
)


def conninfo() -> str:
    """The connection string to use: DATABASE_URL, or empty so libpq reads PG* variables."""
    return os.environ.get("DATABASE_URL", "")


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """errors.redact, also knowing the password of the connection string as libpq parses it."""
    try:
        errors.register_secret(str(conninfo_to_dict(conninfo()).get("password") or ""))
    except psycopg.Error:
        pass
    return errors.redact(text, extra)


def _target_parts() -> dict[str, str]:
    """host, port, dbname and user of the target as libpq resolves them (never the password)."""
    try:
        params = conninfo_to_dict(conninfo())
    except psycopg.Error:
        params = {}
    user = params.get("user") or os.environ.get("PGUSER") or _os_user()
    return {
        "host": str(params.get("host") or os.environ.get("PGHOST") or "localhost"),
        "port": str(params.get("port") or os.environ.get("PGPORT") or "5432"),
        "dbname": str(params.get("dbname") or os.environ.get("PGDATABASE") or user or "?"),
        "user": str(user or "?"),
    }


def _os_user() -> str:
    """libpq's default user name: the operating system's."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def describe_target() -> str:
    """host:port/dbname of the target, for messages (never the password); an IPv6 host in brackets."""
    parts = _target_parts()
    host = parts["host"]
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{parts['port']}/{parts['dbname']}"


def connect(*, autocommit: bool = False) -> psycopg.Connection:
    """Open a connection or raise DatabaseError with a one-line, password-free reason."""
    info = conninfo()
    kwargs: dict[str, Any] = {"application_name": "seedctl", "autocommit": autocommit}
    try:
        params = conninfo_to_dict(info)
    except psycopg.Error:
        raise DatabaseError(
            "DATABASE_URL is not a valid connection string",
            "use postgresql://user:password@host:port/dbname or unset it and set PGHOST etc.",
        ) from None
    if "connect_timeout" not in params and "PGCONNECT_TIMEOUT" not in os.environ:
        kwargs["connect_timeout"] = CONNECT_TIMEOUT_S
    try:
        conn = psycopg.connect(info, **kwargs)
    except psycopg.OperationalError as exc:
        # Built from the parsed parts, as libpq and pg_dump name a connection, never from the
        # connection string; libpq's reason never carries the password: composed.
        raise DatabaseError(
            f'cannot connect to {describe_target()} as user "{_target_parts()["user"]}": {_reason(exc)}',
            "check DATABASE_URL (or PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE) and that the server is up",
            composed=True,
        ) from None
    with conn.cursor() as cur:
        for name, value in SESSION_SETTINGS:
            cur.execute(f"SET {name} = {value}")  # constants above, not input
    if not autocommit:
        conn.commit()
    from seedctl.signals import cancel_on_interrupt

    cancel_on_interrupt(conn)  # Ctrl-C / SIGTERM cancel its running statement (signals.py)
    return conn


def _reason(exc: BaseException) -> str:
    """libpq's reason for a failed connection, first line: it names host and port, never the
    password; a URL or password= in it would still be masked (errors.mask_forms)."""
    text = str(exc).strip()
    return errors.mask_forms(next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__))


class _CopyInWriter(LibpqWriter):
    """psycopg's COPY ... FROM STDIN writer, except that a COPY stopped by a lost connection
    is not ended a second time. Ending it there fails too, and psycopg logs that second
    failure (`error ignored terminating <psycopg.Copy [BAD] ...>: the connection is lost`)
    on stderr, a stray line before seedctl's one line about the first. Only then: any other
    ending, failed or not, is psycopg's own."""

    def finish(self, exc: BaseException | None = None) -> None:
        if exc is not None and self.connection.broken:
            return  # exc, the error that stopped the COPY, goes on to be reported
        super().finish(exc)


@contextmanager
def copy_in(cur: psycopg.Cursor[Any], query: sql.Composed) -> Iterator[psycopg.Copy]:
    """cur.copy(query) for a COPY ... FROM STDIN: a lost connection is reported once."""
    with cur.copy(query, writer=_CopyInWriter(cur)) as copy:
        yield copy


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception message, password removed."""
    text = str(exc).strip()
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
    return redact(line)


def one(cursor: Any) -> tuple[Any, ...]:
    """The row of a query that always returns exactly one (a SELECT of expressions, count(*))."""
    row = cursor.fetchone()
    assert row is not None, "a one-row query returned no row"
    return tuple(row)


@contextmanager
def qualified_names(conn: psycopg.Connection) -> Iterator[None]:
    """Definitions read meanwhile name every object with its schema (as pg_dump reads
    them), so they mean the same on a target whatever its search_path."""
    old = one(conn.execute("SELECT current_setting('search_path')"))[0]
    conn.execute("SELECT set_config('search_path', '', false)")
    try:
        yield
    finally:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.INERROR:  # else the error stands
            conn.execute("SELECT set_config('search_path', %s, false)", (old,))


def server_version(conn: psycopg.Connection) -> tuple[str, int]:
    """(human version, server_version_num) of the connected server."""
    with conn.cursor() as cur:
        cur.execute("SELECT current_setting('server_version'), current_setting('server_version_num')::int")
        human, num = one(cur)
    return str(human).split()[0], int(num)


def server_encoding(conn: psycopg.Connection) -> str:
    """The database's encoding (UTF8, LATIN1, ...), as the server reported it at connection."""
    return conn.info.parameter_status("server_encoding") or "UTF8"


def extension_version(conn: psycopg.Connection, name: str) -> str | None:
    with conn.cursor() as cur:
        cur.execute("SELECT extversion FROM pg_extension WHERE extname = %s", (name,))
        row = cur.fetchone()
    return row[0] if row else None


def wait_for_database(timeout_s: float, interval_s: float = 2.0) -> None:
    """Retry connecting until the server accepts us (a container starting up), or give up."""
    import time

    from seedctl.errors import DatabaseError

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            connect().close()
            return
        except DatabaseError as exc:
            # Waiting does not fix a wrong password or a wrong database name.
            permanent = any(m in exc.message for m in ("authentication failed", "does not exist", "not valid"))
            if permanent or time.monotonic() >= deadline:
                raise DatabaseError(
                    f"database not ready after {timeout_s:.0f} s: {exc.message}", exc.hint, composed=exc.composed
                ) from None
            time.sleep(interval_s)
