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

from seedctl.errors import SeedctlError

# bump when the layout or encodings change incompatibly (2: parts per table; 3: sequences, types;
# 4: generated columns left out of the data, foreign keys, partitions, functions, collations)
SNAPSHOT_FORMAT = 4
DATA_DIR = "data"
SCHEMA_FILE = "schema.json"


def load_schema_document(seeds_dir: Path) -> dict[str, Any]:
    path = seeds_dir / SCHEMA_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeedctlError(f"{path} is missing", "run the export stage first (dvc repro)") from None


def write_json(path: Path, document: dict[str, Any], *, sort_keys: bool) -> None:
    """Write document as indented JSON, atomically: a reader (or a crash) never sees half a
    file. sort_keys decides the bytes, which are checksummed: schema.json sorts its keys, the
    manifest keeps insertion order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=sort_keys) + "\n", encoding="utf-8")
    os.replace(tmp, path)
