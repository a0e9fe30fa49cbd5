"""Verify: the snapshot's files against its manifest, and a live database against both.

Like pgcopydb's `compare`: row counts first (cheap), then content checksums per table;
any difference is reported per table and makes the command exit non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seedctl import db
from seedctl.catalog import TableSchema
from seedctl.checksum import table_checksum
from seedctl.errors import IntegrityError
from seedctl.manifest import load_manifest, verify_files


@dataclass
class TableComparison:
    source: str
    table: str
    snapshot_rows: int
    database_rows: int | None  # None: the table does not exist
    checksum_equal: bool | None  # None: not compared (row counts already differ)

    @property
    def equal(self) -> bool:
        return self.database_rows == self.snapshot_rows and self.checksum_equal is True


def verify_snapshot_files(seeds_dir: Path) -> dict[str, Any]:
    """The manifest if every file matches it; IntegrityError naming the first that does not."""
    manifest = load_manifest(seeds_dir)
    problems = verify_files(seeds_dir, manifest)
    if problems:
        raise IntegrityError(f"{len(problems)} file(s) do not match the manifest: {problems[0]}",
                             "run `dvc pull` to fetch this snapshot's data again")
    return manifest


def compare_database(manifest: dict[str, Any]) -> list[TableComparison]:
    """Per table: does the database hold exactly the snapshot's rows?"""
    results = []
    with db.connect() as conn:
        conn.read_only = True
        with conn.transaction():
            for name, entry in manifest["tables"].items():
                table = TableSchema.from_dict(entry["schema"])
                with conn.cursor() as cur:
                    cur.execute("SELECT to_regclass(%s)", (table.identifier().as_string(conn),))
                    exists = cur.fetchone()[0] is not None  # type: ignore[index]
                if not exists:
                    results.append(TableComparison(name, table.qualified, entry["rows"], None, None))
                    continue
                got = table_checksum(conn, table.identifier(), [c.name for c in table.columns])
                same = got.digest == entry["content_checksum"] if got.rows == entry["rows"] else None
                results.append(TableComparison(name, table.qualified, entry["rows"], got.rows, same))
    return results
