"""Getting a snapshot's data before a restore: workspace -> DVC remote -> fallback files.

Every data file must match the manifest's sha256 before it may be used. What the remote
cannot serve (unreachable, missing object, corrupt object) is looked for in the source's
`fallback` list; a table that is not `required` may end empty. A required table with no
usable source fails the whole restore here, before the database is touched.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from seedctl.catalog import TableSchema
from seedctl.config import Params, Source
from seedctl.errors import IntegrityError, SeedctlError
from seedctl.export import DATA_DIR, SCHEMA_FILE
from seedctl.fallback import FallbackFile, find_fallback
from seedctl.manifest import sha256_file
from seedctl.parts import inconsistencies, table_parts
from seedctl.tools import dvc, env_with_venv

Origin = Literal["local", "cache", "remote", "fallback", "empty"]


@dataclass
class TableData:
    """Where one table's rows will come from."""

    source: str
    table: TableSchema
    entry: dict[str, Any]  # the manifest's entry for this table
    origin: Origin
    parquet: list[Path] = field(default_factory=list)  # the table's data files, in row order
    fallback: FallbackFile | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        if self.origin in ("local", "cache", "remote"):
            return int(self.entry["rows"])
        return self.fallback.rows if self.fallback else 0


class NoUsableSource(SeedctlError):
    exit_code = 6


def file_matches(path: Path, part: dict[str, Any]) -> bool:
    return path.is_file() and path.stat().st_size == part["size_bytes"] and sha256_file(path) == part["sha256"]


def _unmatched(seeds_dir: Path, entry: dict[str, Any]) -> list[Path]:
    """The table's data files that are absent or differ from the manifest."""
    return [seeds_dir / p["file"] for p in table_parts(entry) if not file_matches(seeds_dir / p["file"], p)]


def acquire(
    manifest: dict[str, Any],
    params: Params,
    seeds_dir: Path,
    project_root: Path,
    fallback_root: Path,
    *,
    pull: bool = True,
    dry_run: bool = False,
) -> list[TableData]:
    """Decide, per table, which verified data a restore will load.

    pull=False uses only what is on this machine (workspace, then fallback files).
    """
    entries = manifest["tables"]
    edited = inconsistencies(manifest)
    if edited:
        raise IntegrityError(edited[0], "restore the manifest with `git checkout -- seeds/manifest.json`; "
                             "the database was not touched")
    # Per table, its files that are absent or differ; hashed again only after a fetch.
    missing = {name: files for name, e in entries.items() if (files := _unmatched(seeds_dir, e))}
    # The snapshot's schema.json comes along, so the checkout is complete for `verify`.
    extra = [] if (seeds_dir / SCHEMA_FILE).is_file() else [seeds_dir / SCHEMA_FILE]
    cached: set[str] = set()
    if missing and not dry_run and _cache_may_hold(project_root):  # no network, no credentials
        _checkout(project_root, [f for files in missing.values() for f in files] + extra)
        still = {n: files for n in missing if (files := _unmatched(seeds_dir, entries[n]))}
        cached, missing = set(missing) - set(still), still
    pulled: set[str] = set()
    remote_problem = None
    if missing and pull and not dry_run:
        remote_problem = _pull(project_root, params, [f for files in missing.values() for f in files] + extra)
        still = {n: files for n in missing if (files := _unmatched(seeds_dir, entries[n]))}
        pulled = set(missing) - set(still)
        present = [f for files in still.values() for f in files if f.is_file()]
        if present and remote_problem is None:
            remote_problem = f"{present[0].name} from the remote does not match the manifest's sha256"
    plans, failures = [], []
    for name, entry in entries.items():
        table = TableSchema.from_dict(entry["schema"])
        if name in missing and pull and dry_run:  # say what would happen, fetch nothing
            plans.append(TableData(name, table, entry, "remote", notes=["not present locally: would be pulled"]))
            continue
        if name not in missing or name in pulled:
            origin: Origin = "remote" if name in pulled else "cache" if name in cached else "local"
            files = [seeds_dir / p["file"] for p in table_parts(entry)]
            plans.append(TableData(name, table, entry, origin, parquet=files))
            continue
        source = params.sources.get(name) or Source(table=table.qualified)
        why = remote_problem or "data file missing or not matching the manifest"
        plan, tried = _fall_back(name, source, table, entry, fallback_root, why)
        if plan is None:
            failures.append(f"table {name}: {why}; no usable fallback ({'; '.join(tried)})")
        else:
            plans.append(plan)
    if failures:
        raise NoUsableSource(
            f"{len(failures)} required table(s) have no usable data: {failures[0]}",
            "fix the remote (MINIO_*) or add a fallback file; the database was not touched",
        )
    return plans


def _targets(project_root: Path, paths: list[Path]) -> list[str]:
    """DVC targets for these files: a partitioned table's directory rather than each of its
    files (DVC handles every target on its own: 150 file targets take ~8x longer to pull
    than their one directory)."""
    data_dir = project_root / "seeds" / DATA_DIR
    chosen = {p.parent if p.parent.parent == data_dir else p for p in paths}
    return sorted(str(p.relative_to(project_root)) for p in chosen)


def _cache_may_hold(project_root: Path) -> bool:
    """False when this checkout has no DVC cache at all (a fresh clone): `dvc checkout`
    would only fail, after ~2 s. A cache configured elsewhere (cache.dir) counts as present."""
    configs = [project_root / ".dvc" / name for name in ("config", "config.local")]
    custom = any(c.is_file() and "[cache]" in c.read_text(encoding="utf-8", errors="replace") for c in configs)
    return custom or (project_root / ".dvc" / "cache").is_dir()


def _checkout(project_root: Path, paths: list[Path]) -> None:
    """`dvc checkout` the files from the local cache; what is not cached stays missing."""
    subprocess.run(
        [dvc(), "checkout", "--force", *_targets(project_root, paths)],
        cwd=project_root, env=env_with_venv(), capture_output=True, check=False,
    )


def _pull(project_root: Path, params: Params, paths: list[Path]) -> str | None:
    """dvc pull exactly the files needed; the reason it failed, or None."""
    from seedctl.remote import pull  # the remote is optional when everything is local

    try:
        pull(project_root, params, _targets(project_root, paths))
    except SeedctlError as exc:
        return exc.line()
    return None


def _fall_back(
    name: str, source: Source, table: TableSchema, entry: dict[str, Any], fallback_root: Path, why: str
) -> tuple[TableData | None, list[str]]:
    """The fallback plan (None for a required table without one) and what was tried."""
    choice = find_fallback(name, source, table, fallback_root)
    if choice.file is not None:
        return TableData(name, table, entry, "fallback", fallback=choice.file,
                         notes=[f"remote could not serve it ({why}); using fallback {choice.file.path}",
                                *choice.tried]), choice.tried
    if not source.required:
        return TableData(name, table, entry, "empty",
                         notes=[f"no usable data ({why}); left EMPTY - a backfill is needed",
                                *choice.tried]), choice.tried
    return None, choice.tried
