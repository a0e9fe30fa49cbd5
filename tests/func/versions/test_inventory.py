"""Seeing what you have: `seedctl list`, `show VERSION [--html]`, `diff A B`, and DVC's own
`metrics diff` / `plots show` / `plots diff` across two real, pushed snapshot versions.

Two snapshots of the small sample data, with known changes between them, are made once
for this module (real PostgreSQL, moto_server over HTTP, dvc and git).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from seedctl_dev import sample
from seedctl_dev.devs3 import S3Server
from seedctl_dev.devserver import TempPostgres
from tests.helpers import SMALL_SCALE, Project, make_project, small_params

OHLCV, MACRO, TRADES = "usdcop_m5_ohlcv", "macro_indicators_daily", "trades_history"
CHANGED_BARS = 7
DELETED_TRADES = (2, 5)
CHANGED_TRADES = (3, 4, 8)


@dataclass
class Versions:
    project: Project
    s3_env: dict[str, str]
    s3: S3Server
    tag_a: str
    tag_b: str
    rows_a: dict[str, int]
    rows_b: dict[str, int]
    gap_month: str  # every bar of this month was deleted between A and B
    gap_rows: int
    appended: int  # bars appended between A and B


def counts(project: Project) -> dict[str, int]:
    return {t: project.sql(f"SELECT count(*) FROM {t}")[0][0] for t in (OHLCV, MACRO, TRADES)}


def snapshot(project: Project, env: dict[str, str]) -> str:
    result = project.seedctl("snapshot", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    tagged = [line for line in result.stdout.splitlines() if line.startswith("committed and tagged ")]
    assert tagged, result.stdout
    return tagged[0].split()[-1]


@pytest.fixture(scope="module")
def versions(
    tmp_path_factory: pytest.TempPathFactory, pg_server: TempPostgres, s3_server: S3Server
) -> Iterator[Versions]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name)
    bucket = f"seedctl-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(bucket)
    s3_env = {
        "MINIO_ENDPOINT": s3_server.endpoint,
        "MINIO_ACCESS_KEY": s3_server.access_key,
        "MINIO_SECRET_KEY": s3_server.secret_key,
        "MINIO_BUCKET": bucket,
        "MINIO_USE_SSL": "false",
    }
    try:
        project = make_project(tmp_path_factory.mktemp("versions") / "repo", url)
        with psycopg.connect(url) as conn:
            sample.load_sample_data(conn, scale=SMALL_SCALE)
        small_params(project)
        params = project.params()
        params["validation"]["allow_shrinking_history"] = True  # B deletes a past month on purpose
        project.write_params(params)
        project.commit_all("small params")

        rows_a = counts(project)
        tag_a = snapshot(project, s3_env)

        months = project.sql(
            f"SELECT to_char(time AT TIME ZONE 'UTC', 'YYYY-MM') m, count(*) FROM {OHLCV} GROUP BY 1 ORDER BY 1"
        )
        gap_month, gap_rows = months[len(months) // 2]
        project.sql(f"DELETE FROM {OHLCV} WHERE to_char(time AT TIME ZONE 'UTC', 'YYYY-MM') = %s", gap_month)
        project.sql(
            f"UPDATE {OHLCV} SET volume = volume + 1 WHERE time IN "
            f"(SELECT time FROM {OHLCV} ORDER BY time LIMIT {CHANGED_BARS})"
        )
        with psycopg.connect(url) as conn:
            appended = sample.append_ohlcv_week(conn)
        project.sql(f"ALTER TABLE {MACRO} ADD COLUMN source text NOT NULL DEFAULT 'fred'")
        project.sql(f"DELETE FROM {TRADES} WHERE id = ANY(%s)", list(DELETED_TRADES))
        project.sql(f"UPDATE {TRADES} SET strategy = 'changed' WHERE id = ANY(%s)", list(CHANGED_TRADES))
        project.sql(
            f"INSERT INTO {TRADES} (opened_at, side, entry_price, quantity) "
            "VALUES ('2026-01-15 17:00+00', 'short', 3700, 1000)"
        )
        rows_b = counts(project)
        tag_b = snapshot(project, s3_env)
        yield Versions(project, s3_env, s3_server, tag_a, tag_b, rows_a, rows_b, gap_month, gap_rows, appended)
    finally:
        pg_server.drop_database(name)


def manifest_at(project: Project, tag: str) -> dict[str, Any]:
    return json.loads(project.git("show", f"{tag}:seeds/manifest.json"))


def test_list_shows_every_version_and_what_the_remote_still_holds(versions: Versions) -> None:
    p = versions.project
    listed = p.seedctl("list", "--json", env=versions.s3_env)
    assert listed.returncode == 0, listed.stderr
    doc = json.loads(listed.stdout)
    by_tag = {v["tag"]: v for v in doc["versions"]}
    assert [v["tag"] for v in doc["versions"]] == [versions.tag_b, versions.tag_a]  # newest first
    assert by_tag[versions.tag_a]["rows"] == versions.rows_a
    assert by_tag[versions.tag_b]["rows"] == versions.rows_b
    for tag in (versions.tag_a, versions.tag_b):
        manifest = manifest_at(p, tag)
        assert by_tag[tag]["total_bytes"] == sum(t["size_bytes"] for t in manifest["tables"].values())
        assert by_tag[tag]["version"] == manifest["version"]
        assert by_tag[tag]["remote"] == "complete" and by_tag[tag]["missing"] == []

    text = p.seedctl("list", env=versions.s3_env)
    assert text.returncode == 0, text.stderr
    line_a = next(line for line in text.stdout.splitlines() if versions.tag_a + " " in line)
    assert f"{versions.rows_a[OHLCV]:,}" in line_a and f"{versions.rows_a[MACRO]:,}" in line_a
    assert "complete" in line_a

    # Lose version A's price file from the bucket: A can no longer be restored, B still can.
    # (the newest month's file: B appended bars to it, so only A needs this object)
    newest = manifest_at(p, versions.tag_a)["tables"][OHLCV]["parts"][-1]
    md5 = newest["md5"]
    assert md5 not in {q["md5"] for q in manifest_at(p, versions.tag_b)["tables"][OHLCV]["parts"]}
    versions.s3.client().delete_object(
        Bucket=versions.s3_env["MINIO_BUCKET"], Key=f"seedctl/files/md5/{md5[:2]}/{md5[2:]}"
    )
    try:
        after = json.loads(p.seedctl("list", "--json", env=versions.s3_env).stdout)
        states = {v["tag"]: (v["remote"], v["missing"]) for v in after["versions"]}
        assert states == {versions.tag_a: ("missing", [newest["file"]]), versions.tag_b: ("complete", [])}
        text = p.seedctl("list", env=versions.s3_env)
        line_a = next(line for line in text.stdout.splitlines() if versions.tag_a + " " in line)
        assert "1 object missing" in line_a
    finally:  # put it back (from the DVC cache) for the other tests
        cached = p.root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
        versions.s3.client().put_object(
            Bucket=versions.s3_env["MINIO_BUCKET"],
            Key=f"seedctl/files/md5/{md5[:2]}/{md5[2:]}",
            Body=cached.read_bytes(),
        )

    env = {k: "" for k in versions.s3_env}
    unconfigured = p.seedctl("list", env=env)
    assert unconfigured.returncode == 0, unconfigured.stderr
    assert "remote: not configured" in unconfigured.stdout
    assert versions.tag_a in unconfigured.stdout and versions.tag_b in unconfigured.stdout

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{sock.getsockname()[1]}"
    down = p.seedctl("list", "--json", env={**versions.s3_env, "MINIO_ENDPOINT": closed})
    assert down.returncode == 0, down.stderr
    doc = json.loads(down.stdout)
    assert {v["remote"] for v in doc["versions"]} == {"unknown"}  # not "missing": we could not ask
    assert closed in doc["remote_problem"] and "unreachable" in doc["remote_problem"]


def test_show_a_version_from_git(versions: Versions) -> None:
    p = versions.project
    manifest_a = manifest_at(p, versions.tag_a)
    for name in (versions.tag_a, versions.tag_a.removeprefix("seeds/v")):
        shown = p.seedctl("show", name, "--json")
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout) == manifest_a
    text = p.seedctl("show", versions.tag_a)
    assert text.returncode == 0, text.stderr
    assert manifest_a["version"] in text.stdout and versions.tag_a in text.stdout
    for table, rows in versions.rows_a.items():
        line = next(line for line in text.stdout.splitlines() if f" {table} " in line)
        assert f"{rows:,}" in line
        assert manifest_a["tables"][table]["sha256"][:12] in line
    latest = p.seedctl("show", "latest", "--json")
    assert json.loads(latest.stdout)["version"] == manifest_at(p, versions.tag_b)["version"]
    unknown = p.seedctl("show", "1999.01.01")
    assert unknown.returncode == 1 and "no snapshot version '1999.01.01'" in unknown.stderr


def expected_diff(versions: Versions) -> dict[str, dict[str, Any]]:
    return {
        OHLCV: {
            "rows_a": versions.rows_a[OHLCV],
            "rows_b": versions.rows_b[OHLCV],
            "added": versions.appended,
            "removed": versions.gap_rows,
            "changed": CHANGED_BARS,
            "changed_columns": {"volume": CHANGED_BARS},
            "columns_added": [],
            "columns_removed": [],
            "types_changed": {},
        },
        MACRO: {
            "rows_a": versions.rows_a[MACRO],
            "rows_b": versions.rows_b[MACRO],
            "added": 0,
            "removed": 0,
            "changed": 0,
            "changed_columns": {},
            "columns_added": ["source"],
            "columns_removed": [],
            "types_changed": {},
        },
        TRADES: {
            "rows_a": versions.rows_a[TRADES],
            "rows_b": versions.rows_b[TRADES],
            "added": 1,
            "removed": len(DELETED_TRADES),
            "changed": len(CHANGED_TRADES),
            "changed_columns": {"strategy": len(CHANGED_TRADES)},
            "columns_added": [],
            "columns_removed": [],
            "types_changed": {},
        },
    }


def check_diff(doc: dict[str, Any], versions: Versions) -> None:
    keys = (
        "rows_a",
        "rows_b",
        "added",
        "removed",
        "changed",
        "changed_columns",
        "columns_added",
        "columns_removed",
        "types_changed",
    )
    got = {t["table"]: {k: t[k] for k in keys} for t in doc["tables"]}
    assert got == expected_diff(versions)
    ohlcv = next(t for t in doc["tables"] if t["table"] == OHLCV)
    assert ohlcv["date_range_a"]["min"] == ohlcv["date_range_b"]["min"]
    assert ohlcv["date_range_a"]["max"] < ohlcv["date_range_b"]["max"]  # a week was appended


def test_diff_by_primary_key_from_the_cache_and_from_the_remote(versions: Versions, tmp_path: Path) -> None:
    p = versions.project
    result = p.seedctl("diff", versions.tag_a, versions.tag_b, "--json")
    assert result.returncode == 0, result.stderr
    check_diff(json.loads(result.stdout), versions)

    text = p.seedctl("diff", versions.tag_a, "latest")
    assert text.returncode == 0, text.stderr
    line = next(line for line in text.stdout.splitlines() if f" {TRADES} " in line)
    cells = [c.strip() for c in line.split("│")[1:-1]]
    assert cells[:6] == [TRADES, f"{versions.rows_a[TRADES]:,}", f"{versions.rows_b[TRADES]:,}", "1", "2", "3"]
    assert "+source" in text.stdout
    assert f"{OHLCV}: changed rows per column: volume {CHANGED_BARS}" in text.stdout

    # A new server: a git clone, no DVC cache: both versions' data come from the remote.
    clone_root = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(p.root), str(clone_root)], check=True, capture_output=True)
    subprocess.run(["git", "fetch", "-q", "--tags"], cwd=clone_root, check=True, capture_output=True)
    clone = Project(clone_root, dict(p.env), p.database_url)
    remote = clone.seedctl("diff", versions.tag_a, versions.tag_b, "--json", env=versions.s3_env)
    assert remote.returncode == 0, remote.stderr
    check_diff(json.loads(remote.stdout), versions)
    assert not list(clone_root.glob("seeds/data/*"))  # the work tree was not touched

    shutil.rmtree(clone_root / ".dvc" / "cache", ignore_errors=True)
    no_remote = clone.seedctl("diff", versions.tag_a, versions.tag_b, env={k: "" for k in versions.s3_env})
    assert no_remote.returncode == 7 and "MINIO_ENDPOINT" in no_remote.stderr


def test_dvc_metrics_and_coverage_plots_across_versions(versions: Versions, tmp_path: Path) -> None:
    p = versions.project
    coverage_a = p.git("show", f"{versions.tag_a}:seeds/reports/coverage.csv").splitlines()
    coverage_b = p.git("show", f"{versions.tag_b}:seeds/reports/coverage.csv").splitlines()
    assert coverage_a[0] == coverage_b[0] == "month,table,rows"
    assert f"{versions.gap_month},{OHLCV},{versions.gap_rows}" in coverage_a
    assert f"{versions.gap_month},{OHLCV},0" in coverage_b  # the gap, visible
    assert {line.split(",")[1] for line in coverage_b[1:]} == {OHLCV, MACRO, TRADES}
    assert sum(int(line.split(",")[2]) for line in coverage_a[1:] if f",{OHLCV}," in line) == versions.rows_a[OHLCV]
    assert "seeds/reports/coverage.csv" in p.git("ls-files", "seeds/reports")

    metrics = p.run("dvc", "metrics", "diff", versions.tag_a)
    assert metrics.returncode == 0, metrics.stderr
    assert "validation.json" in metrics.stdout

    shown = p.run("dvc", "plots", "show", "-o", str(tmp_path / "show"))
    assert shown.returncode == 0, shown.stderr
    page = (tmp_path / "show" / "index.html").read_text()
    assert all(t in page for t in (OHLCV, MACRO, TRADES))

    diffed = p.run("dvc", "plots", "diff", versions.tag_a, versions.tag_b, "-o", str(tmp_path / "diff"))
    assert diffed.returncode == 0, diffed.stderr
    page = (tmp_path / "diff" / "index.html").read_text()
    assert versions.tag_a in page and versions.tag_b in page and OHLCV in page


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    if os.geteuid() != 0:
        pytest.skip("no chromium on PATH and not root to install it (make test installs it as root)")
    pytest.fail("chromium is not installed (make test installs Debian's chromium package as root)")


def headless(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_html_report_renders_offline_in_headless_chromium(versions: Versions, tmp_path: Path) -> None:
    browser = chromium()
    p = versions.project
    report = tmp_path / "report.html"
    shown = p.seedctl("show", versions.tag_b, "--html", str(report))
    assert shown.returncode == 0, shown.stderr
    source = report.read_text()
    assert "http://" not in source and "https://" not in source and "src=" not in source  # self-contained

    dom = headless(browser, tmp_path / "profile", "--dump-dom", report.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert 'data-rendered="yes"' in html  # the page's script ran: it was laid out
    manifest_b = manifest_at(p, versions.tag_b)
    for table, entry in manifest_b["tables"].items():
        series = next(part for part in html.split("<path")[1:] if f'data-table="{table}"' in part.split(">")[0])
        head = series.split(">")[0]
        assert f'data-rows="{sum(entry["rows_per_month"].values())}"' in head
        width, height = head.split('data-rendered="')[1].split('"')[0].split("x")
        assert int(width) > 100 and int(height) > 0, head
    assert f'class="gap" data-month="{versions.gap_month}"' in html

    shot = tmp_path / "report.png"
    taken = headless(browser, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1000,1100", report.as_uri())
    assert taken.returncode == 0 and shot.stat().st_size > 10_000, taken.stderr[-2000:]
    keep = os.environ.get("SEEDCTL_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
