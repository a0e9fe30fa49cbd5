"""SIGTERM (what Airflow sends on a task timeout) to `seedctl` itself, mid-run: one line,
nothing published, the database unchanged, every child process (dvc, its stage, psql)
stopped. Only seedctl is signalled, not its process group: the children are seedctl's to stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from seedctl.signals import descendants
from seedctl_dev.testing import run_sql
from tests.helpers import (
    GATE_KEY,
    GATES,
    TERMINATED,
    UNGATE,
    Project,
    add_trade,
    contents,
    drop_reader,
    gate_ohlcv_export,
    kill_group,
    state,
    terminate_at_gate,
    wait_for_files,
    wait_for_session,
    wait_until_gone,
)


def terminate(proc: subprocess.Popen[str]) -> tuple[subprocess.CompletedProcess[str], list[int]]:
    """SIGTERM to proc alone; its exit, and the processes it had started then."""
    children = descendants(proc.pid)
    assert children, "seedctl had started no process yet"
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            kill_group(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), children


def assert_all_gone(pids: list[int], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if os.path.exists(f"/proc/{p}") and not _zombie(p)]
        time.sleep(0.05)
    assert not alive, f"still running after seedctl ended: {alive}"


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def test_sigterm_mid_snapshot(snapshotted: Project) -> None:
    before = snapshotted.files()
    add_trade(snapshotted)
    reader_url = gate_ohlcv_export(snapshotted)
    head = snapshotted.git("rev-parse", "HEAD")
    try:
        proc = snapshotted.spawn("snapshot", "--no-push", env={"DATABASE_URL": reader_url})
        wait_for_session(reader_url, "COPY%usdcop_m5_ohlcv%", proc=proc)
        wait_for_files(".staging/export-*/data/usdcop_m5_ohlcv/*.parquet", snapshotted.seeds, count=2)
        assert proc.poll() is None, "the export finished before SIGTERM"
        result, children = terminate(proc)

        assert result.returncode == 143, result.stderr
        assert result.stderr.strip().splitlines() == [TERMINATED]
        assert_all_gone(children)
        wait_until_gone(snapshotted.database_url)
        # Nothing of the run was taken for a snapshot, nor committed.
        after = snapshotted.files()
        for rel in ("dvc.lock", "seeds/manifest.json", "seeds/checksums.sha256", "seeds/LATEST_VERSION"):
            assert after[rel] == before[rel], rel
        assert snapshotted.git("rev-parse", "HEAD") == head
        assert snapshotted.git("status", "--porcelain", "--untracked-files=no") == ""
        again = snapshotted.seedctl("snapshot", "--no-push", env={"DATABASE_URL": reader_url})
        assert again.returncode == 0, again.stderr
    finally:
        drop_reader(snapshotted.database_url)


def test_sigterm_mid_restore_load_rolls_back(snapshotted: Project, diverged_target: str) -> None:
    url = diverged_target
    dbname = url.rsplit("/", 1)[1]
    gate_sql, query = GATES["load"]
    run_sql(url, gate_sql.format(key=GATE_KEY, db=f'"{dbname}"'))
    before = state(url)
    # The load is under way inside the restore's transaction: SIGTERM to seedctl alone.
    code, err = terminate_at_gate(snapshotted, url, ["restore", "--mode", "replace"], query)
    assert code == 143, err
    assert err.strip().splitlines() == [TERMINATED]
    wait_until_gone(url)
    after = state(url)
    assert after == before  # rolled back: contents, indexes, constraints, sequences
    run_sql(url, UNGATE)


def test_sigterm_during_the_post_restore_hook_says_what_was_committed(snapshotted: Project, target: str) -> None:
    """SIGTERM while the post-restore hook runs: the restore has committed by then, so the one
    line says so (the snapshot, each table and its rows) and that the hook was stopped, never
    "no database was changed"; exit 143; the hook's processes are stopped; the data stays."""
    params = snapshotted.params()
    params["backup"]["post_restore_hook"] = "touch hook.started && exec sleep 600"
    snapshotted.write_params(params)
    started = snapshotted.root / "hook.started"
    manifest = json.loads((snapshotted.seeds / "manifest.json").read_text())

    proc = snapshotted.spawn("restore", env={"DATABASE_URL": target})
    try:
        wait_for_files(started.name, snapshotted.root, count=1)  # the hook runs: COMMIT is behind
        assert proc.poll() is None, "the restore ended before SIGTERM"
        result, children = terminate(proc)
    finally:
        if proc.poll() is None:
            kill_group(proc)

    assert result.returncode == 143, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("seedctl: terminated (SIGTERM); the post-restore hook `touch hook.started"), line
    assert "was stopped, but the restore had already committed snapshot " + manifest["version"] in line, line
    assert "no database was changed" not in line
    for entry in manifest["tables"].values():
        assert f"{entry['table']} {entry['rows']:,} rows loaded" in line, line
    assert line.endswith("-- the data is in place; run the hook's job by hand"), line
    assert_all_gone(children)  # the hook's sleep too
    assert contents(target) == contents(snapshotted.database_url)
