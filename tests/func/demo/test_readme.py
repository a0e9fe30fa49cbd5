"""README.md is executable: its first block is what CI runs, every other `sh` block runs here,
as printed, against real servers (PostgreSQL, the S3 server, git, dvc), and its `bash` blocks
(installing the runtime alone on a server, then snapshot and restore with it) run in
tests/func/install/test_runtime_install.py, as printed too."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from seedctl_dev.testing import BIN, run_sql
from tests.helpers import README, REPO, commands, readme_blocks

if TYPE_CHECKING:
    from seedctl_dev.devserver import TempPostgres
    from tests.helpers import Project

# The kinds of fenced block the README may have: commands (sh, bash) and python run as printed;
# yaml (params.yaml examples) and a bare fence (the layout's tree) hold no commands.
CHECKED = {"sh", "bash", "python", "yaml", ""}


def test_every_readme_block_is_of_a_kind_a_test_runs() -> None:
    kinds = re.findall(r"^```(\w*)\n.*?^```", README.read_text(), re.S | re.M)
    assert set(kinds) <= CHECKED, f"a README block no test runs: {sorted(set(kinds) - CHECKED)}"
    assert len(readme_blocks("bash")) == 2, "test_runtime_install.py runs the two bash blocks: a new one needs it"


def test_readme_starts_with_the_two_commands_ci_runs() -> None:
    assert commands(readme_blocks("sh")[0]) == ["make demo", "make test"]
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^[^#\n]*make [^\n]*\bdemo && make [^\n]*\btest\b", ci, re.M), "CI must run both"


@pytest.mark.slow
def test_every_readme_command_works(
    sample_project: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    blocks = readme_blocks("sh")[1:]  # the first block (make demo, make test) is .ci/run's
    assert len(blocks) == 3, "a new README block needs its setup here"
    snapshot_block, restore_block, query_block = blocks
    [python_block] = readme_blocks("python")
    project = sample_project
    env = dict(s3_env)
    if (BIN.parent / ".installed").exists():  # make's recipes use this venv instead of building one
        env["VENV"] = str(BIN.parent)

    def run(block: str, **extra: str) -> subprocess.CompletedProcess[str]:
        result = project.run("bash", "-euo", "pipefail", "-c", block, env={**env, **extra}, timeout=600)
        assert result.returncode == 0, f"{block}\n{result.stdout}\n{result.stderr}"
        return result

    # The operator's checkout has an origin to push the snapshot's commit and tag to.
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    project.git("remote", "add", "origin", str(origin))
    project.git("push", "-q", "-u", "origin", "HEAD")

    run(snapshot_block)
    tag = project.git("describe", "--tags", "--exact-match", "HEAD").strip()
    assert tag in project.run("git", "ls-remote", "--tags", "origin").stdout
    assert project.git("status", "--porcelain", "--", "seeds", "dvc.lock") == ""

    # The README's example tags: an older snapshot, then a newer one with one trade changed.
    project.git("tag", "-a", "-m", "older", "seeds/v2026.01.11", "HEAD")
    project.sql("UPDATE trades_history SET strategy = 'readme' WHERE id = 1")
    newer = project.seedctl("snapshot", env=s3_env)
    assert newer.returncode == 0, newer.stderr
    project.git("tag", "-a", "-m", "newer", "seeds/v2026.01.18", "HEAD")

    target = pg_server.create_database(f"readme_{uuid.uuid4().hex[:8]}")
    restored = run(restore_block, DATABASE_URL=target)
    assert "restore plan (dry run, nothing changed)" in restored.stdout
    assert run_sql(target, "SELECT strategy FROM trades_history WHERE id = 1") == [("readme",)]
    assert run_sql(target, "SELECT count(*) FROM usdcop_m5_ohlcv") == project.sql(
        "SELECT count(*) FROM usdcop_m5_ohlcv"
    )

    run("python - <<'EOF'\n" + python_block + "EOF\n")
    queried = run(query_block)
    assert "strategy" in queried.stdout and "readme" in queried.stdout  # the CSV on stdout
    assert (project.root / "bars.parquet").stat().st_size > 0
