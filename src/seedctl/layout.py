"""Where a snapshot's files live under seeds/, the snapshot format, reading the export's schema.json,
and the one atomic JSON writer (schema.json, manifest.json, the validation report).

Its own module, free of database and progress-bar imports, so that the manifest and
validate stages (which never connect to PostgreSQL) do not pay for psycopg at start-up.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from seedctl.errors import IntegrityError, NotFound
from seedctl.hashing import sha256_file
from seedctl.parts import inconsistencies, table_parts

# bump when the layout or encodings change incompatibly (2: parts per table; 3: sequences, types;
# 4: generated columns left out of the data, foreign keys, partitions, functions, collations;
# 5: typed-hash-v3 content checksums, which a seedctl reading up to 4 cannot compute;
# 6: triggers, row-level security, grants and views of each table, recreated on a new server)
SNAPSHOT_FORMAT = 6
DATA_DIR = "data"
SCHEMA_FILE = "schema.json"
MANIFEST_FILE = "manifest.json"
CHECKSUMS_FILE = "checksums.sha256"
LATEST_FILE = "LATEST_VERSION"
REPORT_FILE = "reports/validation.json"  # the validate stage's metrics: a pass or the failures


def load_schema_document(seeds_dir: Path) -> dict[str, Any]:
    return _load_json(seeds_dir / SCHEMA_FILE, "run the export stage first (dvc repro)", "run `seedctl pull`")


def load_manifest(seeds_dir: Path) -> dict[str, Any]:
    return _load_json(
        seeds_dir / MANIFEST_FILE,
        "this checkout holds no snapshot yet: run `make snapshot`",
        "restore it with `git checkout -- seeds/manifest.json`",
    )


def _load_json(path: Path, when_missing: str, when_damaged: str) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(f"{path} is missing", when_missing) from None
    except json.JSONDecodeError as exc:
        raise IntegrityError(f"{path} is not valid JSON (line {exc.lineno})", when_damaged) from None


def verify_files(seeds_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """Problems (one line each) with the data files versus the manifest; empty if all match."""
    import pyarrow.parquet as pq  # not at import: the CLI's start-up must not pay for pyarrow

    problems = []
    expected = [(p["file"], p["sha256"], p["size_bytes"]) for t in manifest["tables"].values() for p in table_parts(t)]
    expected.append((SCHEMA_FILE, manifest["schema_sha256"], None))
    for rel, sha, size in expected:
        path = seeds_dir / rel
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif size is not None and path.stat().st_size != size:
            problems.append(f"{path}: {path.stat().st_size} bytes, manifest says {size}")
        elif sha256_file(path) != sha:
            problems.append(f"{path}: sha256 does not match the manifest")
    for name, entry in manifest["tables"].items():
        for part in table_parts(entry):
            path = seeds_dir / part["file"]
            if any(str(path) in p for p in problems):
                continue
            rows = pq.ParquetFile(path).metadata.num_rows
            if rows != part["rows"]:
                problems.append(
                    f"{MANIFEST_FILE}: says {part['rows']} rows for {part['file']} of {name}, the file holds {rows}"
                )
    return problems + inconsistencies(manifest)


def write_json(path: Path, document: dict[str, Any], *, sort_keys: bool) -> None:
    """Write document as indented JSON, atomically: a reader (or a crash) never sees half a
    file. sort_keys decides the bytes, which are checksummed: schema.json sorts its keys, the
    manifest keeps insertion order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=sort_keys) + "\n", encoding="utf-8")
    os.replace(tmp, path)
