"""Bad input, end to end through the real `seedctl` CLI: every failure is one clear line.

Contract (docs/DESIGN.md, "Contracts" 5 and src/seedctl/errors.py): exit status 0 only on
full success; otherwise a non-zero exit (2 config, 3 database, 5 validation) and ONE line
on stderr starting `seedctl: error:` that names what failed and what to do. Never a Python
traceback, never a password in any output, never output that claims success.

`seedctl export` / `seedctl validate` / `seedctl show` / `seedctl status` run in-process:
exactly one stderr line and the exact exit code. `seedctl snapshot` runs `dvc repro`, whose
stages print their own `seedctl: error:` line and DVC adds `ERROR: failed to reproduce`:
there we require a `seedctl: error:` line naming the problem and a non-zero exit.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from seedctl_dev.devserver import TempPostgres

ROLE = "alice"
ROLE_PASSWORD = "S3cr3t-marker-42"
WRONG_PASSWORD = "wrong-Marker-99"
PASSWORDS = (ROLE_PASSWORD, WRONG_PASSWORD)


# --- helpers ------------------------------------------------------------------------------


def _combined(result: subprocess.CompletedProcess[str]) -> str:
    return f"{result.stdout}\n{result.stderr}"


def _no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout, result.stdout
    assert "Traceback" not in result.stderr, result.stderr


def _no_secrets(result: subprocess.CompletedProcess[str], *secrets: str) -> None:
    text = _combined(result)
    for secret in secrets:
        assert secret not in text, f"password {secret!r} leaked:\n{text}"


def one_error_line(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """A direct command failed with `code` and exactly one `seedctl: error:` line on stderr."""
    _no_traceback(result)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}:\n{result.stderr}"
    line = lines[0]
    assert line.startswith("seedctl: error: "), line
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    return line


def snapshot_error_line(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """`seedctl snapshot` failed: non-zero, a `seedctl: error:` line naming all needles."""
    _no_traceback(result)
    assert result.returncode != 0, (result.stdout, result.stderr)
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("seedctl: error: ")]
    assert errors, f"no `seedctl: error:` line:\n{result.stderr}"
    matching = [ln for ln in errors if all(n in ln for n in needles)]
    assert matching, f"no `seedctl: error:` line names {needles!r}:\n{result.stderr}"
    return matching[0]


def nothing_published(project: Any) -> None:
    """A failed snapshot of a fresh project leaves no manifest and no LATEST_VERSION."""
    assert not (project.seeds / "manifest.json").exists()
    assert not (project.seeds / "LATEST_VERSION").exists()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def set_source(project: Any, name: str, **changes: Any) -> None:
    data = project.params()
    data["sources"][name].update(changes)
    project.write_params(data)


def dbname_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


@pytest.fixture(scope="module")
def alice(pg_server: TempPostgres) -> str:
    """A login role with a known password on the session's server."""
    with psycopg.connect(pg_server.url(), autocommit=True, connect_timeout=10) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(
            sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(ROLE), sql.Literal(ROLE_PASSWORD))
        )
    return ROLE


# --- 1. unreachable database ----------------------------------------------------------------


def test_unreachable_database_export(project: Any) -> None:
    port = free_port()
    url = f"postgresql://postgres:{WRONG_PASSWORD}@127.0.0.1:{port}/postgres"
    result = project.seedctl("export", env={"DATABASE_URL": url})
    one_error_line(result, 3, f"127.0.0.1:{port}", "DATABASE_URL")
    _no_secrets(result, WRONG_PASSWORD)


def test_unreachable_database_snapshot(project: Any) -> None:
    port = free_port()
    url = f"postgresql://postgres:{WRONG_PASSWORD}@127.0.0.1:{port}/postgres"
    result = project.seedctl("snapshot", env={"DATABASE_URL": url})
    snapshot_error_line(result, f"127.0.0.1:{port}", "DATABASE_URL")
    _no_secrets(result, WRONG_PASSWORD)
    nothing_published(project)


# --- 2. wrong password, never echoed --------------------------------------------------------


def test_wrong_password_in_database_url(project: Any, pg_server: TempPostgres, alice: str) -> None:
    db = dbname_of(project.database_url)
    url = f"postgresql://{alice}:{WRONG_PASSWORD}@127.0.0.1:{pg_server.port}/{db}"
    result = project.seedctl("export", env={"DATABASE_URL": url})
    one_error_line(result, 3, f"127.0.0.1:{pg_server.port}")
    _no_secrets(result, *PASSWORDS, pg_server.password)


def test_wrong_password_in_pg_variables(project: Any, pg_server: TempPostgres, alice: str) -> None:
    env = {
        "DATABASE_URL": "",  # empty = not set: libpq reads the PG* variables
        "PGHOST": "127.0.0.1",
        "PGPORT": str(pg_server.port),
        "PGUSER": alice,
        "PGPASSWORD": WRONG_PASSWORD,
        "PGDATABASE": dbname_of(project.database_url),
    }
    result = project.seedctl("export", env=env)
    one_error_line(result, 3, f"127.0.0.1:{pg_server.port}")
    _no_secrets(result, *PASSWORDS, pg_server.password)


def test_wrong_password_snapshot(project: Any, pg_server: TempPostgres, alice: str) -> None:
    db = dbname_of(project.database_url)
    url = f"postgresql://{alice}:{WRONG_PASSWORD}@127.0.0.1:{pg_server.port}/{db}"
    result = project.seedctl("snapshot", env={"DATABASE_URL": url})
    snapshot_error_line(result, f"127.0.0.1:{pg_server.port}")
    _no_secrets(result, *PASSWORDS, pg_server.password)
    nothing_published(project)


# --- 2b. a password that is a letter or a word of the message (issue 22) ---------------------

# How the connection fails, and the words of libpq's reason that must be printed intact.
WORD_PASSWORDS = {
    "x": ("silent", "timeout expired"),  # was "timeout e***pired"
    "timeout": ("silent", "timeout expired"),
    "refused": ("closed", "failed: Connection refused"),
    "failed": ("wrong-password", 'password authentication failed for user "alice"'),
}


@contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers: libpq's connect_timeout expires."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def _password_not_printed(result: subprocess.CompletedProcess[str], url: str, password: str) -> None:
    """Neither the URL nor the password where it stands in it (a word password is a word of the
    message too: only where it stands as the password does it mean a leak)."""
    text = _combined(result)
    assert url not in text, text
    assert f":{password}@" not in text, text
    assert f"password={password}" not in text, text


def _readable(line: str, *words: str) -> None:
    assert "***" not in line, f"nothing to mask, yet masked: {line!r}"
    for word in words:
        assert word in line, f"{word!r} not in {line!r}"


@pytest.mark.parametrize("password", sorted(WORD_PASSWORDS))
def test_password_that_is_a_letter_or_a_word_of_the_message(
    snapshotted: Any, pg_server: TempPostgres, alice: str, password: str
) -> None:
    how, reason = WORD_PASSWORDS[password]
    db = dbname_of(snapshotted.database_url)
    with silent_port() if how == "silent" else nullcontext(free_port()) as port:
        user, where = ("postgres", port) if how != "wrong-password" else (alice, pg_server.port)
        url = f"postgresql://{user}:{password}@127.0.0.1:{where}/{db}?connect_timeout=1"
        result = snapshotted.seedctl("restore", env={"DATABASE_URL": url})
    line = one_error_line(result, 3, "DATABASE_URL")
    _readable(line, reason, "check", f'cannot connect to 127.0.0.1:{where}/{db} as user "{user}"')
    _password_not_printed(result, url, password)


def test_one_letter_password_snapshot(project: Any) -> None:
    with silent_port() as port:
        url = f"postgresql://postgres:x@127.0.0.1:{port}/postgres?connect_timeout=1"
        result = project.seedctl("snapshot", "--no-push", env={"DATABASE_URL": url})
    line = one_error_line(result, 3, "DATABASE_URL")  # the snapshot connects before `dvc repro`
    _readable(line, "timeout expired", f'cannot connect to 127.0.0.1:{port}/postgres as user "postgres"')
    _password_not_printed(result, url, "x")
    nothing_published(project)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://alice:{WRONG_PASSWORD}@127.0.0.1:notaport/db",
        f"postgresql://alice:{WRONG_PASSWORD}@127.0.0.1:5432/db?sslmode=bogus",
        # libpq's parse errors for these quote the whole string, password included, and
        # since it does not parse, seedctl cannot even learn which password to redact.
        f"postgresql://alice:{WRONG_PASSWORD}@[::1/db",
        f"postgresql://alice:{WRONG_PASSWORD}%zz@127.0.0.1/db",
        f"postgresql://alice:{WRONG_PASSWORD}@127.0.0.1/db?bogus=1",
        f"host=127.0.0.1 password='{WRONG_PASSWORD}",
    ],
    ids=["bad-port", "bad-sslmode", "bad-ipv6", "bad-percent", "bad-query", "unterminated-quote"],
)
def test_malformed_database_url_hides_password(project: Any, url: str) -> None:
    result = project.seedctl("export", env={"DATABASE_URL": url})
    _no_secrets(result, WRONG_PASSWORD)
    one_error_line(result, 3, "DATABASE_URL")


def test_malformed_database_url_snapshot(project: Any) -> None:
    url = f"postgresql://alice:{WRONG_PASSWORD}@[::1/db"
    result = project.seedctl("snapshot", env={"DATABASE_URL": url})
    _no_secrets(result, WRONG_PASSWORD)
    snapshot_error_line(result, "DATABASE_URL")
    nothing_published(project)


def test_percent_encoded_password_is_hidden_in_both_forms(project: Any) -> None:
    encoded = WRONG_PASSWORD.replace("-", "%2D")
    url = f"postgresql://alice:{encoded}@127.0.0.1:{free_port()}/db"
    result = project.seedctl("export", env={"DATABASE_URL": url})
    one_error_line(result, 3, "DATABASE_URL")
    _no_secrets(result, WRONG_PASSWORD, encoded)


def test_database_does_not_exist(project: Any, pg_server: TempPostgres) -> None:
    url = pg_server.url("no_such_db_7f3a")
    result = project.seedctl("export", env={"DATABASE_URL": url})
    one_error_line(result, 3, "no_such_db_7f3a", "DATABASE_URL")
    _no_secrets(result, pg_server.password)


def test_permission_denied_names_the_table(sample_project: Any, pg_server: TempPostgres, alice: str) -> None:
    """Right password, but the role may not read the tables: a database error, not a crash."""
    db = dbname_of(sample_project.database_url)
    url = f"postgresql://{alice}:{ROLE_PASSWORD}@127.0.0.1:{pg_server.port}/{db}"
    result = sample_project.seedctl("export", env={"DATABASE_URL": url})
    one_error_line(result, 3, "usdcop_m5_ohlcv", "permission denied")
    _no_secrets(result, ROLE_PASSWORD, pg_server.password)
    assert not (sample_project.seeds / "data").exists()


# --- 3. missing table -----------------------------------------------------------------------


def test_missing_table_export(project: Any) -> None:
    set_source(project, "usdcop_m5_ohlcv", table="public.nope")
    result = project.seedctl("export")
    one_error_line(result, 2, "nope", "sources.usdcop_m5_ohlcv")
    assert not (project.seeds / "data").exists()


def test_missing_table_snapshot(project: Any) -> None:
    set_source(project, "usdcop_m5_ohlcv", table="public.nope")
    result = project.seedctl("snapshot")
    snapshot_error_line(result, "nope", "sources.usdcop_m5_ohlcv")
    nothing_published(project)


# --- 4. a table below min_rows ----------------------------------------------------------------


def test_below_min_rows_fails_snapshot_and_validate(sample_project: Any) -> None:
    project = sample_project
    set_source(project, "usdcop_m5_ohlcv", min_rows=10_000_000)
    result = project.seedctl("snapshot")
    snapshot_error_line(result, "usdcop_m5_ohlcv", "row_count")
    assert not (project.seeds / "LATEST_VERSION").exists()
    assert "validation passed" not in result.stdout

    again = project.seedctl("validate")
    one_error_line(again, 5, "usdcop_m5_ohlcv", "row_count", "10000000")
    assert "validation passed" not in again.stdout
    assert not (project.seeds / "LATEST_VERSION").exists()


# --- 5. malformed params.yaml -------------------------------------------------------------------


def test_yaml_syntax_error(project: Any) -> None:
    text = (project.root / "params.yaml").read_text()
    (project.root / "params.yaml").write_text(text + "\nbackup: [unclosed\n  schedule: x\n")
    bad_line = len(text.splitlines()) + 3  # the error is reported at or after the bad line
    for command in ("export", "snapshot"):
        result = project.seedctl(command)
        line = one_error_line(result, 2, "params.yaml", "line ")
        number = int(line.split("line ", 1)[1].split(":")[0].split()[0])
        assert len(text.splitlines()) < number <= bad_line + 1, line
    nothing_published(project)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "sources"),
        ("- a\n- b\n", "sources"),
        ("sources: {}\n", "sources"),
        ("sources:\n  Bad-Name: {table: t}\n", "Bad-Name"),
        ("sources:\n  a: {}\n", "table"),
        ("sources:\n  a: {table: t}\nextra: 1\n", "extra"),
    ],
    ids=["empty", "list", "no-sources", "bad-source-name", "no-table", "unknown-section"],
)
def test_structurally_wrong_params(project: Any, text: str, needle: str) -> None:
    (project.root / "params.yaml").write_text(text)
    result = project.seedctl("export")
    one_error_line(result, 2, "params.yaml", needle)


def test_missing_params_file(project: Any) -> None:
    (project.root / "params.yaml").unlink()
    result = project.seedctl("export")
    one_error_line(result, 2, "params.yaml", "not found")


# --- 6. unknown key, wrong type -----------------------------------------------------------------


def test_unknown_key(project: Any) -> None:
    set_source(project, "usdcop_m5_ohlcv", min_row=5)
    for command in ("export", "snapshot"):
        result = project.seedctl(command)
        one_error_line(result, 2, "min_row", "sources.usdcop_m5_ohlcv")
    nothing_published(project)


def test_wrong_type(project: Any) -> None:
    data = project.params()
    data["backup"]["batch_rows"] = "lots"
    project.write_params(data)
    for command in ("export", "snapshot"):
        result = project.seedctl(command)
        one_error_line(result, 2, "backup.batch_rows", "lots")
    nothing_published(project)


# --- 7. hostile identifiers ----------------------------------------------------------------------


HOSTILE = 'x"; DROP TABLE y; --'


@pytest.mark.parametrize(
    "changes",
    [{"table": HOSTILE}, {"table": f"public.{HOSTILE}"}, {"time_column": HOSTILE}],
    ids=["table", "schema-qualified-table", "time_column"],
)
def test_hostile_identifier_is_refused(project: Any, changes: dict[str, str]) -> None:
    project.sql("CREATE TABLE y (id int)")
    project.sql("INSERT INTO y VALUES (1)")
    set_source(project, "trades_history", **changes)
    for command in ("export", "snapshot"):
        result = project.seedctl(command)
        one_error_line(result, 2, "sources.trades_history")
    assert project.sql("SELECT to_regclass('public.y') IS NOT NULL") == [(True,)]
    assert project.sql("SELECT count(*) FROM y") == [(1,)]
    nothing_published(project)


# --- 8. no snapshot yet ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["status", "show"])
def test_no_snapshot_yet(project: Any, command: str) -> None:
    result = project.seedctl(command)
    _no_traceback(result)
    assert result.returncode != 0
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("seedctl: error: "), lines[0]
    assert "make snapshot" in lines[0], lines[0]


# --- 9. help --------------------------------------------------------------------------------------


def test_help_lists_the_commands(project: Any) -> None:
    result = project.seedctl("--help")
    _no_traceback(result)
    assert result.returncode == 0, result.stderr
    for command in ("snapshot", "validate", "show", "status"):
        assert command in result.stdout, result.stdout
