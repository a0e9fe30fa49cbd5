"""Diff of two snapshot versions, computed from their data files, by primary key.

A version's manifest comes from git (its tag); its data files are read where DVC keeps
them, in the project's cache, by the md5 the manifest records (DVC's content address). A
file the cache lacks is downloaded from the remote into the cache, as `dvc pull` would.
The work tree is never touched. Every file must match its manifest's sha256 before it is read.

Per table: rows in A and B; rows added (key only in B), removed (key only in A) and
changed (same key, any value of a column both versions have differs); date range A -> B;
schema changes (columns added, removed, type changed; primary key changed).

Limit: each table is read whole into memory, both versions at once (a join of the key
columns plus the compared columns). For the tables this tool is made for (~100k rows)
that is tens of MB; a table of tens of millions of rows needs GBs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from seedctl.config import Params
from seedctl.errors import IntegrityError, RemoteError
from seedctl.parts import table_parts
from seedctl.store.dvc import object_cache
from seedctl.store.fetch import Wanted, matches
from seedctl.store.versions import Version

_ROW_A, _ROW_B = "__seedctl_row_a", "__seedctl_row_b"


@dataclass
class TableDiff:
    name: str
    rows_a: int | None  # None: the table is not in that version
    rows_b: int | None
    added: int | None = None  # None: not comparable by key (no primary key in either version)
    removed: int | None = None
    changed: int | None = None
    changed_columns: dict[str, int] = field(default_factory=dict)  # column -> rows where it changed
    range_a: dict[str, Any] | None = None
    range_b: dict[str, Any] | None = None
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    types_changed: dict[str, tuple[str, str]] = field(default_factory=dict)  # column -> (A, B)
    primary_key: tuple[list[str], list[str]] | None = None  # (A, B) when it changed
    note: str = ""

    @property
    def schema_changes(self) -> list[str]:
        changes = [f"+{c}" for c in self.columns_added] + [f"-{c}" for c in self.columns_removed]
        changes += [f"{c}: {a} -> {b}" for c, (a, b) in self.types_changed.items()]
        if self.primary_key:
            changes.append(f"primary key ({', '.join(self.primary_key[0])}) -> ({', '.join(self.primary_key[1])})")
        return changes

    @property
    def unchanged(self) -> bool:
        return (
            self.rows_a == self.rows_b
            and not self.added
            and not self.removed
            and not self.changed
            and not self.schema_changes
            and self.range_a == self.range_b
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.name,
            "rows_a": self.rows_a,
            "rows_b": self.rows_b,
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "changed_columns": self.changed_columns,
            "date_range_a": self.range_a,
            "date_range_b": self.range_b,
            "columns_added": self.columns_added,
            "columns_removed": self.columns_removed,
            "types_changed": {c: list(t) for c, t in self.types_changed.items()},
            "primary_key_changed": list(self.primary_key) if self.primary_key else None,
            "note": self.note,
        }


@dataclass
class SnapshotDiff:
    a: str  # tags
    b: str
    version_a: str  # manifest versions
    version_b: str
    tables: list[TableDiff]

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "version_a": self.version_a,
            "version_b": self.version_b,
            "tables": [t.to_dict() for t in self.tables],
        }


# --- fetching a version's data ---------------------------------------------------------------


def version_files(
    project_root: Path,
    params: Params,
    version: Version,
    skip: Callable[[str, dict[str, Any]], bool] = lambda name, part: False,
) -> tuple[dict[str, Any], dict[str, list[tuple[dict[str, Any], Path]]]]:
    """A version's manifest (from git) and, per table, its parts with their verified data
    files in the DVC cache (parts for which skip(table, part) is true are left out).

    A file the cache lacks is downloaded from the remote into the cache (where `dvc pull`
    would put it), checked against the manifest's md5 and sha256 first.
    """
    manifest = version.manifest(project_root)
    cache = object_cache(project_root)
    files: dict[str, list[tuple[dict[str, Any], Path]]] = {}
    for name, entry in manifest["tables"].items():
        files[name] = []
        for part in table_parts(entry):
            if skip(name, part):
                continue
            if "md5" not in part:
                raise IntegrityError(
                    f"{version.tag}: the manifest records no md5 for {part['file']}",
                    "made by an older seedctl: check it out and run `seedctl verify`",
                )
            files[name].append((part, cache(part["md5"])))
    missing = [
        (path, part)
        for parts in files.values()
        for part, path in parts
        if not matches(path, Wanted(part["file"], part["sha256"], part["size_bytes"]))
    ]
    if missing:
        _download(project_root, params, version.tag, missing)
    return manifest, files


def _download(project_root: Path, params: Params, tag: str, wanted: list[tuple[Path, dict[str, Any]]]) -> None:
    from seedctl.store import s3
    from seedctl.store.fetch import Failure, RemoteReader
    from seedctl.store.settings import load_settings

    settings = load_settings(project_root, params)  # RemoteError (exit 7) when MINIO_* are missing
    reader = RemoteReader(settings, s3.client(settings, timeout_s=30))
    for path, entry in wanted:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            got = reader.download(entry["md5"], tmp)
            if isinstance(got, Failure):
                raise RemoteError(f"{tag}: {entry['file']}: {got.detail}", got.advice)
            if got[1:] != (entry["md5"], entry["sha256"]):
                raise IntegrityError(
                    f"{tag}: {entry['file']} from the remote does not match the manifest",
                    f"the object {s3.object_key(settings.prefix, entry['md5'])} is damaged; it cannot be used",
                )
            tmp.chmod(0o444)  # as DVC keeps its cache files
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)


# --- comparing -------------------------------------------------------------------------------


def diff_versions(project_root: Path, params: Params, a: Version, b: Version) -> SnapshotDiff:
    """Compare version a (older, usually) with version b, table by table.

    A file with the same name and sha256 in both holds the same rows, and (primary keys
    being unique) no key of it can appear elsewhere: only the other files are read.
    """
    skipped = _identical_parts(a.manifest(project_root), b.manifest(project_root))

    def same(name: str, part: dict[str, Any]) -> bool:
        return (name, part["file"], part["sha256"]) in skipped

    man_a, files_a = version_files(project_root, params, a, skip=same)
    man_b, files_b = version_files(project_root, params, b, skip=same)
    names = list(man_a["tables"]) + [n for n in man_b["tables"] if n not in man_a["tables"]]
    tables = [
        diff_table(
            n,
            man_a["tables"].get(n),
            man_b["tables"].get(n),
            [p for _, p in files_a.get(n, [])],
            [p for _, p in files_b.get(n, [])],
        )
        for n in names
    ]
    return SnapshotDiff(a.tag, b.tag, man_a["version"], man_b["version"], tables)


def diff_table(
    name: str, entry_a: dict[str, Any] | None, entry_b: dict[str, Any] | None, files_a: list[Path], files_b: list[Path]
) -> TableDiff:
    """Rows added, removed and changed (by primary key) between two versions of a table;
    files_a / files_b: the data files that are not identical in both."""
    d = TableDiff(
        name,
        entry_a["rows"] if entry_a else None,
        entry_b["rows"] if entry_b else None,
        range_a=entry_a.get("date_range") if entry_a else None,
        range_b=entry_b.get("date_range") if entry_b else None,
    )
    if entry_a is None or entry_b is None:
        d.note = "table only in B" if entry_a is None else "table only in A"
        d.added, d.removed, d.changed = (d.rows_b, 0, 0) if entry_a is None else (0, d.rows_a, 0)
        return d
    cols_a = {c["name"]: c["pg_type"] for c in entry_a["schema"]["columns"]}
    cols_b = {c["name"]: c["pg_type"] for c in entry_b["schema"]["columns"]}
    d.columns_added = [c for c in cols_b if c not in cols_a]
    d.columns_removed = [c for c in cols_a if c not in cols_b]
    d.types_changed = {c: (cols_a[c], cols_b[c]) for c in cols_a if c in cols_b and cols_a[c] != cols_b[c]}
    pk_a, pk_b = list(entry_a["schema"]["primary_key"]), list(entry_b["schema"]["primary_key"])
    if pk_a != pk_b:
        d.primary_key = (pk_a, pk_b)
    key = pk_b if pk_a == pk_b else [c for c in pk_b if c in pk_a]
    if not key or any(c not in cols_a or c not in cols_b for c in key):
        d.note = "no common primary key: rows not compared by key"
        return d
    if entry_a["sha256"] == entry_b["sha256"]:
        d.added = d.removed = d.changed = 0
        return d
    table_a, table_b = _read_parts(files_a), _read_parts(files_b)
    compare = [c for c in cols_a if c in cols_b and c not in key]
    d.added, d.removed, d.changed, d.changed_columns = compare_by_key(table_a, table_b, key, compare)
    return d


def _identical_parts(man_a: dict[str, Any], man_b: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(table, file, sha256) of the files both versions hold unchanged, less one per table
    that differs, so that each side of such a table still has a file to read."""
    out: set[tuple[str, str, str]] = set()
    for name in man_a["tables"].keys() & man_b["tables"].keys():
        files_a = {(p["file"], p["sha256"]) for p in table_parts(man_a["tables"][name])}
        files_b = {(p["file"], p["sha256"]) for p in table_parts(man_b["tables"][name])}
        common = sorted(files_a & files_b)
        keep_one = files_a != files_b
        out |= {(name, *c) for c in common[1 if keep_one else 0 :]}
    return out


def _read_parts(files: list[Path]) -> pa.Table:
    return pa.concat_tables([pq.read_table(str(f)) for f in files])


def compare_by_key(
    a: pa.Table, b: pa.Table, key: list[str], columns: list[str]
) -> tuple[int, int, int, dict[str, int]]:
    """(added, removed, changed, rows changed per column) of b against a, joined on key."""
    keys_a = _key_table(a, key).append_column(_ROW_A, pa.array(range(a.num_rows), pa.int64()))
    keys_b = _key_table(b, key).append_column(_ROW_B, pa.array(range(b.num_rows), pa.int64()))
    joined = keys_a.join(keys_b, keys=key, join_type="full outer")
    row_a, row_b = joined[_ROW_A], joined[_ROW_B]
    added = int(pc.sum(pc.is_null(row_a)).as_py() or 0)
    removed = int(pc.sum(pc.is_null(row_b)).as_py() or 0)
    both = pc.and_(pc.is_valid(row_a), pc.is_valid(row_b))
    take_a, take_b = pc.filter(row_a, both), pc.filter(row_b, both)
    any_change = pa.array([False] * len(take_a), pa.bool_())
    per_column = {}
    for column in columns:
        va, vb = a[column].take(take_a), b[column].take(take_b)
        if va.type != vb.type:  # a type change: compare PostgreSQL-independent text forms
            va, vb = va.cast(pa.string()), vb.cast(pa.string())
        differs = values_differ(va, vb)
        count = int(pc.sum(differs).as_py() or 0)
        if count:
            per_column[column] = count
            any_change = pc.or_(any_change, differs)
    return added, removed, int(pc.sum(any_change).as_py() or 0), per_column


def _key_table(table: pa.Table, key: list[str]) -> pa.Table:
    # The hash join needs plain key types; anything else is compared by its text form.
    arrays = []
    for name in key:
        column = table[name]
        if not (
            pa.types.is_integer(column.type)
            or pa.types.is_string(column.type)
            or pa.types.is_temporal(column.type)
            or pa.types.is_boolean(column.type)
        ):
            column = column.cast(pa.string())
        arrays.append(column)
    return pa.table(arrays, names=key)


def values_differ(a: pa.ChunkedArray, b: pa.ChunkedArray) -> pa.ChunkedArray:
    """Row-wise: the values differ. NULL equals NULL; NaN equals NaN."""
    try:
        differs = pc.fill_null(pc.not_equal(a, b), False)
    except pa.ArrowNotImplementedError:
        return pa.chunked_array([pa.array([x != y for x, y in zip(a.to_pylist(), b.to_pylist())], pa.bool_())])
    differs = pc.or_(differs, pc.xor(pc.is_null(a), pc.is_null(b)))
    if pa.types.is_floating(a.type):
        both_nan = pc.fill_null(pc.and_(pc.is_nan(a), pc.is_nan(b)), False)
        differs = pc.and_(differs, pc.invert(both_nan))
    return differs
