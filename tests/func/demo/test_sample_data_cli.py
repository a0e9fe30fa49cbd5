"""`seedctl sample-data` refuses to empty tables that hold rows unless told --yes."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from psycopg.conninfo import conninfo_to_dict

if TYPE_CHECKING:
    from tests.helpers import Project


def test_sample_data_refuses_non_empty_tables_without_yes(project: Project) -> None:
    first = project.seedctl("sample-data", "--scale", "0.01")
    assert first.returncode == 0, first.stderr
    loaded = project.sql("SELECT count(*) FROM trades_history")[0][0]
    project.sql("DELETE FROM trades_history WHERE id = (SELECT min(id) FROM trades_history)")

    refused = project.seedctl("sample-data", "--scale", "0.01")
    info = conninfo_to_dict(project.database_url)
    assert refused.returncode == 8
    [line] = refused.stderr.splitlines()
    assert line.startswith(
        "seedctl: error: sample-data would empty usdcop_m5_ohlcv, macro_indicators_daily, trades_history in "
    )
    assert f"{info['host']}:{info['port']}/{info['dbname']}" in line and "--yes" in line
    assert info["password"] not in refused.stderr + refused.stdout
    assert project.sql("SELECT count(*) FROM trades_history")[0][0] == loaded - 1  # untouched

    module = project.run(sys.executable, "-m", "seedctl_dev.sample", "--scale", "0.01")
    assert module.returncode == 8 and "--yes" in module.stderr
    assert project.sql("SELECT count(*) FROM trades_history")[0][0] == loaded - 1

    replaced = project.seedctl("sample-data", "--scale", "0.01", "--yes")
    assert replaced.returncode == 0, replaced.stderr
    assert project.sql("SELECT count(*) FROM trades_history")[0][0] == loaded


def test_sample_data_refusal_leaves_no_new_tables_behind(project: Project) -> None:
    project.sql(
        "CREATE TABLE usdcop_m5_ohlcv (time timestamptz, symbol text, open numeric, high numeric, "
        "low numeric, close numeric, volume bigint)"
    )
    project.sql("INSERT INTO usdcop_m5_ohlcv VALUES (now(), 'X', 1, 1, 1, 1, 1)")
    refused = project.seedctl("sample-data", "--scale", "0.01")
    assert refused.returncode == 8 and "would empty usdcop_m5_ohlcv in" in refused.stderr
    tables = project.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    assert tables == [("usdcop_m5_ohlcv",)]
