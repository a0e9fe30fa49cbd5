"""Throwaway PostgreSQL clusters for tests, ``make demo`` and benchmarks.

The cluster itself is seedctl_dev.tempcluster, the binaries it runs seedctl_dev.pgbinaries,
the account it runs as when we are root seedctl_dev.pgaccount; the names tests and scripts
use are re-exported here.

Command line (used by ``make`` targets and scripts)::

    python -m seedctl_dev.devserver start --dir DIR [--flavor auto|system|embedded]
    python -m seedctl_dev.devserver stop --dir DIR
    python -m seedctl_dev.devserver check [--flavor ...]

``start`` leaves the server running and writes ``DIR/connection.env`` (KEY=VALUE lines:
DATABASE_URL and PG* variables); ``stop`` stops it and removes the cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from seedctl.errors import DevServerError
from seedctl.layout import write_json
from seedctl.pg.binaries import find_embedded_bindir, find_system_bindir
from seedctl_dev.pgbinaries import FLAVORS, Flavor, PgBinaries, resolve_binaries
from seedctl_dev.tempcluster import TempPostgres

__all__ = [
    "DevServerError",
    "Flavor",
    "PgBinaries",
    "TempPostgres",
    "find_embedded_bindir",
    "find_system_bindir",
    "resolve_binaries",
]

STATE_FILE = "devserver.json"
ENV_FILE = "connection.env"


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
