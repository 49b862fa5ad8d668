"""Lax input refused: every reader names FILE:LINE: field and what is allowed, writes nothing.

JSON Lines nested however deep, lone surrogate escapes, identifiers with control characters,
ANSI escapes or bidi overrides or longer than their column, timestamps not in the one accepted
form, value dates far from the batch's clock; and instruction fields trimmed as reference data
is. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moneyed import Money

from ledger.errors import InputError, Problem
from ledger.files import TIMESTAMP_FORM, clean_text, parse_timestamp
from settlement.instructions import COLUMNS, LIMITS, _Parser
from settlement.settings import load_settings
from tests.settlement_builders import BANKS, INSTRUCTION_COLUMNS, _accounts, ins, write_csv
from wmc_ledger import Entry, FixedClock, Ledger, Transfer

CLOCK = "2025-03-03T20:00:00+08:00"  # after every cut-off: instructions roll to the next day


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    with Ledger.open(db_url, clock=FixedClock(CLOCK)).init() as opened:
        opened.load_banks(BANKS)
        opened.load_accounts(_accounts())
        yield opened


def problems_of(err: pytest.ExceptionInfo[InputError]) -> list[tuple[int, str]]:
    return [(p.line, p.field) for p in err.value.problems]


def nothing_posted(ledger: Ledger) -> bool:
    return ledger.batches() == [] and not any(b.debits.amount for b in ledger.balances())


def transfer(iid: str = "I1", **extra: str) -> dict[str, str]:
    return ins(iid, "transfer", "A-NOSTRO-HKD", "A-CUST-HKD", "100.00", **extra)


def jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- the pure rules -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["A\x1b[31mX", "A\u202eX", "A\u2066X", "A\x00X", "A\ud800",
                                  "A\u200bX", "A\u2028X", "A\tX"])
def test_text_with_anything_unprintable_is_refused_saying_what_is_allowed(text: str) -> None:
    with pytest.raises(ValueError, match="printable characters") as err:
        clean_text(text)
    assert "\x1b" not in str(err.value) and "\u202e" not in str(err.value)  # shown escaped


def test_text_is_trimmed_and_bounded_by_its_column() -> None:
    assert clean_text("  A-1 B  ", 7) == "A-1 B"
    assert clean_text("銀行 甲") == "銀行 甲"
    with pytest.raises(ValueError, match="at most 4 characters, got 5"):
        clean_text("ABCDE", 4)


@pytest.mark.parametrize("text", ["2025-03-03 19:29:59+08:00", "20250303T192959+0800",
                                  "2025-03-03T19:29:59", "2025-03-03T19:29:59Z",
                                  "2025-03-03T19:29:59.1234567+08:00", "2025-W10-1T19:29:59+08:00",
                                  "2025-02-30T19:29:59+08:00", "2025-03-03T19:29+08:00"])
def test_a_timestamp_has_one_form(text: str) -> None:
    with pytest.raises(ValueError, match=r"YYYY-MM-DDTHH:MM:SS\[\.ffffff\]\+HH:MM"):
        parse_timestamp(text)


def test_the_accepted_timestamp_form() -> None:
    assert TIMESTAMP_FORM == "YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM"
    assert parse_timestamp("2025-03-03T09:15:00.5-01:30").utcoffset() is not None


# -- instructions ---------------------------------------------------------------------------


def test_instruction_fields_are_trimmed_as_reference_data_is(
    ledger: Ledger, tmp_path: Path
) -> None:
    row = ins(" I1 ", "transfer", " A-NOSTRO-HKD", "A-CUST-HKD ", " 100.00", " HKD ")
    batch = ledger.settle(write_csv(tmp_path / "day.csv", [row], INSTRUCTION_COLUMNS))
    assert batch.codes == {} and batch.accepted == 1
    assert str(ledger.balance("A-CUST-HKD").amount) == "100.00"


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("debit_account", "A-NOSTRO-HKD\x1b[2J", "printable characters"),
    ("credit_account", "\u202eDKH-TSUC-A", "printable characters"),
    ("instruction_id", "I" * 129, "at most 128 characters"),
    ("reference", "R\x00", "printable characters"),
    ("investor_id", "X" * 65, "at most 64 characters"),
    ("submitted_at", "2025-03-03 19:29:59+08:00", "YYYY-MM-DDTHH:MM:SS"),
    ("submitted_at", "20250303T192959+0800", "YYYY-MM-DDTHH:MM:SS"),
    ("submitted_at", "2999-03-03T10:00:00+08:00", "within 3650 days of the batch's date"),
    ("value_date", "9999-12-31", "within 3650 days of the batch's date"),
    ("value_date", "1900-01-01", "within 3650 days of the batch's date"),
    ("value_date", "20250303", "a date YYYY-MM-DD"),
])
def test_a_lax_instruction_field_refuses_the_file(
    ledger: Ledger, tmp_path: Path, field: str, value: str, expected: str
) -> None:
    rows = [transfer("I0"), transfer("I1", **{field: value})]
    path = write_csv(tmp_path / "day.csv", rows, INSTRUCTION_COLUMNS)
    with pytest.raises(InputError) as err:
        ledger.settle(path)
    assert problems_of(err) == [(3, field)]
    assert f"{path}:3: field '{field}': " in str(err.value)
    assert expected in str(err.value)
    assert nothing_posted(ledger)


def test_the_value_date_window_is_a_setting(db_url: str, tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text("[input]\nvalue_date_window_days = 1\n", encoding="utf-8")
    with Ledger.open(db_url, clock=FixedClock(CLOCK), settings=settings).init() as ledger:
        ledger.load_banks(BANKS)
        ledger.load_accounts(_accounts())
        rows = [transfer("I1", value_date="2025-03-04"), transfer("I2", value_date="2025-03-05")]
        with pytest.raises(InputError) as err:
            ledger.settle(write_csv(tmp_path / "day.csv", rows, INSTRUCTION_COLUMNS))
        assert problems_of(err) == [(3, "value_date")]
        assert "2025-03-02 to 2025-03-04" in str(err.value)


def test_jsonl_instructions_nested_deep_or_with_surrogates_name_their_line(
    ledger: Ledger, tmp_path: Path
) -> None:
    good = json.dumps(transfer("I0"))
    deep = '{"instruction_id": ' + "[" * 100_000 + "]" * 100_000 + "}"
    shallow = '{"instruction_id": ' + "[" * 900 + "]" * 900 + "}"
    surrogate = json.dumps(transfer("I3")).replace('"I3"', '"\\ud800"')
    key = '{"\\udfff": "x"}'
    path = jsonl(tmp_path / "day.jsonl", [good, deep, shallow, surrogate, key])
    with pytest.raises(InputError) as err:
        ledger.settle(path)
    assert problems_of(err) == [(2, "json"), (3, "instruction_id"), (4, "instruction_id"),
                                (5, "\\udfff")]
    assert "a flat JSON object" in str(err.value)
    str(err.value).encode("utf-8")  # the message itself prints
    assert nothing_posted(ledger)


# -- reference data and rates ---------------------------------------------------------------


@pytest.mark.parametrize(("kind", "rows", "field"), [
    ("banks", [{"bank_id": "Z\x1b[31m", "name": "Z", "market": "HK"}], "bank_id"),
    ("banks", [{"bank_id": "Z" * 65, "name": "Z", "market": "HK"}], "bank_id"),
    ("banks", [{"bank_id": "Z", "name": "Zed\u202e", "market": "HK"}], "name"),
    ("accounts", [{"account": "A" * 129, "bank_id": "A", "type": "asset",
                   "currency": "HKD"}], "account"),
    ("accounts", [{"account": "A-\u2067X", "bank_id": "A", "type": "asset",
                   "currency": "HKD"}], "account"),
    ("rates", [{"base": "CNY", "quote": "HKD", "bid": "1.05", "ask": "1.06",
                "as_of": "2025-03-03 09:15:00+08:00"}], "as_of"),
    ("rates", [{"base": "CNY", "quote": "HKD", "bid": "1.05", "ask": "1.06",
                "as_of": "2025-03-03T09:15:00+08:00", "book": "b\x07"}], "book"),
])
def test_lax_reference_data_is_refused_naming_line_and_field(
    ledger: Ledger, tmp_path: Path, kind: str, rows: list[dict[str, str]], field: str
) -> None:
    path = write_csv(tmp_path / f"{kind}.csv", rows)
    with pytest.raises(InputError) as err:
        ledger.load(kind, path)
    assert problems_of(err) == [(2, field)]
    assert str(err.value).startswith(f"{path}:2: field '{field}': ")
    assert "\x1b" not in str(err.value)


@pytest.mark.parametrize("kind", ["banks", "accounts", "investors", "products", "rates"])
def test_deep_json_and_surrogates_in_reference_data_name_their_line(
    ledger: Ledger, tmp_path: Path, kind: str
) -> None:
    deep = '{"x": ' + "{" * 50_000 + "}" * 50_000 + "}"
    path = jsonl(tmp_path / f"{kind}.jsonl", [deep, '{"name": "\\ud800"}'])
    with pytest.raises(InputError) as err:
        ledger.load(kind, path)
    lines = {(p.line, p.field) for p in err.value.problems}
    assert (1, "json") in lines and 2 in {line for line, _ in lines}
    str(err.value).encode("utf-8")


# -- what the fuzz suite found --------------------------------------------------------------


def test_a_settings_file_nested_deep_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[quota]\nindividual = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_settings(path)
    assert str(err.value).startswith(f"{path}:2: field 'toml': ")


@pytest.mark.parametrize("kind", ["banks", "instructions"])
def test_a_csv_header_over_the_field_limit_or_blank_is_a_header_problem(
    ledger: Ledger, tmp_path: Path, kind: str
) -> None:
    for i, first in enumerate(['"' + "x" * 200_000 + '"', ""]):
        path = tmp_path / f"{kind}{i}.csv"
        path.write_text(first + "\nbank_id,name,market\nZ,Z,HK\n", encoding="utf-8")
        with pytest.raises(InputError) as err:
            ledger.settle(path) if kind == "instructions" else ledger.load(kind, path)
        assert str(err.value).startswith(f"{path}:1: field 'header': ")


def test_a_column_name_with_escapes_is_shown_escaped(ledger: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "banks.csv"
    path.write_text("bank_id,name,market,\x1b[2Jx\u202e\nZ,Z,HK,1\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        ledger.load("banks", path)
    assert f"{path}:1: field '\\x1b[2Jx\\u202e': no such column" in str(err.value)


# -- the API's rows: the same rules as files ------------------------------------------------


def test_rows_given_to_the_api_are_checked_as_files_are(ledger: Ledger) -> None:
    with pytest.raises(InputError) as err:
        ledger.load_banks([{"bank_id": "Z\x1b[31m", "name": "Z", "market": "HK"},
                           {"bank_id": " Y ", "name": "Y" * 300, "market": "HK"}])
    assert problems_of(err) == [(1, "bank_id"), (2, "name")]
    ledger.load_banks([{"bank_id": " Y ", "name": "Y", "market": "HK"}])
    with pytest.raises(InputError) as err:
        ledger.settle([transfer("I1", debit_account="A-NOSTRO-HKD\ud800")])
    assert problems_of(err) == [(1, "debit_account")]
    assert nothing_posted(ledger)


FIELD_TEXT = st.one_of(
    st.text(alphabet=st.sampled_from("AZ09-: .\t\x1b\u202e\u00a0銀"), max_size=8),
    st.sampled_from(["", " A ", "A" * 64, "A" * 65, "A" * 128, "A" * 129, "A" * 300]),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(row=st.lists(FIELD_TEXT, min_size=13, max_size=13))
def test_the_instruction_row_check_is_clean_text_on_every_field(row: list[str]) -> None:
    """The parser's quick check of a row gives what clean_text field by field gives."""
    problems: list[Problem] = []
    got = _Parser("f", problems)._clean(2, row)
    cleaned: list[str] = []
    fields = []
    for col, text, limit in zip(COLUMNS, row, LIMITS, strict=True):
        try:
            cleaned.append(clean_text(text, limit))
        except ValueError:
            fields.append(col)
    assert (list(got) if got is not None else None) == (None if fields else cleaned)
    assert [p.field for p in problems] == fields


def test_rate_rows_given_to_the_api_are_checked_as_files_are(ledger: Ledger) -> None:
    row = {"base": "CNY", "quote": "HKD", "bid": "1.05", "ask": "1.06",
           "as_of": "2025-03-03T09:15:00+08:00"}
    with pytest.raises(InputError) as err:
        ledger.load_rates([{**row, "book": "b\x1b[0m"}, {**row, "source": "s" * 257}])
    assert problems_of(err) == [(1, "book"), (2, "source")]
    assert ledger.load_rates([{**row, "book": " cnh "}]).inserted == 1


def test_entries_given_to_the_api_have_their_ids_and_accounts_checked(ledger: Ledger) -> None:
    good = Transfer("A-NOSTRO-HKD", "A-CUST-HKD", Money("1.00", "HKD"))
    with pytest.raises(InputError) as err:
        ledger.post([Entry("E1", (good,)),
                     Entry("E\x1b[2J", (Transfer("A-NOSTRO-HKD\u202e", "A-CUST-HKD",
                                                 Money("1.00", "HKD"), reference="R" * 129),))])
    assert problems_of(err) == [(2, "id"), (2, "reference"), (2, "debit")]
    assert nothing_posted(ledger)
    assert [r.code for r in ledger.post([Entry(" E1 ", (good,))])] == ["ok"]
    assert ledger.transfer("E1", "A-NOSTRO-HKD", "A-CUST-HKD", Money("1.00", "HKD")).code == (
        "duplicate")
