"""The macro_indicators_daily rows: nine series, each a mean-reverting walk around a rough
historical path, month-end points before 1986 and business days after."""

from __future__ import annotations

import calendar
import math
import random
from collections.abc import Iterable
from datetime import date, timedelta
from typing import NamedTuple

from seedctl_dev.sample.days import check_scale, evenly_spaced
from seedctl_dev.sample.walk import DEFAULT_SEED, anchors, interp_many, normal, power

MACRO_TABLE = "macro_indicators_daily"
MACRO_START = date(1954, 7, 31)
MACRO_DAILY_FROM = date(1986, 1, 1)  # month-end points before, business days from here
MACRO_END = date(2026, 1, 22)

MACRO_COLUMNS = (
    "fecha",
    "dxy",
    "vix",
    "brent",
    "wti",
    "usdmxn",
    "embi_col",
    "fed_funds",
    "col_cpi_yoy",
    "ust10y",
)


def macro_dates(scale: float = 1.0) -> list[date]:
    """Month-ends from 1954-07-31, business days from 1986 up to 2026-01-22."""
    check_scale(scale)
    out: list[date] = []
    y, m = MACRO_START.year, MACRO_START.month
    while True:
        d = date(y, m, calendar.monthrange(y, m)[1])
        if d >= MACRO_DAILY_FROM:
            break
        out.append(d)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    d = MACRO_DAILY_FROM
    one = timedelta(days=1)
    while d <= MACRO_END:
        if d.weekday() < 5 and (d.month, d.day) not in ((1, 1), (12, 25)):
            out.append(d)
        d += one
    wanted = max(1, round(len(out) * scale))
    return evenly_spaced(out, wanted) if wanted < len(out) else out


class _Series(NamedTuple):
    name: str
    start: date
    decimals: int
    path: list[tuple[int, float]]
    noise: float  # relative std of the mean-reverting deviation
    floor: float
    monthly: bool = False


_MACRO_SERIES: tuple[_Series, ...] = (
    _Series(
        "dxy",
        date(1971, 1, 4),
        4,
        anchors(
            [
                ("1971-01-04", 120.0),
                ("1973-07-01", 95.0),
                ("1980-01-01", 86.0),
                ("1985-02-25", 160.0),
                ("1992-09-01", 80.0),
                ("2001-07-01", 120.0),
                ("2008-04-01", 72.0),
                ("2015-03-01", 99.0),
                ("2020-03-20", 103.0),
                ("2021-01-06", 89.5),
                ("2022-09-27", 114.0),
                ("2024-12-31", 108.0),
                ("2025-09-15", 97.5),
                ("2026-01-22", 99.0),
            ]
        ),
        0.012,
        60.0,
    ),
    _Series(
        "vix",
        date(1990, 1, 2),
        4,
        anchors(
            [
                ("1990-01-02", 17.0),
                ("1998-10-08", 42.0),
                ("1999-06-01", 22.0),
                ("2002-08-01", 38.0),
                ("2005-01-01", 12.5),
                ("2007-06-01", 14.0),
                ("2008-11-20", 78.0),
                ("2010-01-01", 21.0),
                ("2011-08-08", 45.0),
                ("2012-06-01", 18.0),
                ("2017-06-01", 10.5),
                ("2018-02-05", 37.0),
                ("2018-06-01", 13.0),
                ("2020-02-14", 14.0),
                ("2020-03-16", 80.0),
                ("2020-06-15", 32.0),
                ("2021-06-01", 17.0),
                ("2022-10-01", 31.0),
                ("2024-06-01", 12.5),
                ("2024-08-05", 38.0),
                ("2024-09-01", 16.0),
                ("2025-03-01", 17.0),
                ("2025-04-08", 47.0),
                ("2025-06-01", 18.0),
                ("2026-01-22", 16.0),
            ]
        ),
        0.12,
        9.0,
    ),
    _Series(
        "brent",
        date(1987, 5, 20),
        4,
        anchors(
            [
                ("1987-05-20", 18.5),
                ("1990-10-11", 41.0),
                ("1994-01-01", 14.0),
                ("1998-12-10", 9.8),
                ("2003-01-01", 30.0),
                ("2007-01-18", 51.0),
                ("2008-07-03", 144.0),
                ("2008-12-24", 36.0),
                ("2011-04-08", 126.0),
                ("2014-06-19", 115.0),
                ("2016-01-20", 27.9),
                ("2018-10-03", 86.0),
                ("2020-04-21", 19.3),
                ("2022-03-08", 128.0),
                ("2023-06-01", 74.0),
                ("2024-04-01", 89.0),
                ("2025-05-01", 61.0),
                ("2026-01-22", 64.0),
            ]
        ),
        0.04,
        8.0,
    ),
    _Series(
        "wti",
        date(1983, 3, 30),
        4,
        anchors(
            [
                ("1983-03-30", 29.3),
                ("1986-03-31", 11.0),
                ("1990-10-11", 40.0),
                ("1994-01-01", 14.5),
                ("1998-12-10", 11.0),
                ("2003-01-01", 31.0),
                ("2007-01-18", 50.5),
                ("2008-07-03", 145.0),
                ("2008-12-22", 31.0),
                ("2011-04-29", 113.0),
                ("2014-06-20", 107.0),
                ("2016-02-11", 26.2),
                ("2018-10-03", 76.0),
                ("2020-04-21", 12.0),
                ("2022-03-08", 123.0),
                ("2023-06-01", 70.0),
                ("2024-04-01", 85.0),
                ("2025-05-01", 58.0),
                ("2026-01-22", 60.0),
            ]
        ),
        0.045,
        8.0,
    ),
    _Series(
        "usdmxn",
        date(1994, 1, 3),
        4,
        anchors(
            [
                ("1994-01-03", 3.11),
                ("1994-12-20", 3.45),
                ("1995-03-09", 7.45),
                ("1998-09-01", 10.2),
                ("2002-01-01", 9.15),
                ("2008-08-01", 9.95),
                ("2009-03-02", 15.4),
                ("2014-07-01", 13.0),
                ("2017-01-19", 21.9),
                ("2018-04-01", 18.2),
                ("2020-03-23", 25.1),
                ("2020-12-31", 19.9),
                ("2023-07-28", 16.7),
                ("2024-11-26", 20.8),
                ("2025-06-01", 19.3),
                ("2026-01-22", 18.0),
            ]
        ),
        0.012,
        2.5,
    ),
    _Series(
        "embi_col",
        date(1999, 2, 1),
        2,
        anchors(
            [
                ("1999-02-01", 710.0),
                ("2000-12-01", 760.0),
                ("2002-09-30", 1_120.0),
                ("2005-01-01", 380.0),
                ("2007-06-01", 150.0),
                ("2008-10-24", 720.0),
                ("2010-01-01", 230.0),
                ("2013-05-01", 115.0),
                ("2016-02-11", 430.0),
                ("2019-12-31", 165.0),
                ("2020-03-23", 520.0),
                ("2021-06-01", 300.0),
                ("2022-10-24", 560.0),
                ("2024-06-01", 330.0),
                ("2025-04-08", 420.0),
                ("2026-01-22", 290.0),
            ]
        ),
        0.05,
        60.0,
    ),
    _Series(
        "fed_funds",
        date(1954, 7, 31),
        3,
        anchors(
            [
                ("1954-07-31", 0.80),
                ("1957-10-01", 3.50),
                ("1958-05-01", 0.70),
                ("1960-01-01", 4.00),
                ("1961-06-01", 1.70),
                ("1969-08-01", 9.20),
                ("1972-02-01", 3.30),
                ("1974-07-01", 12.90),
                ("1977-01-01", 4.60),
                ("1981-01-01", 19.10),
                ("1983-01-01", 8.70),
                ("1984-08-01", 11.60),
                ("1986-10-01", 5.85),
                ("1989-03-01", 9.85),
                ("1993-01-01", 3.00),
                ("2000-07-01", 6.54),
                ("2003-07-01", 1.00),
                ("2006-07-01", 5.25),
                ("2008-12-16", 0.16),
                ("2015-12-01", 0.13),
                ("2019-06-01", 2.40),
                ("2020-03-01", 1.58),
                ("2020-04-01", 0.05),
                ("2022-02-28", 0.08),
                ("2023-08-01", 5.33),
                ("2024-09-17", 5.33),
                ("2024-12-31", 4.33),
                ("2025-09-17", 4.33),
                ("2026-01-22", 3.64),
            ]
        ),
        0.01,
        0.04,
    ),
    _Series(
        "col_cpi_yoy",
        date(1955, 1, 31),
        3,
        anchors(
            [
                ("1955-01-31", 4.5),
                ("1957-06-30", 20.0),
                ("1960-06-30", 7.0),
                ("1963-12-31", 32.0),
                ("1966-06-30", 12.0),
                ("1972-12-31", 14.0),
                ("1977-06-30", 42.0),
                ("1980-12-31", 26.0),
                ("1983-12-31", 16.5),
                ("1990-12-31", 32.4),
                ("1994-12-31", 22.6),
                ("1999-12-31", 9.2),
                ("2006-12-31", 4.5),
                ("2008-09-30", 7.6),
                ("2010-06-30", 2.3),
                ("2013-12-31", 1.9),
                ("2016-07-31", 8.97),
                ("2019-12-31", 3.8),
                ("2020-12-31", 1.6),
                ("2023-03-31", 13.34),
                ("2024-12-31", 5.2),
                ("2025-12-31", 5.1),
            ]
        ),
        0.02,
        0.5,
        True,
    ),
    _Series(
        "ust10y",
        date(1962, 1, 2),
        3,
        anchors(
            [
                ("1962-01-02", 4.06),
                ("1970-05-01", 7.9),
                ("1972-01-01", 5.9),
                ("1975-01-01", 7.5),
                ("1981-09-30", 15.8),
                ("1986-08-01", 7.2),
                ("1989-01-01", 9.1),
                ("1993-10-15", 5.2),
                ("1994-11-01", 8.0),
                ("1998-10-05", 4.2),
                ("2000-01-20", 6.8),
                ("2003-06-13", 3.1),
                ("2007-06-12", 5.3),
                ("2008-12-30", 2.1),
                ("2011-01-01", 3.4),
                ("2012-07-24", 1.4),
                ("2013-12-31", 3.0),
                ("2016-07-08", 1.36),
                ("2018-11-08", 3.24),
                ("2020-08-04", 0.52),
                ("2022-10-24", 4.25),
                ("2023-10-19", 4.99),
                ("2024-04-25", 4.70),
                ("2024-09-16", 3.62),
                ("2025-01-14", 4.79),
                ("2026-01-22", 4.20),
            ]
        ),
        0.02,
        0.3,
    ),
)


MACRO_NULL_HOLE_RATE = 0.004


def generate_macro(seed: int = DEFAULT_SEED, scale: float = 1.0) -> list[tuple[date, list[str | None]]]:
    """Macro rows as (fecha, column texts in MACRO_COLUMNS[1:] order, None = NULL)."""
    dates = macro_dates(scale)
    ordinals = [d.toordinal() for d in dates]
    columns: list[list[str | None]] = []
    for k, s in enumerate(_MACRO_SERIES):
        levels = interp_many(s.path, ordinals)
        rng = random.Random(seed * 1_000 + 100 + k)
        dev = 0.0
        prev: date | None = None
        month_value: tuple[int, int, str] | None = None
        values: list[str | None] = []
        for d, level in zip(dates, levels):
            if d < s.start:
                values.append(None)
                continue
            steps = 1 if prev is None else max(1, min(30, (d - prev).days * 5 // 7))
            prev = d
            # Mean-reverting relative deviation around the anchor path.
            keep = power(0.97, steps)
            dev = dev * keep + s.noise * math.sqrt(1.0 - keep * keep) * normal(rng)
            hole = rng.random() < MACRO_NULL_HOLE_RATE
            if s.monthly and month_value is not None and month_value[:2] == (d.year, d.month):
                text: str = month_value[2]
            else:
                value = max(level * (1.0 + dev), s.floor)
                text = f"{value:.{s.decimals}f}"
                month_value = (d.year, d.month, text)
            values.append(None if hole else text)
        columns.append(values)
    return [(d, [col[i] for col in columns]) for i, d in enumerate(dates)]


def macro_lines(rows: Iterable[tuple[date, list[str | None]]]) -> Iterable[str]:
    for d, values in rows:
        yield d.isoformat() + "\t" + "\t".join("\\N" if v is None else v for v in values) + "\n"
