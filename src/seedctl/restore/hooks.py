"""The post-restore hook: a command the operator configures (params.yaml
`backup.post_restore_hook`) to run after a successful restore, e.g. triggering the
`l0_ohlcv_backfill` DAG to bring prices up to date. Its exit status is reported; a failing
hook does not undo the restore (already committed) but makes the command exit non-zero.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

HOOK_TIMEOUT_S = 1800


@dataclass(frozen=True)
class HookResult:
    command: str
    exit_code: int  # -1: timed out
    seconds: float


def run_post_restore_hook(command: str, *, cwd: Path, version: str, loaded: list[str], empty: list[str]) -> HookResult:
    """Run the hook with the restore's facts in its environment; output passes through."""
    env = {
        **os.environ,
        "SEEDCTL_SNAPSHOT_VERSION": version,
        "SEEDCTL_RESTORED_TABLES": ",".join(loaded),
        "SEEDCTL_EMPTY_TABLES": ",".join(empty),  # tables that need a backfill
    }
    started = time.perf_counter()
    try:
        code = subprocess.run(  # noqa: S602 - the operator's own command line, from params.yaml
            command,
            shell=True,
            cwd=cwd,
            env=env,
            check=False,
            timeout=HOOK_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        ).returncode
    except subprocess.TimeoutExpired:
        code = -1
    return HookResult(command, code, time.perf_counter() - started)
