"""One error hierarchy. Every message is one line: what failed, and what to do about it."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable

_SECRETS: set[str] = set()


def register_secret(secret: str | None) -> None:
    """A password in play (pg/db.py registers the one it connects with): never printed."""
    if secret:
        _SECRETS.add(secret)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """text with every known password replaced by ***: PGPASSWORD, the password in
    DATABASE_URL (URI or key=value form) and every registered one."""
    found = {os.environ.get("PGPASSWORD", ""), *_SECRETS, *extra}
    url = os.environ.get("DATABASE_URL", "")
    found.update(re.findall(r"://[^:/@\s]*:([^@\s]+)@", url))
    found.update(m.strip("'") for m in re.findall(r"password\s*=\s*('[^']*'|\S+)", url))
    for secret in sorted((s for s in found if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


class SeedctlError(Exception):
    """Base class: an operator-facing failure with a one-line message and an exit code. Never
    raised itself: each failure raises the class that gives it its exit code."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.line())

    def line(self) -> str:
        text = " ".join(self.message.split())
        if self.hint:
            text += f" -- {' '.join(self.hint.split())}"
        return text


class Failed(SeedctlError):
    """Any other failure (exit 1): a program seedctl drives (git, crontab, dvc repro) failed."""


class NotFound(SeedctlError):
    """What the operator named does not exist (exit 1): a snapshot version, a git revision, a
    snapshot in this checkout."""


class ConfigError(SeedctlError):
    """params.yaml or a command-line value is missing, malformed, or names something that does not exist."""

    exit_code = 2


class DatabaseError(SeedctlError):
    """The database could not be reached, refused us, or failed a query."""

    exit_code = 3


class ExportError(SeedctlError):
    """A table could not be exported exactly (unsupported value, write failure)."""

    exit_code = 4


class ValidationFailed(SeedctlError):
    """The snapshot was written but failed validation: it must not be pushed."""

    exit_code = 5


class IntegrityError(SeedctlError):
    """A file does not match the manifest (missing, truncated, tampered)."""

    exit_code = 6


class AlreadyReported(SeedctlError):
    """A child process (a DVC stage) already printed the one line; only pass its exit code on."""

    def __init__(self, exit_code: int) -> None:
        super().__init__("")
        self.exit_code = exit_code


def run_guarded(func: Callable[[], object], *, verbose: bool = False) -> int:
    """Run an entry point: 0 on success, else one line on stderr and the error's exit code.

    Tracebacks only with verbose: the operator's interface is the one line. Ctrl-C and
    SIGTERM (signals.py) end it the same way: children stopped, one line, nothing published.
    """
    import sys

    from seedctl.signals import InterruptedAfterCommit, Terminated, sigterm_as_interrupt

    try:
        with sigterm_as_interrupt():
            func()
        return 0
    except AlreadyReported as exc:
        return exc.exit_code
    except SeedctlError as exc:
        if verbose:
            import traceback

            traceback.print_exc()
        print(f"seedctl: error: {redact(exc.line())}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        # SIGTERM (a scheduler's timeout) is reported and ended like Ctrl-C: 128 + signal.
        if isinstance(exc, InterruptedAfterCommit):  # e.g. the restore had committed: say what
            terminated = exc.terminated
            outcome = f"{' '.join(exc.done.split())} -- {' '.join(exc.hint.split())}"
        else:
            terminated = isinstance(exc, Terminated)
            outcome = "stopped: nothing was published and no database was changed"
        what = "terminated (SIGTERM)" if terminated else "interrupted"
        print(f"seedctl: {what}; {redact(outcome)}", file=sys.stderr)
        return 143 if terminated else 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence for the operator
        if verbose:
            import traceback

            traceback.print_exc()
        detail = " ".join(str(exc).split())[:300]
        print(
            f"seedctl: internal error: {type(exc).__name__}: {redact(detail)} -- rerun with --verbose and report it",
            file=sys.stderr,
        )
        return 1


class RemoteError(SeedctlError):
    """The S3/MinIO remote is not configured, unreachable, refuses us, or a push/pull failed."""

    exit_code = 7


class RestoredDegraded(SeedctlError):
    """The restore COMMITTED, but optional tables were left empty (their snapshot data could
    not be had and they have no fallback): the data is in place, those tables need a backfill."""

    exit_code = 11


class QueryError(SeedctlError):
    """`seedctl query`: the SQL does not parse, names something the snapshot lacks, or fails."""

    exit_code = 12


class RestoreRefused(SeedctlError):
    """The restore would overwrite data or cannot be verified: nothing was changed."""

    exit_code = 8


class LockHeld(SeedctlError):
    """Another snapshot (or prune) holds the repository's lock: nothing was started."""

    exit_code = 9


class HookFailed(SeedctlError):
    """The restore COMMITTED, but the operator's post-restore hook failed or timed out."""

    exit_code = 10


class DevServerError(SeedctlError):
    """Development tooling (seedctl_dev): a throwaway server would not start, or binaries are missing."""
