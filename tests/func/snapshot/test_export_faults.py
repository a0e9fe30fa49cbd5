"""Faults while a snapshot is being taken: SIGKILL mid-export, the database restarting,
the disk filling up. The previous snapshot must stay exactly as it was (files, dvc.lock,
manifest, LATEST_VERSION, the remote) and the next `seedctl snapshot` must just work."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from seedctl_dev import sample
from seedctl_dev.devs3 import S3Server
from seedctl_dev.devserver import TempPostgres
from tests.helpers import (
    READER,
    READER_PW,
    Project,
    add_trade,
    drop_reader,
    gate_ohlcv_export,
    kill_group,
    one_error_line,
    wait_for_files,
    wait_for_session,
)


def new_database_like(project: Project) -> str:
    """A new, empty database on the project's server."""
    name = f"f_{uuid.uuid4().hex[:12]}"
    project.sql(f'CREATE DATABASE "{name}"')
    return project.database_url.rsplit("/", 1)[0] + "/" + name


def drop_database(project: Project, url: str) -> None:
    project.sql(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def wait_for_file(pattern: str, root: Path, timeout: float = 30) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(root.glob(pattern))
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no {pattern} under {root}")


def export_children(proc: subprocess.Popen[str]) -> list[int]:
    """PIDs of the export stage (`python stages/export.py`) in the process group of proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != proc.pid:
                continue
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ProcessLookupError):
            continue
        if b"stages/export.py" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["job", "export-stage"])
def test_sigkill_during_export_keeps_the_previous_snapshot(snapshotted: Project, victim: str) -> None:
    """SIGKILL while the export has a half-written Parquet file: nothing of it is ever taken
    for a snapshot, and the next run completes.

    victim=job kills `seedctl snapshot` (the export runs in its process) with everything it
    started (a cron timeout, a reboot); victim=export-stage kills only the export stage's
    process (the OOM killer's choice) under a living `dvc repro` (the pipeline run by DVC).
    """
    before = snapshotted.files()
    add_trade(snapshotted)
    reader_url = gate_ohlcv_export(snapshotted)
    try:
        if victim == "job":
            proc = snapshotted.spawn("snapshot", "--no-push", env={"DATABASE_URL": reader_url})
        else:
            proc = snapshotted.spawn("repro", program="dvc", env={"DATABASE_URL": reader_url})
        wait_for_session(reader_url, "COPY%usdcop_m5_ohlcv%", proc=proc)
        # Some monthly files of the table are written, the rest not yet (one half-written).
        wait_for_files(".staging/export-*/data/usdcop_m5_ohlcv/*.parquet", snapshotted.seeds, count=3)
        assert proc.poll() is None, "the export finished before it could be killed"
        if victim == "job":
            kill_group(proc)
        else:
            pids = export_children(proc)
            assert len(pids) == 1, pids
            os.kill(pids[0], 9)
            out, err = proc.communicate(timeout=60)
            assert proc.returncode != 0, (out, err)
            assert "Traceback" not in err

        # Nothing of the killed run is taken for a snapshot: what says which snapshot this is
        # has not moved, and no data file differs from it (DVC may have removed the outputs
        # before running the stage: see test_failed_export_leaves_the_checked_out_files).
        after = snapshotted.files()
        for rel in ("dvc.lock", "seeds/manifest.json", "seeds/checksums.sha256", "seeds/LATEST_VERSION"):
            assert after[rel] == before[rel], rel
        for rel, data in after.items():
            assert data is None or data == before[rel], f"{rel} differs from the committed snapshot"
        # The killed run's staging files are still there, and not even untracked debris for git.
        assert list(snapshotted.seeds.glob(".staging/export-*"))
        assert snapshotted.git("status", "--porcelain") == ""
        if victim == "job":  # the committed snapshot is still whole: a restore gets it back exactly
            target = new_database_like(snapshotted)
            try:
                restored = snapshotted.seedctl("restore", env={"DATABASE_URL": target})
                assert restored.returncode == 0, restored.stderr
                assert snapshotted.files() == before
            finally:
                drop_database(snapshotted, target)

        # The next run completes, on the same reader role, and leaves no debris behind (it
        # removes the killed run's).
        again = snapshotted.seedctl("snapshot", "--no-push", env={"DATABASE_URL": reader_url})
        assert again.returncode == 0, again.stderr
        assert not [p.name for p in (snapshotted.seeds / ".staging").iterdir() if p.name != ".gitignore"]
        assert not list(snapshotted.seeds.glob(".export-*")) and not list(snapshotted.seeds.glob(".old-*"))
        assert snapshotted.git("ls-files", "--others", "--exclude-standard") == ""  # nothing untracked
        assert snapshotted.seedctl("verify").returncode == 0
        manifest = json.loads((snapshotted.seeds / "manifest.json").read_text())
        assert (
            manifest["tables"]["trades_history"]["rows"] == snapshotted.sql("SELECT count(*) FROM trades_history")[0][0]
        )
        assert manifest["version"] != json.loads(before["seeds/manifest.json"] or b"{}")["version"]
    finally:
        drop_reader(snapshotted.database_url)


def test_failed_export_leaves_the_checked_out_files(snapshotted: Project) -> None:
    """An export that fails half-way (here: permission denied on the second table) leaves the
    checked-out snapshot's data files in place, as export.py's staging + publish intends."""
    before = snapshotted.files()
    snapshotted.sql(f"""
        DROP ROLE IF EXISTS {READER};
        CREATE ROLE {READER} LOGIN PASSWORD '{READER_PW}' NOSUPERUSER;
        GRANT SELECT ON usdcop_m5_ohlcv, trades_history TO {READER};
    """)
    reader_url = f"postgresql://{READER}:{READER_PW}@{snapshotted.database_url.split('@', 1)[1]}"
    try:
        failed = snapshotted.seedctl("snapshot", "--no-push", env={"DATABASE_URL": reader_url})
        one_error_line(failed, "macro_indicators_daily")
        assert snapshotted.files() == before
        assert snapshotted.seedctl("status").returncode == 0
    finally:
        drop_reader(snapshotted.database_url)


def restart(server: TempPostgres) -> None:
    """`pg_ctl restart -m fast`: every session is terminated, the server comes back on its port."""
    assert server.data_dir is not None and server.log_path is not None
    result = server._run(
        [
            str(server.bin_dir / "pg_ctl"),
            "-D",
            str(server.data_dir),
            "-l",
            str(server.log_path),
            "-w",
            "-t",
            "60",
            "-m",
            "fast",
            "-o",
            f"-p {server.port}",
            "restart",
        ],
        timeout=90,
        daemon=True,
    )
    assert result.returncode == 0, result.stdout


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[TempPostgres]:
    """A PostgreSQL server of this test's own: restarting it disturbs no other test."""
    server = TempPostgres(tmp_path / "pg", flavor=os.environ.get("SEEDCTL_TEST_PG_FLAVOR", "auto"))  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_database_restart_during_export_pushes_nothing(
    snapshotted: Project, own_server: TempPostgres, s3_env: dict[str, str], s3_server: S3Server
) -> None:
    """The server restarts (pg_ctl restart -m fast) while the export waits in the middle of the
    tables: one clear error, nothing pushed, nothing committed; the next run pushes."""
    url = own_server.create_database("trading")
    with psycopg.connect(url) as conn:
        sample.load_sample_data(conn, scale=0.02)
    snapshotted.database_url = url
    snapshotted.env["DATABASE_URL"] = url
    add_trade(snapshotted)
    before = snapshotted.files()
    head = snapshotted.git("rev-parse", "HEAD")

    blocker = psycopg.connect(url)
    try:
        blocker.execute("LOCK TABLE macro_indicators_daily IN ACCESS EXCLUSIVE MODE")
        proc = snapshotted.spawn("snapshot", env=s3_env)
        wait_for_session(url, "%macro_indicators_daily%", waiting_on="relation", proc=proc)
        restart(own_server)
    finally:
        blocker.close()  # terminated by the restart
    out, err = proc.communicate(timeout=120)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    one_error_line(result, "export failed")
    assert s3_server.keys(s3_env["MINIO_BUCKET"]) == []
    assert snapshotted.git("rev-parse", "HEAD") == head and "seeds/v" not in snapshotted.git("tag")
    after = snapshotted.files()
    for rel in ("dvc.lock", "seeds/manifest.json", "seeds/checksums.sha256", "seeds/LATEST_VERSION"):
        assert after[rel] == before[rel], rel

    again = snapshotted.seedctl("snapshot", env=s3_env)
    assert again.returncode == 0, again.stderr
    assert "pushed" in again.stdout and s3_server.keys(s3_env["MINIO_BUCKET"])
    assert snapshotted.git("rev-parse", "HEAD") != head


@pytest.fixture
def small_disk(snapshotted: Project) -> Iterator[Path]:
    """The project's seeds/ on a tmpfs with 192 KiB to spare beyond the current snapshot.

    Needs root and mount(2) (this sandbox allows both); skipped elsewhere rather than faked.
    """
    seeds = snapshotted.seeds
    used = sum(p.stat().st_size for p in seeds.rglob("*") if p.is_file())
    size_kib = (used // 1024) + 64 + 192  # + room for directory entries and inodes
    saved = snapshotted.root / "seeds.saved"
    shutil.copytree(seeds, saved, symlinks=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(seeds)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode:
        shutil.rmtree(saved)
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        shutil.copytree(saved, seeds, symlinks=True, dirs_exist_ok=True)
        shutil.rmtree(saved)
        yield seeds
    finally:
        kept = snapshotted.root / "seeds.kept"
        shutil.copytree(seeds, kept, symlinks=True)
        subprocess.run(["umount", str(seeds)], check=True)
        shutil.rmtree(seeds, ignore_errors=True)
        kept.rename(seeds)


def remount(seeds: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(seeds)], check=True)


def grow_database(project: Project) -> None:
    """~30x the rows: the new snapshot cannot fit where the old one did."""
    with psycopg.connect(project.database_url) as conn:
        sample.load_sample_data(conn, scale=0.6)


@pytest.mark.slow
def test_disk_full_while_writing_a_snapshot(snapshotted: Project, small_disk: Path) -> None:
    """ENOSPC while the export writes: the snapshot fails (non-zero, the cause on stderr), the
    previous snapshot is intact, no debris is left; once there is room the next run completes.

    Mechanism: seeds/ is a tmpfs mounted (as root) with a size limit just above the current
    snapshot, and the database grows ~30x so the new files cannot fit. Real ENOSPC from the
    kernel, not a simulated exception. (How the error is worded: see the next test.)
    """
    grow_database(snapshotted)
    before = snapshotted.files()

    failed = snapshotted.seedctl("snapshot", "--no-push")

    assert failed.returncode != 0 and "Traceback" not in failed.stderr, failed.stderr
    assert "No space left on device" in failed.stderr, failed.stderr
    after = snapshotted.files()
    for rel in ("dvc.lock", "seeds/manifest.json", "seeds/checksums.sha256", "seeds/LATEST_VERSION"):
        assert after[rel] == before[rel], rel
    for rel, data in after.items():
        assert data is None or data == before[rel], f"{rel} differs from the committed snapshot"
    assert not list(small_disk.glob(".staging/export-*")), "the staging directory was not cleaned up"

    remount(small_disk, "64m")
    again = snapshotted.seedctl("snapshot", "--no-push")
    assert again.returncode == 0, again.stderr
    assert snapshotted.seedctl("verify").returncode == 0


def test_disk_full_is_one_clear_line(snapshotted: Project, small_disk: Path) -> None:
    """Disk full is an operator problem, not an internal error: one `seedctl: error:` line naming
    where it could not write and what to do, exit 4 (export)."""
    grow_database(snapshotted)

    failed = snapshotted.seedctl("export")

    line = one_error_line(failed, "No space left on device")
    assert str(small_disk) in line or "seeds" in line, line
    assert "internal error" not in failed.stderr and failed.returncode == 4, failed.stderr


def test_row_level_security_never_gives_a_silent_subset(snapshotted: Project) -> None:
    """A snapshot is all rows or an error: like pg_dump, a policy that would hide rows from the
    exporting role makes the export fail naming the table, never a smaller file."""
    snapshotted.sql(f"""
        DROP ROLE IF EXISTS {READER};
        CREATE ROLE {READER} LOGIN PASSWORD '{READER_PW}' NOSUPERUSER;
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER};
        ALTER TABLE trades_history ENABLE ROW LEVEL SECURITY;
        CREATE POLICY only_long ON trades_history FOR SELECT USING (side = 'long');
    """)
    reader_url = f"postgresql://{READER}:{READER_PW}@{snapshotted.database_url.split('@', 1)[1]}"
    try:
        result = snapshotted.seedctl("export", env={"DATABASE_URL": reader_url})
        all_rows = snapshotted.sql("SELECT count(*) FROM trades_history")[0][0]
        if result.returncode == 0:
            exported = json.loads((snapshotted.seeds / "schema.json").read_text())["tables"]["trades_history"]["rows"]
            assert exported == all_rows, f"exported {exported} of {all_rows} rows without a word"
        one_error_line(result, "trades_history")
    finally:
        drop_reader(snapshotted.database_url)
