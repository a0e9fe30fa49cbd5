"""The DVC remote's settings: MinIO (or any S3 API) from MINIO_* variables.

Settings come from the environment, else from `.env` in the project root (read with
python-dotenv; see .env.example); a non-empty environment variable wins over `.env`:

    MINIO_ENDPOINT    host:port, or a full http(s):// URL            (required)
    MINIO_ACCESS_KEY  access key                                     (required)
    MINIO_SECRET_KEY  secret key                                     (required)
    MINIO_BUCKET      bucket (default: params.yaml storage.bucket)
    MINIO_USE_SSL     true/false: https for a host:port endpoint (default false)
    MINIO_REGION      region to sign requests for (default us-east-1, MinIO's default)
    MINIO_SSE         optional server-side encryption of every object: AES256 or aws:kms
    MINIO_SSE_KMS_KEY_ID  the KMS key for MINIO_SSE=aws:kms (MinIO: a KES key name)

Writing them into DVC's configuration is store/remote.py's job: this module only reads and
checks them, so it imports neither DVC nor S3.
No message, exception or log line from here carries the access key or the secret key.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from seedctl import errors
from seedctl.config import Params
from seedctl.errors import RemoteError

ENV_FILE = ".env"
ENV_EXAMPLE = ".env.example"
DEFAULT_REGION = "us-east-1"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
# S3 bucket naming rules (the subset MinIO and AWS agree on).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_HOST_PORT = re.compile(
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(?P<port>\d{1,5}))?"
)
_REMOTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
_REGION = re.compile(r"[a-z0-9-]{1,40}")
# A .env line python-dotenv could not read whose value starts with a quote: the quote is unbalanced.
_QUOTED = re.compile(r"\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=\s*(?P<quote>['\"])")


@dataclass(frozen=True)
class RemoteSettings:
    """Everything needed to reach the remote. repr() never shows the keys."""

    name: str
    url: str
    endpoint_url: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    bucket: str
    prefix: str
    region: str = DEFAULT_REGION
    sse: str = ""  # DVC's `sse`: AES256 or aws:kms, passed to every upload
    sse_kms_key_id: str = field(default="", repr=False)
    # The URL that goes into the git-tracked .dvc/config: params' bucket and prefix. When
    # MINIO_BUCKET names another bucket, `url` differs and is kept in .dvc/config.local.
    tracked_url: str = ""

    def __repr__(self) -> str:
        return (
            f"RemoteSettings(name={self.name!r}, url={self.url!r}, "
            f"endpoint_url={self.endpoint_url!r}, access_key='***', secret_key='***', "
            f"bucket={self.bucket!r}, prefix={self.prefix!r}, region={self.region!r})"
        )

    def redact(self, text: str) -> str:
        """text as errors.redact makes it, the keys (the access key too) known secrets."""
        return errors.redact(text, (self.secret_key, self.access_key))


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file, as python-dotenv reads them (`#` comments, quotes,
    `export `; no ${VAR} expansion: values are taken as written).

    A missing file is empty. A line that is not KEY=VALUE is a RemoteError naming its line
    number, never its content (python-dotenv would skip it with a warning).
    """
    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise RemoteError(
            f"{path}: cannot read ({type(exc).__name__})", f"fix or remove it; see {ENV_EXAMPLE}"
        ) from None
    for binding in parse_stream(io.StringIO(text)):
        if binding.error or (binding.key is not None and binding.value is None):
            quoted = _QUOTED.match(binding.original.string)
            what = f"unbalanced {quoted['quote']} quote" if quoted else "expected KEY=VALUE"
            raise RemoteError(f"{path} line {binding.original.line}: {what}", f"see {ENV_EXAMPLE} for the format")
    values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    return {key: value for key, value in values.items() if value is not None}


def load_settings(project_root: Path, params: Params, environ: Mapping[str, str] | None = None) -> RemoteSettings:
    """The remote's settings from the environment, else project_root/.env; checked, not used.

    Raises RemoteError naming the missing or malformed variable.
    """
    environ = os.environ if environ is None else environ
    file_values = read_env_file(project_root / ENV_FILE)

    def get(name: str) -> str:
        value = environ.get(name)
        if value is None or value == "":
            value = file_values.get(name, "")
        return value.strip()

    def missing(name: str, what: str) -> RemoteError:
        return RemoteError(
            f"{name} is not set ({what})", f"set it in the environment or in {ENV_FILE} (copy {ENV_EXAMPLE})"
        )

    endpoint = get("MINIO_ENDPOINT")
    if not endpoint:
        raise missing("MINIO_ENDPOINT", "the S3/MinIO server, host:port or http(s)://host:port")
    use_ssl = _parse_bool("MINIO_USE_SSL", get("MINIO_USE_SSL"))
    endpoint_url = _endpoint_url(endpoint, use_ssl)
    access_key = get("MINIO_ACCESS_KEY")
    if not access_key:
        raise missing("MINIO_ACCESS_KEY", "the remote's access key")
    secret_key = get("MINIO_SECRET_KEY")
    if not secret_key:
        raise missing("MINIO_SECRET_KEY", "the remote's secret key")
    for name, value in (("MINIO_ACCESS_KEY", access_key), ("MINIO_SECRET_KEY", secret_key)):
        if any(ch.isspace() or not ch.isprintable() for ch in value):
            raise RemoteError(
                f"{name} contains whitespace or control characters", f"check the value in the environment or {ENV_FILE}"
            )
    bucket = get("MINIO_BUCKET") or params.storage.bucket
    _check_bucket(bucket, "MINIO_BUCKET" if get("MINIO_BUCKET") else "params.yaml storage.bucket")
    region = get("MINIO_REGION") or DEFAULT_REGION
    if not _REGION.fullmatch(region):
        raise RemoteError(f"MINIO_REGION {region!r} is not a region name", "e.g. us-east-1")
    sse = get("MINIO_SSE")
    if sse and sse not in ("AES256", "aws:kms"):
        raise RemoteError(f"MINIO_SSE {sse!r} is not AES256 or aws:kms", "leave it empty for no encryption")
    kms_key = get("MINIO_SSE_KMS_KEY_ID")
    if kms_key and sse != "aws:kms":
        raise RemoteError("MINIO_SSE_KMS_KEY_ID is set but MINIO_SSE is not aws:kms", "set MINIO_SSE=aws:kms")
    name = params.storage.remote
    if not _REMOTE_NAME.fullmatch(name):
        raise RemoteError(
            f"params.yaml storage.remote {name!r} is not a usable DVC remote name", "use letters, digits, - and _"
        )
    prefix = params.storage.prefix.strip("/")
    url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    tracked = f"s3://{params.storage.bucket}/{prefix}" if prefix else f"s3://{params.storage.bucket}"
    # Every seedctl message masks it from now on (errors.run_guarded), also one that forgets redact().
    errors.register_secret(secret_key)
    return RemoteSettings(
        name=name,
        url=url,
        endpoint_url=endpoint_url,
        access_key=access_key,
        secret_key=secret_key,
        bucket=bucket,
        prefix=prefix,
        region=region,
        sse=sse,
        sse_kms_key_id=kms_key,
        tracked_url=tracked,
    )


def _parse_bool(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise RemoteError(f"{name} {value!r} is not true or false", "use true/false, 1/0 or yes/no")


def _endpoint_url(endpoint: str, use_ssl: bool) -> str:
    bad = RemoteError(
        f"MINIO_ENDPOINT {endpoint!r} is not host:port or an http(s):// URL",
        f"e.g. MINIO_ENDPOINT=localhost:9000 or https://minio.example.com; see {ENV_EXAMPLE}",
    )
    if "://" in endpoint:
        try:
            parts = urlsplit(endpoint)
        except ValueError:  # an unbalanced [ of an IPv6 address: urlsplit refuses it
            raise bad from None
        if "@" in parts.netloc:  # never echo what may be credentials
            raise RemoteError(
                "MINIO_ENDPOINT must not contain credentials (user:password@)",
                "put them in MINIO_ACCESS_KEY and MINIO_SECRET_KEY",
            )
        if (
            parts.scheme not in ("http", "https")
            or not _valid_host_port(parts.netloc)
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise bad
        return f"{parts.scheme}://{parts.netloc}"
    if "@" in endpoint:
        raise RemoteError(
            "MINIO_ENDPOINT must not contain credentials (user:password@)",
            "put them in MINIO_ACCESS_KEY and MINIO_SECRET_KEY",
        )
    if not _valid_host_port(endpoint):
        raise bad
    return f"{'https' if use_ssl else 'http'}://{endpoint}"


def _valid_host_port(text: str) -> bool:
    match = _HOST_PORT.fullmatch(text)
    if match is None:
        return False
    port = match["port"]
    return not port or 0 < int(port) < 65536


def _check_bucket(bucket: str, origin: str) -> None:
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise RemoteError(
            f"{origin}: {bucket!r} is not a valid bucket name",
            "3-63 characters: lower-case letters, digits, '.' and '-'",
        )
