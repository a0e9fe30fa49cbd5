"""params.yaml: the seed configuration, loaded and checked once, before any work starts.

The file mirrors the plan's seed_config.yaml (`storage`, `sources`, `backup`, `validation`).
Every section is a frozen dataclass; `load_params` builds them from YAML with strict
checking, so an unknown key, a wrong type or a bad identifier is one clear line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml

from seedctl.errors import ConfigError

# Table and column names are written as in SQL: a plain identifier, folded to lower case
# as PostgreSQL folds it, or a double-quoted one, taken exactly ("" is a quote inside it).
_UNQUOTED = r"[A-Za-z_][A-Za-z0-9_$]*"
_QUOTED = r'"(?:[^"\x00]|"")+"'
_NAME_PART = re.compile(rf"{_UNQUOTED}|{_QUOTED}")
_MAX_NAME_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL would silently truncate a longer name
# Source names become file names under seeds/data/ and DVC paths: keep them boring
# (no case folding issues, no separators, the same on every filesystem).
_SOURCE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")

Compression = Literal["zstd", "snappy", "gzip", "lz4", "none"]
# One data file per calendar month / year of the time column, or one file for the table.
Partition = Literal["none", "month", "year"]
SnapshotFormat = Literal["parquet"]


@dataclass(frozen=True)
class OhlcvColumns:
    """Column names of an OHLCV table, for the price-bar domain checks."""

    open: str = "open"
    high: str = "high"
    low: str = "low"
    close: str = "close"


@dataclass(frozen=True)
class Source:
    """One table to snapshot (`sources.<name>` in params.yaml)."""

    table: str
    required: bool = True
    min_rows: int = 0
    time_column: str | None = None
    fallback: list[str] = field(default_factory=list)
    # Per-source overrides of validation.max_null_ratio: one number for the whole
    # table, and/or per column (macro series start in different decades).
    max_null_ratio: float | None = None
    column_max_null_ratio: dict[str, float] = field(default_factory=dict)
    ohlcv: OhlcvColumns | None = None
    # Split into one file per month/year of time_column, so a snapshot after new rows
    # arrive stores and uploads only the files that changed (DVC content addressing).
    partition: Partition = "none"

    @property
    def schema_name(self) -> str:
        parts = parse_qualified_name(self.table)
        return parts[0] if len(parts) == 2 else "public"

    @property
    def table_name(self) -> str:
        return parse_qualified_name(self.table)[-1]

    def null_ratio_limit(self, column: str, default: float) -> float:
        if column in self.column_max_null_ratio:
            return self.column_max_null_ratio[column]
        return self.max_null_ratio if self.max_null_ratio is not None else default


@dataclass(frozen=True)
class Storage:
    """Where snapshots live: the DVC remote and the local backups of the fallback chain."""

    remote: str = "minio"
    bucket: str = "seeds"
    prefix: str = "seedctl"
    local_backup_dir: str = "backups"


@dataclass(frozen=True)
class Retention:
    """Tiered retention (`backup.retention`), as restic's `forget --keep-*` and pgBackRest's
    full/differential retention: the newest N versions, and the newest version of each of the
    last N hours, days, ISO weeks and months (UTC) that have one. 0 = that tier keeps nothing."""

    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0

    def tiers(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class Backup:
    """How snapshots are written and kept."""

    schedule: str = "0 2 * * 0"
    # The newest N versions: shorthand for `retention: {last: N}` (one or the other, not both).
    retention_count: int = 4
    retention: Retention | None = None
    format: SnapshotFormat = "parquet"
    compression: Compression = "zstd"
    compression_level: int | None = None
    # Rows per Parquet row group: also the bound on rows held in memory at once.
    batch_rows: int = 131072
    # Seconds the export waits for a table another session holds locked (a migration, a
    # restore's TRUNCATE) before it stops and names that session (pg_dump's --lock-wait-timeout).
    lock_timeout_s: int = 120
    # At most one database connection at a time (pg_dump's --jobs 1, and less): the export's
    # checksums are computed on its own connection, in its transaction, and no psql session
    # reads alongside. For a server that allows one session (PGlite, the test TimescaleDB) or
    # a role at its connection limit. The files and checksums are the same bytes either way.
    single_connection: bool = False
    # Snapshot versions (git tags such as seeds/v2026.01.04) that retention never removes.
    pinned: list[str] = field(default_factory=list)
    # Run after a successful restore (e.g. trigger the l0_ohlcv_backfill DAG); its exit
    # status is reported. Empty: nothing runs.
    post_restore_hook: str | None = None

    @property
    def retention_policy(self) -> Retention:
        """What retention keeps: `retention`, else `retention_count` as {last: N}."""
        return self.retention if self.retention is not None else Retention(last=self.retention_count)


@dataclass(frozen=True)
class Validation:
    """What a snapshot must satisfy before it may be pushed."""

    check_row_counts: bool = True
    check_date_ranges: bool = True
    check_null_ratios: bool = True
    check_primary_keys: bool = True
    check_domains: bool = True
    check_history: bool = True
    max_null_ratio: float = 0.05
    # Plausibility floor and ceiling for a source's time column.
    min_date: date = date(1900, 1, 1)
    max_future_days: int = 1
    # A past month losing rows versus the previous snapshot is an error unless allowed.
    allow_shrinking_history: bool = False


@dataclass(frozen=True)
class Params:
    """The whole of params.yaml."""

    sources: dict[str, Source]
    storage: Storage = field(default_factory=Storage)
    backup: Backup = field(default_factory=Backup)
    validation: Validation = field(default_factory=Validation)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def section_hashes(self) -> dict[str, str]:
        """sha256 of what shaped the snapshot's content (the manifest's config_snapshot).

        Operational settings (schedule, retention, pins, hooks, storage) are left out:
        changing them does not make a new snapshot.
        """
        backup = {k: self.raw.get("backup", {}).get(k) for k in SNAPSHOT_BACKUP_KEYS}
        parts = {"sources": self.raw.get("sources"), "backup": backup, "validation": self.raw.get("validation")}
        return {
            name: hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
            for name, value in parts.items()
        }


# The backup keys that change what a snapshot's files contain (dvc.yaml lists the same).
SNAPSHOT_BACKUP_KEYS = ("format", "compression", "compression_level", "batch_rows")


def load_params(path: Path | str = "params.yaml") -> Params:
    """Read and check params.yaml; any problem is a ConfigError naming the key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found", "run from the project root or pass --params") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte {exc.start})", "save the file as UTF-8") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}{where}: {problem}", "fix the YAML syntax") from None
    return parse_params(data, origin=str(path))


def parse_params(data: Any, origin: str = "params.yaml") -> Params:
    """Build Params from already-parsed YAML (a dict)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping with a 'sources' section")
    if "sources" not in data:
        raise ConfigError(f"{origin}: missing section 'sources'", "list the tables to snapshot")
    raw_sources = data["sources"]
    if not isinstance(raw_sources, dict) or not raw_sources:
        raise ConfigError(f"{origin}: 'sources' must map source names to tables")
    sources = {}
    for name, body in raw_sources.items():
        if not isinstance(name, str) or not _SOURCE_NAME.fullmatch(name):
            raise ConfigError(
                f"{origin}: sources.{name!s}: bad source name",
                "start with a lower-case letter; then lower-case letters, digits and _, at most 63 "
                "(it becomes a file name; the table itself may have any name, see `table`)",
            )
        sources[name] = _check_source(_build(Source, body, f"sources.{name}", origin), f"sources.{name}", origin)
    rest = {k: v for k, v in data.items() if k != "sources"}
    known = {"storage": Storage, "backup": Backup, "validation": Validation}
    for key in rest:
        if key not in known:
            raise ConfigError(
                f"{origin}: unknown section '{key}'",
                f"expected one of: sources, {', '.join(known)}",
            )
    sections = {key: _build(cls, rest.get(key, {}), key, origin) for key, cls in known.items()}
    _check_ranges(sections["backup"], sections["validation"], origin)
    _check_retention(sections["backup"], rest.get("backup") or {}, origin)
    return Params(sources=sources, raw=data, **sections)


def parse_qualified_name(text: str) -> list[str]:
    """`schema.table` or `table` as PostgreSQL reads it: the actual names, one or two.

    Unquoted parts fold to lower case; `"Mixed Case"` keeps its case, spaces and dots.
    ValueError for anything else (a trailing newline, a semicolon, three parts, ...).
    """
    names, pos = [], 0
    while True:
        match = _NAME_PART.match(text, pos)
        if match is None:
            raise ValueError(text)
        names.append(_name_of(match.group()))
        pos = match.end()
        if pos == len(text):
            break
        if text[pos] != "." or len(names) == 2:
            raise ValueError(text)
        pos += 1
    return names


def parse_column_name(text: str) -> str:
    """One column name as PostgreSQL reads it (see parse_qualified_name)."""
    if not _NAME_PART.fullmatch(text):
        raise ValueError(text)
    return _name_of(text)


def _name_of(token: str) -> str:
    name = token[1:-1].replace('""', '"') if token.startswith('"') else token.lower()
    if len(name.encode("utf-8")) > _MAX_NAME_BYTES:
        raise ValueError(token)
    return name


def _check_source(src: Source, where: str, origin: str) -> Source:
    """Check a source's names; returns it with its column names as PostgreSQL reads them."""
    try:
        parse_qualified_name(src.table)
    except ValueError:
        raise ConfigError(
            f"{origin}: {where}.table: bad identifier {src.table!r}",
            "use schema.table or table, as in SQL: unquoted names fold to lower case; "
            'double-quote others, e.g. public."Mixed Case"',
        ) from None

    def column(text: str) -> str:
        try:
            return parse_column_name(text)
        except ValueError:
            raise ConfigError(
                f"{origin}: {where}: bad column name {text!r}",
                "write it as in SQL: unquoted folds to lower case; double-quote others, e.g. '\"Close Price\"'",
            ) from None

    ratios: dict[str, float] = {}
    for key, ratio in src.column_max_null_ratio.items():
        name = column(key)
        if name in ratios:  # e.g. select and "select": one column, two limits
            raise ConfigError(
                f"{origin}: {where}.column_max_null_ratio: {key!r} names column {name!r} a second time",
                "keep one entry per column",
            )
        ratios[name] = ratio
    src = dataclasses.replace(
        src,
        time_column=column(src.time_column) if src.time_column else None,
        column_max_null_ratio=ratios,
        ohlcv=OhlcvColumns(*(column(c) for c in dataclasses.astuple(src.ohlcv))) if src.ohlcv else None,
    )
    if src.min_rows < 0:
        raise ConfigError(f"{origin}: {where}.min_rows must be >= 0")
    if src.partition != "none" and not src.time_column:
        raise ConfigError(
            f"{origin}: {where}.partition: {src.partition!r} needs a time_column",
            "name the table's time column, or set partition: none",
        )
    limits = list(src.column_max_null_ratio.values())
    if src.max_null_ratio is not None:
        limits.append(src.max_null_ratio)
    if any(not 0.0 <= r <= 1.0 for r in limits):
        raise ConfigError(f"{origin}: {where}: null ratios must be between 0 and 1")
    for entry in src.fallback:
        if ".." in Path(entry).parts:
            raise ConfigError(
                f"{origin}: {where}.fallback: path {entry!r} leaves its directory ('..')",
                "name the backup file directly",
            )
    return src


def _check_ranges(backup: Backup, validation: Validation, origin: str) -> None:
    if backup.batch_rows < 1024:
        raise ConfigError(f"{origin}: backup.batch_rows must be >= 1024")
    if backup.retention_count < 1:
        raise ConfigError(f"{origin}: backup.retention_count must be >= 1")
    if not 0.0 <= validation.max_null_ratio <= 1.0:
        raise ConfigError(f"{origin}: validation.max_null_ratio must be between 0 and 1")
    if len(backup.schedule.split()) != 5:
        raise ConfigError(f"{origin}: backup.schedule {backup.schedule!r} is not a 5-field cron expression")


def _check_retention(backup: Backup, raw: dict[str, Any], origin: str) -> None:
    if backup.retention is None:
        return
    if "retention_count" in raw:
        raise ConfigError(
            f"{origin}: backup.retention_count and backup.retention are both set",
            "keep one: retention_count N means retention {last: N}",
        )
    tiers = backup.retention.tiers()
    for name, count in tiers.items():
        if count < 0:
            raise ConfigError(f"{origin}: backup.retention.{name} must be >= 0 (got {count})")
    if not any(tiers.values()):
        raise ConfigError(
            f"{origin}: backup.retention keeps nothing (every tier is 0)",
            f"set at least one of {', '.join(tiers)} above 0",
        )


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (YAML would silently keep the last one)."""


def _mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


# --- strict dataclass construction -------------------------------------------------------


def _build(cls: type, data: Any, where: str, origin: str) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: {where}: expected a mapping, got {_kind(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "raw"}
    for key in data:
        if key not in fields:
            raise ConfigError(
                f"{origin}: {where}: unknown key '{key}'",
                f"expected one of: {', '.join(fields)}",
            )
    missing = [
        name
        for name, f in fields.items()
        if name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{origin}: {where}: missing key '{missing[0]}'")
    values = {key: _coerce(hints[key], value, f"{where}.{key}", origin) for key, value in data.items()}
    return cls(**values)


def _coerce(hint: Any, value: Any, where: str, origin: str) -> Any:
    origin_type = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin_type in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, where, origin)
    if origin_type is Literal:
        if value not in args:
            choices = ", ".join(map(str, args))
            raise ConfigError(f"{origin}: {where}: {value!r} is not one of {choices}")
        return value
    if origin_type is list:
        if not isinstance(value, list):
            raise ConfigError(f"{origin}: {where}: expected a list, got {_kind(value)}")
        return [_coerce(args[0], v, f"{where}[{i}]", origin) for i, v in enumerate(value)]
    if origin_type is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{origin}: {where}: expected a mapping, got {_kind(value)}")
        return {
            _coerce(args[0], k, where, origin): _coerce(args[1], v, f"{where}.{k}", origin) for k, v in value.items()
        }
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, where, origin)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{origin}: {where}: expected true or false, got {_kind(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{origin}: {where}: expected an integer, got {_kind(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{origin}: {where}: expected a number, got {_kind(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{origin}: {where}: expected a non-empty string, got {_kind(value)}")
        return value
    if hint is date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise ConfigError(f"{origin}: {where}: expected a date YYYY-MM-DD, got {value!r}") from None
    raise TypeError(f"unsupported config type {hint!r}")  # a bug in this module, not input


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    kinds: dict[type, str] = {dict: "a mapping", list: "a list", str: f"the string {value!r}"}
    return kinds.get(type(value), f"{type(value).__name__} {value!r}")
