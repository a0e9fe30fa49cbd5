"""The trades_history rows: non-overlapping trades opened and closed at bars' closes."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from seedctl_dev.sample.days import check_scale
from seedctl_dev.sample.ohlcv import TICKS, OhlcvBar
from seedctl_dev.sample.walk import DEFAULT_SEED

TRADES_TABLE = "trades_history"
TRADES_FROM = date(2024, 1, 2)
TRADES_COUNT = 636
OPEN_TRADES = 3

TRADES_COLUMNS = (
    "opened_at",
    "closed_at",
    "side",
    "entry_price",
    "exit_price",
    "quantity",
    "pnl",
    "strategy",
    "meta",
)


_STRATEGIES = ("ppo_m5_v3", "ppo_m5_v3", "mean_reversion_m5", "breakout_m5", "macro_tilt_d1")
_EXIT_REASONS = ("take_profit", "stop_loss", "signal_flip", "time_stop")


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))


def _ticks_text(ticks: int) -> str:
    # Exact: the double nearest ticks/10000 is far closer than 0.00005 to it.
    return f"{ticks / TICKS:.4f}"


def generate_trades(bars: Sequence[OhlcvBar], seed: int = DEFAULT_SEED, scale: float = 1.0) -> list[list[str | None]]:
    """Trades on the given bars (2024 onwards when available); texts in TRADES_COLUMNS order.

    Each trade opens and closes at a bar's time, at that bar's close. Trades do not
    overlap; the last ``OPEN_TRADES`` are still open (closed_at, exit_price, pnl NULL).
    """
    check_scale(scale)
    count = max(1, round(TRADES_COUNT * scale))
    start = datetime(TRADES_FROM.year, TRADES_FROM.month, TRADES_FROM.day, tzinfo=UTC)
    pool = [b for b in bars if b.time >= start] or list(bars)
    if not pool:
        return []
    count = min(count, len(pool))
    rng = random.Random(seed * 1_000 + 200)
    opens = sorted(rng.sample(range(len(pool)), count))
    n_open = min(OPEN_TRADES, count)
    rows: list[list[str | None]] = []
    for n, i in enumerate(opens):
        entry = pool[i]
        side = "long" if rng.random() < 0.55 else "short"
        strategy = _STRATEGIES[int(rng.random() * len(_STRATEGIES))]
        quantity = (10 + int(rng.random() * 91)) * 5_000  # USD 50k .. 500k
        signal = round(0.5 + 0.5 * rng.random(), 4)
        meta: dict[str, object] = {
            "source": "seedctl_dev.sample",
            "signal": signal,
            "model": strategy.split("_")[0] + "-" + ("v3.2" if strategy.startswith("ppo") else "v1"),
            "session": "bogota",
        }
        closed_at = exit_price = pnl = None
        if n < count - n_open:
            # Hold 1..48 bars, closing no later than the bar the next trade opens on.
            limit = max(1, (opens[n + 1] if n + 1 < count else len(pool) - 1) - i)
            hold = 1 + int(rng.random() * 48)
            j = min(i + min(hold, limit), len(pool) - 1)
            exit_bar = pool[j]
            diff = exit_bar.close - entry.close
            if side == "short":
                diff = -diff
            pnl_value = Decimal(diff * quantity) / TICKS
            closed_at = exit_bar.time.isoformat()
            exit_price = _ticks_text(exit_bar.close)
            pnl = _money(pnl_value)
            meta["bars_held"] = j - i
            if diff > 0:
                meta["exit_reason"] = "take_profit" if rng.random() < 0.7 else "signal_flip"
            else:
                meta["exit_reason"] = _EXIT_REASONS[1 + int(rng.random() * 3)]
        rows.append(
            [
                entry.time.isoformat(),
                closed_at,
                side,
                _ticks_text(entry.close),
                exit_price,
                f"{quantity}.00",
                pnl,
                strategy,
                json.dumps(meta, sort_keys=True),
            ]
        )
    return rows


def _copy_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def trade_lines(rows: Iterable[list[str | None]]) -> Iterable[str]:
    for r in rows:
        yield "\t".join("\\N" if v is None else _copy_escape(v) for v in r) + "\n"
