"""The DVC remote: MinIO (or any S3 API) from MINIO_* variables, pushed to and pulled from.

Settings come from the environment, else from `.env` in the project root (see
.env.example); a non-empty environment variable wins over `.env`:

    MINIO_ENDPOINT    host:port, or a full http(s):// URL            (required)
    MINIO_ACCESS_KEY  access key                                     (required)
    MINIO_SECRET_KEY  secret key                                     (required)
    MINIO_BUCKET      bucket (default: params.yaml storage.bucket)
    MINIO_USE_SSL     true/false: https for a host:port endpoint (default false)
    MINIO_REGION      region to sign requests for (default us-east-1, MinIO's default)
    MINIO_SSE         optional server-side encryption of every object: AES256 or aws:kms
    MINIO_SSE_KMS_KEY_ID  the KMS key for MINIO_SSE=aws:kms (MinIO: a KES key name)

`configure` writes the remote (name and URL, nothing secret) to the git-tracked
.dvc/config and the endpoint and keys to the git-ignored .dvc/config.local, so that a plain
`dvc push` / `dvc pull` works afterwards and `dvc` never sees the keys any other way.
No message, exception or log line from here carries the access key or the secret key.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from seedctl.config import Params
from seedctl.errors import IntegrityError, RemoteError, ValidationFailed

if TYPE_CHECKING:
    from seedctl.store.fetch import Fetched
    from seedctl.tools import DvcWhenTold

ENV_FILE = ".env"
ENV_EXAMPLE = ".env.example"
DEFAULT_REGION = "us-east-1"
VARIABLES = ("MINIO_ENDPOINT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "MINIO_BUCKET",
             "MINIO_USE_SSL", "MINIO_REGION")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
# S3 bucket naming rules (the subset MinIO and AWS agree on).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(?P<port>\d{1,5}))?")
_REMOTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
_REGION = re.compile(r"[a-z0-9-]{1,40}")
_ENV_LINE = re.compile(r"(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>.*)")
# DVC's own lines that say nothing once we print our one line.
_DVC_NOISE = re.compile(r"^(Having any troubles\?.*|\s*)$")
# Checking which objects the remote holds: a listing of at most _LIST_PAGES requests, else
# HEAD requests, _HEAD_THREADS at a time.
_LIST_PAGES = 10
_HEAD_THREADS = 16


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
        return (f"RemoteSettings(name={self.name!r}, url={self.url!r}, "
                f"endpoint_url={self.endpoint_url!r}, access_key='***', secret_key='***', "
                f"bucket={self.bucket!r}, prefix={self.prefix!r}, region={self.region!r})")

    def redact(self, text: str) -> str:
        """text with the keys replaced by ***."""
        for secret in (self.secret_key, self.access_key):
            if secret:
                text = text.replace(secret, "***")
        return text


@dataclass(frozen=True)
class PushResult:
    """What `push` did: the snapshot version and how many files went up (None: unknown)."""

    version: str
    url: str
    endpoint_url: str
    files_pushed: int | None
    # Objects seen in the remote with the cache's sizes, when that alone showed nothing to push.
    checked: int | None = None
    # Objects `dvc push` left out although the remote lacked them, uploaded by seedctl.
    repaired: int = 0

    def __str__(self) -> str:
        if self.repaired:
            return (f"snapshot {self.version}: {self.files_pushed or 0} file(s) pushed to {self.url}; "
                    f"{self.repaired} object(s) that `dvc push` took for present were missing or damaged "
                    f"there: uploaded from the cache")
        if self.files_pushed == 0 and self.checked:
            return (f"snapshot {self.version}: remote {self.url} already up to date "
                    f"(all {self.checked} objects present)")
        if self.files_pushed == 0:
            return f"snapshot {self.version}: remote {self.url} already up to date"
        count = "files" if self.files_pushed is None else (
            f"{self.files_pushed} file{'s' if self.files_pushed != 1 else ''}")
        return f"snapshot {self.version}: {count} pushed to {self.url} at {self.endpoint_url}"


# --- settings ------------------------------------------------------------------------------

def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file: `#` comments, optional quotes, `export ` tolerated.

    An unquoted value ends at ` #` (a comment); quote values that contain ` #`.
    A missing file is empty. Errors name the line number, never its content.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise RemoteError(f"{path}: cannot read ({type(exc).__name__})",
                          f"fix or remove it; see {ENV_EXAMPLE}") from None
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _ENV_LINE.fullmatch(line)
        if not match:
            raise RemoteError(f"{path} line {number}: expected KEY=VALUE",
                              f"see {ENV_EXAMPLE} for the format")
        values[match["key"]] = _env_value(match["value"], path, number)
    return values


def _env_value(value: str, path: Path, number: int) -> str:
    if value[:1] in ("'", '"'):
        quote = value[0]
        end = value.find(quote, 1)
        while quote == '"' and end > 0 and value[end - 1] == "\\":
            end = value.find(quote, end + 1)
        rest = value[end + 1:].strip() if end > 0 else ""
        if end < 0 or (rest and not rest.startswith("#")):
            raise RemoteError(f"{path} line {number}: unbalanced {quote} quote",
                              f"see {ENV_EXAMPLE} for the format")
        inner = value[1:end]
        if quote == '"':
            inner = re.sub(r'\\(["\\])', r"\1", inner)
        return inner
    return re.split(r"\s+#", value, maxsplit=1)[0].strip()


def load_settings(project_root: Path, params: Params,
                  environ: Mapping[str, str] | None = None) -> RemoteSettings:
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
        return RemoteError(f"{name} is not set ({what})",
                           f"set it in the environment or in {ENV_FILE} (copy {ENV_EXAMPLE})")

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
            raise RemoteError(f"{name} contains whitespace or control characters",
                              f"check the value in the environment or {ENV_FILE}")
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
        raise RemoteError(f"params.yaml storage.remote {name!r} is not a usable DVC remote name",
                          "use letters, digits, - and _")
    prefix = params.storage.prefix.strip("/")
    url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    tracked = f"s3://{params.storage.bucket}/{prefix}" if prefix else f"s3://{params.storage.bucket}"
    return RemoteSettings(name=name, url=url, endpoint_url=endpoint_url, access_key=access_key,
                          secret_key=secret_key, bucket=bucket, prefix=prefix, region=region,
                          sse=sse, sse_kms_key_id=kms_key, tracked_url=tracked)


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
        parts = urlsplit(endpoint)
        if "@" in parts.netloc:  # never echo what may be credentials
            raise RemoteError("MINIO_ENDPOINT must not contain credentials (user:password@)",
                              "put them in MINIO_ACCESS_KEY and MINIO_SECRET_KEY")
        if (parts.scheme not in ("http", "https") or not _HOST_PORT.fullmatch(parts.netloc)
                or parts.path not in ("", "/") or parts.query or parts.fragment):
            raise bad
        return f"{parts.scheme}://{parts.netloc}"
    match = _HOST_PORT.fullmatch(endpoint)
    if "@" in endpoint:
        raise RemoteError("MINIO_ENDPOINT must not contain credentials (user:password@)",
                          "put them in MINIO_ACCESS_KEY and MINIO_SECRET_KEY")
    if not match or (match["port"] and not 0 < int(match["port"]) < 65536):
        raise bad
    return f"{'https' if use_ssl else 'http'}://{endpoint}"


def _check_bucket(bucket: str, origin: str) -> None:
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise RemoteError(f"{origin}: {bucket!r} is not a valid bucket name",
                          "3-63 characters: lower-case letters, digits, '.' and '-'")


# --- DVC configuration ---------------------------------------------------------------------

def configure(project_root: Path, settings: RemoteSettings) -> Mapping[str, Any]:
    """Write the DVC remote: name and URL to .dvc/config, endpoint and keys to .dvc/config.local.

    Uses DVC's own config writer (what `dvc remote add/modify [--local]` use), so the files
    are exactly what those commands would leave. Idempotent: unchanged files are not rewritten.
    Returns DVC's configuration as `dvc` itself will see it (all levels merged).
    """
    from dvc.config import Config
    from dvc.config import ConfigError as DvcConfigError

    dvc_dir = project_root / ".dvc"
    if not dvc_dir.is_dir():
        raise RemoteError(f"{project_root} is not a DVC project (no .dvc directory)",
                          "run from the project root")
    tracked_url = settings.tracked_url or settings.url
    local_remote = {
        "endpointurl": settings.endpoint_url,
        "access_key_id": settings.access_key,
        "secret_access_key": settings.secret_key,
        "region": settings.region,
    }
    if settings.sse:
        local_remote["sse"] = settings.sse
    if settings.sse_kms_key_id:
        local_remote["sse_kms_key_id"] = settings.sse_kms_key_id
    if settings.url != tracked_url:
        local_remote["url"] = settings.url
    edited = False
    try:
        config = Config(dvc_dir=str(dvc_dir), validate=False)
        repo = config.load_one("repo")
        if (repo.get("core", {}).get("remote") != settings.name
                or repo.get("remote", {}).get(settings.name, {}).get("url") != tracked_url):
            edited = True
            with config.edit("repo") as conf:
                conf.setdefault("core", {})["remote"] = settings.name
                conf.setdefault("remote", {}).setdefault(settings.name, {})["url"] = tracked_url
        local = config.load_one("local")
        current = local.get("remote", {}).get(settings.name, {})
        managed = ("url", "sse", "sse_kms_key_id")  # dropped when no longer configured
        wanted = {k: v for k, v in current.items() if k not in managed} | local_remote
        core_remote = local.get("core", {}).get("remote")
        if current != wanted or core_remote not in (None, settings.name):
            edited = True
            with config.edit("local") as conf:
                conf.setdefault("remote", {})[settings.name] = wanted
                if core_remote not in (None, settings.name):
                    conf["core"]["remote"] = settings.name
        if edited:  # edit() reloads with validation, which fills in every default: as written, please
            config.load(validate=False)
    except DvcConfigError as exc:
        raise RemoteError(f"DVC configuration in {dvc_dir}: {settings.redact(str(exc))}",
                          "fix .dvc/config or .dvc/config.local") from None
    except OSError as exc:
        raise RemoteError(f"cannot write the DVC configuration in {dvc_dir} ({exc.strerror})") from None
    local_file = dvc_dir / "config.local"
    if local_file.exists():
        local_file.chmod(0o600)  # it holds the secret key
    return config


# --- checking the remote -------------------------------------------------------------------

class RemoteUnreachable(RemoteError):
    """The S3 endpoint did not answer (connection refused, timed out, TLS failed)."""

    cause = "unreachable"


class CredentialsRefused(RemoteError):
    """The S3 endpoint answered, and refused MINIO_ACCESS_KEY / MINIO_SECRET_KEY."""

    cause = "credentials"


def check(settings: RemoteSettings, timeout_s: float = 5) -> None:
    """One HEAD request on the bucket: raise RemoteError saying what is wrong, and which variable."""
    _checked_client(settings, timeout_s)


def _checked_client(settings: RemoteSettings, timeout_s: float = 5) -> Any:
    """check(), returning the S3 client it used (short timeouts, two attempts)."""
    import botocore.session
    from botocore import exceptions as bx
    from botocore.config import Config

    where = f"S3 endpoint {settings.endpoint_url}"
    try:
        client = botocore.session.Session().create_client(
            "s3", region_name=settings.region, endpoint_url=settings.endpoint_url,
            aws_access_key_id=settings.access_key, aws_secret_access_key=settings.secret_key,
            config=Config(connect_timeout=timeout_s, read_timeout=timeout_s, signature_version="s3v4",
                          retries={"total_max_attempts": 2, "mode": "standard"},
                          s3={"addressing_style": "path"}, max_pool_connections=_HEAD_THREADS),
        )
        client.head_bucket(Bucket=settings.bucket)
        return client
    except (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError,
            bx.ConnectionClosedError) as exc:
        kind = "timed out" if isinstance(exc, (bx.ConnectTimeoutError, bx.ReadTimeoutError)) else "unreachable"
        raise RemoteUnreachable(f"{where} {kind}",
                                "check MINIO_ENDPOINT (host:port) and that the server is running") from None
    except bx.SSLError:
        raise RemoteUnreachable(f"{where}: TLS handshake failed",
                          "MINIO_USE_SSL (or https:// in MINIO_ENDPOINT) must match the server") from None
    except bx.ClientError as exc:
        raise _client_error(settings, exc) from None
    except bx.BotoCoreError as exc:
        raise RemoteError(f"{where}: {settings.redact(' '.join(str(exc).split()))}",
                          "check MINIO_ENDPOINT and MINIO_REGION") from None


def _client_error(settings: RemoteSettings, exc: object) -> RemoteError:
    response = getattr(exc, "response", {}) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    where = f"S3 endpoint {settings.endpoint_url}"
    if status in (401, 403) or code in ("403", "AccessDenied", "InvalidAccessKeyId",
                                         "SignatureDoesNotMatch", "Forbidden"):
        return CredentialsRefused(
            f"{where} refused the credentials for bucket '{settings.bucket}' (HTTP {status or code})",
            "check MINIO_ACCESS_KEY and MINIO_SECRET_KEY (and that this key may use the bucket)")
    if status == 404 or code in ("404", "NoSuchBucket", "NotFound"):
        return RemoteError(
            f"bucket '{settings.bucket}' does not exist at {settings.endpoint_url}",
            f"create it (e.g. `mc mb <alias>/{settings.bucket}`) or set MINIO_BUCKET")
    if status == 301 or code in ("PermanentRedirect", "AuthorizationHeaderMalformed"):
        return RemoteError(f"{where}: bucket '{settings.bucket}' is in another region",
                           "set MINIO_REGION to the server's region")
    return RemoteError(f"{where} answered HTTP {status} {code} for bucket '{settings.bucket}'",
                       "check MINIO_ENDPOINT points at an S3/MinIO API server")


def setup_remote(project_root: Path, params: Params,
                 environ: Mapping[str, str] | None = None) -> RemoteSettings:
    """load_settings + check + configure: afterwards a plain `dvc push` / `dvc pull` works."""
    return _setup(project_root, params, environ)[0]


def _setup(project_root: Path, params: Params,
           environ: Mapping[str, str] | None = None) -> tuple[RemoteSettings, Any, Mapping[str, Any]]:
    """setup_remote, also returning the checked S3 client and DVC's merged configuration."""
    settings = load_settings(project_root, params, environ)
    client = _checked_client(settings)
    config = configure(project_root, settings)
    return settings, client, config


# --- push and pull -------------------------------------------------------------------------

class Connection:
    """load_settings + check in a background thread, so that they overlap other work (the
    snapshot starts one while `dvc repro` runs). It only reads the environment and .env and
    sends a HEAD request: nothing DVC reads is written. result() raises what they raised."""

    def __init__(self, project_root: Path, params: Params) -> None:
        self._outcome: tuple[RemoteSettings, Any] | BaseException | None = None
        self._thread = threading.Thread(target=self._connect, args=(project_root, params),
                                        name="seedctl-remote", daemon=True)
        self._thread.start()

    def _connect(self, project_root: Path, params: Params) -> None:
        try:
            settings = load_settings(project_root, params)
            self._outcome = (settings, _checked_client(settings))
            import dvc.config  # noqa: F401 - what configure() needs, imported meanwhile
            import dvc.fs  # noqa: F401
        except BaseException as exc:  # noqa: BLE001 - handed to the caller of result()
            if self._outcome is None:
                self._outcome = exc

    def result(self) -> tuple[RemoteSettings, Any]:
        self._thread.join()
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        assert self._outcome is not None
        return self._outcome


def require_validated(seeds_dir: Path) -> str:
    """The checked-out snapshot's version if it passed validation; else ValidationFailed."""
    from seedctl.layout import LATEST_FILE, load_manifest, verify_files
    from seedctl.snapshot.validate import REPORT_FILE
    from seedctl.restore.verify import verify_records

    manifest = load_manifest(seeds_dir)
    version = str(manifest.get("version") or "")
    latest_path = seeds_dir / LATEST_FILE
    latest = latest_path.read_text(encoding="utf-8").strip() if latest_path.is_file() else ""
    refuse = "only a validated snapshot may be pushed: run `make snapshot` (or `seedctl validate`)"
    if latest != version:
        raise ValidationFailed(
            f"snapshot {version or '?'} has not passed validation "
            f"({latest_path} says {latest or 'nothing'})", refuse)
    report_path = seeds_dir / REPORT_FILE
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise ValidationFailed(f"{report_path} is missing or unreadable", refuse) from None
    if report.get("passed") is not True or report.get("version") not in (None, version):
        raise ValidationFailed(f"{report_path} does not record a pass for snapshot {version}", refuse)
    problems = verify_files(seeds_dir, manifest) + verify_records(seeds_dir.parent, manifest)
    if problems:
        raise IntegrityError(f"not pushing snapshot {version}: {problems[0]}",
                             "the files differ from the validated manifest: run `make snapshot`")
    return version


def require_in_remote(project_root: Path, params: Params) -> None:
    """RemoteError unless every file of the checked-out snapshot is in the remote."""
    settings, client, config = _setup(project_root, params)
    objects = pushed_objects(project_root, settings, config)
    if objects is not None:
        bad = _absent(client, settings, objects)
        if bad == {}:
            return
        if bad is not None:  # a definite answer from the remote itself
            key, why = next(iter(bad.items()))
            raise RemoteError(f"{len(bad)} object(s) of this snapshot are not in {settings.url} "
                              f"(e.g. {objects[key].label}: {why})",
                              "run `seedctl push` first: a tag must never name data the remote lacks")
    out = _dvc(project_root, settings, ["status", "--cloud", "--json"])
    try:
        missing = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    except (json.JSONDecodeError, IndexError):
        raise RemoteError(f"cannot read `dvc status --cloud` for {settings.url}", "run it by hand") from None
    if missing:
        first = next(iter(missing))
        raise RemoteError(f"{len(missing)} file(s) of this snapshot are not in {settings.url} (e.g. {first})",
                          "run `seedctl push` first: a tag must never name data the remote lacks")


def push(project_root: Path, params: Params, *, connection: Connection | None = None) -> PushResult:
    """Upload the checked-out, validated snapshot's data with `dvc push`.

    When the remote already holds every object `dvc push` would upload, each with the size
    of the local cache's copy (one bucket listing, or a HEAD request per object), DVC is
    not started at all. Any doubt (an unexpected DVC file or setting, a listing missing from
    the cache, a remote error other than "not found") runs `dvc push`. After a push, the
    objects that were missing or of another size must be in the remote with the right size:
    `dvc push` takes a directory's files for present whenever its listing (.dir) is, so
    those it left out are uploaded from the cache here, each checked against its md5.
    """
    version = require_validated(project_root / "seeds")
    if connection is None:
        settings, client, config = _setup(project_root, params)
    else:
        settings, client = connection.result()
        config = configure(project_root, settings)
    objects = pushed_objects(project_root, settings, config)
    bad = _absent(client, settings, objects) if objects is not None else None
    if objects and bad == {}:
        return PushResult(version=version, url=settings.url, endpoint_url=settings.endpoint_url,
                          files_pushed=0, checked=len(objects))
    stdout = _dvc(project_root, settings, ["push"])
    pushed = re.search(r"(\d+) files? pushed", stdout)
    count = int(pushed.group(1)) if pushed else (0 if "Everything is up to date" in stdout else None)
    repaired = 0
    if objects and bad:
        still = _absent(client, settings, {k: objects[k] for k in bad})
        if still:
            _upload(client, settings, {k: objects[k] for k in still})
            repaired = len(still)
            still = _absent(client, settings, {k: objects[k] for k in still})
        if still:
            key, why = next(iter(still.items()))
            raise RemoteError(f"after `dvc push`, {len(still)} object(s) are still not right in {settings.url} "
                              f"(e.g. {objects[key].label}: {why})",
                              "check the bucket (permissions, quota), then `seedctl push` again")
    return PushResult(version=version, url=settings.url, endpoint_url=settings.endpoint_url,
                      files_pushed=count, repaired=repaired)


def _upload(client: Any, settings: RemoteSettings, objects: Mapping[str, RemoteObject]) -> None:
    """Put each object from the local cache, after checking the file's md5 is its name; the
    server checks the bytes it got (Content-MD5). Server-side encryption as DVC's."""
    import base64
    import hashlib

    from botocore import exceptions as bx

    extra = {"ServerSideEncryption": settings.sse} if settings.sse else {}
    if settings.sse_kms_key_id:
        extra["SSEKMSKeyId"] = settings.sse_kms_key_id
    for key, obj in objects.items():
        digest = hashlib.md5(usedforsecurity=False)
        named = "".join(key.split("/")[-2:]).removesuffix(".dir")  # <prefix>/files/md5/ab/cdef.. -> abcdef..
        try:
            with obj.cache.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):  # noqa: B023 - fh is this iteration's
                    digest.update(block)
                if digest.hexdigest() != named or obj.size > 5 * 2**30:
                    raise RemoteError(
                        f"{obj.label} is missing from {settings.url} and its copy in the DVC cache ({obj.cache}) "
                        "does not match its md5 (or is over 5 GiB, too large for one upload)",
                        "delete that cache file and run `seedctl snapshot` again")
                fh.seek(0)
                client.put_object(Bucket=settings.bucket, Key=key, Body=fh, ContentLength=obj.size,
                                  ContentMD5=base64.b64encode(digest.digest()).decode(), **extra)
        except OSError as exc:
            raise RemoteError(f"cannot read {obj.cache} ({exc.strerror})", "run `seedctl snapshot` again") from None
        except (bx.ClientError, bx.BotoCoreError) as exc:
            raise RemoteError(f"uploading {obj.label} to {settings.url}: {settings.redact(' '.join(str(exc).split()))}",
                              "check the bucket (permissions, quota), then `seedctl push` again") from None


# --- which objects `dvc push` uploads, and whether the remote has them ---------------------

@dataclass(frozen=True)
class RemoteObject:
    """One object of the DVC remote: what it is (for messages), its copy in the local cache
    and that copy's size."""

    label: str
    size: int
    cache: Path


# What the fast path understands; anything else in the DVC project means "ask DVC".
_DVC_YAML_KEYS = {"stages", "plots", "metrics", "params"}
_OUT_KINDS = ("outs", "metrics", "plots")
_OUT_OPTIONS = {"cache", "persist", "desc", "type", "labels", "meta", "x", "y", "template", "title",
                "x_label", "y_label", "header"}
_REMOTE_OPTIONS = {"url", "endpointurl", "access_key_id", "secret_access_key", "region", "sse",
                   "sse_kms_key_id"}
_MD5 = re.compile(r"[0-9a-f]{32}(\.dir)?")


def pushed_objects(project_root: Path, settings: RemoteSettings,
                   config: Mapping[str, Any]) -> dict[str, RemoteObject] | None:
    """Remote key -> object, for every object a plain `dvc push` in project_root uploads.

    Read from dvc.yaml, dvc.lock and the local cache, the way DVC 3 lays out an S3 remote
    (<prefix>/files/md5/<2>/<30>). None whenever the answer is not certain: any DVC file
    besides the root dvc.yaml, templating, an output option or remote setting this does not
    know, a stage without a lock entry, an object missing from the local cache. DVC files
    are found with git (tracked, or untracked and not ignored; a nested repository counts as
    one): walking the tree as DVC does costs seconds where there is a virtualenv.
    """
    import yaml

    remote = (config.get("remote") or {}).get(settings.name) or {}
    if ((config.get("core") or {}).get("remote") != settings.name
            or not set(remote) <= _REMOTE_OPTIONS
            or remote.get("url") != settings.url or remote.get("endpointurl") != settings.endpoint_url
            or (config.get("cache") or {}).get("dir")):
        return None
    files = _dvc_files(project_root)
    if files is None or "dvc.yaml" not in files or not all(
            f == "dvc.yaml" or _pushes_nothing(project_root / f) for f in files):
        return None
    try:
        text = (project_root / "dvc.yaml").read_text(encoding="utf-8")
        pipeline = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        lock = yaml.load((project_root / "dvc.lock").read_text(encoding="utf-8"),
                         Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if "${" in text or not isinstance(pipeline, dict) or not set(pipeline) <= _DVC_YAML_KEYS:
        return None
    if not isinstance(lock, dict) or not isinstance(lock.get("stages"), dict):
        return None
    md5s: dict[str, str] = {}
    for name, stage in (pipeline.get("stages") or {}).items():
        if not isinstance(stage, dict) or {"foreach", "matrix", "do"} & set(stage):
            return None
        locked = lock["stages"].get(name)
        locked_outs = {str(o.get("path")): o for o in (locked or {}).get("outs") or [] if isinstance(o, dict)}
        for kind in _OUT_KINDS:
            for entry in stage.get(kind) or []:
                found = _cached_out(entry)
                if found is None:
                    return None
                path, cached = found
                if not cached:
                    continue
                out = locked_outs.get(path)
                if out is None or out.get("hash") != "md5" or not _MD5.fullmatch(str(out.get("md5"))):
                    return None
                md5s[str(out["md5"])] = path
    cache = project_root / ".dvc" / "cache" / "files" / "md5"
    objects: dict[str, RemoteObject] = {}
    for md5, path in md5s.items():
        listing = cache / md5[:2] / md5[2:]
        try:
            objects[_object_key(settings, md5)] = RemoteObject(
                f"{path} (listing {md5})" if md5.endswith(".dir") else path, listing.stat().st_size, listing)
            if not md5.endswith(".dir"):
                continue
            entries = json.loads(listing.read_bytes())
            for entry in entries:
                file_md5 = str(entry["md5"])
                if not _MD5.fullmatch(file_md5) or file_md5.endswith(".dir"):
                    return None
                cached = cache / file_md5[:2] / file_md5[2:]
                objects[_object_key(settings, file_md5)] = RemoteObject(
                    f"{path}/{entry['relpath']}", cached.stat().st_size, cached)
        except (OSError, ValueError, TypeError, KeyError):
            return None
    return objects


def _cached_out(entry: object) -> tuple[str, bool] | None:
    """(path, cached) of one dvc.yaml outs/metrics/plots entry; None when not understood."""
    if isinstance(entry, str):
        return entry, True
    if isinstance(entry, dict) and len(entry) == 1:
        path, options = next(iter(entry.items()))
        options = options or {}
        if isinstance(path, str) and isinstance(options, dict) and set(options) <= _OUT_OPTIONS:
            cached = options.get("cache", True)
            if isinstance(cached, bool):
                return path, cached
    return None


def _dvc_files(project_root: Path) -> list[str] | None:
    """The DVC files git sees in the project (tracked, or untracked and not ignored)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "-co", "--exclude-standard", "--", "dvc.yaml", "*/dvc.yaml", "*.dvc"],
            cwd=project_root, capture_output=True, check=False, stdin=subprocess.DEVNULL)
    except OSError:
        return None
    if listed.returncode:
        return None
    return sorted({p for p in listed.stdout.decode("utf-8", "replace").split("\0") if p})


def _pushes_nothing(path: Path) -> bool:
    """A dvc.yaml whose stages have no outputs at all (restore/dvc.yaml): `dvc push` uploads
    nothing for it. False for anything else, or on any doubt."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
        pipeline = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    if path.name != "dvc.yaml" or "${" in text or not isinstance(pipeline, dict) or set(pipeline) != {"stages"}:
        return False
    stages = pipeline["stages"]
    return isinstance(stages, dict) and all(
        isinstance(stage, dict) and not {"foreach", "matrix", "do", *_OUT_KINDS} & set(stage)
        for stage in stages.values())


def _object_key(settings: RemoteSettings, md5: str) -> str:
    key = f"files/md5/{md5[:2]}/{md5[2:]}"
    return f"{settings.prefix}/{key}" if settings.prefix else key


def _absent(client: Any, settings: RemoteSettings,
            objects: Mapping[str, RemoteObject]) -> dict[str, str] | None:
    """key -> why, for each object the remote lacks or holds with another size; {} when it
    has them all. None when the remote did not give a clear answer for some object.

    One listing of <prefix>/files/md5/ (1,000 objects per request) while that stays short;
    else (or when listing is not allowed) one HEAD request per object.
    """
    if not objects:
        return {}
    listed = _listed_sizes(client, settings)
    if listed is not None:
        answers = {key: _problem(settings, key, *listed.get(key, (None, "")), obj.size) for key, obj in objects.items()}
        return {key: why for key, why in answers.items() if why}
    return _head_sizes(client, settings, objects)


def _problem(settings: RemoteSettings, key: str, remote: int | None, etag: str, cached: int) -> str | None:
    """Why the remote's object is not the cache's, or None. Besides the size, the ETag: for
    an object uploaded in one part without server-side encryption it is the md5 of its bytes,
    which DVC's key names, so a damaged object of the right size is caught too."""
    if remote != cached:
        return _size_problem(remote, cached)
    tag = etag.strip('"')
    named = "".join(key.split("/")[-2:]).removesuffix(".dir")
    if not settings.sse and _MD5.fullmatch(tag) and tag != named:
        return "corrupt in the remote (its md5 is not the one its name says)"
    return None


def _size_problem(remote: int | None, cached: int) -> str:
    return "not in the remote" if remote is None else f"{remote} bytes in the remote, {cached} in the cache"


def _listed_sizes(client: Any, settings: RemoteSettings) -> dict[str, tuple[int, str]] | None:
    """Key -> (size, ETag) of every object under <prefix>/files/md5/; None when that takes
    more than _LIST_PAGES requests or the listing fails."""
    from botocore import exceptions as bx

    prefix = f"{settings.prefix}/files/md5/" if settings.prefix else "files/md5/"
    sizes: dict[str, tuple[int, str]] = {}
    request: dict[str, Any] = {"Bucket": settings.bucket, "Prefix": prefix, "MaxKeys": 1000}
    try:
        for _ in range(_LIST_PAGES):
            page = client.list_objects_v2(**request)
            sizes.update((str(o["Key"]), (int(o["Size"]), str(o.get("ETag", "")))) for o in page.get("Contents", []))
            if not page.get("IsTruncated"):
                return sizes
            request["ContinuationToken"] = page["NextContinuationToken"]
    except (bx.ClientError, bx.BotoCoreError, KeyError, ValueError, TypeError):
        return None
    return None


def _head_sizes(client: Any, settings: RemoteSettings,
                objects: Mapping[str, RemoteObject]) -> dict[str, str] | None:
    from concurrent.futures import ThreadPoolExecutor

    from botocore import exceptions as bx

    def head(key: str) -> str | None | bool:
        try:
            answer = client.head_object(Bucket=settings.bucket, Key=key)
            size, etag = int(answer["ContentLength"]), str(answer.get("ETag", ""))
        except bx.ClientError as exc:
            status = (getattr(exc, "response", None) or {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            return _size_problem(None, objects[key].size) if status == 404 else False
        except (bx.BotoCoreError, KeyError, ValueError):
            return False
        return _problem(settings, key, size, etag, objects[key].size)

    with ThreadPoolExecutor(max_workers=min(_HEAD_THREADS, len(objects))) as pool:
        answers = dict(zip(objects, pool.map(head, objects)))
    if any(answer is False for answer in answers.values()):
        return None
    return {key: answer for key, answer in answers.items() if isinstance(answer, str)}


def pull(project_root: Path, params: Params) -> Fetched:
    """Make the checked-out snapshot's files in seeds/ match its manifest: from the DVC cache,
    else the remote; any file or cached object whose bytes do not match is moved to
    .dvc/tmp/quarantine/ and fetched again (where `dvc pull` would say "Everything is up to
    date"). RemoteError naming the first file that could not be had, and why.
    """
    from seedctl.store.fetch import Quarantine, fetch, lock_listings, open_remote, quarantine_root, wanted_files
    from seedctl.layout import load_manifest

    seeds = project_root / "seeds"
    reader = open_remote(project_root, params)  # configured and answering, as `dvc pull` needs too
    fetched = fetch(project_root, seeds, wanted_files(load_manifest(seeds)), remote=lambda: reader,
                    quarantine=Quarantine(quarantine_root(project_root)), listings=lock_listings(project_root), complete_listings=True)
    if fetched.failures:
        rel, failure = next(iter(fetched.failures.items()))
        more = f" ({len(fetched.failures)} files in all)" if len(fetched.failures) > 1 else ""
        raise RemoteError(f"seeds/{rel} could not be fetched{more}: {failure.detail}", failure.advice)
    return fetched


def _dvc_command(project_root: Path, args: list[str], *, warm: bool = False) -> DvcWhenTold:
    """`python -m dvc <args>` in the project (this interpreter's DVC), for _dvc to run.

    DVC reads the remote's keys from .dvc/config.local only: nothing is added to its
    environment.
    """
    from seedctl.progress import interactive
    from seedctl.tools import DvcWhenTold

    return DvcWhenTold(args, dvc_command=[sys.executable, "-m", "dvc"], warm=warm, cwd=project_root,
                       env={**os.environ, "DVC_NO_ANALYTICS": "1"}, stdout=subprocess.PIPE,
                       stderr=None if interactive() else subprocess.PIPE, stdin=subprocess.DEVNULL)


def _dvc(project_root: Path, settings: RemoteSettings, command: list[str] | DvcWhenTold) -> str:
    """Run `dvc <args>` (a list, or a command from _dvc_command); its stdout, or RemoteError.

    Its output is passed on with the keys redacted.
    """
    if isinstance(command, list):
        command = _dvc_command(project_root, command)
    args = command.args
    try:
        result = command.run()
    except OSError as exc:
        raise RemoteError(f"cannot run dvc ({exc.strerror})", "run `make setup`") from None
    if result.stdout:
        sys.stdout.write(settings.redact(result.stdout))
        sys.stdout.flush()
    if result.returncode:
        for line in (result.stderr or "").splitlines():
            if not _DVC_NOISE.match(line):
                print(settings.redact(line), file=sys.stderr)
        raise RemoteError(
            f"dvc {args[0]} failed (exit {result.returncode}) with remote {settings.name} "
            f"({settings.url} at {settings.endpoint_url})",
            "see the lines above; check MINIO_ENDPOINT and the bucket, then `make remote`")
    return result.stdout


def pulled_summary(fetched: Fetched, remote: str) -> str:
    """One line: where the files came from, and what was moved aside."""
    counts = {where: sum(1 for v in fetched.found.values() if v == where) for where in ("local", "cache", "remote")}
    line = (f"snapshot data in seeds/: {counts['local']} file(s) already right, {counts['cache']} from the "
            f"DVC cache, {counts['remote']} from remote {remote}")
    if fetched.quarantined:
        line += (f"; {len(fetched.quarantined)} damaged file(s) moved aside to "
                 f"{_folder(fetched.quarantined[0])}")
    return line


def _folder(path: Path) -> Path:
    """The quarantine run folder (.dvc/tmp/quarantine/<time>) a moved file is in."""
    for parent in path.parents:
        if parent.parent.name == "quarantine":
            return parent
    return path.parent


# --- entry point ---------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """`python -m seedctl.store.remote [setup|push|pull] [--params params.yaml]` (for make)."""
    import argparse

    from seedctl.config import load_params
    from seedctl.errors import run_guarded

    parser = argparse.ArgumentParser(prog="python -m seedctl.store.remote", description=main.__doc__)
    parser.add_argument("action", nargs="?", choices=("setup", "push", "pull"), default="setup")
    parser.add_argument("--params", type=Path,
                        default=Path(os.environ.get("SEEDCTL_PARAMS", "params.yaml")))
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)

    def go() -> None:
        params = load_params(args.params)
        root = args.params.resolve().parent
        if args.action == "setup":
            s = setup_remote(root, params)
            print(f"remote {s.name}: {s.url} at {s.endpoint_url} (bucket '{s.bucket}' reachable); "
                  "endpoint and keys in .dvc/config.local")
        elif args.action == "push":
            print(push(root, params))
        else:
            print(pulled_summary(pull(root, params), params.storage.remote))

    return run_guarded(go, verbose=args.verbose)


if __name__ == "__main__":
    raise SystemExit(main())

