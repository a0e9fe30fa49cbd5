"""Manifest: what a snapshot holds, so that any checkout can say and prove it.

seeds/manifest.json (git-tracked) records per table its data files (`parts`: one, or one
per month/year, each with rows, bytes, sha256 and md5), rows, date range, schema, null
counts and rows per month, plus the config and server versions the snapshot was made with.
seeds/checksums.sha256 is the same sha256 list in `sha256sum -c`
form, to be checked from inside seeds/.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import socket
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from seedctl import __version__
from seedctl.config import Params
from seedctl.errors import IntegrityError
from seedctl.hashing import hash_file
from seedctl.layout import CHECKSUMS_FILE, MANIFEST_FILE, SCHEMA_FILE, load_schema_document, write_json
from seedctl.parts import parts_digest, table_parts
from seedctl.pg.pgtypes import pg_text_scalar
from seedctl.snapshot.facts import TIME_FACTS_KEY, is_dated


def run_manifest(
    params: Params, seeds_dir: Path, *, accepted_by: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Write manifest.json, checksums.sha256 and reports/coverage.csv for the exported files.

    accepted_by: who accepts lost history for this snapshot (history.acceptance), or None."""
    manifest = build_manifest(params, seeds_dir, now=now)
    from seedctl.snapshot.history import ACCEPTED_KEY, acceptance, previous_manifest

    previous = previous_manifest(seeds_dir)
    accepted = acceptance(manifest["tables"], previous, accepted_by, now)
    if accepted:
        manifest[ACCEPTED_KEY] = accepted
    manifest = _unchanged_or(seeds_dir, manifest, previous)
    write_json(seeds_dir / MANIFEST_FILE, manifest, sort_keys=False)
    lines = [f"{p['sha256']}  {p['file']}" for t in manifest["tables"].values() for p in table_parts(t)]
    lines.append(f"{manifest['schema_sha256']}  {SCHEMA_FILE}")
    (seeds_dir / CHECKSUMS_FILE).write_text("\n".join(sorted(lines, key=lambda s: s[66:])) + "\n")
    from seedctl.snapshot.coverage import write_coverage  # rows per month per table: the DVC coverage plot

    write_coverage(seeds_dir, manifest)
    return manifest


# Written anew on every run; not what the snapshot holds.
_RUN_KEYS = ("version", "created_at", "created_by")


def _unchanged_or(seeds_dir: Path, manifest: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """The manifest already in seeds_dir when it describes the same snapshot (a forced re-run
    over unchanged data changes nothing in git), else the new one.

    An accepted shrink is part of what a snapshot is, but who accepted it and when is not:
    a new manifest without one keeps the existing manifest's record. previous: the committed
    manifest (history.previous_manifest), already read by the caller."""
    from seedctl.snapshot.history import ACCEPTED_KEY

    # DVC removes a stage's outputs before running it: then the committed one is the existing.
    path = seeds_dir / MANIFEST_FILE
    try:
        existing = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        existing = previous
    if existing is None:
        return manifest

    def essence(document: dict[str, Any], *, record: bool) -> dict[str, Any]:
        kept = {k: v for k, v in document.items() if k not in (*_RUN_KEYS, ACCEPTED_KEY)}
        if record:
            kept[ACCEPTED_KEY] = (document.get(ACCEPTED_KEY) or {}).get("tables")
        return kept

    record = ACCEPTED_KEY in manifest
    return existing if essence(existing, record=record) == essence(manifest, record=record) else manifest


def build_manifest(params: Params, seeds_dir: Path, *, now: datetime | None = None) -> dict[str, Any]:
    exported = load_schema_document(seeds_dir)
    created = (now or datetime.now(UTC)).replace(microsecond=0)
    tables = {}
    for source_name, info in exported["tables"].items():
        source = params.sources.get(source_name)
        time_column = source.time_column if source else None
        tables[source_name] = describe_table(seeds_dir, info, time_column)
    digest = hashlib.sha256("".join(t["sha256"] for t in tables.values()).encode()).hexdigest()
    server = exported["server"]
    return {
        "version": f"{created:%Y.%m.%d}-{digest[:8]}",
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "created_by": f"seedctl {__version__} ({getpass.getuser()}@{socket.gethostname()})",
        **_schema_hashes(seeds_dir / SCHEMA_FILE),
        "tables": tables,
        "config_snapshot": params.section_hashes(),
        "compatibility": {
            "postgres_version": server["postgres_version"],
            "postgres_version_num": server["postgres_version_num"],
            "timescaledb_version": server["timescaledb_version"],
            "schema_version": exported["snapshot_format"],
            "seedctl_version": __version__,
            "pyarrow_version": pa.__version__,
        },
    }


def _schema_hashes(path: Path) -> dict[str, str]:
    """schema.json's schema_sha256 and schema_md5, from one read."""
    _, md5, sha256 = hash_file(path)
    return {"schema_sha256": sha256, "schema_md5": md5}


def describe_table(seeds_dir: Path, info: dict[str, Any], time_column: str | None) -> dict[str, Any]:
    """One table's manifest entry: each file hashed (one read) and described by its Parquet
    footer, where the export recorded its time profile (facts.py): no file is decoded."""
    if "parts" not in info or "checks" not in info:
        raise IntegrityError(
            f"{seeds_dir / SCHEMA_FILE} was written by an older seedctl", "run the export stage again (dvc repro)"
        )
    files = [pq.ParquetFile(seeds_dir / part["file"]) for part in info["parts"]]
    parts = [_describe_part(seeds_dir, part, parquet) for part, parquet in zip(info["parts"], files)]
    entry: dict[str, Any] = {
        "table": f"{info['schema']['schema']}.{info['schema']['name']}",
        "partition": info["partition"],
        "rows": sum(p["rows"] for p in parts),
        "size_bytes": sum(p["size_bytes"] for p in parts),
        "sha256": parts_digest(parts),
        "parts": parts,
        "content_checksum": info["content_checksum"],
        "checksum_algorithm": info["checksum_algorithm"],
        "date_range": None,
        "null_counts": _null_counts(files),
        "rows_per_month": {},
        "text_columns": info["text_columns"],
        "schema": info["schema"],
    }
    if time_column:
        entry["date_range"], entry["rows_per_month"] = _time_profile(seeds_dir, info["parts"], files, time_column)
    return entry


def _describe_part(seeds_dir: Path, part: dict[str, Any], parquet: pq.ParquetFile) -> dict[str, Any]:
    path = seeds_dir / part["file"]
    rows = parquet.metadata.num_rows
    if rows != part["rows"]:
        raise IntegrityError(
            f"{path}: holds {rows} rows, the export wrote {part['rows']}",
            "the file changed after export; run the snapshot again",
        )
    described = {"file": part["file"], "rows": rows}
    if part.get("period") is not None:
        described["period"] = part["period"]
    size, md5, sha256 = hash_file(path)
    return {**described, "size_bytes": size, "sha256": sha256, "md5": md5}


def _null_counts(files: list[pq.ParquetFile]) -> dict[str, int]:
    counts = dict.fromkeys(files[0].schema_arrow.names, 0)
    for parquet in files:
        meta = parquet.metadata
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                chunk = group.column(c)
                stats = chunk.statistics
                if stats is None or not stats.has_null_count:
                    raise IntegrityError(f"parquet file lacks null counts for {chunk.path_in_schema}")
                counts[chunk.path_in_schema] += stats.null_count
    return counts


def _time_profile(
    seeds_dir: Path, parts: list[dict[str, Any]], files: list[pq.ParquetFile], column: str
) -> tuple[dict[str, Any] | None, dict[str, int]]:
    """Date range (PostgreSQL text) and rows per calendar month of the time column, from the
    TimeProfile the export recorded in each file's footer, whose min and max must be the
    footer's statistics."""
    field = files[0].schema_arrow.field(column)
    if not is_dated(field):
        return {"column": column, "min": None, "max": None, "note": "stored as text"}, {}
    lo = hi = None
    months: Counter[str] = Counter()
    for part, parquet in zip(parts, files):
        recorded = (parquet.metadata.metadata or {}).get(TIME_FACTS_KEY.encode())
        if recorded is None:
            raise IntegrityError(
                f"{seeds_dir / part['file']} was written by an older seedctl", "run the export stage again (dvc repro)"
            )
        profile = json.loads(recorded)
        if (profile["min"], profile["max"]) != footer_range(parquet, column):
            raise IntegrityError(
                f"{seeds_dir / part['file']}: its {column} range differs from what the export recorded",
                "the file changed after export; run the snapshot again",
            )
        if profile["min"] is None:
            continue
        lo = profile["min"] if lo is None else min(lo, profile["min"])
        hi = profile["max"] if hi is None else max(hi, profile["max"])
        months.update(profile["rows_per_month"])
    if lo is None:
        return {"column": column, "min": None, "max": None}, {}
    return (
        {"column": column, "min": pg_text_scalar(lo, field), "max": pg_text_scalar(hi, field)},
        dict(sorted(months.items())),
    )


def footer_range(parquet: pq.ParquetFile, column: str) -> tuple[int | None, int | None]:
    """Min and max of a date/timestamp column over the file's row groups, from the footer's
    statistics (the physical values: epoch days or microseconds)."""
    index = parquet.schema_arrow.get_field_index(column)
    lows, highs = [], []
    meta = parquet.metadata
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(index).statistics
        if stats is not None and stats.has_min_max:
            lows.append(stats.min_raw)
            highs.append(stats.max_raw)
    return (min(lows), max(highs)) if lows else (None, None)
