"""The checkout's lock: one snapshot, prune or restore at a time in a checkout, across processes.

A restore reads the files a snapshot replaces, and a prune deletes objects a snapshot may be
about to tag: each of the three holds the lock for its whole run, and the lock file names
the command and process holding it, for the one told to wait.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from seedctl.errors import LockHeld

Command = Literal["snapshot", "prune", "restore"]
_DOING = {"snapshot": "a snapshot is being written", "prune": "a prune is running", "restore": "a restore is running"}


@contextmanager
def checkout_lock(root: Path, command: Command, wait_s: float = 0) -> Iterator[None]:
    """Hold the checkout's lock for `command`: a second command waits up to wait_s, then is
    told which command and process hold it."""
    lock_dir = root / ".dvc" / "tmp"
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / "seedctl-snapshot.lock"
    with path.open("a+") as handle:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    raise _held(root, command, handle.read().strip()) from None
                time.sleep(0.5)
        handle.seek(0)
        handle.truncate()
        handle.write(f"seedctl {command}, pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _held(root: Path, command: Command, holder: str) -> LockHeld:
    """The refusal for `command`, from what the holder wrote ("seedctl snapshot, pid 4242 since
    ..."; a seedctl before this one wrote "pid 4242 since ...", and only snapshots took it)."""
    held_by = holder.removeprefix("seedctl ").split(",")[0] if holder.startswith("seedctl ") else "snapshot"
    doing = "another snapshot is running" if held_by == command == "snapshot" else _DOING.get(held_by, held_by)
    wait = " (or pass --wait SECONDS)" if command == "snapshot" else ""
    return LockHeld(
        f"{doing} in {root} ({holder or 'another process'})",
        f"wait for it to finish{wait}, then run the {command} again; nothing was "
        + ("changed" if command == "restore" else "done"),
    )
