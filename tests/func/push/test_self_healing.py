"""Damaged or missing data heals itself, and one table's trouble stays that table's.

- Bytes that do not match their content address (remote, DVC cache, seeds/) are moved to
  .dvc/tmp/quarantine/ and fetched again: once the remote is repaired, the same checkout
  restores with no manual cache surgery, and the advice printed on the way is a command
  that really fixes the state (the test runs it).
- A missing or corrupt object, refused credentials or an unreachable remote: each table
  that cannot be had goes to its fallback, or (not required) is left empty with exit 11;
  every message names the table and the real cause.
- A rejected fallback file's content never reaches the terminal.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import socket
import subprocess
from pathlib import Path

import pytest

from seedctl_dev.devs3 import S3Server
from seedctl_dev.devserver import TempPostgres
from seedctl_dev.testing import table_to_csv_gz
from tests.helpers import Project, contents, new_database, one_error_line

DEGRADED = 11


def object_key(path: Path) -> str:
    """The remote key of a file (DVC 3: <prefix>/files/md5/<2>/<30>)."""
    md5 = hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324 - DVC's content address
    return f"seedctl/files/md5/{md5[:2]}/{md5[2:]}"


def cache_file(project: Project, path: Path) -> Path:
    md5 = hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324
    return project.root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def advised_command(line: str) -> list[str]:
    """The command an error line tells the operator to run (the first `...` after --)."""
    found = re.search(r"--.*?`([^`]+)`", line)
    assert found, f"no command advised in: {line}"
    return found.group(1).split()


def quarantined(project: Project) -> list[Path]:
    folder = project.root / ".dvc" / "tmp" / "quarantine"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_corrupt_remote_object_refused_then_remote_repaired_same_checkout_restores(
    pushed: Project, s3_env: dict[str, str], s3_server: S3Server, pg_server: TempPostgres, tmp_path: Path
) -> None:
    """The issue's trap: `dvc pull` puts the corrupt bytes in the cache under the good name."""
    good_file = pushed.seeds / "data" / "usdcop_m5_ohlcv" / "2020-01.parquet"
    good = good_file.read_bytes()
    key, bucket = object_key(good_file), s3_env["MINIO_BUCKET"]
    s3 = s3_server.client()
    s3.put_object(Bucket=bucket, Key=key, Body=good[:-1] + b"X")
    target = new_database(pg_server)
    clone = pushed.clone(tmp_path / "new-server", target)
    env = {**s3_env, "DATABASE_URL": target}
    assert clone.seedctl("remote", env=s3_env).returncode == 0
    clone.run("dvc", "pull", env=env)  # what the runbook says; it trusts the bad bytes

    refused = clone.seedctl("restore", env=env)
    line = one_error_line(refused, "usdcop_m5_ohlcv", "corrupt", "not touched")
    assert refused.returncode == 6 and "credentials" not in line
    assert contents(target) == {}
    bad_copies = quarantined(clone)
    assert bad_copies and all(p.read_bytes() == good[:-1] + b"X" for p in bad_copies)

    # The advice, run as printed where the snapshot's files verify: it repairs the remote.
    assert advised_command(line) == ["seedctl", "push"] and "seedctl verify" in line
    assert pushed.seedctl("verify").returncode == 0
    repaired = pushed.seedctl("push", env=s3_env)
    assert repaired.returncode == 0, repaired.stderr
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == good
    healed = clone.seedctl("restore", env=env)

    assert healed.returncode == 0, healed.stderr
    assert contents(target) == contents(pushed.database_url)
    assert (clone.seeds / "data" / "usdcop_m5_ohlcv" / "2020-01.parquet").read_bytes() == good
    assert cache_file(clone, good_file).read_bytes() == good
    assert clone.seedctl("verify").returncode == 0


@pytest.mark.parametrize("command", ["verify", "status"])
def test_advice_of_verify_and_status_fixes_a_damaged_cache_and_checkout(
    pushed: Project, s3_env: dict[str, str], command: str
) -> None:
    """Data file and its cached object both damaged (a hardlinked cache, a bad disk), and
    schema.json too: the advice printed is run as printed and the checkout verifies after."""
    data_file = pushed.seeds / "data" / "trades_history.parquet"
    good, schema = data_file.read_bytes(), (pushed.seeds / "schema.json").read_bytes()
    cached = cache_file(pushed, data_file)
    cached.chmod(0o644)
    cached.write_bytes(b"damaged" + good[7:])
    data_file.write_bytes(b"damaged" + good[7:])
    (pushed.seeds / "schema.json").write_bytes(schema.replace(b"trades_history", b"trades_hist0ry", 1))

    failed = pushed.seedctl(command, env=s3_env)
    line = one_error_line(failed, "seeds")
    advice = advised_command(line)
    assert advice[0] == "seedctl"
    fixed = pushed.seedctl(*advice[1:], env=s3_env)

    assert fixed.returncode == 0, fixed.stderr
    assert data_file.read_bytes() == good and cached.read_bytes() == good
    assert (pushed.seeds / "schema.json").read_bytes() == schema
    assert pushed.seedctl(command, env=s3_env).returncode == 0
    assert len(quarantined(pushed)) == 3  # the two damaged copies and the edited schema.json
    assert pushed.run("git", "status", "--porcelain", "--", ".dvc").stdout == ""  # quarantine is ignored


def test_restore_without_pull_heals_schema_json_from_the_remote(
    pushed: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path, s3_server: S3Server
) -> None:
    """A corrupt schema.json object in the remote is never placed in seeds/; repaired, it is."""
    schema_path = pushed.seeds / "schema.json"
    good = schema_path.read_bytes()
    key, bucket = object_key(schema_path), s3_env["MINIO_BUCKET"]
    s3_server.client().put_object(Bucket=bucket, Key=key, Body=good.replace(b"{", b"[", 1))
    target = new_database(pg_server)
    clone = pushed.clone(tmp_path / "new-server", target)
    env = {**s3_env, "DATABASE_URL": target}

    first = clone.seedctl("restore", env=env)

    assert first.returncode == 0, first.stderr
    assert "schema.json" in first.stdout and "corrupt" in first.stdout
    assert not (clone.seeds / "schema.json").exists()
    s3_server.client().put_object(Bucket=bucket, Key=key, Body=good)
    assert clone.seedctl("pull", env=s3_env).returncode == 0
    assert (clone.seeds / "schema.json").read_bytes() == good
    assert clone.seedctl("verify").returncode == 0


# --- one table's trouble stays that table's ---------------------------------------------------


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def write_required_fallbacks(source_url: str, clone: Project) -> None:
    for table in ("usdcop_m5_ohlcv", "macro_indicators_daily"):
        table_to_csv_gz(source_url, table, clone.root / "backups" / f"{table}_latest.csv.gz")


@pytest.mark.parametrize("cause", ["missing", "corrupt", "credentials", "unreachable"])
def test_each_cause_degrades_only_the_tables_it_hits(
    pushed: Project,
    s3_env: dict[str, str],
    s3_server: S3Server,
    pg_server: TempPostgres,
    tmp_path: Path,
    cause: str,
) -> None:
    """missing/corrupt: only trades_history's object is bad; the required tables come from the
    remote. credentials/unreachable: nothing comes from the remote; the required tables come
    from their fallback files. trades_history (optional, no fallback) is left empty: exit 11."""
    target = new_database(pg_server)
    clone = pushed.clone(tmp_path / "new-server", target)
    env = {**s3_env, "DATABASE_URL": target}
    trades = pushed.seeds / "data" / "trades_history.parquet"
    expected_words = {
        "missing": "missing from the remote",
        "corrupt": "corrupt",
        "credentials": "refused the credentials",
        "unreachable": "unreachable",
    }[cause]
    if cause == "missing":
        s3_server.client().delete_object(Bucket=s3_env["MINIO_BUCKET"], Key=object_key(trades))
    elif cause == "corrupt":
        s3_server.client().put_object(Bucket=s3_env["MINIO_BUCKET"], Key=object_key(trades), Body=b"not parquet")
    else:
        write_required_fallbacks(pushed.database_url, clone)
        env |= (
            {"MINIO_SECRET_KEY": "wrong-secret-key-0123456789"}
            if cause == "credentials"
            else {"MINIO_ENDPOINT": closed_port()}
        )

    result = clone.seedctl("restore", env=env)

    assert result.returncode == DEGRADED, (result.stdout, result.stderr)
    line = one_error_line(result, "restore committed", "trades_history")
    assert "usdcop" not in line and "macro" not in line
    source, restored = contents(pushed.database_url), contents(target)
    assert restored["public.trades_history"] == []
    for table in ("public.usdcop_m5_ohlcv", "public.macro_indicators_daily"):
        assert restored[table] == source[table]
    notes = " ".join(result.stdout.split())
    trades_notes = [n for n in notes.split("trades_history: ")[1:]]
    assert any(expected_words in n and "backfill is needed" in n for n in trades_notes), result.stdout
    others = {w for w in expected_words_all() if w != expected_words}
    assert not any(w in notes for w in others), result.stdout
    if cause in ("missing", "corrupt"):
        assert "fallback" not in notes.split("trades_history: ")[0]  # the required tables: from the remote
        assert result.stdout.count("remote") >= 2
    else:
        assert notes.count("using fallback") == 2


def expected_words_all() -> list[str]:
    return ["missing from the remote", "corrupt", "refused the credentials", "unreachable"]


def test_required_table_without_data_refuses_naming_it_and_the_cause(
    pushed: Project, s3_env: dict[str, str], s3_server: S3Server, pg_server: TempPostgres, tmp_path: Path
) -> None:
    """The object of one required table's file is gone: the error names that table and
    "missing from the remote" (not credentials, not another table); nothing is touched."""
    part = sorted((pushed.seeds / "data" / "macro_indicators_daily").glob("*.parquet"))[3]
    s3_server.client().delete_object(Bucket=s3_env["MINIO_BUCKET"], Key=object_key(part))
    target = new_database(pg_server)
    clone = pushed.clone(tmp_path / "new-server", target)

    refused = clone.seedctl("restore", env={**s3_env, "DATABASE_URL": target})

    line = one_error_line(refused, "macro_indicators_daily", part.name, "missing from the remote", "not touched")
    assert refused.returncode == 6
    assert "credentials" not in line and "usdcop" not in line
    assert contents(target) == {}
    assert advised_command(line) == ["seedctl", "push"]
    assert pushed.seedctl("push", env=s3_env).returncode == 0  # where `seedctl verify` passes
    again = clone.seedctl("restore", env={**s3_env, "DATABASE_URL": target})
    assert again.returncode == 0, again.stderr
    assert contents(target) == contents(pushed.database_url)


def test_rejected_fallback_file_content_never_printed(
    pushed: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    marker = "SECRET-MARKER-7f3a"
    target = new_database(pg_server)
    clone = pushed.clone(tmp_path / "new-server", target)
    backups = clone.root / "backups"
    backups.mkdir()
    bad_files = {
        "usdcop_m5_ohlcv_1.csv.gz": f"time,symbol,{marker}\n2020-01-01,x,1\n",
        "usdcop_m5_ohlcv_2.csv.gz": f"time,time\n{marker},1\n",
        "macro_indicators_daily_1.csv.gz": f"fecha\n{marker}\n",
    }
    for name, text in bad_files.items():
        with gzip.open(backups / name, "wt") as fh:
            fh.write(text)
    params = clone.params()
    params["sources"]["trades_history"]["fallback"] = ["backups/trades*.sql.gz"]
    clone.write_params(params)
    for name, text in {
        "trades_a.sql.gz": f"DROP TABLE {marker};\n",
        "trades_b.sql.gz": f"\\! echo {marker}\n",
        "trades_c.sql.gz": f"SET client_encoding = '{marker}';\n",
        "trades_d.sql.gz": f"INSERT INTO public.trades_history (id) VALUES ({marker});\n",
        "trades_e.sql.gz": f"COPY {marker} FROM stdin;\n\\.\n",
    }.items():
        with gzip.open(backups / name, "wt") as fh:
            fh.write(text)
    env = {**s3_env, "DATABASE_URL": target, "MINIO_ENDPOINT": closed_port()}

    for args in (("restore",), ("--verbose", "restore")):
        result = clone.seedctl(*args, env=env)
        assert result.returncode == 6, (result.stdout, result.stderr)
        assert marker not in result.stdout + result.stderr
        assert "macro_indicators_daily_1.csv.gz" in result.stderr  # the refusal names the file, not its text


def test_deleted_files_come_back_from_the_cache_without_network(
    pushed: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    """Files of the checkout deleted: they come back from the DVC cache, with the remote unreachable."""
    target = new_database(pg_server)
    for part in (pushed.seeds / "data" / "usdcop_m5_ohlcv").glob("*.parquet"):
        part.unlink()
    result = pushed.seedctl("restore", env={**s3_env, "DATABASE_URL": target, "MINIO_ENDPOINT": closed_port()})
    assert result.returncode == 0, result.stderr
    assert contents(target) == contents(pushed.database_url)
    assert (
        subprocess.run(
            ["git", "status", "--porcelain", "--", "seeds"], cwd=pushed.root, capture_output=True, text=True, check=True
        ).stdout
        == ""
    )
