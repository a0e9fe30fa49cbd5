"""Tiered retention (store/retention.py): which versions each tier keeps and why, and the
params.yaml block that sets it (backup.retention, or retention_count as {last: N})."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seedctl.cli.app import app
from seedctl.config import Retention, parse_params
from seedctl.errors import ConfigError
from seedctl.store.prune import choose
from seedctl.store.retention import describe, keep_reasons
from seedctl.store.versions import Version

START = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)  # a Monday, 23:00 UTC (ISO week 50)


def at(when: datetime, n: int = 0) -> Version:
    return Version(f"seeds/v{when:%Y.%m.%d}-{n}-{when:%H%M}", "c" * 40, when)


def hourly_for(hours: int) -> list[Version]:
    """One version an hour, the newest at START, going back `hours` hours."""
    return [at(START - timedelta(hours=h)) for h in range(hours)]


def test_last_keeps_the_newest_n_whatever_their_times() -> None:
    vs = hourly_for(10)
    assert keep_reasons(vs, Retention(last=3)) == {v.tag: ["last 3"] for v in vs[:3]}


def test_hourly_keeps_the_newest_of_each_of_the_last_n_hours_that_have_one() -> None:
    vs = hourly_for(30)
    reasons = keep_reasons(vs, Retention(hourly=24))
    assert list(reasons) == [v.tag for v in vs[:24]]
    assert reasons[vs[0].tag] == ["hourly 2026-12-07T23"]
    assert reasons[vs[23].tag] == ["hourly 2026-12-07T00"]


def test_several_versions_in_one_hour_keep_only_the_newest_of_that_hour() -> None:
    base = START.replace(minute=0)
    same_hour = [at(base + timedelta(minutes=m), m) for m in (5, 20, 50)]
    earlier = at(base - timedelta(hours=1))
    reasons = keep_reasons([*same_hour, earlier], Retention(hourly=2))
    assert reasons == {same_hour[2].tag: ["hourly 2026-12-07T23"], earlier.tag: ["hourly 2026-12-07T22"]}


def test_gaps_do_not_use_up_a_tier() -> None:
    # Three versions, days apart: hourly 3 keeps all three (hours without a version don't count).
    vs = [at(START), at(START - timedelta(days=2)), at(START - timedelta(days=9))]
    assert set(keep_reasons(vs, Retention(hourly=3))) == {v.tag for v in vs}
    assert set(keep_reasons(vs, Retention(hourly=2))) == {vs[0].tag, vs[1].tag}


def test_tiers_combine_and_every_reason_is_given() -> None:
    # One version an hour for 40 days: 24 hourly, 7 daily, 4 weekly, 2 monthly.
    vs = hourly_for(40 * 24)
    policy = Retention(last=2, hourly=24, daily=7, weekly=4, monthly=2)
    reasons = keep_reasons(vs, policy)
    newest = reasons[vs[0].tag]
    assert newest == ["last 2", "hourly 2026-12-07T23", "daily 2026-12-07", "weekly 2026-W50", "monthly 2026-12"]
    daily = {r.split(" ")[1] for rs in reasons.values() for r in rs if r.startswith("daily")}
    assert daily == {f"2026-12-0{d}" for d in range(1, 8)}
    weekly = sorted(r for rs in reasons.values() for r in rs if r.startswith("weekly"))
    assert weekly == ["weekly 2026-W47", "weekly 2026-W48", "weekly 2026-W49", "weekly 2026-W50"]
    # A past week's (day's, month's) kept version is the newest of that period: its last hour.
    sunday = next(t for t, rs in reasons.items() if "weekly 2026-W49" in rs)
    assert sunday == at(datetime(2026, 12, 6, 23, 0, tzinfo=UTC)).tag
    monthly = next(t for t, rs in reasons.items() if "monthly 2026-11" in rs)
    assert monthly == at(datetime(2026, 11, 30, 23, 0, tzinfo=UTC)).tag
    # Dec 7's 24 hours; Dec 1-6 at 23:00 (daily); Nov 29 and Nov 22 at 23:00 (weekly W48, W47:
    # W49's newest is Dec 6, already kept daily); Nov 30 at 23:00 (monthly 2026-11).
    assert len(reasons) == 24 + 6 + 2 + 1
    assert sum(1 for rs in reasons.values() for r in rs if r.startswith("hourly")) == 24


def test_periods_are_utc_whatever_the_taggers_offset() -> None:
    # 2026-12-07 01:30 at UTC+05:00 is 2026-12-06 20:30 UTC: the day and hour of the 6th.
    east = timezone(timedelta(hours=5))
    v = Version("seeds/v2026.12.07", "c" * 40, datetime(2026, 12, 7, 1, 30, tzinfo=east))
    assert keep_reasons([v], Retention(hourly=1, daily=1)) == {v.tag: ["hourly 2026-12-06T20", "daily 2026-12-06"]}
    naive = Version("seeds/v2026.12.07-2", "c" * 40, datetime(2026, 12, 7, 1, 30))
    assert keep_reasons([naive], Retention(daily=1)) == {naive.tag: ["daily 2026-12-07"]}


def test_iso_week_across_the_new_year() -> None:
    # 2027-01-01 is a Friday of ISO week 2026-W53.
    v = Version("seeds/v2027.01.01", "c" * 40, datetime(2027, 1, 1, 12, tzinfo=UTC))
    assert keep_reasons([v], Retention(weekly=1)) == {v.tag: ["weekly 2026-W53"]}


def test_choose_never_prunes_the_newest_and_pins_stay() -> None:
    vs = hourly_for(48)
    kept, pinned, pruned, reasons = choose(vs, Retention(hourly=24, daily=2), {vs[-1].tag})
    assert kept[0] == vs[0] and len(kept) == 25  # 24 hours, and yesterday's 23:00 is hour 24
    assert [v.tag for v in pinned] == [vs[-1].tag]
    assert len(pruned) == 48 - 25 - 1 and not set(reasons) & {v.tag for v in pruned}


def test_describe() -> None:
    assert describe(Retention(last=4, hourly=24, weekly=8)) == "last 4, hourly 24, weekly 8"


# --- params.yaml -----------------------------------------------------------------------------

SOURCES = {"sources": {"ticks": {"table": "public.ticks"}}}


def test_retention_block_is_read_and_retention_count_means_last() -> None:
    params = parse_params({**SOURCES, "backup": {"retention": {"hourly": 24, "weekly": 8}}})
    assert params.backup.retention_policy == Retention(hourly=24, weekly=8)
    assert parse_params({**SOURCES, "backup": {"retention_count": 6}}).backup.retention_policy == Retention(last=6)
    assert parse_params(SOURCES).backup.retention_policy == Retention(last=4)


@pytest.mark.parametrize(
    ("retention", "words"),
    [
        ({"hourly": -1}, "backup.retention.hourly must be >= 0 (got -1)"),
        ({"hourly": 0, "daily": 0}, "backup.retention keeps nothing (every tier is 0)"),
        ({}, "backup.retention keeps nothing"),
        ({"yearly": 2}, "backup.retention: unknown key 'yearly'"),
        ({"hourly": "24"}, "backup.retention.hourly: expected an integer"),
        ({"hourly": 1.5}, "backup.retention.hourly: expected an integer"),
    ],
)
def test_bad_retention_is_one_clear_error(retention: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        parse_params({**SOURCES, "backup": {"retention": retention}})


def test_retention_and_retention_count_together_are_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_params({**SOURCES, "backup": {"retention_count": 4, "retention": {"hourly": 24}}})
    assert "backup.retention_count and backup.retention are both set" in str(caught.value)
    assert "retention_count N means retention {last: N}" in str(caught.value)


def test_prune_refuses_both_in_one_line_exit_2(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("sources:\n  t: {table: public.t}\nbackup:\n  retention_count: 4\n  retention: {hourly: 24}\n")
    result = CliRunner().invoke(app, ["prune", "--params", str(params)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"seedctl: error: {params}: backup.retention_count and backup.retention are both set -- "
        "keep one: retention_count N means retention {last: N}"
    ]
