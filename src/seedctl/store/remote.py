"""`seedctl remote`: the checked settings written into DVC's configuration.

`configure` writes the remote (name and URL, nothing secret) to the git-tracked
.dvc/config and the endpoint and keys to the git-ignored .dvc/config.local, so that a plain
`dvc push` / `dvc pull` works afterwards and `dvc` never sees the keys any other way.
Its own module because it needs settings, DVC and S3 together: settings.py stays below both
(dvc.py and s3.py take a RemoteSettings), so the three never import each other in a circle.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from seedctl.config import Params
from seedctl.errors import RemoteError
from seedctl.store import dvc
from seedctl.store.s3 import checked_client
from seedctl.store.settings import RemoteSettings, load_settings


def configure(project_root: Path, settings: RemoteSettings) -> Mapping[str, Any]:
    """Write the DVC remote: name and URL to .dvc/config, endpoint and keys to .dvc/config.local
    (made readable by its owner only). Returns DVC's configuration, all levels merged."""
    dvc_dir = project_root / ".dvc"
    if not dvc_dir.is_dir():
        raise RemoteError(f"{project_root} is not a DVC project (no .dvc directory)", "run from the project root")
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
    config = dvc.configure_remote(
        dvc_dir,
        settings.name,
        tracked_url,
        local_remote,
        managed=("url", "sse", "sse_kms_key_id"),
        redact=settings.redact,
    )
    local_file = dvc_dir / "config.local"
    if local_file.exists():
        local_file.chmod(0o600)  # it holds the secret key
    return config


def setup_remote(project_root: Path, params: Params, environ: Mapping[str, str] | None = None) -> RemoteSettings:
    """load_settings + check + configure: afterwards a plain `dvc push` / `dvc pull` works."""
    return connect(project_root, params, environ)[0]


def connect(
    project_root: Path, params: Params, environ: Mapping[str, str] | None = None
) -> tuple[RemoteSettings, Any, Mapping[str, Any]]:
    """setup_remote, also returning the checked S3 client and DVC's merged configuration."""
    settings = load_settings(project_root, params, environ)
    client = checked_client(settings)
    config = configure(project_root, settings)
    return settings, client, config
