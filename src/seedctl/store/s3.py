"""The DVC remote's S3 API: the one client factory, the one error mapping, the one object key.

Every S3 request seedctl makes (checking the bucket, presence, downloads, repair uploads,
retention deletes) goes through a client from `client`, and every botocore failure becomes
a RemoteError through `remote_error` / `errors`, with the remote's own advice (which
MINIO_* variable to check). No message from here carries the access key or the secret key.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from seedctl.errors import IntegrityError, RemoteError
from seedctl.store.dvc import OBJECTS, object_path

if TYPE_CHECKING:
    from seedctl.store.settings import RemoteSettings

# A DVC md5 content address (a directory listing's ends in .dir): nothing else becomes a key.
MD5 = re.compile(r"[0-9a-f]{32}(?:\.dir)?")
# Requests at a time one client serves (presence checks run HEAD requests in threads).
POOL = 16


class RemoteUnreachable(RemoteError):
    """The S3 endpoint did not answer (connection refused, timed out, TLS failed)."""

    cause = "unreachable"


class CredentialsRefused(RemoteError):
    """The S3 endpoint answered, and refused MINIO_ACCESS_KEY / MINIO_SECRET_KEY."""

    cause = "credentials"


def object_key(prefix: str, md5: str) -> str:
    """The remote key DVC stores a content address under (dvc.object_path, below the prefix)."""
    if not MD5.fullmatch(md5):
        raise IntegrityError(f"{md5!r} is not a DVC md5 content address", "check the manifest and dvc.lock")
    return f"{prefix}/{object_path(md5)}" if prefix else object_path(md5)


def named_md5(key: str) -> str:
    """The md5 an object key names, without .dir (<prefix>/files/md5/ab/cdef.. -> abcdef..):
    for a file, and for a listing, the md5 of the object's bytes."""
    return "".join(key.split("/")[-2:]).removesuffix(".dir")


def objects_prefix(prefix: str) -> str:
    """The key prefix under which object_key puts every object."""
    return f"{prefix}/{OBJECTS}/" if prefix else f"{OBJECTS}/"


@functools.cache
def _session() -> Any:
    """One botocore session per process: its loaded S3 model makes each further client a
    few ms, not 80 (create_client under _CREATING: a session is not thread-safe)."""
    import botocore.session

    return botocore.session.Session()


_CREATING = threading.Lock()


def client(settings: RemoteSettings, *, timeout_s: float = 5, attempts: int = 2) -> Any:
    """A botocore S3 client for the remote: its endpoint (http or https, as MINIO_* say),
    region and keys, path-style addressing (as MINIO wants), the given read timeout."""
    from botocore.config import Config

    with _CREATING:
        return _session().create_client(
            "s3",
            region_name=settings.region,
            endpoint_url=settings.endpoint_url,
            aws_access_key_id=settings.access_key,
            aws_secret_access_key=settings.secret_key,
            config=Config(
                connect_timeout=min(timeout_s, 10),
                read_timeout=timeout_s,
                signature_version="s3v4",
                retries={"total_max_attempts": attempts, "mode": "standard"},
                s3={"addressing_style": "path"},
                max_pool_connections=POOL,
            ),
        )


def encryption(settings: RemoteSettings) -> dict[str, str]:
    """put_object's server-side encryption arguments: the same as DVC's uploads (MINIO_SSE)."""
    extra = {"ServerSideEncryption": settings.sse} if settings.sse else {}
    if settings.sse_kms_key_id:
        extra["SSEKMSKeyId"] = settings.sse_kms_key_id
    return extra


def checked_client(settings: RemoteSettings, timeout_s: float = 5) -> Any:
    """A client, after one HEAD request on the bucket: RemoteError saying what is wrong, and
    which variable to check."""
    with errors(settings):
        answering = client(settings, timeout_s=timeout_s)
        answering.head_bucket(Bucket=settings.bucket)
    return answering


def check(settings: RemoteSettings, timeout_s: float = 5) -> None:
    """One HEAD request on the bucket: raise RemoteError saying what is wrong, and which variable."""
    checked_client(settings, timeout_s)


def head(answering: Any, settings: RemoteSettings, key: str) -> tuple[int, str] | None:
    """(size, ETag) of an object; None when the remote does not have it."""
    from botocore.exceptions import ClientError

    with errors(settings, f"HEAD s3://{settings.bucket}/{key}"):
        try:
            found = answering.head_object(Bucket=settings.bucket, Key=key)
        except ClientError as exc:
            if missing(exc):
                return None
            raise
        return int(found["ContentLength"]), str(found.get("ETag", ""))


def missing(exc: BaseException) -> bool:
    """The S3 error says: no such object."""
    response = getattr(exc, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or str(response.get("Error", {}).get("Code", "")) in ("NoSuchKey", "404")


@contextmanager
def errors(settings: RemoteSettings, doing: str | None = None) -> Iterator[None]:
    """botocore failures inside, as remote_error(settings, exc, doing)."""
    from botocore import exceptions as bx

    try:
        yield
    except (bx.ClientError, bx.BotoCoreError) as exc:
        raise remote_error(settings, exc, doing) from None


def remote_error(settings: RemoteSettings, exc: BaseException, doing: str | None = None) -> RemoteError:
    """One line for a botocore failure (prefixed with `doing`), with what to check: the
    endpoint (RemoteUnreachable), the keys (CredentialsRefused), the bucket, the region."""
    from botocore import exceptions as bx

    where = f"S3 endpoint {settings.endpoint_url}"
    error: RemoteError
    if isinstance(
        exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError, bx.ConnectionClosedError)
    ):
        kind = "timed out" if isinstance(exc, (bx.ConnectTimeoutError, bx.ReadTimeoutError)) else "unreachable"
        error = RemoteUnreachable(f"{where} {kind}", "check MINIO_ENDPOINT (host:port) and that the server is running")
    elif isinstance(exc, bx.SSLError):
        error = RemoteUnreachable(
            f"{where}: TLS handshake failed", "MINIO_USE_SSL (or https:// in MINIO_ENDPOINT) must match the server"
        )
    elif isinstance(exc, bx.ClientError):
        error = _client_error(settings, exc)
    else:
        error = RemoteError(
            f"{where}: {settings.redact(' '.join(str(exc).split()))}", "check MINIO_ENDPOINT and MINIO_REGION"
        )
    if doing:
        error = type(error)(f"{doing}: {error.message}", error.hint)
    return error


def _client_error(settings: RemoteSettings, exc: BaseException) -> RemoteError:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    where = f"S3 endpoint {settings.endpoint_url}"
    if status in (401, 403) or code in (
        "403",
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "Forbidden",
    ):
        return CredentialsRefused(
            f"{where} refused the credentials for bucket '{settings.bucket}' (HTTP {status or code})",
            "check MINIO_ACCESS_KEY and MINIO_SECRET_KEY (and that this key may use the bucket)",
        )
    if code == "NoSuchBucket" or (status == 404 and code in ("", "404", "NotFound")):
        return RemoteError(
            f"bucket '{settings.bucket}' does not exist at {settings.endpoint_url}",
            f"create it (e.g. `mc mb <alias>/{settings.bucket}`) or set MINIO_BUCKET",
        )
    if status == 301 or code in ("PermanentRedirect", "AuthorizationHeaderMalformed"):
        return RemoteError(
            f"{where}: bucket '{settings.bucket}' is in another region", "set MINIO_REGION to the server's region"
        )
    return RemoteError(
        f"{where} answered HTTP {status} {code} for bucket '{settings.bucket}'",
        "check MINIO_ENDPOINT points at an S3/MinIO API server",
    )
