"""Recreate a table, and what it needs to work, from the schema captured in a snapshot.

Before anything is written, the target is checked: extensions the snapshot's types come
from, user-defined types (a present one must match the snapshot's), and the columns of
target tables that already exist (same type, or a lossless widening: see widens()). Then
missing extensions, types and sequences are created, the table is created bare (columns,
types, NOT NULL, identity, defaults), loaded, and only then given its primary key,
constraints and indexes: building them once over the loaded rows is much faster than
maintaining them row by row. Sequences end at or above both their recorded state and the
restored ids. Names go through psycopg.sql.Identifier and values through Literal; the
few catalog texts that cannot (type spellings, defaults, CHECK and index definitions)
are checked for shape so that an edited schema.json cannot smuggle a second statement in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from seedctl.errors import IntegrityError
from seedctl.pg.catalog import Column, Sequence, TableSchema, UserType, describe_type, read_sequences, table_oid
from seedctl.pg.objects import checked_text

# format_type() output: words, digits, spaces, commas, parentheses, brackets, dots, and
# quoted identifiers (any characters: quote_ident quotes every name that is not lowercase
# ASCII, "tamaño" as "app-v2"; a quote inside is doubled, so nothing escapes them).
_TYPE_SHAPE = re.compile(r'(?:[A-Za-z0-9_ ,()\[\].]|"(?:[^"]|"")+")+')
_INDEX_SHAPE = re.compile(r"CREATE (UNIQUE )?INDEX [^;]+")
_CONSTRAINT_SHAPE = re.compile(r"(UNIQUE|CHECK|EXCLUDE) [^;]+")
_CHECK_SHAPE = re.compile(r"CHECK [^;]+")
_DEFAULT_SHAPE = re.compile(r"[^;]+")
_PARTITION_KEY_SHAPE = re.compile(r"(RANGE|LIST|HASH) \([^;]+\)")
_BOUND_SHAPE = re.compile(r"FOR VALUES [^;]+|DEFAULT")
_SEQUENCE_TYPE_SHAPE = re.compile(r"smallint|integer|bigint")
_COLLATION_SHAPE = re.compile(r'(?:[a-z_][a-z0-9_$]*|"(?:[^"]|"")+")\.(?:[a-z_][a-z0-9_$]*|"(?:[^"]|"")+")')
_INTEGER_TYPES = ("int2", "int4", "int8")


def _checked(pattern: re.Pattern[str], text: str, what: str, table: TableSchema) -> str:
    return checked_text(pattern, text, what, table.qualified)


@dataclass
class Prerequisites:
    """What the target lacks for the snapshot's tables, and why it cannot be given it."""

    extensions: list[tuple[str, TableSchema]] = field(default_factory=list)  # available, to CREATE EXTENSION
    types: list[tuple[UserType, TableSchema]] = field(default_factory=list)  # to create, dependencies first
    functions: list[tuple[dict[str, str], TableSchema]] = field(default_factory=list)  # to create
    problems: list[tuple[str, str]] = field(default_factory=list)  # (what is wrong, the fix)


def prerequisites(conn: psycopg.Connection, tables: list[TableSchema]) -> Prerequisites:
    """Read-only: the extensions and types the tables need that the target lacks, and every
    present type that differs from the snapshot's (a refusal: nothing may be written)."""
    found = Prerequisites()
    installed = {r[0] for r in conn.execute("SELECT extname FROM pg_extension").fetchall()}
    available = {r[0] for r in conn.execute("SELECT name FROM pg_available_extensions").fetchall()}
    seen_extensions: set[str] = set()
    seen_types: set[str] = set()
    seen_functions: set[str] = set()
    for table in tables:
        for ext in table.extensions:
            name = ext["name"]
            if name in installed or name in seen_extensions:
                continue
            seen_extensions.add(name)
            if name in available:
                found.extensions.append((name, table))
            else:
                found.problems.append(
                    (
                        f"table {table.qualified} needs extension {name}, which is not available on the target server",
                        f"install its package on the server, then run as a superuser: {create_extension_sql(name)}",
                    )
                )
        for utype in table.types:
            if utype.qualified in seen_types:
                continue
            seen_types.add(utype.qualified)
            present = describe_type(conn, utype.identifier())
            if present is None:
                found.types.append((utype, table))
            elif (diff := type_difference(utype, present)) is not None:
                found.problems.append(
                    (
                        f"table {table.qualified}: type {utype.qualified} on the target differs from the "
                        f"snapshot's: {diff}",
                        f"restore into a new database, or change {utype.qualified} on the target to match the snapshot",
                    )
                )
        for function in table.functions:
            if function["signature"] in seen_functions:
                continue
            seen_functions.add(function["signature"])
            defined = conn.execute("SELECT to_regprocedure(%s)", (function["signature"],)).fetchone()
            if not defined or defined[0] is None:
                found.functions.append((function, table))
    return found


def create_extension_sql(name: str) -> str:
    return f"CREATE EXTENSION IF NOT EXISTS {show_name(name)} CASCADE;"


def type_difference(recorded: UserType, present: UserType) -> str | None:
    """How a type on the target differs from the snapshot's, or None if the snapshot's
    values load into it and compare equal. An enum may have more labels on the target, as
    long as the snapshot's keep their relative order."""
    if present.kind != recorded.kind:
        return f"it is {'an' if present.kind == 'enum' else 'a'} {present.kind} there, {recorded.kind} in the snapshot"
    if recorded.kind == "enum":
        order = [label for label in present.labels if label in set(recorded.labels)]
        if order != recorded.labels:
            return f"enum labels {present.labels} there, {recorded.labels} in the snapshot"
    elif recorded.kind == "domain":
        if present.base_type != recorded.base_type:
            return f"domain over {present.base_type} there, over {recorded.base_type} in the snapshot"
    elif recorded.kind == "composite":
        there = [(a["name"], a["type"]) for a in present.attributes]
        snap = [(a["name"], a["type"]) for a in recorded.attributes]
        if there != snap:
            return f"attributes {_attrs(there)} there, {_attrs(snap)} in the snapshot"
    return None


def _attrs(attributes: list[tuple[str, str]]) -> str:
    return "(" + ", ".join(f"{n} {t}" for n, t in attributes) + ")"


def create_extension(conn: psycopg.Connection, name: str) -> None:
    """CREATE EXTENSION, in the restore's transaction."""
    conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {} CASCADE").format(sql.Identifier(name)))


def create_type(conn: psycopg.Connection, utype: UserType, table: TableSchema) -> None:
    """CREATE TYPE / CREATE DOMAIN as recorded (its dependencies already exist)."""
    name = utype.identifier()
    parts: list[sql.Composable]
    if utype.kind == "enum":
        parts = [
            sql.SQL("CREATE TYPE {} AS ENUM ({})").format(
                name, sql.SQL(", ").join(sql.Literal(label) for label in utype.labels)
            )
        ]
    elif utype.kind == "domain":
        parts = [
            sql.SQL("CREATE DOMAIN {} AS {}").format(
                name, sql.SQL(_checked(_TYPE_SHAPE, utype.base_type, "type", table))
            )
        ]
        if utype.default is not None:
            parts.append(
                sql.SQL("DEFAULT {}").format(sql.SQL(_checked(_DEFAULT_SHAPE, utype.default, "default", table)))
            )
        if utype.not_null:
            parts.append(sql.SQL("NOT NULL"))
        for check in utype.checks:
            parts.append(
                sql.SQL("CONSTRAINT {} {}").format(
                    sql.Identifier(check["name"]), sql.SQL(_checked(_CHECK_SHAPE, check["definition"], "check", table))
                )
            )
    elif utype.kind == "composite":
        parts = [
            sql.SQL("CREATE TYPE {} AS ({})").format(
                name,
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(
                        sql.Identifier(a["name"]), sql.SQL(_checked(_TYPE_SHAPE, a["type"], "type", table))
                    )
                    for a in utype.attributes
                ),
            )
        ]
    else:
        _checked(re.compile("enum|domain|composite"), utype.kind, "type kind", table)
        return
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(utype.schema)))
        cur.execute(sql.SQL(" ").join(parts))


def _sequence_options(seq: Sequence, table: TableSchema) -> sql.Composable:
    """The options CREATE SEQUENCE and GENERATED ... AS IDENTITY (...) share."""
    return sql.SQL("START WITH {} INCREMENT BY {} MINVALUE {} MAXVALUE {} CACHE {} {}").format(
        *(sql.Literal(_integer(v, table)) for v in (seq.start, seq.increment, seq.min_value, seq.max_value, seq.cache)),
        sql.SQL("CYCLE" if seq.cycle else "NO CYCLE"),
    )


def _integer(value: object, table: TableSchema) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise IntegrityError(
            f"snapshot schema of {table.qualified}: unexpected sequence value {str(value)[:40]!r}",
            "the manifest may have been edited; restore it from git",
        )
    return value


def create_sequences(conn: psycopg.Connection, table: TableSchema) -> None:
    """The non-identity sequences the table's defaults draw from, where missing (identity
    sequences come with CREATE TABLE)."""
    with conn.cursor() as cur:
        for seq in table.sequences:
            if seq.identity:
                continue
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(seq.schema)))
            cur.execute(
                sql.SQL("CREATE SEQUENCE IF NOT EXISTS {} AS {} {}").format(
                    seq.identifier(),
                    sql.SQL(_checked(_SEQUENCE_TYPE_SHAPE, seq.data_type, "sequence type", table)),
                    _sequence_options(seq, table),
                )
            )


def create_table(conn: psycopg.Connection, table: TableSchema) -> list[str]:
    """CREATE TABLE without keys or indexes, its sequences owned as recorded; returns notes
    for the operator. The table's non-identity sequences must exist (create_sequences)."""
    notes = []
    columns = []
    for col in table.all_columns():
        parts = [sql.Identifier(col.name), sql.SQL(_checked(_TYPE_SHAPE, col.pg_type, "type", table))]
        if col.collation:
            parts.append(
                sql.SQL("COLLATE {}").format(sql.SQL(_checked(_COLLATION_SHAPE, col.collation, "collation", table)))
            )
        drawn = next((s for s in table.sequences if col.name in s.default_columns), None)
        if col.generated:
            _checked(re.compile("s"), col.generated, "generated column kind", table)
            parts.append(
                sql.SQL("GENERATED ALWAYS AS ({}) STORED").format(
                    sql.SQL(_checked(_DEFAULT_SHAPE, col.default or "", "generation expression", table))
                )
            )
        elif col.identity:
            kind = "ALWAYS" if col.identity == "a" else "BY DEFAULT"
            parts.append(sql.SQL(f"GENERATED {kind} AS IDENTITY"))
            own = next((s for s in table.sequences if s.identity and s.owned_by[2:] == [col.name]), None)
            if own is not None:
                parts.append(sql.SQL("(SEQUENCE NAME {} {})").format(own.identifier(), _sequence_options(own, table)))
        elif drawn is not None:
            parts.append(
                sql.SQL("DEFAULT pg_catalog.nextval({}::pg_catalog.regclass)").format(
                    sql.Literal(drawn.identifier().as_string(conn))
                )
            )
        elif col.default and "nextval(" in col.default:
            notes.append(
                f"column {col.name}: default {col.default} not recreated (its sequence is not part of the snapshot)"
            )
        elif col.default:
            parts.append(sql.SQL("DEFAULT {}").format(sql.SQL(_checked(_DEFAULT_SHAPE, col.default, "default", table))))
        if col.not_null:
            parts.append(sql.SQL("NOT NULL"))
        columns.append(sql.SQL(" ").join(parts))
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(table.schema)))
        cur.execute(
            sql.SQL("CREATE TABLE {} ({}){}").format(
                table.identifier(), sql.SQL(", ").join(columns), _partition_by(table.partition_key, table)
            )
        )
        # "parent" is the unquoted schema.name text: look it up, never split it on a dot.
        known = {table.qualified: table.identifier()}
        for part in table.partitions:  # listed parents first
            known[f"{part['schema']}.{part['name']}"] = sql.Identifier(part["schema"], part["name"])
        for part in table.partitions:
            parent = known[part["parent"]]
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(part["schema"])))
            cur.execute(
                sql.SQL("CREATE TABLE {} PARTITION OF {} {}{}").format(
                    sql.Identifier(part["schema"], part["name"]),
                    parent,
                    sql.SQL(_checked(_BOUND_SHAPE, part["bound"], "partition bound", table)),
                    _partition_by(part.get("key", ""), table),
                )
            )
        for name, text in table.comments.items():
            target = table.identifier() if not name else sql.Identifier(table.schema, table.name, name)
            cur.execute(
                sql.SQL("COMMENT ON {} {} IS {}").format(
                    sql.SQL("COLUMN" if name else "TABLE"), target, sql.Literal(text)
                )
            )
        for seq in table.sequences:
            if seq.identity or len(seq.owned_by) != 3:
                continue
            if seq.owned_by[:2] == [table.schema, table.name] and table.column(seq.owned_by[2]):
                cur.execute(
                    sql.SQL("ALTER SEQUENCE {} OWNED BY {}").format(
                        seq.identifier(), sql.Identifier(table.schema, table.name, seq.owned_by[2])
                    )
                )
    return notes


def _partition_by(key: str, table: TableSchema) -> sql.Composable:
    if not key:
        return sql.SQL("")
    return sql.SQL(" PARTITION BY {}").format(sql.SQL(_checked(_PARTITION_KEY_SHAPE, key, "partition key", table)))


def add_keys_and_indexes(conn: psycopg.Connection, table: TableSchema) -> None:
    """Primary key, unique/check constraints and indexes, after the rows are in."""
    with conn.cursor() as cur:
        if table.primary_key:
            cur.execute(
                sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
                    table.identifier(), sql.SQL(", ").join(sql.Identifier(c) for c in table.primary_key)
                )
            )
        for constraint in table.constraints:
            cur.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                    table.identifier(),
                    sql.Identifier(constraint["name"]),
                    sql.SQL(_checked(_CONSTRAINT_SHAPE, constraint["definition"], "constraint", table)),
                )
            )
        for index in table.indexes:
            cur.execute(sql.SQL(_checked(_INDEX_SHAPE, index, "index", table)))


_FOREIGN_KEY_SHAPE = re.compile(r"FOREIGN KEY [^;]+")


def add_foreign_key(conn: psycopg.Connection, table: TableSchema, fk: dict[str, str]) -> str | None:
    """ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY, as recorded, if the referenced table
    exists on the target; otherwise a note (one line: what and how to add it later)."""
    statement = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
        table.identifier(),
        sql.Identifier(fk["name"]),
        sql.SQL(_checked(_FOREIGN_KEY_SHAPE, fk["definition"], "foreign key", table)),
    )
    if table_oid(conn, sql.Identifier(fk["ref_schema"], fk["ref_table"])) is None:
        return (
            f"foreign key {fk['name']} not recreated: table {fk['ref_schema']}.{fk['ref_table']} is neither in "
            f"the snapshot nor on the target; once it is, run: ALTER TABLE {show_name(table.schema, table.name)} "
            f"ADD CONSTRAINT {show_name(fk['name'])} {fk['definition']};"
        )
    conn.execute(statement)
    return None


def bump_sequences(conn: psycopg.Connection, table: TableSchema) -> None:
    """Every sequence the target table draws from continues after the snapshot: at or above
    both the state recorded in the snapshot and the restored ids. Sequences are only ever
    raised, never lowered.

    setval() is not transactional: if the restore is rolled back the sequence keeps its
    new value. Touching it only when a restored id would otherwise come up again means a
    rolled-back restore can at worst skip ids, never hand out one a row already has.

    The sequences are read from the target's catalog (a schema created by migrations may
    name them otherwise); the recorded state is matched by the sequence's name.
    """
    oid = table_oid(conn, table.identifier())
    if oid is None:
        return
    recorded = {s.qualified: s for s in table.sequences}
    for seq in read_sequences(conn, oid):
        candidates: list[tuple[int, bool]] = []
        if (rec := recorded.get(seq.qualified)) is not None and rec.last_value is not None:
            candidates.append((_integer(rec.last_value, table), bool(rec.is_called)))
        users = list(seq.default_columns)
        if seq.owned_by[:2] == [table.schema, table.name]:
            users.append(seq.owned_by[2])
        for name in dict.fromkeys(users):
            col = table.column(name)
            if col is None or col.base_type not in _INTEGER_TYPES:
                continue
            row = conn.execute(
                sql.SQL("SELECT {}({}) FROM {}").format(
                    sql.SQL("max" if seq.increment > 0 else "min"), sql.Identifier(name), table.identifier()
                )
            ).fetchone()
            if row and row[0] is not None:
                candidates.append((int(row[0]), True))
        if not candidates:
            continue
        best = max(candidates, key=lambda state: _ahead(state, seq.increment))
        if _ahead(best, seq.increment) > _ahead((int(seq.last_value or 0), seq.is_called), seq.increment):
            conn.execute(
                sql.SQL("SELECT pg_catalog.setval({}::pg_catalog.regclass, {}, {})").format(
                    sql.Literal(seq.identifier().as_string(conn)), sql.Literal(best[0]), sql.Literal(best[1])
                )
            )


def _ahead(state: tuple[int, bool], increment: int) -> int:
    """How far along its direction nextval() goes next from (last_value, is_called)."""
    following = state[0] + increment if state[1] else state[0]
    return following if increment > 0 else -following


# Lossless widenings an existing target column may have over the snapshot's type
# (format_type() spellings). Restored values keep their exact value, and the content
# checksum is computed on the target's values cast back to the snapshot's type.
_INTEGER_RANK = {"smallint": 0, "integer": 1, "bigint": 2}
_VARCHAR = re.compile(r"character varying(?:\((\d+)\))?")
_NUMERIC = re.compile(r"numeric(?:\((\d+)(?:,(-?\d+))?\))?")
_TIMESTAMP = re.compile(r"timestamp(?:\((\d)\))? (with|without) time zone")


def widens(snapshot_type: str, target_type: str) -> bool:
    """Does a target column of target_type hold every value of snapshot_type exactly?

    Yes for: the same type; smallint -> integer -> bigint; varchar(n) -> varchar(m >= n),
    varchar, text (and varchar <-> text); numeric(p,s) -> numeric(p' >= p, s) or numeric;
    timestamp[tz](p) -> timestamp[tz](q >= p). Not real -> double precision: the restored
    value would be the decimal text read as float8, not the float4 value widened.
    """
    if snapshot_type == target_type:
        return True
    if snapshot_type in _INTEGER_RANK and target_type in _INTEGER_RANK:
        return _INTEGER_RANK[target_type] > _INTEGER_RANK[snapshot_type]
    if (snap := _VARCHAR.fullmatch(snapshot_type)) or snapshot_type == "text":
        if target_type == "text":
            return True
        there = _VARCHAR.fullmatch(target_type)
        if there is None:
            return False
        if there.group(1) is None:
            return True
        return snap is not None and snap.group(1) is not None and int(there.group(1)) >= int(snap.group(1))
    if (snap := _NUMERIC.fullmatch(snapshot_type)) and (there := _NUMERIC.fullmatch(target_type)):
        if there.group(1) is None:
            return True
        if snap.group(1) is None:
            return False
        return (there.group(2) or "0") == (snap.group(2) or "0") and int(there.group(1)) >= int(snap.group(1))
    if (snap := _TIMESTAMP.fullmatch(snapshot_type)) and (there := _TIMESTAMP.fullmatch(target_type)):
        return snap.group(2) == there.group(2) and int(there.group(1) or 6) >= int(snap.group(1) or 6)
    return False


def column_problems(table: TableSchema, target: list[Column]) -> list[tuple[str, str]]:
    """Why the snapshot's rows cannot be loaded into the existing target table, as
    (what, fix) pairs; [] if they can. Like pg_restore --data-only (COPY with a column
    list): every snapshot column must exist with the same or a wider type; an extra target
    column is fine if it may be left to its default (nullable, or with a DEFAULT)."""
    problems = []
    there = {c.name: c for c in target}
    name = show_name(table.schema, table.name)
    for col in table.columns:
        have = there.get(col.name)
        if have is None:
            problems.append(
                (
                    f"table {table.qualified}: column {col.name} ({col.pg_type}) is missing in the target table",
                    f"add it (ALTER TABLE {name} ADD COLUMN {show_name(col.name)} {col.pg_type};) "
                    "or restore into a new database",
                )
            )
        elif have.generated:
            problems.append(
                (
                    f"table {table.qualified}: column {col.name} is a generated column in the target table, "
                    "a stored column in the snapshot",
                    f"drop its expression (ALTER TABLE {name} ALTER COLUMN {show_name(col.name)} DROP EXPRESSION;) "
                    "or restore into a new database",
                )
            )
        elif not widens(col.pg_type, have.pg_type):
            problems.append(
                (
                    f"table {table.qualified}: column {col.name} is {have.pg_type} in the target table, "
                    f"{col.pg_type} in the snapshot",
                    f"change it (ALTER TABLE {name} ALTER COLUMN {show_name(col.name)} "
                    f"TYPE {col.pg_type} USING {show_name(col.name)}::{col.pg_type};) or restore into a new database",
                )
            )
    for col in target:
        if (
            col.name not in {c.name for c in table.columns}
            and col.not_null
            and col.default is None
            and not col.identity
        ):
            problems.append(
                (
                    f"table {table.qualified}: column {col.name} of the target table is NOT NULL without a default "
                    "and not in the snapshot",
                    f"give it a default or drop NOT NULL (ALTER TABLE {name} ALTER COLUMN "
                    f"{show_name(col.name)} DROP NOT NULL;) or restore into a new database",
                )
            )
    return problems


# PostgreSQL's reserved key words (pg_get_keywords() catcode 'R'): a hint that names a
# column `order` unquoted would be a syntax error.
_RESERVED = frozenset(
    """
    all analyse analyze and any array as asc asymmetric both case cast check collate column constraint
    create current_catalog current_date current_role current_time current_timestamp current_user default
    deferrable desc distinct do else end except false fetch for foreign from grant group having in
    initially intersect into lateral leading limit localtime localtimestamp not null offset on only or
    order placing primary references returning select session_user some symmetric system_user table then
    to trailing true union unique user using variadic when where window with""".split()
)


def show_name(*parts: str) -> str:
    """A (qualified) name as SQL text for a hint, quoted where needed, without a connection."""
    return ".".join(
        p if re.fullmatch(r"[a-z_][a-z0-9_]*", p) and p not in _RESERVED else '"' + p.replace('"', '""') + '"'
        for p in parts
    )


def widened_columns(table: TableSchema, target: list[Column]) -> list[Column]:
    """The snapshot's columns whose target type is a (different) widening."""
    there = {c.name: c.pg_type for c in target}
    return [
        c for c in table.columns if c.name in there and there[c.name] != c.pg_type and widens(c.pg_type, there[c.name])
    ]


def as_snapshot_types(target: sql.Composable, table: TableSchema, widened: list[Column]) -> sql.Composable:
    """`target` as a relation with the snapshot's column types, for the content checksum:
    the widened columns cast back (exact: every value came from the snapshot's type)."""
    if not widened:
        return target
    cast = {c.name: c.pg_type for c in widened}
    return sql.SQL("(SELECT {} FROM {}) AS seedctl_snapshot_types").format(
        sql.SQL(", ").join(
            sql.SQL("{c}::{t} AS {c}").format(
                c=sql.Identifier(c.name), t=sql.SQL(_checked(_TYPE_SHAPE, cast[c.name], "type", table))
            )
            if c.name in cast
            else sql.Identifier(c.name)
            for c in table.columns
        ),
        target,
    )
