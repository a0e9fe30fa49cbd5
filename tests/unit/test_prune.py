"""Retention decisions without services: which versions go, which keys, what is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from seedctl.cli.prune import summary
from seedctl.config import Retention
from seedctl.errors import ConfigError, SeedctlError
from seedctl.store.prune import (
    JOURNAL,
    Doomed,
    Plan,
    PruneResult,
    choose,
    needed_objects,
    newest_first,
    read_journal,
    resolve_pins,
    write_journal,
)
from seedctl.store.s3 import object_key
from seedctl.store.versions import Version

SAME_SECOND = datetime(2026, 1, 4, 2, 0, 0, tzinfo=UTC)


def version(tag: str, when: datetime = SAME_SECOND) -> Version:
    return Version(tag, tag.replace("/", "_"), when)


def tags(versions: list[Version]) -> list[str]:
    return [v.tag for v in versions]


def test_same_second_tags_order_by_their_sequence_number() -> None:
    vs = [
        version(t) for t in ("seeds/v2026.01.04-10", "seeds/v2026.01.04", "seeds/v2026.01.04-9", "seeds/v2026.01.04-2")
    ]
    assert tags(newest_first(vs)) == [
        "seeds/v2026.01.04-10",
        "seeds/v2026.01.04-9",
        "seeds/v2026.01.04-2",
        "seeds/v2026.01.04",
    ]


def test_tag_time_wins_over_the_name() -> None:
    later = version("seeds/v1", SAME_SECOND.replace(hour=3))
    assert tags(newest_first([version("seeds/v2026.01.04-5"), later]))[0] == "seeds/v1"


def test_choose_keeps_newest_and_pinned() -> None:
    vs = [version(f"seeds/v2026.01.0{d}", SAME_SECOND.replace(day=d)) for d in range(1, 7)]
    kept, pinned, pruned, reasons = choose(vs, Retention(last=4), {"seeds/v2026.01.01", "seeds/v2026.01.05"})
    assert tags(kept) == [f"seeds/v2026.01.0{d}" for d in (6, 5, 4, 3)]
    assert reasons == {t: ["last 4"] for t in tags(kept)}
    assert tags(pinned) == ["seeds/v2026.01.01"]
    assert tags(pruned) == ["seeds/v2026.01.02"]
    assert choose(vs, Retention(last=10), set())[2] == []


def test_keep_below_one_is_refused() -> None:
    with pytest.raises(ConfigError, match="the retention policy keeps nothing"):
        choose([version("seeds/v2026.01.04")], Retention(), set())


def test_pins_resolve_by_tag_or_date_and_typos_are_refused() -> None:
    vs = [version("seeds/v2026.01.04"), version("seeds/v2026.01.04-2")]
    assert resolve_pins(vs, [("2026.01.04-2", "--pin"), ("seeds/v2026.01.04", "params")]) == {
        "seeds/v2026.01.04-2": "--pin",
        "seeds/v2026.01.04": "params",
    }
    with pytest.raises(ConfigError, match="'seeds/v2026.01.05' .*params.yaml"):
        resolve_pins(vs, [("seeds/v2026.01.05", "params.yaml backup.pinned")])


def test_object_keys_follow_dvc3_layout_and_refuse_anything_else() -> None:
    md5 = "0123456789abcdef0123456789abcdef"
    assert object_key("seedctl", md5) == "seedctl/files/md5/01/23456789abcdef0123456789abcdef"
    assert object_key("", md5 + ".dir") == "files/md5/01/23456789abcdef0123456789abcdef.dir"
    for bad in ("../../etc", "", md5[:-1], md5.upper(), md5 + "/x"):
        with pytest.raises(SeedctlError):
            object_key("seedctl", bad)


class FakeListings:
    def __init__(self, listings: dict[str, list[str] | None]) -> None:
        self.listings = listings

    def files(self, md5: str) -> list[str] | None:
        return self.listings.get(md5)


A, B, S, D = "a" * 32, "b" * 32, "c" * 32, "d" * 32 + ".dir"
LOCK = {"stages": {"export": {"outs": [{"path": "seeds/data", "md5": D}, {"path": "seeds/schema.json", "md5": S}]}}}


def test_needed_objects_expand_the_directory_listing() -> None:
    manifest = {"tables": {"t": {"file": "data/t.parquet", "md5": A}}, "schema_md5": S}
    found = needed_objects(manifest, LOCK, FakeListings({D: [A, B]}), label="x", protected=False)  # type: ignore[arg-type]
    assert set(found) == {A, B, S, D}


def test_protected_revision_that_cannot_be_proven_stops_the_prune() -> None:
    without_md5 = {"tables": {"t": {"file": "data/t.parquet"}}, "schema_md5": S}
    with pytest.raises(SeedctlError, match="cannot tell which objects seeds/v1 needs"):
        needed_objects(without_md5, LOCK, FakeListings({}), label="seeds/v1", protected=True)  # type: ignore[arg-type]
    # A pruned version we cannot fully read only means fewer deletions.
    assert set(needed_objects(without_md5, LOCK, FakeListings({}), label="v", protected=False)) == {S, D}  # type: ignore[arg-type]


def test_journal_round_trip_ignores_anything_but_md5s(tmp_path: Path) -> None:
    write_journal(tmp_path, {A: "data/t.parquet", D: "listing"})
    (tmp_path / JOURNAL).write_text((tmp_path / JOURNAL).read_text().replace('"listing"', '"listing", "../x": "y"'))
    assert read_journal(tmp_path) == {A: "data/t.parquet", D: "listing"}
    assert read_journal(tmp_path / "nowhere") == {}


def test_summary_lines() -> None:
    old, older = (
        version("seeds/v2026.01.02", SAME_SECOND.replace(day=2)),
        version("seeds/v2026.01.01", SAME_SECOND.replace(day=1)),
    )
    plan = Plan([], {}, {}, [], [old, older], [Doomed(A, "t", "k", 1_500_000), Doomed(B, "u", "k2", None)])
    assert summary(PruneResult(plan, done=True)) == (
        "pruned 2 versions (seeds/v2026.01.01, seeds/v2026.01.02), deleted 1 object, freed 1.50 MB (1,500,000 bytes)"
    )
    assert summary(PruneResult(plan, done=False)).startswith(
        "dry run: would prune 2 versions (seeds/v2026.01.01, seeds/v2026.01.02), delete 1 object, free 1.50 MB"
    )
