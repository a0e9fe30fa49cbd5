"""The pure parts of pg/objects.py: the statements a restore runs from a recorded table's
objects, the lines that name what is not carried, and the record's round trip."""

from __future__ import annotations

import pytest
from psycopg import sql

from seedctl.errors import IntegrityError
from seedctl.pg.catalog import Column, TableSchema
from seedctl.pg.objects import (
    PUBLIC,
    TableObjects,
    View,
    grant_phrase,
    grant_statement,
    policy_statement,
    view_statement,
)

TARGET = sql.Identifier("public", "accounts")


def text(statement: sql.Composable) -> str:
    return statement.as_string(None)


def test_table_grant_with_grant_option() -> None:
    grant = {"column": "", "role": "reporting", "privileges": ["INSERT", "SELECT"], "grantable": True}
    assert text(grant_statement(grant, TARGET, "public.accounts")) == (
        'GRANT INSERT, SELECT ON TABLE "public"."accounts" TO "reporting" WITH GRANT OPTION'
    )
    assert grant_phrase(grant, "public.accounts") == "grant INSERT, SELECT on public.accounts to role reporting"


def test_column_grant_to_public_and_a_quoted_role() -> None:
    column = {"column": "e-mail", "role": PUBLIC, "privileges": ["SELECT", "UPDATE"], "grantable": False}
    assert text(grant_statement(column, TARGET, "public.accounts")) == (
        'GRANT SELECT ("e-mail"), UPDATE ("e-mail") ON TABLE "public"."accounts" TO PUBLIC'
    )
    assert grant_phrase(column, "public.accounts") == "grant SELECT, UPDATE (e-mail) on public.accounts to PUBLIC"
    quoted = {"column": "", "role": 'App "Reader"', "privileges": ["SELECT"], "grantable": False}
    assert text(grant_statement(quoted, TARGET, "public.accounts")).endswith('TO "App ""Reader"""')


def test_policy_for_the_roles_the_target_has() -> None:
    policy = {
        "name": "own rows",
        "command": "UPDATE",
        "permissive": False,
        "roles": ["a", "b"],
        "using": "(owner_name = CURRENT_USER)",
        "check": "(balance >= (0)::numeric)",
    }
    assert text(policy_statement(policy, ["b", PUBLIC], TARGET, "public.accounts")) == (
        'CREATE POLICY "own rows" ON "public"."accounts" AS RESTRICTIVE FOR UPDATE TO "b", PUBLIC '
        "USING ((owner_name = CURRENT_USER)) WITH CHECK ((balance >= (0)::numeric))"
    )
    insert = {**policy, "command": "INSERT", "permissive": True, "using": ""}
    assert text(policy_statement(insert, ["a"], TARGET, "public.accounts")) == (
        'CREATE POLICY "own rows" ON "public"."accounts" AS PERMISSIVE FOR INSERT TO "a" '
        "WITH CHECK ((balance >= (0)::numeric))"
    )


def test_view_with_options() -> None:
    view = View(
        "app", "Totals", "SELECT a.id\n   FROM public.accounts a", [["public", "accounts"]], ["check_option=local"]
    )
    assert text(view_statement(view)) == (
        'CREATE VIEW "app"."Totals" WITH (check_option = \'local\') AS SELECT a.id\n   FROM public.accounts a'
    )
    plain = View("public", "v", "WITH x AS (SELECT 1) SELECT * FROM x")
    assert text(view_statement(plain)) == 'CREATE VIEW "public"."v" AS WITH x AS (SELECT 1) SELECT * FROM x'


@pytest.mark.parametrize(
    ("build", "what"),
    [
        (
            lambda: grant_statement(
                {"column": "", "role": "r", "privileges": ["ALL; DROP TABLE x"], "grantable": False}, TARGET, "t"
            ),
            "privilege",
        ),
        (
            lambda: policy_statement(
                {"name": "p", "command": "DROP", "permissive": True, "roles": [], "using": "", "check": ""},
                ["r"],
                TARGET,
                "t",
            ),
            "policy command",
        ),
        (lambda: view_statement(View("public", "v", "DROP TABLE accounts")), "view definition"),
        (lambda: view_statement(View("public", "v", "SELECT 1", options=["x=1) AS SELECT 2; --"])), "view option"),
    ],
)
def test_edited_text_is_refused(build: object, what: str) -> None:
    with pytest.raises(IntegrityError, match=f"unexpected {what}"):
        build()  # type: ignore[operator]


def test_record_round_trips_and_format_5_has_none() -> None:
    objects = TableObjects(
        triggers=[{"name": "t", "definition": "CREATE TRIGGER t ...", "enabled": "D"}],
        row_security=True,
        force_row_security=True,
        policies=[{"name": "p", "command": "ALL", "permissive": True, "roles": ["r"], "using": "true", "check": ""}],
        grants=[{"column": "", "role": "r", "privileges": ["SELECT"], "grantable": False}],
        views=[View("public", "v", "SELECT 1", [["public", "t"]])],
        not_carried=["rule r on public.t"],
    )
    table = TableSchema("public", "t", [Column("id", "integer", "int4", -1, True)], ["id"], objects=objects)
    assert TableSchema.from_dict(table.to_dict()) == table
    old = table.to_dict()
    del old["objects"]  # written before objects were recorded
    assert TableSchema.from_dict(old).objects is None
