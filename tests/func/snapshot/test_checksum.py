"""Content checksums on a real server: row-text-v1 unchanged, typed-hash-v2 exact and stable.

Every check runs against tests/func/fidelity.sql (NaN, infinities, BC dates, -0,
jsonb, arrays, intervals, bytea) through seedctl's own connection settings (db.connect).
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from seedctl.pg import db
from seedctl.pg.checksum import CHECKSUM_ALGORITHM, LEGACY_ALGORITHM, NATIVE_TEXT_ALGORITHM, Checksum, table_checksum
from seedctl_dev.devserver import TempPostgres
from tests.helpers import FIDELITY_SQL

# Digests of fidelity.sql. v1: computed with the checksum module as it was before v2 (the
# same on PostgreSQL 15 and 18). v2: the format pin: a change here invalidates every
# snapshot already taken with typed-hash-v2.
FIDELITY_V1 = Checksum(7, "-17864211686375455402")
FIDELITY_V2 = Checksum(7, "15528908588063307455")

# Deterministic rows of many types, for the cross-version comparison.
GENERATED_SQL = """
CREATE TABLE gen AS
SELECT g AS id,
       timestamptz '2001-01-02 13:00+00' + g * interval '5 minutes' AS time,
       (ARRAY['USD/COP', 'EUR/COP', 'USD/MXN', 'USD/BRL'])[g % 4 + 1] AS symbol,
       (4000 + (g * 7919 % 100000) / 10000.0)::numeric(12,4) AS open,
       (g * 104729 % 500000)::bigint * 3037000493 AS volume,
       CASE g % 3 WHEN 0 THEN g * 0.37 WHEN 1 THEN round(g * 0.37, 5) ELSE g END AS free,
       g * 1.1e-3::float8 AS f8, (g * 0.7)::real AS f4,
       date '2000-01-01' + g AS d, g % 3 = 0 AS b,
       md5(g::text)::uuid AS u, decode(md5(g::text), 'hex') AS by,
       jsonb_build_object('g', g, 'x', g * 0.50) AS j, ARRAY[g, g + 1] AS arr,
       (g || ' minutes ' || g % 7 || ' days')::interval AS iv, repeat('x', g % 5)::varchar(10) AS vc,
       CASE WHEN g % 11 = 0 THEN NULL ELSE (g % 97)::smallint END AS i2
FROM generate_series(1, 20000) AS g
"""


@pytest.fixture
def conn(env_db: str) -> Iterator[psycopg.Connection]:
    with db.connect(autocommit=True) as c:
        c.execute(FIDELITY_SQL)
        yield c


def columns(conn: psycopg.Connection, table: str) -> tuple[list[str], list[str]]:
    rows = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (table,),
    ).fetchall()
    return [r[0] for r in rows], [r[1] for r in rows]


def checksum(
    conn: psycopg.Connection,
    table: str = "fidelity",
    algorithm: str = CHECKSUM_ALGORITHM,
    cols: tuple[list[str], list[str]] | None = None,
) -> Checksum:
    names, types = cols or columns(conn, table)
    return table_checksum(conn, sql.Identifier("public", table), names, algorithm=algorithm, types=types)


def test_v1_digest_is_unchanged(conn: psycopg.Connection) -> None:
    assert checksum(conn, algorithm=LEGACY_ALGORITHM) == FIDELITY_V1
    names, _ = columns(conn, "fidelity")
    assert table_checksum(conn, sql.Identifier("public", "fidelity"), names) == FIDELITY_V1  # the default


def test_v2_digest_is_pinned(conn: psycopg.Connection) -> None:
    assert checksum(conn, algorithm=NATIVE_TEXT_ALGORITHM) == FIDELITY_V2
    # v3 hashes text as UTF-8, which a UTF8 database's text already is: v2's digest.
    assert checksum(conn) == FIDELITY_V2


def test_unknown_algorithm(conn: psycopg.Connection) -> None:
    with pytest.raises(ValueError, match="unknown checksum algorithm 'md5'"):
        checksum(conn, algorithm="md5")


@pytest.mark.parametrize("algorithm", [LEGACY_ALGORITHM, CHECKSUM_ALGORITHM])
def test_same_content_in_another_row_and_column_order(conn: psycopg.Connection, algorithm: str) -> None:
    names, _ = columns(conn, "fidelity")
    reordered = sql.SQL(", ").join(map(sql.Identifier, reversed(names)))
    conn.execute(sql.SQL("CREATE TABLE shuffled AS SELECT {} FROM fidelity ORDER BY id DESC").format(reordered))
    assert columns(conn, "shuffled")[0] == names[::-1]
    snapshot = columns(conn, "fidelity")  # the snapshot's order and types
    assert checksum(conn, "shuffled", algorithm, snapshot) == checksum(conn, "fidelity", algorithm)


def _differs(conn: psycopg.Connection, update: sql.Composable) -> bool:
    with conn.transaction(force_rollback=True):
        conn.execute(update)
        return checksum(conn) != FIDELITY_V2


def test_any_changed_value_of_any_type_differs(conn: psycopg.Connection) -> None:
    """Every value of every column replaced by each other distinct value of that column, or NULL."""
    names, _ = columns(conn, "fidelity")
    checked = 0
    for name in names[1:]:  # not the primary key
        col = sql.Identifier(name)
        values = conn.execute(sql.SQL("SELECT id, {c}::text FROM fidelity ORDER BY id").format(c=col)).fetchall()
        for row_id, text in values:
            others = {t for _, t in values if t != text}
            for other_id, other in values:
                if other not in others:
                    continue
                others.discard(other)
                change = sql.SQL("UPDATE fidelity SET {c} = (SELECT {c} FROM fidelity WHERE id = {o}) WHERE id = {r}")
                assert _differs(conn, change.format(c=col, o=other_id, r=row_id)), (name, text, other)
                checked += 1
    assert checked > 300


def test_a_value_moved_to_another_row_differs(conn: psycopg.Connection) -> None:
    """Swapping one column's values between two rows: same column sums, different rows."""
    names, _ = columns(conn, "fidelity")
    for name in names[1:]:
        col = sql.Identifier(name)
        swap = sql.SQL("UPDATE fidelity f SET {c} = o.{c} FROM fidelity o WHERE (f.id, o.id) IN ((1, 2), (2, 1))")
        same = conn.execute(
            sql.SQL(
                "SELECT a.{c}::text IS NOT DISTINCT FROM b.{c}::text FROM fidelity a, fidelity b "
                "WHERE a.id = 1 AND b.id = 2"
            ).format(c=col)
        ).fetchone()[0]
        assert _differs(conn, swap.format(c=col)) != same, name


PAIRS = {  # two columns of one type each, to swap values and NULLs between
    "bigint": ("1", "2"),
    "numeric(12,4)": ("1.5", "2.5"),
    "numeric": ("1.0", "1.00"),
    "text": ("'a'", "'b'"),
    "double precision": ("0", "'-0'"),
    "date": ("'2020-01-01'", "'infinity'"),
    "boolean": ("true", "false"),
    "timestamp with time zone": ("'2020-01-01 00:00+00'", "'-infinity'"),
    "jsonb": ("'1'", "'[1]'"),
    "bytea": ("'\\x00'", "''"),
    "uuid": ("md5('a')::uuid", "md5('b')::uuid"),
    "character(2)": ("'a'", "'b'"),
}


@pytest.mark.parametrize("pg_type", PAIRS)
def test_values_and_nulls_swapped_between_columns_differ(conn: psycopg.Connection, pg_type: str) -> None:
    x, y = PAIRS[pg_type]
    conn.execute(f"CREATE TABLE pair (id int, a {pg_type}, b {pg_type})")
    cols = columns(conn, "pair")

    def digest(*rows: tuple[str, str]) -> str:
        with conn.transaction(force_rollback=True):
            for i, (a, b) in enumerate(rows):
                conn.execute(f"INSERT INTO pair VALUES ({i}, {a}, {b})")
            return checksum(conn, "pair", cols=cols).digest

    assert digest((x, y)) != digest((y, x))
    assert digest((x, "NULL")) != digest(("NULL", x))
    assert digest(("NULL", "NULL"), (x, y)) != digest((x, "NULL"), ("NULL", y))  # NULLs move between rows
    assert digest((x, "NULL")) != digest((x, x)) != digest((x, y)) != digest(("NULL", "NULL"))
    assert digest((x, x), (y, y)) != digest((x, y), (y, x))  # values move between rows, column sums equal


@pytest.mark.parametrize(
    ("pg_type", "values"),
    [
        ("double precision", ["0", "'-0'", "'NaN'", "NULL"]),
        ("real", ["0", "'-0'", "'NaN'", "NULL"]),
        ("numeric", ["1.0", "1.00", "1", "0", "0.0", "'NaN'", "NULL"]),
        ("numeric(12,4)", ["0", "'NaN'", "NULL", "1", "-1"]),
        ("text", ["''", "'a'", "'a '", "NULL"]),
        ("character(3)", ["''", "'a'", "NULL"]),
        ("interval", ["'1 day'", "'24 hours'", "NULL"]),
        ("jsonb", ["'1.0'", "'1.00'", "'null'", "NULL"]),
    ],
)
def test_values_postgresql_calls_equal_but_prints_differently_differ(
    conn: psycopg.Connection, pg_type: str, values: list[str]
) -> None:
    conn.execute(f"CREATE TABLE one (v {pg_type})")
    cols = columns(conn, "one")
    digests = set()
    for value in values:
        with conn.transaction(force_rollback=True):
            conn.execute(f"INSERT INTO one VALUES ({value})")
            digests.add(checksum(conn, "one", cols=cols).digest)
    assert len(digests) == len(values)


def test_nondeterministic_collation_does_not_conflate(conn: psycopg.Connection) -> None:
    try:
        conn.execute("CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)")
    except psycopg.errors.FeatureNotSupported:
        pytest.skip("server built without ICU")
    conn.execute("CREATE TABLE ci_text (t text COLLATE ci, v varchar(5) COLLATE ci)")
    cols = columns(conn, "ci_text")
    digests = set()
    for row in ("'a', 'b'", "'A', 'b'", "'a', 'B'"):
        with conn.transaction(force_rollback=True):
            conn.execute(f"INSERT INTO ci_text VALUES ({row})")
            digests.add(checksum(conn, "ci_text", cols=cols).digest)
    assert len(digests) == 3


def test_functions_on_the_search_path_cannot_fake_it(conn: psycopg.Connection) -> None:
    conn.execute("CREATE SCHEMA evil")
    for fn, args in [
        ("hashtextextended", "text, bigint"),
        ("hashint4extended", "integer, bigint"),
        ("hashint8extended", "bigint, bigint"),
        ("hash_numeric_extended", "numeric, bigint"),
        ("int8xor", "bigint, bigint"),
        ("timestamp_hash_extended", "timestamp, bigint"),
        ("hash_record_extended", "record, bigint"),
        ("uuid_hash_extended", "uuid, bigint"),
    ]:
        conn.execute(f"CREATE FUNCTION evil.{fn}({args}) RETURNS bigint LANGUAGE plpgsql AS 'BEGIN RETURN 0; END'")
    conn.execute("CREATE FUNCTION evil.numeric_lt(numeric, integer) RETURNS boolean LANGUAGE sql AS 'SELECT true'")
    conn.execute(
        "CREATE FUNCTION evil.timezone(interval, timestamptz) RETURNS timestamp LANGUAGE sql "
        "AS 'SELECT NULL::timestamp'"
    )
    conn.execute("CREATE DOMAIN evil.text AS pg_catalog.varchar(1)")
    snapshot = columns(conn, "fidelity")  # as the export saw them
    conn.execute("SET search_path = evil, pg_catalog, public")
    assert checksum(conn, cols=snapshot) == FIDELITY_V2
    assert checksum(conn, algorithm=LEGACY_ALGORITHM, cols=snapshot) == FIDELITY_V1


def test_empty_and_wide_tables(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE empty (a bigint, b jsonb)")
    assert checksum(conn, "empty") == Checksum(0, "0")
    cols = sql.SQL(", ").join(sql.SQL("c{} bigint").format(sql.SQL(str(i))) for i in range(1600))
    conn.execute(sql.SQL("CREATE TABLE wide ({})").format(cols))
    conn.execute("INSERT INTO wide (c0, c1599) VALUES (1, 2), (NULL, 3)")
    assert checksum(conn, "wide").rows == 2


def test_same_digests_on_both_major_versions(
    pg_server: TempPostgres, other_server: TempPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"):
        monkeypatch.delenv(var, raising=False)
    results = []
    for server in (pg_server, other_server):
        monkeypatch.setenv("DATABASE_URL", server.create_database("checksum_xv"))
        try:
            with db.connect(autocommit=True) as c:
                c.execute(FIDELITY_SQL)
                c.execute(GENERATED_SQL)
                results.append(
                    [checksum(c, t, a) for t in ("fidelity", "gen") for a in (LEGACY_ALGORITHM, CHECKSUM_ALGORITHM)]
                )
        finally:
            server.drop_database("checksum_xv")
    assert results[0] == results[1]
    assert results[0][:2] == [FIDELITY_V1, FIDELITY_V2]
    assert results[0][3].rows == 20000
