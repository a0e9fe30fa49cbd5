"""docs/OPERATIONS.md is executable: every `sh` block runs, in order, against real servers.

The runbook starts where an operator starts: a git clone on a new server, `make setup`
(a real virtualenv from the lock files), `make restore`. Between blocks the test sets up
only what the prose describes (for example, a failed Sunday validation before section 3).
Section 9 (the git server is gone) runs in its own test, where it is printed to run: an empty
directory of a machine with seedctl and MINIO_* only, `tests/bin/mc` standing in for `mc`.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from seedctl_dev.devs3 import S3Server
from seedctl_dev.testing import BIN, project_env, run_sql
from tests.helpers import REPO, sample_contents

if TYPE_CHECKING:
    from seedctl_dev.devserver import TempPostgres
    from tests.helpers import Project

RUNBOOK = REPO / "docs" / "OPERATIONS.md"


def runbook_blocks() -> list[tuple[str, str]]:
    """(section heading, shell block) pairs, in document order."""
    blocks, section = [], ""
    for match in re.finditer(r"^## ([^\n]+)$|^```sh\n(.*?)^```", RUNBOOK.read_text(), re.S | re.M):
        if match.group(1):
            section = match.group(1)
        else:
            blocks.append((section, match.group(2)))
    return blocks


def test_runbook_has_blocks_for_every_section() -> None:
    sections = {s for s, _ in runbook_blocks()}
    assert {
        "1. A new server from zero",
        "2. Restoring a historical snapshot",
        "3. Validation failed on a Sunday night",
        "4. Rotating credentials",
        "5. Retention",
        "6. Scheduling",
        "7. Recovering from a corrupt or missing remote object",
        "8. Restoring part of a snapshot",
        "9. The git server is gone, here is the bucket",
    } <= sections


@pytest.mark.slow
def test_every_runbook_command_works(
    sample_project: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path, s3_server: S3Server
) -> None:
    first = sample_project.seedctl("snapshot", env=s3_env)
    assert first.returncode == 0, first.stderr
    sample_project.sql("UPDATE trades_history SET strategy = 'v2' WHERE id = 1")
    second = sample_project.seedctl("snapshot", env=s3_env)
    assert second.returncode == 0, second.stderr
    target = pg_server.create_database(f"ops_{uuid.uuid4().hex[:8]}")
    server_dir = tmp_path / "new-server"
    server_dir.mkdir()
    env = {
        **sample_project.env,
        **s3_env,
        "SEEDS_REPO": str(sample_project.root),
        "DATABASE_URL": target,
        "SEEDCTL_PARAMS": "params.yaml",
    }
    env.pop("VIRTUAL_ENV", None)
    clone = server_dir / "seedctl"

    damaged: dict[str, tuple[Path, bytes] | str] = {}

    def before(section: str, block: str) -> None:
        if "--allow-shrink" in block:  # a broker corrected 2021-03 of the database restored in 1.
            run_sql(
                target,
                "DELETE FROM usdcop_m5_ohlcv WHERE time >= '2021-03-01' AND time < '2021-04-01' "
                "AND extract(minute FROM time)::int % 15 = 0",
            )
        elif section.startswith("8."):  # a bad load damaged March 2021 of the database
            run_sql(
                target,
                "UPDATE usdcop_m5_ohlcv SET close = close + 1 WHERE time >= '2021-03-01' AND time < '2021-04-01'",
            )
        elif section.startswith("3."):  # a Sunday run that fails validation
            params = (clone / "params.yaml").read_text()
            (clone / "params.yaml").write_text(params.replace("min_rows: 100\n", "min_rows: 100000000\n", 1))
            failed = subprocess.run(
                [str(clone / ".venv" / "bin" / "seedctl"), "snapshot", "--no-push"],
                cwd=clone,
                env={**env, "DATABASE_URL": sample_project.database_url},
                capture_output=True,
                text=True,
                check=False,
            )
            assert failed.returncode == 5, failed.stderr
            (clone / "params.yaml").write_text(params)
        if section.startswith("7.") and not damaged:  # a damaged file and its cached copy here, a damaged object there
            damaged["local"] = damage_local(clone, "seeds/data/trades_history.parquet")
            damaged["remote"] = damage_remote(
                s3_server,
                s3_env["MINIO_BUCKET"],
                sorted((clone / "seeds" / "data" / "macro_indicators_daily").iterdir())[0],
            )

    for section, block in runbook_blocks():
        if section.startswith("9."):  # no git, no checkout: test_the_bucket_alone_lists_reads_and_restores
            continue
        before(section, block)
        cwd = server_dir if section.startswith("1.") and "git clone" in block else clone
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, f"{section}:\n{block}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"

    assert (clone / "seeds" / "LATEST_VERSION").read_text().strip()
    verify = subprocess.run(
        [str(clone / ".venv" / "bin" / "seedctl"), "verify", "--db"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    path, good = damaged["local"]  # type: ignore[misc]
    assert path.read_bytes() == good and len(list((clone / ".dvc" / "tmp" / "quarantine").rglob("*.parquet"))) == 1
    key = damaged["remote"]
    body = s3_server.client().get_object(Bucket=s3_env["MINIO_BUCKET"], Key=key)["Body"].read()
    assert hashlib.md5(body).hexdigest() == "".join(str(key).split("/")[-2:])  # noqa: S324 - repaired by push


def test_the_bucket_alone_lists_reads_and_restores(
    sample_project: Project, pg_server: TempPostgres, tmp_path: Path
) -> None:
    """Section 9 as printed, in an empty directory of a machine with seedctl and MINIO_* only:
    PATH is tests/bin (the `mc` stand-in) and the virtualenv's bin (no git), HOME is empty,
    the project (git history, DVC cache) is deleted, the bucket is `seeds` as printed."""
    server = S3Server(tmp_path)
    server.start()
    try:
        server.create_bucket("seeds")
        minio = {
            "MINIO_ENDPOINT": server.endpoint,
            "MINIO_ACCESS_KEY": server.access_key,
            "MINIO_SECRET_KEY": server.secret_key,
            "MINIO_BUCKET": "seeds",
        }
        taken = sample_project.seedctl("snapshot", env=minio)
        assert taken.returncode == 0, taken.stderr
        manifest = json.loads((sample_project.seeds / "manifest.json").read_text())
        expected = sample_contents(sample_project.database_url)
        shutil.rmtree(sample_project.root)
        machine, home = tmp_path / "machine", tmp_path / "home"
        machine.mkdir()
        home.mkdir()
        target = pg_server.create_database(f"dr_{uuid.uuid4().hex[:8]}")
        env = {**project_env(target), **minio, "HOME": str(home), "PATH": f"{REPO / 'tests' / 'bin'}:{BIN}"}
        assert shutil.which("git", path=env["PATH"]) is None
        [(_, block)] = [(s, b) for s, b in runbook_blocks() if s.startswith("9.")]
        result = subprocess.run(
            ["/bin/bash", "-euo", "pipefail", "-c", block],
            cwd=machine,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, f"{block}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        listed = result.stdout
        assert "Added `minio` successfully." in listed
        for entry in ("index.json", "latest/", "files/", f"{manifest['version']}/"):
            assert re.search(rf"^\[.* UTC\] +\S+ .*{re.escape(entry)}$", listed, re.M), entry
        assert json.dumps(manifest["version"]) in listed and '"tables"' in listed  # the latest manifest
        assert f"latest: {manifest['version']}" in listed
        bars = len(expected["usdcop_m5_ohlcv"])
        assert re.search(rf"│ +{bars} +│", listed), "the query's count (the tables print 1,860, the query 1860)"
        assert "restore plan (dry run, nothing changed)" in listed and "post-restore hook: not run" in listed
        assert sample_contents(target) == expected
        assert list(machine.iterdir()) == []  # nothing left behind, no .git
    finally:
        server.stop()


def damage_local(clone: Path, rel: str) -> tuple[Path, bytes]:
    """Overwrite a data file and its DVC cache copy with other bytes; (path, good bytes)."""
    path = clone / rel
    good = path.read_bytes()
    md5 = hashlib.md5(good).hexdigest()  # noqa: S324 - DVC's content address
    cached = clone / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    for copy in (path, cached):
        copy.chmod(0o644)
        copy.write_bytes(good[:100] + bytes(len(good) - 100))
    return path, good


def damage_remote(s3_server: S3Server, bucket: str, path: Path) -> str:
    """Replace the remote object of a file with bytes of the same size; its key."""
    good = path.read_bytes()
    md5 = hashlib.md5(good).hexdigest()  # noqa: S324
    key = f"seedctl/files/md5/{md5[:2]}/{md5[2:]}"
    s3_server.client().put_object(Bucket=bucket, Key=key, Body=bytes(len(good)))
    return key
