"""Instruction files: CSV or JSON Lines, streamed and parsed field by field.

Pure: reads a file, touches no database. Every value that does not parse becomes a
:class:`~ledger.errors.Problem` naming the file, line and field; the engine refuses the whole
file if there is any. Amounts become ``int`` minor units (``"10.005"`` MOP is a problem, never a
truncation), dates ``date``, rates ``Decimal``; no float is made, JSON numbers included. Each
instruction carries a SHA-256 digest of its canonical content: its idempotency fingerprint.

Every field is trimmed and checked as reference data is (``ledger.files.clean_text``: printable,
at most its column's length); ``submitted_at`` has the one timestamp form
(``ledger.files.TIMESTAMP_FORM``); and given a batch's time and a window of days
(``input.value_date_window_days``), a value date or submission time outside the window is a
problem of its line, so no date near the calendar's ends ever reaches the date arithmetic.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator, Sequence
from decimal import Decimal
from hashlib import sha256
from operator import itemgetter
from pathlib import Path
from typing import Final

from ledger.errors import InputError, LedgerError, Problem
from ledger.files import (
    CsvReader,
    clean_text,
    date_window,
    duplicate_columns,
    iter_raw,
    parse_date,
    parse_timestamp,
    undecodable_lines,
)
from ledger.money import CURRENCIES, parse_amount
from ledger.schema import ACCOUNT_LENGTH, ENTRY_ID_LENGTH, KEY_LENGTH

KINDS: Final = ("transfer", "remit", "repatriate", "convert", "subscribe", "redeem", "fee")
REQUIRED: Final = ("instruction_id", "kind", "debit_account", "credit_account", "amount",
                   "currency", "value_date")
OPTIONAL: Final = ("investor_id", "product", "rate", "book", "reference", "submitted_at")
COLUMNS: Final = REQUIRED + OPTIONAL
# The longest text of each column, in COLUMNS order: the database column's length for an
# identifier; the others are bounded by their own grammar (kinds, currencies, amounts, dates,
# rates, timestamps), so 64 only keeps a message about them short; an amount's message names
# its largest value instead.
LIMITS: Final = (ENTRY_ID_LENGTH, 64, ACCOUNT_LENGTH, ACCOUNT_LENGTH, None, 64, 64, KEY_LENGTH,
                 KEY_LENGTH, 64, KEY_LENGTH, ENTRY_ID_LENGTH, 64)
_LONGEST: Final = min(ENTRY_ID_LENGTH, ACCOUNT_LENGTH)
_RATE_RE: Final = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,28})?")


class Instruction:
    """One parsed instruction (a plain slotted class: millions are made per batch)."""

    __slots__ = (
        "amount",
        "book",
        "credit_account",
        "currency",
        "debit_account",
        "digest",
        "instruction_id",
        "investor_id",
        "kind",
        "line",
        "product",
        "rate",
        "reference",
        "submitted_at",
        "value_date",
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

    def __init__(self, name: str, problems: list[Problem], now: dt.datetime | None = None,
                 window_days: int | None = None) -> None:
        self.name = name
        self.problems = problems
        self._dates: dict[str, dt.date] = {}
        self._now = now
        self._window: tuple[dt.date, dt.date] | None = None
        if now is not None and window_days is not None:
            self._window = date_window(now.date(), window_days)
            self._window_days = window_days
            self._span = dt.timedelta(days=window_days)

    def _bad(self, line: int, field: str, expected: str) -> None:
        self.problems.append(Problem(self.name, line, field, expected))

    def _clean(self, line: int, v: Sequence[str]) -> Sequence[str] | None:
        """The row's texts trimmed and checked (``clean_text``), or None with its problems."""
        joined = "".join(v)
        # The usual row, in a few C calls: printable, so its only whitespace can be U+0020,
        # and there is none (nothing to trim); ids, accounts and references within 128 (at
        # once when the whole row is), investor, product and book within 64. The other
        # fields' grammars bound them.
        if (joined.isprintable() and " " not in joined
                and (len(joined) <= _LONGEST or (
                    len(v[0]) <= ENTRY_ID_LENGTH and len(v[2]) <= ACCOUNT_LENGTH
                    and len(v[3]) <= ACCOUNT_LENGTH and len(v[11]) <= ENTRY_ID_LENGTH))
                and len(v[7]) <= KEY_LENGTH and len(v[8]) <= KEY_LENGTH
                and len(v[10]) <= KEY_LENGTH):
            return v
        out: list[str] = []
        ok = True
        limit: int | None
        for col, text, limit in zip(COLUMNS, v, LIMITS, strict=True):
            try:
                out.append(clean_text(text, limit))
            except ValueError as exc:
                self._bad(line, col, str(exc))
                ok = False
        return out if ok else None

    def _outside(self, day: dt.date) -> bool:
        window = self._window
        return window is not None and not window[0] <= day <= window[1]

    def _window_text(self) -> str:
        lo, hi = self._window or (dt.date.min, dt.date.max)
        return (f"within {self._window_days} days of the batch's date "
                f"({lo.isoformat()} to {hi.isoformat()}; setting input.value_date_window_days)")

    def parse(self, line: int, v: Sequence[str]) -> Instruction | None:
        """Parse one row given as its 13 texts in :data:`COLUMNS` order ("" when absent)."""
        cleaned = self._clean(line, v)
        if cleaned is None:
            return None
        (iid, kind, debit, credit, amount_text, currency, vd_text, investor, product, rate_text,
         book, reference, submitted_text) = cleaned
        if not (iid and kind and debit and credit and amount_text and currency and vd_text):
            for col, value in zip(REQUIRED, v, strict=False):
                if not value:
                    self._bad(line, col, "a value (required)")
            return None
        ok = True
        if kind not in KINDS:
            self._bad(line, "kind", f"one of {', '.join(KINDS)}, got {kind!r}")
            ok = False
        amount = 0
        if currency not in CURRENCIES:
            self._bad(line, "currency", f"one of {', '.join(CURRENCIES)}, got {currency!r}")
            ok = False
        else:
            try:
                amount = parse_amount(amount_text, currency)
            except LedgerError as exc:
                self._bad(line, "amount", str(exc))
                ok = False
            else:
                if amount <= 0:
                    self._bad(line, "amount", f"an amount > 0, got {amount_text!r}")
                    ok = False
        value_date = self._dates.get(vd_text)
        if value_date is None:
            try:
                value_date = parse_date(vd_text)
            except ValueError as exc:
                self._bad(line, "value_date", str(exc))
                ok = False
            else:
                if self._outside(value_date):
                    self._bad(line, "value_date", f"a date {self._window_text()}, got {vd_text!r}")
                    value_date = None
                    ok = False
                else:
                    self._dates[vd_text] = value_date
        rate = None
        if rate_text:
            if _RATE_RE.fullmatch(rate_text) and Decimal(rate_text) > 0:
                rate = Decimal(rate_text)
            else:
                self._bad(line, "rate", f"a positive decimal rate like 1.0584, got {rate_text!r}")
                ok = False
        submitted_at = None
        if submitted_text:
            try:
                submitted_at = parse_timestamp(submitted_text)
            except ValueError as exc:
                self._bad(line, "submitted_at", str(exc))
                ok = False
            else:
                if self._now is not None and self._window is not None and (
                        abs(submitted_at - self._now) > self._span):
                    self._bad(line, "submitted_at",
                              f"a time {self._window_text()}, got {submitted_text!r}")
                    ok = False
        if not ok or value_date is None:
            return None
        canonical = (
            f"{iid}\x1f{kind}\x1f{debit}\x1f{credit}\x1f{amount}\x1f{currency}\x1f{vd_text}\x1f"
            f"{investor}\x1f{product}\x1f{'' if rate is None else rate}\x1f{book or 'default'}"
            f"\x1f{reference}\x1f{submitted_text}"
        )
        return Instruction(
            line, iid, kind, debit, credit, amount, currency, value_date, investor or None,
            product or None, rate, book or "default", reference or None, submitted_at,
            sha256(canonical.encode()).hexdigest(),
        )


def text_of(day: dt.date) -> str:
    return day.isoformat()


def read_instructions(
    path: str | Path, problems: list[Problem], *, now: dt.datetime | None = None,
    window_days: int | None = None,
) -> Iterator[Instruction]:
    """Stream the instructions of a ``.csv`` or ``.jsonl`` file.

    Rows with a problem are skipped and their problems appended to ``problems``; the caller
    refuses the file if there is any. Given the batch's time ``now`` and ``window_days``, a
    value date or a ``submitted_at`` more than that many days from it is a problem.
    """
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputError([Problem(name, 0, "file", "an existing, readable file")])
    parser = _Parser(name, problems, now, window_days)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            yield from _read_csv(path, parser)
        elif suffix == ".jsonl":
            yield from _read_jsonl(path, parser)
        else:
            raise InputError([Problem(name, 0, "file", "a .csv or .jsonl file")])
    except UnicodeDecodeError:
        problems.extend(undecodable_lines(path))


def _read_csv(path: Path, parser: _Parser) -> Iterator[Instruction]:
    with path.open(newline="", encoding="utf-8-sig") as fh:  # a BOM is not a column name
        reader = CsvReader(fh)
        try:
            header = [h.strip() for h in next(reader, [])]
        except csv.Error as exc:  # a header over the csv module's field limit, say
            parser._bad(1, "header", f"a CSV header row ({exc})")
            return
        if not header:
            parser._bad(1, "header", "a header row")
            return
        duplicates = duplicate_columns(parser.name, header)
        parser.problems.extend(duplicates)
        bad_header = bool(duplicates)
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
        # Each row as its 13 texts in COLUMNS order, in one C call: absent columns point at an
        # empty cell appended to the row.
        pick = itemgetter(*(header.index(c) if c in header else width for c in COLUMNS))
        in_order = tuple(header) == COLUMNS  # the usual file: rows are already in order
        parse = parser.parse
        try:
            for row in reader:
                if not row:
                    continue
                if len(row) != width:
                    line = reader.line_num
                    parser._bad(line, "row", f"{width} values, got {len(row)}")
                    continue
                if not in_order:
                    row.append("")
                    row = pick(row)
                ins = parse(reader.line_num, row)
                if ins is not None:
                    yield ins
        except csv.Error as exc:  # a field over the csv module's limit, say: stop there
            parser._bad(reader.line_num, "row", f"a CSV row ({exc})")


def _read_jsonl(path: Path, parser: _Parser) -> Iterator[Instruction]:
    for line, raw in iter_raw(path):
        if isinstance(raw, Problem):
            parser.problems.append(raw)
            continue
        unknown = [key for key in raw if key not in COLUMNS]
        for key in unknown:
            parser._bad(line, key, "no such field (unknown field)")
        if not unknown:
            ins = parser.parse(line, tuple(raw.get(c, "") for c in COLUMNS))
            if ins is not None:
                yield ins
