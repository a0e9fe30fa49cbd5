"""Files of a snapshot edited by hand: a data file, the manifest, checksums.sha256, dvc.lock.
Each is detected by the commands that rely on it, named, and refused; nothing tampered is
ever loaded or pushed.

Covered elsewhere (not repeated here):
tests/func/restore/test_restore.py::test_file_not_matching_manifest_is_never_loaded (a damaged
data file is replaced from the DVC cache, or refused with the database untouched),
tests/func/restore/test_restore.py::test_edited_manifest_checksum_is_refused (a manifest sha256
edited), tests/func/restore/test_remote_restore.py::test_corrupt_remote_object_is_refused_then_fallback_used.
"""

from __future__ import annotations

import json
import re

from seedctl_dev.devs3 import S3Server
from tests.helpers import Project, one_error_line, state

# One monthly part of the bars (the sample starts on 2020-01-02).
DATA = "seeds/data/usdcop_m5_ohlcv/2020-01.parquet"


def flip_byte(project: Project, rel: str) -> None:
    """Change one byte in the middle of the file: same size, different content."""
    path = project.root / rel
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def edit_manifest(project: Project, change: callable) -> None:  # type: ignore[valid-type]
    path = project.seeds / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def test_edited_data_file_is_named_by_verify_status_and_push(
    snapshotted: Project, s3_server: S3Server, s3_env: dict[str, str]
) -> None:
    flip_byte(snapshotted, DATA)

    verify = snapshotted.seedctl("verify")
    line = one_error_line(verify, DATA, "sha256")
    assert verify.returncode == 6, line

    status = snapshotted.seedctl("status")
    assert status.returncode == 6 and DATA in status.stdout + status.stderr, status.stdout + status.stderr
    one_error_line(status)

    push = snapshotted.seedctl("push", env=s3_env)
    line = one_error_line(push, DATA, "not pushing")
    assert push.returncode == 6, line
    assert s3_server.keys(s3_env["MINIO_BUCKET"]) == []


def test_edited_content_checksum_in_the_manifest_rolls_the_restore_back(snapshotted: Project, target: str) -> None:
    """The manifest's content checksum is what a restore verifies before COMMIT: edited, the
    loaded rows cannot match it, and the whole restore rolls back naming the table."""
    edit_manifest(snapshotted, lambda m: m["tables"]["trades_history"].update(content_checksum="12345"))
    before = state(target)

    result = snapshotted.seedctl("restore", env={"DATABASE_URL": target})

    line = one_error_line(result, "trades_history", "checksum")
    assert result.returncode == 8, line
    assert state(target) == before


def test_manifest_that_is_not_json_is_named(snapshotted: Project, target: str) -> None:
    (snapshotted.seeds / "manifest.json").write_text('{"version": "2026.01.01-deadbeef", "tables": {')
    for command in (("verify",), ("status",), ("restore",)):
        result = snapshotted.seedctl(*command, env={"DATABASE_URL": target})
        line = one_error_line(result, "manifest.json", "not valid JSON")
        assert result.returncode == 6, (command, line)
    assert state(target)["contents"] == {}


def test_injected_index_definition_is_refused_before_anything_runs(snapshotted: Project, target: str) -> None:
    """An edited manifest cannot smuggle a second statement into the restore's DDL."""

    def inject(m: dict) -> None:
        m["tables"]["usdcop_m5_ohlcv"]["schema"]["indexes"] = [
            "CREATE INDEX x ON public.usdcop_m5_ohlcv (time); DROP TABLE keepme"
        ]

    edit_manifest(snapshotted, inject)
    from seedctl_dev.testing import run_sql

    run_sql(target, "CREATE TABLE keepme (id int); INSERT INTO keepme VALUES (1)")
    before = state(target)

    result = snapshotted.seedctl("restore", env={"DATABASE_URL": target})

    line = one_error_line(result, "usdcop_m5_ohlcv")
    assert result.returncode == 6, line
    assert state(target) == before


def test_edited_row_count_in_the_manifest_is_detected(snapshotted: Project) -> None:
    edit_manifest(snapshotted, lambda m: m["tables"]["macro_indicators_daily"].update(rows=999_999))

    verify = snapshotted.seedctl("verify")

    one_error_line(verify, "macro_indicators_daily", "rows")


def test_edited_checksums_file_is_detected(snapshotted: Project) -> None:
    path = snapshotted.seeds / "checksums.sha256"
    path.write_text(re.sub(r"^[0-9a-f]{64}", "0" * 64, path.read_text(), count=1))

    verify = snapshotted.seedctl("verify")

    one_error_line(verify, "checksums.sha256")


def test_edited_dvc_lock_is_refused_by_push(snapshotted: Project, s3_server: S3Server, s3_env: dict[str, str]) -> None:
    """dvc.lock names the objects a push uploads and a pull fetches; pointing it elsewhere by
    hand must not upload or tag anything."""
    lock = snapshotted.root / "dvc.lock"
    text = lock.read_text()
    data_md5 = re.search(r"path: seeds/data\n\s+hash: md5\n\s+md5: ([0-9a-f]{32})\.dir", text)
    assert data_md5, text
    lock.write_text(text.replace(data_md5.group(1), "0" * 32))

    push = snapshotted.seedctl("push", env=s3_env)

    assert push.returncode != 0, push.stdout + push.stderr
    assert "Traceback" not in push.stderr
    assert s3_server.keys(s3_env["MINIO_BUCKET"]) == []


def test_edited_dvc_lock_is_named_by_verify(snapshotted: Project) -> None:
    lock = snapshotted.root / "dvc.lock"
    text = lock.read_text()
    md5 = re.search(r"path: seeds/schema.json\n\s+hash: md5\n\s+md5: ([0-9a-f]{32})", text)
    assert md5, text
    lock.write_text(text.replace(md5.group(1), "0" * 32))

    verify = snapshotted.seedctl("verify")

    one_error_line(verify, "dvc.lock")
