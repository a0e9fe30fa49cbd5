"""A rows / rows-per-second progress bar on a terminal; silent in CI, cron and pipes."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class RowCounter(Protocol):
    def advance(self, rows: int) -> None: ...


class _Silent:
    def advance(self, rows: int) -> None:
        pass


class _Bar:
    """Rows done, and rows/s over the whole run so far (rich's speed column is for bytes)."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress, self._task = progress, task
        self._started = time.monotonic()
        self._rows = 0

    def advance(self, rows: int) -> None:
        self._rows += rows
        elapsed = max(time.monotonic() - self._started, 1e-3)
        self._progress.update(self._task, advance=rows, rate=f"{self._rows / elapsed:,.0f} rows/s")


def interactive() -> bool:
    """A human is watching: stderr is a terminal and we are not in CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextmanager
def row_progress(label: str, estimated_rows: int | None) -> Iterator[RowCounter]:
    # One live display at a time (rich): the main thread's; a parallel restore's workers are silent.
    if not interactive() or threading.current_thread() is not threading.main_thread():
        yield _Silent()
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=estimated_rows or None, rate="")
        yield _Bar(progress, task)
