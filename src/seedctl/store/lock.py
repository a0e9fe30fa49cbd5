"""The repository's lock: one snapshot (or prune) at a time in a checkout, across processes."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from seedctl.errors import LockHeld


@contextmanager
def snapshot_lock(root: Path, wait_s: float = 0) -> Iterator[None]:
    """One snapshot at a time: a second run waits up to wait_s, then says who holds the lock."""
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
                    holder = handle.read().strip() or "another process"
                    raise LockHeld(
                        f"another snapshot is running in {root} ({holder})",
                        "wait for it to finish (or pass --wait SECONDS); nothing was done",
                    ) from None
                time.sleep(0.5)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
