"""Bad input through the real `seedctl` commands: one clear line, a non-zero exit, and the
database untouched. What the unit tests prove for the parsers is checked here end to end,
on a fresh clone (no data files, no DVC cache) whose remote is unusable, so that restore
must use the fallback files.

Covered elsewhere (referenced in docs/RELIABILITY.md): tests/unit/test_config.py
(::test_fallback_path_traversal and the other config checks), tests/unit/test_fallback.py
(every parser rejection), tests/func/restore/test_bad_input.py (database and params.yaml),
tests/func/push/test_remote.py::test_errors_are_one_clear_line (MINIO_* missing/wrong).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from seedctl_dev.testing import table_to_csv_gz
from tests.helpers import Project, one_error_line, state

SECRET_MARKER = "Secret-Marker-0xC0FFEE"


@pytest.fixture
def new_server(snapshotted: Project, target: str, tmp_path: Path) -> Project:
    """A fresh clone restoring into an empty database, with no remote configured."""
    return snapshotted.clone(tmp_path / "new-server", target)


def csv_gz(path: Path, text: str, *, truncate: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = gzip.compress(text.encode())
    path.write_bytes(data[: len(data) // 2] if truncate else data)


def ohlcv_csv(project: Project) -> str:
    rows = project.sql("SELECT time, symbol, open, high, low, close, volume FROM usdcop_m5_ohlcv ORDER BY time")
    return "time,symbol,open,high,low,close,volume\n" + "".join(
        f"{t.isoformat()},{s},{o},{h},{lo},{c},{v}\n" for t, s, o, h, lo, c, v in rows
    )


BAD_FALLBACKS = {
    "wrong-columns": ("backups/usdcop_m5_ohlcv_1.csv.gz", "column"),
    "truncated-gzip": ("backups/usdcop_m5_ohlcv_1.csv.gz", "truncated"),
    "sql-with-other-statements": ("backups/usdcop_m5_ohlcv_1.sql.gz", "DROP"),
}


@pytest.mark.parametrize("case", sorted(BAD_FALLBACKS))
def test_unusable_fallback_is_refused_and_nothing_is_loaded(
    snapshotted: Project, new_server: Project, target: str, case: str
) -> None:
    result = restore_with_bad_fallback(snapshotted, new_server, case)

    line = one_error_line(result, "usdcop_m5_ohlcv", "not touched")
    assert result.returncode == 6, line
    assert state(target)["contents"] == {}


@pytest.mark.parametrize("case", ["wrong-columns"])
def test_unusable_fallback_is_named_with_its_reason(snapshotted: Project, new_server: Project, case: str) -> None:
    rel, reason = BAD_FALLBACKS[case]
    result = restore_with_bad_fallback(snapshotted, new_server, case)

    one_error_line(result, "usdcop_m5_ohlcv", Path(rel).name, reason)


def restore_with_bad_fallback(project: Project, new_server: Project, case: str):
    rel, _ = BAD_FALLBACKS[case]
    path = new_server.root / rel
    table_to_csv_gz(
        project.database_url,
        "macro_indicators_daily",  # the other required table is fine
        new_server.root / "backups" / "macro_indicators_daily_1.csv.gz",
    )
    good = ohlcv_csv(project)
    if case == "wrong-columns":
        csv_gz(path, good.replace("time,symbol,open", "ts,symbol,open", 1))
    elif case == "truncated-gzip":
        csv_gz(path, good, truncate=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            gzip.compress(
                b"SET statement_timeout = 0;\nDROP TABLE IF EXISTS public.trades_history;\n"
                b"COPY public.usdcop_m5_ohlcv (time, symbol, open, high, low, close, volume) FROM stdin;\n"
                b"2020-01-02 13:00:00+00\tUSD/COP\t3800.0000\t3801.0000\t3799.0000\t3800.5000\t10\n\\.\n"
            )
        )
        params = new_server.params()
        params["sources"]["usdcop_m5_ohlcv"]["fallback"] = ["backups/usdcop_m5_ohlcv*.sql.gz"]
        params["sources"]["usdcop_m5_ohlcv"]["min_rows"] = 1
        new_server.write_params(params)

    return new_server.seedctl("restore")


@pytest.mark.parametrize("entry", ["../outside/usdcop.csv.gz", "backups/../../usdcop.csv.gz"])
def test_fallback_path_traversal_through_restore(new_server: Project, target: str, entry: str) -> None:
    params = new_server.params()
    params["sources"]["usdcop_m5_ohlcv"]["fallback"] = [entry]
    new_server.write_params(params)

    result = new_server.seedctl("restore")

    line = one_error_line(result, "usdcop_m5_ohlcv", "fallback", "..")
    assert result.returncode == 2, line
    assert state(target)["contents"] == {}


def test_snapshot_of_a_newer_format_is_refused(snapshotted: Project, target: str) -> None:
    path = snapshotted.seeds / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["compatibility"]["schema_version"] = 99
    path.write_text(json.dumps(manifest, indent=2) + "\n")

    result = snapshotted.seedctl("restore", env={"DATABASE_URL": target})

    line = one_error_line(result, "format 99", "upgrade seedctl")
    assert result.returncode == 8, line
    assert len([ln for ln in result.stderr.splitlines() if ln.strip()]) == 1
    assert state(target)["contents"] == {}


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (None, ["MINIO_ENDPOINT is not set", ".env"]),
        (f"MINIO_ENDPOINT=127.0.0.1:9\nMINIO_SECRET_KEY {SECRET_MARKER}\n", [".env line 2", "KEY=VALUE"]),
        (f"MINIO_ENDPOINT='127.0.0.1:9\nMINIO_SECRET_KEY={SECRET_MARKER}\n", [".env line 1", "quote"]),
    ],
)
def test_missing_or_malformed_env_file(
    snapshotted: Project, new_server: Project, target: str, text: str | None, needles: list[str]
) -> None:
    """push: one line naming the variable or the .env line (never its value), exit 7.
    restore on a new server: the same reason, then the refusal (no fallback), database untouched."""
    for where in (snapshotted, new_server):
        if text is not None:
            (where.root / ".env").write_text(text)

    push = snapshotted.seedctl("push")
    line = one_error_line(push, *needles)
    assert push.returncode == 7, line
    assert SECRET_MARKER not in push.stdout + push.stderr

    restore = new_server.seedctl("restore")
    line = one_error_line(restore, *needles)
    assert restore.returncode == 6 and "not touched" in line, line
    assert SECRET_MARKER not in restore.stdout + restore.stderr
    assert state(target)["contents"] == {}


@pytest.mark.parametrize(
    ("args", "env", "origin"),
    [(["--mode", "bogus"], {}, "--mode"), ([], {"SEEDCTL_RESTORE_MODE": "bogus"}, "SEEDCTL_RESTORE_MODE")],
    ids=["option", "environment"],
)
def test_an_unknown_mode_is_a_bad_command_line_value(
    snapshotted: Project, target: str, args: list[str], env: dict[str, str], origin: str
) -> None:
    """Exit 2 as every bad command-line value, naming where the value came from and the modes."""
    result = snapshotted.seedctl("restore", *args, env={"DATABASE_URL": target, **env})

    line = one_error_line(result, f"{origin} 'bogus' is not a restore mode", "safe, replace, append, missing")
    assert result.returncode == 2, line
    assert len([ln for ln in result.stderr.splitlines() if ln.strip()]) == 1
    assert state(target)["contents"] == {}
