"""Which snapshot versions a retention policy keeps, and why: pure, no git, no S3.

The model is restic's `forget --keep-last/--keep-hourly/...` (and pgBackRest's full and
differential retention, which keeps a chain per period): versions newest first, `last N`
keeps the newest N; `hourly N` keeps the newest version of each of the N most recent UTC
hours that have a version (hours without one do not count), and so on for days, ISO weeks
and months. A version is kept when any tier keeps it; its reasons say which. Pins and the
bucket's latest are kept on top of this (store/prune.py).

The time of a version is its tag's time (the annotated tag is made once the snapshot is
pushed), read in UTC whatever the tagger's offset, so a day or week is the same on every
host. The newest version is kept by every tier that keeps anything, so a policy that keeps
something never keeps nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from seedctl.config import Retention
from seedctl.store.versions import Version, newest_first

# tier -> the label of the period a UTC time falls in ("2026-12-07T14", "2026-W49", ...).
PERIODS: dict[str, Callable[[datetime], str]] = {
    "hourly": lambda t: f"{t:%Y-%m-%dT%H}",
    "daily": lambda t: f"{t:%Y-%m-%d}",
    "weekly": lambda t: "{}-W{:02d}".format(*t.isocalendar()[:2]),
    "monthly": lambda t: f"{t:%Y-%m}",
}


def utc(when: datetime) -> datetime:
    """when in UTC; a time without an offset is taken as UTC."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def keep_reasons(versions: Sequence[Version], policy: Retention) -> dict[str, list[str]]:
    """tag -> why it is kept ("last 4", "hourly 2026-12-07T14", "weekly 2026-W49", ...), for
    the versions the policy keeps; a version not in the answer is not kept by the policy."""
    ordered = newest_first(versions)
    reasons: dict[str, list[str]] = {}
    for v in ordered[: policy.last]:
        reasons.setdefault(v.tag, []).append(f"last {policy.last}")
    for tier, period_of in PERIODS.items():
        wanted = getattr(policy, tier)
        seen: set[str] = set()
        for v in ordered:
            if len(seen) >= wanted:
                break
            period = period_of(utc(v.tagged_at))
            if period not in seen:  # the newest version of this period
                seen.add(period)
                reasons.setdefault(v.tag, []).append(f"{tier} {period}")
    return reasons


def describe(policy: Retention) -> str:
    """The policy in one line, as params.yaml spells it: "last 4, hourly 24, weekly 8"."""
    return ", ".join(f"{tier} {n}" for tier, n in policy.tiers().items() if n)
