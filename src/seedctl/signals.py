"""Processes and signals. SIGTERM handled like Ctrl-C: what Airflow sends on a task timeout, and systemd/cron
wrappers on shutdown, must end a run as cleanly as an interrupt does.

The handler forwards SIGTERM to every process seedctl started (dvc, its stage, psql): they
may not share seedctl's process group (a scheduler may signal seedctl alone), and a
child killed outright (SIGKILL on the way out of subprocess) leaves its own children
running. It cancels the running statement of every connection db.connect opened (a COPY
blocked on the server would not notice otherwise), then raises Terminated, a
KeyboardInterrupt, in the main thread: every cleanup
that already handles Ctrl-C runs (the restore's transaction rolls back, staged files are
removed), and run_guarded prints the one line.
"""

from __future__ import annotations

import os
import signal
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

# Open database connections whose running statement an interrupt cancels (db.connect adds
# them): a COPY blocked on the server (a lock, a full socket) cannot otherwise notice it,
# and the rollback would wait for the server.
_CONNECTIONS: weakref.WeakSet[Any] = weakref.WeakSet()


def cancel_on_interrupt(conn: Any) -> None:
    """Ctrl-C or SIGTERM (within sigterm_as_interrupt) cancels conn's running statement."""
    _CONNECTIONS.add(conn)


def _cancel_statements() -> None:
    for conn in list(_CONNECTIONS):
        try:
            if not conn.closed:
                conn.cancel_safe(timeout=5)
        except Exception:  # noqa: BLE001, S110 - best effort: the rollback follows either way
            pass


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop as on Ctrl-C."""


class InterruptedAfterCommit(KeyboardInterrupt):
    """Ctrl-C or SIGTERM once something was already done for good (a restore had committed
    when the post-restore hook was stopped): run_guarded's one line says what was done, not
    "no database was changed"."""

    def __init__(self, interrupt: KeyboardInterrupt, done: str, hint: str) -> None:
        super().__init__(done)
        self.terminated = isinstance(interrupt, Terminated)
        self.done = done
        self.hint = hint


def descendants(pid: int) -> list[int]:
    """Every living process below pid, children before grandchildren (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name may hold spaces or parentheses: fields after the last ')'.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, queue = [], list(children.get(pid, []))
    while queue:
        child = queue.pop(0)
        found.append(child)
        queue.extend(children.get(child, []))
    return found


def _forward_and_stop(signum: int, frame: FrameType | None) -> None:
    # Once is enough: a second SIGTERM must not interrupt the cleanup the first one started.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for pid in descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    _cancel_statements()
    raise Terminated


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # Ctrl-C: the terminal signals the whole process group already; only the statements.
    _cancel_statements()
    raise KeyboardInterrupt


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM stops the run like Ctrl-C (main thread only; elsewhere a no-op)."""
    try:
        previous = signal.signal(signal.SIGTERM, _forward_and_stop)
    except ValueError:  # not the main thread: signals are not ours to handle
        yield
        return
    # SIGINT only where Python's own handler is in place (not ignored, e.g. by nohup).
    previous_int = signal.getsignal(signal.SIGINT)
    if previous_int is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if previous_int is signal.default_int_handler:
            signal.signal(signal.SIGINT, previous_int)


def pid_alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; it is not serving anything.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
