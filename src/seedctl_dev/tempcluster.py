"""A throwaway PostgreSQL cluster for tests, ``make demo`` and benchmarks.

A :class:`TempPostgres` runs ``initdb`` into a scratch directory, starts the server with
``pg_ctl`` on a free loopback port (TCP only on 127.0.0.1, unix sockets inside the scratch
directory), and authenticates the superuser ``postgres`` with a random per-cluster password
(scram-sha-256).  ``stop()`` shuts it down and deletes what it created.  The binaries come
from seedctl_dev.pgbinaries, the account it runs as (when we are root) from
seedctl_dev.pgaccount.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from seedctl.errors import DevServerError
from seedctl.signals import pid_alive
from seedctl_dev.pgaccount import Account, give, open_traversal, service_account, traversable
from seedctl_dev.pgbinaries import FLAVORS, Flavor, PgBinaries, resolve_binaries

HOST = "127.0.0.1"
SUPERUSER = "postgres"
# sun_path is 108 bytes on Linux; keep a margin for ".s.PGSQL.NNNNN" and the lock file suffix.
_MAX_SOCKET_DIR_LEN = 80


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _conf_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


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
        self._account: Account | None = None
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
        self._account = service_account()
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
        pg._account = service_account() if state.get("run_as") else None
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
        if acct is not None and not traversable(bin_dir, acct):
            open_traversal(bin_dir)  # e.g. a venv under /root holding the embedded wheel
        if self._base_arg is None:
            self.base_dir = Path(tempfile.mkdtemp(prefix="seedctl-pg-"))
            self._owned_base = True
            self.base_dir.chmod(0o711)
        else:
            self.base_dir = self._base_arg
            self.base_dir.mkdir(parents=True, exist_ok=True)
        if traversable(self.base_dir, acct):
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
        give(self.data_dir, acct, 0o700)
        self.log_path = self.data_dir / "server.log"
        if len(str(self.data_dir)) <= _MAX_SOCKET_DIR_LEN:
            self.socket_dir = self.data_dir
        else:
            self.socket_dir = Path(tempfile.mkdtemp(prefix="seedctl-pgsock-"))
            give(self.socket_dir, acct, 0o700)
            self._remove.append(self.socket_dir)

    def _initdb(self) -> None:
        assert self.data_dir is not None and self.socket_dir is not None
        pwfile = self.data_dir.parent / f".seedctl-pw-{secrets.token_hex(4)}"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(self.password + "\n")
            give(pwfile, self._account)
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
