"""The runtime install is complete: installed as README.md tells an operator to install it on
a server (a fresh virtualenv, `pip install -r requirements.lock`, then seedctl itself without
extras, nothing from requirements-dev.lock), seedctl takes a snapshot, pushes it, and
restores it on a new server.

The dev venv hides a missing runtime dependency: a module that requirements-dev.lock brings
in for something else (numpy, through pandas) imports fine there. So this test builds the
virtualenv from nothing, with the README's two `bash` blocks run exactly as printed, then
drives a snapshot (the sample data and the fidelity table, pushed to the session's S3
server) and a restore in a fresh clone into a new database with that venv's `seedctl` alone:
the dev venv's bin is not on PATH, and the test checks that `seedctl` is the new venv's.
tests/unit/test_dependencies.py names an undeclared import in a fraction of a second; this
test proves the declared set is enough, end to end.

The virtualenv lives in a scratch HOME (`~/seedctl-venv` in the README). pip installs from
the indexes and caches this machine's pip is configured with, as `make setup` does.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from seedctl_dev.testing import BIN
from tests.helpers import (
    FIDELITY_SQL,
    ORDER,
    Project,
    fresh_clone,
    new_database,
    readme_blocks,
    sample_contents,
)

if TYPE_CHECKING:
    from seedctl_dev.devserver import TempPostgres

pytestmark = pytest.mark.slow

# Settings of the dev environment that would leak it into the runtime one.
_DEV_ONLY = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE")


def runtime_env(env: dict[str, str], home: Path) -> dict[str, str]:
    """env without the dev venv: its bin off PATH, no VIRTUAL_ENV or PYTHON* paths; HOME scratch."""
    path = [p for p in env["PATH"].split(os.pathsep) if p and Path(p).resolve() != BIN.resolve()]
    out = {k: v for k, v in env.items() if k not in _DEV_ONLY}
    return {**out, "PATH": os.pathsep.join(path), "HOME": str(home)}


def bash(project: Project, script: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = project.run("bash", "-euo", "pipefail", "-c", script, env=env, timeout=900)
    assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
    return result


def test_a_runtime_only_install_snapshots_and_restores(
    sample_project: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    install, use = readme_blocks("bash")
    snapshot_line, restore_line = [line for line in use.splitlines() if line.strip()]
    activate = install.strip().splitlines()[-1]
    assert activate.startswith("source ~/seedctl-venv/bin/activate"), activate
    home = tmp_path / "home"
    home.mkdir()
    venv = home / "seedctl-venv"

    # The operator's server: the project's checkout, without the dev venv anywhere.
    source = sample_project
    source.sql(FIDELITY_SQL)
    params = source.params()
    params["sources"]["fidelity"] = {"table": "public.fidelity", "min_rows": 1, "max_null_ratio": 1.0}
    source.write_params(params)
    source.commit_all("the fidelity table")
    server = Project(source.root, runtime_env(source.env, home), source.database_url)
    assert str(BIN) not in server.env["PATH"].split(os.pathsep) and "VIRTUAL_ENV" not in server.env

    bash(server, install)

    python = str(venv / "bin" / "python")
    # Only the runtime: dev-only packages (pandas, pytest, moto) and the dev tooling are absent.
    for module in ("pandas", "pytest", "moto", "seedctl_dev"):
        probe = server.run(python, "-c", f"import {module}")
        assert probe.returncode == 1 and f"No module named '{module}'" in probe.stderr, (module, probe.stderr)
    # seedctl installed (not editable): imported from the venv, not from the checkout's src/.
    where = server.run(python, "-c", "import seedctl; print(seedctl.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv / "lib"), where.stdout
    assert (venv / "bin" / "seedctl").read_text().startswith(f"#!{venv / 'bin' / 'python'}")  # python3

    # Which seedctl runs, and what comes first on PATH, printed by the same shell before it runs.
    def with_venv(line: str) -> str:
        return f'{activate}\necho "${{PATH%%:*}}"\ncommand -v seedctl\n{line}\n'

    snapshot = bash(server, with_venv(snapshot_line), env=s3_env)
    first_on_path, seedctl, *_ = snapshot.stdout.splitlines()
    assert (first_on_path, seedctl) == (str(venv / "bin"), str(venv / "bin" / "seedctl"))
    assert "pushed" in snapshot.stdout

    # A new server: a fresh clone (no DVC cache, no data files), a new database, the same venv.
    clone = fresh_clone(server, tmp_path / "new-server")
    target = new_database(pg_server)
    try:
        restored = bash(clone, with_venv(restore_line), env={**s3_env, "DATABASE_URL": target})
        first_on_path, seedctl, *_ = restored.stdout.splitlines()
        assert (first_on_path, seedctl) == (str(venv / "bin"), str(venv / "bin" / "seedctl"))
        assert restored.stdout.count("remote") >= 4, restored.stdout  # the files came from the S3 server
        rows = sample_contents(target)
        assert sorted(rows) == sorted([*ORDER, "fidelity"]) and all(rows.values()), {t: len(r) for t, r in rows.items()}
        assert rows == sample_contents(source.database_url)
        verified = bash(clone, with_venv("seedctl verify --db"), env={"DATABASE_URL": target})
        assert "Traceback" not in verified.stderr
    finally:
        pg_server.drop_database(target.rsplit("/", 1)[1])
