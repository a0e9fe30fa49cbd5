"""``python -m seedctl_dev.sample``: load the sample tables and print rows per table."""

from __future__ import annotations

import argparse
import os
import sys

import psycopg

from seedctl.errors import RestoreRefused, conninfo_secrets, redact
from seedctl_dev.sample.days import check_scale
from seedctl_dev.sample.load import load_sample_data
from seedctl_dev.sample.walk import DEFAULT_SEED


def main(argv: list[str] | None = None) -> int:
    """``python -m seedctl_dev.sample``: load the sample tables and print rows per table."""
    parser = argparse.ArgumentParser(
        prog="python -m seedctl_dev.sample",
        description="Create and load the synthetic usdcop_m5_ohlcv, macro_indicators_daily "
        "and trades_history tables (replaces their contents: asks for --yes when they hold rows).",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="PostgreSQL URL (default: $DATABASE_URL, else the libpq PG* variables)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="row-count multiplier (default 1.0)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--yes", action="store_true", help="replace the tables' rows if they hold any")
    args = parser.parse_args(argv)
    try:
        check_scale(args.scale)
    except ValueError as exc:
        print(f"seedctl_dev.sample: {exc}", file=sys.stderr)
        return 1
    try:
        with psycopg.connect(args.database_url, connect_timeout=10) as conn:
            info = conn.info
            target = None if args.yes else f"{info.host}:{info.port}/{info.dbname}"
            counts = load_sample_data(conn, seed=args.seed, scale=args.scale, target=target)
    except RestoreRefused as exc:
        print(f"seedctl_dev.sample: {exc.line()}", file=sys.stderr)
        return 8
    except psycopg.Error as exc:
        # libpq's parse errors quote the whole connection string, password included.
        msg = redact(" ".join(str(exc).split()), conninfo_secrets(args.database_url)) or type(exc).__name__
        print(
            f"seedctl_dev.sample: database error: {msg} -- check --database-url / DATABASE_URL / PG* variables",
            file=sys.stderr,
        )
        return 1
    except Exception as exc:  # noqa: BLE001 - one line, no traceback
        detail = redact(" ".join(str(exc).split()), conninfo_secrets(args.database_url))
        print(f"seedctl_dev.sample: {type(exc).__name__}: {detail}", file=sys.stderr)
        return 1
    for table, rows in counts.items():
        print(f"{table}: {rows} rows")
    return 0
