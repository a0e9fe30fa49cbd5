"""Reusing the previous snapshot's file for a period whose rows are proven unchanged.

A partitioned table's files are one per month or year (partition.py). Inside the export's
snapshot transaction, before any row is copied out, PostgreSQL sums per period of the time
column two 64-bit hashes of every row (pg/checksum.py `period_sums`): the content checksum's
(its per-period sums add up to the checksum the manifest records), and the period's
fingerprint, the same hash with what the typed hashes of bigint and timestamps fold away
mixed in (see there: 1 and 4294967296 hash alike in the content checksum, not in the
fingerprint). Each period's file records its fingerprint in schema.json. A period is
unchanged when its row count and fingerprint equal the previous snapshot's: an UPDATE
changes a row's hash, a DELETE and a backfilled INSERT change the count and the sum; two
different sets of rows give the same count and fingerprint only by a chance collision of the
summed 64-bit hashes. The period's file is then copied from the previous snapshot instead of
being exported, and it is the file an export would write: the same rows, in key order,
through the same writer.

When in doubt, export. A period's file is reused only when all of this holds, else it is
exported (and the whole table when the table's part of it fails):
- the previous snapshot in seeds/ is whole: its manifest names its schema.json by sha256,
  and was made by this seedctl and pyarrow, in this snapshot format, with these writer
  settings (compression, level, rows per row group);
- the table's captured schema (its objects aside), time column, partitioning and checksum algorithm are
  unchanged, it needed no text fallback, and the same row checks (key duplicates, OHLCV
  rules) found nothing (a reused file adds none);
- the file's schema (column types and encodings) is the one the export would write, and its
  bytes match the previous manifest's sha256 as it is copied;
- the export itself needs no new fallback for the other periods (a fallback changes every
  file of the table: the table is exported again, whole).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from seedctl import __version__
from seedctl.config import Backup, Source
from seedctl.hashing import hash_file, sha256_file
from seedctl.layout import MANIFEST_FILE, SCHEMA_FILE, SNAPSHOT_FORMAT
from seedctl.parts import table_parts
from seedctl.pg.catalog import TableSchema
from seedctl.pg.checksum import PeriodSums


def writer_settings(backup: Backup) -> dict[str, Any]:
    """The settings besides the rows that decide a data file's bytes (recorded in schema.json)."""
    return {
        "compression": backup.compression,
        "compression_level": backup.compression_level,
        "batch_rows": backup.batch_rows,
    }


@dataclass(frozen=True)
class Previous:
    """The snapshot checked out in seeds/ before this export, when its files may be reused."""

    seeds_dir: Path
    tables: dict[str, Any]  # schema.json's tables
    sha256: dict[str, str]  # data file -> sha256, from its manifest

    def candidates(self, name: str, table: TableSchema, source: Source, algorithm: str) -> list[dict[str, Any]] | None:
        """The previous parts of this table that may be reused, or None when none may."""
        entry = self.tables.get(name)
        if source.partition == "none" or not source.time_column or not isinstance(entry, dict):
            return None
        checks = entry.get("checks") or {}
        # The checks this export makes (facts.RowChecks): a reused file must have passed them all.
        expected = {"pk_duplicates"} if table.primary_key else set()
        expected |= {"ohlcv_violations", "ohlcv_first"} if source.ohlcv else set()
        if (
            entry.get("partition") != source.partition
            or entry.get("time_column") != source.time_column
            or _rows_schema(entry.get("schema")) != _rows_schema(table.to_dict())
            or entry.get("checksum_algorithm") != algorithm
            or entry.get("text_columns")
            or set(checks) != expected
            or checks.get("pk_duplicates")
            or checks.get("ohlcv_violations")
        ):
            return None
        parts = [p for p in entry.get("parts", []) if p.get("fingerprint") and p.get("file") in self.sha256]
        return parts or None


def _rows_schema(schema: Any) -> Any:
    """A captured schema without the table's objects (triggers, grants, views: pg/objects.py),
    which describe no row and no byte of its files: a new grant exports nothing again."""
    return {k: v for k, v in schema.items() if k != "objects"} if isinstance(schema, dict) else schema


def load_previous(seeds_dir: Path, backup: Backup) -> Previous | None:
    """The snapshot in seeds_dir, if its files may be reused (see the module's conditions)."""
    try:
        schema_bytes = (seeds_dir / SCHEMA_FILE).read_bytes()
        schema = json.loads(schema_bytes)
        manifest = json.loads((seeds_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    compatibility = manifest.get("compatibility") or {}
    if (
        manifest.get("schema_sha256") != hashlib.sha256(schema_bytes).hexdigest()
        or compatibility.get("seedctl_version") != __version__
        or compatibility.get("pyarrow_version") != pa.__version__
        or schema.get("snapshot_format") != SNAPSHOT_FORMAT
        or schema.get("writer") != writer_settings(backup)
    ):
        return None
    try:
        sha256 = {p["file"]: p["sha256"] for t in manifest["tables"].values() for p in table_parts(t)}
    except (KeyError, TypeError, AttributeError):
        return None
    return Previous(seeds_dir, schema.get("tables") or {}, sha256)


def unchanged(candidates: list[dict[str, Any]], sums: dict[str, PeriodSums]) -> list[dict[str, Any]]:
    """The candidate parts whose period has the same rows and fingerprint now."""
    return [
        p
        for p in candidates
        if (now := sums.get(p["period"])) is not None
        and now.rows == p.get("rows")
        and now.fingerprint == p["fingerprint"]
    ]


def copy_verified(previous: Previous, parts: list[dict[str, Any]], staging: Path, schema: pa.Schema) -> list[str]:
    """Put the parts' files into the staging snapshot, each checked against the previous
    manifest's sha256; the periods put there. A file that does not match, or whose column
    schema is not `schema` (what the export writes), is left to the export.

    A file only the previous snapshot's tree holds (one link, not a link into DVC's cache)
    is hard-linked, not copied: no byte is written, and it keeps its inode and times, so DVC
    finds its md5 in its own state instead of reading the file again. The old tree is
    removed when the new one is published (publish.py), and nothing writes into either."""
    copied = []
    for part in parts:
        source, target = previous.seeds_dir / part["file"], staging / part["file"]
        try:
            if not _same_columns(pq.read_schema(source), schema):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if _linked_or_copied(source, target) == previous.sha256[part["file"]]:
                copied.append(part["period"])
                continue
        except (OSError, pa.ArrowException):
            pass
        target.unlink(missing_ok=True)
    return copied


def _same_columns(found: pa.Schema, expected: pa.Schema) -> bool:
    def columns(schema: pa.Schema) -> list[tuple[str, str, Any]]:
        return [(f.name, str(f.type), f.metadata) for f in schema]

    return columns(found) == columns(expected)


def _linked_or_copied(source: Path, target: Path) -> str:
    """target as a hard link to source where it can be, else a copy; the sha256 of its bytes."""
    st = source.lstat()
    if stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
        try:
            os.link(source, target)
            return sha256_file(target)
        except OSError:  # another file system, or links not allowed: copy
            target.unlink(missing_ok=True)
    return hash_file(source, copy_to=target)[2]
