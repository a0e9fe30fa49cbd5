"""Pure tests of the synthetic data generator (no database)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from seedctl_dev import sample
from seedctl_dev.sample import macro, ohlcv, trades

BOGOTA = ZoneInfo("America/Bogota")


@pytest.fixture(scope="module")
def full_bars() -> list[sample.OhlcvBar]:
    return sample.generate_ohlcv(sample.DEFAULT_SEED, 1.0)


@pytest.fixture(scope="module")
def small_bars() -> list[sample.OhlcvBar]:
    return sample.generate_ohlcv(sample.DEFAULT_SEED, 0.02)


# --------------------------------------------------------------------------- calendar


@pytest.mark.parametrize(
    "year, expected",
    [(2020, date(2020, 4, 12)), (2024, date(2024, 3, 31)), (2025, date(2025, 4, 20)), (2000, date(2000, 4, 23))],
)
def test_easter(year: int, expected: date) -> None:
    assert sample.easter_sunday(year) == expected


def test_trading_calendar_skips_weekends_and_holidays() -> None:
    assert not sample.is_trading_day(date(2024, 1, 6))  # Saturday
    assert not sample.is_trading_day(date(2024, 1, 7))  # Sunday
    assert not sample.is_trading_day(date(2024, 1, 1))  # New Year (Monday)
    assert not sample.is_trading_day(date(2024, 12, 25))
    assert not sample.is_trading_day(date(2024, 3, 28))  # Holy Thursday
    assert not sample.is_trading_day(date(2024, 3, 29))  # Good Friday
    assert sample.is_trading_day(date(2024, 1, 2))
    days = sample.trading_days(date(2024, 1, 1), date(2024, 12, 31))
    assert all(d.weekday() < 5 for d in days)
    assert 240 <= len(days) <= 262
    assert sample.next_trading_days(date(2026, 1, 15), 5) == [
        date(2026, 1, 16),
        date(2026, 1, 19),
        date(2026, 1, 20),
        date(2026, 1, 21),
        date(2026, 1, 22),
    ]
    assert sample.previous_trading_days(date(2020, 1, 2), 2) == [date(2019, 12, 30), date(2019, 12, 31)]


def test_session_is_bogota_0800_to_1255() -> None:
    times = sample.session_times(date(2025, 6, 3))
    assert len(times) == sample.BARS_PER_DAY == 60
    local = [t.astimezone(BOGOTA) for t in times]
    assert local[0].strftime("%H:%M") == "08:00"
    assert local[-1].strftime("%H:%M") == "12:55"
    assert all(b - a == timedelta(minutes=5) for a, b in zip(times, times[1:]))
    assert all(t.tzinfo == UTC for t in times)


def test_evenly_spaced_keeps_endpoints() -> None:
    items = list(range(100))
    assert sample.evenly_spaced(items, 5) == [0, 24, 49, 74, 99]
    assert sample.evenly_spaced(items, 1) == [99]
    assert sample.evenly_spaced(items, 500) == items


# --------------------------------------------------------------------------- OHLCV


def test_full_ohlcv_size_and_range(full_bars: list[sample.OhlcvBar]) -> None:
    assert 85_000 <= len(full_bars) <= 95_000
    assert full_bars[0].time == datetime(2020, 1, 2, 13, 0, tzinfo=UTC)
    assert full_bars[-1].time == datetime(2026, 1, 15, 17, 55, tzinfo=UTC)
    times = [b.time for b in full_bars]
    assert times == sorted(set(times))


def test_ohlcv_invariants(full_bars: list[sample.OhlcvBar]) -> None:
    for b in full_bars:
        assert 0 < b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high, b
        assert b.volume >= 0
        assert sample.is_trading_day(b.time.date())
    closes = [b.close / sample.TICKS for b in full_bars]
    assert sample.PRICE_FLOOR <= min(closes) and max(closes) <= sample.PRICE_CEIL
    assert 3_200 <= closes[0] <= 3_400  # early 2020
    assert any(b.volume == 0 for b in full_bars)


def test_small_scale_keeps_date_range(small_bars: list[sample.OhlcvBar]) -> None:
    days = sample.ohlcv_days(0.02)
    assert days[0] == sample.OHLCV_START and days[-1] == sample.OHLCV_END
    assert len(small_bars) == len(days) * 60
    assert 1_500 <= len(small_bars) <= 2_100


def test_scale_above_one_extends_backwards() -> None:
    days = sample.ohlcv_days(1.5)
    full = sample.ohlcv_days(1.0)
    assert days[-len(full) :] == full
    assert days[0] < sample.OHLCV_START
    assert len(days) == round(len(full) * 1.5)


def test_generation_is_deterministic(small_bars: list[sample.OhlcvBar]) -> None:
    assert sample.generate_ohlcv(sample.DEFAULT_SEED, 0.02) == small_bars
    assert sample.generate_ohlcv(1, 0.02) != small_bars
    assert sample.generate_macro(5, 0.05) == sample.generate_macro(5, 0.05)
    assert sample.generate_trades(small_bars, 5, 0.05) == sample.generate_trades(small_bars, 5, 0.05)


def test_ohlcv_copy_text_is_exact(small_bars: list[sample.OhlcvBar]) -> None:
    for b, line in zip(small_bars, ohlcv.ohlcv_lines(small_bars)):
        fields = line.rstrip("\n").split("\t")
        assert datetime.fromisoformat(fields[0]) == b.time
        assert fields[1] == "USD/COP"
        assert [Decimal(f) * sample.TICKS for f in fields[2:6]] == [b.open, b.high, b.low, b.close]
        assert all(len(f.split(".")[1]) == 4 for f in fields[2:6])
        assert int(fields[6]) == b.volume


@pytest.mark.parametrize("ticks", [1, 9_999, 10_000, 32_982_389, 50_000_000, 999_999_999_999, 123_456_789_012])
def test_ticks_text(ticks: int) -> None:
    assert trades._ticks_text(ticks) == f"{ticks // 10_000}.{ticks % 10_000:04d}"


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf")])
def test_bad_scale_rejected(bad: float) -> None:
    with pytest.raises(ValueError):
        sample.ohlcv_days(bad)


# --------------------------------------------------------------------------- macro


def test_macro_dates_and_series_starts() -> None:
    rows = sample.generate_macro(sample.DEFAULT_SEED, 1.0)
    assert 10_000 <= len(rows) <= 11_500
    assert rows[0][0] == sample.MACRO_START and rows[-1][0] == sample.MACRO_END
    dates = [d for d, _ in rows]
    assert dates == sorted(set(dates))
    names = sample.MACRO_COLUMNS[1:]
    for k, series in enumerate(macro._MACRO_SERIES):
        assert series.name == names[k]
        before = [v for d, vals in rows if d < series.start for v in [vals[k]]]
        after = [v for d, vals in rows if d >= series.start for v in [vals[k]]]
        assert all(v is None for v in before), series.name
        assert any(v is not None for v in after[:5]), series.name
        holes = sum(v is None for v in after)
        assert holes < 0.01 * len(after), series.name
        for v in after:
            if v is not None:
                assert Decimal(v) > 0
                assert len(v.split(".")[1]) == series.decimals


def test_macro_small_scale_keeps_range() -> None:
    rows = sample.generate_macro(sample.DEFAULT_SEED, 0.02)
    assert rows[0][0] == sample.MACRO_START and rows[-1][0] == sample.MACRO_END
    assert 150 <= len(rows) <= 250


# --------------------------------------------------------------------------- trades


def test_trades_follow_the_bars(full_bars: list[sample.OhlcvBar]) -> None:
    rows = sample.generate_trades(full_bars, sample.DEFAULT_SEED, 1.0)
    assert len(rows) == sample.TRADES_COUNT == 636
    by_time = {b.time: b for b in full_bars}
    cols = sample.TRADES_COLUMNS
    open_trades = 0
    previous_open: datetime | None = None
    for r in rows:
        t = dict(zip(cols, r))
        opened = datetime.fromisoformat(t["opened_at"])
        assert opened >= datetime(2024, 1, 2, tzinfo=UTC)
        assert previous_open is None or opened > previous_open
        previous_open = opened
        assert t["side"] in ("long", "short")
        assert Decimal(t["entry_price"]) * sample.TICKS == by_time[opened].close
        assert Decimal(t["quantity"]) > 0
        json.loads(t["meta"])
        if t["closed_at"] is None:
            assert t["exit_price"] is None and t["pnl"] is None
            open_trades += 1
            continue
        closed = datetime.fromisoformat(t["closed_at"])
        assert closed > opened
        assert Decimal(t["exit_price"]) * sample.TICKS == by_time[closed].close
        diff = Decimal(t["exit_price"]) - Decimal(t["entry_price"])
        if t["side"] == "short":
            diff = -diff
        assert abs(Decimal(t["pnl"]) - diff * Decimal(t["quantity"])) <= Decimal("0.005")
    assert open_trades == sample.OPEN_TRADES
    assert all(r[1] is None for r in rows[-3:])


def test_trades_small_scale(small_bars: list[sample.OhlcvBar]) -> None:
    rows = sample.generate_trades(small_bars, sample.DEFAULT_SEED, 0.02)
    assert len(rows) == round(636 * 0.02)
    times = {b.time for b in small_bars}
    for r in rows:
        assert datetime.fromisoformat(r[0]) in times
        assert r[1] is None or datetime.fromisoformat(r[1]) in times


# --------------------------------------------------------------------------- CLI


def test_main_rejects_bad_scale_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert sample.main(["--database-url", "postgresql://127.0.0.1:1/x", "--scale", "-2"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "scale" in err and "Traceback" not in err


def test_main_unreachable_database(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    assert sample.main(["--database-url", url, "--scale", "0.01"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "database" in err and "Traceback" not in err
