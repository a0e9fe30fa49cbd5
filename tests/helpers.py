"""Fault injection: real PostgreSQL, a real S3 API server on loopback, real `dvc` and `git`.

Every test here breaks something at a chosen moment (a SIGKILL, a stopped server, a full
disk, an edited file, a hostile input) and then asserts two things: nothing was lost or
silently changed, and the next ordinary run recovers without manual repair.

Taking a snapshot costs a `dvc repro` (seconds), so one committed snapshot of the small
sample data is made once per session (`snapshot_template`) and every test gets a private
copy: the project tree copied with `shutil.copytree` (git history and DVC cache included)
and the database cloned with `CREATE DATABASE ... TEMPLATE`.

The scratch-project driver (Project, run_sql, project_env) is seedctl_dev.testing, shared
with tests/integration.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from seedctl_dev import sample
from seedctl_dev import testing
from seedctl_dev.demo import scratch_copy
from seedctl_dev.devserver import TempPostgres
from seedctl_dev.testing import project_env

REPO = Path(__file__).resolve().parents[2]
SMALL_SCALE = 0.02  # ~1,800 bars, ~200 macro days, a dozen trades
# The tables of the sample data and the order that makes their contents comparable.
ORDER = {"usdcop_m5_ohlcv": "time, symbol", "macro_indicators_daily": "fecha", "trades_history": "id"}
# Files that say which snapshot a checkout holds (git-tracked or DVC outputs).
SNAPSHOT_FILES = ("dvc.lock", "seeds/manifest.json", "seeds/checksums.sha256", "seeds/LATEST_VERSION",
                  "seeds/schema.json")


class Project(testing.Project):
    """A scratch project that can also say which snapshot files it holds, byte for byte."""

    def files(self) -> dict[str, bytes | None]:
        """The bytes of every file that identifies the checked-out snapshot (None: absent),
        the data files under seeds/data included."""
        data = sorted(p for p in (self.root / "seeds" / "data").rglob("*") if p.is_file())
        return {rel: (self.root / rel).read_bytes() if (self.root / rel).is_file() else None
                for rel in [*SNAPSHOT_FILES, *(str(p.relative_to(self.root)) for p in data)]}


def new_database(server: TempPostgres, template: str | None = None) -> str:
    """URL of a new database (a copy of `template` if given)."""
    name = f"f_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            stmt += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(stmt)
    return server.url(name)


@dataclass(frozen=True)
class Template:
    root: Path
    dbname: str


@pytest.fixture(scope="session")
def snapshot_template(pg_server: TempPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    """One committed snapshot (no push) of the small sample data, copied by each test."""
    dbname = f"faults_template_{uuid.uuid4().hex[:6]}"
    url = pg_server.create_database(dbname)
    with psycopg.connect(url) as conn:
        sample.load_sample_data(conn, scale=SMALL_SCALE)
    root = tmp_path_factory.mktemp("faults-template") / "repo"
    root.mkdir()
    scratch_copy(REPO, root)
    project = Project(root, project_env(url), url)
    data = project.params()
    for source in data["sources"].values():
        source["min_rows"] = min(source.get("min_rows", 0), 100)
    project.write_params(data)
    project.commit_all("small params")
    result = project.seedctl("snapshot", "--no-push")
    assert result.returncode == 0, result.stderr
    project.commit_all("snapshot")
    try:
        yield Template(root, dbname)
    finally:
        pg_server.drop_database(dbname)


@pytest.fixture
def project(tmp_path: Path, pg_server: TempPostgres, snapshot_template: Template) -> Iterator[Project]:
    """A private copy of the template: its snapshot committed, its database the snapshot's source."""
    root = tmp_path / "repo"
    shutil.copytree(snapshot_template.root, root, symlinks=True)
    url = new_database(pg_server, snapshot_template.dbname)
    try:
        yield Project(root, project_env(url), url)
    finally:
        pg_server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture
def target(pg_server: TempPostgres) -> Iterator[str]:
    """URL of a new, empty database to restore into."""
    url = new_database(pg_server)
    try:
        yield url
    finally:
        pg_server.drop_database(url.rsplit("/", 1)[1])


# --- what a database holds ------------------------------------------------------------------


def contents(url: str) -> dict[str, list[str]]:
    """Every user table's full contents, as text, in a fixed order."""
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        tables = [r[0] for r in conn.execute(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")]
        out = {}
        for qualified in tables:
            name = qualified.rsplit(".", 1)[1]
            order = ORDER.get(name, "1")
            out[qualified] = [r[0] for r in conn.execute(f"SELECT t::text FROM {qualified} t ORDER BY {order}")]
        return out


def state(url: str) -> dict[str, Any]:
    """Everything a restore could change: tables with contents, indexes, constraints, sequences."""
    with psycopg.connect(url) as conn:
        catalog = {
            "indexes": conn.execute(
                "SELECT schemaname, indexname, indexdef FROM pg_indexes "
                "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2").fetchall(),
            "constraints": conn.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE connamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace) "
                "ORDER BY 1, 2").fetchall(),
            "sequences": conn.execute(
                "SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY 1, 2").fetchall(),
            "columns": conn.execute(
                "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, ordinal_position"
            ).fetchall(),
        }
    return {"contents": contents(url), **catalog}


def wait_until_gone(url: str, timeout: float = 30) -> None:
    """Wait until no seedctl session is left on the database (the server rolled it back)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            if not conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'seedctl' "
                                "AND datname = current_database()").fetchone()[0]:  # type: ignore[index]
                return
            time.sleep(0.05)
    raise AssertionError("a seedctl session is still open on the database")


def wait_for_session(url: str, query_like: str, *, waiting_on: str | None = None, timeout: float = 60,
                     proc: subprocess.Popen[str] | None = None) -> str:
    """Poll pg_stat_activity until a seedctl session runs a query LIKE query_like (and, if
    given, waits on a lock of that kind: 'advisory', 'relation', ...); its query text."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT query FROM pg_stat_activity WHERE application_name = 'seedctl' AND query LIKE %s "
                "AND (%s::text IS NULL OR (wait_event_type = 'Lock' AND wait_event = %s))",
                (query_like, waiting_on, waiting_on)).fetchone()
            if row:
                return str(row[0])
            if proc is not None and proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f"the process ended (exit {proc.returncode}) before reaching "
                                     f"{query_like!r}:\n{out}\n{err}")
            time.sleep(0.02)
    raise AssertionError(f"no seedctl session reached {query_like!r} (waiting on {waiting_on})")


def kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the process and everything it started (the job is killed, not asked to stop)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate(timeout=30)


def one_error_line(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """A failed command: non-zero exit, no traceback, a `seedctl: error:` line naming every needle."""
    assert result.returncode != 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("seedctl: error: ")]
    assert errors, f"no `seedctl: error:` line:\n{result.stderr}"
    matching = [ln for ln in errors if all(n in ln for n in needles)]
    assert matching, f"no `seedctl: error:` line names {needles!r}:\n{result.stderr}"
    return matching[0]
