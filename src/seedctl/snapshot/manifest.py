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
import pyarrow.compute as pc
import pyarrow.parquet as pq

from seedctl import __version__
from seedctl.config import Params
from seedctl.errors import IntegrityError
from seedctl.hashing import hash_file
from seedctl.layout import CHECKSUMS_FILE, MANIFEST_FILE, SCHEMA_FILE, load_schema_document, write_json
from seedctl.parts import parts_digest, table_parts
from seedctl.pg.pgtypes import pg_text_scalar


def run_manifest(params: Params, seeds_dir: Path, *, now: datetime | None = None) -> dict[str, Any]:
    """Write manifest.json, checksums.sha256 and reports/coverage.csv for the exported files."""
    manifest = build_manifest(params, seeds_dir, now=now)
    from seedctl.snapshot.history import ACCEPTED_KEY, acceptance, previous_manifest

    previous = previous_manifest(seeds_dir)
    accepted = acceptance(manifest["tables"], previous, now)
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
        tables[source_name] = describe_table(seeds_dir, info, time_column, params.backup.batch_rows)
    digest = hashlib.sha256("".join(t["sha256"] for t in tables.values()).encode()).hexdigest()
    server = exported["server"]
    return {
        "version": f"{created:%Y.%m.%d}-{digest[:8]}",
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "created_by": f"seedctl {__version__} ({getpass.getuser()}@{socket.gethostname()})",
        **{f"schema_{k}": v for k, v in sha256_md5(seeds_dir / SCHEMA_FILE).items()},
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


def describe_table(seeds_dir: Path, info: dict[str, Any], time_column: str | None, batch_rows: int) -> dict[str, Any]:
    """Facts about one table's data files, read from the files (not from the export's memory)."""
    if "parts" not in info:
        raise IntegrityError(
            f"{seeds_dir / SCHEMA_FILE} was written by an older seedctl", "run the export stage again (dvc repro)"
        )
    parts = [_describe_part(seeds_dir, part) for part in info["parts"]]
    files = [pq.ParquetFile(seeds_dir / part["file"]) for part in parts]
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
        entry["date_range"], entry["rows_per_month"] = _time_profile(files, time_column, batch_rows)
    return entry


def _describe_part(seeds_dir: Path, part: dict[str, Any]) -> dict[str, Any]:
    path = seeds_dir / part["file"]
    rows = pq.ParquetFile(path).metadata.num_rows
    if rows != part["rows"]:
        raise IntegrityError(
            f"{path}: holds {rows} rows, the export wrote {part['rows']}",
            "the file changed after export; run the snapshot again",
        )
    described = {"file": part["file"], "rows": rows}
    if part.get("period") is not None:
        described["period"] = part["period"]
    return {
        **described,
        "size_bytes": path.stat().st_size,
        **sha256_md5(path),
    }


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
    files: list[pq.ParquetFile], column: str, batch_rows: int
) -> tuple[dict[str, Any] | None, dict[str, int]]:
    """Date range (PostgreSQL text) and rows per calendar month of the time column."""
    field = files[0].schema_arrow.field(column)
    if not (pa.types.is_timestamp(field.type) or pa.types.is_date(field.type)):
        return {"column": column, "min": None, "max": None, "note": "stored as text"}, {}
    lo = hi = None
    months: Counter[str] = Counter()
    # Month buckets over the ordinary range; infinities and far eras are left out.
    unit = 86_400_000_000 if pa.types.is_timestamp(field.type) else 1
    floor, ceiling = -719162 * unit, 2932897 * unit
    batches = (b for parquet in files for b in parquet.iter_batches(batch_size=batch_rows, columns=[column]))
    for batch in batches:
        values = batch.column(0)
        ints = values.cast(pa.int64() if pa.types.is_timestamp(field.type) else pa.int32())
        bounds = pc.min_max(ints)
        bmin, bmax = bounds["min"].as_py(), bounds["max"].as_py()
        if bmin is None:
            continue
        lo = bmin if lo is None else min(lo, bmin)
        hi = bmax if hi is None else max(hi, bmax)
        if not (floor <= bmin and bmax < ceiling):  # filter only the batches that need it
            values = pc.filter(values, pc.and_(pc.greater_equal(ints, floor), pc.less(ints, ceiling)))
        months.update(month_counts(values))
    if lo is None:
        return {"column": column, "min": None, "max": None}, {}
    return (
        {"column": column, "min": pg_text_scalar(lo, field), "max": pg_text_scalar(hi, field)},
        dict(sorted(months.items())),
    )


def month_counts(values: pa.Array) -> dict[str, int]:
    """Rows per calendar month ("YYYY-MM") of date/timestamp values (UTC), nulls left out.

    Values are floored to their month and counted, and only the distinct months are
    formatted: ten times faster than formatting every value."""
    counts = pc.value_counts(pc.floor_temporal(values, unit="month"))
    keys = pc.strftime(counts.field("values"), format="%Y-%m").to_pylist()
    return {k: n for k, n in zip(keys, counts.field("counts").to_pylist()) if k is not None}


def sha256_md5(path: Path) -> dict[str, str]:
    """{"sha256", "md5"} of a file from one read."""
    _, md5, sha256 = hash_file(path)
    return {"sha256": sha256, "md5": md5}
