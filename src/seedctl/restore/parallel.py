"""Parallel restore (`seedctl restore --jobs N`): the tables the restore creates, loaded over
several connections, switched in by the restore's one transaction (load.py).

Only where it is safe: a plain table the restore creates (absent on the target, not a
hypertable, not partitioned, no time range) whose sequences are its own (identity or owned
by one of its columns, in its schema, absent on the target) and which needs no extension,
type or function the target lacks (those are created in the restore's transaction, which
the other connections cannot see). Every other table (replace, append, missing into
existing tables) is loaded by the restore's own transaction as with --jobs 1, at the same
time as the staged ones.

A staged table is created in a private staging schema (seedctl_restore_<pid>_<token>_<n>,
one per target schema, committed before the workers start, marked by its comment), loaded
with COPY FREEZE in the transaction that created it, given its keys and indexes, checked
(rows and content checksum, load._apply as for --jobs 1) and committed there. When there are
more connections than such tables, the largest one's files are split in contiguous shares of
about equal rows: it is created and committed, each share COPYed (without FREEZE) in a
transaction of its own, then its keys, indexes and checks done once all are in. The restore's
transaction then moves every staged table into its schema (ALTER TABLE ... SET SCHEMA: its
indexes, constraints and owned sequences go with it), counts its rows again, drops the
staging schemas, adds the foreign keys and commits: nothing is visible under the real names
before that commit. On any failure or interrupt the staging schemas are dropped; one left by
a killed run (its lead connection's backend <pid> gone) is dropped by the next restore.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Literal

import psycopg
from psycopg import sql

from seedctl.errors import DatabaseError, RestoreRefused
from seedctl.pg import db
from seedctl.pg.catalog import TableSchema
from seedctl.pg.ddl import add_keys_and_indexes, bump_sequences, create_sequences, create_table, prerequisites
from seedctl.restore import Mode
from seedctl.restore.acquire import TableData
from seedctl.restore.load import apply_in_encoding, copy_into, verify_loaded
from seedctl.restore.load import load_tables as load_in_one_transaction
from seedctl.restore.plan import TableResult

STAGING_PREFIX = "seedctl_restore_"
STAGING_COMMENT = "seedctl restore staging: tables of a restore not yet switched in; dropped by the next restore"
_STAGING_NAME = re.compile(rf"{STAGING_PREFIX}(\d+)_[0-9a-f]{{8}}_\d+")


def shared_sequences(results: list[TableResult]) -> set[str]:
    """Sequences more than one of the restore's tables draws from (one table's own, another's
    default): created in the restore's transaction, not staged with either table."""
    seen: dict[str, int] = {}
    for r in results:
        for seq in r.data.table.sequences:
            seen[seq.qualified] = seen.get(seq.qualified, 0) + 1
    return {name for name, tables in seen.items() if tables > 1}


def not_stageable(result: TableResult, shared: set[str] | None = None) -> str | None:
    """Why a planned table cannot be loaded over another connection (None: it can, as far as
    the snapshot's description tells; the target is asked in _stageable). shared:
    shared_sequences of the restore."""
    data, table = result.data, result.data.table
    if result.action != "create":
        return f"action {result.action}"
    if data.ranged:
        return "a time range"
    if table.hypertable is not None:
        return "a hypertable"
    if table.partition_key or table.partitions:
        return "partitioned"
    for seq in table.sequences:
        own = seq.schema == table.schema and seq.owned_by[:2] == [table.schema, table.name]
        if not own or table.column(seq.owned_by[2]) is None:
            return f"sequence {seq.qualified} is not its own"
        if seq.qualified in (shared or set()):
            return f"sequence {seq.qualified} is shared with another table"
    return None


def split_files(rows: list[int], parts: int) -> list[list[int]]:
    """The indexes of a table's files (in row order) in min(parts, files) contiguous groups
    of about equal rows: what each connection loading a share of the table COPYs."""
    parts = max(1, min(parts, len(rows)))
    total = sum(rows)
    groups: list[list[int]] = []
    current: list[int] = []
    acc = 0
    for i, n in enumerate(rows):
        current.append(i)
        acc += n
        left_files, left_groups = len(rows) - i - 1, parts - len(groups) - 1
        if left_groups > 0 and (acc >= total * (len(groups) + 1) / parts or left_files == left_groups):
            groups.append(current)
            current = []
    groups.append(current)
    return groups


def staged_index(statement: str, target: str, staged: str) -> str | None:
    """An index's CREATE INDEX (pg_get_indexdef: `... ON schema.table USING ...`) on the
    staged table instead; None unless the target's name occurs exactly once there.
    target and staged are the qualified names as pg_get_indexdef spells them (quote_ident)."""
    needle = f" ON {target} USING "
    if statement.count(needle) != 1:
        return None
    return statement.replace(needle, f" ON {staged} USING ")


def staged_table(table: TableSchema, staging: str, indexes: list[str]) -> TableSchema:
    """The table as created in the staging schema: its sequences there too (moved with it),
    its indexes on it, no foreign keys (the switch adds them)."""
    sequences = [replace(s, schema=staging, owned_by=[staging, table.name, s.owned_by[2]]) for s in table.sequences]
    return replace(table, schema=staging, sequences=sequences, indexes=indexes, foreign_keys=[])


def load_tables(
    tables: list[TableData], mode: Mode, *, named: bool, dry_run: bool, batch_rows: int, jobs: int
) -> list[TableResult]:
    """load.load_tables, with the tables it may stage loaded over `jobs` connections."""
    if dry_run:
        return load_in_one_transaction(tables, mode, named=named, dry_run=True, batch_rows=batch_rows)
    with ParallelLoad(jobs, batch_rows) as stage:
        return load_in_one_transaction(tables, mode, named=named, batch_rows=batch_rows, stage=stage)


Step = Literal["whole", "create", "copy", "finish"]


@dataclass(eq=False)
class _Job:
    """One transaction of a worker: a whole table (load._apply), or a step of a table split
    across connections: create it, COPY a share of its files (no FREEZE: several
    transactions write it), then keys, indexes, checks and sequences once every share is in."""

    result: TableResult  # the restore's, filled in when the table is done
    staged: TableResult  # its table in the staging schema
    staging: str
    step: Step = "whole"
    files: list[Path] = field(default_factory=list)  # copy: its share of the table's files
    after: list[_Job] = field(default_factory=list)  # committed before this one starts
    done: bool = False


class ParallelLoad:
    """The load.Stage of a restore: take() stages the tables it can and starts the workers,
    switch() waits for them and moves the staged tables in; leaving drops what is left."""

    def __init__(self, jobs: int, batch_rows: int) -> None:
        self.jobs, self.batch_rows = jobs, batch_rows
        self._jobs: list[_Job] = []
        self._pending: list[_Job] = []
        self._schemas: dict[str, str] = {}  # target schema -> its staging schema
        self._threads: list[threading.Thread] = []
        self._conns: list[psycopg.Connection] = []
        self._errors: list[BaseException] = []
        self._lock = threading.Condition()
        self._tables: list[_Job] = []  # one job of each staged table (the switch moves those)
        self._started: dict[int, float] = {}
        self._stop = threading.Event()
        self._switched = False

    # --- in the restore's transaction (load.load_tables) ------------------------------

    def take(self, conn: psycopg.Connection, results: list[TableResult]) -> set[int]:
        """Drop leftover staging schemas; choose the tables to stage, create their staging
        schemas (committed, on a connection of their own) and start the workers. Returns the
        id() of the results the workers load."""
        _drop_leftovers(conn)
        loading = [r for r in results if r.action != "keep" and r.data.origin != "empty"]
        if self.jobs < 2 or not loading:
            return set()
        shared = shared_sequences(results)
        chosen = sorted((r for r in loading if self._stageable(conn, r, shared)), key=lambda r: -r.data.rows)
        # Connections that would otherwise have no table take shares of the largest one.
        largest = chosen[0].data if chosen else None
        split = 0
        if largest is not None and largest.origin != "fallback" and len(largest.parts) == len(largest.parquet):
            split = min(self.jobs - len(chosen) + 1, len(largest.parquet))
        if split < 2 and (not chosen or len(loading) < 2):  # nothing to do at the same time
            return set()
        pid, token = conn.info.backend_pid, secrets.token_hex(4)
        for r in chosen:
            schema = r.data.table.schema
            self._schemas.setdefault(schema, f"{STAGING_PREFIX}{pid}_{token}_{len(self._schemas)}")
        try:
            with db.connect(autocommit=True) as admin:
                for staging in self._schemas.values():
                    admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(staging)))
                    admin.execute(
                        sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                            sql.Identifier(staging), sql.Literal(STAGING_COMMENT)
                        )
                    )
        except (psycopg.Error, DatabaseError) as exc:  # no second connection, or no CREATE: one connection
            chosen[0].notes.append(f"all tables loaded over one connection: no staging schema ({_reason(exc)})")
            return set()  # leaving drops a staging schema created before the failure
        for r in chosen:  # the largest first: the last to end is small
            table = r.data.table
            staging = self._schemas[table.schema]
            target, staged = _quoted(conn, table.schema, table.name), _quoted(conn, staging, table.name)
            indexes = [staged_index(i, target, staged) for i in table.indexes]
            shadow = TableResult(
                replace(r.data, table=staged_table(table, staging, [i for i in indexes if i])), "create", None
            )
            whole = _Job(r, shadow, staging)
            self._tables.append(whole)
            self._jobs += self._split(whole, split) if r is chosen[0] and split >= 2 else [whole]
        # Ready steps in this order: creates, then finishes (as soon as their shares are in), then the rest.
        order = {"create": 0, "finish": 1, "whole": 2, "copy": 2}
        self._pending = sorted(self._jobs, key=lambda j: order[j.step])
        runnable = sum(1 for j in self._jobs if j.step in ("whole", "copy"))
        for n in range(min(self.jobs, runnable)):
            thread = threading.Thread(target=self._work, args=(n + 1,), name=f"seedctl-restore-{n + 1}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return {id(j.result) for j in self._tables}

    @staticmethod
    def _split(whole: _Job, parts: int) -> list[_Job]:
        data = whole.staged.data
        create = _Job(whole.result, whole.staged, whole.staging, "create")
        groups = split_files([int(p["rows"]) for p in data.parts], parts)
        copies = [
            _Job(whole.result, whole.staged, whole.staging, "copy", [data.parquet[i] for i in g], [create])
            for g in groups
        ]
        return [create, *copies, _Job(whole.result, whole.staged, whole.staging, "finish", after=copies)]

    def switch(self, conn: psycopg.Connection) -> None:
        """Wait for the workers; then move every staged table to its schema, count its rows
        again and drop the staging schemas, all in the restore's transaction."""
        if not self._jobs:
            return
        while any(t.is_alive() for t in self._threads):  # a timeout: Ctrl-C and SIGTERM get through
            for thread in self._threads:
                thread.join(timeout=0.2)
        if self._errors:
            raise self._errors[0]
        for job in self._tables:
            table = job.result.data.table
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(table.schema)))
            conn.execute(
                sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
                    sql.Identifier(job.staging, table.name), sql.Identifier(table.schema)
                )
            )
            rows = db.one(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table.identifier())))[0]
            if rows != job.result.loaded_rows:
                raise RestoreRefused(
                    f"table {job.result.data.source}: {rows} rows once switched in, expected {job.result.loaded_rows}",
                    "rolled back; nothing was changed",
                )
        for staging in self._schemas.values():
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(staging)))
        self._switched = True

    # --- the workers ------------------------------------------------------------------

    def _stageable(self, conn: psycopg.Connection, result: TableResult, shared: set[str]) -> bool:
        if not_stageable(result, shared) is not None:
            return False
        table = result.data.table
        for seq in table.sequences:
            if db.one(conn.execute("SELECT to_regclass(%s)", (seq.identifier().as_string(conn),)))[0] is not None:
                return False
        needed = prerequisites(conn, [table])
        if needed.extensions or needed.types or needed.functions or needed.problems:
            return False
        target = _quoted(conn, table.schema, table.name)
        return all(staged_index(i, target, target) is not None for i in table.indexes)

    def _next(self) -> _Job | None:
        """The first pending job whose predecessors have committed (None: none left, or stopped)."""
        with self._lock:
            while not self._stop.is_set() and self._pending:
                ready = next((j for j in self._pending if all(a.done for a in j.after)), None)
                if ready is not None:
                    self._pending.remove(ready)
                    return ready
                self._lock.wait(timeout=0.2)
            return None

    def _run(self, conn: psycopg.Connection, job: _Job, number: int) -> None:
        done, staged, table = job.result, job.staged, job.staged.data.table
        self._started.setdefault(id(done), time.perf_counter())
        with conn.transaction():
            if job.step == "whole":
                apply_in_encoding(conn, staged, False, self.batch_rows)
            elif job.step == "create":
                create_sequences(conn, table)
                staged.notes += create_table(conn, table)
            elif job.step == "copy":
                share = replace(staged.data, parquet=job.files)
                rows = copy_into(conn, table.identifier(), share, self.batch_rows, binary=True)
                with self._lock:
                    staged.loaded_rows += rows
            else:
                add_keys_and_indexes(conn, table)
                verify_loaded(conn, staged, table.identifier())
                bump_sequences(conn, table)
        if job.step in ("whole", "finish"):
            done.loaded_rows, done.verified = staged.loaded_rows, staged.verified
            how = (
                f"connection {number} of {len(self._threads)}"
                if job.step == "whole"
                else f"connections in {len(job.after)} shares of its files, keys and checks on connection {number}"
            )
            done.notes += [*staged.notes, f"loaded on parallel {how}"]
            done.seconds = time.perf_counter() - self._started[id(done)]
        with self._lock:
            job.done = True
            self._lock.notify_all()

    def _work(self, number: int) -> None:
        try:
            try:
                conn = db.connect()
            except DatabaseError as exc:
                raise DatabaseError(
                    f"parallel restore: cannot open connection {number}: {exc.message}",
                    "nothing was changed; restore with --jobs 1 (or fewer jobs)",
                ) from None
            with conn:
                with self._lock:
                    self._conns.append(conn)
                while (job := self._next()) is not None:
                    self._run(conn, job, number)
        except BaseException as exc:  # noqa: BLE001 - handed to switch() in the restore's thread
            with self._lock:
                first = not self._errors and not self._stop.is_set()
                self._errors.append(exc)
                self._stop.set()
                self._lock.notify_all()
            if first:  # the others stop now rather than load tables the restore will drop
                self._cancel()

    def _cancel(self) -> None:
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                if not conn.closed:
                    conn.cancel_safe(timeout=5)
            except Exception:  # noqa: BLE001, S110 - best effort: the rollback follows either way
                pass

    # --- leaving ----------------------------------------------------------------------

    def __enter__(self) -> ParallelLoad:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        """Stop the workers and drop the staging schemas unless the restore switched them in
        (then the restore's commit dropped them). A failure here leaves them for the next run."""
        if not self._schemas:
            return
        self._stop.set()
        if any(t.is_alive() for t in self._threads):
            self._cancel()
        for thread in self._threads:
            thread.join()
        if self._switched and exc is None:
            return
        try:
            with db.connect(autocommit=True) as conn:
                for staging in self._schemas.values():
                    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(staging)))
        except (psycopg.Error, DatabaseError):
            pass  # the next restore drops them (_drop_leftovers)


def _reason(exc: BaseException) -> str:
    return exc.message if isinstance(exc, DatabaseError) else db.first_line(exc)


def _quoted(conn: psycopg.Connection, schema: str, name: str) -> str:
    """schema.name as pg_get_indexdef writes it (each part through quote_ident)."""
    return str(db.one(conn.execute("SELECT quote_ident(%s) || '.' || quote_ident(%s)", (schema, name)))[0])


def _drop_leftovers(conn: psycopg.Connection) -> None:
    """Staging schemas of restores that were killed (their lead connection's backend is
    gone), in the restore's transaction. Only schemas with seedctl's name and comment: never
    user data. One that cannot be dropped (another owner) is left alone."""
    rows = conn.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s AND obj_description(oid, 'pg_namespace') = %s",
        (STAGING_PREFIX.replace("_", r"\_") + "%", STAGING_COMMENT),
    ).fetchall()
    alive = {r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity").fetchall()}
    for (name,) in rows:
        match = _STAGING_NAME.fullmatch(name)
        if match is None or int(match.group(1)) in alive:
            continue
        try:
            with conn.transaction():  # a savepoint: a schema we may not drop is not a failure
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
        except psycopg.Error:
            continue
