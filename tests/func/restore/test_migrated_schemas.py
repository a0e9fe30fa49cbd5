"""Schemas the way migration tools (Alembic, Django, Rails, Flyway) and init scripts build
them: snapshot -> push -> fresh clone -> restore onto a blank server and onto a
schema-first server leaves a database the application works with, as pg_dump +
pg_restore would; what seedctl does not capture is refused or warned about in one line.

Every test goes through the real CLI, a real PostgreSQL, the S3 server, dvc and git."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest

from seedctl_dev.testing import run_sql

if TYPE_CHECKING:
    from seedctl_dev.devserver import TempPostgres
    from tests.helpers import Project


def snapshot(project: Project, s3_env: dict[str, str], schema: str, data: str, tables: list[str]) -> None:
    """`schema` and `data` in the project's database, `tables` as sources; snapshot pushed and committed."""
    project.sql(schema)
    project.sql(data)
    params = project.params()
    params["sources"] = {
        t.split(".")[-1]: {"table": t if "." in t else f"public.{t}", "min_rows": 0, "max_null_ratio": 1.0}
        for t in tables
    }
    project.write_params(params)
    result = project.seedctl("snapshot", env=s3_env)
    assert result.returncode == 0, result.stdout + result.stderr
    project.commit_all("snapshot")


def new_database(pg_server: TempPostgres, schema: str = "") -> str:
    url = pg_server.create_database(f"m_{uuid.uuid4().hex[:10]}")
    if schema:
        psql = subprocess.run(
            ["psql", "-v", "ON_ERROR_STOP=1", "-q", "-c", schema, url], capture_output=True, text=True, check=False
        )
        assert psql.returncode == 0, psql.stderr
    return url


def restore(clone: Project, target: str, s3_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return clone.seedctl("restore", *args, env={**s3_env, "DATABASE_URL": target})


def rows(url: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(query).fetchall())


MIGRATED = """
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE FUNCTION is_slug(t text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT t ~ '^[a-z0-9-]+$' $$;
CREATE TABLE gen (id integer PRIMARY KEY, price numeric(10,2) NOT NULL, qty integer NOT NULL,
                  total numeric GENERATED ALWAYS AS (price * qty) STORED, note text);
CREATE TABLE misc (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), created_at timestamptz NOT NULL DEFAULT now(),
                   code text COLLATE "C" NOT NULL, slug text CHECK (is_slug(slug)), email text,
                   n integer, label text COLLATE "und-x-icu", CONSTRAINT misc_code_key UNIQUE (code) DEFERRABLE INITIALLY DEFERRED);
COMMENT ON COLUMN misc.code IS 'the code';
COMMENT ON TABLE misc IS 'misc table';
CREATE INDEX misc_lower_email ON misc (lower(email)) INCLUDE (n) WHERE email IS NOT NULL;
CREATE SCHEMA app;
CREATE TABLE app.thing (id bigserial PRIMARY KEY, name text NOT NULL);
"""
MIGRATED_DATA = """
INSERT INTO gen VALUES (1, 2.50, 4, DEFAULT, 'a'), (2, 1.00, 1, DEFAULT, NULL);
INSERT INTO misc (code, slug, email, n, label) VALUES ('b', 'x-1', 'A@b.org', 1, 'b'), ('a', NULL, NULL, 2, 'a'),
                                                     ('B', 'y', NULL, 3, 'B');
INSERT INTO app.thing (name) VALUES ('one'), ('two');
"""
MIGRATED_TABLES = ["gen", "misc", "app.thing"]


def test_generated_columns_are_recomputed_not_copied(
    project: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    snapshot(project, s3_env, MIGRATED, MIGRATED_DATA, MIGRATED_TABLES)
    clone = project.clone(tmp_path / "new-server")
    manifest = json.loads((clone.seeds / "manifest.json").read_text())
    entry = manifest["tables"]["gen"]["schema"]
    assert [c["name"] for c in entry["columns"]] == ["id", "price", "qty", "note"]  # not data, as pg_dump
    assert [c["name"] for c in entry["generated"]] == ["total"]

    for target in (new_database(pg_server), new_database(pg_server, MIGRATED)):
        result = restore(clone, target, s3_env)
        assert result.returncode == 0, result.stderr
        assert rows(target, "SELECT id, total::text FROM gen ORDER BY id") == [(1, "10.00"), (2, "1.00")]
        with psycopg.connect(target) as conn:  # still generated: the application's updates recompute it
            conn.execute("UPDATE gen SET qty = 10 WHERE id = 1")
            assert conn.execute("SELECT total::text FROM gen WHERE id = 1").fetchone() == ("25.00",)
            conn.rollback()
        verify = clone.seedctl("verify", "--db", env={"DATABASE_URL": target})
        assert verify.returncode == 0, verify.stdout + verify.stderr
        for mode in ("replace", "append"):
            result = restore(clone, target, s3_env, "--mode", mode)
            assert result.returncode == 0, (mode, result.stderr)
            assert rows(target, "SELECT id, total::text FROM gen ORDER BY id") == [(1, "10.00"), (2, "1.00")]


def test_blank_server_gets_collations_comments_functions_and_defaults(
    project: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    snapshot(project, s3_env, MIGRATED, MIGRATED_DATA, MIGRATED_TABLES)
    clone = project.clone(tmp_path / "new-server")
    target = new_database(pg_server)

    result = restore(clone, target, s3_env)

    assert result.returncode == 0, result.stderr
    assert "created function public.is_slug(text)" in result.stdout
    # the columns' collations came along: ORDER BY sorts as the application's did
    assert rows(target, "SELECT code FROM misc ORDER BY code") == [("B",), ("a",), ("b",)]
    assert rows(target, "SELECT label FROM misc ORDER BY label") == [("a",), ("b",), ("B",)]
    assert rows(
        target,
        "SELECT a.attname, c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation "
        "WHERE a.attrelid = 'misc'::regclass AND a.attname IN ('code', 'label') ORDER BY 1",
    ) == [("code", "C"), ("label", "und-x-icu")]
    assert rows(target, "SELECT col_description('misc'::regclass, 3), obj_description('misc'::regclass)") == [
        ("the code", "misc table")
    ]
    with psycopg.connect(target) as conn:
        # defaults now() and gen_random_uuid() came along: the application may leave them out
        new = conn.execute("INSERT INTO misc (code) VALUES ('z') RETURNING id IS NOT NULL, created_at IS NOT NULL")
        assert new.fetchone() == (True, True)
        with pytest.raises(psycopg.errors.CheckViolation):  # the CHECK calling is_slug() is there
            conn.execute("INSERT INTO misc (code, slug) VALUES ('q', 'Not A Slug')")
        conn.rollback()
        with conn.transaction():  # the unique constraint is still DEFERRABLE INITIALLY DEFERRED
            conn.execute("UPDATE misc SET code = 'tmp' WHERE code = 'a'")
            conn.execute("UPDATE misc SET code = 'a' WHERE code = 'b'")
            conn.execute("UPDATE misc SET code = 'b' WHERE code = 'tmp'")
        index = conn.execute("SELECT pg_get_indexdef('misc_lower_email'::regclass)").fetchone()[0]
        assert "INCLUDE (n)" in index and "WHERE (email IS NOT NULL)" in index
    assert rows(target, "SELECT name FROM app.thing ORDER BY id") == [("one",), ("two",)]
    with psycopg.connect(target) as conn:
        assert conn.execute("INSERT INTO app.thing (name) VALUES ('three') RETURNING id").fetchone() == (3,)


# Declared child first: a restore in the sources' order would load orders before customers.
FOREIGN = """
CREATE TABLE country (code text PRIMARY KEY);
CREATE TABLE customers (id integer PRIMARY KEY, country text REFERENCES country (code), referrer integer);
ALTER TABLE customers ADD CONSTRAINT customers_referrer_fkey FOREIGN KEY (referrer) REFERENCES customers (id);
CREATE TABLE orders (id integer PRIMARY KEY, customer integer NOT NULL REFERENCES customers (id) ON DELETE CASCADE);
"""
FOREIGN_DATA = """
INSERT INTO country VALUES ('fr'), ('de');
INSERT INTO customers VALUES (1, 'fr', 2), (2, 'de', NULL), (3, NULL, 1);
INSERT INTO orders VALUES (10, 1), (11, 3), (12, 3);
"""


def test_foreign_keys_are_recreated_after_the_load_and_loaded_in_order(
    project: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    snapshot(project, s3_env, FOREIGN, FOREIGN_DATA, ["orders", "customers"])
    clone = project.clone(tmp_path / "new-server")

    blank = new_database(pg_server)
    result = restore(clone, blank, s3_env)
    assert result.returncode == 0, result.stderr
    # the key to a table outside the snapshot: one line saying what to run once it exists
    out = " ".join(result.stdout.split())  # the console wraps long lines
    note = out[out.index("customers: foreign key customers_country_fkey") :]
    assert "table public.country is neither in the snapshot nor on the target" in note
    assert (
        "ALTER TABLE public.customers ADD CONSTRAINT customers_country_fkey FOREIGN KEY (country) "
        "REFERENCES public.country(code);" in note
    )
    with psycopg.connect(blank) as conn:  # the keys between snapshot tables hold, with their actions
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("INSERT INTO orders VALUES (99, 42)")
        conn.rollback()
        conn.execute("DELETE FROM customers WHERE id = 3")
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (1,)  # ON DELETE CASCADE
        conn.rollback()

    schema_first = new_database(pg_server, FOREIGN + "INSERT INTO country VALUES ('fr'), ('de');")
    for mode in ("safe", "replace", "append"):  # referenced tables are loaded (and emptied) first
        result = restore(clone, schema_first, s3_env, "--mode", mode)
        assert result.returncode == 0, (mode, result.stderr)
        assert rows(schema_first, "SELECT id, customer FROM orders ORDER BY id") == [(10, 1), (11, 3), (12, 3)]


def test_replace_refuses_a_table_referenced_from_outside_the_snapshot(
    project: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    snapshot(project, s3_env, FOREIGN, FOREIGN_DATA, ["orders", "customers"])
    clone = project.clone(tmp_path / "new-server")
    target = new_database(
        pg_server,
        FOREIGN + "INSERT INTO country VALUES ('fr'), ('de'); CREATE TABLE invoices (id integer PRIMARY KEY, "
        "customer integer REFERENCES customers (id));",
    )
    assert restore(clone, target, s3_env).returncode == 0
    run_sql(target, "INSERT INTO invoices VALUES (1, 2)")

    result = restore(clone, target, s3_env, "--mode", "replace")

    assert result.returncode == 8, result.stdout + result.stderr
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "cannot empty table public.customers: foreign key invoices_customer_fkey of table public.invoices" in line
    assert "add public.invoices to sources" in line
    assert rows(target, "SELECT count(*) FROM orders") == [(3,)]


PARTITIONED = """
CREATE TABLE events (id bigint NOT NULL, at date NOT NULL, body text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_late PARTITION OF events FOR VALUES FROM ('2025-01-01') TO (MAXVALUE) PARTITION BY RANGE (at);
CREATE TABLE events_late_x PARTITION OF events_late FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_late_rest PARTITION OF events_late DEFAULT;
CREATE INDEX events_body ON events (body);
CREATE TABLE event_tags (event bigint, at date, tag text, FOREIGN KEY (event, at) REFERENCES events);
"""
PARTITIONED_DATA = """
INSERT INTO events VALUES (1, '2024-03-01', 'a'), (2, '2025-03-01', 'x'), (3, '2026-01-01', 'y');
INSERT INTO event_tags VALUES (3, '2026-01-01', 'late');
"""


def test_partitioned_table_is_restored_partitioned(
    project: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    snapshot(project, s3_env, PARTITIONED, PARTITIONED_DATA, ["event_tags", "events"])
    clone = project.clone(tmp_path / "new-server")
    placed = [("events_2024", 1), ("events_late_x", 2), ("events_late_rest", 3)]

    for target in (new_database(pg_server), new_database(pg_server, PARTITIONED)):
        for mode in ("safe", "replace"):  # replace: TRUNCATE then COPY (not FREEZE: refused on a partitioned table)
            result = restore(clone, target, s3_env, "--mode", mode)
            assert result.returncode == 0, (mode, result.stderr)
            assert rows(target, "SELECT tableoid::regclass::text, id FROM events ORDER BY id") == placed
        assert rows(target, "SELECT relname FROM pg_class WHERE relkind = 'p' ORDER BY 1") == [
            ("events",),
            ("events_late",),
        ]
        with psycopg.connect(target) as conn:  # new rows are routed, keys and indexes hold on every partition
            conn.execute("INSERT INTO events VALUES (4, '2024-05-05', 'b')")
            with pytest.raises(psycopg.errors.UniqueViolation):
                conn.execute("INSERT INTO events VALUES (2, '2025-03-01', 'x')")
            conn.rollback()
            assert conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'events_late_x'").fetchone() == (2,)
            with pytest.raises(psycopg.errors.ForeignKeyViolation):  # the key to the partitioned table holds
                conn.execute("INSERT INTO event_tags VALUES (9, '2024-01-01', 'none')")
        verify = clone.seedctl("verify", "--db", env={"DATABASE_URL": target})
        assert verify.returncode == 0, verify.stdout + verify.stderr


TRIGGERS = """
CREATE TABLE touched (id integer PRIMARY KEY, note text, updated_at timestamptz);
CREATE TABLE audit (id integer, what text);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE FUNCTION audited() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit VALUES (NEW.id, TG_OP); RETURN NEW; END $$;
CREATE TABLE logged (id integer PRIMARY KEY, note text);
CREATE TRIGGER audited AFTER INSERT ON logged FOR EACH ROW EXECUTE FUNCTION audited();
"""
TOUCH = "CREATE TRIGGER touch BEFORE INSERT OR UPDATE ON touched FOR EACH ROW EXECUTE FUNCTION touch();"
TRIGGERS_DATA = (
    "INSERT INTO touched VALUES (1, 'x', NULL), (2, 'y', NULL); INSERT INTO logged VALUES (1, 'a'), (2, 'b');"
)


def test_target_triggers_fire_and_one_that_changes_rows_is_named(
    project: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    snapshot(project, s3_env, TRIGGERS, TRIGGERS_DATA, ["touched", "logged"])
    clone = project.clone(tmp_path / "new-server")

    target = new_database(pg_server, TRIGGERS)  # triggers fire, as with pg_restore; the operator is told
    result = restore(clone, target, s3_env)
    assert result.returncode == 0, result.stderr
    assert "logged: trigger(s) audited fired for every restored row" in " ".join(result.stdout.split())
    assert rows(target, "SELECT id, what FROM audit ORDER BY id") == [(1, "INSERT"), (2, "INSERT")]

    target = new_database(pg_server, TRIGGERS + TOUCH)
    result = restore(clone, target, s3_env)
    assert result.returncode == 8, result.stdout + result.stderr
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "trigger(s) touch on public.touched changed the rows as they were loaded" in line
    assert "ALTER TABLE public.touched DISABLE TRIGGER touch;" in line
    assert rows(target, "SELECT count(*) FROM touched") == [(0,)]

    run_sql(target, "ALTER TABLE touched DISABLE TRIGGER touch")  # the fix the line gives works
    assert restore(clone, target, s3_env).returncode == 0
    assert rows(target, "SELECT id, updated_at FROM touched ORDER BY id") == [(1, None), (2, None)]


# Migrations run with search_path = app, public: the catalog then prints app's objects unqualified.
IN_APP_SCHEMA = """
CREATE SCHEMA app;
CREATE FUNCTION app.norm(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(trim(t)) $$;
CREATE TABLE app.users (id serial PRIMARY KEY, email text NOT NULL CHECK (app.norm(email) <> ''),
                        code text DEFAULT app.norm(' X '));
CREATE UNIQUE INDEX users_email ON app.users (app.norm(email));
CREATE VIEW app.users_v AS SELECT id, email FROM app.users;
"""


def test_schema_with_its_own_search_path_restores_on_a_default_server(
    project: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    database = project.database_url.rsplit("/", 1)[1]
    run_sql(project.database_url, f"ALTER DATABASE {database} SET search_path = app, public")
    snapshot(project, s3_env, IN_APP_SCHEMA, "INSERT INTO app.users (email) VALUES ('A@x'), ('b@x');", ["app.users"])
    clone = project.clone(tmp_path / "new-server")
    target = new_database(pg_server)

    result = restore(clone, target, s3_env)

    assert result.returncode == 0, result.stderr
    with psycopg.connect(target) as conn:
        assert conn.execute("INSERT INTO app.users (email) VALUES ('c@x') RETURNING id, code").fetchone() == (3, "x")
        with pytest.raises(psycopg.errors.UniqueViolation):  # the expression index came along
            conn.execute("INSERT INTO app.users (email) VALUES (' a@X')")
    # a view on the table (schema-first target) does not stop --mode replace: TRUNCATE, not DROP
    assert restore(clone, new_database(pg_server, IN_APP_SCHEMA), s3_env, "--mode", "replace").returncode == 0
    view_target = new_database(pg_server, IN_APP_SCHEMA + "INSERT INTO app.users (email) VALUES ('old@x');")
    result = restore(clone, view_target, s3_env, "--mode", "replace")
    assert result.returncode == 0, result.stderr
    assert rows(view_target, "SELECT email FROM app.users_v ORDER BY id") == [("A@x",), ("b@x",)]
