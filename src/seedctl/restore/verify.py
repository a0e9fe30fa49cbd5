"""Verify: the snapshot's files against its manifest, and a live database against both.

Like pgcopydb's `compare`: row counts first (cheap), then content checksums per table;
any difference is reported per table and makes the command exit non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from seedctl.errors import IntegrityError
from seedctl.layout import load_manifest, verify_files
from seedctl.pg import db
from seedctl.pg.catalog import TableSchema, read_columns, table_oid
from seedctl.pg.checksum import recorded_checksum
from seedctl.pg.ddl import as_snapshot_types, widened_columns
from seedctl.store.records import verify_records


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
    """The manifest if every file and record matches it; IntegrityError naming the first that does not."""
    manifest = load_manifest(seeds_dir)
    problems = verify_files(seeds_dir, manifest) + verify_records(seeds_dir.parent, manifest)
    if problems:
        raise IntegrityError(
            f"{len(problems)} file(s) do not match the manifest: {problems[0]}",
            "run `seedctl pull`: it fetches what is missing and moves damaged files aside",
        )
    return manifest


def compare_database(manifest: dict[str, Any]) -> list[TableComparison]:
    """Per table: does the database hold exactly the snapshot's rows?"""
    results = []
    with db.connect() as conn:
        conn.read_only = True
        with conn.transaction():
            for name, entry in manifest["tables"].items():
                table = TableSchema.from_dict(entry["schema"])
                oid = table_oid(conn, table.identifier())
                if oid is None:
                    results.append(TableComparison(name, table.qualified, entry["rows"], None, None))
                    continue
                try:
                    with conn.transaction():  # a savepoint: one table's failure must not end the rest
                        # a widened column (ddl.widens) compares as the snapshot's type
                        widened = widened_columns(table, read_columns(conn, oid))
                        got = recorded_checksum(conn, as_snapshot_types(table.identifier(), table, widened), entry)
                except (psycopg.errors.UndefinedFunction, psycopg.errors.DatatypeMismatch):
                    # the target's column types differ from the snapshot's: not the same content
                    count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table.identifier())).fetchone()
                    assert count is not None  # count(*) returns one row
                    results.append(TableComparison(name, table.qualified, entry["rows"], int(count[0]), False))
                    continue
                same = got.digest == entry["content_checksum"] if got.rows == entry["rows"] else None
                results.append(TableComparison(name, table.qualified, entry["rows"], got.rows, same))
    return results
