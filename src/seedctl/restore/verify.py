"""Verify: the snapshot's files against its manifest, and a live database against both.

Like pgcopydb's `compare`: row counts first (cheap), then content checksums per table;
any difference is reported per table and makes the command exit non-zero.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg import sql

from seedctl.pg import db
from seedctl.pg.catalog import TableSchema, read_columns, table_oid
from seedctl.pg.checksum import recorded_checksum
from seedctl.pg.ddl import as_snapshot_types, widened_columns
from seedctl.errors import IntegrityError
from seedctl.layout import DATA_DIR, SCHEMA_FILE
from seedctl.layout import CHECKSUMS_FILE, load_manifest, verify_files
from seedctl.parts import snapshot_parts
from seedctl.store.dvc import object_cache


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
        raise IntegrityError(f"{len(problems)} file(s) do not match the manifest: {problems[0]}",
                             "run `seedctl pull`: it fetches what is missing and moves damaged files aside")
    return manifest


def verify_records(project_root: Path, manifest: dict[str, Any]) -> list[str]:
    """The other records of the snapshot agree with the manifest: checksums.sha256 (what
    `sha256sum -c` checks) and dvc.lock (what `dvc push`/`dvc pull` move)."""
    problems = []
    seeds = project_root / "seeds"
    parts = snapshot_parts(manifest)
    expected = {p["file"]: p["sha256"] for p in parts}
    expected[SCHEMA_FILE] = manifest["schema_sha256"]
    listed: dict[str, str] = {}
    checksums = seeds / CHECKSUMS_FILE
    if checksums.is_file():
        for line in checksums.read_text(encoding="utf-8").splitlines():
            sha, _, rel = line.partition("  ")
            listed[rel] = sha
    if listed != expected:
        wrong = sorted(set(listed.items()) ^ set(expected.items()))
        problems.append(f"{checksums}: does not match the manifest (first difference: {wrong[0][0] if wrong else '?'})")
    lock_path = project_root / "dvc.lock"
    if not lock_path.is_file():
        return problems + [f"{lock_path}: missing"]
    outs = {
        out["path"]: out.get("md5", "")
        for stage in (yaml.safe_load(lock_path.read_text()) or {}).get("stages", {}).values()
        for out in stage.get("outs", [])
    }
    if "schema_md5" in manifest and outs.get(f"seeds/{SCHEMA_FILE}") != manifest["schema_md5"]:
        problems.append(f"{lock_path}: seeds/{SCHEMA_FILE} md5 does not match the manifest")
    listing = _dir_listing(project_root, outs.get(f"seeds/{DATA_DIR}", ""))
    want = {p["file"].removeprefix(f"{DATA_DIR}/"): p.get("md5") for p in parts}
    if listing is None:
        problems.append(f"{lock_path}: names a seeds/{DATA_DIR} listing that is not in the DVC cache "
                        "(run `seedctl pull`, or restore dvc.lock with git)")
    elif all("md5" in p for p in parts) and listing != want:
        problems.append(f"{lock_path}: seeds/{DATA_DIR} does not list the manifest's files")
    return problems


def _dir_listing(project_root: Path, md5: str) -> dict[str, str] | None:
    """relpath -> md5 of a DVC directory object in the local cache, or None if absent."""
    if not md5.endswith(".dir") or len(md5) != 36:
        return None
    path = object_cache(project_root)(md5)
    try:
        return {e["relpath"]: e["md5"] for e in json.loads(path.read_text())}
    except (OSError, ValueError, KeyError, TypeError):
        return None


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
                    count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table.identifier()))
                    results.append(TableComparison(name, table.qualified, entry["rows"],
                                                   int(count.fetchone()[0]), False))  # type: ignore[index]
                    continue
                same = got.digest == entry["content_checksum"] if got.rows == entry["rows"] else None
                results.append(TableComparison(name, table.qualified, entry["rows"], got.rows, same))
    return results
