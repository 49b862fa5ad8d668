"""Fuzzing every reader: whatever the bytes, a result or a LedgerError, and nothing written.

Valid files of each kind (instruction CSV and JSON Lines; banks, accounts, investors, products
and rates, CSV and JSON Lines; a settings TOML) are mutated: fields replaced by nasty values
(control characters, ANSI escapes, bidi overrides, lone surrogates, huge numbers, 4,300-digit
numbers, deep JSON, far dates, lax timestamps), then bytes flipped, BOMs, NULs and CRLF inserted,
lines repeated, cut or made very long. Each case must end in a result or a
:class:`~ledger.errors.LedgerError` (an :class:`~ledger.errors.InputError` naming
``FILE:LINE: field``), never another exception; on an error no row of any table has changed.
The examples are derandomized and bounded, so the module runs in well under a minute.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from ledger.errors import InputError, LedgerError
from settlement.settings import Settings, load_settings
from tests.settlement_builders import (
    BANKS,
    INSTRUCTION_COLUMNS,
    INVESTORS,
    PRODUCTS,
    RATES,
    _accounts,
    ins,
)
from wmc_ledger import FixedClock, Ledger

FUZZ = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)
TABLES = ("banks", "accounts", "investors", "products", "fx_rates", "entries", "transfers",
          "batches", "batch_rejections", "rejected_instructions", "quota_usage")


@dataclass(frozen=True)
class Raw:
    """A JSON token written as is (a number's text, a deep array): not a Python string."""

    token: str


NASTY: tuple[Any, ...] = (
    "", " ", "\x00", "A\x00B", "\x1b[31mRED\x1b[0m", "[red]X[/red]", "\u202eABC", "\u2066X\u2069",
    "\ufeff", "\ud800", "A\udfffB", "\u200b", "\u2028", "\r", "\n", "\r\n", '"', "'", ",", "\\",
    "+5.00", "-5.00", "5.005", "0.00", "1e3", "1E400", "NaN", "Infinity", "-0", "٥.٠٠",
    "9" * 19, "9" * 4301, "1" * 20 + ".00", "9999999999999999.99", "10000000000000000.00",
    "9999-12-31", "0001-01-01", "1900-01-01", "2999-03-03", "2025-02-30", "20250303",
    "2025-03-03 19:29:59+08:00", "20250303T192959+0800", "2025-03-03T19:29:59",
    "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-14:00", "true", "null", "CNH", "XXX",
    "R9", "x" * 300, "銀行", "A" * 129,
    Raw("1" * 5000), Raw("1e999999"), Raw("-1.5e-400"), Raw("true"), Raw("null"), Raw("[]"),
    Raw("{}"), Raw('{"a": "b"}'), Raw("[" * 3000 + "]" * 3000), Raw("{" * 2000 + "}" * 2000),
)


def nasty_values() -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(NASTY), st.text(max_size=12))


def render_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([v.token if isinstance(v, Raw) else v for v in
                         (row.get(c, "") for c in columns)])
    return out.getvalue().encode("utf-8", "surrogatepass")


def render_jsonl(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> bytes:
    lines = []
    for row in rows:
        parts = [f"{json.dumps(k)}: {v.token if isinstance(v, Raw) else json.dumps(v)}"
                 for k, v in row.items()]
        lines.append("{" + ", ".join(parts) + "}")
    return ("\n".join(lines) + "\n").encode("utf-8")


BYTE_OPS = ("flip", "bom", "nul", "crlf", "cut", "repeat", "long", "blank", "none")


@st.composite
def mutated(draw: st.DrawFn, rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
            fmt: str) -> bytes:
    """A valid file of ``rows``, some fields replaced, then some bytes mangled."""
    changed = [dict(r) for r in rows]
    for _ in range(draw(st.integers(0, 3))):
        row = changed[draw(st.integers(0, len(changed) - 1))]
        key = draw(st.sampled_from([*columns, "extra"]))
        row[key] = draw(nasty_values())
    data = (render_csv if fmt == "csv" else render_jsonl)(changed, columns)
    for op in draw(st.lists(st.sampled_from(BYTE_OPS), max_size=3)):
        at = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            i = min(at, len(data) - 1)
            data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1:]
        elif op == "bom":
            data = data[:at] + b"\xef\xbb\xbf" + data[at:]
        elif op == "nul":
            data = data[:at] + b"\x00" + data[at:]
        elif op == "crlf":
            data = data.replace(b"\n", b"\r\n")
        elif op == "cut":
            data = data[:at]
        elif op == "repeat":
            lines = data.splitlines(keepends=True)
            if lines:
                data = b"".join([*lines, lines[draw(st.integers(0, len(lines) - 1))]])
        elif op == "long":
            data = data[:at] + b"x" * 200_000 + data[at:]
        elif op == "blank":
            data = data[:at] + b"\n\n" + data[at:]
    return data


def counts(ledger: Ledger) -> dict[str, int]:
    with ledger.engine.connect() as conn:
        return {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
                for t in TABLES}


def ends_well(ledger: Ledger | None, path: Path, action: Callable[[], object]) -> None:
    """``action`` gives a result or a LedgerError naming FILE:LINE: field; on an error nothing
    of any table has changed."""
    before = counts(ledger) if ledger is not None else None
    try:
        action()
    except LedgerError as exc:
        message = str(exc)
        message.encode("utf-8")  # printable on any UTF-8 terminal: no lone surrogate
        assert message
        if isinstance(exc, InputError):
            for problem in exc.problems:
                if problem.file == str(path):
                    assert str(problem).startswith(f"{path}:{problem.line}: field '")
                    assert problem.line >= 0 and problem.expected
        if ledger is not None:
            assert counts(ledger) == before


@pytest.fixture
def world(db_url: str) -> Iterator[Ledger]:
    with Ledger.open(db_url, clock=FixedClock("2025-03-03T18:00:00+08:00")).init() as ledger:
        ledger.load_banks(BANKS)
        ledger.load_accounts(_accounts())
        ledger.load_investors(INVESTORS)
        ledger.load_products(PRODUCTS)
        ledger.load_rates(RATES)
        yield ledger


INSTRUCTIONS = [
    ins("I1", "transfer", "A-NOSTRO-HKD", "A-CUST-HKD", "1000.00"),
    ins("I2", "remit", "S1-REM", "S1-INV", "500.00", "CNY", investor_id="S1"),
    ins("I3", "convert", "A-NOSTRO-HKD", "A-NOSTRO-CNY", "100.00", rate="1.0584"),
    ins("I4", "fee", "A-CUST-HKD", "A-FEES-HKD", "10.00", reference="FEE-1"),
]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_instruction_files(world: Ledger, tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"day.{fmt}"

    @FUZZ
    @given(data=mutated(INSTRUCTIONS, INSTRUCTION_COLUMNS, fmt))
    def case(data: bytes) -> None:
        path.write_bytes(data)
        ends_well(world, path, lambda: world.settle(path))

    case()


# New keys, so that a row that survives its mutation is a new row, not a conflict with the
# world's (conflicts are LedgerErrors too, but would hide the reader's paths).
REFERENCE: dict[str, tuple[list[dict[str, str]], list[str]]] = {
    "banks": ([{"bank_id": "D", "name": "Bank D", "market": "MO"},
               {"bank_id": "E", "name": "Bank E", "market": "CN"}],
              ["bank_id", "name", "market"]),
    "accounts": ([{"account": "A-NEW-HKD", "bank_id": "A", "type": "asset", "currency": "HKD",
                   "name": "new", "allow_overdraft": "false"},
                  {"account": "B-NEW-MOP", "bank_id": "B", "type": "liability",
                   "currency": "MOP", "name": "", "allow_overdraft": "true"}],
                 ["account", "bank_id", "type", "currency", "name", "allow_overdraft"]),
    "investors": ([{"investor_id": "S9", "direction": "southbound",
                    "remittance_account": "S1-REM", "investment_account": "S2-INV-BRK",
                    "channel": "broker"}],
                  ["investor_id", "direction", "remittance_account", "investment_account",
                   "channel"]),
    "products": ([{"product": "SB-NEW", "currency": "HKD", "risk": "R2",
                   "direction": "southbound", "account": "FUND-SB-HKD"}],
                 ["product", "currency", "risk", "direction", "account"]),
    "rates": ([{"base": "CNY", "quote": "HKD", "bid": "1.0590", "ask": "1.0690",
                "as_of": "2025-03-03T10:15:00+08:00", "source": "board", "book": "default"},
               {"base": "USD", "quote": "HKD", "bid": "7.7760", "ask": "7.7860",
                "as_of": "2025-03-03T10:15:00.5+08:00", "source": "", "book": "other"}],
              ["base", "quote", "bid", "ask", "as_of", "source", "book"]),
}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("kind", list(REFERENCE))
def test_reference_files(world: Ledger, tmp_path: Path, kind: str, fmt: str) -> None:
    rows, columns = REFERENCE[kind]
    path = tmp_path / f"{kind}.{fmt}"

    @FUZZ
    @given(data=mutated(rows, columns, fmt))
    def case(data: bytes) -> None:
        path.write_bytes(data)
        ends_well(world, path, lambda: world.load(kind, path))

    case()


SETTINGS_TEXT = """\
[quota]
individual = "3000000.00"
net_usage_floor_zero = true

[cutoffs]
cny = "19:30"

[fx]
staleness_business_days = 1
rounding = "half_even"
peg_bid = "1.03"

[fx.books.cnh]
rounding = "half_up"

[reconciliation]
date_tolerance_days = 2

[input]
value_date_window_days = 366
"""
TOML_VALUES = (
    '"+5.00"', '"1e3"', '"' + "9" * 4400 + '"', "9" * 30, "1e400", "inf", "nan", "-1", "0",
    "3000000.00", '"25:99"', '"\\u0000"', '"\\u202e"', '"\\ud800"', "[" * 3000 + "]" * 3000,
    "{a = {b = {c = 1}}}", "1979-05-27T07:32:00Z", "true", '""', '"half_even"', "36501",
    '"' + "x" * 10_000 + '"',
)


@st.composite
def settings_files(draw: st.DrawFn) -> bytes:
    lines = SETTINGS_TEXT.splitlines()
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        if " = " in lines[i]:
            key = lines[i].split(" = ")[0]
            lines[i] = f"{key} = {draw(st.sampled_from(TOML_VALUES))}"
    data = ("\n".join(lines) + "\n").encode("utf-8")
    for op in draw(st.lists(st.sampled_from(BYTE_OPS), max_size=3)):
        at = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            i = min(at, len(data) - 1)
            data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1:]
        elif op == "bom":
            data = data[:at] + b"\xef\xbb\xbf" + data[at:]
        elif op == "nul":
            data = data[:at] + b"\x00" + data[at:]
        elif op == "crlf":
            data = data.replace(b"\n", b"\r\n")
        elif op == "cut":
            data = data[:at]
        elif op == "long":
            data = data[:at] + b"#" + b"x" * 200_000 + b"\n" + data[at:]
    return data


def test_settings_files(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"

    @FUZZ
    @given(data=settings_files())
    def case(data: bytes) -> None:
        path.write_bytes(data)
        result: list[Settings] = []
        ends_well(None, path, lambda: result.append(load_settings(path)))

    case()
