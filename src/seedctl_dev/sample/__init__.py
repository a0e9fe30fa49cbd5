"""Realistic, deterministic synthetic data for the plan's three tables.

``python -m seedctl_dev.sample --database-url URL [--scale 1.0] [--seed N]`` creates
``usdcop_m5_ohlcv``, ``macro_indicators_daily`` and ``trades_history`` in the public
schema (if missing), empties them and loads synthetic rows at the plan's sizes
(scale 1.0: ~92k bars 2020-01-02 -> 2026-01-15, 10,771 macro rows
1954-07-31 -> 2026-01-22, 636 trades over 2024-2026).

Rows are generated in Python and loaded with one text ``COPY`` per table. Only
``random.Random(seed).random()`` and IEEE arithmetic (+ - * / sqrt) feed the values, so
the same seed gives byte-identical data on every platform and Python version >= 3.2.
Prices are handled as integers in 1/10000 COP ("ticks"), so numeric(12,4) values are
exact and the bar invariants (low <= open, close <= high, all > 0) hold by construction.

Scale: ``scale`` multiplies row counts. Below 1.0 the date ranges stay the same and
evenly spaced trading days / macro dates are kept (first and last always included).
Above 1.0 the OHLCV history is extended backwards from 2026-01-15 and the number of
trades grows; the macro table is capped at its full size (it already starts in 1954).

Modules: days (trading calendar), walk (the randomness), ohlcv, macro, trades (one per
table), load (schema, load, append a week), cli (``python -m seedctl_dev.sample``).
"""

from __future__ import annotations

from seedctl_dev.sample.cli import main
from seedctl_dev.sample.days import (
    BARS_PER_DAY,
    easter_sunday,
    evenly_spaced,
    fx_holidays,
    is_trading_day,
    next_trading_days,
    previous_trading_days,
    session_times,
    trading_days,
)
from seedctl_dev.sample.load import append_ohlcv_week, create_sample_schema, load_sample_data, tables_with_rows
from seedctl_dev.sample.macro import MACRO_COLUMNS, MACRO_END, MACRO_START, MACRO_TABLE, generate_macro, macro_dates
from seedctl_dev.sample.ohlcv import (
    OHLCV_COLUMNS,
    OHLCV_END,
    OHLCV_START,
    OHLCV_TABLE,
    PRICE_CEIL,
    PRICE_FLOOR,
    SYMBOL,
    TICKS,
    OhlcvBar,
    generate_ohlcv,
    ohlcv_days,
)
from seedctl_dev.sample.trades import OPEN_TRADES, TRADES_COLUMNS, TRADES_COUNT, TRADES_TABLE, generate_trades
from seedctl_dev.sample.walk import DEFAULT_SEED

__all__ = [
    "BARS_PER_DAY",
    "DEFAULT_SEED",
    "MACRO_COLUMNS",
    "MACRO_END",
    "MACRO_START",
    "MACRO_TABLE",
    "OHLCV_COLUMNS",
    "OHLCV_END",
    "OHLCV_START",
    "OHLCV_TABLE",
    "OPEN_TRADES",
    "PRICE_CEIL",
    "PRICE_FLOOR",
    "SYMBOL",
    "TICKS",
    "TRADES_COLUMNS",
    "TRADES_COUNT",
    "TRADES_TABLE",
    "OhlcvBar",
    "append_ohlcv_week",
    "create_sample_schema",
    "easter_sunday",
    "evenly_spaced",
    "fx_holidays",
    "generate_macro",
    "generate_ohlcv",
    "generate_trades",
    "is_trading_day",
    "load_sample_data",
    "macro_dates",
    "main",
    "next_trading_days",
    "ohlcv_days",
    "previous_trading_days",
    "session_times",
    "tables_with_rows",
    "trading_days",
]
