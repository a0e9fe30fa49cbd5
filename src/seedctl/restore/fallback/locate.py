"""Finding a table's fallback file: the first entry of `sources.<name>.fallback` that resolves
(a path, or a glob: the newest match) and validates completely; FallbackFile re-reads it for COPY."""

from __future__ import annotations

import glob
import gzip
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from seedctl.config import Source
from seedctl.errors import IntegrityError
from seedctl.pg.catalog import TableSchema
from seedctl.restore.fallback.csv import CsvScan
from seedctl.restore.fallback.scan import FallbackUnusable
from seedctl.restore.fallback.sqldump import SqlScan

# Bytes handed to COPY per chunk.
CHUNK_BYTES = 1 << 20

Kind = Literal["csv.gz", "sql.gz"]


@dataclass
class FallbackFile:
    path: Path
    kind: Kind
    columns: list[str]  # column names in the file's order
    rows: int
    copy_format: Literal["csv", "text"]  # FORMAT for COPY when feeding chunks()
    table: TableSchema | None = field(default=None, repr=False, compare=False)
    display: str = field(default="", repr=False, compare=False)

    def chunks(self) -> Iterator[bytes]:
        """The data rows (no header) in `copy_format`, re-read from the file.

        The file is parsed again exactly as it was validated; if it changed in between
        (different row count, now invalid) this raises IntegrityError, so the caller's
        load transaction rolls back.
        """
        where = self.display or str(self.path)
        if self.table is None:
            raise IntegrityError(f"{where}: fallback file was not validated", "use find_fallback()")
        try:
            scan: CsvScan | SqlScan
            if self.kind == "csv.gz":
                scan = CsvScan(self.path, where, self.table)
            else:
                scan = SqlScan(self.path, where, self.table)
            yield from _batched(scan.rows())
        except FallbackUnusable as exc:
            raise IntegrityError(
                f"{exc}", "the backup file changed after it was checked; run the restore again"
            ) from None
        except (OSError, EOFError, zlib.error) as exc:
            raise IntegrityError(f"{where}: cannot read ({_gzip_reason(exc)})", "check the backup file") from None
        if scan.columns != self.columns or scan.count != self.rows:
            raise IntegrityError(
                f"{where}: changed after it was checked ({scan.count} rows, expected {self.rows})",
                "run the restore again",
            )


@dataclass
class FallbackChoice:
    file: FallbackFile | None
    tried: list[str]  # one line per entry tried and why it was rejected


def find_fallback(source_name: str, source: Source, table: TableSchema, project_root: Path) -> FallbackChoice:
    """The first usable entry of `source.fallback`, every earlier entry's rejection reason."""
    project_root = Path(project_root)
    tried: list[str] = []
    for entry in source.fallback:
        if ".." in Path(entry).parts:
            tried.append(f"{entry}: refused, path leaves its directory ('..')")
            continue
        path, problem = _resolve(entry, project_root)
        if path is None:
            tried.append(f"{entry}: {problem}")
            continue
        where = _display(path, project_root)
        try:
            file = _validate(path, where, source, table)
        except FallbackUnusable as exc:
            tried.append(str(exc))
            continue
        return FallbackChoice(file=file, tried=tried)
    if not source.fallback:
        tried.append(f"sources.{source_name}.fallback: no fallback entries configured")
    return FallbackChoice(file=None, tried=tried)


_GLOB_CHARS = re.compile(r"[*?\[]")


def _resolve(entry: str, root: Path) -> tuple[Path | None, str]:
    given = Path(entry)
    if _GLOB_CHARS.search(entry):
        pattern = entry if given.is_absolute() else str(Path(glob.escape(str(root))) / entry)
        best: tuple[float, str, Path] | None = None
        for match in glob.glob(pattern):
            p = Path(match)
            try:
                if not p.is_file():
                    continue
                key = (p.stat().st_mtime, p.name, p)
            except OSError:
                continue
            if best is None or key[:2] > best[:2]:
                best = key
        if best is None:
            return None, "no match for pattern"
        return best[2], ""
    path = given if given.is_absolute() else root / given
    if not path.exists():
        return None, "file not found"
    if not path.is_file():
        return None, "not a regular file"
    return path, ""


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _gzip_reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "gzip stream truncated: the file ends before the end-of-stream marker"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (gzip.BadGzipFile, zlib.error)):
        return f"not a valid gzip stream: {text}"
    return text


def _validate(path: Path, where: str, source: Source, table: TableSchema) -> FallbackFile:
    name = path.name
    kind: Kind
    if name.endswith(".csv.gz"):
        kind = "csv.gz"
        scan: CsvScan | SqlScan = CsvScan(path, where, table)
    elif name.endswith(".sql.gz"):
        kind = "sql.gz"
        scan = SqlScan(path, where, table)
    else:
        raise FallbackUnusable(f"{where}: unsupported file type (expected *.csv.gz or *.sql.gz)")
    try:
        for _ in scan.rows():
            pass
    except (OSError, EOFError, zlib.error) as exc:
        raise FallbackUnusable(f"{where}: {_gzip_reason(exc)}") from None
    if scan.columns is None:
        raise FallbackUnusable(f"{where}: no data for {table.qualified} in the file")
    if scan.count < source.min_rows:
        raise FallbackUnusable(f"{where}: {scan.count} rows, fewer than min_rows {source.min_rows}")
    return FallbackFile(
        path=path,
        kind=kind,
        columns=list(scan.columns),
        rows=scan.count,
        copy_format="csv" if kind == "csv.gz" else "text",
        table=table,
        display=where,
    )


def _batched(rows: Iterable[bytes]) -> Iterator[bytes]:
    buf: list[bytes] = []
    size = 0
    for row in rows:
        buf.append(row)
        size += len(row)
        if size >= CHUNK_BYTES:
            yield b"".join(buf)
            buf, size = [], 0
    if buf:
        yield b"".join(buf)
