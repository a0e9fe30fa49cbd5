"""The usdcop_m5_ohlcv bars: a random walk of 5-minute bars reverting to a rough historical path."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import NamedTuple

from seedctl_dev.sample.days import (
    BARS_PER_DAY,
    check_scale,
    evenly_spaced,
    previous_trading_days,
    session_times,
    trading_days,
)
from seedctl_dev.sample.walk import DEFAULT_SEED, anchors, interp, normal, power

OHLCV_TABLE = "usdcop_m5_ohlcv"
SYMBOL = "USD/COP"
OHLCV_START = date(2020, 1, 2)
OHLCV_END = date(2026, 1, 15)
TICKS = 10_000  # prices are integers in 1/10000 COP

PRICE_FLOOR = 3_200.0
PRICE_CEIL = 5_100.0
BAR_VOL = 0.0010  # per-bar relative volatility (~0.8 %/day)
REVERSION = 0.0005  # per-bar pull towards the anchor path

OHLCV_COLUMNS = ("time", "symbol", "open", "high", "low", "close", "volume")


class OhlcvBar(NamedTuple):
    """One 5-minute bar; prices are integers in 1/10000 COP."""

    time: datetime
    open: int
    high: int
    low: int
    close: int
    volume: int


def ohlcv_days(scale: float = 1.0) -> list[date]:
    """Trading days the OHLCV table covers at ``scale`` (see the package docstring)."""
    check_scale(scale)
    full = trading_days(OHLCV_START, OHLCV_END)
    wanted = max(1, round(len(full) * scale))
    if wanted <= len(full):
        return evenly_spaced(full, wanted)
    return previous_trading_days(full[0], wanted - len(full)) + full


# Rough historical USD/COP path the synthetic walk reverts to.
_USDCOP_PATH = anchors(
    [
        ("1990-01-01", 500.0),
        ("1999-01-01", 1_550.0),
        ("2003-01-01", 2_900.0),
        ("2008-06-01", 1_700.0),
        ("2015-01-01", 2_400.0),
        ("2016-02-01", 3_350.0),
        ("2020-01-02", 3_300.0),
        ("2020-03-19", 4_100.0),
        ("2020-06-01", 3_700.0),
        ("2020-12-31", 3_450.0),
        ("2021-06-30", 3_750.0),
        ("2021-12-31", 4_000.0),
        ("2022-06-01", 3_850.0),
        ("2022-11-04", 4_950.0),
        ("2023-05-01", 4_600.0),
        ("2023-10-31", 4_100.0),
        ("2023-12-31", 3_900.0),
        ("2024-06-30", 4_150.0),
        ("2024-12-31", 4_400.0),
        ("2025-04-08", 4_400.0),
        ("2025-06-30", 4_100.0),
        ("2025-12-31", 3_780.0),
        ("2026-01-15", 3_700.0),
        ("2027-01-01", 3_900.0),
    ]
)


def bars_for_days(
    days: Sequence[date], rng: random.Random, last_close: int | None, last_day: date | None
) -> list[OhlcvBar]:
    """Random-walk bars for ``days``, continuing from ``last_close`` (ticks) if given."""
    bars: list[OhlcvBar] = []
    if last_close is None:
        price = interp(_USDCOP_PATH, days[0].toordinal()) if days else 0.0
        close = round(price * TICKS)
    else:
        close = last_close
        price = close / TICKS
    prev_day = last_day
    for day in days:
        anchor = interp(_USDCOP_PATH, day.toordinal())
        floor, ceil = (PRICE_FLOOR, PRICE_CEIL) if anchor >= PRICE_FLOOR else (anchor * 0.5, anchor * 1.5)
        # Overnight gap: one bar's worth of move per skipped session (capped).
        gap_days = 1 if prev_day is None else max(1, min(60, (day - prev_day).days))
        gap_bars = 4 * gap_days
        pull = 1.0 - power(1.0 - REVERSION, gap_bars)
        price = price + pull * (anchor - price) + price * BAR_VOL * math.sqrt(gap_bars) * normal(rng)
        price = min(max(price, floor), ceil)
        open_ = round(price * TICKS)
        for i, ts in enumerate(session_times(day)):
            if i:
                open_ = close  # continuous market within the session
            # U-shaped intraday activity: busier at the open and the close.
            activity = 1.6 - 1.2 * (i * (BARS_PER_DAY - 1 - i)) / ((BARS_PER_DAY - 1) ** 2 / 4)
            vol = BAR_VOL * (0.6 + 0.4 * activity)
            price = price + REVERSION * (anchor - price) + price * vol * normal(rng)
            price = min(max(price, floor), ceil)
            close = round(price * TICKS)
            body_hi = open_ if open_ > close else close
            body_lo = open_ if open_ < close else close
            high = body_hi + int(abs(normal(rng)) * 0.35 * vol * body_hi)
            low = body_lo - int(abs(normal(rng)) * 0.35 * vol * body_lo)
            if low < 1:
                low = 1
            u = rng.random()
            volume = 0 if u < 0.01 else int(activity * (1_500 + 9_000 * u * u)) * 1_000
            bars.append(OhlcvBar(ts, open_, high, low, close, volume))
        prev_day = day
    return bars


def generate_ohlcv(seed: int = DEFAULT_SEED, scale: float = 1.0) -> list[OhlcvBar]:
    """The OHLCV bars ``load_sample_data`` loads, oldest first."""
    rng = random.Random(seed * 1_000 + 1)
    return bars_for_days(ohlcv_days(scale), rng, None, None)


def ohlcv_lines(bars: Iterable[OhlcvBar]) -> Iterable[str]:
    for b in bars:
        yield (
            f"{b.time.isoformat()}\t{SYMBOL}\t{b.open / TICKS:.4f}\t{b.high / TICKS:.4f}"
            f"\t{b.low / TICKS:.4f}\t{b.close / TICKS:.4f}\t{b.volume}\n"
        )
