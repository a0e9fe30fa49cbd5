"""Databases whose encoding is not UTF8: sessions run in UTF8 (db.connect), so the server
converts on the way out and in. A LATIN1 database's text (both restore paths: binary COPY
for plain text tables, CSV for jsonb and enums) snapshots as UTF-8 and restores exactly
into LATIN1 and UTF8 databases; text that LATIN1 cannot hold is refused in one line,
with nothing changed.

Through the real CLI against the session's PostgreSQL server."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest
from psycopg import sql

from seedctl.pg.copybinary import binary_layout
from seedctl_dev.devserver import TempPostgres
from tests.helpers import Project, make_project, one_error_line

# Non-ASCII text LATIN1 holds (Spanish, as the platform's data; the high half of LATIN1).
WORDS = ["café", "Ñandú", "¿Qué pasó?", "año", "°C ½ ¾ ÿ", "naïve façade", "\u00a0nbsp", "plain"]
SCHEMA = """
CREATE TYPE tamaño AS ENUM ('pequeño', 'señal');
CREATE TABLE palabras (id integer PRIMARY KEY, "año" text NOT NULL, corto varchar(20), fijo char(12));
CREATE TABLE documentos (id integer PRIMARY KEY, doc jsonb NOT NULL, t tamaño NOT NULL, nota text);
"""


def _database(server: TempPostgres, encoding: str) -> str:
    name = f"enc_{encoding.lower()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING {} LC_COLLATE 'C' LC_CTYPE 'C'").format(
                sql.Identifier(name), sql.Literal(encoding)
            )
        )
    return server.url(name)


@pytest.fixture
def databases(pg_server: TempPostgres) -> Iterator[dict[str, str]]:
    urls = {"source": _database(pg_server, "LATIN1")}
    urls["latin1"] = _database(pg_server, "LATIN1")
    urls["utf8"] = _database(pg_server, "UTF8")
    try:
        yield urls
    finally:
        for url in urls.values():
            pg_server.drop_database(url.rsplit("/", 1)[1])


def _fill(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(SCHEMA)
        for i, word in enumerate(WORDS):
            conn.execute(
                "INSERT INTO palabras VALUES (%s, %s, %s, %s)", (i, word, word[:20], word[:12] if i % 2 else None)
            )
            conn.execute(
                "INSERT INTO documentos VALUES (%s, %s, %s, %s)",
                (i, f'{{"{word}": ["{word}", {i}]}}', "señal" if i % 2 else "pequeño", word),
            )


def _contents(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row as Python values (decoded from the database's own encoding by the client)."""
    with psycopg.connect(url) as conn:
        return {
            "palabras": conn.execute('SELECT id, "año", corto, fijo FROM palabras ORDER BY id').fetchall(),
            "documentos": conn.execute("SELECT id, doc::text, t::text, nota FROM documentos ORDER BY id").fetchall(),
        }


def _project(tmp_path: Path, url: str) -> Project:
    project = make_project(tmp_path / "repo", url)
    params = project.params()
    params["sources"] = {
        t: {"table": f"public.{t}", "min_rows": 1, "max_null_ratio": 1.0} for t in ("palabras", "documentos")
    }
    project.write_params(params)
    project.commit_all("latin1 sources")
    return project


def test_a_latin1_database_snapshots_as_utf8_and_restores_exactly(tmp_path: Path, databases: dict[str, str]) -> None:
    _fill(databases["source"])
    project = _project(tmp_path, databases["source"])
    snap = project.seedctl("snapshot", "--no-push")
    assert snap.returncode == 0, snap.stderr
    source = _contents(databases["source"])
    assert [r[1] for r in source["palabras"]] == WORDS
    # A checksum of the text's UTF-8 bytes, so that a UTF8 database can verify it too.
    manifest = json.loads((project.root / "seeds" / "manifest.json").read_text())
    assert {t["checksum_algorithm"] for t in manifest["tables"].values()} == {"typed-hash-v3"}

    # The files hold the text as UTF-8, whatever the source database's encoding.
    stored = pq.read_table(project.root / "seeds" / "data" / "palabras.parquet")
    assert stored.column("año").to_pylist() == WORDS
    # Both restore paths are taken: palabras (text, varchar, char) binary, documentos
    # (jsonb, an enum) CSV.
    assert binary_layout(stored.schema) is not None
    assert binary_layout(pq.read_schema(project.root / "seeds" / "data" / "documentos.parquet")) is None

    for target in ("latin1", "utf8"):
        result = project.seedctl("restore", env={"DATABASE_URL": databases[target]})
        assert result.returncode == 0, result.stderr
        assert _contents(databases[target]) == source, target


def test_text_latin1_cannot_hold_is_refused_in_one_line_and_nothing_changes(
    tmp_path: Path, databases: dict[str, str]
) -> None:
    utf8 = databases["utf8"]
    _fill(utf8)
    with psycopg.connect(utf8) as conn:
        conn.execute("INSERT INTO palabras VALUES (100, '€ 日本語', NULL, NULL)")
    project = _project(tmp_path, utf8)
    snap = project.seedctl("snapshot", "--no-push")
    assert snap.returncode == 0, snap.stderr

    target = databases["latin1"]
    with psycopg.connect(target) as conn:
        conn.execute("CREATE TABLE keep (id integer PRIMARY KEY)")
        conn.execute("INSERT INTO keep VALUES (1)")
    result = project.seedctl("restore", env={"DATABASE_URL": target})
    assert result.returncode != 0
    line = one_error_line(result, "LATIN1", "palabras")
    assert "UTF8" in line, line
    with psycopg.connect(target) as conn:
        tables = conn.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
        )
        assert [r[0] for r in tables.fetchall()] == ["keep"]
        assert conn.execute("SELECT count(*) FROM pg_type WHERE typname = 'tamaño'").fetchone() == (0,)
