"""params.yaml loading and strict checking (seedctl.config): pure, no database."""

from __future__ import annotations

import copy
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from seedctl.config import Backup, OhlcvColumns, Params, Storage, Validation, load_params, parse_params
from seedctl.errors import ConfigError

REPO_PARAMS = Path(__file__).parents[2] / "params.yaml"


def minimal(**source: Any) -> dict[str, Any]:
    """The smallest valid params: one source, every other key left to its default."""
    body = {"table": "public.t"}
    body.update(source)
    return {"sources": {"s": body}}


def config_error(data: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_params(data)
    err = info.value
    assert err.exit_code == 2
    assert "\n" not in str(err) and "\r" not in str(err)
    assert "Traceback" not in str(err)
    return err


# --------------------------------------------------------------------------- the repo's file


@pytest.fixture(scope="module")
def repo_params() -> Params:
    return load_params(REPO_PARAMS)


def test_repo_params_loads_with_its_sources(repo_params: Params) -> None:
    assert set(repo_params.sources) == {"usdcop_m5_ohlcv", "macro_indicators_daily", "trades_history"}
    usdcop = repo_params.sources["usdcop_m5_ohlcv"]
    assert usdcop.table == "public.usdcop_m5_ohlcv"
    assert (usdcop.schema_name, usdcop.table_name) == ("public", "usdcop_m5_ohlcv")
    assert usdcop.time_column == "time"
    assert usdcop.required is True and usdcop.min_rows == 50000
    assert usdcop.fallback == ["backups/usdcop_m5_ohlcv*.csv.gz"]
    assert usdcop.ohlcv == OhlcvColumns("open", "high", "low", "close")
    trades = repo_params.sources["trades_history"]
    assert trades.required is False and trades.min_rows == 0 and trades.time_column == "opened_at"
    assert repo_params.backup.compression == "zstd" and repo_params.backup.compression_level == 3
    assert repo_params.backup.schedule == "0 2 * * 0"
    assert repo_params.validation.min_date == date(1950, 1, 1)
    assert type(repo_params.validation.min_date) is date
    assert repo_params.validation.max_null_ratio == 0.05
    assert repo_params.storage == Storage("minio", "seeds", "seedctl", "backups")


def test_repo_params_omitted_source_keys_take_defaults(repo_params: Params) -> None:
    trades = repo_params.sources["trades_history"]
    assert trades.fallback == [] and trades.ohlcv is None and trades.max_null_ratio is None
    macro = repo_params.sources["macro_indicators_daily"]
    assert macro.ohlcv is None and macro.max_null_ratio is None
    assert repo_params.sources["usdcop_m5_ohlcv"].column_max_null_ratio == {}


def test_repo_params_null_ratio_limits(repo_params: Params) -> None:
    glob = repo_params.validation.max_null_ratio
    macro = repo_params.sources["macro_indicators_daily"]
    assert macro.null_ratio_limit("wti", glob) == 0.40
    assert macro.null_ratio_limit("embi_col", glob) == 0.60
    assert macro.null_ratio_limit("fecha", glob) == 0.05  # no override: the global limit
    trades = repo_params.sources["trades_history"]
    assert trades.null_ratio_limit("meta", glob) == 1.0
    assert trades.null_ratio_limit("pnl", glob) == 0.5
    assert trades.null_ratio_limit("entry_price", glob) == glob


def test_defaults_for_a_minimal_config() -> None:
    params = parse_params(minimal())
    assert params.storage == Storage() and params.backup == Backup() and params.validation == Validation()
    assert params.backup.batch_rows == 131072 and params.backup.compression == "zstd"
    assert params.backup.compression_level is None and params.backup.retention_count == 4
    assert params.validation.min_date == date(1900, 1, 1)
    src = params.sources["s"]
    assert src.required is True and src.min_rows == 0 and src.time_column is None
    assert src.fallback == [] and src.column_max_null_ratio == {} and src.ohlcv is None
    assert parse_params({"sources": {"s": {"table": "t"}}}).sources["s"].schema_name == "public"


def test_partial_ohlcv_mapping_defaults_the_rest() -> None:
    src = parse_params(minimal(ohlcv={"open": "o"})).sources["s"]
    assert src.ohlcv == OhlcvColumns(open="o", high="high", low="low", close="close")


def test_null_ratio_limit_precedence_column_then_source_then_global() -> None:
    src = parse_params(minimal(max_null_ratio=0.2, column_max_null_ratio={"a": 0.7, "z": 0})).sources["s"]
    assert src.null_ratio_limit("a", 0.05) == 0.7  # column override wins
    assert src.null_ratio_limit("z", 0.05) == 0.0  # a zero override is still an override
    assert src.null_ratio_limit("b", 0.05) == 0.2  # then the source's own limit
    only_global = parse_params(minimal(column_max_null_ratio={"a": 0.7})).sources["s"]
    assert only_global.null_ratio_limit("b", 0.05) == 0.05
    zero_source = parse_params(minimal(max_null_ratio=0)).sources["s"]
    assert zero_source.null_ratio_limit("b", 0.05) == 0.0


def test_sections_given_as_null_take_defaults() -> None:
    data = minimal()
    data.update(storage=None, backup=None, validation=None)
    params = parse_params(data)
    assert params.backup == Backup() and params.validation == Validation()


# --------------------------------------------------------------------------- structure errors


def test_unknown_top_level_section() -> None:
    data = minimal()
    data["valdation"] = {}
    err = config_error(data)
    assert "valdation" in str(err)
    for choice in ("sources", "storage", "backup", "validation"):
        assert choice in str(err)


def test_unknown_key_inside_a_source_names_path_and_choices() -> None:
    err = config_error(minimal(min_row=5))
    assert "sources.s" in str(err) and "'min_row'" in str(err)
    assert "min_rows" in str(err) and "time_column" in str(err)


@pytest.mark.parametrize(
    "section, key", [("backup", "retention"), ("validation", "max_null"), ("storage", "bucket_name")]
)
def test_unknown_key_inside_a_section(section: str, key: str) -> None:
    data = minimal()
    data[section] = {key: 1}
    err = config_error(data)
    assert section in str(err) and key in str(err)


@pytest.mark.parametrize(
    "source, path, expected",
    [
        ({"min_rows": "many"}, "sources.s.min_rows", "integer"),
        ({"min_rows": True}, "sources.s.min_rows", "integer"),
        ({"min_rows": 1.5}, "sources.s.min_rows", "integer"),
        ({"required": "yes"}, "sources.s.required", "true or false"),
        ({"required": 1}, "sources.s.required", "true or false"),
        ({"max_null_ratio": True}, "sources.s.max_null_ratio", "number"),
        ({"max_null_ratio": "0.5"}, "sources.s.max_null_ratio", "number"),
        ({"fallback": "backups/x.csv.gz"}, "sources.s.fallback", "list"),
        ({"column_max_null_ratio": ["a"]}, "sources.s.column_max_null_ratio", "mapping"),
        ({"column_max_null_ratio": {"a": "half"}}, "sources.s.column_max_null_ratio.a", "number"),
        ({"time_column": ""}, "sources.s.time_column", "non-empty string"),
        ({"time_column": 5}, "sources.s.time_column", "string"),
        ({"ohlcv": "open"}, "sources.s.ohlcv", "mapping"),
        ({"table": None}, "sources.s.table", "string"),
    ],
)
def test_wrong_type_in_a_source(source: dict[str, Any], path: str, expected: str) -> None:
    err = config_error(minimal(**source))
    assert path in str(err) and expected in str(err)


@pytest.mark.parametrize(
    "section, body, path",
    [
        ("backup", {"batch_rows": "big"}, "backup.batch_rows"),
        ("backup", {"compression_level": "3"}, "backup.compression_level"),
        ("validation", {"check_domains": "no"}, "validation.check_domains"),
        ("validation", {"max_null_ratio": True}, "validation.max_null_ratio"),
        ("storage", {"bucket": 7}, "storage.bucket"),
        ("storage", ["minio"], "storage"),
    ],
)
def test_wrong_type_in_a_section(section: str, body: Any, path: str) -> None:
    data = minimal()
    data[section] = body
    assert path in str(config_error(data))


@pytest.mark.parametrize("key, value", [("compression", "brotli"), ("format", "csv"), ("compression", True)])
def test_literal_violation_lists_the_choices(key: str, value: Any) -> None:
    data = minimal()
    data["backup"] = {key: value}
    err = str(config_error(data))
    assert f"backup.{key}" in err and repr(value) in err
    choices = ["zstd", "snappy", "gzip", "lz4", "none"] if key == "compression" else ["parquet"]
    for choice in choices:
        assert choice in err


def test_every_allowed_compression_is_accepted() -> None:
    for choice in ("zstd", "snappy", "gzip", "lz4", "none"):
        assert parse_params({**minimal(), "backup": {"compression": choice}}).backup.compression == choice


@pytest.mark.parametrize("data", [{}, {"storage": {}}, None, [], "sources"])
def test_missing_sources(data: Any) -> None:
    assert "sources" in str(config_error(data))


@pytest.mark.parametrize("sources", [{}, None, [], ["usdcop"]])
def test_empty_or_non_mapping_sources(sources: Any) -> None:
    assert "sources" in str(config_error({"sources": sources}))


def test_missing_table() -> None:
    err = str(config_error({"sources": {"s": {"time_column": "t"}}}))
    assert "sources.s" in err and "'table'" in err


def test_source_body_not_a_mapping() -> None:
    err = str(config_error({"sources": {"s": "public.t"}}))
    assert "sources.s" in err and "mapping" in err


# --------------------------------------------------------------------------- identifiers


@pytest.mark.parametrize(
    "table",
    [
        'x"; DROP TABLE y; --',
        "a.b.c",
        "has space",
        '"unclosed',
        'public.""',
        "public.",
        ".t",
        "1abc",
        "a" * 64,
        '"' + "é" * 32 + '"',
        "t;",
        '"a"b',
        'public."t" ',
    ],
)
def test_hostile_table_names(table: str) -> None:
    err = str(config_error(minimal(table=table)))
    assert "sources.s.table" in err and repr(table) in err


@pytest.mark.parametrize("table", ["t", "public.t", "_x$1", "Sch.Tab", "a" * 63 + "." + "b" * 63])
def test_plain_table_names_are_accepted(table: str) -> None:
    assert parse_params(minimal(table=table)).sources["s"].table == table


@pytest.mark.parametrize("column", ['x"; DROP TABLE y; --', "has space", '"unclosed', '""', "a.b", "1col"])
@pytest.mark.parametrize(
    "make",
    [
        lambda c: {"time_column": c},
        lambda c: {"ohlcv": {"close": c}},
        lambda c: {"column_max_null_ratio": {c: 0.5}},
    ],
    ids=["time_column", "ohlcv", "column_max_null_ratio"],
)
def test_hostile_column_names(column: str, make: Any) -> None:
    err = str(config_error(minimal(**make(column))))
    assert "sources.s" in err and repr(column) in err


@pytest.mark.parametrize(
    ("table", "schema", "name"),
    [
        ("t", "public", "t"),
        ("Sch.Tab", "sch", "tab"),  # unquoted names fold to lower case, as in SQL
        ('public."Mixed Case"', "public", "Mixed Case"),
        ('"My Schema"."select"', "My Schema", "select"),
        ('"a.b"."say ""hi"""', "a.b", 'say "hi"'),
        ('"' + "é" * 31 + '"', "public", "é" * 31),  # 62 bytes: fits NAMEDATALEN
    ],
)
def test_table_names_read_as_postgresql_reads_them(table: str, schema: str, name: str) -> None:
    source = parse_params(minimal(table=table)).sources["s"]
    assert (source.schema_name, source.table_name) == (schema, name)


def test_column_names_read_as_postgresql_reads_them() -> None:
    source = parse_params(
        minimal(
            time_column='"Trade Time"',
            column_max_null_ratio={"Exit_Price": 0.5, '"select"': 0.2},
            ohlcv={"open": '"Open"', "high": "HIGH", "low": "low", "close": '"close price"'},
        )
    ).sources["s"]
    assert source.time_column == "Trade Time"
    assert source.column_max_null_ratio == {"exit_price": 0.5, "select": 0.2}
    assert (source.ohlcv.open, source.ohlcv.high, source.ohlcv.close) == ("Open", "high", "close price")


def test_one_column_named_twice_is_refused() -> None:
    err = str(config_error(minimal(column_max_null_ratio={"Pnl": 0.5, '"pnl"': 0.2})))
    assert "sources.s.column_max_null_ratio" in err and "'pnl'" in err


@pytest.mark.parametrize(
    "data",
    [
        minimal(table="public.t\n"),
        minimal(time_column="time\n"),
        minimal(column_max_null_ratio={"pnl\n": 0.5}),
        {"sources": {"s\n": {"table": "t"}}},
    ],
    ids=["table", "time_column", "column_max_null_ratio", "source_name"],
)
def test_trailing_newline_in_identifier_is_refused(data: dict[str, Any]) -> None:
    config_error(data)


def test_trailing_newline_from_a_block_scalar_reaches_the_table_name() -> None:
    # How an operator gets such a name without trying: `table: |` on its own line.
    data = yaml.safe_load("sources:\n  s:\n    table: |\n      public.t\n")
    assert data["sources"]["s"]["table"] == "public.t\n"


@pytest.mark.parametrize("name", ["Bad-Name", "../x", "BadName", "1abc", "a b", "", "x/y"])
def test_bad_source_name(name: str) -> None:
    err = str(config_error({"sources": {name: {"table": "t"}}}))
    assert "bad source name" in err


def test_non_string_source_name() -> None:
    assert "bad source name" in str(config_error({"sources": {42: {"table": "t"}}}))


@pytest.mark.parametrize("entry", ["../../etc/passwd", "backups/../../x.csv.gz", "backups/..", "..", "a/../b.csv.gz"])
def test_fallback_path_traversal(entry: str) -> None:
    err = str(config_error(minimal(fallback=["backups/ok.csv.gz", entry])))
    assert "sources.s.fallback" in err and repr(entry) in err


def test_fallback_with_dots_in_a_file_name_is_fine() -> None:
    fallback = ["backups/t..v2.csv.gz", "backups/t*.csv.gz"]
    assert parse_params(minimal(fallback=fallback)).sources["s"].fallback == fallback


# --------------------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    "source",
    [
        {"max_null_ratio": 1.5},
        {"max_null_ratio": -0.01},
        {"max_null_ratio": float("nan")},
        {"column_max_null_ratio": {"a": 2}},
        {"column_max_null_ratio": {"a": 0.5, "b": -1}},
    ],
)
def test_source_null_ratio_outside_unit_interval(source: dict[str, Any]) -> None:
    err = str(config_error(minimal(**source)))
    assert "sources.s" in err and "between 0 and 1" in err


@pytest.mark.parametrize("ratio", [1.01, -0.5, float("nan"), float("inf")])
def test_global_null_ratio_outside_unit_interval(ratio: float) -> None:
    err = str(config_error({**minimal(), "validation": {"max_null_ratio": ratio}}))
    assert "validation.max_null_ratio" in err


def test_null_ratio_bounds_are_inclusive() -> None:
    params = parse_params(
        {**minimal(max_null_ratio=1, column_max_null_ratio={"a": 0}), "validation": {"max_null_ratio": 0}}
    )
    assert params.sources["s"].max_null_ratio == 1.0 and params.validation.max_null_ratio == 0.0


def test_negative_min_rows() -> None:
    assert "sources.s.min_rows" in str(config_error(minimal(min_rows=-1)))


@pytest.mark.parametrize("rows, ok", [(1023, False), (0, False), (-5, False), (1024, True)])
def test_batch_rows_floor(rows: int, ok: bool) -> None:
    data = {**minimal(), "backup": {"batch_rows": rows}}
    if ok:
        assert parse_params(data).backup.batch_rows == rows
    else:
        assert "backup.batch_rows" in str(config_error(data))


def test_retention_count_must_be_positive() -> None:
    assert "backup.retention_count" in str(config_error({**minimal(), "backup": {"retention_count": 0}}))


@pytest.mark.parametrize("schedule", ["0 2 * *", "0 2 * * 0 1", "@weekly", "   ", "daily"])
def test_schedule_must_have_five_cron_fields(schedule: str) -> None:
    err = str(config_error({**minimal(), "backup": {"schedule": schedule}}))
    assert "backup.schedule" in err


def test_five_field_schedule_is_accepted() -> None:
    assert parse_params({**minimal(), "backup": {"schedule": "*/15 * * * 1-5"}}).backup.schedule == "*/15 * * * 1-5"


@pytest.mark.parametrize("value", ["yesterday", "2020-13-01", "2020-02-30", "01/02/2020", 2020, True, ""])
def test_min_date_not_a_date(value: Any) -> None:
    err = str(config_error({**minimal(), "validation": {"min_date": value}}))
    assert "validation.min_date" in err


@pytest.mark.parametrize("value", ["1950-01-01", date(1950, 1, 1)])
def test_min_date_as_string_or_yaml_date(value: Any) -> None:
    got = parse_params({**minimal(), "validation": {"min_date": value}}).validation.min_date
    assert got == date(1950, 1, 1) and type(got) is date


def test_min_date_given_as_a_yaml_timestamp() -> None:
    data = yaml.safe_load("sources: {s: {table: t}}\nvalidation:\n  min_date: 1950-01-01 00:00:00\n")
    assert isinstance(data["validation"]["min_date"], datetime)
    try:
        params = parse_params(data)
    except ConfigError:
        return  # refusing it clearly is also fine
    assert type(params.validation.min_date) is date
    assert date(1949, 12, 31) < params.validation.min_date  # what validate.py does with it


# --------------------------------------------------------------------------- files


def test_load_params_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("sources:\n  s:\n    table: public.t\n    min_rows: 3\n", encoding="utf-8")
    assert load_params(path).sources["s"].min_rows == 3
    assert load_params(str(path)).sources["s"].min_rows == 3


def test_load_params_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("sources:\n  s:\n    table: public.t\n    min_row: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_params(path)
    assert str(path) in str(info.value) and "sources.s" in str(info.value)


@pytest.mark.parametrize(
    "text, line",
    [
        ("sources: [unclosed\n", 2),
        ("storage:\n  remote: minio\nsources: {a: [1, 2}\nbackup: {}\n", 3),
        ("sources:\n  s:\n\ttable: t\n", 3),
    ],
)
def test_malformed_yaml_is_one_line_with_line_number(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_params(path)
    msg = str(info.value)
    assert info.value.exit_code == 2
    assert f"line {line}" in msg and str(path) in msg
    assert "\n" not in msg and "Traceback" not in msg and 'File "' not in msg
    assert info.value.__suppress_context__  # no chained YAML traceback either


def test_empty_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="sources"):
        load_params(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_params(path)
    assert info.value.exit_code == 2
    assert str(path) in str(info.value) and "not found" in str(info.value)
    assert "\n" not in str(info.value)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_params(tmp_path)
    assert info.value.exit_code == 2 and str(tmp_path) in str(info.value)


def test_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_bytes(b"# fecha de observaci\xf3n\nsources: {s: {table: t}}\n")
    with pytest.raises(ConfigError) as info:
        load_params(path)
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------- section hashes


def test_section_hashes_ignore_key_order_and_track_values() -> None:
    data = yaml.safe_load(REPO_PARAMS.read_text(encoding="utf-8"))
    base = parse_params(data).section_hashes()
    assert set(base) == {"sources", "backup", "validation"}
    assert all(len(h) == 64 for h in base.values())

    def reorder(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: reorder(value[k]) for k in reversed(list(value))}
        return value

    reordered = reorder(copy.deepcopy(data))
    assert list(reordered) != list(data)
    assert parse_params(reordered).section_hashes() == base

    operational = copy.deepcopy(data)
    operational["backup"]["retention_count"] = 5
    operational["storage"]["bucket"] = "elsewhere"
    assert parse_params(operational).section_hashes() == base  # no new snapshot for these

    changed = copy.deepcopy(data)
    changed["backup"]["compression"] = "snappy"
    hashes = parse_params(changed).section_hashes()
    assert hashes["backup"] != base["backup"]
    assert {k: v for k, v in hashes.items() if k != "backup"} == {k: v for k, v in base.items() if k != "backup"}

    changed = copy.deepcopy(data)
    changed["sources"]["macro_indicators_daily"]["column_max_null_ratio"]["wti"] = 0.41
    hashes = parse_params(changed).section_hashes()
    assert hashes["sources"] != base["sources"] and hashes["validation"] == base["validation"]


def test_section_hashes_of_equal_files_are_equal(tmp_path: Path) -> None:
    copy_path = tmp_path / "params.yaml"
    copy_path.write_text(REPO_PARAMS.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_params(copy_path).section_hashes() == load_params(REPO_PARAMS).section_hashes()


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("sources:\n  s:\n    table: t\n    min_rows: 5\n    min_rows: 500\n")
    with pytest.raises(ConfigError) as err:
        load_params(path)
    assert "duplicate key 'min_rows'" in err.value.line() and "line 5" in err.value.line()
