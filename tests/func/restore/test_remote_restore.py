"""The promise: on a new server, clone + restore gives back the snapshot exactly — from a
real S3 API server over HTTP — or a clear refusal with the database untouched."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from seedctl_dev.devserver import TempPostgres
from seedctl_dev.testing import table_to_csv_gz
from tests.helpers import fresh_clone, new_database, pushed_project, sample_contents

if TYPE_CHECKING:
    from seedctl_dev.devs3 import S3Server
    from tests.helpers import Project


def test_new_server_gets_the_snapshot_back_exactly(
    sample_project: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    pushed_project(sample_project, s3_env)
    clone = fresh_clone(sample_project, tmp_path / "new-server")
    target = new_database(pg_server)

    result = clone.seedctl("restore", env={**s3_env, "DATABASE_URL": target})

    assert result.returncode == 0, result.stderr
    assert sample_contents(target) == sample_contents(sample_project.database_url)
    assert result.stdout.count("remote") >= 4
    verify = clone.seedctl("verify", "--db", env={"DATABASE_URL": target})
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_corrupt_remote_object_is_refused_then_fallback_used(
    sample_project: Project, s3_env: dict[str, str], s3_server: S3Server, pg_server: TempPostgres, tmp_path: Path
) -> None:
    pushed_project(sample_project, s3_env)
    data = (sample_project.seeds / "data" / "usdcop_m5_ohlcv" / "2020-01.parquet").read_bytes()
    md5 = hashlib.md5(data).hexdigest()  # noqa: S324 - DVC's content address
    key = f"seedctl/files/md5/{md5[:2]}/{md5[2:]}"
    assert key in s3_server.keys(s3_env["MINIO_BUCKET"])
    s3_server.client().put_object(Bucket=s3_env["MINIO_BUCKET"], Key=key, Body=data[:-1] + b"X")
    clone = fresh_clone(sample_project, tmp_path / "new-server")
    target = new_database(pg_server)
    env = {**s3_env, "DATABASE_URL": target}

    refused = clone.seedctl("restore", env=env)

    assert refused.returncode == 6, refused.stderr
    assert "usdcop_m5_ohlcv" in refused.stderr and "not touched" in refused.stderr
    assert sample_contents(target) == {}

    table_to_csv_gz(
        sample_project.database_url, "usdcop_m5_ohlcv", clone.root / "backups" / "usdcop_m5_ohlcv_2026.csv.gz"
    )
    rescued = clone.seedctl("restore", env=env)

    assert rescued.returncode == 0, rescued.stderr
    assert "fallback usdcop_m5_ohlcv_2026.csv.gz" in rescued.stdout
    assert sample_contents(target) == sample_contents(sample_project.database_url)


def test_unreachable_remote_falls_back_or_refuses(
    sample_project: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    pushed_project(sample_project, s3_env)
    clone = fresh_clone(sample_project, tmp_path / "new-server")
    target = new_database(pg_server)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{sock.getsockname()[1]}"
    env = {**s3_env, "MINIO_ENDPOINT": closed, "DATABASE_URL": target}

    refused = clone.seedctl("restore", env=env)
    assert refused.returncode == 6
    assert closed in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert sample_contents(target) == {}

    for table in ("usdcop_m5_ohlcv", "macro_indicators_daily"):
        table_to_csv_gz(sample_project.database_url, table, clone.root / "backups" / f"{table}_2026.csv.gz")
    params = clone.params()
    params["sources"]["fidelity"]["required"] = False
    clone.write_params(params)
    partial = clone.seedctl("restore", env=env)

    assert partial.returncode == 11, partial.stderr  # committed, optional tables left empty
    assert "fidelity, trades_history" in partial.stderr
    source = sample_contents(sample_project.database_url)
    restored = sample_contents(target)
    assert restored["usdcop_m5_ohlcv"] == source["usdcop_m5_ohlcv"]
    assert restored["macro_indicators_daily"] == source["macro_indicators_daily"]
    assert restored["trades_history"] == [] and restored["fidelity"] == []
    assert "backfill is needed" in partial.stdout and "fallback" in partial.stdout


def run_watching_process_titles(
    project: Project, args: tuple[str, ...], env: dict[str, str], secrets: list[str]
) -> tuple[str, list[str]]:
    """Run seedctl, sampling every process's command line (what `ps` shows) meanwhile."""
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "seedctl"), *args],
        cwd=project.root,
        env={**project.env, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    leaked: list[str] = []
    while proc.poll() is None:
        for entry in Path("/proc").iterdir():
            try:
                title = (entry / "cmdline").read_bytes().decode("utf-8", "replace") if entry.name.isdigit() else ""
            except OSError:
                continue
            leaked += [title for secret in secrets if secret in title]
        time.sleep(0.05)
    out, err = proc.communicate()
    return out + err, leaked


def test_secrets_never_leave_env_and_config_local(
    sample_project: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    db_secret = f"Pg-Marker-{uuid.uuid4().hex[:8]}"
    dbname = sample_project.database_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_server.url(dbname), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE marker LOGIN SUPERUSER PASSWORD '{db_secret}'")
    try:
        url = f"postgresql://marker:{db_secret}@{pg_server.host}:{pg_server.port}/{dbname}"
        target = new_database(pg_server)
        target_url = f"postgresql://marker:{db_secret}@{pg_server.host}:{pg_server.port}/{target.rsplit('/', 1)[1]}"
        secrets = [db_secret, s3_env["MINIO_SECRET_KEY"], s3_env["MINIO_ACCESS_KEY"]]
        outputs = []
        for args, extra in [
            (("snapshot",), {"DATABASE_URL": url}),
            (("status",), {}),
            (("show",), {}),
            (("verify", "--db"), {"DATABASE_URL": url}),
            (("restore", "--dry-run"), {"DATABASE_URL": target_url}),
            (("restore",), {"DATABASE_URL": target_url}),
            (("restore",), {"DATABASE_URL": target_url.replace(db_secret, db_secret + "-wrong")}),
            (("restore",), {"DATABASE_URL": target_url, "MINIO_ENDPOINT": "127.0.0.1:1"}),
            (("--verbose", "restore"), {"DATABASE_URL": url.replace(db_secret, db_secret + "x")}),
        ]:
            output, titles = run_watching_process_titles(sample_project, args, {**s3_env, **extra}, secrets)
            outputs.append(output)
            assert titles == [], f"a secret in a process title during seedctl {' '.join(args)}: {titles}"
        sample_project.commit_all("everything")

        def leaks(text: str) -> list[str]:
            return [s for s in secrets if s in text]

        assert [leaks(o) for o in outputs] == [[]] * len(outputs)
        history = subprocess.run(
            ["git", "log", "-p", "--all"], cwd=sample_project.root, capture_output=True, text=True, check=True
        ).stdout
        assert leaks(history) == []
        for path in sample_project.root.rglob("*"):
            if (
                path.is_file()
                and ".git" not in path.parts
                and path.name != "config.local"
                and "cache" not in path.parts
            ):
                assert leaks(path.read_bytes().decode("utf-8", "replace")) == [], path
        assert leaks((sample_project.root / ".dvc" / "config.local").read_text()) != []  # where they belong
    finally:
        pg_server.drop_database(target.rsplit("/", 1)[1])
        with psycopg.connect(pg_server.url(dbname), autocommit=True) as conn:
            conn.execute("DROP OWNED BY marker")
            conn.execute("DROP ROLE marker")


def test_checkout_of_an_old_tag_restores_that_state(
    sample_project: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    pushed_project(sample_project, s3_env)
    sample_project.git("tag", "seeds/v1")
    first = sample_contents(sample_project.database_url)
    sample_project.sql(
        "INSERT INTO trades_history (opened_at, side, entry_price, quantity) "
        "VALUES ('2026-01-15 17:00+00', 'short', 3700, 1000)"
    )
    sample_project.sql("UPDATE fidelity SET t = 'second snapshot' WHERE id = 6")
    second_run = sample_project.seedctl("snapshot", env=s3_env)
    assert second_run.returncode == 0, second_run.stderr
    sample_project.commit_all("snapshot 2")
    sample_project.git("tag", "seeds/v2")
    second = sample_contents(sample_project.database_url)
    assert first != second

    clone = fresh_clone(sample_project, tmp_path / "new-server")
    clone.git("checkout", "-q", "seeds/v1")
    old = new_database(pg_server)
    result = clone.seedctl("restore", env={**s3_env, "DATABASE_URL": old})
    assert result.returncode == 0, result.stderr
    assert sample_contents(old) == first

    clone.git("checkout", "-q", "main")
    by_rev = new_database(pg_server)
    result = clone.seedctl("restore", "--rev", "seeds/v2", env={**s3_env, "DATABASE_URL": by_rev})
    assert result.returncode == 0, result.stderr
    assert sample_contents(by_rev) == second


def test_new_server_seeder_is_idempotent(
    sample_project: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    pushed_project(sample_project, s3_env)
    clone = fresh_clone(sample_project, tmp_path / "new-server")
    target = new_database(pg_server)
    seeder = [str(Path(sys.executable)), str(clone.root / "scripts" / "init" / "04-seed-from-minio.py"), "--wait", "5"]
    env = {**s3_env, "DATABASE_URL": target}

    first = clone.run(*seeder, env=env)
    assert first.returncode == 0, first.stderr
    assert "seeded 4 table(s)" in first.stdout
    assert sample_contents(target) == sample_contents(sample_project.database_url)

    second = clone.run(*seeder, env=env)
    assert second.returncode == 0, second.stderr
    assert "nothing to do" in second.stdout
    assert sample_contents(target) == sample_contents(sample_project.database_url)

    local = clone.run(
        str(Path(sys.executable)),
        "scripts/restore_from_snapshot.py",
        "--source",
        "local",
        "--version",
        "latest",
        "--dry-run",
        env=env,
    )
    assert local.returncode == 8 and "--mode" in local.stderr  # tables are full: safe mode refuses
    checked = clone.run(str(Path(sys.executable)), "scripts/verify_seed_integrity.py", "--db", env=env)
    assert checked.returncode == 0, checked.stderr
    assert "database matches the snapshot" in checked.stdout


def test_server_side_encryption_is_passed_to_every_upload(
    sample_project: Project, s3_env: dict[str, str], s3_server: S3Server
) -> None:
    result = sample_project.seedctl("snapshot", "--no-git", env={**s3_env, "MINIO_SSE": "AES256"})
    assert result.returncode == 0, result.stderr
    assert "sse = AES256" in (sample_project.root / ".dvc" / "config.local").read_text()
    keys = s3_server.keys(s3_env["MINIO_BUCKET"])
    assert keys
    client = s3_server.client()
    assert {client.head_object(Bucket=s3_env["MINIO_BUCKET"], Key=k).get("ServerSideEncryption") for k in keys} == {
        "AES256"
    }

    bad = sample_project.seedctl("remote", env={**s3_env, "MINIO_SSE": "rot13"})
    assert bad.returncode == 7 and "MINIO_SSE" in bad.stderr


def test_snapshot_git_push_sends_commit_and_tag_to_origin(
    sample_project: Project, s3_env: dict[str, str], tmp_path: Path
) -> None:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    sample_project.git("remote", "add", "origin", str(origin))
    sample_project.git("push", "-q", "origin", "main")

    result = sample_project.seedctl("snapshot", "--git-push", env=s3_env)

    assert result.returncode == 0, result.stderr
    tag = next(line.split()[-1] for line in result.stdout.splitlines() if "committed and tagged" in line)
    remote_tags = subprocess.run(
        ["git", "tag", "--list"], cwd=origin, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tag in remote_tags
    assert subprocess.run(
        ["git", "rev-parse", "main"], cwd=origin, capture_output=True, text=True, check=True
    ).stdout == sample_project.git("rev-parse", "HEAD")


def test_tag_refuses_until_pushed_then_commits_and_tags(sample_project: Project, s3_env: dict[str, str]) -> None:
    built = sample_project.seedctl("snapshot", "--no-push", env=s3_env)
    assert built.returncode == 0, built.stderr

    early = sample_project.seedctl("tag", env=s3_env)
    assert early.returncode == 7 and "seedctl push" in early.stderr
    assert sample_project.git("tag", "--list", "seeds/v*") == ""

    assert sample_project.seedctl("push", env=s3_env).returncode == 0
    tagged = sample_project.seedctl("tag", env=s3_env)
    assert tagged.returncode == 0, tagged.stderr
    assert "committed and tagged seeds/v" in tagged.stdout
    again = sample_project.seedctl("tag", env=s3_env)
    assert again.returncode == 0 and "already committed" in again.stdout
    assert len(sample_project.git("tag", "--list", "seeds/v*").split()) == 1
