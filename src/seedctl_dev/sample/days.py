"""The trading calendar of the Colombian FX market, and which days a scale keeps."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

BARS_PER_DAY = 60  # 08:00-12:55 America/Bogota (UTC-5, no DST) = 13:00-17:55 UTC
SESSION_START_UTC_HOUR = 13


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


def fx_holidays(year: int) -> frozenset[date]:
    """Fixed Colombian market holidays plus Holy Thursday and Good Friday."""
    easter = easter_sunday(year)
    fixed = [(1, 1), (5, 1), (7, 20), (8, 7), (12, 8), (12, 25)]
    days = {date(year, m, d) for m, d in fixed}
    days.add(easter - timedelta(days=3))
    days.add(easter - timedelta(days=2))
    return frozenset(days)


_HOLIDAY_CACHE: dict[int, frozenset[date]] = {}


def is_trading_day(day: date) -> bool:
    """True for weekdays that are not FX-market holidays."""
    if day.weekday() >= 5:
        return False
    hol = _HOLIDAY_CACHE.get(day.year)
    if hol is None:
        hol = _HOLIDAY_CACHE[day.year] = fx_holidays(day.year)
    return day not in hol


def trading_days(start: date, end: date) -> list[date]:
    """All trading days in [start, end]."""
    out: list[date] = []
    day = start
    one = timedelta(days=1)
    while day <= end:
        if is_trading_day(day):
            out.append(day)
        day += one
    return out


def next_trading_days(after: date, count: int) -> list[date]:
    """The ``count`` trading days strictly after ``after``."""
    out: list[date] = []
    day = after
    while len(out) < count:
        day += timedelta(days=1)
        if is_trading_day(day):
            out.append(day)
    return out


def previous_trading_days(before: date, count: int) -> list[date]:
    """The ``count`` trading days strictly before ``before``, oldest first."""
    out: list[date] = []
    day = before
    while len(out) < count:
        day -= timedelta(days=1)
        if is_trading_day(day):
            out.append(day)
    out.reverse()
    return out


def session_times(day: date) -> list[datetime]:
    """The 60 bar open times (UTC) of one trading session."""
    base = datetime(day.year, day.month, day.day, SESSION_START_UTC_HOUR, tzinfo=UTC)
    return [base + timedelta(minutes=5 * i) for i in range(BARS_PER_DAY)]


def evenly_spaced(items: Sequence, count: int) -> list:
    """``count`` evenly spaced items, always keeping the first and the last."""
    n = len(items)
    if count >= n:
        return list(items)
    if count <= 0:
        return []
    if count == 1:
        return [items[-1]]
    return [items[(i * (n - 1)) // (count - 1)] for i in range(count)]


def check_scale(scale: float) -> None:
    if not (isinstance(scale, (int, float)) and scale > 0 and scale == scale and scale != float("inf")):
        raise ValueError(f"scale must be a positive finite number, got {scale!r}")
