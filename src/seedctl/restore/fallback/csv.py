"""The csv.gz reader: gzip'd CSV with a header row, as ``COPY ... TO ... (FORMAT csv, HEADER)``
writes it; records are passed to COPY (FORMAT csv) as they are, after every one was checked."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from seedctl.pg.catalog import TableSchema
from seedctl.restore.fallback.scan import FallbackUnusable, check_columns, numbered_lines


class CsvScan:
    """One pass over a csv.gz: header -> columns; data records (raw bytes) -> rows()."""

    def __init__(self, path: Path, where: str, table: TableSchema) -> None:
        self.path, self.where, self.table = path, where, table
        self.columns: list[str] | None = None
        self.count = 0

    def _records(self) -> Iterator[tuple[int, bytes]]:
        """Raw CSV records (with their line terminator), split on newlines outside quotes.

        A newline is inside a quoted field exactly when the record so far holds an odd
        number of quote characters (an escaped quote is a pair) -- the same rule
        PostgreSQL's CSV line reader applies.
        """
        parts: list[bytes] = []
        quotes = 0
        start = 0
        for lineno, line in numbered_lines(self.path):
            if not parts:
                start = lineno
            parts.append(line)
            quotes += line.count(b'"')
            if quotes % 2 == 0 and line.endswith(b"\n"):
                yield start, b"".join(parts)
                parts, quotes = [], 0
        if parts:
            record = b"".join(parts)
            if quotes % 2:
                raise FallbackUnusable(f"{self.where} line {start}: quoted field not closed at end of file")
            yield start, record  # last record without a final newline

    def rows(self) -> Iterator[bytes]:
        ncols = 0
        for lineno, record in self._records():
            try:
                text = record.decode("utf-8")
            except UnicodeDecodeError:
                raise FallbackUnusable(f"{self.where} line {lineno}: not valid UTF-8") from None
            if self.columns is None:
                header = self._fields(lineno, text.removeprefix("\ufeff"))
                if any(not h for h in header):
                    raise FallbackUnusable(f"{self.where} line {lineno}: empty column name in header")
                check_columns(self.where, header, self.table)
                self.columns, ncols = header, len(header)
                continue
            body = text.rstrip("\r\n")
            if body == "\\.":
                raise FallbackUnusable(f"{self.where} line {lineno}: unquoted \\. data line (end-of-data marker)")
            if body == "":
                n = 1
            elif '"' not in body and "\r" not in body:  # unquoted: count the commas
                n = body.count(",") + 1
            else:
                n = len(self._fields(lineno, text))
            if n != ncols:
                raise FallbackUnusable(f"{self.where} line {lineno}: {n} fields, expected {ncols}")
            self.count += 1
            if not record.endswith(b"\n"):
                record += b"\n"
            yield record
        if self.columns is None:
            raise FallbackUnusable(f"{self.where}: empty file, no header row")

    def _fields(self, lineno: int, text: str) -> list[str]:
        try:
            fields = next(csv.reader([text], strict=True), [])
        except csv.Error as exc:
            raise FallbackUnusable(f"{self.where} line {lineno}: malformed CSV ({exc})") from None
        return fields
