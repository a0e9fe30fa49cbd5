"""Helpers shared by the test modules: the repository, the sample data's scale and tables,
README.md's command blocks, scratch projects and the snapshots they push, what a database
holds, waiting on and killing seedctl's processes, the restore's and the export's fault
gates, and docker-compose.yml read as Compose reads it. Fixtures are in the conftest.py
files; test modules import only from here."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg import sql

from seedctl_dev import testing
from seedctl_dev.devserver import TempPostgres
from seedctl_dev.testing import run_sql

REPO = Path(__file__).resolve().parents[1]
# Rows of the sample data at scale 0.02 (~1,800 bars, ~200 macro days, a dozen trades), far
# below the plan's min_rows: tests lower them (small_params).
SMALL_SCALE = 0.02
# The tables of the sample data and the order that makes their contents comparable.
ORDER = {"usdcop_m5_ohlcv": "time, symbol", "macro_indicators_daily": "fecha", "trades_history": "id"}
# Files that say which snapshot a checkout holds (git-tracked or DVC outputs).
SNAPSHOT_FILES = (
    "dvc.lock",
    "seeds/manifest.json",
    "seeds/checksums.sha256",
    "seeds/LATEST_VERSION",
    "seeds/schema.json",
)
# A table of hard values (NaN, infinities, BC dates, -0, Unicode, ...): CREATE TABLE fidelity + rows.
FIDELITY_SQL = (Path(__file__).parent / "func" / "fidelity.sql").read_text(encoding="utf-8")
COMPOSE = REPO / "docker-compose.yml"
SEEDER = "data-seeder"
README = REPO / "README.md"
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, and $$ (a literal $).
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


# --- README.md's commands: every one runs in a test, as printed ------------------------------


def readme_blocks(lang: str) -> list[str]:
    """The README's fenced blocks of one language (`sh`, `bash`, `python`, ...), in document order."""
    return [m.group(1) for m in re.finditer(rf"^```{lang}\n(.*?)^```", README.read_text(), re.S | re.M)]


def commands(block: str) -> list[str]:
    """A block's commands: its non-empty lines without their `#` comments."""
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


# --- scratch projects -----------------------------------------------------------------------


class Project(testing.Project):
    """A scratch project that can also say which snapshot files it holds, byte for byte."""

    def files(self) -> dict[str, bytes | None]:
        """The bytes of every file that identifies the checked-out snapshot (None: absent),
        the data files under seeds/data included."""
        data = sorted(p for p in (self.root / "seeds" / "data").rglob("*") if p.is_file())
        return {
            rel: (self.root / rel).read_bytes() if (self.root / rel).is_file() else None
            for rel in [*SNAPSHOT_FILES, *(str(p.relative_to(self.root)) for p in data)]
        }


def make_project(root: Path, database_url: str) -> Project:
    """A scratch copy of this repository at root, pointed at database_url."""
    plain = testing.make_project(REPO, root, database_url)
    return Project(plain.root, plain.env, plain.database_url)


def small_params(project: Project) -> None:
    """The repository's params.yaml with min_rows scaled to the small sample data."""
    data = project.params()
    for source in data["sources"].values():
        source["min_rows"] = min(source.get("min_rows", 0), 100)
    project.write_params(data)


def pushed_project(project: Project, s3_env: dict[str, str]) -> None:
    """Sample data + fidelity table, snapshot pushed to the S3 server, committed."""
    project.sql(FIDELITY_SQL)
    params = project.params()
    params["sources"]["fidelity"] = {"table": "public.fidelity", "min_rows": 1, "max_null_ratio": 1.0}
    project.write_params(params)
    result = project.seedctl("snapshot", env=s3_env)
    assert result.returncode == 0, result.stderr
    assert "pushed" in result.stdout
    project.commit_all("snapshot")


def fresh_clone(project: Project, dest: Path) -> Project:
    """What a new server has: a git clone, no DVC cache, no data files."""
    clone = project.clone(dest)
    assert not (dest / ".dvc" / "cache").exists() and not (dest / "seeds" / "data").exists()
    return clone


def cached_files(clone: Project) -> set[str]:
    """The data objects (not directory listings) in the clone's DVC cache."""
    cache = clone.root / ".dvc" / "cache" / "files" / "md5"
    if not cache.exists():
        return set()
    return {p.parent.name + p.name for p in cache.glob("*/*") if not p.name.endswith(".dir")}


# --- databases -------------------------------------------------------------------------------


def new_database(server: TempPostgres, template: str | None = None) -> str:
    """URL of a new database (a copy of `template` if given)."""
    name = f"f_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            stmt += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(stmt)
    return server.url(name)


def contents(url: str) -> dict[str, list[str]]:
    """Every user table's full contents, as text, in a fixed order."""
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
            )
        ]
        out = {}
        for qualified in tables:
            name = qualified.rsplit(".", 1)[1]
            order = ORDER.get(name, "1")
            out[qualified] = [r[0] for r in conn.execute(f"SELECT t::text FROM {qualified} t ORDER BY {order}")]
        return out


def sample_contents(url: str) -> dict[str, list[str]]:
    """The full contents of the tables pushed_project snapshots (those present), by table name."""
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        present = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        return {
            t: [r[0] for r in conn.execute(f"SELECT r::text FROM {t} r ORDER BY {k}")]
            for t, k in {**ORDER, "fidelity": "id"}.items()
            if t in present
        }


def state(url: str) -> dict[str, Any]:
    """Everything a restore could change: tables with contents, indexes, constraints, sequences."""
    with psycopg.connect(url) as conn:
        catalog = {
            "indexes": conn.execute(
                "SELECT schemaname, indexname, indexdef FROM pg_indexes "
                "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
            ).fetchall(),
            "constraints": conn.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE connamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace) "
                "ORDER BY 1, 2"
            ).fetchall(),
            "sequences": conn.execute(
                "SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY 1, 2"
            ).fetchall(),
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
            if not conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'seedctl' "
                "AND datname = current_database()"
            ).fetchone()[0]:  # type: ignore[index]
                return
            time.sleep(0.05)
    raise AssertionError("a seedctl session is still open on the database")


def wait_for_session(
    url: str,
    query_like: str,
    *,
    waiting_on: str | None = None,
    timeout: float = 60,
    proc: subprocess.Popen[str] | None = None,
) -> str:
    """Poll pg_stat_activity until a seedctl session runs a query LIKE query_like (and, if
    given, waits on a lock of that kind: 'advisory', 'relation', ...); its query text."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT query FROM pg_stat_activity WHERE application_name = 'seedctl' AND query LIKE %s "
                "AND (%s::text IS NULL OR (wait_event_type = 'Lock' AND wait_event = %s))",
                (query_like, waiting_on, waiting_on),
            ).fetchone()
            if row:
                return str(row[0])
            if proc is not None and proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(
                    f"the process ended (exit {proc.returncode}) before reaching {query_like!r}:\n{out}\n{err}"
                )
            time.sleep(0.02)
    raise AssertionError(f"no seedctl session reached {query_like!r} (waiting on {waiting_on})")


def kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the process and everything it started (the job is killed, not asked to stop)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate(timeout=30)


# What seedctl prints when SIGTERM stops it before anything was published or committed.
TERMINATED = "seedctl: terminated (SIGTERM); stopped: nothing was published and no database was changed"


def terminate_at_gate(
    project: testing.Project,
    url: str,
    args: list[str],
    query_like: str,
    *,
    reached: Callable[[], None] | None = None,
) -> tuple[int, str]:
    """`seedctl args` against url while GATE_KEY is held: once one of its sessions waits at the
    gate running a query LIKE query_like (then `reached()`), SIGTERM to seedctl alone. Its exit
    status and stderr, the gate released and the process gone either way."""
    with psycopg.connect(url, autocommit=True) as gate:
        gate.execute("SELECT pg_advisory_lock(%s)", (GATE_KEY,))
        proc = project.spawn(*args, env={"DATABASE_URL": url})
        try:
            wait_for_session(url, query_like, waiting_on="advisory", proc=proc)
            if reached is not None:
                reached()
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                kill_group(proc)
            gate.execute("SELECT pg_advisory_unlock(%s)", (GATE_KEY,))
    return proc.returncode, err


def one_error_line(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """A failed command: non-zero exit, no traceback, a `seedctl: error:` line naming every needle."""
    assert result.returncode != 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("seedctl: error: ")]
    assert errors, f"no `seedctl: error:` line:\n{result.stderr}"
    matching = [ln for ln in errors if all(n in ln for n in needles)]
    assert matching, f"no `seedctl: error:` line names {needles!r}:\n{result.stderr}"
    return matching[0]


# --- fault gates: the restore's (advisory lock GATE_KEY) and the export's (a slow table) ----


GATE_KEY = 5151
# Points of the restore's one transaction (tests/func/restore/test_restore_faults.py): the SQL
# that makes a statement there wait for GATE_KEY, and the query seen waiting in pg_stat_activity.
GATES = {
    "load": (
        """CREATE FUNCTION faults_gate_row() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN PERFORM pg_advisory_xact_lock_shared({key}); RETURN NEW; END $$;
           CREATE TRIGGER faults_gate BEFORE INSERT ON macro_indicators_daily
               FOR EACH ROW EXECUTE FUNCTION faults_gate_row();""",
        "COPY%macro_indicators_daily%",
    ),
    "primary-key": (
        """CREATE FUNCTION faults_gate_ddl() RETURNS event_trigger LANGUAGE plpgsql AS
               $$ BEGIN PERFORM pg_advisory_xact_lock_shared({key}); END $$;
           CREATE EVENT TRIGGER faults_gate ON ddl_command_start WHEN TAG IN ('ALTER TABLE')
               EXECUTE FUNCTION faults_gate_ddl();""",
        "ALTER TABLE%ADD PRIMARY KEY%",
    ),
    "index": (
        """CREATE FUNCTION faults_gate_ddl() RETURNS event_trigger LANGUAGE plpgsql AS
               $$ BEGIN PERFORM pg_advisory_xact_lock_shared({key}); END $$;
           CREATE EVENT TRIGGER faults_gate ON ddl_command_start WHEN TAG IN ('CREATE INDEX')
               EXECUTE FUNCTION faults_gate_ddl();""",
        "CREATE INDEX%",
    ),
    "verification": (
        """CREATE FUNCTION faults_gate_ddl() RETURNS event_trigger LANGUAGE plpgsql AS
               $$ BEGIN PERFORM pg_advisory_xact_lock_shared({key}); END $$;
           CREATE EVENT TRIGGER faults_gate ON ddl_command_end WHEN TAG IN ('CREATE INDEX')
               EXECUTE FUNCTION faults_gate_ddl();""",
        "CREATE INDEX%",
    ),
}

UNGATE = """
    DROP TRIGGER IF EXISTS faults_gate ON macro_indicators_daily;
    DROP EVENT TRIGGER IF EXISTS faults_gate;
    DROP FUNCTION IF EXISTS faults_gate_ddl();
    DROP FUNCTION IF EXISTS faults_gate_row();
"""


# The read-only role of the export gate: all a snapshot needs.
READER = "faults_reader"
READER_PW = "reader-pw-4242"


def add_trade(project: Project) -> None:
    """A database change, so that the next snapshot differs from the committed one."""
    project.sql(
        "INSERT INTO trades_history (opened_at, side, entry_price, quantity, strategy) "
        "SELECT max(opened_at) + interval '1 minute', 'long', 4000, 1, 'fault-test' FROM trades_history"
    )


def gate_ohlcv_export(project: Project) -> str:
    """Make the export of usdcop_m5_ohlcv last long enough to be killed half-way.

    (An earlier version stopped the COPY at a known row with a row-level security policy;
    seedctl now exports with row_security = off, as pg_dump does, so a policy makes the
    export fail instead of hiding rows.) The table gets 60 copies of its USD/COP bars under
    other symbols (~110k rows on the test sample) and the snapshot writes small row groups,
    so the staging Parquet files appear and grow for seconds before the export ends (with
    13 copies, 26k rows, a loaded CI machine once finished the export before the test saw
    its COPY); the test kills it while it is half-written.
    Returns the URL of a read-only role, which is all a snapshot needs.
    """
    project.sql(f"""
        INSERT INTO usdcop_m5_ohlcv (time, symbol, open, high, low, close, volume)
            SELECT b.time, 'SYN' || lpad(k::text, 3, '0'), b.open, b.high, b.low, b.close, b.volume
            FROM usdcop_m5_ohlcv b, generate_series(1, 60) k WHERE b.symbol = 'USD/COP';
        DROP ROLE IF EXISTS {READER};
        CREATE ROLE {READER} LOGIN PASSWORD '{READER_PW}' NOSUPERUSER;
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER};
    """)
    params = yaml.safe_load((project.root / "params.yaml").read_text())
    params.setdefault("backup", {})["batch_rows"] = 1024
    (project.root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    project.git("commit", "-q", "-am", "small row groups, so the export can be caught half-way")
    base = project.database_url.split("@", 1)[1]
    return f"postgresql://{READER}:{READER_PW}@{base}"


def wait_for_files(pattern: str, root: Path, count: int, timeout: float = 60) -> None:
    """Until `count` files match pattern (the export is that far)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(list(root.glob(pattern))) >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} {pattern} under {root}")


def drop_reader(url: str) -> None:
    run_sql(url, f"DROP OWNED BY {READER}; DROP ROLE IF EXISTS {READER}")


# --- an S3 proxy that holds or fails chosen requests (the bucket catalog's fault tests) ----


def forward(handler: BaseHTTPRequestHandler, upstream: str, body: bytes, *, timeout: float) -> None:
    """Send the request `handler` is serving (its `body` already read) to `upstream`
    (host:port) unchanged, Host header included so S3 signatures stay valid, and answer with
    the upstream's response."""
    conn = http.client.HTTPConnection(upstream, timeout=timeout)
    conn.putrequest(handler.command, handler.path, skip_host=True, skip_accept_encoding=True)
    for key, value in handler.headers.items():
        conn.putheader(key, value)
    conn.endheaders(body or None)
    response = conn.getresponse()
    data = response.read()
    handler.send_response(response.status, response.reason)
    for key, value in response.getheaders():
        if key.lower() not in ("transfer-encoding", "connection", "content-length"):
            handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(data)
    conn.close()


class Gate:
    """A loopback HTTP proxy to the S3 server. The first request for which `match(method,
    path)` is true sets `arrived` and then waits for `release`; with `fail`, every such
    request is answered HTTP 500 instead. Every other request passes unchanged (Host header
    included: signatures hold)."""

    def __init__(self, upstream: str, match: Callable[[str, str], bool], *, fail: bool = False) -> None:
        self.arrived, self.release = threading.Event(), threading.Event()
        self.closed = False
        gate = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if (fail or not gate.arrived.is_set()) and match(self.command, self.path.split("?")[0]):
                    gate.arrived.set()
                    if fail:
                        payload = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
                        self.send_response(500)
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                    gate.release.wait(120)
                    if gate.closed:  # the test is over (the client killed): never forwarded
                        return
                forward(self, upstream, body, timeout=60)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.closed = True
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def gate(upstream: str, match: Callable[[str, str], bool], *, fail: bool = False) -> Iterator[Gate]:
    g = Gate(upstream, match, fail=fail)
    try:
        yield g
    finally:
        g.close()


# --- docker-compose.yml, read as Compose reads it ------------------------------------------


def compose_file() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's variable interpolation, applied to every string of the file."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match["name"], match["op"], match["arg"]
        current = env.get(name)
        unset = current is None or (op is not None and op.startswith(":") and current == "")
        if op and op.endswith("?") and unset:
            raise KeyError(f"{name}: {arg}")
        if op and op.endswith("-") and unset:
            return arg
        return current or ""

    return _VARIABLE.sub(one, value)


def variables() -> set[str]:
    return {m["name"] for m in _VARIABLE.finditer(COMPOSE.read_text(encoding="utf-8")) if m["name"]}


def seeder(env: Mapping[str, str]) -> tuple[dict[str, str], list[str], str]:
    """The data-seeder's environment, the seeder's own command (the last step of its shell
    command) and working directory, as Compose would start it with these .env values."""
    service = interpolate(compose_file(), env)["services"][SEEDER]
    script = service["command"][-1]
    last = script.split("&&")[-1].split()
    assert last[0] == "exec"
    return {k: str(v) for k, v in service["environment"].items()}, last[1:], service["working_dir"]
