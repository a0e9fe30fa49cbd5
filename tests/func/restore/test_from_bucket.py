"""The bucket is the backup: with the git repository and the DVC cache gone, `seedctl versions
--from-bucket` lists and `seedctl restore --from-bucket` restores any version from the bucket
alone, from an empty directory (no .git, HOME a fresh directory, no git binary on PATH), with
the restore's guarantees; a damaged catalog or object is refused by name, the target untouched."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from seedctl_dev.testing import BIN, SEEDCTL, project_env, run_sql
from tests.helpers import (
    REPO,
    add_trade,
    gate,
    kill_group,
    new_database,
    one_error_line,
    pushed_project,
    sample_contents,
    state,
)

if TYPE_CHECKING:
    from seedctl_dev.devs3 import S3Server
    from seedctl_dev.devserver import TempPostgres
    from tests.helpers import Project


# --- a machine with only seedctl and MINIO_* -------------------------------------------------------


class Bare:
    """An empty directory on a machine with seedctl installed and no git: PATH holds only the
    virtualenv's bin (no git binary), HOME a fresh directory, MINIO_* set."""

    def __init__(self, tmp_path: Path, s3_env: dict[str, str]) -> None:
        self.cwd = tmp_path / "bare"
        self.cwd.mkdir()
        home = tmp_path / "home"
        home.mkdir()
        self.env = {**project_env(""), **s3_env, "HOME": str(home), "PATH": str(BIN)}
        assert shutil.which("git", path=self.env["PATH"]) is None

    def run(self, *args: str, target: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            list(args),
            cwd=self.cwd,
            env={**self.env, "DATABASE_URL": target, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert not any(p.name == ".git" for p in self.cwd.rglob("*")), "a .git appeared"
        assert sorted(p.name for p in self.cwd.iterdir()) == [], "the restore left files behind"
        return result

    def seedctl(
        self, *args: str, target: str = "", env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run(SEEDCTL, *args, target=target, env=env)

    def spawn(self, *args: str, target: str, env: dict[str, str]) -> subprocess.Popen[str]:
        """`seedctl args` started in its own process group, not waited for."""
        return subprocess.Popen(
            [SEEDCTL, *args],
            cwd=self.cwd,
            env={**self.env, "DATABASE_URL": target, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )


@pytest.fixture
def bucket(sample_project: Project, s3_env: dict[str, str]) -> Project:
    """The sample snapshot pushed by `seedctl snapshot`, which wrote its catalog in the bucket."""
    pushed_project(sample_project, s3_env)
    return sample_project


def forget_git_and_cache(project: Project) -> None:
    """The git server is gone, and so is every checkout and DVC cache: only the bucket is left."""
    shutil.rmtree(project.root)


def sequences(url: str) -> list[tuple[object, ...]]:
    return run_sql(url, "SELECT sequencename, last_value FROM pg_sequences ORDER BY 1")


# --- restoring from the bucket alone -------------------------------------------------------------


def test_two_versions_listed_and_restored_from_the_bucket_alone(
    bucket: Project, s3_env: dict[str, str], s3_server: S3Server, pg_server: TempPostgres, tmp_path: Path
) -> None:
    v1 = json.loads((bucket.seeds / "manifest.json").read_text())["version"]
    first, first_seq = sample_contents(bucket.database_url), sequences(bucket.database_url)
    bucket.sql(
        "INSERT INTO trades_history (opened_at, side, entry_price, quantity, strategy) "
        "SELECT max(opened_at) + interval '1 minute', 'long', 4000, 1, 'v2' FROM trades_history"
    )
    hook_ran = tmp_path / "hook-ran"
    params = bucket.params()
    params["backup"]["post_restore_hook"] = f"touch {hook_ran}"  # in v2's params.yaml in the bucket
    bucket.write_params(params)
    second_run = bucket.seedctl("snapshot", env=s3_env)
    assert second_run.returncode == 0, second_run.stderr
    v2 = json.loads((bucket.seeds / "manifest.json").read_text())["version"]
    second, second_seq = sample_contents(bucket.database_url), sequences(bucket.database_url)
    assert v1 != v2 and first != second
    v2_params = s3_server.client().get_object(Bucket=s3_env["MINIO_BUCKET"], Key=f"seedctl/{v2}/params.yaml")
    assert str(hook_ran) in v2_params["Body"].read().decode()  # the hook a checkout of v2 would run
    forget_git_and_cache(bucket)
    bare = Bare(tmp_path, s3_env)

    listed = bare.seedctl("versions", "--from-bucket")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.index(v2) < listed.stdout.index(v1)
    assert f"latest: {v2}" in listed.stdout
    as_json = json.loads(bare.seedctl("list", "--from-bucket", "--json").stdout)
    assert [v["version"] for v in as_json["versions"]] == [v2, v1]
    assert as_json["versions"][0]["tables"]["trades_history"] == len(second["trades_history"])

    old = new_database(pg_server)
    restored = bare.seedctl("restore", "--from-bucket", "--version", v1, target=old)
    assert restored.returncode == 0, restored.stderr
    assert f"snapshot {v1}" in restored.stdout and "post-restore hook: not run" in restored.stdout
    assert sample_contents(old) == first and sequences(old) == first_seq

    new = new_database(pg_server)
    restored = bare.seedctl("restore", "--from-bucket", "--version", "latest", target=new)
    assert restored.returncode == 0, restored.stderr
    assert sample_contents(new) == second and sequences(new) == second_seq
    assert "post-restore hook: not run" in restored.stdout and not hook_ran.exists()
    run_sql(new, "INSERT INTO trades_history (opened_at, side, entry_price, quantity) VALUES (now(), 'long', 1, 1)")
    assert run_sql(new, "SELECT max(id) FROM trades_history") == [(max_id(second) + 1,)]  # the sequence continues


def max_id(contents: dict[str, list[str]]) -> int:
    return max(int(row.strip("()").split(",")[0]) for row in contents["trades_history"])


# --- a bad catalog, a gone or damaged object: refused by name, the target untouched ----------------


@pytest.fixture
def kept_target(pg_server: TempPostgres) -> str:
    """A database with a table of its own, which a restore with --mode replace would add to."""
    url = new_database(pg_server)
    run_sql(url, "CREATE TABLE keepme (id int PRIMARY KEY, note text); INSERT INTO keepme VALUES (1, 'mine')")
    return url


def listed_versions(index: bytes) -> list[str]:
    return [v["version"] for v in json.loads(index)["versions"]]


def test_damaged_catalog_and_objects_are_refused_by_name(
    bucket: Project, s3_env: dict[str, str], s3_server: S3Server, kept_target: str, tmp_path: Path
) -> None:
    client, name = s3_server.client(), s3_env["MINIO_BUCKET"]
    manifest = json.loads((bucket.seeds / "manifest.json").read_text())
    version = manifest["version"]
    part = manifest["tables"]["usdcop_m5_ohlcv"]["parts"][0]
    data_key = f"seedctl/files/md5/{part['md5'][:2]}/{part['md5'][2:]}"
    bare = Bare(tmp_path, s3_env)
    before = state(kept_target)

    def refused(code: int, *needles: str) -> str:
        result = bare.seedctl("restore", "--from-bucket", "--mode", "replace", target=kept_target)
        assert result.returncode == code, result.stderr
        assert state(kept_target) == before
        return one_error_line(result, *needles)

    def get(key: str) -> bytes:
        return bytes(client.get_object(Bucket=name, Key=key)["Body"].read())

    def catalog_as_advised(line: str) -> None:
        """The advice, followed: the damaged file deleted where it says so (what `mc rm` does),
        then `seedctl catalog` in a clone that has the git history (the project), as printed."""
        if "`mc rm <alias>/" in line:  # with the operator's alias for the server, as printed otherwise
            printed = "mc rm " + line.split("`mc rm ", 1)[1].split("`", 1)[0]
            url = f"http://{s3_env['MINIO_ENDPOINT']}"
            mc = str(REPO / "tests" / "bin" / "mc")
            key, secret = s3_env["MINIO_ACCESS_KEY"], s3_env["MINIO_SECRET_KEY"]
            assert bare.run(mc, "alias", "set", "minio", url, key, secret).returncode == 0
            removed = bare.run(mc, *printed.replace("<alias>", "minio", 1).split(" ")[1:])
            assert removed.returncode == 0, removed.stderr
        assert "run `seedctl catalog` in a clone that has the git history" in line
        rewritten = bucket.seedctl("catalog", env=s3_env)
        assert rewritten.returncode == 0, rewritten.stderr

    for damaged, how in [
        (f"seedctl/{version}/files.json", lambda b: b[: len(b) // 2]),  # truncated
        (f"seedctl/{version}/manifest.json", lambda b: b.replace(b'"rows": 7', b'"rows": 8', 1)),  # tampered
        (f"seedctl/{version}/params.yaml", None),  # gone
    ]:
        good = get(damaged)
        if how is None:
            client.delete_object(Bucket=name, Key=damaged)
        else:
            client.put_object(Bucket=name, Key=damaged, Body=how(good))
        line = refused(6, f"version {version}", damaged, "`seedctl versions --from-bucket`", "not touched")
        assert ("is missing from the bucket" if how is None else "does not match the sha256 index.json records") in line
        catalog_as_advised(line)  # written again from git (params.yaml: the tag's committed one)
        assert get(damaged) == good or damaged.endswith("params.yaml")

    # A data object whose bytes do not match, then one that is gone: `seedctl push` in a
    # checkout that passes `seedctl verify` repairs the remote, as the error says.
    good = get(data_key)
    client.put_object(Bucket=name, Key=data_key, Body=bytes(len(good)))
    line = refused(6, f"version {version}", part["file"], data_key, "is damaged", "not touched")
    assert "`seedctl push`" in line and "`seedctl verify`" in line
    assert bucket.seedctl("verify").returncode == 0
    assert bucket.seedctl("push", env=s3_env).returncode == 0
    assert get(data_key) == good
    client.delete_object(Bucket=name, Key=data_key)
    refused(6, f"version {version}", part["file"], data_key, "is missing from the bucket", "not touched")
    assert bucket.seedctl("push", env=s3_env).returncode == 0

    # A version the index does not name; the advice lists the ones it does.
    unknown = bare.seedctl("restore", "--from-bucket", "--version", "2001.01.01-deadbeef", target=kept_target)
    assert unknown.returncode == 1
    assert "2001.01.01-deadbeef" in one_error_line(unknown, "list them with `seedctl versions --from-bucket`")
    listed = bare.seedctl("versions", "--from-bucket")
    assert listed.returncode == 0 and version in listed.stdout

    # The index: damaged, then missing (a bucket written before the catalog).
    index = get("seedctl/index.json")
    client.put_object(Bucket=name, Key="seedctl/index.json", Body=b'{"catalog_format": 1, "versions": [')
    line = refused(6, "seedctl/index.json", "not a valid catalog index", "`seedctl catalog`")
    catalog_as_advised(line)
    assert listed_versions(get("seedctl/index.json")) == listed_versions(index) == [version]
    client.delete_object(Bucket=name, Key="seedctl/index.json")
    line = refused(1, "has no catalog", "seedctl/index.json")
    assert line.endswith(" -- run `seedctl catalog` in a clone that has the git history")
    listing = bare.seedctl("versions", "--from-bucket")
    assert listing.returncode == 1
    one_error_line(listing, "has no catalog", "run `seedctl catalog` in a clone that has the git history")
    catalog_as_advised(line)
    assert listed_versions(get("seedctl/index.json")) == listed_versions(index) == [version]

    # The remote unreachable, the keys refused: exit 7, naming what to check.
    closed = bare.seedctl("restore", "--from-bucket", target=kept_target, env={"MINIO_ENDPOINT": "127.0.0.1:1"})
    assert closed.returncode == 7 and "MINIO_ENDPOINT" in one_error_line(closed, "127.0.0.1:1")
    wrong = bare.seedctl("versions", "--from-bucket", env={"MINIO_SECRET_KEY": "not-the-key-42"})
    assert wrong.returncode == 7 and "MINIO_SECRET_KEY" in one_error_line(wrong, "refused the credentials")
    assert state(kept_target) == before

    repaired = bare.seedctl("restore", "--from-bucket", "--mode", "replace", target=kept_target)
    assert repaired.returncode == 0, repaired.stderr
    assert run_sql(kept_target, "SELECT note FROM keepme") == [("mine",)]


# --- the plan's container flow: the operator scripts with no git history ---------------------------


def test_scripts_restore_from_the_bucket_where_there_is_no_git_history(
    bucket: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    expected = sample_contents(bucket.database_url)
    forget_git_and_cache(bucket)
    bare = Bare(tmp_path, s3_env)
    python = str(Path(sys.executable))
    seeder = [python, str(REPO / "scripts" / "init" / "04-seed-from-minio.py"), "--path", ".", "--wait", "5"]

    target = new_database(pg_server)
    first = bare.run(*seeder, target=target)
    assert first.returncode == 0, first.stderr
    assert "seeding from the bucket's catalog" in first.stdout and "seeded 4 table(s)" in first.stdout
    assert sample_contents(target) == expected
    second = bare.run(*seeder, target=target)
    assert second.returncode == 0, second.stderr
    assert "nothing to do" in second.stdout and sample_contents(target) == expected

    other = new_database(pg_server)
    script = [python, str(REPO / "scripts" / "restore_from_snapshot.py"), "--source", "minio", "--version", "latest"]
    restored = bare.run(*script, target=other)
    assert restored.returncode == 0, restored.stderr
    assert "restoring from the bucket's catalog" in restored.stdout and "restored" in restored.stdout
    assert sample_contents(other) == expected
    again = bare.run(*script, target=other)
    assert again.returncode == 8 and "--mode" in one_error_line(again)  # safe mode: the tables hold rows
    assert sample_contents(other) == expected


# --- partial restore and dry run: only what the selection needs is downloaded ----------------------


def test_partial_restore_downloads_only_what_the_selection_needs(
    bucket: Project, s3_env: dict[str, str], s3_server: S3Server, pg_server: TempPostgres, tmp_path: Path
) -> None:
    manifest = json.loads((bucket.seeds / "manifest.json").read_text())
    march = "time >= '2020-03-01' AND time < '2020-04-01'"
    source_march = run_sql(bucket.database_url, f"SELECT count(*), sum(close) FROM usdcop_m5_ohlcv WHERE {march}")
    trades = sample_contents(bucket.database_url)["trades_history"]
    # Every data object but those of trades_history and of March 2020 of the OHLCV table is deleted.
    kept = {"data/trades_history.parquet", "data/usdcop_m5_ohlcv/2020-03.parquet"}
    keep_md5 = {p["md5"] for t in manifest["tables"].values() for p in t["parts"] if p["file"] in kept}
    client, name = s3_server.client(), s3_env["MINIO_BUCKET"]
    for table in manifest["tables"].values():
        for part in table["parts"]:
            if part["md5"] not in keep_md5:
                client.delete_object(Bucket=name, Key=f"seedctl/files/md5/{part['md5'][:2]}/{part['md5'][2:]}")
    forget_git_and_cache(bucket)
    bare = Bare(tmp_path, s3_env)
    target = new_database(pg_server)
    before = state(target)

    planned = bare.seedctl("restore", "--from-bucket", "--table", "trades_history", "--dry-run", target=target)
    assert planned.returncode == 0, planned.stderr
    assert "dry run, nothing changed" in planned.stdout and state(target) == before

    one = bare.seedctl("restore", "--from-bucket", "--table", "trades_history", target=target)
    assert one.returncode == 0, one.stderr
    assert sample_contents(target) == {"trades_history": trades}

    ranged = bare.seedctl(
        "restore", "--from-bucket", "--table", "usdcop_m5_ohlcv", "--since", "2020-03-01", "--until", "2020-03-31",
        target=target,
    )  # fmt: skip
    assert ranged.returncode == 0, ranged.stderr
    assert run_sql(target, f"SELECT count(*), sum(close) FROM usdcop_m5_ohlcv WHERE {march}") == source_march
    assert run_sql(target, f"SELECT count(*) FROM usdcop_m5_ohlcv WHERE NOT ({march})") == [(0,)]

    whole = bare.seedctl("restore", "--from-bucket", "--table", "usdcop_m5_ohlcv", "--mode", "replace", target=target)
    assert whole.returncode == 6
    one_error_line(whole, "data/usdcop_m5_ohlcv/", "is missing from the bucket", "not touched")
    assert run_sql(target, "SELECT count(*) FROM usdcop_m5_ohlcv") == [(source_march[0][0],)]


# --- reading from the bucket alone: seedctl query and open_snapshot ----------------------------------


def test_query_and_open_snapshot_read_the_bucket_alone(
    bucket: Project, s3_env: dict[str, str], s3_server: S3Server, tmp_path: Path
) -> None:
    manifest = json.loads((bucket.seeds / "manifest.json").read_text())
    trades = len(sample_contents(bucket.database_url)["trades_history"])
    march = run_sql(
        bucket.database_url, "SELECT count(*) FROM usdcop_m5_ohlcv WHERE time >= '2020-03-01' AND time < '2020-04-01'"
    )[0][0]
    forget_git_and_cache(bucket)
    bare = Bare(tmp_path, s3_env)

    counted = bare.seedctl("query", "--from-bucket", "SELECT count(*) AS n FROM trades_history", "--csv", "-")
    assert counted.returncode == 0, counted.stderr
    assert counted.stdout.split() == ['"n"', str(trades)]
    ranged = bare.seedctl(
        "query", "--from-bucket", "--version", manifest["version"], "--since", "2020-03-01", "--until", "2020-03-31",
        "SELECT count(*) AS n FROM usdcop_m5_ohlcv", "--csv", "-",
    )  # fmt: skip
    assert ranged.returncode == 0, ranged.stderr
    assert ranged.stdout.split() == ['"n"', str(march)]
    api = bare.run(
        str(Path(sys.executable)),
        "-c",
        "import seedctl; s = seedctl.open_snapshot(from_bucket=True); "
        "print(s.version, s.read('trades_history').num_rows)",
    )
    assert api.returncode == 0, api.stderr
    assert api.stdout.split() == [manifest["version"], str(trades)]

    part = manifest["tables"]["trades_history"]["parts"][0]
    key = f"seedctl/files/md5/{part['md5'][:2]}/{part['md5'][2:]}"
    s3_server.client().put_object(Bucket=s3_env["MINIO_BUCKET"], Key=key, Body=b"not parquet")
    damaged = bare.seedctl("query", "--from-bucket", "SELECT count(*) FROM trades_history")
    assert damaged.returncode == 6
    one_error_line(damaged, f"version {manifest['version']}", part["file"], key, "is damaged")


# --- stopped while downloading ---------------------------------------------------------------------


def test_sigterm_while_downloading_stops_at_once_and_leaves_nothing(
    bucket: Project, s3_env: dict[str, str], kept_target: str, tmp_path: Path
) -> None:
    bare = Bare(tmp_path, s3_env)
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    before = state(kept_target)
    with gate(s3_env["MINIO_ENDPOINT"], lambda method, path: method == "GET" and "/files/md5/" in path) as held:
        proc = bare.spawn(
            "restore", "--from-bucket", "--mode", "replace",
            target=kept_target, env={"MINIO_ENDPOINT": held.endpoint, "TMPDIR": str(scratch)},
        )  # fmt: skip
        assert held.arrived.wait(120), "the restore never asked for a data object"
        assert list(scratch.glob("seedctl-bucket-*"))  # its private directory, with the catalog files in it
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)  # while the object's GET is still held: it does not wait for it
    assert proc.returncode == 143, err
    assert err.strip() == "seedctl: terminated (SIGTERM); stopped: nothing was published and no database was changed"
    assert state(kept_target) == before
    assert list(scratch.iterdir()) == []  # the downloaded files are gone with their directory

    again = bare.seedctl("restore", "--from-bucket", "--mode", "replace", target=kept_target)
    assert again.returncode == 0, again.stderr


# --- a push killed before its index: readers see the previous catalog, whole ------------------------


def test_a_push_killed_before_the_index_leaves_the_previous_version_restorable(
    bucket: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    v1 = json.loads((bucket.seeds / "manifest.json").read_text())["version"]
    first = sample_contents(bucket.database_url)
    add_trade(bucket)
    built = bucket.seedctl("snapshot", "--no-push")
    assert built.returncode == 0, built.stderr
    v2 = json.loads((bucket.seeds / "manifest.json").read_text())["version"]
    index_put = f"/{s3_env['MINIO_BUCKET']}/seedctl/index.json"
    with gate(s3_env["MINIO_ENDPOINT"], lambda method, path: method == "PUT" and path == index_put) as held:
        proc = bucket.spawn("push", env={**s3_env, "MINIO_ENDPOINT": held.endpoint})
        try:
            assert held.arrived.wait(120), "the push never reached its index.json"  # v2's entry is written
        finally:
            kill_group(proc)
    bare = Bare(tmp_path, s3_env)

    listed = bare.seedctl("versions", "--from-bucket")
    assert listed.returncode == 0, listed.stderr
    assert v1 in listed.stdout and v2 not in listed.stdout and f"latest: {v1}" in listed.stdout
    unlisted = bare.seedctl("restore", "--from-bucket", "--version", v2)
    assert unlisted.returncode == 1
    one_error_line(unlisted, v2, "list them with `seedctl versions --from-bucket`")
    target = new_database(pg_server)
    restored = bare.seedctl("restore", "--from-bucket", "--version", "latest", target=target)
    assert restored.returncode == 0, restored.stderr
    assert f"snapshot {v1}" in restored.stdout and sample_contents(target) == first
