"""The DVC remote against a real S3 API server (moto_server on loopback, authentication on),
driven through `seedctl remote|push|pull` and the real `dvc` and `git` binaries.

Every test scans what was printed for the keys: they may live in .dvc/config.local only.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from seedctl.config import load_params
from seedctl.errors import RemoteError
from seedctl.store.settings import load_settings, read_env_file
from seedctl_dev.testing import SEEDCTL

if TYPE_CHECKING:
    from seedctl_dev.devs3 import S3Server
    from tests.helpers import Project

MINIO_VARS = ("MINIO_ENDPOINT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "MINIO_BUCKET", "MINIO_USE_SSL", "MINIO_REGION")
WRONG_SECRET = "Wr0ng-s3cret-MARKER-4f1c9e"


def clean_env(project: Project) -> None:
    """No MINIO_* or AWS_* from the machine running the tests."""
    for var in list(project.env):
        if var.startswith(("MINIO_", "AWS_")):
            del project.env[var]


def remote_cmd(
    project: Project, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SEEDCTL, *(args or ("remote",))],
        cwd=cwd or project.root,
        env={**project.env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_no_secrets(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, "a key leaked into the output"


def data_files(root: Path) -> dict[str, bytes]:
    files = sorted((root / "seeds" / "data").glob("*.parquet")) + [root / "seeds" / "schema.json"]
    return {p.name: p.read_bytes() for p in files}


def test_round_trip_credentials_only_in_config_local(
    sample_project: Project, s3_env: dict[str, str], s3_server: S3Server, tmp_path: Path
) -> None:
    project = sample_project
    clean_env(project)
    secrets = (s3_env["MINIO_SECRET_KEY"], s3_env["MINIO_ACCESS_KEY"])
    snap = project.seedctl("snapshot", "--no-push")
    assert snap.returncode == 0, snap.stderr

    setup = remote_cmd(project, env=s3_env)
    assert setup.returncode == 0, setup.stderr
    assert f"s3://{s3_env['MINIO_BUCKET']}/seedctl" in setup.stdout
    assert_no_secrets(setup.stdout + setup.stderr, *secrets)

    config = (project.root / ".dvc" / "config").read_text()
    local = (project.root / ".dvc" / "config.local").read_text()
    assert "['remote \"minio\"']" in config and "url = s3://seeds/seedctl" in config
    assert "remote = minio" in config
    assert_no_secrets(config, *secrets)
    assert "endpointurl" not in config
    assert s3_env["MINIO_SECRET_KEY"] in local and s3_env["MINIO_ACCESS_KEY"] in local
    assert f"url = s3://{s3_env['MINIO_BUCKET']}/seedctl" in local
    assert (project.root / ".dvc" / "config.local").stat().st_mode & 0o077 == 0
    assert project.run("git", "check-ignore", "-q", ".dvc/config.local").returncode == 0
    # Idempotent: a second run changes nothing.
    again = remote_cmd(project, env=s3_env)
    assert again.returncode == 0, again.stderr
    assert (project.root / ".dvc" / "config").read_text() == config
    assert (project.root / ".dvc" / "config.local").read_text() == local

    # A plain `dvc push`, no MINIO_* / AWS_* in its environment: keys from config.local only.
    pushed = project.run("dvc", "push")
    assert pushed.returncode == 0, pushed.stderr
    assert "files pushed" in pushed.stdout
    assert_no_secrets(pushed.stdout + pushed.stderr, *secrets)
    keys = s3_server.keys(s3_env["MINIO_BUCKET"], "seedctl/")
    assert len(keys) >= len(data_files(project.root)) and all(k.startswith("seedctl/files/md5/") for k in keys)

    # Nothing changed: a second plain push and seedctl's push upload nothing.
    second = project.run("dvc", "push")
    assert second.returncode == 0 and "Everything is up to date" in second.stdout, second.stderr
    via_seedctl = remote_cmd(project, "push", env=s3_env)
    assert via_seedctl.returncode == 0, via_seedctl.stderr
    assert "already up to date" in via_seedctl.stdout
    # No data object written; seedctl's push adds the bucket catalog beside them (test_catalog.py).
    assert s3_server.keys(s3_env["MINIO_BUCKET"], "seedctl/files/md5/") == keys
    assert "seedctl/index.json" in s3_server.keys(s3_env["MINIO_BUCKET"], "seedctl/")

    assert_no_secrets(project.git("diff") + project.git("status", "--porcelain"), *secrets)
    project.commit_all("snapshot + remote")
    grep = project.run("git", "grep", "-I", "-F", "-e", secrets[0], "-e", secrets[1], "HEAD")
    assert grep.returncode == 1, "a key is in a tracked file"

    # A fresh clone on "another server": setup + plain `dvc pull` gives byte-identical files.
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(project.root), str(clone)], check=True, env=project.env)
    assert not (clone / "seeds" / "data").exists()
    cloned = remote_cmd(project, env=s3_env, cwd=clone)
    assert cloned.returncode == 0, cloned.stderr
    pulled = subprocess.run(["dvc", "pull"], cwd=clone, env=project.env, capture_output=True, text=True, check=False)
    assert pulled.returncode == 0, pulled.stderr
    assert_no_secrets(pulled.stdout + pulled.stderr, *secrets)
    assert data_files(clone) == data_files(project.root)

    # seedctl's pull with one file gone: only that file comes back (from the DVC cache).
    target = sorted((clone / "seeds" / "data").glob("*.parquet"))[0]
    target.unlink()
    one = subprocess.run(
        [SEEDCTL, "pull"], cwd=clone, env={**project.env, **s3_env}, capture_output=True, text=True, check=False
    )
    assert one.returncode == 0, one.stderr
    assert "1 from the DVC cache, 0 from remote" in one.stdout
    assert target.read_bytes() == data_files(project.root)[target.name]


def test_env_file_and_environment_override(project: Project, s3_env: dict[str, str], s3_server: S3Server) -> None:
    clean_env(project)
    params = load_params(project.root / "params.yaml")
    secret = s3_env["MINIO_SECRET_KEY"]
    (project.root / ".env").write_text(
        "# local settings\n"
        f"export MINIO_ENDPOINT={s3_env['MINIO_ENDPOINT']}   # the server\n"
        f"MINIO_ACCESS_KEY='{s3_env['MINIO_ACCESS_KEY']}'\n"
        f'MINIO_SECRET_KEY="{secret}"\n'
        f"MINIO_BUCKET = {s3_env['MINIO_BUCKET']}\n"
        "MINIO_USE_SSL=no\n"
        "\n"
        "DATABASE_URL=postgresql://ignored\n"
    )
    assert project.run("git", "check-ignore", "-q", ".env").returncode == 0

    settings = load_settings(project.root, params, environ={})
    assert settings.endpoint_url == s3_server.url
    assert (settings.access_key, settings.secret_key) == (s3_env["MINIO_ACCESS_KEY"], secret)
    assert settings.url == f"s3://{s3_env['MINIO_BUCKET']}/seedctl"
    assert secret not in repr(settings) and s3_env["MINIO_ACCESS_KEY"] not in repr(settings)

    # Only .env: the real entry point, no MINIO_* in the environment.
    result = remote_cmd(project)
    assert result.returncode == 0, result.stderr
    assert_no_secrets(result.stdout + result.stderr, secret, s3_env["MINIO_ACCESS_KEY"])

    # The environment wins over .env (a non-empty value); an empty one falls back to .env.
    other = f"{s3_env['MINIO_BUCKET']}-other"
    overridden = load_settings(project.root, params, environ={"MINIO_BUCKET": other, "MINIO_ENDPOINT": ""})
    assert overridden.bucket == other and overridden.endpoint_url == s3_server.url
    wrong = remote_cmd(project, env={"MINIO_SECRET_KEY": WRONG_SECRET})
    assert wrong.returncode == 7 and "MINIO_SECRET_KEY" in wrong.stderr
    assert_no_secrets(wrong.stdout + wrong.stderr, WRONG_SECRET, secret)

    # Forms of MINIO_ENDPOINT and MINIO_USE_SSL.
    def url(**env: str) -> str:
        return load_settings(project.root, params, environ=env).endpoint_url

    assert url(MINIO_ENDPOINT="minio:9000", MINIO_USE_SSL="true") == "https://minio:9000"
    assert url(MINIO_ENDPOINT="minio:9000", MINIO_USE_SSL="0") == "http://minio:9000"
    assert url(MINIO_ENDPOINT="https://s3.example.com/", MINIO_USE_SSL="false") == "https://s3.example.com"
    assert url(MINIO_ENDPOINT="http://minio:9000", MINIO_USE_SSL="yes") == "http://minio:9000"
    for bad, var in (
        ({"MINIO_USE_SSL": "maybe"}, "MINIO_USE_SSL"),
        ({"MINIO_ENDPOINT": "ftp://minio:9000"}, "MINIO_ENDPOINT"),
        ({"MINIO_ENDPOINT": "minio:9000/path"}, "MINIO_ENDPOINT"),
        ({"MINIO_BUCKET": "Bad_Bucket"}, "MINIO_BUCKET"),
    ):
        with pytest.raises(RemoteError, match=var):
            load_settings(project.root, params, environ=bad)
    with pytest.raises(RemoteError, match="must not contain credentials") as caught:
        load_settings(project.root, params, environ={"MINIO_ENDPOINT": f"http://u:{WRONG_SECRET}@minio:9000"})
    assert WRONG_SECRET not in caught.value.line()


def test_env_file_format(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text('A=1\nexport B = two words # comment\nC=\'single # kept\'\nD="dq \\" q"\nE=x#y\nF=\n# G=no\n')
    assert read_env_file(env) == {"A": "1", "B": "two words", "C": "single # kept", "D": 'dq " q', "E": "x#y", "F": ""}
    env.write_text(f"MINIO_SECRET_KEY {WRONG_SECRET}\n")
    with pytest.raises(RemoteError, match="line 1") as caught:
        read_env_file(env)
    assert WRONG_SECRET not in caught.value.line()
    assert read_env_file(tmp_path / "missing") == {}


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no-endpoint", ["MINIO_ENDPOINT is not set", ".env.example"]),
        ("no-secret", ["MINIO_SECRET_KEY is not set"]),
        ("closed-port", ["unreachable", "MINIO_ENDPOINT"]),
        ("wrong-secret", ["refused the credentials", "MINIO_SECRET_KEY", "MINIO_ACCESS_KEY"]),
        ("wrong-access-key", ["refused the credentials", "MINIO_ACCESS_KEY"]),
        ("no-bucket", ["does not exist", "MINIO_BUCKET", "mc mb"]),
        ("unbalanced-ipv6", ["MINIO_ENDPOINT 'http://[::1' is not host:port or an http(s):// URL"]),
        ("port-out-of-range", ["MINIO_ENDPOINT 'http://127.0.0.1:99999' is not host:port"]),
    ],
)
def test_errors_are_one_clear_line(project: Project, s3_env: dict[str, str], case: str, expected: list[str]) -> None:
    clean_env(project)
    env = dict(s3_env)
    closed = None
    if case == "no-endpoint":
        del env["MINIO_ENDPOINT"]
    elif case == "no-secret":
        del env["MINIO_SECRET_KEY"]
    elif case == "closed-port":
        closed = f"127.0.0.1:{closed_port()}"
        env["MINIO_ENDPOINT"] = closed
        expected = [*expected, closed]
    elif case == "wrong-secret":
        env["MINIO_SECRET_KEY"] = WRONG_SECRET
    elif case == "wrong-access-key":
        env["MINIO_ACCESS_KEY"] = "AKIA" + WRONG_SECRET.upper().replace("-", "")[:16]
    elif case == "no-bucket":
        env["MINIO_BUCKET"] = f"{s3_env['MINIO_BUCKET']}-missing"
        expected = [*expected, env["MINIO_BUCKET"]]
    elif case == "unbalanced-ipv6":
        env["MINIO_ENDPOINT"] = "http://[::1"  # urlsplit: ValueError "Invalid IPv6 URL"
    elif case == "port-out-of-range":
        env["MINIO_ENDPOINT"] = "http://127.0.0.1:99999"
    # The reported case ran `seedctl pull`: every command reads the settings the same way.
    result = remote_cmd(project, *(["pull"] if case == "unbalanced-ipv6" else []), env=env)
    assert result.returncode == 7, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seedctl: error: "), result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    assert_no_secrets(
        result.stdout + result.stderr,
        WRONG_SECRET,
        s3_env["MINIO_SECRET_KEY"],
        s3_env["MINIO_ACCESS_KEY"],
        env["MINIO_ACCESS_KEY"],
    )
    # A failed set-up leaves the DVC configuration alone.
    assert not (project.root / ".dvc" / "config.local").exists()


def test_push_refuses_a_snapshot_that_did_not_pass_validation(
    sample_project: Project, s3_env: dict[str, str], s3_server: S3Server
) -> None:
    project = sample_project
    clean_env(project)
    data = project.params()
    first = next(iter(data["sources"]))
    data["sources"][first]["min_rows"] = 10**9
    project.write_params(data)
    snap = project.seedctl("snapshot")
    assert snap.returncode == 5, snap.stderr
    manifest = (project.seeds / "manifest.json").read_text()
    assert manifest and not (project.seeds / "LATEST_VERSION").exists()

    result = remote_cmd(project, "push", env=s3_env)
    assert result.returncode == 5, (result.stdout, result.stderr)
    line = result.stderr.strip().splitlines()[-1]
    assert "has not passed validation" in line and "only a validated snapshot may be pushed" in line
    assert s3_server.keys(s3_env["MINIO_BUCKET"]) == []

    # A LATEST_VERSION naming another snapshot does not make this one pushable either.
    (project.seeds / "LATEST_VERSION").write_text("2001.01.01-deadbeef\n")
    again = remote_cmd(project, "push", env=s3_env)
    assert again.returncode == 5 and "2001.01.01-deadbeef" in again.stderr
    assert s3_server.keys(s3_env["MINIO_BUCKET"]) == []


def test_server_down_is_one_line_naming_the_endpoint(
    project: Project, s3_env: dict[str, str], s3_server: S3Server
) -> None:
    clean_env(project)
    assert remote_cmd(project, env=s3_env).returncode == 0
    s3_server.stop()
    try:
        result = remote_cmd(project, "pull", env=s3_env)
    finally:
        s3_server.start()  # a new, empty server (moto keeps nothing) with a new key pair
    assert result.returncode == 7, (result.stdout, result.stderr)
    line = result.stderr.strip().splitlines()[-1]
    assert f"S3 endpoint {s3_server.url} unreachable" in line and "MINIO_ENDPOINT" in line
    assert_no_secrets(result.stdout + result.stderr, s3_env["MINIO_SECRET_KEY"], s3_env["MINIO_ACCESS_KEY"])
