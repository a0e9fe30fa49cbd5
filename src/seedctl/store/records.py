"""The snapshot's other records agree with its manifest: checksums.sha256 (what `sha256sum -c`
checks) and dvc.lock with its directory listing in the DVC cache (what `dvc push`/`dvc pull` move)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from seedctl.layout import CHECKSUMS_FILE, DATA_DIR, SCHEMA_FILE
from seedctl.parts import snapshot_parts
from seedctl.store.dvc import object_cache


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
        problems.append(
            f"{lock_path}: names a seeds/{DATA_DIR} listing that is not in the DVC cache "
            "(run `seedctl pull`, or restore dvc.lock with git)"
        )
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
