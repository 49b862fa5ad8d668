"""Instruction files: CSV or JSON Lines, streamed and parsed field by field.

Pure: reads a file, touches no database. Every value that does not parse becomes a
:class:`~ledger.errors.Problem` naming the file, line and field; the engine refuses the whole
file if there is any. Amounts become ``int`` minor units (``"10.005"`` MOP is a problem, never a
truncation), dates ``date``, rates ``Decimal``; no float is made, JSON numbers included. Each
instruction carries a SHA-256 digest of its canonical content: its idempotency fingerprint.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Final

from ledger.errors import InputError, LedgerError, Problem
from ledger.money import CURRENCIES, parse_amount

KINDS: Final = ("transfer", "remit", "repatriate", "convert", "subscribe", "redeem", "fee")
REQUIRED: Final = ("instruction_id", "kind", "debit_account", "credit_account", "amount",
                   "currency", "value_date")
OPTIONAL: Final = ("investor_id", "product", "rate", "book", "reference", "submitted_at")
COLUMNS: Final = REQUIRED + OPTIONAL
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_RATE_RE: Final = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,28})?")


class Instruction:
    """One parsed instruction (a plain slotted class: millions are made per batch)."""

    __slots__ = (
        "line", "instruction_id", "kind", "debit_account", "credit_account", "amount",
        "currency", "value_date", "investor_id", "product", "rate", "book", "reference",
        "submitted_at", "digest",
    )

    def __init__(
        self, line: int, instruction_id: str, kind: str, debit_account: str,
        credit_account: str, amount: int, currency: str, value_date: dt.date,
        investor_id: str | None, product: str | None, rate: Decimal | None, book: str,
        reference: str | None, submitted_at: dt.datetime | None, digest: str,
    ) -> None:
        self.line = line
        self.instruction_id = instruction_id
        self.kind = kind
        self.debit_account = debit_account
        self.credit_account = credit_account
        self.amount = amount
        self.currency = currency
        self.value_date = value_date
        self.investor_id = investor_id
        self.product = product
        self.rate = rate
        self.book = book
        self.reference = reference
        self.submitted_at = submitted_at
        self.digest = digest

    def __repr__(self) -> str:
        return (f"Instruction({self.instruction_id!r}, {self.kind}, {self.debit_account} -> "
                f"{self.credit_account}, {self.amount} {self.currency}, {self.value_date})")


class _Parser:
    """Turns raw field texts into Instructions; caches dates, which repeat across a file."""

    def __init__(self, name: str, problems: list[Problem]) -> None:
        self.name = name
        self.problems = problems
        self._dates: dict[str, dt.date] = {}

    def _bad(self, line: int, field: str, expected: str) -> None:
        self.problems.append(Problem(self.name, line, field, expected))

    def parse(self, line: int, v: dict[str, str]) -> Instruction | None:
        ok = True
        for col in REQUIRED:
            if not v.get(col):
                self._bad(line, col, "a value (required)")
                ok = False
        if not ok:
            return None
        kind = v["kind"]
        if kind not in KINDS:
            self._bad(line, "kind", f"one of {', '.join(KINDS)}, got {kind!r}")
            ok = False
        currency = v["currency"]
        amount = 0
        if currency not in CURRENCIES:
            self._bad(line, "currency", f"one of {', '.join(CURRENCIES)}, got {currency!r}")
            ok = False
        else:
            try:
                amount = parse_amount(v["amount"], currency)
            except LedgerError as exc:
                self._bad(line, "amount", str(exc))
                ok = False
            else:
                if amount <= 0:
                    self._bad(line, "amount", f"an amount > 0, got {v['amount']!r}")
                    ok = False
        text = v["value_date"]
        value_date = self._dates.get(text)
        if value_date is None:
            try:
                if not _DATE_RE.fullmatch(text):
                    raise ValueError
                value_date = self._dates[text] = dt.date.fromisoformat(text)
            except ValueError:
                self._bad(line, "value_date", f"a date YYYY-MM-DD, got {text!r}")
                ok = False
        rate = None
        if text := v.get("rate", ""):
            if _RATE_RE.fullmatch(text) and Decimal(text) > 0:
                rate = Decimal(text)
            else:
                self._bad(line, "rate", f"a positive decimal rate like 1.0584, got {text!r}")
                ok = False
        submitted_at = None
        if text := v.get("submitted_at", ""):
            try:
                submitted_at = dt.datetime.fromisoformat(text)
                if submitted_at.tzinfo is None:
                    raise ValueError
            except ValueError:
                self._bad(line, "submitted_at",
                          f"an ISO 8601 timestamp with offset like 2025-03-03T09:15:00+08:00, "
                          f"got {text!r}")
                ok = False
        if not ok:
            return None
        assert value_date is not None  # every failure above set ok = False
        iid = v["instruction_id"]
        investor = v.get("investor_id") or None
        product = v.get("product") or None
        book = v.get("book") or "default"
        reference = v.get("reference") or None
        canonical = "\x1f".join((
            iid, kind, v["debit_account"], v["credit_account"], str(amount), currency,
            text_of(value_date), investor or "", product or "", "" if rate is None else str(rate),
            book, reference or "", v.get("submitted_at", ""),
        ))
        return Instruction(
            line, iid, kind, v["debit_account"], v["credit_account"], amount, currency,
            value_date, investor, product, rate, book, reference, submitted_at,
            hashlib.sha256(canonical.encode()).hexdigest(),
        )


def text_of(day: dt.date) -> str:
    return day.isoformat()


def read_instructions(path: str | Path, problems: list[Problem]) -> Iterator[Instruction]:
    """Stream the instructions of a ``.csv`` or ``.jsonl`` file.

    Rows with a problem are skipped and their problems appended to ``problems``; the caller
    refuses the file if there is any.
    """
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputError([Problem(name, 0, "file", "an existing, readable file")])
    parser = _Parser(name, problems)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            yield from _read_csv(path, parser)
        elif suffix == ".jsonl":
            yield from _read_jsonl(path, parser)
        else:
            raise InputError([Problem(name, 0, "file", "a .csv or .jsonl file")])
    except UnicodeDecodeError as exc:
        problems.append(Problem(name, 0, "file", f"UTF-8 text ({exc.reason})"))


def _read_csv(path: Path, parser: _Parser) -> Iterator[Instruction]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        if not header:
            parser._bad(1, "header", "a header row")
            return
        bad_header = False
        for col in header:
            if col not in COLUMNS:
                parser._bad(1, col, "no such column (unknown column)")
                bad_header = True
        for col in REQUIRED:
            if col not in header:
                parser._bad(1, col, "a required column (missing)")
                bad_header = True
        if bad_header:
            return
        width = len(header)
        for row in reader:
            if not row:
                continue
            line = reader.line_num
            if len(row) != width:
                parser._bad(line, "row", f"{width} values, got {len(row)}")
                continue
            ins = parser.parse(line, dict(zip(header, row, strict=True)))
            if ins is not None:
                yield ins


def _read_jsonl(path: Path, parser: _Parser) -> Iterator[Instruction]:
    with path.open(encoding="utf-8") as fh:
        for line, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text, parse_float=str, parse_int=str)
            except json.JSONDecodeError as exc:
                parser._bad(line, "json", f"a JSON object ({exc.msg})")
                continue
            if not isinstance(obj, dict):
                parser._bad(line, "json", "a JSON object")
                continue
            values: dict[str, str] = {}
            ok = True
            for key, value in obj.items():
                if key not in COLUMNS:
                    parser._bad(line, key, "no such field (unknown field)")
                    ok = False
                elif value is None:
                    values[key] = ""
                elif isinstance(value, str):
                    values[key] = value.strip()
                else:
                    parser._bad(line, key, "a string")
                    ok = False
            if ok:
                ins = parser.parse(line, values)
                if ins is not None:
                    yield ins
