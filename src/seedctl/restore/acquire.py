"""Getting a snapshot's data before a restore: workspace -> DVC cache -> remote -> fallback.

Every data file must match the manifest's sha256 before it may be used (fetch.py). What
cannot be had (remote unreachable, credentials refused, object missing or corrupt) affects
only its own table: that table is looked for in its source's `fallback` list, and a table
that is not `required` may end empty (the restore then exits RestoredDegraded, 11). A
required table with no usable source fails the whole restore here, before the database is
touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from seedctl.config import Params, Source
from seedctl.errors import IntegrityError, RestoredDegraded
from seedctl.layout import SCHEMA_FILE
from seedctl.parts import inconsistencies
from seedctl.pg.catalog import TableSchema
from seedctl.restore.partial import Selection
from seedctl.store.fetch import (
    Fetched,
    Quarantine,
    fetch,
    lock_listings,
    matches,
    open_remote,
    quarantine_root,
    wanted_files,
)
from seedctl.timerange import TimeRange

if TYPE_CHECKING:
    from seedctl.restore.fallback import FallbackFile

Origin = Literal["local", "cache", "remote", "fallback", "empty"]


@dataclass
class TableData:
    """Where one table's rows will come from."""

    source: str
    table: TableSchema
    entry: dict[str, Any]  # the manifest's entry for this table
    origin: Origin
    parts: list[dict[str, Any]] = field(default_factory=list)  # the manifest's parts to load, in row order
    parquet: list[Path] = field(default_factory=list)  # their data files
    fallback: FallbackFile | None = None
    notes: list[str] = field(default_factory=list)
    window: TimeRange = TimeRange(None, None)  # only the rows of this time range (partial.py)

    @property
    def rows(self) -> int:
        """Rows in the files to load (a time range loads only those inside it: load._count_planned)."""
        if self.origin in ("local", "cache", "remote"):
            return sum(int(p["rows"]) for p in self.parts)
        return self.fallback.rows if self.fallback else 0

    @property
    def ranged(self) -> bool:
        return not self.window.unbounded


def raise_if_degraded(results: Iterable[Any]) -> None:
    """After a committed restore: RestoredDegraded (exit 11) naming the optional tables it
    left empty (results: restore's TableResult, each with .data and .action)."""
    empty = [r.data.source for r in results if r.data.origin == "empty" and r.action != "keep"]
    if empty:
        raise RestoredDegraded(
            f"restore committed, but {len(empty)} optional table(s) were left EMPTY: {', '.join(empty)} "
            "(their snapshot data could not be had and they have no fallback file)",
            "the other tables are restored; backfill those tables (see the notes above), or fix "
            "the cause named there and run the restore again",
        )


def acquire(
    manifest: dict[str, Any],
    params: Params,
    seeds_dir: Path,
    project_root: Path,
    fallback_root: Path,
    selection: Selection,
    *,
    pull: bool = True,
    dry_run: bool = False,
) -> list[TableData]:
    """Decide, per selected table, which verified data a restore will load: only the files
    the selection's time range needs (partial.py).

    Files that are absent or differ from the manifest come from the DVC cache, else the
    remote (bad bytes are quarantined, see fetch.py). A table whose files cannot be had
    falls back on its own: its fallback files, else empty when not required.
    pull=False uses only what is on this machine (workspace, cache, then fallback files).
    A time range is restored from the snapshot's own files only: a fallback file holds the
    whole table, and its rows cannot be checked against the range's.
    """
    entries = manifest["tables"]
    edited = inconsistencies(manifest)
    if edited:
        raise IntegrityError(
            edited[0], "restore the manifest with `git checkout -- seeds/manifest.json`; the database was not touched"
        )
    chosen = {name: selection.parts(entries[name]) for name in selection.sources}
    rels = {p["file"] for parts in chosen.values() for p in parts}
    wanted = [w for w in wanted_files(manifest) if w.table is None or w.rel in rels]
    if dry_run:
        fetched = Fetched(found={w.rel: "local" for w in wanted if matches(seeds_dir / w.rel, w)})
    else:
        fetched = fetch(
            project_root,
            seeds_dir,
            wanted,
            quarantine=Quarantine(quarantine_root(fallback_root)),
            remote=(lambda: open_remote(project_root, params)) if pull else None,
            listings=lock_listings(project_root),
        )
    plans: list[TableData] = []
    failures: list[tuple[str, str, list[Any], Any]] = []  # (table, why, tried, fetch failure)
    for name, parts in chosen.items():
        entry = entries[name]
        table = TableSchema.from_dict(entry["schema"])
        files = [p["file"] for p in parts]
        if all(f in fetched.found for f in files):
            origins = {fetched.found[f] for f in files}
            origin: Origin = "remote" if "remote" in origins else "cache" if "cache" in origins else "local"
            plans.append(
                TableData(name, table, entry, origin, parts, [seeds_dir / f for f in files], window=selection.window)
            )
            continue
        if dry_run and pull:  # say what would happen, fetch nothing
            plans.append(
                TableData(
                    name,
                    table,
                    entry,
                    "remote",
                    parts,
                    notes=["not present locally: would be pulled"],
                    window=selection.window,
                )
            )
            continue
        failure = next((fetched.failures[f] for f in files if f in fetched.failures), None)
        why = failure.detail if failure else "data file missing or not matching the manifest"
        if not selection.window.unbounded:  # a fallback file holds the whole table, unverifiable per range
            failures.append((name, why, [], failure))
            continue
        source = params.sources.get(name) or Source(table=table.qualified)
        plan, tried = _fall_back(name, source, table, entry, fallback_root, why)
        if plan is None:
            failures.append((name, why, tried, failure))
        else:
            plans.append(plan)
    if failures:
        name, why, tried, failure = failures[0]
        fix = failure.advice if failure else "run `seedctl pull`"
        if not selection.window.unbounded:
            raise IntegrityError(
                f"table {name}: the files of the time range are not usable: {why}",
                f"{fix}; a range is restored from the snapshot's files only; the database was not touched",
            )
        more = f" (and {len(failures) - 1} more required table(s))" if len(failures) > 1 else ""
        raise IntegrityError(
            f"required table {name} has no usable data{more}: {why}; no usable fallback ({'; '.join(tried)})",
            f"{fix}, or add a fallback file; the database was not touched",
        )
    schema = fetched.failures.get(SCHEMA_FILE)
    if schema is not None and plans:
        plans[0].notes.append(
            f"snapshot {SCHEMA_FILE} not restored to seeds/ ({schema.line()}); "
            "the restore uses the manifest's copy of the schema"
        )
    for moved in fetched.quarantined:
        if plans:
            plans[0].notes.append(f"bytes that did not match their checksum were moved aside to {moved}")
    return plans


def _fall_back(
    name: str, source: Source, table: TableSchema, entry: dict[str, Any], fallback_root: Path, why: str
) -> tuple[TableData | None, list[str]]:
    """The fallback plan (None for a required table without one) and what was tried."""
    from seedctl.restore.fallback import find_fallback  # its dump parsers only when needed: 15 ms

    choice = find_fallback(name, source, table, fallback_root)
    if choice.file is not None:
        return TableData(
            name,
            table,
            entry,
            "fallback",
            fallback=choice.file,
            notes=[f"snapshot data unavailable ({why}); using fallback {choice.file.path}", *choice.tried],
        ), choice.tried
    if not source.required:
        return TableData(
            name,
            table,
            entry,
            "empty",
            notes=[
                f"no usable data ({why}); left EMPTY - a backfill is needed: restore "
                f"{table.qualified} from its source, or add a fallback file for {name} "
                f"({', '.join(source.fallback) or 'params.yaml sources.' + name + '.fallback'})",
                *choice.tried,
            ],
        ), choice.tried
    return None, choice.tried
