"""Secret redaction (seedctl.errors.redact): pure, no database.

A password where it stands (a URL's userinfo, ?password=, a conninfo pair, KEY=value of a
secret-named key) is masked whatever it is; a known password echoed bare is masked only as a
whole token, so that a password "x" or "failed" masks no word of the message (issue 22).
"""

from __future__ import annotations

import pytest

from seedctl import errors
from seedctl.errors import DatabaseError, redact, register_secret, run_guarded
from seedctl.store.settings import RemoteSettings

# libpq's words around a connection failure, and seedctl's own.
MESSAGE = (
    'export failed: connection to server at "127.0.0.1", port 5432 failed: timeout expired; '
    "Connection refused -- check DATABASE_URL and that the server is up"
)
WORDS = ["x", "timeout", "refused", "failed"]
RANDOM = "S3cr3t-marker-42"


@pytest.fixture(autouse=True)
def no_known_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "_SECRETS", set())
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("PGPASSWORD", raising=False)


# --- a one-letter password, a password that is a word --------------------------------------------


@pytest.mark.parametrize("secret", WORDS)
def test_a_letter_or_a_word_masks_no_word_of_the_message(secret: str) -> None:
    register_secret(secret)
    assert redact(MESSAGE, composed=True) == MESSAGE
    # Where it stands as the URL's password it is masked all the same.
    url = f"postgresql://alice:{secret}@127.0.0.1:5432/db"
    assert redact(f"{MESSAGE} {url}", composed=True) == f"{MESSAGE} postgresql://alice:***@127.0.0.1:5432/db"


@pytest.mark.parametrize("secret", WORDS)
def test_a_letter_or_a_word_is_masked_only_as_a_whole_token(secret: str) -> None:
    register_secret(secret)
    glued = f"{secret}s re{secret}ed {secret}_1 {secret}9"
    assert redact(glued) == glued
    echoed = f'invalid dsn: missing "=" after "{secret}" in connection info string'
    assert redact(echoed) == 'invalid dsn: missing "=" after "***" in connection info string'
    assert redact(f"({secret}), {secret}.") == f"({secret}), {secret}."  # a word of the message
    assert redact(f"value '{secret}', key={secret}, key: {secret}") == "value '***', key=***, key: ***"


@pytest.mark.parametrize("secret", WORDS)
def test_a_word_secret_leaves_any_message_readable(secret: str) -> None:
    """Not only connection failures: any message seedctl prints keeps its words."""
    register_secret(secret)
    text = f"restore failed and was rolled back: canceling statement due to statement timeout ({secret} x)"
    assert redact(text) == text


def test_one_letter_password_leaves_libpq_words_intact() -> None:
    """The issue's message: 'e***port failed: ... timeout e***pired' with the password x."""
    register_secret("x")
    text = 'export failed: connection to server at "db", port 5432 failed: timeout expired'
    assert redact(text) == text


def test_a_secret_of_punctuation_only_is_masked_where_it_stands_alone() -> None:
    register_secret("-")
    assert redact("a-b 127.0.0.1 --x") == "a-b 127.0.0.1 --x"
    assert redact('password is "-" or - alone') == 'password is "***" or *** alone'


def test_a_long_random_secret_is_masked_anywhere() -> None:
    register_secret(RANDOM)
    assert redact(f"x{RANDOM}y and {RANDOM}") == "x***y and ***"
    # ... also in a composed message: it cannot be a word of it.
    assert redact(f"as user {RANDOM}", composed=True) == "as user ***"


def test_a_long_word_secret_is_a_token_still() -> None:
    register_secret("authentication")
    assert redact("password authentication failed", composed=True) == "password authentication failed"
    assert redact("password authentication failed") == "password authentication failed"
    assert redact('bare "authentication"') == 'bare "***"'


def test_pgpassword_and_database_url_are_known(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "timeout")
    monkeypatch.setenv("DATABASE_URL", "postgresql://alice:p%40ss%2Fw@127.0.0.1/db")
    assert redact('bare "timeout" and "p@ss/w"; timeout expired') == 'bare "***" and "***"; timeout expired'
    assert redact("timeout expired", composed=True) == "timeout expired"


def test_an_unparseable_database_url_is_known(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "host=127.0.0.1 password='it is open")
    assert redact("got 'it is open' here") == "got '***' here"


# --- where a password stands: masked, known or not ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://alice:x@127.0.0.1:5432/db", "postgresql://alice:***@127.0.0.1:5432/db"),
        ("postgres://alice:timeout@[::1]:5432/db", "postgres://alice:***@[::1]:5432/db"),
        ("postgresql://alice:p%40ss%2Fw@[2001:db8::1]/db", "postgresql://alice:***@[2001:db8::1]/db"),
        ("postgresql://:failed@host/db", "postgresql://:***@host/db"),
        # an unencoded @ or / in the password: masked up to the host
        ("postgresql://alice:p@ss/w@host/db", "postgresql://alice:***@host/db"),
        # libpq quoting a URL it cannot parse
        ('in URI: "postgresql://alice:refused@[::1/db"', 'in URI: "postgresql://alice:***@[::1/db"'),
        (
            "postgresql://alice@host/db?sslmode=require&password=x&application_name=a",
            "postgresql://alice@host/db?sslmode=require&password=***&application_name=a",
        ),
        ("postgresql://host/db?password=p%20w", "postgresql://host/db?password=***"),
        # no password: untouched
        (
            "postgresql://alice@[::1]:5432/db http://127.0.0.1:9000/x",
            "postgresql://alice@[::1]:5432/db http://127.0.0.1:9000/x",
        ),
    ],
    ids=["plain", "ipv6", "percent-encoded", "no-user", "unencoded", "quoted", "query", "query-encoded", "none"],
)
def test_url_password_is_masked(text: str, masked: str) -> None:
    assert redact(text) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("host=h password=failed dbname=d", "host=h password=*** dbname=d"),
        ("host=h password='with spaces \\' and a quote' dbname=d", "host=h password=*** dbname=d"),
        ('host=h password="double quoted" port=1', "host=h password=*** port=1"),
        ("host=h PASSWORD = x dbname=d", "host=h PASSWORD = *** dbname=d"),
        ("host=h password='left open to the end", "host=h password=***"),
        ("sslpassword=key-pass sslmode=verify-full", "sslpassword=*** sslmode=verify-full"),
        ("MINIO_SECRET_KEY=minio-s3cret MINIO_BUCKET=b", "MINIO_SECRET_KEY=*** MINIO_BUCKET=b"),
        ("AWS_SECRET_ACCESS_KEY=abc/def+ghi region=x", "AWS_SECRET_ACCESS_KEY=*** region=x"),
        ("MINIO_ACCESS_KEY: minioadmin", "MINIO_ACCESS_KEY: ***"),
        ("{'secret_key': 'k k', 'region': 'us'}", "{'secret_key': ***, 'region': 'us'}"),
        ('{"aws_session_token": "t"}', '{"aws_session_token": ***}'),
        ("client_secret=c GITHUB_TOKEN=g", "client_secret=*** GITHUB_TOKEN=***"),
    ],
    ids=[
        "conninfo",
        "conninfo-quoted-spaces",
        "conninfo-double-quoted",
        "conninfo-spaced-upper",
        "conninfo-unterminated",
        "sslpassword",
        "minio-secret-key",
        "aws-secret-access-key",
        "key-colon-value",
        "dict-repr",
        "json",
        "secret-and-token",
    ],
)
def test_secret_pair_is_masked(text: str, masked: str) -> None:
    assert redact(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        'FATAL: password authentication failed for user "alice"',
        "fe_sendauth: no password supplied",
        "check DATABASE_URL (or PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE)",
        "password_file=/etc/pw passwordless=true PWD=/home/a",
        "MINIO_SECRET_KEY is not set (the secret key)",
    ],
)
def test_words_about_passwords_are_not_masked(text: str) -> None:
    assert redact(text) == text


# --- one place for the behaviour -----------------------------------------------------------------


def test_remote_settings_redact_is_errors_redact() -> None:
    settings = RemoteSettings(
        name="minio",
        url="s3://b/p",
        endpoint_url="http://h:9000",
        access_key="minioadmin",
        secret_key="failed",
        bucket="b",
        prefix="p",
    )
    text = "upload failed: bad key='minioadmin', secret 'failed'; minioadmins"
    assert settings.redact(text) == "upload failed: bad key='***', secret '***'; minioadmins"
    assert settings.redact("AWS_SECRET_ACCESS_KEY=zz http://u:pw@h") == "AWS_SECRET_ACCESS_KEY=*** http://u:***@h"


# --- what run_guarded prints ---------------------------------------------------------------------


def test_internal_error_is_masked_before_it_is_cut(capsys: pytest.CaptureFixture[str]) -> None:
    """The summary keeps 300 characters: a secret across the cut must not leave its head."""
    register_secret(RANDOM)

    def crash() -> None:
        raise RuntimeError("a" * 295 + " " + RANDOM + " and more")

    assert run_guarded(crash) == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: " in err and "***" in err, err
    assert RANDOM[:4] not in err, err


def test_internal_error_masks_an_unknown_password_before_the_cut(capsys: pytest.CaptureFixture[str]) -> None:
    def crash() -> None:
        raise ValueError("b" * 280 + " password=unregistered-value-123 end")

    assert run_guarded(crash) == 1
    err = capsys.readouterr().err
    assert "password=***" in err and "unreg" not in err, err


@pytest.mark.parametrize("secret", WORDS)
def test_a_composed_connection_error_prints_its_words(secret: str, capsys: pytest.CaptureFixture[str]) -> None:
    register_secret(secret)

    def fail() -> None:
        raise DatabaseError(MESSAGE, composed=True)

    assert run_guarded(fail) == 3
    assert capsys.readouterr().err == f"seedctl: error: {MESSAGE}\n"


# --- the dev tooling's sample loader -------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://alice:x@[::1/db", 'in URI: "postgresql://alice:***@[::1/db"'),
        ("postgresql://alice:x%zz@127.0.0.1/db", "invalid percent-encoded token: ***"),
    ],
    ids=["bad-ipv6", "bad-percent"],
)
def test_sample_loader_masks_the_url_libpq_quotes(url: str, shown: str, capsys: pytest.CaptureFixture[str]) -> None:
    """libpq's parse error quotes the string it could not parse, password included."""
    from seedctl_dev.sample.cli import main

    assert main(["--database-url", url]) == 1
    err = capsys.readouterr().err
    assert shown in err, err
    assert ":x@" not in err and "x%zz" not in err, err
