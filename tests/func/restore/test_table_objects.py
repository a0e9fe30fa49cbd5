"""The objects pg_dump recreates with a table, on a blank server: triggers with their
functions, row-level security and its policies, grants on tables and columns, views over
the snapshot's tables (with their grants). What cannot be carried (a rule, extended
statistics, a view over a table outside the snapshot, a grant to a role the target lacks)
is named in one line at snapshot and at restore. Real PostgreSQL, the real CLI."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from seedctl_dev.testing import run_sql
from tests.helpers import new_database

if TYPE_CHECKING:
    from seedctl_dev.devserver import TempPostgres
    from tests.helpers import Project

# As a migration would make it (roles are the cluster's: unique per test).
SCHEMA = """
CREATE ROLE {reader};
CREATE ROLE {auditor};
CREATE SCHEMA app;
CREATE TABLE accounts (id integer PRIMARY KEY, owner_name text NOT NULL, email text, balance numeric(12,2),
                       updated_at timestamptz);
CREATE TABLE orders (id integer PRIMARY KEY, account_id integer REFERENCES accounts, amount numeric(12,2));
CREATE TABLE outside (id integer PRIMARY KEY);
CREATE FUNCTION app.set_updated_at() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE TRIGGER accounts_touch BEFORE INSERT OR UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION app.set_updated_at();
CREATE FUNCTION app.no_big_orders() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN IF NEW.amount > 1000 THEN RAISE EXCEPTION 'too big'; END IF; RETURN NEW; END $$;
CREATE TRIGGER orders_limit BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION app.no_big_orders();
CREATE TRIGGER orders_off BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION app.no_big_orders();
ALTER TABLE orders DISABLE TRIGGER orders_off;
ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON accounts FOR SELECT TO {reader}, {auditor} USING (owner_name = current_user);
GRANT SELECT ON accounts, orders TO {reader};
GRANT SELECT (id, email), UPDATE (email) ON accounts TO {auditor};
CREATE VIEW account_totals AS
  SELECT a.id, a.owner_name, sum(o.amount) AS total FROM accounts a JOIN orders o ON o.account_id = a.id
  GROUP BY a.id, a.owner_name;
CREATE VIEW big_accounts WITH (security_barrier = true) AS SELECT id, total FROM account_totals WHERE total > 100;
GRANT SELECT ON account_totals TO {reader};
CREATE VIEW with_outside AS SELECT o.id FROM orders o JOIN outside x ON x.id = o.id;
CREATE RULE keep_orders AS ON DELETE TO orders DO INSTEAD NOTHING;
CREATE STATISTICS orders_stats (dependencies) ON account_id, amount FROM orders;
CREATE MATERIALIZED VIEW order_counts AS SELECT account_id, count(*) FROM orders GROUP BY account_id;
CREATE TRIGGER big_insert INSTEAD OF INSERT ON big_accounts FOR EACH ROW EXECUTE FUNCTION app.no_big_orders();
"""
ROWS = """
INSERT INTO accounts (id, owner_name, email, balance) VALUES
  (1, '{reader}', 'r@example.org', 10), (2, 'someone', 's@example.org', 20), (3, 'else', NULL, 30);
INSERT INTO orders VALUES (1, 1, 50), (2, 1, 70), (3, 2, 5);
INSERT INTO outside VALUES (1);
"""
NOT_CARRIED = (
    "not carried: rule keep_orders on public.orders",
    "not carried: statistics public.orders_stats on public.orders",
    "not carried: view public.with_outside (reads public.outside, which is not in the snapshot)",
    "not carried: materialized view public.order_counts",
    "not carried: trigger big_insert on view public.big_accounts",
)


@pytest.fixture
def roles(pg_server: TempPostgres) -> dict[str, str]:
    """Role names unique to the test: roles belong to the cluster, shared by the source and
    target databases (as on one server); the throwaway cluster takes them with it."""
    suffix = uuid.uuid4().hex[:8]
    return {"reader": f"reader_{suffix}", "auditor": f"auditor_{suffix}"}


def snapshot_objects(project: Project, roles: dict[str, str]) -> str:
    """The schema and rows in the project's database, snapshotted (no push); its stderr."""
    project.sql(SCHEMA.format(**roles))
    project.sql(ROWS.format(**roles))
    params = project.params()
    params["sources"] = {
        t: {"table": f"public.{t}", "min_rows": 1, "max_null_ratio": 1.0} for t in ("accounts", "orders")
    }
    project.write_params(params)
    result = project.seedctl("snapshot", "--no-push")
    assert result.returncode == 0, result.stderr
    project.commit_all("snapshot")
    return result.stderr


def restore(project: Project, target: str, *args: str) -> str:
    result = project.seedctl("restore", *args, env={"DATABASE_URL": target})
    assert result.returncode == 0, result.stderr
    return " ".join(result.stdout.split())  # notes are printed soft-wrapped: one line each, however wide


def read_manifest(project: Project) -> dict[str, Any]:
    return json.loads((project.seeds / "manifest.json").read_text())


def commit_manifest(project: Project, manifest: dict[str, Any], message: str) -> None:
    """The checked-out snapshot's manifest replaced by `manifest` (a snapshot as another
    seedctl, or another server, would have written it), committed."""
    (project.seeds / "manifest.json").write_text(json.dumps(manifest, indent=2))
    project.commit_all(message)


def test_blank_server_gets_triggers_policies_grants_and_views(
    project: Project, pg_server: TempPostgres, roles: dict[str, str]
) -> None:
    reader, auditor = roles["reader"], roles["auditor"]
    stderr = snapshot_objects(project, roles)
    for line in NOT_CARRIED:
        assert f"seedctl: {line}\n" in stderr
    target = new_database(pg_server)
    plan = restore(project, target, "--dry-run")
    assert (
        "accounts: would recreate 1 trigger(s), 1 policy(ies), 3 grant(s), 2 view(s) over it, row-level security"
        in plan
    )
    assert "orders: would recreate 2 trigger(s), 1 grant(s), 2 view(s) over it" in plan
    assert run_sql(target, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace") == [(0,)]

    out = restore(project, target)

    for line in NOT_CARRIED:
        assert line in out and line in plan
    assert "recreated function app.set_updated_at(), trigger accounts_touch, row-level security (forced)" in out
    assert "created view public.account_totals with 1 grant(s)" in out
    assert "created view public.big_accounts" in out
    # Restored rows kept their values (no trigger fired on them: the checksum held), ...
    source_rows = run_sql(project.database_url, "SELECT id, updated_at FROM accounts ORDER BY id")
    assert run_sql(target, "SELECT id, updated_at FROM accounts ORDER BY id") == source_rows
    # ... and the application's next write fires them.
    stamped = run_sql(target, "INSERT INTO accounts (id, owner_name) VALUES (9, 'app') RETURNING updated_at")
    assert stamped[0][0] is not None
    with pytest.raises(psycopg.errors.RaiseException, match="too big"):
        run_sql(target, "INSERT INTO orders VALUES (9, 1, 5000)")
    assert run_sql(
        target,
        "SELECT tgname, tgenabled::text FROM pg_trigger WHERE tgrelid = 'orders'::regclass "
        "AND NOT tgisinternal ORDER BY 1",
    ) == [("orders_limit", "O"), ("orders_off", "D")]
    # Row-level security: enabled, forced, the same policy for the same roles.
    assert run_sql(
        target, "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'accounts'::regclass"
    ) == [(True, True)]
    policy = "SELECT policyname, cmd, roles::text[], qual FROM pg_policies WHERE tablename = 'accounts'"
    assert run_sql(target, policy) == run_sql(project.database_url, policy)
    with psycopg.connect(target) as conn:
        conn.execute(f"SET ROLE {reader}")
        assert conn.execute("SELECT id FROM accounts ORDER BY id").fetchall() == [(1,)]
        assert conn.execute("SELECT id, total FROM account_totals ORDER BY id").fetchall()  # the view's grant
    # Grants on tables and columns.
    privileges = f"""
        SELECT has_table_privilege('{reader}', 'public.accounts', 'SELECT'),
               has_table_privilege('{reader}', 'public.orders', 'SELECT'),
               has_table_privilege('{reader}', 'public.orders', 'INSERT'),
               has_column_privilege('{auditor}', 'public.accounts', 'email', 'UPDATE'),
               has_column_privilege('{auditor}', 'public.accounts', 'balance', 'SELECT'),
               has_table_privilege('{reader}', 'public.account_totals', 'SELECT')"""
    assert run_sql(target, privileges) == [(True, True, False, True, False, True)]
    # The views return the source's rows; the one over a table outside the snapshot is absent.
    totals = "SELECT * FROM account_totals ORDER BY id"
    assert run_sql(target, totals) == run_sql(project.database_url, totals)
    assert run_sql(target, "SELECT * FROM big_accounts") == [(1, 120)]
    assert run_sql(target, "SELECT reloptions FROM pg_class WHERE oid = 'big_accounts'::regclass") == [
        (["security_barrier=true"],)
    ]
    assert run_sql(target, "SELECT to_regclass('public.with_outside')") == [(None,)]
    assert run_sql(target, "SELECT count(*) FROM pg_rewrite WHERE rulename = 'keep_orders'") == [(0,)]


def test_a_role_the_target_lacks_is_named_and_the_rest_restores(
    project: Project, pg_server: TempPostgres, roles: dict[str, str]
) -> None:
    reader, auditor = roles["reader"], roles["auditor"]
    snapshot_objects(project, roles)
    # The role exists on the source server only: gone from the cluster before the restore.
    project.sql(f"DROP OWNED BY {auditor}; DROP ROLE {auditor}")
    target = new_database(pg_server)

    out = restore(project, target)

    assert (
        f"not carried: grant SELECT, UPDATE (email) on public.accounts to role {auditor} "
        "(role does not exist on this server)" in out
    )
    assert (
        f"not carried: policy own_rows on public.accounts for role {auditor} (role does not exist on this server)"
        in out
    )
    assert run_sql(target, "SELECT roles::text[] FROM pg_policies WHERE policyname = 'own_rows'") == [([reader],)]
    assert run_sql(target, f"SELECT has_table_privilege('{reader}', 'public.accounts', 'SELECT')") == [(True,)]


def test_replace_keeps_the_views_and_objects_of_existing_tables(
    project: Project, pg_server: TempPostgres, roles: dict[str, str]
) -> None:
    snapshot_objects(project, roles)
    target = new_database(pg_server)
    restore(project, target)
    run_sql(
        target,
        "ALTER TABLE accounts DISABLE TRIGGER accounts_touch; DELETE FROM orders; INSERT INTO orders VALUES (7, 3, 1)",
    )

    out = restore(project, target, "--mode", "replace")

    assert "recreated" not in out and "not carried" not in out  # existing tables: their objects are theirs
    totals = "SELECT * FROM account_totals ORDER BY id"
    assert run_sql(target, totals) == run_sql(project.database_url, totals)
    assert run_sql(target, "SELECT count(*) FROM pg_policies WHERE tablename = 'accounts'") == [(1,)]
    assert run_sql(target, "SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'accounts_touch'") == [("D",)]


def test_format_5_snapshot_without_objects_restores_and_says_so(
    project: Project, pg_server: TempPostgres, roles: dict[str, str]
) -> None:
    snapshot_objects(project, roles)
    # What seedctl wrote before objects were recorded (format 5): the manifest without them.
    manifest = read_manifest(project)
    manifest["compatibility"]["schema_version"] = 5
    for entry in manifest["tables"].values():
        del entry["schema"]["objects"]
    commit_manifest(project, manifest, "format 5 snapshot")
    target = new_database(pg_server)

    out = restore(project, target)

    assert "triggers, row-level security, grants and views are not recorded in this snapshot (format 5 or older)" in out
    assert run_sql(target, "SELECT count(*) FROM accounts") == [(3,)]
    assert run_sql(target, "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal") == [(0,)]


def test_a_trigger_whose_function_the_target_refuses_is_named(
    project: Project, pg_server: TempPostgres, roles: dict[str, str]
) -> None:
    snapshot_objects(project, roles)
    # A function in a language this server lacks (as a PL/Python one on a server without it).
    manifest = read_manifest(project)
    function = manifest["tables"]["accounts"]["schema"]["objects"]["functions"][0]
    function["definition"] = function["definition"].replace("LANGUAGE plpgsql", "LANGUAGE plnothing")
    commit_manifest(project, manifest, "a function this server cannot create")
    target = new_database(pg_server)

    out = restore(project, target)

    assert 'not carried: function app.set_updated_at() (language "plnothing" does not exist)' in out
    assert 'not carried: trigger accounts_touch on public.accounts (schema "app" does not exist)' in out
    assert (
        run_sql(target, "SELECT tgname FROM pg_trigger WHERE tgrelid = 'accounts'::regclass AND NOT tgisinternal") == []
    )
    assert run_sql(target, "SELECT count(*) FROM accounts") == [(3,)]  # the rest restored
    assert run_sql(target, "SELECT relforcerowsecurity FROM pg_class WHERE oid = 'accounts'::regclass") == [(True,)]


def test_a_partial_restore_recreates_views_over_a_table_already_there(
    project: Project, pg_server: TempPostgres, roles: dict[str, str]
) -> None:
    snapshot_objects(project, roles)
    target = new_database(pg_server)
    restore(project, target)
    # orders lost on the target, with the views over it; the trigger function stays, changed there.
    run_sql(target, "DROP TABLE orders CASCADE; CREATE TABLE big_accounts (id integer)")
    run_sql(
        target,
        "CREATE OR REPLACE FUNCTION app.no_big_orders() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RETURN NEW; END $$",
    )

    out = restore(project, target, "--table", "orders")

    assert "created view public.account_totals with 1 grant(s)" in out  # accounts was there already
    assert "not carried: view public.big_accounts (a relation of that name is on this server)" in out
    totals = "SELECT * FROM account_totals ORDER BY id"
    assert run_sql(target, totals) == run_sql(project.database_url, totals)
    # The target's own function is not replaced by the snapshot's.
    assert "orders: recreated trigger orders_limit, trigger orders_off (disabled), 1 grant(s)" in out
    assert run_sql(target, "INSERT INTO orders VALUES (9, 1, 5000) RETURNING id") == [(9,)]


def test_a_partitioned_table_carries_its_own_objects_and_names_its_partitions(
    project: Project, pg_server: TempPostgres, roles: dict[str, str]
) -> None:
    reader = roles["reader"]
    project.sql(f"""
        CREATE ROLE {reader};
        CREATE TABLE events (at date NOT NULL, note text, stamped timestamptz) PARTITION BY RANGE (at);
        CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.stamped := now(); RETURN NEW; END $$;
        CREATE TRIGGER events_stamp BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION stamp();
        GRANT SELECT ON events TO {reader};
        GRANT SELECT ON events_2024 TO {reader};
        INSERT INTO events (at, note) VALUES ('2024-03-01', 'a');
    """)
    params = project.params()
    params["sources"] = {"events": {"table": "public.events", "min_rows": 1, "max_null_ratio": 1.0}}
    project.write_params(params)
    snap = project.seedctl("snapshot", "--no-push")
    assert snap.returncode == 0, snap.stderr
    line = "not carried: grants of partition public.events_2024 (only the partitioned table's are recorded)"
    assert [ln for ln in snap.stderr.splitlines() if "not carried" in ln] == [f"seedctl: {line}"]  # the clone: not
    project.commit_all("snapshot")
    target = new_database(pg_server)

    out = restore(project, target)

    assert line in out
    assert "recreated function public.stamp(), trigger events_stamp, 1 grant(s)" in out
    [(stamped,)] = run_sql(target, "INSERT INTO events (at) VALUES ('2024-06-01') RETURNING stamped")
    assert stamped is not None  # the parent's trigger, cloned to the partition again
    assert run_sql(target, f"SELECT has_table_privilege('{reader}', 'public.events', 'SELECT')") == [(True,)]


def test_the_record_is_the_same_for_the_same_database(project: Project, roles: dict[str, str]) -> None:
    snapshot_objects(project, roles)
    first = (project.seeds / "schema.json").read_bytes()
    manifest = (project.seeds / "manifest.json").read_bytes()

    again = project.seedctl("snapshot", "--no-push")

    assert again.returncode == 0, again.stderr
    assert (project.seeds / "schema.json").read_bytes() == first  # an unchanged database changes nothing
    assert (project.seeds / "manifest.json").read_bytes() == manifest
    objects = json.loads(first)["tables"]["orders"]["schema"]["objects"]
    assert [v["name"] for v in objects["views"]] == ["account_totals", "big_accounts"]  # what a view reads first


def test_a_failure_while_making_the_objects_rolls_the_whole_restore_back(
    project: Project, pg_server: TempPostgres, roles: dict[str, str]
) -> None:
    snapshot_objects(project, roles)
    target = new_database(pg_server)
    # The server fails in the last phase (not a refused definition: the disk filled up).
    run_sql(
        target,
        "CREATE FUNCTION fail_policy() RETURNS event_trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'no space left on device' USING ERRCODE = 'disk_full'; END $$; "
        "CREATE EVENT TRIGGER no_policies ON ddl_command_end WHEN TAG IN ('CREATE POLICY') "
        "EXECUTE FUNCTION fail_policy()",
    )

    result = project.seedctl("restore", env={"DATABASE_URL": target})

    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert "restore failed and was rolled back: no space left on device" in line and "nothing was changed" in line
    assert run_sql(target, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace") == [(0,)]
    assert run_sql(target, "SELECT to_regnamespace('app')") == [(None,)]
