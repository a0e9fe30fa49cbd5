"""The data files of a snapshot's tables, as the manifest lists them.

Snapshot format 2 lists each table's files under `parts` (one file, or one per month or
year: see partition.py), in row order. Format 1 (tags made before partitioning) had one
file per table, described by the table's entry itself. Everything that reads a manifest
goes through here, so old tags stay restorable, verifiable and prunable.
"""

from __future__ import annotations

import hashlib
from typing import Any

_PART_KEYS = ("file", "rows", "size_bytes", "sha256", "md5")


def table_parts(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The data files of one table entry, in row order."""
    if "parts" in entry:
        return list(entry["parts"])
    return [{k: entry[k] for k in _PART_KEYS if k in entry}]


def parts_digest(parts: list[dict[str, Any]]) -> str:
    """A table's sha256: its file's, or for several files the sha256 of their
    `sha256  file` lines (as in checksums.sha256), in row order."""
    if len(parts) == 1:
        return str(parts[0]["sha256"])
    return hashlib.sha256("".join(f"{p['sha256']}  {p['file']}\n" for p in parts).encode()).hexdigest()


def inconsistencies(manifest: dict[str, Any]) -> list[str]:
    """Tables whose own rows / sha256 do not agree with their files' (an edited manifest)."""
    problems = []
    for name, entry in manifest.get("tables", {}).items():
        parts = table_parts(entry)
        if sum(int(p["rows"]) for p in parts) != entry["rows"]:
            problems.append(f"manifest.json: the files of {name} do not add up to its {entry['rows']} rows")
        if parts_digest(parts) != entry["sha256"]:
            problems.append(f"manifest.json: the sha256 of {name} does not match its files'")
    return problems


def snapshot_parts(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Every data file of a snapshot, table by table."""
    return [p for entry in manifest.get("tables", {}).values() for p in table_parts(entry)]
