"""What a table looks like, read from the PostgreSQL catalog (never guessed from data).

The result is saved with every snapshot so that a restore can recreate the table on a
server that has never seen it: columns with their exact types, nullability, primary key,
other indexes and constraints, the TimescaleDB hypertable settings where present, and, as
pg_dump does, what the table needs to work: the sequences its columns draw from (with
their state), the user-defined types its columns use (enum, domain, composite, arrays of
these; in dependency order) and the extensions that provide the others.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import psycopg
from psycopg import sql

from seedctl.config import Source
from seedctl.errors import ConfigError, ExportError
from seedctl.pg import db
from seedctl.pg.hypertable import Hypertable, read_hypertable, refuse_continuous_aggregate
from seedctl.pg.objects import TableObjects


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str  # format_type(): e.g. "numeric(12,4)", "timestamp with time zone"
    base_type: str  # pg_type.typname of the (domain's base) type: "numeric", "timestamptz"
    typmod: int
    not_null: bool
    identity: str = ""  # "a" ALWAYS, "d" BY DEFAULT, "" not an identity column
    default: str | None = None  # for a generated column: its expression
    generated: str = ""  # "s" GENERATED ALWAYS AS (default) STORED, "" a plain column
    collation: str = ""  # a collation other than its type's default, as SQL ("pg_catalog.\"C\"")


@dataclass(frozen=True)
class SchemaObject:
    """Something named within a schema: a table, sequence or type."""

    schema: str
    name: str

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)


@dataclass(frozen=True)
class Sequence(SchemaObject):
    """A sequence a table's column draws from: definition (as CREATE SEQUENCE takes it) and state."""

    data_type: str  # format_type(): smallint, integer, bigint
    start: int
    increment: int
    min_value: int
    max_value: int
    cache: int
    cycle: bool
    owned_by: list[str] = field(default_factory=list)  # [schema, table, column], or [] if unowned
    identity: str = ""  # the owning column's identity kind ("a"/"d") if it is an identity sequence
    default_columns: list[str] = field(default_factory=list)  # this table's columns with DEFAULT nextval(it)
    last_value: int | None = None  # None: the exporting role may not read the sequence
    is_called: bool = False


@dataclass(frozen=True)
class UserType(SchemaObject):
    """An enum, domain or composite type a table's columns use (directly or nested)."""

    kind: str  # "enum", "domain" or "composite"
    labels: list[str] = field(default_factory=list)  # enum: in sort order (enumsortorder)
    base_type: str = ""  # domain: format_type() of its base type
    not_null: bool = False  # domain
    default: str | None = None  # domain
    checks: list[dict[str, str]] = field(default_factory=list)  # domain: name, definition
    attributes: list[dict[str, str]] = field(default_factory=list)  # composite: name, type


@dataclass(frozen=True)
class TableSchema(SchemaObject):
    columns: list[Column]
    primary_key: list[str]
    indexes: list[str] = field(default_factory=list)  # CREATE INDEX statements
    constraints: list[dict[str, str]] = field(default_factory=list)  # unique/check/exclusion
    hypertable: Hypertable | None = None
    sequences: list[Sequence] = field(default_factory=list)
    types: list[UserType] = field(default_factory=list)  # dependencies first
    extensions: list[dict[str, str]] = field(default_factory=list)  # name, version
    # Generated columns are not data: like pg_dump, a snapshot neither exports nor loads
    # them; they are recreated (in table order: `layout`, every column's name) on restore.
    generated: list[Column] = field(default_factory=list)
    layout: list[str] = field(default_factory=list)
    comments: dict[str, str] = field(default_factory=dict)  # "" the table's, else a column's
    # User-defined functions its defaults, generated columns, constraints and indexes call
    # (schema, name, signature, definition: pg_get_functiondef), as pg_dump recreates them.
    functions: list[dict[str, str]] = field(default_factory=list)
    # FOREIGN KEY constraints (name, definition, ref_schema, ref_table): added after every
    # table is loaded, where the referenced table exists on the target.
    foreign_keys: list[dict[str, str]] = field(default_factory=list)
    # Declarative partitioning: the key (pg_get_partkeydef) and every partition below the
    # table, parents first (schema, name, parent "schema.name", bound, key if partitioned).
    partition_key: str = ""
    partitions: list[dict[str, str]] = field(default_factory=list)
    # Triggers, row-level security, grants, views (objects.py); None: not recorded (format 5).
    objects: TableObjects | None = None

    def all_columns(self) -> list[Column]:
        """Data and generated columns, in the table's order."""
        named = {c.name: c for c in (*self.columns, *self.generated)}
        order = [n for n in self.layout if n in named] or list(named)
        return [named[n] for n in order] + [c for n, c in named.items() if n not in order]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def order_by(self) -> list[str]:
        """Primary-key order, else every column: either way a total, repeatable order."""
        return self.primary_key or [c.name for c in self.columns]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableSchema:
        hyper = data.get("hypertable")
        return cls(
            schema=data["schema"],
            name=data["name"],
            columns=[Column(**c) for c in data["columns"]],
            primary_key=list(data["primary_key"]),
            indexes=list(data.get("indexes", [])),
            constraints=list(data.get("constraints", [])),
            hypertable=Hypertable(**hyper) if hyper else None,
            # Snapshots made before these were recorded (formats 1 and 2) have none.
            sequences=[Sequence(**q) for q in data.get("sequences", [])],
            types=[UserType(**t) for t in data.get("types", [])],
            extensions=[dict(e) for e in data.get("extensions", [])],
            generated=[Column(**c) for c in data.get("generated", [])],
            layout=list(data.get("layout", [])),
            comments=dict(data.get("comments", {})),
            functions=[dict(f) for f in data.get("functions", [])],
            foreign_keys=[dict(f) for f in data.get("foreign_keys", [])],
            partition_key=data.get("partition_key", ""),
            partitions=[dict(p) for p in data.get("partitions", [])],
            objects=TableObjects.from_dict(data["objects"]) if data.get("objects") is not None else None,
        )


def read_table_schema(conn: psycopg.Connection, source_name: str, source: Source, *, timescaledb: bool) -> TableSchema:
    """The catalog's description of a configured source; ConfigError if it does not exist."""
    schema, name = source.schema_name, source.table_name
    if timescaledb and schema.startswith("_timescaledb_"):
        raise ConfigError(
            f"sources.{source_name}: {schema}.{name} is in TimescaleDB's internal schema {schema} "
            "(a chunk or catalog table, not a user table)",
            "name the hypertable itself in sources.<name>.table: its chunks are read through it",
        )
    oid = table_oid(conn, sql.Identifier(schema, name))
    with conn.cursor() as cur:
        if oid is None:
            raise ConfigError(
                f"sources.{source_name}: table {schema}.{name} does not exist in the database",
                "create it, fix sources.<name>.table in params.yaml, or point DATABASE_URL elsewhere",
            )
        if timescaledb:
            refuse_continuous_aggregate(conn, source_name, schema, name)
        every = read_columns(conn, oid)
        cur.execute(
            """
            SELECT a.attname
            FROM pg_index i
            CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            WHERE i.indrelid = %s AND i.indisprimary
            ORDER BY k.ord
            """,
            (oid,),
        )
        primary_key = [r[0] for r in cur.fetchall()]
    with db.qualified_names(conn), conn.cursor() as cur:
        # Defaults and generation expressions, as the checks and indexes: schema-qualified.
        cur.execute(
            "SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a "
            "ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = %s",
            (oid,),
        )
        expressions: dict[str, str] = dict(cur.fetchall())
        every = [replace(c, default=expressions[c.name]) if c.name in expressions else c for c in every]
        columns = [c for c in every if not c.generated]
        # Indexes that back a constraint are recreated by the constraint itself.
        # An index of a partitioned table is defined ON ONLY it, then attached partition by
        # partition (pg_dump's way); recreated plainly, it is built on every partition at once.
        # Replaced next to the table's name (spelled alike here: search_path is empty), never
        # inside a quoted index name.
        cur.execute(
            """
            SELECT replace(pg_get_indexdef(i.indexrelid), ' ON ONLY ' || i.indrelid::regclass || ' ',
                           ' ON ' || i.indrelid::regclass || ' ')
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = %s AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
            ORDER BY c.relname
            """,
            (oid,),
        )
        indexes = [r[0] for r in cur.fetchall()]
        partition_key, partitions = _partitions(conn, oid)
        cur.execute(
            """
            SELECT conname, contype::text, pg_get_constraintdef(oid)
            FROM pg_constraint
            WHERE conrelid = %s AND contype IN ('u', 'c', 'x')
            ORDER BY conname
            """,
            (oid,),
        )
        constraints = [{"name": r[0], "type": r[1], "definition": r[2]} for r in cur.fetchall()]
        cur.execute(
            """
            SELECT k.conname, pg_get_constraintdef(k.oid), n.nspname, c.relname
            FROM pg_constraint k JOIN pg_class c ON c.oid = k.confrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE k.conrelid = %s AND k.contype = 'f' AND k.conparentid = 0
            ORDER BY k.conname
            """,
            (oid,),
        )
        foreign_keys = [
            {"name": r[0], "definition": r[1], "ref_schema": r[2], "ref_table": r[3]} for r in cur.fetchall()
        ]
    hypertable = read_hypertable(conn, schema, name) if timescaledb else None
    types, extensions = _user_types(conn, oid, f"sources.{source_name}: table {schema}.{name}")
    functions, providers = read_functions(conn, oid)
    if providers:
        versions: dict[str, str] = dict(conn.execute("SELECT extname, extversion FROM pg_extension").fetchall())
        known = {e["name"] for e in extensions}
        extensions = sorted(
            [*extensions, *({"name": e, "version": versions.get(e, "")} for e in providers if e not in known)],
            key=lambda e: e["name"],
        )
    table = TableSchema(
        schema,
        name,
        columns,
        primary_key,
        indexes,
        constraints,
        hypertable,
        sequences=read_sequences(conn, oid),
        types=types,
        extensions=extensions,
        generated=[c for c in every if c.generated],
        layout=[c.name for c in every],
        comments=read_comments(conn, oid),
        functions=functions,
        foreign_keys=foreign_keys,
        partition_key=partition_key,
        partitions=partitions,
    )
    _check_configured_columns(source_name, source, table)
    return table


def table_oid(conn: psycopg.Connection, table: sql.Identifier) -> int | None:
    """The table's oid in this database, or None if it does not exist."""
    row = conn.execute("SELECT to_regclass(%s)::oid", (table.as_string(conn),)).fetchone()
    return row[0] if row else None


def read_columns(conn: psycopg.Connection, oid: int) -> list[Column]:
    """The table's columns in order (generated ones included), as the catalog describes them."""
    rows = conn.execute(
        """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod),
               coalesce(bt.typname, t.typname), a.atttypmod, a.attnotnull,
               a.attidentity::text, pg_get_expr(d.adbin, d.adrelid), a.attgenerated::text,
               CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                    THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END
        FROM pg_attribute a
        JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        LEFT JOIN pg_collation co ON co.oid = a.attcollation
        LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
        WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        (oid,),
    ).fetchall()
    return [
        Column(
            name=r[0],
            pg_type=r[1],
            base_type=r[2],
            typmod=r[3],
            not_null=r[4],
            identity=r[5] or "",
            default=r[6],
            generated=r[7] or "",
            collation=r[8] or "",
        )
        for r in rows
    ]


# The functions a table's column defaults and generated columns (pg_attrdef), constraints
# and indexes depend on, with the extension providing each, if any.
_FUNCTIONS = """
SELECT DISTINCT n.nspname, p.proname,
       format('%%I.%%I(%%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)),
       CASE WHEN e.extname IS NULL AND p.prokind = 'f' THEN pg_get_functiondef(p.oid) END, e.extname, p.prokind::text
FROM pg_depend d
JOIN pg_proc p ON p.oid = d.refobjid
JOIN pg_namespace n ON n.oid = p.pronamespace
LEFT JOIN pg_depend x ON x.classid = 'pg_proc'::regclass AND x.objid = p.oid
     AND x.refclassid = 'pg_extension'::regclass AND x.deptype = 'e'
LEFT JOIN pg_extension e ON e.oid = x.refobjid
WHERE d.refclassid = 'pg_proc'::regclass AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND (
    (d.classid = 'pg_attrdef'::regclass AND d.objid IN (SELECT oid FROM pg_attrdef WHERE adrelid = %(t)s))
 OR (d.classid = 'pg_constraint'::regclass AND d.objid IN (SELECT oid FROM pg_constraint WHERE conrelid = %(t)s))
 OR (d.classid = 'pg_class'::regclass AND d.objid IN (SELECT indexrelid FROM pg_index WHERE indrelid = %(t)s)))
ORDER BY 3
"""


def read_functions(conn: psycopg.Connection, oid: int) -> tuple[list[dict[str, str]], list[str]]:
    """The user-defined functions table `oid`'s expressions call, and the extensions
    providing the others. Functions those functions call are not followed (pg_depend does
    not record calls inside a function body)."""
    functions, providers = [], []
    for schema, name, signature, definition, extension, kind in conn.execute(_FUNCTIONS, {"t": oid}).fetchall():
        if extension:
            providers.append(extension)
        elif kind == "f":
            functions.append({"schema": schema, "name": name, "signature": signature, "definition": definition})
    return functions, sorted(set(providers))


def _partitions(conn: psycopg.Connection, oid: int) -> tuple[str, list[dict[str, str]]]:
    """The partition key of a partitioned table and its partitions (parents first), or ("", [])."""
    key = db.one(conn.execute("SELECT pg_get_partkeydef(%s)", (oid,)))[0]
    if not key:
        return "", []
    rows = conn.execute(
        """
        SELECT n.nspname, c.relname, pn.nspname || '.' || p.relname, pg_get_expr(c.relpartbound, c.oid),
               coalesce(pg_get_partkeydef(c.oid), '')
        FROM pg_partition_tree(%s) t
        JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_class p ON p.oid = t.parentrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace
        WHERE t.level > 0
        ORDER BY t.level, n.nspname, c.relname
        """,
        (oid,),
    ).fetchall()
    return key, [{"schema": r[0], "name": r[1], "parent": r[2], "bound": r[3], "key": r[4]} for r in rows]


def read_comments(conn: psycopg.Connection, oid: int) -> dict[str, str]:
    """COMMENT ON the table ("") and its columns (by name), as pg_dump keeps them."""
    rows = conn.execute(
        """
        SELECT coalesce(a.attname, ''), d.description
        FROM pg_description d
        LEFT JOIN pg_attribute a ON a.attrelid = d.objoid AND a.attnum = d.objsubid AND d.objsubid > 0
        WHERE d.classoid = 'pg_class'::regclass AND d.objoid = %s AND (d.objsubid = 0 OR a.attname IS NOT NULL)
        ORDER BY d.objsubid
        """,
        (oid,),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


# The sequences a table's columns draw from, as pg_dump finds them: owned by one of its
# columns (serial: dependency 'a'; identity: 'i'), or named in one of its column defaults.
_SEQUENCES = """
SELECT s.seqrelid, n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
       s.seqmin, s.seqmax, s.seqcache, s.seqcycle, own.nspname, own.relname, own.attname,
       coalesce(own.attidentity::text, ''),
       ARRAY(SELECT a.attname FROM pg_depend d
             JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid
             JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
             WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = s.seqrelid AND ad.adrelid = %(t)s
             ORDER BY a.attnum)
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN LATERAL (
    SELECT tn.nspname, tc.relname, a.attname, a.attidentity
    FROM pg_depend d
    JOIN pg_class tc ON tc.oid = d.refobjid
    JOIN pg_namespace tn ON tn.oid = tc.relnamespace
    JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
    WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid
      AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
    LIMIT 1
) own ON true
WHERE s.seqrelid IN (
    SELECT d.objid FROM pg_depend d
    WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
      AND d.refobjid = %(t)s AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
    UNION
    SELECT d.refobjid FROM pg_depend d JOIN pg_attrdef ad ON ad.oid = d.objid
    WHERE d.classid = 'pg_attrdef'::regclass AND d.refclassid = 'pg_class'::regclass AND ad.adrelid = %(t)s
)
ORDER BY n.nspname, c.relname
"""


def read_sequences(conn: psycopg.Connection, oid: int) -> list[Sequence]:
    """The sequences table `oid` uses, with their current state (last_value, is_called).

    Like pg_dump, the state is read when the snapshot is taken: sequences are outside
    MVCC, so this is the latest value handed out, at or above the snapshot's rows. A role
    without SELECT on the sequence (a reader granted only the tables) records no state:
    the restore then continues after the restored ids alone.
    """
    found = []
    for r in conn.execute(_SEQUENCES, {"t": oid}).fetchall():
        last_value, is_called = None, False
        if db.one(conn.execute("SELECT has_sequence_privilege(%s, 'SELECT')", (r[0],)))[0]:
            last_value, is_called = db.one(
                conn.execute(sql.SQL("SELECT last_value, is_called FROM {}").format(sql.Identifier(r[1], r[2])))
            )
        found.append(
            Sequence(
                schema=r[1],
                name=r[2],
                data_type=r[3],
                start=r[4],
                increment=r[5],
                min_value=r[6],
                max_value=r[7],
                cache=r[8],
                cycle=r[9],
                owned_by=[r[10], r[11], r[12]] if r[12] else [],
                identity=r[13],
                default_columns=list(r[14]),
                last_value=None if last_value is None else int(last_value),
                is_called=bool(is_called),
            )
        )
    return found


_TYPE = """
SELECT n.nspname, t.typname, t.typtype::text, t.typcategory::text, t.typelem, t.typbasetype,
       format_type(t.typbasetype, t.typtypmod), t.typnotnull, t.typdefault, t.typrelid,
       (SELECT c.relkind::text FROM pg_class c WHERE c.oid = t.typrelid),
       (SELECT e.extname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
        WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
          AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'),
       format_type(t.oid, NULL)
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.oid = %s
"""
_BUILTIN_SCHEMAS = ("pg_catalog", "information_schema")


def _user_types(conn: psycopg.Connection, oid: int, what: str) -> tuple[list[UserType], list[dict[str, str]]]:
    """The user-defined types table `oid`'s columns use, dependencies first, and the
    extensions providing the others. ExportError for a type seedctl cannot recreate."""
    rows = conn.execute(
        "SELECT atttypid FROM pg_attribute WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (oid,),
    ).fetchall()
    types: dict[int, UserType | None] = {}  # None: being visited (or provided by an extension)
    extensions: dict[str, str] = {}
    for (type_oid,) in rows:
        _visit_type(conn, type_oid, types, extensions, what)
    versions: dict[str, str] = dict(conn.execute("SELECT extname, extversion FROM pg_extension").fetchall())
    return (
        [t for t in types.values() if t is not None],
        [{"name": e, "version": versions.get(e, "")} for e in sorted(extensions)],
    )


def _visit_type(
    conn: psycopg.Connection, type_oid: int, types: dict[int, UserType | None], extensions: dict[str, str], what: str
) -> None:
    """Depth first: a type is appended after every type it depends on."""
    if type_oid in types:
        return
    row = conn.execute(_TYPE, (type_oid,)).fetchone()
    assert row is not None  # pg_type has every oid a column or type names
    (schema, name, kind, category, elem, base, base_text, not_null, default, relid, relkind, extension, shown) = row
    if extension:
        extensions[extension] = extension
        return
    if schema in _BUILTIN_SCHEMAS:
        return
    if category == "A" and elem:
        _visit_type(conn, elem, types, extensions, what)
        return
    types[type_oid] = None
    if kind == "e":
        labels = [
            r[0]
            for r in conn.execute(
                "SELECT enumlabel FROM pg_enum WHERE enumtypid = %s ORDER BY enumsortorder", (type_oid,)
            ).fetchall()
        ]
        found = UserType(schema, name, "enum", labels=labels)
    elif kind == "d":
        _visit_type(conn, base, types, extensions, what)
        checks = [
            {"name": r[0], "definition": r[1]}
            for r in conn.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contypid = %s AND contype = 'c' "
                "ORDER BY conname",
                (type_oid,),
            ).fetchall()
        ]
        found = UserType(schema, name, "domain", base_type=base_text, not_null=not_null, default=default, checks=checks)
    elif kind == "c" and relkind == "c":
        attributes = []
        for att_name, att_type, att_oid in conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod), atttypid FROM pg_attribute "
            "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (relid,),
        ).fetchall():
            _visit_type(conn, att_oid, types, extensions, what)
            attributes.append({"name": att_name, "type": att_type})
        found = UserType(schema, name, "composite", attributes=attributes)
    else:
        described = {
            "c": "the row type of a table",
            "r": "a range type",
            "m": "a multirange type",
            "b": "a base type not from an extension",
            "p": "a pseudo-type",
        }.get(kind, f"of kind {kind}")
        raise ExportError(
            f"{what}: type {shown} is {described}; seedctl cannot recreate it on restore",
            "change the column to an enum, domain, composite or built-in type, or leave the table out of sources",
        )
    del types[type_oid]  # re-insert: dependencies (visited meanwhile) come first
    types[type_oid] = found


def describe_type(conn: psycopg.Connection, type_name: sql.Identifier) -> UserType | None:
    """The target's current definition of a type recorded in a snapshot, or None if absent."""
    row = conn.execute("SELECT to_regtype(%s)::oid", (type_name.as_string(conn),)).fetchone()
    if not row or row[0] is None:
        return None
    types: dict[int, UserType | None] = {}
    try:
        _visit_type(conn, row[0], types, {}, "target")
    except ExportError:
        return UserType("", "", "other")
    return types.get(row[0]) or UserType("", "", "other")


def _check_configured_columns(source_name: str, source: Source, table: TableSchema) -> None:
    named = [source.time_column] if source.time_column else []
    named += list(source.column_max_null_ratio)
    if source.ohlcv:
        o = source.ohlcv
        named += [o.open, o.high, o.low, o.close]
    for col in named:
        if table.column(col) is None:
            raise ConfigError(
                f"sources.{source_name}: column '{col}' is not in table {table.qualified}",
                f"columns are: {', '.join(c.name for c in table.columns)}",
            )
