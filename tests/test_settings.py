"""Settings: documented defaults, a user file over them, bad values refused by key."""

from __future__ import annotations

import tomllib
from datetime import time
from decimal import Decimal
from pathlib import Path

import pytest

from ledger.errors import InputError, Problem
from settlement.settings import (
    DEFAULT_SETTINGS_FILE,
    load_settings,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "wmc.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path) -> list[Problem]:
    with pytest.raises(InputError) as info:
        load_settings(path)
    return info.value.problems


def test_defaults_load() -> None:
    s = load_settings(None)
    assert s.quota.individual == 300_000_000
    assert s.quota.per_channel_when_two_channels == 150_000_000
    assert s.quota.aggregate_per_direction == 15_000_000_000_000
    assert s.quota.net_usage_floor_zero is True
    assert s.cutoffs.for_currency("CNY") == time(19, 30)
    assert s.cutoffs.for_currency("HKD") == time(17, 0)
    assert s.cutoffs.for_currency("MOP") == time(17, 0)
    assert s.fx.staleness_business_days == 1
    assert s.fx.rounding_for("default") == "half_even"
    assert s.fx.peg_bid == Decimal("1.03") == s.fx.peg_ask
    assert s.fx.block_deal_policy == "residue"
    assert s.reconciliation.date_tolerance_days == 2
    assert s.reconciliation.cnh_as_cny is False
    assert s.reconciliation.statement_max_bytes > 0
    assert s.calendar.overrides is None


def test_every_default_key_is_commented() -> None:
    lines = DEFAULT_SETTINGS_FILE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#"):
            assert lines[i - 1].lstrip().startswith("#"), f"no comment above: {line}"


def test_default_file_has_no_floats() -> None:
    def no_float(text: str) -> None:
        raise AssertionError(f"float in the defaults: {text}")

    tomllib.loads(DEFAULT_SETTINGS_FILE.read_text(encoding="utf-8"), parse_float=no_float)


def test_override_changes_one_key(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, '[quota]\nindividual = "5000000.00"\n'))
    defaults = load_settings()
    assert s.quota.individual == 500_000_000
    assert s.quota.per_channel_when_two_channels == defaults.quota.per_channel_when_two_channels
    assert s.cutoffs == defaults.cutoffs and s.fx == defaults.fx
    assert s.sources[-1].endswith("wmc.toml")


def test_book_overrides(tmp_path: Path) -> None:
    s = load_settings(
        write(
            tmp_path,
            '[fx]\nrounding = "half_up"\n\n[fx.books.cnh]\nrounding = "floor"\n'
            "\n[fx.books.slow]\nstaleness_business_days = 3\n",
        )
    )
    assert s.fx.rounding_for("default") == "half_up"
    assert s.fx.rounding_for("cnh") == "floor"
    assert s.fx.staleness_for("cnh") == 1
    assert s.fx.rounding_for("slow") == "half_up"
    assert s.fx.staleness_for("slow") == 3


def test_times_as_strings_or_toml_times(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, '[cutoffs]\ncny = 18:00:00\nhkd = "16:45"\n'))
    assert s.cutoffs.cny == time(18, 0) and s.cutoffs.hkd == time(16, 45)


def test_calendar_overrides_path_is_relative_to_the_file(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, '[calendar]\noverrides = "days.csv"\n'))
    assert s.calendar.overrides == tmp_path.resolve() / "days.csv"


def test_unknown_key_is_refused_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path, '# mine\n[quota]\nindividual = "1.00"\nindivdual = "2.00"\n')
    [problem] = refused(path)
    assert problem == Problem(str(path), 4, "quota.indivdual", "no such setting (unknown key)")


def test_unknown_section_is_refused(tmp_path: Path) -> None:
    [problem] = refused(write(tmp_path, "[quotas]\nindividual = 1\n"))
    assert problem.field == "quotas" and problem.line == 1


def test_float_amount_is_refused_saying_to_quote_it(tmp_path: Path) -> None:
    path = write(tmp_path, "[quota]\nindividual = 3000000.00\n")
    [problem] = refused(path)
    assert (problem.file, problem.line, problem.field) == (str(path), 2, "quota.individual")
    assert "quote it" in problem.expected
    assert "3000000.00" in str(problem)


def test_float_rate_is_refused(tmp_path: Path) -> None:
    [problem] = refused(write(tmp_path, "[fx]\npeg_bid = 1.03\n"))
    assert problem.field == "fx.peg_bid" and "quote it" in problem.expected


def test_amount_with_too_many_decimals_or_unquoted_int(tmp_path: Path) -> None:
    problems = refused(
        write(tmp_path, '[quota]\nindividual = "10.005"\naggregate_per_direction = 150\n')
    )
    assert [(p.line, p.field) for p in problems] == [
        (2, "quota.individual"),
        (3, "quota.aggregate_per_direction"),
    ]


@pytest.mark.parametrize("bad", ['"25:00"', '"7pm"', '"19:30+08:00"', "1930", '""'])
def test_bad_time_is_refused_naming_the_key(tmp_path: Path, bad: str) -> None:
    [problem] = refused(write(tmp_path, f"[cutoffs]\nmop = {bad}\n"))
    assert (problem.line, problem.field) == (2, "cutoffs.mop")
    assert "HH:MM" in problem.expected


def test_every_problem_is_listed(tmp_path: Path) -> None:
    problems = refused(
        write(
            tmp_path,
            '[fx]\nrounding = "nearest"\nblock_deal_policy = "split"\n'
            'staleness_business_days = -1\n[reconciliation]\ncnh_as_cny = "yes"\n',
        )
    )
    assert [p.field for p in problems] == [
        "fx.rounding",
        "fx.block_deal_policy",
        "fx.staleness_business_days",
        "reconciliation.cnh_as_cny",
    ]


def test_bad_book_keys(tmp_path: Path) -> None:
    problems = refused(
        write(tmp_path, '[fx.books]\ncnh = "half_up"\n[fx.books.x]\nspread = "0.01"\n')
    )
    assert [(p.line, p.field) for p in problems] == [(2, "fx.books.cnh"), (4, "fx.books.x.spread")]


def test_inconsistent_values_are_refused(tmp_path: Path) -> None:
    problems = refused(
        write(
            tmp_path,
            '[quota]\nper_channel_when_two_channels = "4000000.00"\n[fx]\npeg_bid = "1.04"\n',
        )
    )
    assert {p.field for p in problems} == {"quota.per_channel_when_two_channels", "fx.peg_bid"}


def test_inconsistency_names_the_key_the_user_set(tmp_path: Path) -> None:
    path = write(tmp_path, '[quota]\nindividual = "1000000.00"\n')
    [problem] = refused(path)
    assert (problem.file, problem.line, problem.field) == (str(path), 2, "quota.individual")
    assert "1500000.00" in problem.expected


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    [problem] = refused(write(tmp_path, "[quota\n"))
    assert problem.field == "toml" and problem.line == 1
    [problem] = refused(tmp_path / "absent.toml")
    assert (problem.line, problem.field) == (0, "file")


def test_carried_currencies_default_and_override(tmp_path: Path) -> None:
    assert load_settings().ledger.currencies == ("MOP", "HKD", "CNY", "USD")
    s = load_settings(write(tmp_path, '[ledger]\ncurrencies = ["HKD", "JPY"]\n'))
    assert s.ledger.currencies == ("HKD", "JPY")


@pytest.mark.parametrize(
    ("value", "expected"),
    [('["CNH"]', "market label"), ('["ZZZ"]', "unknown currency 'ZZZ'"), ("[]", "non-empty"),
     ('["HKD", "HKD"]', "HKD twice"), ('"HKD"', "a non-empty list")],
)
def test_carried_currencies_refused(tmp_path: Path, value: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected):
        load_settings(write(tmp_path, f"[ledger]\ncurrencies = {value}\n"))
