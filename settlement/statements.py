"""Bank statements and reports: one immutable model, read from camt.05x and MT940/MT942.

What this module guarantees:

* A :class:`Statement` with balances always adds up: ``opening + sum(entry amounts) ==
  closing``. Every amount is an ``int`` of minor units of the statement's one ISO 4217 currency
  (minor units from :func:`ledger.money.currency`), which must be one the ledger carries (the
  ``currencies`` argument, from the setting ``ledger.currencies``); dates are
  :class:`datetime.date`. Building a statement that does not add up is an error; a file that
  does not is refused. No float ever holds an amount: the MT940 library hands out ``Decimal``
  and camt carries text, and both are converted exactly, refusing more decimals than the
  currency has (``"10.005"`` HKD, and also ``"10.000"``), never rounding.
* What each kind must have (:attr:`Statement.format`; a refusal names the kind):

  ==========  =====================================  =========================================
  kind        what it is                             balances
  ==========  =====================================  =========================================
  camt.053    end-of-day statement (``Stmt``)        opening ``OPBD`` (else ``PRCD``) and
                                                     closing ``CLBD``: required, must add up
  camt.052    intraday report (``Rpt``)              optional: opening ``OPBD``/``PRCD`` and
                                                     closing ``CLBD``, else ``ITBD``; checked
                                                     when both are there
  camt.054    debit/credit notification (``Ntfctn``) none (the schema has none)
  mt940       end-of-day statement                   ``:60F:``/``:60M:`` and ``:62F:``/``:62M:``
                                                     required, must add up
  mt942       interim report                         none required (``:60x:``/``:62x:`` checked
                                                     when both are there); ``:90D:``/``:90C:``
                                                     (number and sum of debits / credits)
                                                     checked against the entries when present
  ==========  =====================================  =========================================

  A report without both balances has ``opening`` and ``closing`` ``None``
  (:attr:`Statement.has_balances` false): it can be read and listed, not reconciled. Its
  ``opening_date``/``closing_date`` are the period it covers (camt ``FrToDt``, MT942 ``:13D:``,
  else its creation date).
* Signs are the account holder's view as the statement shows it: ``+`` credit, ``-`` debit, for
  balances and entries alike.
* Reversals keep the sign of the booking as the bank made it. camt: ``CdtDbtInd`` is the
  direction of the reversal booking itself (ISO 20022: ``CRDT`` with ``RvslInd`` true reverses a
  debit, so money comes back, ``+``), so the sign comes from ``CdtDbtInd`` alone and ``RvslInd``
  only sets :attr:`StatementEntry.reversal`. MT940: ``RD`` (reversal of a debit) is a credit,
  ``+``; ``RC`` (reversal of a credit) is a debit, ``-``. The same booking therefore reads the same
  from both formats, and the writers emit it so (``+`` reversal as ``CRDT``/``RD``).
* ``CNH`` is refused as a currency (it is a market label, not ISO 4217) unless the caller maps it
  to ``CNY`` with ``cnh_as_cny=True``.
* Every refusal is one :class:`~ledger.errors.InputError` listing each problem as
  ``FILE:LINE: field 'FIELD': what was expected``. For MT940 the line is the line of the field
  tag (``:61:``); for camt the line of the element and the field its path (``Stmt[2]/Ntry[3]/Amt``).
  Problems that concern the whole file (size, format, kind of file) are on line 0. What is
  accepted but worth a reader's eye is a warning, in :attr:`Statement.warnings` in the same
  ``FILE:LINE: field`` form.
* Bounded input. Only a regular file is read (a FIFO, device or directory is refused without
  opening it for long: it is opened non-blocking and checked before reading), at most
  ``max_bytes`` (default 50 MiB) of it, refused before parsing if larger. XML is parsed with
  defusedxml, refusing any DTD, entity declaration and external entity (no "billion laughs", no
  file read through an entity), as a stream: each entry is turned into a value and dropped as
  soon as its end tag is read, an element outside the statement structure is counted but never
  built, one subtree may hold at most 100,000 elements and the document at most
  ``max_elements`` (default 2,000,000), so memory stays a small multiple of the file's size
  whatever it contains. An unknown or wrong encoding declaration is an input error.
* Writing a statement with :func:`write_camt053` or :func:`write_mt940` and reading the result gives
  an equal statement. Where each value came from (:attr:`Statement.source`,
  :attr:`Statement.format`, :attr:`Statement.statement_id`, :attr:`Statement.warnings`,
  :attr:`StatementEntry.line`) is provenance, not content: it takes no part in equality, so the
  same day read from camt.053 and from MT940 compares equal.

Reading rules worth knowing:

* Several statements in one file (camt with several ``Stmt``/``Rpt``/``Ntfctn``, MT940 files of
  several messages) read as several :class:`Statement` values, in file order
  (:func:`read_statements`); :func:`read_statement` wants exactly one. The file is refused as a
  whole if any of them is wrong.
* camt: any ``camt.05x.001.xx`` namespace (or none), the ``Document`` at the root or inside a
  ``BizMsgEnvlp`` (with its ``AppHdr``) envelope. An entry whose status (``Sts`` or ``Sts/Cd``) is
  not ``BOOK`` (pending, information) is left out: it is not part of the booked balance. End-to-end
  id: ``NtryDtls/TxDtls/Refs/EndToEndId`` (``NOTPROVIDED`` counts as none). A batch booking (one
  ``Ntry``, several ``TxDtls``) keeps each detail (:class:`EntryDetail`: its amount
  ``TxDtls/Amt``, else ``AmtDtls/TxAmt/Amt``, its sign, end-to-end id and bank reference); the
  details must add up to the entry's amount (and match ``Btch/NbOfTxs`` where given), or the file
  is refused. Description: ``AddtlNtryInf``, else the ``RmtInf/Ustrd`` lines. ``BookgDt`` and
  ``ValDt`` are optional in ISO 20022: a missing one takes the other; an entry with neither takes
  the statement's date (the closing balance's, else the report's), with a warning. A date may
  carry an offset (``2017-04-01+02:00``): the date is the bank's local date as written.
* MT940/MT942: a message starts at ``:20:``; SWIFT envelopes (``{1:...}{2:...}{4:``, the ``-}``
  end line, with or without the ``{5:...}`` trailer glued to it) and bank file headers (a BIC
  line, ``940``/``942``, ``:940:``, ``ABNANL2A/940/ABNANL2A``) between messages are skipped. The
  ``:61:`` date, mark and amount are parsed by the ``mt-940`` library's tag parser; this module
  splits the text into fields itself, so every field keeps its line number, and it checks what
  the library lets through silently (trailing text after a balance). The customer reference
  (before ``//``) is the end-to-end id, ``NONREF`` counting as none; the part after ``//`` is the
  bank's reference. A customer reference over 16 characters (an IBAN, a house format) is kept
  whole, with a warning (the library would cut it at 16). ``:61:`` may go on over several lines:
  the lines after the first are its supplementary details. The entry date (MMDD) is the booking
  date (the value date if absent), its year taken from the value date across a year end as the
  library does. The ``:86:`` lines following a ``:61:`` are joined without separator (banks wrap
  them at 65 characters) to form the description; without ``:86:``, the supplementary details.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import stat
import xml.etree.ElementTree as ET
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal

import mt940
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import DefusedXMLParser  # type: ignore[import-untyped]

from ledger.errors import AmountError, InputError, LedgerError, Problem, UnknownCurrency
from ledger.money import DEFAULT_CURRENCIES, carried_currency, currency, format_amount, parse_amount

StatementFormat = Literal["camt.053", "camt.052", "camt.054", "mt940", "mt942"]

#: What each kind is called in messages.
KIND_NAMES: Final[dict[str, str]] = {
    "camt.053": "camt.053 statement",
    "camt.052": "camt.052 intraday report",
    "camt.054": "camt.054 debit/credit notification",
    "mt940": "MT940 statement",
    "mt942": "MT942 interim report",
}

#: Default refusal threshold for a statement file, in bytes (50 MiB).
DEFAULT_MAX_BYTES: Final = 50 * 1024 * 1024
#: Default limit on the number of XML elements of one file.
DEFAULT_MAX_ELEMENTS: Final = 2_000_000
# One entry, balance or header with more elements than this is not a bank's.
_MAX_SUBTREE_ELEMENTS: Final = 100_000
_MAX_DEPTH: Final = 64
_FEED_CHUNK: Final = 1 << 16

#: The camt.053 version :func:`write_camt053` writes; the reader takes any ``camt.05x.001.xx``.
CAMT053_NAMESPACE: Final = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"

_CAMT_NS_RE: Final = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.(\d{3})\.\d{3}\.\d{2}$")
_IBAN_RE: Final = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_ISO_DATE_RE: Final = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:Z|[+-]\d{2}:\d{2})?$")
_MT940_TAG_RE: Final = re.compile(r"^:(?P<tag>\d{2}[A-Z]?|NS):(?P<value>.*)$")
_MT_HEADER_RE: Final = re.compile(
    r"^(?:[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?|:?94[02]:?|[A-Z0-9]{8,11}/94[02]/[A-Z0-9]{8,11})$"
)
_MT_KIND_RE: Final = re.compile(r"\{2:[IO]94([02])|^:?94([02]):?$|/94([02])/")
# What precedes the customer reference in :61: (the library's pattern, up to the type code).
_MT61_HEAD_RE: Final = re.compile(
    r"^\d{6}(?:\d{2}|\s{2})?(?:\d{2}|\s{2})?R?[DC][A-Z]?[\n ]?[\d,]{1,15}(?:[A-Z][A-Z0-9 ]{3})?"
)
_MT_COUNT_RE: Final = re.compile(
    r"^(?P<count>\d{1,5})(?P<currency>[A-Z]{3})(?P<amount>[\d,]{1,15})$"
)
_MT_DATETIME_RE: Final = re.compile(r"^(\d{6})(\d{4})(?:[+-]\d{4})?$")
_MT940_DETAILS_WIDTH: Final = 65
_MT940_REF_MAX: Final = 16
_NO_REFERENCE: Final = frozenset({"NONREF", "NOTPROVIDED"})


@dataclass(frozen=True, slots=True)
class EntryDetail:
    """One payment of a batch booking: its share of the entry, signed like the entry."""

    amount: int
    end_to_end_id: str | None
    bank_ref: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        _require_int(self.amount, "detail amount")


@dataclass(frozen=True, slots=True)
class StatementEntry:
    """One booked entry of a statement.

    ``amount`` is signed from the account holder's view (``+`` credit, ``-`` debit), in minor units
    of ``currency``. ``details`` are the payments of a batch booking (empty for a single payment);
    they add up to ``amount``. ``line`` is where the entry starts in its source file (for messages
    and reports); it takes no part in equality.
    """

    amount: int
    currency: str
    booking_date: date
    value_date: date
    end_to_end_id: str | None
    bank_ref: str | None
    reversal: bool = False
    description: str = ""
    line: int = field(default=0, compare=False)
    details: tuple[EntryDetail, ...] = ()

    def __post_init__(self) -> None:
        _require_int(self.amount, "amount")
        currency(self.currency)
        if self.details and sum(d.amount for d in self.details) != self.amount:
            raise InputError(
                f"entry at line {self.line}: its details add up to "
                f"{format_amount(sum(d.amount for d in self.details), self.currency)}, "
                f"not its amount {format_amount(self.amount, self.currency)}"
            )

    def parts(self) -> tuple[StatementEntry, ...]:
        """The payments this entry books: itself, or one entry per detail of a batch booking
        (each with the detail's amount, end-to-end id and bank reference, else the entry's)."""
        if not self.details:
            return (self,)
        return tuple(
            dataclasses.replace(
                self,
                amount=d.amount,
                end_to_end_id=d.end_to_end_id,
                bank_ref=d.bank_ref or self.bank_ref,
                description=d.description or self.description,
                details=(),
            )
            for d in self.details
        )


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement or report of one account in one currency; with balances, it adds up.

    ``account`` is the account's identifier as the bank wrote it (camt ``Acct/Id/IBAN`` or
    ``Acct/Id/Othr/Id``, MT940 ``:25:``). ``opening``/``closing`` are ``None`` for a report
    without balances (see the module docstring).
    """

    account: str
    currency: str
    opening: int | None
    closing: int | None
    opening_date: date
    closing_date: date
    entries: tuple[StatementEntry, ...]
    source: str = field(default="", compare=False)
    format: StatementFormat = field(default="camt.053", compare=False)
    statement_id: str = field(default="", compare=False)
    warnings: tuple[Problem, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if (self.opening is None) != (self.closing is None):
            raise InputError(
                f"{self.source or '<statement>'}: an opening and a closing balance, or neither"
            )
        if self.opening is not None:
            _require_int(self.opening, "opening")
        if self.closing is not None:
            _require_int(self.closing, "closing")
        currency(self.currency)
        for entry in self.entries:
            if entry.currency != self.currency:
                raise InputError(
                    f"{self.source or '<statement>'}: entry in {entry.currency} "
                    f"on a {self.currency} statement"
                )
        if self.opening is not None and self.closing is not None:
            total = self.entries_total
            if self.opening + total != self.closing:
                raise InputError(
                    f"{self.source or '<statement>'}: "
                    f"{_balance_message(_Totals(self.currency, self.opening, self.closing), total)}"
                )

    @property
    def entries_total(self) -> int:
        """The sum of the entries' signed amounts: ``closing - opening``."""
        return sum(e.amount for e in self.entries)

    @property
    def has_balances(self) -> bool:
        """Whether the statement has an opening and a closing balance (it can be reconciled)."""
        return self.opening is not None and self.closing is not None

    @property
    def kind_name(self) -> str:
        """What the statement is, for messages: ``"camt.052 intraday report"``."""
        return KIND_NAMES[self.format]


def _require_int(value: object, what: str) -> None:
    # bool is an int subclass and float is the defect this whole codebase guards against.
    if isinstance(value, bool) or not isinstance(value, int):
        raise AmountError(f"{what}: expected an int of minor units, got {type(value).__name__}")


def _balance_message(totals: _Totals, total: int) -> str:
    code = totals.currency
    opening, closing = totals.opening, totals.closing
    computed = opening + total
    return (
        f"opening {format_amount(opening, code)} + entries {format_amount(total, code)}"
        f" = {format_amount(computed, code)} {code} to equal the closing balance"
        f" {format_amount(closing, code)} {code}; it is off by"
        f" {format_amount(closing - computed, code)} {code}"
    )


@dataclass(frozen=True, slots=True)
class _Totals:
    currency: str
    opening: int
    closing: int


class _Problems:
    """Collects the problems (and warnings) of one file, to refuse it once, listing them all."""

    def __init__(self, name: str, cnh_as_cny: bool, currencies: Collection[str]) -> None:
        self.name = name
        self.cnh_as_cny = cnh_as_cny
        self.currencies = tuple(currencies)
        self.items: list[Problem] = []
        self.warnings: list[Problem] = []
        # A wrong currency code is reported where it first appears, not on every amount.
        self.bad_codes: set[str] = set()

    def add(self, line: int, field_name: str, expected: str) -> None:
        self.items.append(Problem(self.name, line, field_name, expected))

    def warn(self, line: int, field_name: str, note: str) -> None:
        self.warnings.append(Problem(self.name, line, field_name, note))

    def raise_if_any(self) -> None:
        if self.items:
            raise InputError(self.items)

    def currency_code(self, code: str, line: int, field_name: str) -> str | None:
        code = code.strip()
        if code in self.bad_codes:
            return None
        if code == "CNH":
            if self.cnh_as_cny:
                code = "CNY"
            else:
                self.bad_codes.add(code)
                self.add(
                    line,
                    field_name,
                    "an ISO 4217 currency; CNH is the offshore RMB market label, not a currency "
                    "(read it as CNY only with the cnh_as_cny setting)",
                )
                return None
        try:
            return carried_currency(code, self.currencies).code
        except UnknownCurrency as exc:
            self.bad_codes.add(code)
            self.add(line, field_name, str(exc))
            return None

    def amount(self, text: str, code: str, line: int, field_name: str) -> int | None:
        try:
            return parse_amount(text, code)
        except AmountError as exc:
            self.add(line, field_name, f"an amount in {code} ({exc})")
            return None


# --------------------------------------------------------------------------------------------
# Reading


def read_statements(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    cnh_as_cny: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
    currencies: Collection[str] = DEFAULT_CURRENCIES,
) -> tuple[Statement, ...]:
    """Every statement or report of a camt.05x or MT940/MT942 file, in file order.

    ``source`` is a path (``str`` or path-like) or the file's content (``bytes``). ``name`` is the
    file name used in messages and kept as :attr:`Statement.source` (default: the path, or
    ``"<statement>"``). ``currencies`` are the currencies the ledger carries. Raises
    :class:`~ledger.errors.InputError` listing every problem found.
    """
    data, name = _load(source, name, max_bytes)
    problems = _Problems(name, cnh_as_cny, currencies)
    kind = detect_format(data, name=name)
    if kind.startswith("camt"):
        found = _read_camt(data, problems, max_elements)
    else:
        found = _read_mt(data, problems)
    if not found and not problems.items:
        problems.add(0, "statement", "at least one statement in the file")
    problems.raise_if_any()
    return tuple(found)


def read_statement(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    cnh_as_cny: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
    currencies: Collection[str] = DEFAULT_CURRENCIES,
) -> Statement:
    """The one statement of a file (as :func:`read_statements`); a file of several is refused,
    naming what it holds."""
    found = read_statements(
        source, name=name, cnh_as_cny=cnh_as_cny, max_bytes=max_bytes,
        max_elements=max_elements, currencies=currencies,
    )
    if len(found) != 1:
        raise InputError(
            [
                Problem(
                    found[0].source,
                    0,
                    "statement",
                    f"one statement in the file, found {len(found)}: "
                    f"{describe_statements(found)}",
                )
            ]
        )
    return found[0]


def describe_statements(found: Collection[Statement]) -> str:
    """``"account X on 2025-03-03, account Y on ..."``: what a file holds, for messages."""
    return ", ".join(
        f"{s.kind_name} of account {s.account} "
        + (
            f"on {s.closing_date}"
            if s.opening_date == s.closing_date
            else f"{s.opening_date}..{s.closing_date}"
        )
        for s in found
    )


def detect_format(data: bytes, *, name: str = "<statement>") -> StatementFormat:
    """The kind of file: ``"camt.05x"`` for XML (by its namespace; camt.053 when it has none),
    ``"mt942"`` or ``"mt940"`` for SWIFT text (by its first message); anything else is an
    InputError."""
    head = data.removeprefix(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<"):
        m = re.search(rb"camt\.(05[234])\.\d{3}\.\d{2}", data[:4096])
        if m is None:
            m = re.search(rb"<(?:\w+:)?(BkToCstmr\w+)", data[:8192])
            kinds = {b"BkToCstmrAcctRpt": "camt.052", b"BkToCstmrDbtCdtNtfctn": "camt.054"}
            found = "camt.053" if m is None else kinds.get(m.group(1), "camt.053")
            return found  # type: ignore[return-value]
        return f"camt.{m.group(1).decode()}"  # type: ignore[return-value]
    if head.startswith((b":20:", b"{1:", b"{4:")) or re.search(rb"^:20:", data, re.MULTILINE):
        first = data.split(b"\n:20:", 1)[0][:2048].decode("latin-1")
        mt = _MT_KIND_RE.search(first) or _MT_KIND_RE.search(first.split("\n", 3)[-1])
        if mt is not None and "2" in mt.groups():
            return "mt942"
        return "mt940"
    raise InputError(
        [
            Problem(
                name,
                0,
                "format",
                "a camt.052/053/054 XML document or an MT940/MT942 text (with a :20: field)",
            )
        ]
    )


def _load(
    source: str | os.PathLike[str] | bytes, name: str | None, max_bytes: int
) -> tuple[bytes, str]:
    if isinstance(source, bytes):
        name = name or "<statement>"
        data = source
    else:
        name = name or os.fspath(source)
        data = _read_regular_file(Path(source), name, max_bytes)
    if len(data) > max_bytes:
        raise InputError([_too_large(name, max_bytes)])
    return data, name


def _too_large(name: str, max_bytes: int) -> Problem:
    return Problem(
        name,
        0,
        "size",
        f"a statement of at most {max_bytes} bytes (this one is larger; "
        "raise statement_max_bytes if it is genuine)",
    )


def _read_regular_file(path: Path, name: str, max_bytes: int) -> bytes:
    """At most ``max_bytes + 1`` bytes of a regular file; anything else is refused unread.

    Opened non-blocking, so that a FIFO with no writer cannot hang the open; the check is on the
    opened descriptor, so the path cannot be swapped between check and read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        what = "a regular file, got a directory" if exc.errno == errno.EISDIR else (
            f"an existing, readable file ({exc.strerror})"
        )
        raise InputError([Problem(name, 0, "file", what)]) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = (
                "a directory" if stat.S_ISDIR(mode)
                else "a FIFO" if stat.S_ISFIFO(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "a socket" if stat.S_ISSOCK(mode)
                else "not a regular file"
            )
            raise InputError([Problem(name, 0, "file", f"a regular file, got {kind}")])
        if os.fstat(fd).st_size > max_bytes:
            raise InputError([_too_large(name, max_bytes)])
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        chunks: list[bytes] = []
        left = max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise InputError(
            [Problem(name, 0, "file", f"a readable file ({exc.strerror})")]
        ) from None
    finally:
        os.close(fd)


# camt.05x -----------------------------------------------------------------------------------

# message element -> (kind, report element)
_CAMT_MESSAGES: Final[dict[str, tuple[StatementFormat, str]]] = {
    "BkToCstmrStmt": ("camt.053", "Stmt"),
    "BkToCstmrAcctRpt": ("camt.052", "Rpt"),
    "BkToCstmrDbtCdtNtfctn": ("camt.054", "Ntfctn"),
}
_CAMT_REPORTS: Final = frozenset(r for _, r in _CAMT_MESSAGES.values())


class _Limit(Exception):
    """A bound of the streaming parser was hit: the file is refused where it stands."""

    def __init__(self, field_name: str, expected: str) -> None:
        super().__init__(expected)
        self.field_name = field_name
        self.expected = expected


@dataclass(slots=True)
class _Piece:
    """A built subtree (a header, balance, account or entry) and the line of each element."""

    root: ET.Element
    lines: dict[ET.Element, int]

    def line_of(self, elem: ET.Element | None) -> int:
        return self.lines.get(elem, 0) if elem is not None else self.lines.get(self.root, 0)


@dataclass(slots=True)
class _Pending:
    """An entry read before the statement's date is known (it may lack both of its dates)."""

    amount: int
    currency: str
    booked: date | None
    valued: date | None
    end_to_end_id: str | None
    bank_ref: str | None
    reversal: bool
    description: str
    line: int
    path: str
    details: tuple[EntryDetail, ...]


@dataclass(slots=True)
class _CamtReport:
    kind: StatementFormat
    path: str
    line: int
    warnings_from: int
    code: str | None = None
    account: str | None = None
    statement_id: str = ""
    created: date | None = None
    period: tuple[date | None, date | None] = (None, None)
    balances: dict[str, tuple[int, date, int, str] | None] = field(default_factory=dict)
    entries: list[_Pending] = field(default_factory=list)
    ntry_count: int = 0
    bal_count: int = 0
    bad: bool = False


class _CamtStream:
    """An XMLParser target that builds only the parts of each report, one at a time.

    The skeleton (``Document``, an envelope, the message and report elements) is tracked, not
    built; each child of a report (and the group header) is built as its own subtree, handed over
    when it ends and then dropped; anything else is counted and skipped.
    """

    def __init__(self, problems: _Problems, max_elements: int) -> None:
        self.problems = problems
        self.max_elements = max_elements
        self.parser: Any = None
        self.count = 0
        # per open element: "skel", "skip" or "build", and its local name
        self.modes: list[str] = []
        self.names: list[str] = []
        self.builder: ET.TreeBuilder | None = None
        self.piece_lines: dict[ET.Element, int] = {}
        self.piece_count = 0
        self.doc_kind: str | None = None  # from the Document's namespace
        self.message: tuple[StatementFormat, str] | None = None
        self.report: _CamtReport | None = None
        self.report_counts: dict[str, int] = {}
        self.group_created: date | None = None
        self.saw_document = False
        self.saw_message = False
        self.done: list[Statement] = []

    def line(self) -> int:
        return int(self.parser.parser.CurrentLineNumber)

    # -- parser callbacks ---------------------------------------------------------------------

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.count += 1
        if self.count > self.max_elements:
            raise _Limit(
                "xml", f"at most {self.max_elements} XML elements (a statement is not this large)"
            )
        if len(self.modes) >= _MAX_DEPTH:
            raise _Limit("xml", f"elements nested at most {_MAX_DEPTH} deep")
        local = _local(tag)
        parent = self.modes[-1] if self.modes else None
        if parent == "build" and self.builder is not None:
            self.piece_count += 1
            if self.piece_count > _MAX_SUBTREE_ELEMENTS:
                raise _Limit(
                    "/".join(self.names[-3:]),
                    f"at most {_MAX_SUBTREE_ELEMENTS} elements in one {self._piece_name()}",
                )
            self.piece_lines[self.builder.start(tag, attrib)] = self.line()
            self._push("build", local)
        elif parent == "skip":
            self._push("skip", local)
        else:
            self._push(self._skeleton_child(tag, local, attrib), local)

    def end(self, tag: str) -> None:
        mode = self.modes.pop()
        local = self.names.pop()
        if mode == "build" and self.builder is not None:
            elem = self.builder.end(tag)
            if not self.modes or self.modes[-1] != "build":
                piece = _Piece(elem, self.piece_lines)
                self.builder, self.piece_lines, self.piece_count = None, {}, 0
                self._piece_done(local, piece)
        elif mode == "skel" and self.report is not None and local in _CAMT_REPORTS:
            report, self.report = self.report, None
            stmt = _finish_report(report, self.group_created, self.problems)
            if stmt is not None:
                self.done.append(stmt)

    def data(self, text: str) -> None:
        if self.builder is not None and self.modes and self.modes[-1] == "build":
            self.builder.data(text)

    def close(self) -> None:
        return None

    # -- structure ----------------------------------------------------------------------------

    def _push(self, mode: str, local: str) -> None:
        self.modes.append(mode)
        self.names.append(local)

    def _piece_name(self) -> str:
        for name in reversed(self.names):
            if name in ("Ntry", "Bal", "Acct", "GrpHdr"):
                return name
        return "element"

    def _start_piece(self, tag: str, attrib: dict[str, str]) -> str:
        self.builder = ET.TreeBuilder()
        self.piece_lines = {}
        self.piece_count = 1
        self.piece_lines[self.builder.start(tag, attrib)] = self.line()
        return "build"

    def _skeleton_child(self, tag: str, local: str, attrib: dict[str, str]) -> str:
        parent = self.names[-1] if self.names else None
        problems = self.problems
        if parent is None or parent == "BizMsgEnvlp":
            if local == "Document":
                self.saw_document = True
                ns = tag[1:].partition("}")[0] if tag.startswith("{") else ""
                match = _CAMT_NS_RE.match(ns)
                if ns and (match is None or match.group(1) not in ("052", "053", "054")):
                    problems.add(
                        self.line(),
                        "Document",
                        "a camt.052, camt.053 or camt.054 Document "
                        f"(urn:iso:std:iso:20022:tech:xsd:camt.05x.001.xx), got namespace {ns}",
                    )
                    return "skip"
                self.doc_kind = f"camt.{match.group(1)}" if match else None
                return "skel"
            if parent is None and local == "BizMsgEnvlp":
                return "skel"
            if parent is None:
                problems.add(
                    self.line(),
                    "Document",
                    f"a camt Document (or a BizMsgEnvlp holding one), got {local}",
                )
            return "skip"  # AppHdr and other envelope parts
        if parent == "Document":
            if local in _CAMT_MESSAGES:
                self.message = _CAMT_MESSAGES[local]
                self.saw_message = True
                if self.doc_kind is not None and self.doc_kind != self.message[0]:
                    problems.add(
                        self.line(),
                        f"Document/{local}",
                        f"the message of a {self.doc_kind} document, got a "
                        f"{KIND_NAMES[self.message[0]]}",
                    )
                    return "skip"
                return "skel"
            return "skip"
        if parent in _CAMT_MESSAGES and self.message is not None:
            kind, report_tag = self.message
            if local == "GrpHdr":
                return self._start_piece(tag, attrib)
            if local == report_tag:
                n = self.report_counts.get(local, 0) + 1
                self.report_counts[local] = n
                self.report = _CamtReport(
                    kind, local if n == 1 else f"{local}[{n}]", self.line(),
                    len(problems.warnings),
                )
                return "skel"
            if local in _CAMT_REPORTS:
                problems.add(
                    self.line(),
                    f"{parent}/{local}",
                    f"{report_tag} elements in a {KIND_NAMES[kind]} ({parent})",
                )
            return "skip"
        if parent in _CAMT_REPORTS and self.report is not None:
            return self._start_piece(tag, attrib)
        return "skip"

    def _piece_done(self, local: str, piece: _Piece) -> None:
        report = self.report
        if report is None:
            if local == "GrpHdr":
                self.group_created = _camt_datetime_date(piece.root.find("{*}CreDtTm"))
            return
        _report_piece(report, local, piece, self.problems)


def _read_camt(data: bytes, problems: _Problems, max_elements: int) -> list[Statement]:
    target = _CamtStream(problems, max_elements)
    parser = DefusedXMLParser(
        target=target, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    target.parser = parser
    name = problems.name
    try:
        for i in range(0, len(data), _FEED_CHUNK):
            parser.feed(data[i : i + _FEED_CHUNK])
        parser.close()
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else 0
        raise InputError([Problem(name, line, "xml", f"well-formed XML ({exc})")]) from None
    except DefusedXmlException as exc:
        raise InputError(
            [
                Problem(
                    name,
                    target.line(),
                    "xml",
                    "XML without a DTD: DTDs, entity declarations and external entities are "
                    f"refused (entity expansion bombs, reading other files) ({exc!r})",
                )
            ]
        ) from None
    except (LookupError, UnicodeError) as exc:
        # expat asks Python for an encoding it does not know, or the bytes do not decode.
        raise InputError(
            [
                Problem(
                    name,
                    1,
                    "xml encoding",
                    f"an encoding declaration naming a known encoding, such as UTF-8 ({exc})",
                )
            ]
        ) from None
    except _Limit as exc:
        raise InputError([Problem(name, target.line(), exc.field_name, exc.expected)]) from None
    if not target.saw_document and not problems.items:
        problems.add(0, "Document", "a camt Document element")
    elif not target.saw_message and not problems.items:
        problems.add(
            0,
            "Document",
            "a camt message: BkToCstmrStmt (camt.053), BkToCstmrAcctRpt (camt.052) or "
            "BkToCstmrDbtCdtNtfctn (camt.054)",
        )
    return target.done


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _text(elem: ET.Element | None) -> str | None:
    if elem is None or elem.text is None:
        return None
    text = elem.text.strip()
    return text or None


def _camt_datetime_date(elem: ET.Element | None) -> date | None:
    text = _text(elem)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        return None


def _report_piece(report: _CamtReport, local: str, piece: _Piece, problems: _Problems) -> None:
    """Take one child of a Stmt/Rpt/Ntfctn into the report being read."""
    path = report.path
    root = piece.root
    if local == "Id":
        report.statement_id = _text(root) or ""
    elif local == "CreDtTm":
        report.created = _camt_datetime_date(root)
    elif local == "FrToDt":
        report.period = (
            _camt_datetime_date(root.find("{*}FrDtTm")),
            _camt_datetime_date(root.find("{*}ToDtTm")),
        )
    elif local == "Acct":
        report.account = _text(root.find("{*}Id/{*}IBAN")) or _text(
            root.find("{*}Id/{*}Othr/{*}Id")
        )
        if report.account is None:
            problems.add(piece.line_of(root), f"{path}/Acct/Id", "an account IBAN or Othr/Id")
            report.bad = True
        ccy = root.find("{*}Ccy")
        if _text(ccy) is not None:
            code = problems.currency_code(_text(ccy) or "", piece.line_of(ccy), f"{path}/Acct/Ccy")
            report.code = code
            report.bad = report.bad or code is None
    elif local == "Bal":
        _report_balance(report, piece, problems)
    elif local == "Ntry":
        report.ntry_count += 1
        pending = _camt_entry(piece, f"{path}/Ntry[{report.ntry_count}]", report, problems)
        if pending is not None:
            report.entries.append(pending)


def _report_balance(report: _CamtReport, piece: _Piece, problems: _Problems) -> None:
    bal = piece.root
    report.bal_count += 1
    path = f"{report.path}/Bal[{report.bal_count}]"
    kind = _text(bal.find("{*}Tp/{*}CdOrPrtry/{*}Cd"))
    if kind not in ("OPBD", "PRCD", "CLBD", "ITBD"):
        return  # available and forward balances take no part in the check
    if report.kind == "camt.054":
        return  # a notification has no balances; one sent anyway is not checked
    if kind in report.balances and kind != "ITBD":
        problems.add(piece.line_of(bal), f"{path}/Tp", f"one {kind} balance (found a second)")
        return
    report.balances[kind] = None
    parsed = _camt_money(bal, path, report.code, piece, problems)
    when = _camt_date(bal.find("{*}Dt"), f"{path}/Dt", problems, piece.line_of(bal))
    if parsed is not None:
        report.code = report.code or parsed[1]
    if parsed is None or when is None:
        report.bad = True
        return
    amt = bal.find("{*}Amt")
    report.balances[kind] = (parsed[0], when, piece.line_of(amt), f"{path}/Amt")


def _finish_report(
    report: _CamtReport, group_created: date | None, problems: _Problems
) -> Statement | None:
    """The Statement of a report whose end tag was read, or None (its problems recorded)."""
    path, kind = report.path, report.kind
    what = KIND_NAMES[kind]
    if report.account is None and not report.bad:
        problems.add(report.line, f"{path}/Acct/Id", "an account IBAN or Othr/Id")
        report.bad = True
    bals = report.balances
    opening = bals.get("OPBD") or bals.get("PRCD")
    closing = bals.get("CLBD")
    if kind == "camt.053":
        if not bals.keys() & {"OPBD", "PRCD"}:
            problems.add(
                report.line, f"{path}/Bal",
                f"an opening balance (Bal with code OPBD or PRCD) in a {what}",
            )
        if "CLBD" not in bals:
            problems.add(
                report.line, f"{path}/Bal", f"a closing balance (Bal with code CLBD) in a {what}"
            )
    elif kind == "camt.052":
        closing = closing or bals.get("ITBD")
        if (opening is None) != (closing is None) and not report.bad:
            problems.warn(
                report.line,
                f"{path}/Bal",
                f"a {what} with only an {'opening' if opening else 'closing'} balance: its "
                "entries are not checked against balances, and it cannot be reconciled",
            )
            opening = closing = None
    else:
        opening = closing = None
    code = report.code
    if code is None and report.entries:
        code = report.entries[0].currency
    if code is None:
        if not report.bad:
            problems.add(report.line, f"{path}/Acct/Ccy", "a currency (Acct/Ccy, or a balance's)")
        return None
    # The statement's date: the closing balance's, else the end of the period it covers.
    day = closing[1] if closing else report.period[1] or report.created or group_created
    first = opening[1] if opening else report.period[0] or day
    if day is None or first is None:
        problems.add(
            report.line, path, f"a date for the {what}: a balance, FrToDt or CreDtTm"
        )
        return None
    entries: list[StatementEntry] = []
    for p in report.entries:
        if p.currency != code:
            problems.add(
                p.line, f"{p.path}/Amt/@Ccy", f"the statement currency {code}, got {p.currency}"
            )
            continue
        booked, valued = p.booked, p.valued
        if booked is None and valued is None:
            problems.warn(
                p.line, p.path,
                f"no BookgDt and no ValDt: the entry takes the statement's date {day}",
            )
            booked = valued = day
        entries.append(
            StatementEntry(
                amount=p.amount, currency=code, booking_date=booked or valued or day,
                value_date=valued or booked or day, end_to_end_id=p.end_to_end_id,
                bank_ref=p.bank_ref, reversal=p.reversal, description=p.description,
                line=p.line, details=p.details,
            )
        )
    if report.bad or problems.items:
        return None
    total = sum(e.amount for e in entries)
    if opening is not None and closing is not None and opening[0] + total != closing[0]:
        totals = _Totals(code, opening[0], closing[0])
        problems.add(closing[2], closing[3], _balance_message(totals, total))
        return None
    if report.account is None:
        raise LedgerError("unreachable: a report without account passed validation")
    return Statement(
        account=report.account,
        currency=code,
        opening=opening[0] if opening and closing else None,
        closing=closing[0] if opening and closing else None,
        opening_date=first,
        closing_date=day,
        entries=tuple(entries),
        source=problems.name,
        format=kind,
        statement_id=report.statement_id,
        warnings=tuple(problems.warnings[report.warnings_from :]),
    )


def _camt_money(
    parent: ET.Element, path: str, code: str | None, piece: _Piece, problems: _Problems
) -> tuple[int, str] | None:
    """The signed amount of a Bal or Ntry (``Amt`` + ``CdtDbtInd``) and its currency."""
    amt = parent.find("{*}Amt")
    line = piece.line_of(parent)
    if amt is None or _text(amt) is None:
        problems.add(line, f"{path}/Amt", "an amount")
        return None
    line = piece.line_of(amt)
    ccy_text = amt.get("Ccy")
    if ccy_text is None:
        problems.add(line, f"{path}/Amt/@Ccy", "a currency attribute Ccy")
        return None
    ccy = problems.currency_code(ccy_text, line, f"{path}/Amt/@Ccy")
    if ccy is None:
        return None
    if code is not None and ccy != code:
        problems.add(line, f"{path}/Amt/@Ccy", f"the statement currency {code}, got {ccy}")
        return None
    text = _text(amt) or ""
    if text.startswith(("-", "+")):
        problems.add(
            line, f"{path}/Amt", f"an unsigned amount (the sign is CdtDbtInd), got {text!r}"
        )
        return None
    minor = problems.amount(text, ccy, line, f"{path}/Amt")
    indicator_elem = parent.find("{*}CdtDbtInd")
    indicator = _text(indicator_elem)
    if indicator not in ("CRDT", "DBIT"):
        problems.add(
            piece.line_of(indicator_elem if indicator_elem is not None else parent),
            f"{path}/CdtDbtInd",
            f"CRDT or DBIT, got {indicator!r}",
        )
        return None
    if minor is None:
        return None
    return (minor if indicator == "CRDT" else -minor), ccy


def _iso_date(text: str) -> date:
    """``2025-03-03``, also with an offset (``2017-04-01+02:00``): the date as written."""
    m = _ISO_DATE_RE.match(text)
    if m is None:
        raise ValueError(text)
    return date.fromisoformat(m.group(1))


def _camt_date(holder: ET.Element | None, path: str, problems: _Problems, line: int) -> date | None:
    """A date from ``Dt`` or ``DtTm`` under ``holder`` (the local date as the bank wrote it)."""
    if holder is None:
        problems.add(line, path, "a date (Dt or DtTm)")
        return None
    for child in holder:
        text = _text(child)
        if text is None:
            continue
        try:
            if _local(child.tag) == "Dt":
                return _iso_date(text)
            if _local(child.tag) == "DtTm":
                return datetime.fromisoformat(text).date()
        except ValueError:
            problems.add(line, f"{path}/{_local(child.tag)}", f"an ISO date, got {text!r}")
            return None
    problems.add(line, path, "a date (Dt or DtTm)")
    return None


def _camt_entry(
    piece: _Piece, path: str, report: _CamtReport, problems: _Problems
) -> _Pending | None:
    ntry = piece.root
    line = piece.line_of(ntry)
    status_elem = ntry.find("{*}Sts")
    status = _text(ntry.find("{*}Sts/{*}Cd")) or _text(status_elem)
    if status is not None and status != "BOOK":
        return None  # pending or information only: not part of the booked balance
    money = _camt_money(ntry, path, report.code, piece, problems)
    # Both dates are optional in ISO 20022; a missing one is filled in when the report ends.
    booked = valued = None
    ok = True
    for tag, slot in (("BookgDt", "booked"), ("ValDt", "valued")):
        holder = ntry.find("{*}" + tag)
        if holder is None:
            continue
        got = _camt_date(holder, f"{path}/{tag}", problems, line)
        ok = ok and got is not None
        if slot == "booked":
            booked = got
        else:
            valued = got

    reversal = False
    rvsl = _text(ntry.find("{*}RvslInd"))
    if rvsl is not None:
        if rvsl not in ("true", "false", "1", "0"):
            problems.add(line, f"{path}/RvslInd", f"true or false, got {rvsl!r}")
        reversal = rvsl in ("true", "1")

    txs = ntry.findall("{*}NtryDtls/{*}TxDtls")
    e2e = _reference(txs[0].find("{*}Refs/{*}EndToEndId")) if len(txs) == 1 else None
    details: tuple[EntryDetail, ...] = ()
    if len(txs) > 1 and money is not None:
        got_details = _camt_details(ntry, txs, path, money, piece, problems)
        if got_details is None:
            return None
        details = got_details

    description = _text(ntry.find("{*}AddtlNtryInf"))
    if description is None and len(txs) > 1:
        description = ""  # a batch's remittance texts are its details'
    elif description is None:
        ustrd = [t for t in (_text(u) for u in ntry.iterfind(".//{*}RmtInf/{*}Ustrd")) if t]
        description = " ".join(ustrd)

    if money is None or not ok:
        report.bad = True
        return None
    return _Pending(
        amount=money[0], currency=money[1], booked=booked, valued=valued, end_to_end_id=e2e,
        bank_ref=_text(ntry.find("{*}AcctSvcrRef")), reversal=reversal,
        description=description, line=line, path=path, details=details,
    )


def _reference(elem: ET.Element | None) -> str | None:
    ref = _text(elem)
    return None if ref is None or ref in _NO_REFERENCE else ref


def _camt_details(
    ntry: ET.Element,
    txs: list[ET.Element],
    path: str,
    money: tuple[int, str],
    piece: _Piece,
    problems: _Problems,
) -> tuple[EntryDetail, ...] | None:
    """The payments of a batch booking; they must add up to the entry (and its NbOfTxs)."""
    amount, code = money
    entry_sign = 1 if amount >= 0 else -1
    details: list[EntryDetail] = []
    ok = True
    for j, tx in enumerate(txs, 1):
        dpath = f"{path}/NtryDtls/TxDtls[{j}]"
        amt = tx.find("{*}Amt")
        if amt is None:
            amt = tx.find("{*}AmtDtls/{*}TxAmt/{*}Amt")
        if amt is None or _text(amt) is None:
            problems.add(
                piece.line_of(tx), f"{dpath}/Amt",
                "an amount (TxDtls/Amt or AmtDtls/TxAmt/Amt) for each payment of a batch booking",
            )
            ok = False
            continue
        ccy = amt.get("Ccy")
        if ccy is not None and ccy.strip() != code and not (
            ccy.strip() == "CNH" and problems.cnh_as_cny and code == "CNY"
        ):
            problems.add(
                piece.line_of(amt), f"{dpath}/Amt/@Ccy", f"the entry's currency {code}, got {ccy}"
            )
            ok = False
            continue
        minor = problems.amount(_text(amt) or "", code, piece.line_of(amt), f"{dpath}/Amt")
        indicator = _text(tx.find("{*}CdtDbtInd"))
        if indicator not in (None, "CRDT", "DBIT"):
            problems.add(
                piece.line_of(tx), f"{dpath}/CdtDbtInd", f"CRDT or DBIT, got {indicator!r}"
            )
            ok = False
            continue
        if minor is None:
            ok = False
            continue
        sign = entry_sign if indicator is None else (1 if indicator == "CRDT" else -1)
        ustrd = [t for t in (_text(u) for u in tx.iterfind("{*}RmtInf/{*}Ustrd")) if t]
        details.append(
            EntryDetail(
                amount=sign * minor,
                end_to_end_id=_reference(tx.find("{*}Refs/{*}EndToEndId")),
                bank_ref=_text(tx.find("{*}Refs/{*}AcctSvcrRef")),
                description=" ".join(ustrd),
            )
        )
    if not ok:
        return None
    line = piece.line_of(ntry)
    total = sum(d.amount for d in details)
    if total != amount:
        problems.add(
            line, f"{path}/NtryDtls",
            f"batch details adding up to the entry's {format_amount(amount, code)} {code}, "
            f"got {format_amount(total, code)} {code} over {len(details)} TxDtls",
        )
        return None
    counted = _text(ntry.find("{*}NtryDtls/{*}Btch/{*}NbOfTxs"))
    if counted is not None and counted.isdigit() and int(counted) != len(details):
        problems.add(
            line, f"{path}/NtryDtls/Btch/NbOfTxs",
            f"the number of TxDtls given ({len(details)}), got {counted}",
        )
        return None
    return tuple(details)


# MT940 / MT942 -------------------------------------------------------------------------------

# Switch on the library's fixes: RC is a debit (issue #130), lowercase marks count, :86: is never
# cut. The rest of the options concern fields this module does not use.
_MT940_OPTIONS: Final = mt940.Options(
    reversal_sign=True, case_insensitive_marks=True, unbounded_details=True
)

_MT940_EXPECTED: Final[dict[str, str]] = {
    "20": "a statement reference of at most 16 characters",
    "25": "an account identification of at most 35 characters",
    "28": "a statement number like 1/1",
    "60": "a balance like C250303HKD1000000,00 (C/D, date YYMMDD, currency, amount)",
    "62": "a balance like C250303HKD1000000,00 (C/D, date YYMMDD, currency, amount)",
    "61": (
        "a statement line like 2503030303C529200,00NTRFE2E-001//BANKREF (value date YYMMDD, "
        "optional entry date MMDD, C/D/RC/RD, amount with decimal comma, transaction type, "
        "customer reference, optional // bank reference)"
    ),
    "90": "a number of entries, currency and sum like 3HKD1500,00",
    "13": "a date and time like 2503031530+0800 (YYMMDDhhmm, optional offset)",
}


@dataclass(frozen=True, slots=True)
class _Field:
    tag: str
    line: int
    value: str


@dataclass(slots=True)
class _Message:
    fields: list[_Field] = field(default_factory=list)
    hint: str | None = None  # "940" or "942", from an envelope or a bank header
    last_line: int = 0


_MT_CLOSING_TAGS: Final = frozenset({"62F", "62M", "64", "65"})


def _mt_messages(text: str, problems: _Problems) -> list[_Message]:
    """Split MT940/MT942 text into messages of fields, each field with the line its tag is on."""
    messages: list[_Message] = []
    current: _Message | None = None
    hint: str | None = None

    def close() -> None:
        nonlocal current
        if current is not None and current.fields:
            messages.append(current)
        current = None

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.removeprefix("\ufeff") if number == 1 else raw
        stripped = line.strip()
        if not stripped:
            continue
        if current is not None:
            current.last_line = number
        if stripped == "-" or stripped.startswith("-}"):
            close()  # end of block 4, the {5:...} trailer glued to it or not
            continue
        if stripped.startswith("{"):
            kind = _MT_KIND_RE.search(stripped)
            if kind is not None:
                hint = "940" if "0" in kind.groups() else "942"
            body = stripped.partition("{4:")[2] if "{4:" in stripped else ""
            if not body.startswith(":"):
                continue  # SWIFT envelope: {1:...}{2:...}{3:...}{4:
            line = stripped = body
        match = _MT940_TAG_RE.match(line)
        last_tag = current.fields[-1].tag if current is not None and current.fields else None
        if match is not None:
            if match["tag"] == "20" or current is None:
                close()
                current = _Message(hint=hint, last_line=number)
                hint = None
            current.fields.append(_Field(match["tag"], number, match["value"]))
        elif _MT_HEADER_RE.match(stripped) and (
            current is None or last_tag in _MT_CLOSING_TAGS or "/" in stripped
            or stripped.startswith(":")
        ):
            # A bank's file header (ABNANL2A / 940 / ABNANL2A, :940:) before a message.
            close()
            kind = _MT_KIND_RE.search(stripped)
            if kind is not None or stripped in ("940", "942"):
                hint = "942" if "942" in stripped else "940"
        elif current is not None and current.fields:
            last = current.fields[-1]
            current.fields[-1] = _Field(last.tag, last.line, f"{last.value}\n{line}")
        else:
            problems.add(number, "text", "a field tag like :20: (text before the first field)")
    close()
    return messages


def _mt940_parse(
    fld: _Field, ctx: mt940.models.Transactions, problems: _Problems
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Run the library's parser for one field: (raw subfields, built values), or a problem."""
    tags = mt940.tags.TAG_BY_ID
    number = int(fld.tag[:2]) if fld.tag[:2].isdigit() else fld.tag
    tag = tags.get(fld.tag) or tags.get(number)
    expected = _MT940_EXPECTED.get(fld.tag[:2], f"a valid :{fld.tag}: field")
    value = fld.value if fld.tag == "86" else fld.value.rstrip()
    if tag is None:
        problems.add(fld.line, f":{fld.tag}:", "a known MT940 field")
        return None
    # fullmatch first: the library's patterns accept trailing junk, and it logs errors on failure.
    if tag.re.fullmatch(value) is None:
        problems.add(fld.line, f":{fld.tag}:", f"{expected}, got {value!r}")
        return None
    try:
        raw = dict(tag.parse(ctx, value))
        built = tag(ctx, dict(raw))
    except (ArithmeticError, ValueError, RuntimeError, TypeError, KeyError) as exc:
        problems.add(fld.line, f":{fld.tag}:", f"{expected}, got {value!r} ({exc})")
        return None
    return raw, built


def _exact_minor(
    value: Decimal, raw: str, code: str, problems: _Problems, line: int, field_name: str
) -> int | None:
    # format(..., "f") never uses an exponent, so parse_amount sees the digits as written.
    try:
        return parse_amount(format(value, "f"), code)
    except AmountError:
        minor = currency(code).minor_units
        problems.add(
            line, field_name, f"an amount with at most {minor} decimals for {code}, got {raw!r}"
        )
        return None


def _mt940_balance(
    fld: _Field, ctx: mt940.models.Transactions, problems: _Problems
) -> tuple[int, str, date] | None:
    parsed = _mt940_parse(fld, ctx, problems)
    if parsed is None:
        return None
    raw, built = parsed
    name = f":{fld.tag}:"
    if not raw.get("amount"):
        problems.add(fld.line, f"{name} amount", _MT940_EXPECTED["60"])
        return None
    code = problems.currency_code(raw["currency"], fld.line, f"{name} currency")
    if code is None:
        return None
    balance = next(iter(built.values()))
    minor = _exact_minor(
        balance.amount.amount, raw["amount"], code, problems, fld.line, f"{name} amount"
    )
    if minor is None:
        return None
    when: date = balance.date
    return minor, code, date(when.year, when.month, when.day)


def _mt940_entry(
    fld: _Field, ctx: mt940.models.Transactions, code: str | None, problems: _Problems
) -> StatementEntry | None:
    """The entry of a :61: field; with no currency (a bad opening), only its syntax is checked.

    The first line is the statement line proper; the lines after it are its supplementary
    details (some banks wrap the field over several lines).
    """
    first, _, rest = fld.value.rstrip().partition("\n")
    parsed = _mt940_parse(_Field(fld.tag, fld.line, first), ctx, problems)
    if parsed is None:
        return None
    raw, built = parsed
    head = _MT61_HEAD_RE.match(first.rstrip())
    tail = first.rstrip()[head.end() :] if head is not None else ""
    customer, _, bank = (part.strip() for part in tail.partition("//"))
    for label, ref in (("customer", customer), ("bank", bank)):
        if len(ref) > _MT940_REF_MAX:
            problems.warn(
                fld.line,
                f":61: {label} reference",
                f"a {label} reference of at most {_MT940_REF_MAX} characters (SWIFT); "
                f"kept whole: {ref!r}",
            )
    if code is None:
        return None
    amount = _exact_minor(
        built["amount"].amount, raw["amount"], code, problems, fld.line, ":61: amount"
    )
    if amount is None:
        return None
    value_date: date = built["date"]
    booking: date = built.get("entry_date") or value_date
    supplementary = " ".join(x.strip() for x in rest.splitlines() if x.strip())
    return StatementEntry(
        amount=amount,
        currency=code,
        booking_date=date(booking.year, booking.month, booking.day),
        value_date=date(value_date.year, value_date.month, value_date.day),
        end_to_end_id=None if customer.upper() in _NO_REFERENCE or not customer else customer,
        bank_ref=bank or None,
        reversal=str(built["status"]).upper().startswith("R"),
        description=supplementary,
        line=fld.line,
    )


_MT940_GROUPS: Final[dict[str, str]] = {
    "60F": "60",
    "60M": "60",
    "62F": "62",
    "62M": "62",
    "28C": "28",
    "13D": "13",
}
_MT940_SINGLE: Final = ("20", "25", "28", "60", "62", "13", "90D", "90C")
_MT940_IGNORED: Final = ("21", "34F", "64", "65", "NS")


def _read_mt(data: bytes, problems: _Problems) -> list[Statement]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            [Problem(problems.name, line, "text", f"UTF-8 text ({exc.reason})")]
        ) from None
    found: list[Statement] = []
    for message in _mt_messages(text, problems):
        stmt = _read_mt_message(message, problems)
        if stmt is not None:
            found.append(stmt)
    return found


def _mt_kind(message: _Message) -> StatementFormat:
    if message.hint is not None:
        return "mt942" if message.hint == "942" else "mt940"
    tags = {f.tag for f in message.fields}
    if tags & {"13D", "34F"} and not tags & {"60F", "60M"}:
        return "mt942"
    return "mt940"


def _mt_datetime(fld: _Field, problems: _Problems) -> date | None:
    m = _MT_DATETIME_RE.match(fld.value.strip())
    try:
        if m is None:
            raise ValueError(fld.value)
        return datetime.strptime(m.group(1), "%y%m%d").date()
    except ValueError:
        problems.add(fld.line, f":{fld.tag}:", f"{_MT940_EXPECTED['13']}, got {fld.value!r}")
        return None


def _read_mt_message(message: _Message, problems: _Problems) -> Statement | None:
    kind = _mt_kind(message)
    what = KIND_NAMES[kind]
    warnings_from = len(problems.warnings)
    errors_from = len(problems.items)
    ctx = mt940.models.Transactions(options=_MT940_OPTIONS)
    last_line = message.last_line

    seen: dict[str, _Field] = {}
    account: str | None = None
    opening: tuple[int, str, date] | None = None
    closing: tuple[int, str, date] | None = None
    reported: date | None = None
    entries: list[StatementEntry] = []
    details: list[list[str]] = []
    # Index of the entry the last :61: made; :86: lines belong to it until another field comes.
    current: int | None = None
    for fld in message.fields:
        group = _MT940_GROUPS.get(fld.tag, fld.tag)
        if not seen and group != "20":
            problems.add(fld.line, f":{fld.tag}:", f"the {what} to start with :20:")
        if group != "86":
            current = None
        if group in _MT940_SINGLE and group in seen:
            first = seen[group]
            problems.add(
                fld.line, f":{fld.tag}:",
                f"one :{fld.tag}: field (a first :{first.tag}: is on line {first.line})",
            )
            continue
        seen.setdefault(group, fld)
        if group in ("20", "28"):
            _mt940_parse(fld, ctx, problems)
        elif group == "25":
            if _mt940_parse(fld, ctx, problems) is not None:
                account = fld.value.strip() or None
                if account is None:
                    problems.add(fld.line, ":25:", _MT940_EXPECTED["25"])
        elif group == "60":
            opening = _mt940_balance(fld, ctx, problems)
        elif group == "13":
            reported = _mt_datetime(fld, problems)
        elif group == "61":
            if ("60" not in seen and kind == "mt940") or "62" in seen:
                where = "between the :60F: and :62F: balances" if kind == "mt940" else (
                    "before the :62F: balance"
                )
                problems.add(fld.line, ":61:", f"statement lines {where} in an {what}")
            else:
                code = opening[1] if opening else _mt_first_currency(message)
                code = None if code is None else problems.currency_code(code, fld.line, ":61:")
                entry = _mt940_entry(fld, ctx, code, problems)
                if entry is not None:
                    entries.append(entry)
                    details.append([])
                    current = len(entries) - 1
        elif group == "86":
            if current is not None:
                # Banks wrap :86: at 65 characters, mid-word: the lines are one text.
                details[current].append(fld.value.replace("\n", ""))
        elif group == "62":
            closing = _mt940_balance(fld, ctx, problems)
        elif group in ("90D", "90C"):
            pass  # checked below, once the entries are known
        elif group not in _MT940_IGNORED:
            problems.add(fld.line, f":{fld.tag}:", f"a known {what} field")

    if "25" not in seen:
        problems.add(last_line, ":25:", f"an account identification :25: in the {what}")
    if kind == "mt940":
        if "60" not in seen:
            problems.add(last_line, ":60F:", f"an opening balance :60F: (or :60M:) in an {what}")
        if "62" not in seen:
            problems.add(
                last_line,
                ":62F:",
                f"a closing balance :62F: (or :62M:) in an {what}; it ends at line {last_line} "
                "without one: is the file truncated?",
            )
    elif ("60" in seen) != ("62" in seen):
        present, absent = ("60F", "62F") if "60" in seen else ("62F", "60F")
        problems.add(
            seen["60" if "60" in seen else "62"].line,
            f":{present}:",
            f"both balances or neither in an {what} (:{absent}: is missing)",
        )
    if opening is not None and closing is not None and closing[1] != opening[1]:
        problems.add(
            seen["62"].line,
            f":{seen['62'].tag}: currency",
            f"the opening balance's currency {opening[1]}, got {closing[1]}",
        )
    if len(problems.items) > errors_from:
        return None
    code = opening[1] if opening else None
    if code is None:
        raw_code = _mt_first_currency(message)
        code = None if raw_code is None else problems.currency_code(raw_code, last_line, "currency")
    if account is None or code is None:
        if len(problems.items) == errors_from:
            problems.add(last_line, "currency", f"a currency (:61: with :90D:/:90C:) in the {what}")
        return None

    entries = [
        dataclasses.replace(entry, description="".join(lines).strip() or entry.description)
        for entry, lines in zip(entries, details, strict=True)
    ]
    for tag, sign in (("90D", -1), ("90C", 1)):
        if tag in seen:
            _mt_check_count(seen[tag], sign, entries, code, problems)
    total = sum(e.amount for e in entries)
    if opening is not None and closing is not None and opening[0] + total != closing[0]:
        problems.add(
            seen["62"].line,
            f":{seen['62'].tag}: amount",
            _balance_message(_Totals(code, opening[0], closing[0]), total),
        )
    if len(problems.items) > errors_from:
        return None
    latest = max((e.booking_date for e in entries), default=None)
    day = closing[2] if closing else reported or latest
    first_day = opening[2] if opening else day
    if day is None or first_day is None:
        problems.add(last_line, ":13D:", f"a date (:13D:, or a statement line) in the {what}")
        return None
    return Statement(
        account=account,
        currency=code,
        opening=opening[0] if opening and closing else None,
        closing=closing[0] if opening and closing else None,
        opening_date=first_day,
        closing_date=day,
        entries=tuple(entries),
        source=problems.name,
        format=kind,
        statement_id=seen["20"].value.strip() if "20" in seen else "",
        warnings=tuple(problems.warnings[warnings_from:]),
    )


def _mt_first_currency(message: _Message) -> str | None:
    """The currency of a message without opening balance: that of its :90D:/:90C: or :34F:."""
    for fld in message.fields:
        if fld.tag in ("90D", "90C", "34F", "62F", "62M"):
            m = re.search(r"([A-Z]{3})[\d,]", fld.value)
            if m is not None:
                return m.group(1)
    return None


def _mt_check_count(
    fld: _Field, sign: int, entries: list[StatementEntry], code: str, problems: _Problems
) -> None:
    """:90D: / :90C: give the number and sum of the debit / credit entries: they must agree."""
    m = _MT_COUNT_RE.match(fld.value.strip())
    if m is None:
        problems.add(fld.line, f":{fld.tag}:", f"{_MT940_EXPECTED['90']}, got {fld.value!r}")
        return
    if m["currency"] != code:
        problems.add(
            fld.line, f":{fld.tag}: currency", f"the report's currency {code}, got {m['currency']}"
        )
        return
    try:
        stated = parse_amount(m["amount"].replace(",", ".").rstrip("."), code)
    except AmountError as exc:
        problems.add(fld.line, f":{fld.tag}: amount", f"an amount in {code} ({exc})")
        return
    side = [e for e in entries if (e.amount < 0) == (sign < 0) and e.amount != 0]
    got = sum(abs(e.amount) for e in side)
    if int(m["count"]) != len(side) or stated != got:
        which = "debit" if sign < 0 else "credit"
        problems.add(
            fld.line,
            f":{fld.tag}:",
            f"the number and sum of the {which} entries ({len(side)}, "
            f"{format_amount(got, code)} {code}), got {int(m['count'])}, "
            f"{format_amount(stated, code)} {code}",
        )


# --------------------------------------------------------------------------------------------
# Writing


def write_camt053(statement: Statement) -> bytes:
    """The statement as a camt.053.001.08 document (UTF-8 bytes, with an XML declaration)."""

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
        # Unqualified names under a root carrying xmlns="...": all in the camt.053 namespace.
        elem = ET.SubElement(parent, tag, attrib)
        if text is not None:
            elem.text = text
        return elem

    if statement.opening is None or statement.closing is None:
        raise InputError(
            f"{statement.source or '<statement>'}: a camt.053 statement needs an opening and a "
            f"closing balance; this {statement.kind_name} has none"
        )
    code = statement.currency
    stamp = f"{statement.closing_date.isoformat()}T23:59:59+08:00"
    doc = ET.Element("Document", xmlns=CAMT053_NAMESPACE)
    msg = sub(doc, "BkToCstmrStmt")
    header = sub(msg, "GrpHdr")
    sub(header, "MsgId", f"STMT-{statement.closing_date:%Y%m%d}-{statement.account}"[:35])
    sub(header, "CreDtTm", stamp)
    stmt = sub(msg, "Stmt")
    sub(stmt, "Id", f"{statement.account}-{statement.closing_date:%Y%m%d}"[:35])
    sub(stmt, "CreDtTm", stamp)
    acct = sub(stmt, "Acct")
    acct_id = sub(acct, "Id")
    if _IBAN_RE.match(statement.account):
        sub(acct_id, "IBAN", statement.account)
    else:
        sub(sub(acct_id, "Othr"), "Id", statement.account)
    sub(acct, "Ccy", code)
    for kind, amount, when in (
        ("OPBD", statement.opening, statement.opening_date),
        ("CLBD", statement.closing, statement.closing_date),
    ):
        bal = sub(stmt, "Bal")
        sub(sub(sub(bal, "Tp"), "CdOrPrtry"), "Cd", kind)
        sub(bal, "Amt", format_amount(abs(amount), code), Ccy=code)
        sub(bal, "CdtDbtInd", "CRDT" if amount >= 0 else "DBIT")
        sub(sub(bal, "Dt"), "Dt", when.isoformat())
    for entry in statement.entries:
        ntry = sub(stmt, "Ntry")
        sub(ntry, "Amt", format_amount(abs(entry.amount), code), Ccy=code)
        sub(ntry, "CdtDbtInd", "CRDT" if entry.amount >= 0 else "DBIT")
        if entry.reversal:
            sub(ntry, "RvslInd", "true")
        sub(sub(ntry, "Sts"), "Cd", "BOOK")
        sub(sub(ntry, "BookgDt"), "Dt", entry.booking_date.isoformat())
        sub(sub(ntry, "ValDt"), "Dt", entry.value_date.isoformat())
        if entry.bank_ref is not None:
            sub(ntry, "AcctSvcrRef", entry.bank_ref)
        sub(sub(sub(ntry, "BkTxCd"), "Prtry"), "Cd", "NTRF")
        if entry.details:
            dtls = sub(ntry, "NtryDtls")
            sub(sub(dtls, "Btch"), "NbOfTxs", str(len(entry.details)))
            for d in entry.details:
                tx = sub(dtls, "TxDtls")
                refs = sub(tx, "Refs")
                if d.bank_ref is not None:
                    sub(refs, "AcctSvcrRef", d.bank_ref)
                sub(refs, "EndToEndId", d.end_to_end_id or "NOTPROVIDED")
                sub(tx, "Amt", format_amount(abs(d.amount), code), Ccy=code)
                sub(tx, "CdtDbtInd", "CRDT" if d.amount >= 0 else "DBIT")
                if d.description:
                    sub(sub(tx, "RmtInf"), "Ustrd", d.description)
        elif entry.end_to_end_id is not None:
            refs = sub(sub(sub(ntry, "NtryDtls"), "TxDtls"), "Refs")
            sub(refs, "EndToEndId", entry.end_to_end_id)
        if entry.description:
            sub(ntry, "AddtlNtryInf", entry.description)
    ET.indent(doc)
    body: bytes = ET.tostring(doc, encoding="utf-8", xml_declaration=True)
    return body + b"\n"


def write_mt940(statement: Statement) -> str:
    """The statement as MT940 text (one statement, ``\\n`` line ends, no SWIFT envelope).

    Refuses (InputError) what MT940 cannot carry: a reference longer than 16 characters or
    containing ``//``, a description with a line break or a line that would read as a field tag,
    a date outside 2000-2099.
    """
    problems = _Problems(statement.source or "<statement>", False, (statement.currency,))
    opening, closing = statement.opening, statement.closing
    if opening is None or closing is None:
        problems.add(0, "balances", "an opening and a closing balance for MT940 :60F:/:62F:")
        problems.raise_if_any()
        raise LedgerError("unreachable: a problem was added")
    code = statement.currency
    for when in (statement.opening_date, statement.closing_date):
        _check_mt940_year(when, problems, 0, "date")
    if len(statement.account) > 35 or "\n" in statement.account:
        problems.add(0, "account", "at most 35 characters on one line for MT940 :25:")

    def balance(amount: int, when: date) -> str:
        mark = "C" if amount >= 0 else "D"
        return f"{mark}{when:%y%m%d}{code}{_mt940_amount(amount, code)}"

    lines = [
        f":20:STMT{statement.closing_date:%y%m%d}",
        f":25:{statement.account}",
        ":28C:1/1",
        f":60F:{balance(opening, statement.opening_date)}",
    ]
    for entry in statement.entries:
        _check_mt940_entry(entry, problems)
        if entry.amount >= 0:
            mark = "RD" if entry.reversal else "C"
        else:
            mark = "RC" if entry.reversal else "D"
        reference = entry.end_to_end_id or "NONREF"
        bank = f"//{entry.bank_ref}" if entry.bank_ref else ""
        lines.append(
            f":61:{entry.value_date:%y%m%d}{entry.booking_date:%m%d}{mark}"
            f"{_mt940_amount(entry.amount, code)}NTRF{reference}{bank}"
        )
        chunks = _chunks(entry.description, _MT940_DETAILS_WIDTH)
        for i, chunk in enumerate(chunks):
            lines.append(f":86:{chunk}" if i == 0 else chunk)
    lines.append(f":62F:{balance(closing, statement.closing_date)}")
    problems.raise_if_any()
    return "\n".join(lines) + "\n"


def _mt940_amount(amount: int, code: str) -> str:
    return format_amount(abs(amount), code).replace(".", ",")


def _chunks(text: str, width: int) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)]


def _check_mt940_year(when: date, problems: _Problems, line: int, field_name: str) -> None:
    if not 2000 <= when.year <= 2099:
        problems.add(line, field_name, f"a date in 2000-2099 for MT940's YYMMDD, got {when}")


def _check_mt940_entry(entry: StatementEntry, problems: _Problems) -> None:
    for when in (entry.value_date, entry.booking_date):
        _check_mt940_year(when, problems, entry.line, "date")
    for label, ref in (("end_to_end_id", entry.end_to_end_id), ("bank_ref", entry.bank_ref)):
        if ref is not None and (
            len(ref) > _MT940_REF_MAX or "//" in ref or ref != ref.strip() or "\n" in ref
        ):
            problems.add(
                entry.line,
                label,
                f"at most {_MT940_REF_MAX} characters without // or spaces around for MT940,"
                f" got {ref!r}",
            )
        if ref is not None and ref.upper() in _NO_REFERENCE:
            problems.add(entry.line, label, f"a reference other than {ref!r} (means none)")
    if entry.details:
        problems.add(
            entry.line, "details", "a single payment per entry (MT940 cannot carry a batch's)"
        )
    if any(c in entry.description for c in "\r\n"):
        problems.add(entry.line, "description", "one line of text for MT940 :86:")
    for chunk in _chunks(entry.description, _MT940_DETAILS_WIDTH)[1:]:
        stripped = chunk.strip()
        if _MT940_TAG_RE.match(chunk) or stripped in ("", "-", "-}") or stripped.startswith("{"):
            problems.add(
                entry.line,
                "description",
                f"text whose {_MT940_DETAILS_WIDTH}-character lines do not read as MT940 "
                f"syntax, got a line {chunk!r}",
            )
