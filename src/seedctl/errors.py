"""One error hierarchy. Every message is one line: what failed, and what to do about it."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable

MASK = "***"
_SECRETS: set[str] = set()

# Where a password stands in what libraries print: masked whatever the password is, known or not.
# Pattern text, compiled (and cached by re) at the first message to mask: not at every start.
# - A URL's userinfo, scheme://user:PASSWORD@host: up to the last @ of the run, so that an
#   unencoded @ or / in the password leaves no tail.
_URL_FORM = r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:@/\s]*:)(?P<secret>\S*)(?=@)"
# A key that names a secret: it ends in password, passwd, secret, secret_key, access_key(_id) or
# token (password, sslpassword, MINIO_SECRET_KEY, AWS_SECRET_ACCESS_KEY, client_secret, ...).
_CONFIDENTIAL_KEY = r"[\w.-]*?(?:password|passwd|secret|secret_key|access_key|access_key_id|token)"
# - A URL query parameter, ?password=PASSWORD or &password=...: up to the next & or #.
_QUERY_FORM = rf"(?i)(?P<head>[?&]{_CONFIDENTIAL_KEY}=)(?P<secret>[^&#\s]*)"
# - A libpq conninfo pair (password=PASSWORD, password='with spaces \' and quotes') and any
#   KEY=value, KEY: value or 'KEY': 'value' of such a key. A quote left open masks the rest of
#   the line; an unquoted value runs to the next space.
_PAIR_FORM = (
    rf"(?im)(?P<head>(?<![\w.?&-]){_CONFIDENTIAL_KEY}['\"]?\s*[=:]\s*)"
    r"(?P<secret>'(?:[^'\\\n]|\\.)*(?:'|$)|\"(?:[^\"\\\n]|\\.)*(?:\"|$)|[^\s'\"]\S*)"
)


def register_secret(secret: str | None) -> None:
    """A secret in play (pg/db.py registers the password it connects with, store/settings.py
    the S3 secret key): never printed."""
    if secret:
        _SECRETS.add(secret)


def mask_forms(text: str) -> str:
    """text with a URL's password, a password= query parameter, a password= conninfo pair and
    every KEY=value whose key names a secret masked where they stand, whatever the secret."""
    text = re.sub(_URL_FORM, rf"\g<head>{MASK}", text)
    text = re.sub(_QUERY_FORM, rf"\g<head>{MASK}", text)
    return re.sub(_PAIR_FORM, rf"\g<head>{MASK}", text)


def _unquote_value(value: str) -> str:
    if value[:1] in ("'", '"'):
        value = re.sub(r"\\(.)", r"\1", value[1:].removesuffix(value[0]))
    return value


def conninfo_secrets(conninfo: str) -> set[str]:
    """The password of a connection string (URI, percent-encoded or not, or key=value form),
    read by pattern: also when libpq cannot parse it."""
    from urllib.parse import unquote

    found: set[str] = set()
    for match in re.finditer(_URL_FORM, conninfo):
        found.update((match["secret"], unquote(match["secret"])))
    for match in re.finditer(_PAIR_FORM, conninfo):
        found.add(_unquote_value(match["secret"]))
    return found


def known_secrets(extra: Iterable[str] = ()) -> set[str]:
    """PGPASSWORD, the password of DATABASE_URL, every registered secret and extra."""
    found = {os.environ.get("PGPASSWORD", ""), *_SECRETS, *extra}
    found.update(conninfo_secrets(os.environ.get("DATABASE_URL", "")))
    return {s for s in found if s and s != MASK}


def _looks_random(secret: str) -> bool:
    """Long and not only letters: such a string is never part of an ordinary word or message."""
    return len(secret) >= 12 and not secret.isalpha()


def _as_token(secret: str) -> re.Pattern[str]:
    """secret where it stands as a whole token: not glued to a word character on a side where
    it begins or ends with one (a secret of punctuation only: bounded by spaces or quotes).
    A secret that is a word (letters only: "x", "failed") could be any word of a message, so
    it is masked only where it stands as a value: quoted, or after `=` or `:`."""
    if secret.isalpha():
        return re.compile(rf"(?:(?<=['\"=:])|(?<=[=:] )){re.escape(secret)}(?!\w)")
    if not re.search(r"\w", secret):
        return re.compile(rf"(?<![^\s'\"]){re.escape(secret)}(?![^\s'\"])")
    before = r"(?<!\w)" if re.match(r"\w", secret) else ""
    after = r"(?!\w)" if re.search(r"\w$", secret) else ""
    return re.compile(before + re.escape(secret) + after)


def redact(text: str, extra: Iterable[str] = (), *, composed: bool = False) -> str:
    """text safe to print: mask_forms, then the safety net for what a library echoes bare:
    every known secret (known_secrets) masked as ***.

    A known secret is masked only as a whole token, and one that is a word ("x", "timeout",
    "failed") only where it stands as a value (_as_token), so that it masks no word of the
    message ("e***pired", "restore *** and was rolled back"). One that looks random (12 or more
    characters, not all letters) is masked anywhere, even inside a longer run: it cannot be a
    word of the message, so this costs nothing and also catches an echo glued to other text.

    composed=True: text was built from parts that never hold a password (a connection failure
    names host, port, database and user, and libpq's reason, which never carries the
    password): a known secret that is not random-looking is a word of the message there,
    not an echo, and is left alone.
    """
    text = mask_forms(text)
    for secret in sorted(known_secrets(extra), key=len, reverse=True):
        if _looks_random(secret):
            text = text.replace(secret, MASK)
        elif not composed:
            text = _as_token(secret).sub(MASK, text)
    return text


class SeedctlError(Exception):
    """Base class: an operator-facing failure with a one-line message and an exit code. Never
    raised itself: each failure raises the class that gives it its exit code."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None, *, composed: bool = False) -> None:
        self.message = message
        self.hint = hint
        # The message was built from parts that never hold a secret: see redact(composed=True).
        self.composed = composed
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
            _print_traceback()
        print(f"seedctl: error: {redact(exc.line(), composed=exc.composed)}", file=sys.stderr)
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
            _print_traceback()
        # Masked before it is cut: a cut through a secret would leave its head unmasked.
        detail = redact(" ".join(str(exc).split()))[:300]
        print(
            f"seedctl: internal error: {type(exc).__name__}: {detail} -- rerun with --verbose and report it",
            file=sys.stderr,
        )
        return 1


def _print_traceback() -> None:
    """--verbose: the traceback of the exception being handled, redacted as every message is."""
    import sys
    import traceback

    print(redact(traceback.format_exc()), end="", file=sys.stderr)


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
