"""Snapshot: the operator's one command for `dvc repro` (export -> manifest -> validate).

Config and database problems are caught here, in-process, before DVC starts, so that they
are one line and a precise exit code. A failing stage prints its own `seedctl: error:`
line; in logs (no terminal) DVC's wrapper noise is dropped and the stage's exit code is
passed on, so cron and Airflow see exactly what failed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from seedctl.config import load_params
from seedctl.errors import AlreadyReported, SeedctlError
from seedctl.export import preflight
from seedctl.progress import interactive
from seedctl.tools import dvc, env_with_venv

# DVC's own lines around a failed stage: the stage already said what went wrong.
_DVC_NOISE = re.compile(r"^(ERROR: failed to reproduce|Having any troubles\?|$)")


def run_snapshot(params_path: Path) -> None:
    """Run the pipeline in the project that holds params_path; raise on any failure."""
    params = load_params(params_path)
    preflight(params)
    root = params_path.resolve().parent
    env = env_with_venv()
    if interactive():
        if subprocess.run([dvc(), "repro"], cwd=root, env=env, check=False).returncode:
            raise SeedctlError("snapshot failed (see above)", "nothing was published")
        return
    result = subprocess.run(
        [dvc(), "repro"], cwd=root, env=env, stderr=subprocess.PIPE, text=True, check=False
    )
    if result.returncode == 0:
        return
    for line in result.stderr.splitlines():
        if not _DVC_NOISE.match(line):
            print(line, file=sys.stderr)
    exited = re.search(r"exited with (\d+)", result.stderr)
    if exited and "seedctl: error:" in result.stderr:
        raise AlreadyReported(int(exited.group(1)))
    raise SeedctlError(f"snapshot failed: dvc repro exited {result.returncode}", "see the lines above")
