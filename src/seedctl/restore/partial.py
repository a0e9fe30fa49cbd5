"""Which part of a snapshot a restore takes: the tables named with --table (all by default),
and the rows of a time range (--since/--until, all by default).

A name is a source (params.yaml `sources` key) or its table, qualified or not. A range
applies to tables with a time column only; it keeps the files whose period overlaps it
(timerange.part_needed, as the reader does) and, in them, the rows inside it
(timerange.time_mask); in the target, the same rows are those `in_range` selects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from seedctl.errors import ConfigError
from seedctl.parts import table_parts
from seedctl.timerange import US_PER_DAY, TimeRange, part_needed


@dataclass(frozen=True)
class Selection:
    sources: list[str]  # the manifest's table names (sources) to restore, in the manifest's order
    window: TimeRange
    named: bool  # --table was given: tables outside the selection may be referenced

    def parts(self, entry: dict[str, Any]) -> list[dict[str, Any]]:
        """The table's files that can hold rows in the window, in row order."""
        return [p for p in table_parts(entry) if part_needed(p.get("period"), self.window)]


def select(manifest: dict[str, Any], names: list[str], window: TimeRange) -> Selection:
    """The selection `names` and `window` make of the snapshot; ConfigError for a name that is
    not one of its tables, or a range over a table without a time column."""
    entries: dict[str, dict[str, Any]] = manifest["tables"]
    chosen = [_source(entries, name) for name in names] if names else list(entries)
    sources = [s for s in entries if s in chosen]
    if not window.unbounded:
        untimed = [s for s in sources if not time_column(entries[s])]
        if untimed:
            timed = [s for s in entries if time_column(entries[s])]
            raise ConfigError(
                f"--since/--until: table(s) {', '.join(untimed)} have no time column",
                f"name the tables to restore with --table (with a time column: {', '.join(timed) or 'none'})",
            )
    return Selection(sources, window, named=bool(names))


def _source(entries: dict[str, dict[str, Any]], name: str) -> str:
    if name in entries:
        return name
    by_table = [s for s, e in entries.items() if name in (e["table"], e["table"].split(".", 1)[-1])]
    if len(by_table) == 1:
        return by_table[0]
    raise ConfigError(f"--table {name}: the snapshot has no such table", f"its tables: {', '.join(entries) or 'none'}")


def time_column(entry: dict[str, Any]) -> str | None:
    """The column a range applies to, as the snapshot recorded it."""
    return (entry.get("date_range") or {}).get("column")


def in_range(column: str, pg_type: str, window: TimeRange) -> sql.Composable:
    """SQL true for the rows whose `column` lies in the window: the rows time_mask keeps, by the
    same microsecond bounds (the infinities compare as they are stored, past every bound)."""
    kind = pg_type.split("(")[0].strip()
    if kind == "date":
        epoch, unit = "'1970-01-01'::pg_catalog.date", US_PER_DAY
    elif kind == "timestamp" and "with time zone" in pg_type:
        epoch, unit = "'1970-01-01 00:00:00+00'::pg_catalog.timestamptz", 1
    else:
        epoch, unit = "'1970-01-01 00:00:00'::pg_catalog.timestamp", 1
    conditions: list[sql.Composable] = []
    for bound, op in ((window.lo, ">="), (window.hi, "<")):
        if bound is None:
            continue
        units = -(-bound // unit)  # value * unit >= lo  <=>  value >= ceil(lo / unit); the same for <
        if unit == US_PER_DAY:
            moment: sql.Composable = sql.SQL("{} + {}").format(sql.SQL(epoch), sql.Literal(units))
        else:  # whole days as 24 hours (no time zone rule applies), then exact microseconds
            days, micros = divmod(units, US_PER_DAY)
            moment = sql.SQL("{} + {} * interval '24 hours' + {} * interval '1 microsecond'").format(
                sql.SQL(epoch), sql.Literal(days), sql.Literal(micros)
            )
        conditions.append(sql.SQL("{} {} {}").format(sql.Identifier(column), sql.SQL(op), moment))
    return sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("true")
