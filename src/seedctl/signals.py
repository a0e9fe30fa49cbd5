"""SIGTERM handled like Ctrl-C: what Airflow sends on a task timeout, and systemd/cron
wrappers on shutdown, must end a run as cleanly as an interrupt does.

The handler forwards SIGTERM to every process seedctl started (dvc, its stage, psql): they
may not share seedctl's process group (a scheduler may signal seedctl alone), and a
child killed outright (SIGKILL on the way out of subprocess) leaves its own children
running. Then it raises Terminated, a KeyboardInterrupt, in the main thread: every cleanup
that already handles Ctrl-C runs (the restore's transaction rolls back, staged files are
removed), and run_guarded prints the one line.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop as on Ctrl-C."""


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
    raise Terminated


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM stops the run like Ctrl-C (main thread only; elsewhere a no-op)."""
    try:
        previous = signal.signal(signal.SIGTERM, _forward_and_stop)
    except ValueError:  # not the main thread: signals are not ours to handle
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
