"""Read any snapshot as Arrow tables: no checkout, no database.

    import seedctl
    snap = seedctl.open_snapshot(rev="seeds/v2026.01.18")   # a tag, branch or commit
    snap.tables["usdcop_m5_ohlcv"].rows                      # from the manifest
    t = snap.read("usdcop_m5_ohlcv", columns=["time", "close"], since="2024-01-01", until="2024-06-30")
    df = t.to_pandas()                                       # pip install seedctl[pandas]

The manifest comes from git at `rev` (`git show rev:seeds/manifest.json`); without `rev`,
from the checkout. The data files come through DVC's own file system API
(`dvc.api.DVCFileSystem`): from the work tree (checkout only), the local DVC cache, or
the DVC remote, which is configured from MINIO_* exactly as for `dvc pull`, and only when a
file is not in the cache. Files fetched from the remote are kept in the cache, so a second
read is local. Only the files (months or years, see partition.py) that overlap the time
range are read, and every file is checked against the manifest's sha256 before any of its
rows is used: a mismatch raises IntegrityError naming the table and the file.

Time range: `since` and `until` are both inclusive, as pandas' `df.loc[since:until]` and
SQL's BETWEEN are; a date-only `until` ("2024-06-30") takes in that whole day. Naive
bounds are UTC for timestamptz columns (stored in UTC) and wall-clock time for timestamp
columns. Rows whose time is NULL are only in an unfiltered read.

Values are the stored Arrow columns, unchanged: integers, floats, booleans, date32,
timestamp[us] (UTC for timestamptz) and decimal128 for numeric(p<=38). Every other
PostgreSQL type (text, jsonb, uuid, arrays, unconstrained numeric, and any column the
export had to keep exact as text) comes back as PostgreSQL's own text output; each field's
metadata says which (`pg_type`, `encoding`). Timestamps of +/-infinity are stored as the
int64 extremes, as PostgreSQL stores them.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seedctl.errors import ConfigError, IntegrityError, NotFound, QueryError, RemoteError, SeedctlError
from seedctl.store.fetch import ADVICE, Quarantine, quarantine_root
from seedctl.timerange import Bound, TimeRange, part_needed, time_mask, time_range

if TYPE_CHECKING:
    import pyarrow as pa

SEEDS = "seeds"
MANIFEST_PATH = f"{SEEDS}/manifest.json"


@dataclass(frozen=True)
class TableInfo:
    """One table of a snapshot, as its manifest describes it."""

    name: str
    table: str
    rows: int
    time_column: str | None
    min: str | None  # PostgreSQL text of the first and last time value
    max: str | None
    partition: str
    files: int
    size_bytes: int


def open_snapshot(rev: str | None = None, *, project: str | Path = ".", from_bucket: bool = False) -> Snapshot:
    """The snapshot at `rev` (tag, branch, commit, or a version such as 2026.01.18); None:
    the checkout. `project` is the seedctl project (where params.yaml is).

    from_bucket=True: `rev` is a version of the bucket's catalog (default `latest`), read
    from the bucket alone (store/bucket.py), no git and no project needed: the remote from
    project's params.yaml if it has one, else MINIO_* (environment or project/.env)."""
    root = Path(project).resolve()
    if from_bucket:
        from seedctl.store.bucket import open_bucket

        bucket = open_bucket(root)
        return BucketSnapshot(root, bucket, bucket.version(rev or "latest"))
    if not (root / "params.yaml").is_file():
        raise ConfigError(
            f"{root} is not a seedctl project (no params.yaml)",
            "pass project= the directory that holds params.yaml and dvc.yaml",
        )
    if rev is None:
        path = root / MANIFEST_PATH
        if not path.is_file():
            raise NotFound(f"{path} is missing", "this checkout holds no snapshot: pass rev= a snapshot tag")
        return Snapshot(root, None, None, _parse_manifest(path.read_text(encoding="utf-8"), str(path)))
    commit = _resolve(root, rev)
    shown = subprocess.run(
        ["git", "show", f"{commit}:{MANIFEST_PATH}"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if shown.returncode:
        raise NotFound(
            f"revision {rev} holds no snapshot (no {MANIFEST_PATH})", "list snapshot tags with `git tag -l 'seeds/*'`"
        )
    return Snapshot(root, rev, commit, _parse_manifest(shown.stdout, f"{rev}:{MANIFEST_PATH}"))


def _resolve(root: Path, rev: str) -> str:
    """The commit of rev, or of the snapshot version rev names (tag seeds/v<rev>)."""
    from seedctl.store.versions import commit_of, snapshot_revision

    return commit_of(root, snapshot_revision(root, rev) or "HEAD") or ""


def _parse_manifest(text: str, where: str) -> dict[str, Any]:
    from seedctl.parts import inconsistencies

    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IntegrityError(
            f"{where} is not valid JSON (line {exc.lineno})", "read another revision; this one's manifest is damaged"
        ) from None
    problems = inconsistencies(manifest)
    if problems:
        raise IntegrityError(f"{where}: {problems[0]}", "read another revision; this one's manifest was edited")
    return manifest


class Snapshot:
    """A snapshot's manifest, and its tables read on demand (see the module docstring)."""

    def __init__(self, root: Path, rev: str | None, commit: str | None, manifest: dict[str, Any]) -> None:
        self.root = root
        self.rev = rev
        self.commit = commit
        self.manifest = manifest
        self._fs: Any = None
        self._remote_ready = False

    def __repr__(self) -> str:
        return f"Snapshot(version={self.version!r}, rev={self.rev!r}, tables={list(self.tables)})"

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", ""))

    @property
    def tables(self) -> dict[str, TableInfo]:
        """Each table's name, rows and date range, from the manifest."""
        from seedctl.parts import table_parts

        infos = {}
        for name, entry in self.manifest["tables"].items():
            rng = entry.get("date_range") or {}
            infos[name] = TableInfo(
                name=name,
                table=entry["table"],
                rows=int(entry["rows"]),
                time_column=rng.get("column"),
                min=rng.get("min"),
                max=rng.get("max"),
                partition=str(entry.get("partition") or "none"),
                files=len(table_parts(entry)),
                size_bytes=int(entry["size_bytes"]),
            )
        return infos

    def read(self, table: str, columns: list[str] | None = None, since: Bound = None, until: Bound = None) -> pa.Table:
        """The table's rows (optionally some columns, a time range) as a pyarrow.Table."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        entry = self._entry(table)
        time_column = (entry.get("date_range") or {}).get("column")
        window = time_range(since, until)
        if not window.unbounded and not time_column:
            raise QueryError(
                f"table {table} has no time column: since/until cannot apply",
                f"read it without since/until, or set sources.{table}.time_column in params.yaml",
            )
        parts = self.parts_for(table, window)
        wanted = None if columns is None else list(dict.fromkeys(columns))
        read_cols = wanted if wanted is None or window.unbounded else list(dict.fromkeys([*wanted, str(time_column)]))
        if not parts:  # no file overlaps the range: the smallest one gives the empty result its schema
            chosen = [min(self._all_parts(table), key=lambda p: int(p["size_bytes"]))]
        else:
            chosen = parts
        tables = []
        for part in chosen:
            parquet = pq.ParquetFile(pa.BufferReader(self.file_bytes(table, part)))
            _check_columns(table, parquet.schema_arrow.names, read_cols)
            tables.append(parquet.read(columns=read_cols))
        result = pa.concat_tables(tables)
        if not parts:
            result = result.slice(0, 0)
        elif not window.unbounded:
            result = result.filter(
                time_mask(result.column(time_column), result.schema.field(time_column), window, table)
            )
        return result.select(wanted) if wanted is not None else result

    def query(self, statement: str, since: Bound = None, until: Bound = None) -> pa.Table:
        """Run SQL with DuckDB over the snapshot's tables (each source a view over its verified
        rows, read as by read()); the result as a pyarrow.Table. Only the tables the
        statement names are read; with since/until, a table with a time column holds only the
        rows of that range, read from only the files that overlap it (tables without one are
        read whole). Raises QueryError with DuckDB's one-line reason."""
        import duckdb
        import pyarrow as pa

        tables = {name.lower(): name for name in self.manifest["tables"]}
        hint = f"the snapshot's tables: {', '.join(self.manifest['tables'])}"
        try:
            named = duckdb.get_table_names(statement)
        except duckdb.Error as exc:
            raise QueryError(_first_line(exc), hint) from None
        con = duckdb.connect()
        try:
            for name in sorted(named):
                source = tables.get(name.lower())
                if source is not None:
                    timed = bool((self._entry(source).get("date_range") or {}).get("column"))
                    rows = self.read(source, since=since, until=until) if timed else self.read(source)
                    con.register(source, rows)
            relation = con.sql(statement)
            return relation.to_arrow_table() if relation is not None else pa.table({})
        except duckdb.Error as exc:
            raise QueryError(_first_line(exc), hint) from None
        finally:
            con.close()

    def parts_for(self, table: str, window: TimeRange) -> list[dict[str, Any]]:
        """The manifest's files of `table` that can hold rows in the window, in row order."""
        return [p for p in self._all_parts(table) if part_needed(p.get("period"), window)]

    def file_bytes(self, table: str, part: dict[str, Any]) -> bytes:
        """One data file's bytes, verified against the manifest's sha256."""
        path = f"{SEEDS}/{part['file']}"
        data = self._fetch(table, path, str(part.get("md5") or ""))
        if hashlib.sha256(data).hexdigest() != part["sha256"]:
            self._evict(str(part.get("md5") or ""), part["sha256"])
            where = f" at {self.rev}" if self.rev else ""
            raise IntegrityError(
                f"{path} of table {table}{where}: sha256 does not match the manifest ({len(data)} bytes read)",
                ADVICE["corrupt"],
            )
        return data

    # --- DVC -------------------------------------------------------------------------------

    def _entry(self, table: str) -> dict[str, Any]:
        try:
            return dict(self.manifest["tables"][table])
        except KeyError:
            names = ", ".join(self.manifest["tables"]) or "none"
            raise QueryError(f"snapshot {self.version} has no table {table!r}", f"its tables: {names}") from None

    def _all_parts(self, table: str) -> list[dict[str, Any]]:
        from seedctl.parts import table_parts

        return table_parts(self._entry(table))

    def _fetch(self, table: str, path: str, md5: str) -> bytes:
        if not self._remote_ready and not self._local(path, md5):
            self._configure_remote()
        fs = self._filesystem()
        try:
            with fs.open(path, mode="rb", cache=True) as fh:
                return bytes(fh.read())
        except FileNotFoundError:
            raise RemoteError(
                f"{path} of table {table} is neither in the DVC cache nor in the remote", ADVICE["missing"]
            ) from None
        except Exception as exc:  # DVC and the S3 client raise many kinds; the operator needs one line
            if isinstance(exc, SeedctlError):
                raise
            detail = " ".join(str(exc).split())[:200]
            raise RemoteError(
                f"cannot read {path} of table {table} through DVC: {type(exc).__name__}: {detail}",
                "check MINIO_* (or .env) and that the remote answers (`make remote`)",
            ) from None

    def _local(self, path: str, md5: str) -> bool:
        """Is the file in the local cache (or, for the checkout, in the work tree)?"""
        if self.rev is None and (self.root / path).is_file():
            return True
        cached = self._cache_path(md5)
        return cached is not None and cached.is_file()

    def _cache_path(self, md5: str) -> Path | None:
        if not md5:
            return None
        return Path(self._filesystem().repo.cache.local.oid_to_path(md5))

    def _evict(self, md5: str, sha256: str) -> None:
        """Move a damaged object out of the cache (quarantined, never deleted), so that the
        next read fetches it again."""
        cached = self._cache_path(md5)
        if cached is None or not cached.is_file():
            return
        if hashlib.sha256(cached.read_bytes()).hexdigest() != sha256:
            Quarantine(quarantine_root(self.root)).move(cached, f"cache/{md5}")

    def _configure_remote(self) -> None:
        """The DVC remote from MINIO_* / .env, as `make remote` sets it up for `dvc pull`."""
        from seedctl.config import load_params
        from seedctl.store.remote import setup_remote

        setup_remote(self.root, load_params(self.root / "params.yaml"))
        self._remote_ready = True
        self._close()  # DVC reads its configuration when the file system is made

    def _filesystem(self) -> Any:
        if self._fs is None:
            from seedctl.store.dvc import filesystem

            self._fs = filesystem(self.root, self.commit)
        return self._fs

    def _close(self) -> None:
        if self._fs is not None:
            self._fs.close()
            self._fs = None

    def close(self) -> None:
        """Release DVC's repository handle (or use the snapshot as a context manager)."""
        self._close()

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class BucketSnapshot(Snapshot):
    """A version of the bucket's catalog: its verified manifest; each file downloaded and
    verified (size, md5, sha256) when read, never cached."""

    def __init__(self, root: Path, bucket: Any, version: Any) -> None:
        super().__init__(root, None, None, version.manifest)
        self._bucket, self._version = bucket, version

    def __repr__(self) -> str:
        return f"BucketSnapshot(version={self.version!r}, bucket={self._bucket.url!r}, tables={list(self.tables)})"

    def file_bytes(self, table: str, part: dict[str, Any]) -> bytes:
        return bytes(self._bucket.read(self._version, part["file"]))


def _first_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _check_columns(table: str, present: list[str], wanted: list[str] | None) -> None:
    missing = [c for c in wanted or [] if c not in present]
    if missing:
        raise QueryError(f"table {table} has no column {missing[0]!r}", f"its columns: {', '.join(present)}")
