"""`seedctl restore --jobs N`: the tables a restore creates loaded over several connections,
still all or nothing, exactly what --jobs 1 gives."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from seedctl_dev.testing import run_sql
from tests.helpers import (
    GATE_KEY,
    GATES,
    TERMINATED,
    UNGATE,
    kill_group,
    new_database,
    one_error_line,
    sample_contents,
    state,
    terminate_at_gate,
    wait_for_session,
    wait_until_gone,
)

if TYPE_CHECKING:
    from seedctl_dev.devserver import TempPostgres
    from tests.helpers import Project

PARALLEL = "loaded on parallel connection"
VENV = Path(sys.executable).parent.parent  # make restore uses this virtualenv, not one of its own


def catalog(url: str) -> dict[str, Any]:
    """state() plus what it leaves out: column defaults and identity, comments, schemas."""
    with psycopg.connect(url) as conn:
        return {
            **state(url),
            "defaults": conn.execute(
                "SELECT table_schema, table_name, column_name, column_default, is_identity, identity_generation "
                "FROM information_schema.columns WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
                "ORDER BY 1, 2, 3"
            ).fetchall(),
            "comments": conn.execute(
                "SELECT c.oid::regclass::text, d.objsubid, d.description FROM pg_description d "
                "JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass "
                "WHERE c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace) "
                "ORDER BY 1, 2"
            ).fetchall(),
            "owned": conn.execute(
                "SELECT s.oid::regclass::text, d.refobjid::regclass::text, d.deptype FROM pg_class s "
                "JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass "
                "AND d.refclassid = 'pg_class'::regclass WHERE s.relkind = 'S' ORDER BY 1"
            ).fetchall(),
            "schemas": staging_schemas(url),
        }


def staging_schemas(url: str) -> list[str]:
    rows = run_sql(url, r"SELECT nspname FROM pg_namespace WHERE nspname LIKE 'seedctl\_restore\_%' ORDER BY 1")
    return [r[0] for r in rows]


def next_trade_id(url: str) -> tuple[int, int]:
    """The id the next trade gets, and the largest restored one (rolled back)."""
    with psycopg.connect(url) as conn:
        top = conn.execute("SELECT max(id) FROM trades_history").fetchone()[0]  # type: ignore[index]
        new = conn.execute(
            "INSERT INTO trades_history (opened_at, side, entry_price, quantity) "
            "VALUES (now(), 'long', 4000, 1) RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
        conn.rollback()
        return new, top


def test_parallel_restore_gives_exactly_what_one_connection_gives(
    snapshotted: Project, pg_server: TempPostgres
) -> None:
    serial, parallel = new_database(pg_server), new_database(pg_server)

    one = snapshotted.seedctl("restore", "--jobs", "1", env={"DATABASE_URL": serial})
    # As README prints it: make restore JOBS=4 (three tables: three connections).
    three = snapshotted.run("make", "restore", "JOBS=4", env={"DATABASE_URL": parallel, "VENV": str(VENV)})

    assert one.returncode == 0, one.stderr
    assert three.returncode == 0, three.stderr
    assert PARALLEL not in one.stdout
    for table in ("usdcop_m5_ohlcv", "macro_indicators_daily", "trades_history"):
        assert f"{table}: {PARALLEL}" in three.stdout, three.stdout
    # Four connections for three tables: the fourth takes a share of the largest one's files.
    assert f"usdcop_m5_ohlcv: {PARALLEL}s in 2 shares of its files" in three.stdout, three.stdout
    assert three.stdout.count("rows + checksum") == 3, three.stdout
    assert catalog(parallel) == catalog(serial)
    assert sample_contents(parallel) == sample_contents(snapshotted.database_url)
    assert staging_schemas(parallel) == []
    new, top = next_trade_id(parallel)
    assert new == top + 1  # the identity sequence continues after the restored ids
    verify = snapshotted.seedctl("verify", "--db", env={"DATABASE_URL": parallel})
    assert verify.returncode == 0, verify.stderr + verify.stdout


OTHER_SCHEMA = """
CREATE SCHEMA market;
CREATE TABLE market.bars (id serial PRIMARY KEY, "Symbol" text NOT NULL, px numeric(12,4) CHECK (px > 0),
                          note text, UNIQUE ("Symbol", id));
CREATE INDEX "Bars px idx" ON market.bars (px) WHERE note IS NOT NULL;
CREATE INDEX bars_lower_idx ON market.bars (lower("Symbol"));
COMMENT ON TABLE market.bars IS 'bars in another schema';
COMMENT ON COLUMN market.bars.px IS 'the price';
CREATE TABLE parents (id bigint GENERATED ALWAYS AS IDENTITY (START WITH 7 INCREMENT BY 3) PRIMARY KEY, name text);
CREATE TABLE children (id bigserial PRIMARY KEY, parent_id bigint NOT NULL REFERENCES parents (id), v int);
CREATE INDEX children_parent_idx ON children (parent_id);
INSERT INTO market.bars ("Symbol", px, note) SELECT 'S' || (g % 7), g * 1.5, CASE WHEN g % 3 = 0 THEN 'n' END
    FROM generate_series(1, 3000) g;
INSERT INTO parents (name) SELECT 'p' || g FROM generate_series(1, 50) g;
INSERT INTO children (parent_id, v) SELECT 7 + 3 * (g % 50), g FROM generate_series(1, 2000) g;
"""


def test_other_schemas_quoted_names_serials_comments_and_foreign_keys_come_out_the_same(
    project: Project, pg_server: TempPostgres
) -> None:
    project.sql(OTHER_SCHEMA)
    params = project.params()
    params["sources"] = {
        t: {"table": q, "min_rows": 1, "max_null_ratio": 1.0}
        for t, q in (("bars", "market.bars"), ("parents", "public.parents"), ("children", "public.children"))
    }
    project.write_params(params)
    snapshot = project.seedctl("snapshot", "--no-push")
    assert snapshot.returncode == 0, snapshot.stderr
    project.commit_all("snapshot")
    serial, parallel = new_database(pg_server), new_database(pg_server)

    one = project.seedctl("restore", "--jobs", "1", env={"DATABASE_URL": serial})
    three = project.seedctl("restore", "--jobs", "3", env={"DATABASE_URL": parallel})

    assert one.returncode == 0, one.stderr
    assert three.returncode == 0, three.stderr
    for table in ("bars", "parents", "children"):
        assert f"{table}: {PARALLEL}" in three.stdout, three.stdout
    assert catalog(parallel) == catalog(serial)
    assert catalog(parallel)["contents"] == catalog(project.database_url)["contents"]
    with psycopg.connect(parallel) as conn:
        assert conn.execute("INSERT INTO parents (name) VALUES ('new') RETURNING id").fetchone() == (7 + 3 * 50,)
        assert conn.execute("INSERT INTO market.bars (\"Symbol\", px) VALUES ('x', 1) RETURNING id").fetchone() == (
            3001,
        )
        with pytest.raises(psycopg.errors.ForeignKeyViolation):  # the foreign key was added after the switch
            conn.execute("INSERT INTO children (parent_id, v) VALUES (1, 1)")


@pytest.mark.parametrize(
    ("table", "jobs"),
    [("trades_history", "3"), ("usdcop_m5_ohlcv", "4")],
    ids=["whole-table", "table-in-shares"],  # --jobs 4: usdcop_m5_ohlcv's files over two connections
)
def test_one_failing_worker_leaves_the_target_unchanged(
    snapshotted: Project, target: str, table: str, jobs: str
) -> None:
    # The target's DBA guard refuses the key of one table: that worker fails, the others
    # have committed theirs in the staging schema by then or are stopped.
    run_sql(
        target,
        r"""
        CREATE FUNCTION refuse_trades_key() RETURNS event_trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands()
                       WHERE object_identity LIKE 'seedctl\_restore\_%.<table>') THEN
                RAISE EXCEPTION 'keys on <table> are refused here';
            END IF;
        END $$;
        CREATE EVENT TRIGGER refuse_trades_key ON ddl_command_end WHEN TAG IN ('ALTER TABLE')
            EXECUTE FUNCTION refuse_trades_key();
        """.replace("<table>", table),
    )
    before = catalog(target)

    result = snapshotted.seedctl("restore", "--jobs", jobs, env={"DATABASE_URL": target})

    line = one_error_line(result, f"keys on {table} are refused here", "rolled back")
    assert result.returncode == 3, line
    wait_until_gone(target)
    assert catalog(target) == before  # no table, no sequence, no staging schema

    run_sql(target, "DROP EVENT TRIGGER refuse_trades_key")
    again = snapshotted.seedctl("restore", "--jobs", jobs, env={"DATABASE_URL": target})
    assert again.returncode == 0, again.stderr
    assert sample_contents(target) == sample_contents(snapshotted.database_url)


def _gated(url: str) -> None:
    """Every ALTER TABLE (the staged tables' primary keys) waits for GATE_KEY."""
    gate_sql, _ = GATES["primary-key"]
    run_sql(url, gate_sql.format(key=GATE_KEY, db=f'"{url.rsplit("/", 1)[1]}"'))


@pytest.mark.parametrize("jobs", ["3", "4"], ids=["tables", "with-shares"])
def test_sigterm_during_a_parallel_restore_leaves_nothing(snapshotted: Project, target: str, jobs: str) -> None:
    _gated(target)
    before = catalog(target)

    def staged() -> None:
        assert staging_schemas(target), "the workers load into a staging schema"

    code, err = terminate_at_gate(
        snapshotted, target, ["restore", "--jobs", jobs], "ALTER TABLE%seedctl_restore_%", reached=staged
    )
    assert code == 143, err
    assert err.strip().splitlines() == [TERMINATED]
    wait_until_gone(target)
    assert catalog(target) == before
    run_sql(target, UNGATE)


def test_a_killed_runs_staging_schema_is_dropped_by_the_next_restore(snapshotted: Project, target: str) -> None:
    _gated(target)
    # Named like a staging schema but not marked as one: the user's, never dropped.
    run_sql(
        target, "CREATE SCHEMA seedctl_restore_1_deadbeef_0; CREATE TABLE seedctl_restore_1_deadbeef_0.mine (x int)"
    )
    with psycopg.connect(target, autocommit=True) as gate:
        gate.execute("SELECT pg_advisory_lock(%s)", (GATE_KEY,))
        proc = snapshotted.spawn("restore", "--jobs", "2", env={"DATABASE_URL": target})
        try:
            wait_for_session(target, "ALTER TABLE%seedctl_restore_%", waiting_on="advisory", proc=proc)
            kill_group(proc)  # SIGKILL: no cleanup runs
        finally:
            if proc.poll() is None:
                kill_group(proc)
            gate.execute("SELECT pg_advisory_unlock(%s)", (GATE_KEY,))
    wait_until_gone(target)
    left = [s for s in staging_schemas(target) if s != "seedctl_restore_1_deadbeef_0"]
    assert len(left) == 1, left
    assert run_sql(target, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]
    run_sql(target, UNGATE)

    result = snapshotted.seedctl("restore", "--jobs", "2", env={"DATABASE_URL": target})

    assert result.returncode == 0, result.stderr
    assert staging_schemas(target) == ["seedctl_restore_1_deadbeef_0"]
    assert run_sql(target, "SELECT count(*) FROM seedctl_restore_1_deadbeef_0.mine") == [(0,)]
    assert sample_contents(target) == sample_contents(snapshotted.database_url)


def test_replace_with_jobs_loads_existing_tables_in_the_one_transaction(
    snapshotted: Project, diverged_target: str
) -> None:
    # diverged_target: usdcop_m5_ohlcv absent (created: staged), the other two changed (replaced
    # in the restore's transaction), keepme not in the snapshot (left alone).
    result = snapshotted.seedctl("restore", "--mode", "replace", "--jobs", "3", env={"DATABASE_URL": diverged_target})

    assert result.returncode == 0, result.stderr
    assert f"usdcop_m5_ohlcv: {PARALLEL}" in result.stdout
    assert f"trades_history: {PARALLEL}" not in result.stdout
    assert f"macro_indicators_daily: {PARALLEL}" not in result.stdout
    assert sample_contents(diverged_target) == sample_contents(snapshotted.database_url)
    assert run_sql(diverged_target, "SELECT note FROM keepme") == [("not in any snapshot",)]
    assert staging_schemas(diverged_target) == []


def test_single_connection_servers_get_one_connection(snapshotted: Project, target: str) -> None:
    params = snapshotted.params()
    params["backup"]["single_connection"] = True
    snapshotted.write_params(params)

    result = snapshotted.seedctl("restore", "--jobs", "3", env={"DATABASE_URL": target})

    assert result.returncode == 0, result.stderr
    assert PARALLEL not in result.stdout
    assert sample_contents(target) == sample_contents(snapshotted.database_url)


def test_jobs_below_one_is_one_line(snapshotted: Project, target: str) -> None:
    result = snapshotted.seedctl("restore", "--jobs", "0", env={"DATABASE_URL": target})

    line = one_error_line(result, "--jobs 0", "--jobs 1 or more")
    assert result.returncode == 2, line
    assert state(target)["contents"] == {}


def test_a_role_allowed_one_session_restores_over_that_one(snapshotted: Project, target: str) -> None:
    # No backup.single_connection here: the server refuses the staging schema's connection.
    role = f"solo_{uuid.uuid4().hex[:8]}"
    run_sql(target, f"CREATE ROLE {role} LOGIN PASSWORD 'solo-pw' NOSUPERUSER CONNECTION LIMIT 1")
    run_sql(target, f'ALTER DATABASE "{target.rsplit("/", 1)[1]}" OWNER TO {role}')
    as_role = f"postgresql://{role}:solo-pw@{target.split('@', 1)[1]}"

    result = snapshotted.seedctl("restore", "--jobs", "3", env={"DATABASE_URL": as_role})

    assert result.returncode == 0, result.stderr
    assert PARALLEL not in result.stdout
    note = next(ln for ln in result.stdout.splitlines() if "all tables loaded over one connection" in ln)
    assert "no staging schema" in note and "too many connections" in note, note
    assert sample_contents(target) == sample_contents(snapshotted.database_url)
    assert staging_schemas(target) == []
