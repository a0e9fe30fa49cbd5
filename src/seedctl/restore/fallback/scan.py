"""What both fallback readers share: the rejection, the gzip line stream, the column rule."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

from seedctl.pg.catalog import TableSchema


class FallbackUnusable(Exception):
    """A candidate file cannot be used; the message is the reason (one line)."""


def check_columns(where: str, columns: list[str], table: TableSchema) -> None:
    """File columns must be table columns, once each, covering every NOT NULL column."""
    # Columns are named by position: a rejected file's text is never repeated.
    seen: set[str] = set()
    dupes = []
    for i, c in enumerate(columns, 1):
        if c in seen:
            dupes.append(str(i))
        seen.add(c)
    if dupes:
        raise FallbackUnusable(f"{where}: column(s) {', '.join(dupes)} of the header repeat an earlier column")
    known = {c.name for c in table.columns}
    unknown = [str(i) for i, c in enumerate(columns, 1) if c not in known]
    if unknown:
        raise FallbackUnusable(
            f"{where}: column(s) {', '.join(unknown)} of the header are not columns of {table.qualified}"
        )
    missing = [c.name for c in table.columns if c.not_null and c.name not in seen]
    if missing:
        raise FallbackUnusable(f"{where}: missing NOT NULL column(s) {', '.join(missing)} of {table.qualified}")


def numbered_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with gzip.open(path, "rb") as f:
        yield from enumerate(f, start=1)
