"""The objects on a snapshot's tables that pg_dump recreates with them: triggers (and the
user functions they execute), row-level security (ENABLE, FORCE, policies), grants on the
tables and their columns, and the views that read only snapshot tables (with their grants).

Recorded at snapshot time, in the export's transaction, per table (TableSchema.objects);
recreated by a restore only on the tables it created, after their rows are loaded (so no
trigger fires on a restored row and no policy hides one from the checks) and in the same
transaction. What cannot be carried is named, one line each, at snapshot and at restore:
rules, extended statistics, materialized views, views that read a table outside the
snapshot, triggers and rules on views; on the target, a grant or policy to a role that does
not exist there, or an object whose definition the target refuses. Nothing goes silently.

This module imports neither the catalog nor the DDL module (the catalog records a
TableObjects), so statements from schema.json are checked for shape here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import psycopg
from psycopg import sql

from seedctl.errors import IntegrityError
from seedctl.pg import db

# The grantee or policy role meaning every role (PostgreSQL reserves the name "public").
PUBLIC = "public"
PRIVILEGES = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"})
_COMMANDS = {"r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE", "*": "ALL"}
_ENABLE = {"O": "", "D": "DISABLE TRIGGER", "R": "ENABLE REPLICA TRIGGER", "A": "ENABLE ALWAYS TRIGGER"}

_FUNCTION_SHAPE = re.compile(r"CREATE OR REPLACE FUNCTION .+", re.DOTALL)
_TRIGGER_SHAPE = re.compile(r"CREATE (?:CONSTRAINT )?TRIGGER [^;]+")
_VIEW_SHAPE = re.compile(r"(?:SELECT|WITH|VALUES|TABLE)\b.+", re.DOTALL)
_EXPRESSION_SHAPE = re.compile(r".+", re.DOTALL)
_OPTION_SHAPE = re.compile(r"([a-z_]+)=([A-Za-z0-9_]+)")


def checked_text(pattern: re.Pattern[str], text: object, what: str, owner: str) -> str:
    """Catalog text from schema.json, refused unless it has the expected shape (an edited
    manifest must not smuggle another statement in)."""
    if not isinstance(text, str) or not pattern.fullmatch(text):
        raise IntegrityError(
            f"snapshot schema of {owner}: unexpected {what} {str(text)[:80]!r}",
            "the manifest may have been edited; restore it from git",
        )
    return text


@dataclass(frozen=True)
class View:
    """A view reading only snapshot tables (or views recorded with it)."""

    schema: str
    name: str
    definition: str  # pg_get_viewdef() with an empty search_path, without its final ";"
    depends: list[list[str]] = field(default_factory=list)  # [schema, name] of each relation it reads
    options: list[str] = field(default_factory=list)  # reloptions: check_option=local, security_barrier=true
    grants: list[dict[str, Any]] = field(default_factory=list)  # as TableObjects.grants

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class TableObjects:
    """A table's triggers, row-level security, grants and the views over it, as recorded."""

    triggers: list[dict[str, str]] = field(default_factory=list)  # name, definition, enabled (pg_trigger)
    functions: list[dict[str, str]] = field(default_factory=list)  # the triggers' user functions
    row_security: bool = False
    force_row_security: bool = False
    # name, command (SELECT/INSERT/UPDATE/DELETE/ALL), permissive, roles, using, check ("" none)
    policies: list[dict[str, Any]] = field(default_factory=list)
    # column ("" the table), role (PUBLIC or a role name), privileges, grantable
    grants: list[dict[str, Any]] = field(default_factory=list)
    views: list[View] = field(default_factory=list)  # readers first
    not_carried: list[str] = field(default_factory=list)  # "rule no_delete on public.orders"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableObjects:
        return cls(
            triggers=[dict(t) for t in data.get("triggers", [])],
            functions=[dict(f) for f in data.get("functions", [])],
            row_security=bool(data.get("row_security", False)),
            force_row_security=bool(data.get("force_row_security", False)),
            policies=[dict(p) for p in data.get("policies", [])],
            grants=[dict(g) for g in data.get("grants", [])],
            views=[View(**v) for v in data.get("views", [])],
            not_carried=list(data.get("not_carried", [])),
        )


# ---------------------------------------------------------------- recording (snapshot)

_TRIGGERS = """
SELECT t.tgname, pg_get_triggerdef(t.oid), t.tgenabled::text, n.nspname, p.proname,
       format('%%I.%%I(%%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)),
       CASE WHEN x.objid IS NULL AND n.nspname <> 'pg_catalog' THEN pg_get_functiondef(p.oid) END
FROM pg_trigger t
JOIN pg_proc p ON p.oid = t.tgfoid
JOIN pg_namespace n ON n.oid = p.pronamespace
LEFT JOIN pg_depend x ON x.classid = 'pg_proc'::regclass AND x.objid = p.oid
     AND x.refclassid = 'pg_extension'::regclass AND x.deptype = 'e'
WHERE t.tgrelid = %s AND NOT t.tgisinternal
ORDER BY t.tgname
"""
_POLICIES = """
SELECT p.polname, p.polcmd::text, p.polpermissive,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END
             FROM unnest(p.polroles) r ORDER BY 1),
       coalesce(pg_get_expr(p.polqual, p.polrelid), ''), coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
FROM pg_policy p WHERE p.polrelid = %s ORDER BY p.polname
"""
# Privileges granted on the relation and its columns, except the owner's own (ownership is
# not recorded: a restore's tables belong to the restoring role, as with --no-owner).
_GRANTS = """
SELECT coalesce(a.attname, ''), CASE WHEN g.grantee = 0 THEN 'public' ELSE pg_get_userbyid(g.grantee)::text END,
       g.privilege_type, g.is_grantable
FROM pg_class c
CROSS JOIN LATERAL (SELECT 0::smallint AS attnum, c.relacl AS acl
                    UNION ALL
                    SELECT attnum, attacl FROM pg_attribute
                    WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped AND attacl IS NOT NULL) s
CROSS JOIN LATERAL aclexplode(s.acl) g
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = s.attnum AND s.attnum > 0
WHERE c.oid = %s AND g.grantee <> c.relowner
ORDER BY s.attnum, 2, 4, 3
"""
# What the partitions below a partitioned table have of their own (a trigger defined on the
# parent is cloned to every partition: tgparentid names the clone's parent trigger).
_PARTITION_OBJECTS = """
SELECT partition, kinds FROM (
    SELECT n.nspname || '.' || c.relname AS partition, array_remove(ARRAY[
             CASE WHEN EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal
                               AND t.tgparentid = 0) THEN 'triggers' END,
             CASE WHEN c.relrowsecurity THEN 'row-level security' END,
             CASE WHEN EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid) THEN 'policies' END,
             CASE WHEN EXISTS (SELECT 1 FROM aclexplode(c.relacl) g WHERE g.grantee <> c.relowner)
                       OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attacl IS NOT NULL)
                  THEN 'grants' END,
             CASE WHEN EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN')
                  THEN 'rules' END], NULL) AS kinds
    FROM pg_partition_tree(%s) t JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE t.level > 0
) s
WHERE cardinality(kinds) > 0
ORDER BY 1
"""
# Views and materialized views whose rewrite rule reads any of the given relations.
_READERS = """
SELECT DISTINCT r.ev_class
FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
  AND d.refobjid = ANY(%s) AND r.ev_class <> d.refobjid AND v.relkind IN ('v', 'm')
"""
_VIEW = """
SELECT n.nspname, c.relname, c.relkind::text, CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END,
       coalesce(c.reloptions, '{}'),
       EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_class'::regclass AND x.objid = c.oid
               AND x.refclassid = 'pg_extension'::regclass AND x.deptype = 'e')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = %s
"""
_READS = """
SELECT DISTINCT c.oid, n.nspname, c.relname
FROM pg_rewrite r
JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass
JOIN pg_class c ON c.oid = d.refobjid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE r.ev_class = %(v)s AND d.refobjid <> %(v)s
ORDER BY 2, 3
"""


@dataclass
class _Reader:
    """A view or materialized view found reading the snapshot's tables."""

    oid: int
    schema: str
    name: str
    kind: str  # "v" or "m"
    definition: str
    options: list[str]
    extension: bool
    reads: list[tuple[int, str, str]]  # (oid, schema, name)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def read_objects(conn: psycopg.Connection, tables: list[tuple[str, str]]) -> dict[tuple[str, str], TableObjects]:
    """The objects of each (schema, name) table, as a restore recreates them; definitions
    read schema-qualified (as pg_dump reads them). Tables missing here get none."""
    found: dict[tuple[str, str], TableObjects] = {}
    with db.qualified_names(conn):
        oids: dict[int, tuple[str, str]] = {}
        for schema, name in tables:
            row = conn.execute("SELECT to_regclass(%s)::oid", (sql.Identifier(schema, name).as_string(conn),))
            oid = db.one(row)[0]
            if oid is not None:
                oids[oid] = (schema, name)
        for oid, key in oids.items():
            found[key] = _table_objects(conn, oid, f"{key[0]}.{key[1]}")
        views, not_carried = _views(conn, oids)
    for key, objects in found.items():
        found[key] = replace(
            objects, views=views.get(key, []), not_carried=objects.not_carried + not_carried.get(key, [])
        )
    return found


def _table_objects(conn: psycopg.Connection, oid: int, qualified: str) -> TableObjects:
    triggers: list[dict[str, str]] = []
    functions: list[dict[str, str]] = []
    not_carried: list[str] = []
    for name, definition, enabled, fschema, fname, signature, fdef in conn.execute(_TRIGGERS, (oid,)).fetchall():
        if fschema.startswith("_timescaledb_"):
            continue  # TimescaleDB's own (ts_insert_blocker): create_hypertable makes it again
        triggers.append({"name": name, "definition": definition, "enabled": enabled})
        if fdef and signature not in {f["signature"] for f in functions}:
            functions.append({"schema": fschema, "name": fname, "signature": signature, "definition": fdef})
    rls = db.one(conn.execute("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = %s", (oid,)))
    policies = [
        {
            "name": r[0],
            "command": _COMMANDS[r[1]],
            "permissive": bool(r[2]),
            "roles": list(r[3]),
            "using": r[4],
            "check": r[5],
        }
        for r in conn.execute(_POLICIES, (oid,)).fetchall()
    ]
    for (rule,) in conn.execute(
        "SELECT rulename FROM pg_rewrite WHERE ev_class = %s AND rulename <> '_RETURN' ORDER BY 1", (oid,)
    ).fetchall():
        not_carried.append(f"rule {rule} on {qualified}")
    for schema, name in conn.execute(
        "SELECT n.nspname, s.stxname FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace "
        "WHERE s.stxrelid = %s ORDER BY 1, 2",
        (oid,),
    ).fetchall():
        not_carried.append(f"statistics {schema}.{name} on {qualified}")
    for partition, kinds in conn.execute(_PARTITION_OBJECTS, (oid,)).fetchall():
        not_carried.append(f"{', '.join(kinds)} of partition {partition} (only the partitioned table's are recorded)")
    return TableObjects(
        triggers=triggers,
        functions=functions,
        row_security=bool(rls[0]),
        force_row_security=bool(rls[1]),
        policies=policies,
        grants=_grants(conn, oid),
        not_carried=not_carried,
    )


def _grants(conn: psycopg.Connection, oid: int) -> list[dict[str, Any]]:
    """One entry per (column, role, grantable): the privileges a single GRANT gives."""
    grouped: dict[tuple[str, str, bool], list[str]] = {}
    for column, role, privilege, grantable in conn.execute(_GRANTS, (oid,)).fetchall():
        grouped.setdefault((column, role, bool(grantable)), []).append(privilege)
    return [{"column": c, "role": r, "privileges": sorted(p), "grantable": g} for (c, r, g), p in grouped.items()]


def _views(
    conn: psycopg.Connection, tables: dict[int, tuple[str, str]]
) -> tuple[dict[tuple[str, str], list[View]], dict[tuple[str, str], list[str]]]:
    """The views over the tables that read nothing else (views over those views too), per
    base table, readers after what they read; and per table, the readers not carried."""
    readers: dict[int, _Reader] = {}
    frontier = list(tables)
    while frontier:
        new = [
            r[0] for r in conn.execute(_READERS, (frontier,)).fetchall() if r[0] not in readers and r[0] not in tables
        ]
        for oid in sorted(new):
            schema, name, kind, definition, options, extension = db.one(conn.execute(_VIEW, (oid,)))
            reads = [tuple(r) for r in conn.execute(_READS, {"v": oid}).fetchall()]
            readers[oid] = _Reader(
                oid, schema, name, kind, (definition or "").strip().rstrip(";"), list(options), extension, reads
            )
        frontier = new
    # TimescaleDB's continuous aggregates read its internal tables: hypertable.py names them.
    readers = {o: r for o, r in readers.items() if not any(s.startswith("_timescaledb_") for _, s, _ in r.reads)}
    readers = {o: r for o, r in readers.items() if not r.extension and not r.schema.startswith("_timescaledb_")}
    carried = {o for o, r in readers.items() if r.kind == "v"}
    changed = True
    while changed:  # a view is carried if everything it reads is a snapshot table or a carried view
        unread = {o for o in carried if any(d not in tables and d not in carried for d, _, _ in readers[o].reads)}
        carried -= unread
        changed = bool(unread)

    def bases(oid: int, seen: frozenset[int] = frozenset()) -> list[int]:
        """The snapshot tables a reader reads, directly or through other readers, in source order."""
        found: set[int] = set()
        for dep, _, _ in readers[oid].reads:
            if dep in tables:
                found.add(dep)
            elif dep in readers and dep not in seen:
                found.update(bases(dep, seen | {oid}))
        return [t for t in tables if t in found]

    ordered: list[int] = []
    pending = sorted(carried, key=lambda o: readers[o].qualified)
    while pending:  # what a view reads first (views cannot read each other in a cycle)
        ready = [o for o in pending if all(d in tables or d in ordered for d, _, _ in readers[o].reads)] or pending
        ordered += ready
        pending = [o for o in pending if o not in ready]
    views: dict[tuple[str, str], list[View]] = {}
    for oid in ordered:
        r = readers[oid]
        view = View(r.schema, r.name, r.definition, [[s, n] for _, s, n in r.reads], r.options, _grants(conn, oid))
        for base in bases(oid):
            views.setdefault(tables[base], []).append(view)
    not_carried: dict[tuple[str, str], list[str]] = {}
    for oid, r in sorted(readers.items(), key=lambda item: item[1].qualified):
        where = bases(oid)
        if not where:
            continue
        if oid in carried:
            lines = [
                f"trigger {t} on view {r.qualified}"
                for (t,) in conn.execute(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = %s AND NOT tgisinternal ORDER BY 1", (oid,)
                ).fetchall()
            ]
            lines += [
                f"rule {n} on view {r.qualified}"
                for (n,) in conn.execute(
                    "SELECT rulename FROM pg_rewrite WHERE ev_class = %s AND rulename <> '_RETURN' ORDER BY 1", (oid,)
                ).fetchall()
            ]
        elif r.kind == "m":
            lines = [f"materialized view {r.qualified}"]
        else:
            dep, schema, name = next((d, s, n) for d, s, n in r.reads if d not in tables and d not in carried)
            why = "which is not carried" if dep in readers else "which is not in the snapshot"
            lines = [f"view {r.qualified} (reads {schema}.{name}, {why})"]
        not_carried.setdefault(tables[where[0]], []).extend(lines)
    return views, not_carried


# ---------------------------------------------------------------- recreating (restore)

# SQLSTATE classes meaning "the target refuses this definition" (a missing function or
# type, a feature, a privilege): that object is named as not carried; anything else (a
# lost connection, a lock timeout) fails the restore, which rolls back.
_REFUSED = (psycopg.errors.ProgrammingError, psycopg.errors.NotSupportedError, psycopg.errors.DataError)


def role_name(role: str) -> sql.Composable:
    return sql.SQL("PUBLIC") if role == PUBLIC else sql.Identifier(role)


def grant_phrase(grant: dict[str, Any], qualified: str) -> str:
    """`grant SELECT, UPDATE (email) on public.t to role r`, for a line that names it."""
    column = f" ({grant['column']})" if grant["column"] else ""
    who = "PUBLIC" if grant["role"] == PUBLIC else f"role {grant['role']}"
    return f"grant {', '.join(grant['privileges'])}{column} on {qualified} to {who}"


def grant_statement(grant: dict[str, Any], target: sql.Identifier, owner: str) -> sql.Composed:
    """GRANT as recorded: the privileges on the table, or on one column of it."""
    privileges = [checked_text(_PRIVILEGE, p, "privilege", owner) for p in grant["privileges"]]
    if grant["column"]:
        listed = sql.SQL(", ").join(
            sql.SQL("{} ({})").format(sql.SQL(p), sql.Identifier(grant["column"])) for p in privileges
        )
    else:
        listed = sql.SQL(", ").join(sql.SQL(p) for p in privileges)
    return sql.SQL("GRANT {} ON TABLE {} TO {}{}").format(
        listed, target, role_name(grant["role"]), sql.SQL(" WITH GRANT OPTION" if grant["grantable"] else "")
    )


_PRIVILEGE = re.compile("|".join(sorted(PRIVILEGES)))
_COMMAND = re.compile("|".join(_COMMANDS.values()))


def policy_statement(policy: dict[str, Any], roles: list[str], target: sql.Identifier, owner: str) -> sql.Composed:
    """CREATE POLICY as recorded, for `roles` (those of its roles the target has)."""
    parts: list[sql.Composable] = [
        sql.SQL("CREATE POLICY {} ON {} AS {} FOR {} TO {}").format(
            sql.Identifier(policy["name"]),
            target,
            sql.SQL("PERMISSIVE" if policy["permissive"] else "RESTRICTIVE"),
            sql.SQL(checked_text(_COMMAND, policy["command"], "policy command", owner)),
            sql.SQL(", ").join(role_name(r) for r in roles),
        )
    ]
    if policy["using"]:
        parts.append(
            sql.SQL("USING ({})").format(sql.SQL(checked_text(_EXPRESSION_SHAPE, policy["using"], "policy", owner)))
        )
    if policy["check"]:
        parts.append(
            sql.SQL("WITH CHECK ({})").format(
                sql.SQL(checked_text(_EXPRESSION_SHAPE, policy["check"], "policy", owner))
            )
        )
    return sql.SQL(" ").join(parts)


def view_statement(view: View) -> sql.Composed:
    """CREATE VIEW as recorded, with its options (check_option, security_barrier, ...)."""
    options = [checked_text(_OPTION_SHAPE, o, "view option", view.qualified).split("=", 1) for o in view.options]
    with_options = (
        sql.SQL(" WITH ({})").format(
            sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.SQL(k), sql.Literal(v)) for k, v in options)
        )
        if options
        else sql.SQL("")
    )
    return sql.SQL("CREATE VIEW {}{} AS {}").format(
        sql.Identifier(view.schema, view.name),
        with_options,
        sql.SQL(checked_text(_VIEW_SHAPE, view.definition, "view definition", view.qualified)),
    )


def create_function(conn: psycopg.Connection, function: dict[str, str], owner: str) -> None:
    """The function as pg_get_functiondef() gave it (one statement: the extended query
    protocol refuses more), its body not checked yet, as pg_restore does."""
    definition = checked_text(_FUNCTION_SHAPE, function["definition"], "function definition", owner)
    with conn.cursor() as cur:
        cur.execute("SET LOCAL check_function_bodies = off")
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(function["schema"])))
        cur.execute(definition.encode())


def _missing_roles(conn: psycopg.Connection, roles: list[str]) -> list[str]:
    named = [r for r in roles if r != PUBLIC]
    present = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (named,)).fetchall()}
    return [r for r in named if r not in present]


def _attempt(conn: psycopg.Connection, statements: Sequence[sql.Composed | bytes]) -> str | None:
    """Run the statements in a savepoint; the target's reason if it refuses them."""
    try:
        with conn.transaction(), conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    except _REFUSED as exc:
        return db.first_line(exc)
    return None


def _grant(
    conn: psycopg.Connection, grants: list[dict[str, Any]], target: sql.Identifier, owner: str
) -> tuple[int, list[str]]:
    """The grants whose role the target has: how many were made, and a line for each other."""
    made, notes = 0, []
    for grant in grants:
        if _missing_roles(conn, [grant["role"]]):
            notes.append(f"not carried: {grant_phrase(grant, owner)} (role does not exist on this server)")
        elif (refused := _attempt(conn, [grant_statement(grant, target, owner)])) is not None:
            notes.append(f"not carried: {grant_phrase(grant, owner)} ({refused})")
        else:
            made += 1
    return made, notes


_NOT_RECORDED = "triggers, row-level security, grants and views are not recorded in this snapshot (format 5 or older)"


def planned_objects(objects: TableObjects | None) -> list[str]:
    """What recreate() would make on the table, for a dry run (roles are checked only then)."""
    if objects is None:
        return [_NOT_RECORDED]
    counts = [
        (len(objects.triggers), "trigger(s)"),
        (len(objects.policies), "policy(ies)"),
        (len(objects.grants), "grant(s)"),
        (len(objects.views), "view(s) over it"),
    ]
    made = [f"{n} {what}" for n, what in counts if n] + (["row-level security"] if objects.row_security else [])
    return ([f"would recreate {', '.join(made)}"] if made else []) + [f"not carried: {i}" for i in objects.not_carried]


def recreate(conn: psycopg.Connection, objects: TableObjects | None, target: sql.Identifier, owner: str) -> list[str]:
    """The recorded objects on a table this restore created and loaded; notes for the
    operator: what was recreated, and one line per object not carried."""
    if objects is None:
        return [_NOT_RECORDED]
    made: list[str] = []
    notes: list[str] = []
    for function in objects.functions:
        if db.one(conn.execute("SELECT to_regprocedure(%s)", (function["signature"],)))[0] is not None:
            continue  # there already (another table's trigger, or the target's own): not replaced
        try:
            with conn.transaction():  # a savepoint: this one refusal is named, the rest goes on
                create_function(conn, function, owner)
        except _REFUSED as exc:
            notes.append(f"not carried: function {function['signature']} ({db.first_line(exc)})")
        else:
            made.append(f"function {function['signature']}")
    for trigger in objects.triggers:
        statements: list[sql.Composed | bytes] = [
            checked_text(_TRIGGER_SHAPE, trigger["definition"], "trigger definition", owner).encode()
        ]
        enable = _ENABLE.get(trigger["enabled"])
        if enable is None:
            checked_text(re.compile("[ODRA]"), trigger["enabled"], "trigger state", owner)
        elif enable:
            statements.append(
                sql.SQL("ALTER TABLE {} {} {}").format(target, sql.SQL(enable), sql.Identifier(trigger["name"]))
            )
        if (refused := _attempt(conn, statements)) is not None:
            notes.append(f"not carried: trigger {trigger['name']} on {owner} ({refused})")
        else:
            made.append(f"trigger {trigger['name']}" + (" (disabled)" if trigger["enabled"] == "D" else ""))
    # Not in a savepoint: a target that refuses row-level security fails (and rolls back) the
    # restore, rather than leave the table's rows open to the roles granted it below.
    if objects.row_security:
        conn.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(target))
        made.append("row-level security" + (" (forced)" if objects.force_row_security else ""))
    if objects.force_row_security:
        conn.execute(sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(target))
    for policy in objects.policies:
        missing = _missing_roles(conn, policy["roles"])
        notes += [
            f"not carried: policy {policy['name']} on {owner} for role {r} (role does not exist on this server)"
            for r in missing
        ]
        roles = [r for r in policy["roles"] if r not in missing]
        if not roles:  # it applied to those roles only: without them it applies to no one
            continue
        if (refused := _attempt(conn, [policy_statement(policy, roles, target, owner)])) is not None:
            notes.append(f"not carried: policy {policy['name']} on {owner} ({refused})")
        else:
            made.append(f"policy {policy['name']}")
    granted, refused_grants = _grant(conn, objects.grants, target, owner)
    notes += refused_grants
    if granted:
        made.append(f"{granted} grant(s)")
    notes += [f"not carried: {item}" for item in objects.not_carried]
    return ([f"recreated {', '.join(made)}"] if made else []) + notes


def recreate_views(conn: psycopg.Connection, views: list[View]) -> list[tuple[View, str]]:
    """The recorded views (with their grants) that the target lacks, once everything each
    reads exists; a (view, note) per view: created, already there, or not carried and why."""
    notes: list[tuple[View, str]] = []
    pending = list(views)
    progress = True
    while pending and progress:
        progress = False
        for view in list(pending):
            if not _absent(conn, [view.schema, view.name]):
                notes.append((view, f"not carried: view {view.qualified} (a relation of that name is on this server)"))
            elif any(_absent(conn, d) for d in view.depends):
                continue  # perhaps a view created later in this pass
            else:
                create = [
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(view.schema)),
                    view_statement(view),
                ]
                if (refused := _attempt(conn, create)) is not None:
                    notes.append((view, f"not carried: view {view.qualified} ({refused})"))
                else:
                    granted, refused_grants = _grant(
                        conn, view.grants, sql.Identifier(view.schema, view.name), view.qualified
                    )
                    done = f" with {granted} grant(s)" if granted else ""
                    notes.append((view, f"created view {view.qualified}{done}"))
                    notes += [(view, n) for n in refused_grants]
            pending.remove(view)
            progress = True
    for view in pending:
        schema, name = next(d for d in view.depends if _absent(conn, d))
        notes.append(
            (
                view,
                f"not carried: view {view.qualified} (reads {schema}.{name}, which is neither restored "
                "nor on this server)",
            )
        )
    return notes


def _absent(conn: psycopg.Connection, relation: list[str]) -> bool:
    schema, name = relation
    return db.one(conn.execute("SELECT to_regclass(%s)", (sql.Identifier(schema, name).as_string(conn),)))[0] is None
