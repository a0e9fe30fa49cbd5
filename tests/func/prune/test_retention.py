"""Tiered retention end to end (backup.retention): six pushed snapshots, tagged at chosen
times across hours, days, weeks and months, pruned through the real CLI, dvc and git against
a real S3 API server; then one more snapshot by the hourly cron line itself (snapshot, then
`prune --yes`, as cron runs it). Every kept version still restores; every removed one is
gone from git, the bucket catalog and the objects nothing kept needs.

A snapshot is "taken at" a chosen time by running it with GIT_COMMITTER_DATE set: its
annotated tag, whose time retention reads, gets that time (the tag names stay those of the
real day: seeds/vYYYY.MM.DD-N).
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from seedctl_dev import sample
from seedctl_dev.devs3 import S3Server
from seedctl_dev.devserver import TempPostgres
from tests.func.prune.test_prune import (
    CHANGES,
    assert_catalog_consistent,
    contents,
    fresh_clone,
    index,
    key,
    objects_of,
    take_snapshots,
    version_name,
    version_tags,
)
from tests.helpers import SMALL_SCALE, Project, make_project, small_params

# When each of the six is taken (UTC), oldest first; 2026-12-07 is a Monday (ISO week 50).
TAKEN = [
    "2026-11-02T10:00:00Z",  # 0: Nov, W45                         -> pruned
    "2026-11-23T09:00:00Z",  # 1: the newest of November           -> monthly 2026-11
    "2026-12-06T22:10:00Z",  # 2: the newest of Dec 6 and of W49    -> daily, weekly
    "2026-12-07T08:05:00Z",  # 3: hour 08, but not its newest       -> pruned
    "2026-12-07T08:40:00Z",  # 4: the newest of hour 08            -> hourly
    "2026-12-07T09:00:00Z",  # 5: the newest of all                -> every tier
]
# Taken later by the hourly cron line: hour 10 makes hour 08 the third hour, so 4 goes.
CRON_TAKEN = "2026-12-07T10:00:00Z"
RETENTION = {"hourly": 2, "daily": 2, "weekly": 2, "monthly": 2}
HOURLY = "0 * * * *"


@dataclass
class Tiered:
    project: Project
    env: dict[str, str]
    tags: list[str]  # oldest first, as TAKEN
    dumps: dict[str, dict[str, list[str]]]  # tag -> the source database when it was taken


@pytest.fixture(scope="module")
def tiered(pg_server: TempPostgres, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tiered]:
    name = f"tiers_{uuid.uuid4().hex[:10]}"
    url = pg_server.create_database(name)
    project = make_project(tmp_path_factory.mktemp("tiers") / "repo", url)
    with psycopg.connect(url) as conn:
        sample.load_sample_data(conn, scale=SMALL_SCALE)
    small_params(project)
    params = project.params()
    del params["backup"]["retention_count"]  # one or the other: retention replaces it
    params["backup"]["retention"] = RETENTION
    project.write_params(params)
    project.commit_all("small params, tiered retention")
    env = s3_server.new_bucket("tiers")
    assert len(TAKEN) == len(CHANGES)
    tags, dumps = take_snapshots(project, url, env, CHANGES, TAKEN)
    try:
        yield Tiered(project, env, tags, dumps)
    finally:
        pg_server.drop_database(name)


def status_of(stdout: str, tag: str) -> str:
    """The status cell of tag's row in the prune plan table (one reason a line), as one line."""
    lines = stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if re.search(rf"│ {re.escape(tag)}\s", line)), None)
    assert start is not None, stdout
    cells = [lines[start].split("│")[-2].strip()]
    for line in lines[start + 1 :]:  # the row's further lines: its first cell is empty
        parts = line.split("│")
        if len(parts) < 3 or parts[1].strip():
            break
        cells.append(parts[-2].strip())
    return " ".join(c for c in cells if c)


def test_tag_times_are_the_chosen_ones(tiered: Tiered) -> None:
    for tag, when in zip(tiered.tags, TAKEN, strict=True):
        tagged = tiered.project.git("for-each-ref", "--format=%(creatordate:iso-strict)", f"refs/tags/{tag}")
        assert tagged.strip().replace("+00:00", "Z") == when, tag


def test_tiers_prune_end_to_end_and_every_kept_version_restores(
    tiered: Tiered, s3_server: S3Server, pg_server: TempPostgres, tmp_path: Path
) -> None:
    project, tags, bucket = tiered.project, tiered.tags, tiered.env["MINIO_BUCKET"]
    names = {t: version_name(project, t) for t in tags}
    # A second tag on the commit of a kept version, dated October (outside every tier): it goes,
    # the catalog entry it shares with the kept one stays.
    alias = "seeds/v2026.10.05"
    dated = {**project.env, "GIT_COMMITTER_DATE": "2026-10-05T12:00:00Z"}
    subprocess.run(["git", "tag", "-a", alias, "-m", "a second tag", tags[2]], cwd=project.root, env=dated, check=True)

    dry = project.seedctl("prune", env=tiered.env)

    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("retention (backup.retention): hourly 2, daily 2, weekly 2, monthly 2\n")
    assert status_of(dry.stdout, tags[5]) == (
        "kept: hourly 2026-12-07T09 daily 2026-12-07 weekly 2026-W50 monthly 2026-12"
    )
    assert status_of(dry.stdout, tags[4]) == "kept: hourly 2026-12-07T08"
    assert status_of(dry.stdout, tags[2]) == "kept: daily 2026-12-06 weekly 2026-W49"
    assert status_of(dry.stdout, tags[1]) == "kept: monthly 2026-11"
    assert status_of(dry.stdout, tags[3]) == status_of(dry.stdout, tags[0]) == status_of(dry.stdout, alias) == "pruned"
    assert f"would prune 3 versions ({alias}, {tags[0]}, {tags[3]})" in dry.stdout, dry.stdout
    assert len(version_tags(project)) == 7

    kept = [tags[1], tags[2], tags[4], tags[5]]
    needed = set().union(*(objects_of(project, t) for t in kept))
    only_pruned = (objects_of(project, tags[0]) | objects_of(project, tags[3])) - needed
    assert only_pruned  # the test would prove nothing if the pruned versions shared everything

    result = project.seedctl("prune", "--yes", env=tiered.env)

    assert result.returncode == 0, result.stderr
    assert (
        f"pruned 3 versions ({alias}, {tags[0]}, {tags[3]}), deleted {len(only_pruned)} objects and 2 catalog entries"
        in result.stdout
    ), result.stdout
    assert version_tags(project) == sorted(kept)
    keys = set(s3_server.keys(bucket))
    assert {key(m) for m in needed} <= keys  # pruning never breaks a kept version
    assert not {key(m) for m in only_pruned} & keys
    listed = index(s3_server, bucket)
    assert [v["version"] for v in listed["versions"]] == [names[t] for t in reversed(kept)]
    assert not [k for k in keys for t in (tags[0], tags[3]) if k.startswith(f"seedctl/{names[t]}/")]
    assert_catalog_consistent(s3_server, bucket)
    again = project.seedctl("prune", env=tiered.env)
    assert again.returncode == 0 and "would prune 0 versions, delete 0 objects" in again.stdout

    # The oldest kept version from a fresh clone (git + dvc pull), the others from the bucket alone.
    clone = fresh_clone(project, tmp_path / "oldest", rev=tags[1])
    target = pg_server.create_database(f"t_{uuid.uuid4().hex[:10]}")
    restored = clone.seedctl("restore", env={**tiered.env, "DATABASE_URL": target})
    assert restored.returncode == 0, restored.stderr
    assert contents(target) == tiered.dumps[tags[1]]
    for tag in kept[1:]:
        target = pg_server.create_database(f"t_{uuid.uuid4().hex[:10]}")
        from_bucket = project.seedctl(
            "restore", "--from-bucket", "--version", names[tag], env={**tiered.env, "DATABASE_URL": target}
        )
        assert from_bucket.returncode == 0, f"{tag}: {from_bucket.stderr}"
        assert contents(target) == tiered.dumps[tag], tag


def test_the_hourly_cron_line_snapshots_then_prunes(tiered: Tiered, s3_server: S3Server, tmp_path: Path) -> None:
    """Runs after the test above (module order): four versions kept; the cron line's run at
    hour 10 adds a fifth and prunes the one whose only reason was hour 08."""
    project, tags = tiered.project, tiered.tags
    assert version_tags(project) == sorted([tags[1], tags[2], tags[4], tags[5]])
    (project.root / ".env").write_text(
        "".join(f"{k}={v}\n" for k, v in {**tiered.env, "DATABASE_URL": project.database_url}.items())
    )
    printed = project.seedctl("cron", "--dry-run", "--schedule", HOURLY, "--log-dir", str(tmp_path / "logs"))
    assert printed.returncode == 0, printed.stderr
    marker, line = printed.stdout.splitlines()
    assert marker == f"# seedctl snapshot {project.root}" and line.startswith(f"{HOURLY} cd ")
    command = line.split(" ", 5)[5].replace("\\%", "%")  # what cron hands /bin/sh
    project.sql("UPDATE trades_history SET quantity = quantity + 1 WHERE id = (SELECT min(id) FROM trades_history)")
    cron_env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(project.root.parent),
        **{k: v for k, v in project.env.items() if k.startswith("GIT_")},
        "GIT_COMMITTER_DATE": CRON_TAKEN,
    }

    ran = subprocess.run(["/bin/sh", "-c", command], env=cron_env, capture_output=True, text=True, timeout=600)

    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "", "")
    (log,) = (tmp_path / "logs").glob("snapshot-*.log")
    text = log.read_text()
    new = re.search(r"committed and tagged (\S+)", text)
    assert new, text
    assert f"pruned 1 version ({tags[4]})" in text, text
    assert version_tags(project) == sorted([tags[1], tags[2], tags[5], new[1]])
    assert status_of(text, new[1]).startswith("kept: hourly 2026-12-07T10 daily 2026-12-07")
    assert status_of(text, tags[5]) == "kept: hourly 2026-12-07T09"
    assert_catalog_consistent(s3_server, tiered.env["MINIO_BUCKET"])
    verify = project.seedctl("verify", env=tiered.env)
    assert verify.returncode == 0, verify.stderr
