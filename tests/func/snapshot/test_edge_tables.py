"""Tables at the edges, end to end through the real CLI: empty ones (partitioned or not),
values of tens of MB, and names that need quoting in every position."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pyarrow.parquet as pq
import pytest

from seedctl.config import parse_params
from seedctl.pg import copyout
from seedctl.snapshot.export import run_export
from tests.helpers import new_database

if TYPE_CHECKING:
    from seedctl_dev.devserver import TempPostgres
    from tests.helpers import Project


def snapshot(project: Project, sources: dict[str, Any], *, env: dict[str, str] | None = None) -> None:
    data = project.params()
    data["sources"] = sources
    project.write_params(data)
    result = project.seedctl("snapshot", *([] if env else ["--no-push"]), env=env)
    assert result.returncode == 0, result.stderr
    project.commit_all("snapshot")


def texts(url: str, query: str) -> list[str]:
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        return [r[0] for r in conn.execute(query)]


def manifest(project: Project) -> dict[str, Any]:
    return json.loads((project.seeds / "manifest.json").read_text())


# --- empty tables ---------------------------------------------------------------------------

EMPTY_TABLES = """
CREATE TABLE quiet (id bigint PRIMARY KEY, note text NOT NULL);
CREATE TABLE quiet_series (t timestamptz, sym text, px numeric(12,4), PRIMARY KEY (t, sym));
CREATE INDEX quiet_series_sym ON quiet_series (sym);
"""
EMPTY_SOURCES = {
    "quiet": {"table": "public.quiet", "required": False, "min_rows": 0},
    "quiet_series": {
        "table": "public.quiet_series",
        "time_column": "t",
        "partition": "month",
        "required": True,
        "min_rows": 0,
    },
}


def test_empty_tables_snapshot_and_restore_with_their_keys(
    project: Project, pg_server: TempPostgres, s3_env: dict[str, str], tmp_path: Path
) -> None:
    project.sql(EMPTY_TABLES)
    snapshot(project, EMPTY_SOURCES, env=s3_env)

    tables = manifest(project)["tables"]
    assert tables["quiet"]["rows"] == 0 and tables["quiet_series"]["rows"] == 0
    # A partitioned table's files are always under its directory, even without rows.
    assert [p["file"] for p in tables["quiet_series"]["parts"]] == ["data/quiet_series/empty.parquet"]
    assert [p["file"] for p in tables["quiet"]["parts"]] == ["data/quiet.parquet"]

    # A new server: fresh clone, no DVC cache, new database.
    target = new_database(pg_server)
    clone = project.clone(tmp_path / "clone", database_url=target)
    restored = clone.seedctl("restore", env=s3_env)
    assert restored.returncode == 0, restored.stderr
    with psycopg.connect(target) as conn:
        assert conn.execute("SELECT count(*) FROM quiet").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM quiet_series").fetchone() == (0,)
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    assert {"quiet_pkey", "quiet_series_pkey", "quiet_series_sym"} <= indexes
    verify = clone.seedctl("verify", "--db", env=s3_env)
    assert verify.returncode == 0, verify.stderr + verify.stdout

    # Rows arrive: the next snapshot's partitioned files replace the empty one; list and
    # diff read both versions.
    project.sql("INSERT INTO quiet VALUES (1, 'a'); INSERT INTO quiet_series VALUES ('2024-03-01 10:00+00', 'X', 1.5)")
    snapshot(project, EMPTY_SOURCES, env=s3_env)
    assert [p["file"] for p in manifest(project)["tables"]["quiet_series"]["parts"]] == [
        "data/quiet_series/2024-03.parquet"
    ]
    assert not (project.seeds / "data" / "quiet_series" / "empty.parquet").exists()
    listed = project.seedctl("list", "--json", env=s3_env)
    assert listed.returncode == 0, listed.stderr
    versions = json.loads(listed.stdout)["versions"]
    assert sorted(v["rows"]["quiet_series"] for v in versions) == [0, 1], versions
    tags = project.git("tag", "--sort=creatordate").split()
    assert len(tags) == 2
    clone.git("fetch", "-q", "--tags", "origin")
    diff = clone.seedctl("diff", tags[0], tags[1], "--json", env=s3_env)  # data from the remote
    assert diff.returncode == 0, diff.stderr
    changes = {t["table"]: (t["rows_a"], t["rows_b"], t["added"]) for t in json.loads(diff.stdout)["tables"]}
    assert changes == {"quiet": (0, 1, 1), "quiet_series": (0, 1, 1)}


def test_min_rows_decides_whether_empty_is_acceptable(project: Project) -> None:
    project.sql(EMPTY_TABLES)
    data = project.params()
    data["sources"] = {"quiet": {"table": "public.quiet", "min_rows": 1}}
    project.write_params(data)

    result = project.seedctl("snapshot", "--no-push")

    assert result.returncode != 0
    assert "quiet" in result.stderr and "0" in result.stderr
    assert "Traceback" not in result.stderr and "Empty CSV" not in result.stderr


# --- values of tens of MB -------------------------------------------------------------------


def test_values_of_tens_of_megabytes_round_trip(project: Project, pg_server: TempPostgres) -> None:
    # ~24 MB of text (with quotes and newlines, which CSV escapes), 12 MB of bytea (24 MB as
    # hex text) and a ~20 MB jsonb document, next to small rows on either side.
    project.sql("""
        CREATE TABLE blobs (id int PRIMARY KEY, t text, b bytea, j jsonb);
        INSERT INTO blobs VALUES (1, 'small', '\\x00ff', '{"a": 1}');
        INSERT INTO blobs SELECT 2, repeat('a"b,c' || chr(10) || 'd', 3000000), NULL, NULL;
        INSERT INTO blobs SELECT 3, NULL, decode(repeat('00ff7f80', 3000000), 'hex'), NULL;
        INSERT INTO blobs SELECT 4, NULL, NULL,
            (SELECT jsonb_agg(jsonb_build_object('k', g, 'v', repeat('x', 40))) FROM generate_series(1, 350000) g);
        INSERT INTO blobs VALUES (5, '', '\\x', '[]');
    """)
    snapshot(project, {"blobs": {"table": "public.blobs", "min_rows": 5, "max_null_ratio": 1.0}})
    target = new_database(pg_server)

    restored = project.seedctl("restore", env={"DATABASE_URL": target})

    assert restored.returncode == 0, restored.stderr
    assert "rows + checksum" in restored.stdout
    query = (
        "SELECT id || ':' || coalesce(md5(t), '-') || coalesce(md5(b), '-') || coalesce(md5(j::text), '-') "
        "|| ':' || coalesce(octet_length(t), -1) || ',' || coalesce(octet_length(b), -1) FROM blobs ORDER BY id"
    )
    source = texts(project.database_url, query)
    assert texts(target, query) == source
    assert int(source[1].rsplit(":", 1)[1].split(",")[0]) > 20_000_000


# --- names that need quoting ----------------------------------------------------------------

QUOTED_TABLE = '''
CREATE SCHEMA "My Schema";
CREATE TABLE "My Schema"."Mixed Case" (
    "Trade Time" timestamptz NOT NULL,
    "select" text NOT NULL,
    "Open" numeric(12,4), high numeric(12,4), "LOW" numeric(12,4), "close price" numeric(12,4),
    "Note, ""quoted""" text,
    "semi;colon :psqlvar \back" int DEFAULT 7,
    PRIMARY KEY ("Trade Time", "select")
);
CREATE INDEX "by ""select""" ON "My Schema"."Mixed Case" ("select");
INSERT INTO "My Schema"."Mixed Case"
SELECT timestamptz '2024-01-30 00:00+00' + g * interval '1 day', s, 10, 12, 9, 11,
       CASE WHEN g % 2 = 0 THEN 'x"y' END
FROM generate_series(0, 40) g, (VALUES ('from'), ('Where')) v(s);
'''


def test_quoted_identifiers_everywhere_round_trip(project: Project, pg_server: TempPostgres) -> None:
    project.sql(QUOTED_TABLE)
    snapshot(
        project,
        {
            "mixed_case": {
                "table": '"My Schema"."Mixed Case"',
                "time_column": '"Trade Time"',
                "partition": "month",
                "min_rows": 82,
                "ohlcv": {"open": '"Open"', "high": "HIGH", "low": '"LOW"', "close": '"close price"'},
                "column_max_null_ratio": {'"Note, ""quoted"""': 0.6, '"select"': 0.0},
            }
        },
    )
    files = sorted(p["file"] for p in manifest(project)["tables"]["mixed_case"]["parts"])
    assert files == [
        "data/mixed_case/2024-01.parquet",
        "data/mixed_case/2024-02.parquet",
        "data/mixed_case/2024-03.parquet",
    ]
    target = new_database(pg_server)

    restored = project.seedctl("restore", env={"DATABASE_URL": target})

    assert restored.returncode == 0, restored.stderr
    query = 'SELECT r::text FROM "My Schema"."Mixed Case" r ORDER BY 1'
    assert texts(target, query) == texts(project.database_url, query)
    with psycopg.connect(target) as conn:
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'My Schema'")}
    assert {"Mixed Case_pkey", 'by "select"'} <= indexes
    verify = project.seedctl("verify", "--db", env={"DATABASE_URL": target})
    assert verify.returncode == 0, verify.stderr + verify.stdout


def test_unquoted_names_fold_to_lower_case(project: Project) -> None:
    project.sql(QUOTED_TABLE)
    data = project.params()
    data["sources"] = {"mixed_case": {"table": '"My Schema".Mixed_Case', "min_rows": 0}}
    project.write_params(data)

    result = project.seedctl("snapshot", "--no-push")

    assert result.returncode != 0
    assert "My Schema.mixed_case does not exist" in result.stderr, result.stderr


@pytest.mark.parametrize("through", ["psql", "psycopg"])
def test_rows_longer_than_the_csv_block_on_both_copy_paths(
    env_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, through: str
) -> None:
    if through == "psycopg":
        monkeypatch.setattr(copyout, "find_psql", lambda: None)
    with psycopg.connect(env_db, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE big (id int PRIMARY KEY, t text, b bytea);"
            "INSERT INTO big VALUES (1, 'a', NULL),"
            " (2, repeat('x\"y', 3000000), decode(repeat('ff', 5000000), 'hex')), (3, NULL, '\\x00')"
        )

    result = run_export(parse_params({"sources": {"big": {"table": "big"}}}), tmp_path / "seeds")

    back = pq.read_table(tmp_path / "seeds" / result.tables[0].parts[0].file)
    assert back.column("t").to_pylist() == ["a", 'x"y' * 3000000, None]
    assert back.column("b").to_pylist() == [None, "\\x" + "ff" * 5000000, "\\x00"]
