"""Bank statements: one immutable model, read from and written to camt.053 and MT940.

What this module guarantees:

* A :class:`Statement` always adds up: ``opening + sum(entry amounts) == closing``. Every amount
  is an ``int`` of minor units of the statement's one currency (one that
  :func:`ledger.money.currency` knows); dates are :class:`datetime.date`. Building a statement
  that does not add up is an error; a file that does not is refused. No float ever holds an
  amount: the MT940 library hands out ``Decimal`` and camt.053 carries text, and both are
  converted exactly, refusing more decimals than the currency has (``"10.005"`` HKD, and also
  ``"10.000"``), never rounding.
* Signs are the account holder's view as the statement shows it: ``+`` credit, ``-`` debit, for
  balances and entries alike.
* Reversals keep the sign of the booking as the bank made it. camt.053: ``CdtDbtInd`` is the
  direction of the reversal booking itself (ISO 20022: ``CRDT`` with ``RvslInd`` true reverses a
  debit, so money comes back, ``+``), so the sign comes from ``CdtDbtInd`` alone and ``RvslInd``
  only sets :attr:`StatementEntry.reversal`. MT940: ``RD`` (reversal of a debit) is a credit,
  ``+``; ``RC`` (reversal of a credit) is a debit, ``-``. The same booking therefore reads the same
  from both formats, and the writers emit it so (``+`` reversal as ``CRDT``/``RD``).
* ``CNH`` is refused as a currency (it is a market label, not ISO 4217) unless the caller maps it
  to ``CNY`` with ``cnh_as_cny=True``.
* Every refusal is one :class:`~ledger.errors.InputError` listing each problem as
  ``FILE:LINE: field 'FIELD': what was expected``. For MT940 the line is the line of the field
  tag (``:61:``); for camt.053 the line of the element and the field its path
  (``Stmt/Ntry[3]/Amt``). Problems that concern the whole file (size, format) are on line 0.
* XML is parsed with defusedxml and refuses any DTD, entity declaration and external entity, so
  neither "billion laughs" nor a file read through an entity can happen; any input larger than
  ``max_bytes`` (default 50 MiB) is refused before it is parsed.
* Writing a statement with :func:`write_camt053` or :func:`write_mt940` and reading the result gives
  an equal statement. Where each value came from (:attr:`Statement.source`,
  :attr:`Statement.format`, :attr:`StatementEntry.line`) is provenance, not content: it takes no
  part in equality, so the same day read from camt.053 and from MT940 compares equal.

Reading rules worth knowing:

* camt.053: any ``camt.053.001.xx`` namespace (or none). Exactly one ``Stmt`` per file. Opening
  balance: ``Bal`` with code ``OPBD``, else ``PRCD``; closing: ``CLBD``. An entry whose status
  (``Sts`` or ``Sts/Cd``) is not ``BOOK`` (pending, information) is left out: it is not part of
  the booked balance. End-to-end id: ``NtryDtls/TxDtls/Refs/EndToEndId`` (``NOTPROVIDED`` counts
  as none); an entry with several ``TxDtls`` (a batch booking) is refused, as it cannot be matched
  per payment. Description: ``AddtlNtryInf``, else the ``RmtInf/Ustrd`` lines.
* MT940: one statement per file (one ``:20:``); SWIFT envelope lines (``{1:...}``, ``-}``) are
  skipped. The ``:61:`` subfields are parsed by the ``mt-940`` library's tag parsers; this module
  splits the text into fields itself, so every field keeps its line number, and it checks what
  the library lets through silently: trailing text after a balance, a customer reference longer
  than 16 characters (the library would cut it and file the rest as "details"). The customer
  reference (before ``//``) is the end-to-end id, ``NONREF`` counting as none; the part after
  ``//`` is the bank's reference. The entry date (MMDD) is the booking date (the value date if
  absent), its year taken from the value date across a year end as the library does. The ``:86:``
  lines following a ``:61:`` are joined without separator (banks wrap them at 65 characters) to
  form the description; ``:61:`` supplementary details are not kept.
"""

from __future__ import annotations

import dataclasses
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal

import mt940
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import DefusedXMLParser  # type: ignore[import-untyped]

from ledger.errors import AmountError, InputError, LedgerError, Problem, UnknownCurrency
from ledger.money import currency, format_amount, parse_amount

StatementFormat = Literal["camt.053", "mt940"]

#: Default refusal threshold for a statement file, in bytes (50 MiB).
DEFAULT_MAX_BYTES: Final = 50 * 1024 * 1024

#: The camt.053 version :func:`write_camt053` writes; the reader takes any ``camt.053.001.xx``.
CAMT053_NAMESPACE: Final = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"

_CAMT_NS_RE: Final = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.(\d{3})\.\d{3}\.\d{2}$")
_IBAN_RE: Final = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_MT940_TAG_RE: Final = re.compile(r"^:(?P<tag>\d{2}[A-Z]?|NS):(?P<value>.*)$")
_MT940_DETAILS_WIDTH: Final = 65
_MT940_REF_MAX: Final = 16
_NO_REFERENCE: Final = frozenset({"NONREF", "NOTPROVIDED"})


@dataclass(frozen=True, slots=True)
class StatementEntry:
    """One booked entry of a statement.

    ``amount`` is signed from the account holder's view (``+`` credit, ``-`` debit), in minor units
    of ``currency``. ``line`` is where the entry starts in its source file (for messages and
    reports); it takes no part in equality.
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

    def __post_init__(self) -> None:
        _require_int(self.amount, "amount")
        currency(self.currency)


@dataclass(frozen=True, slots=True)
class Statement:
    """One end-of-day statement of one account in one currency; it always adds up."""

    account: str
    currency: str
    opening: int
    closing: int
    opening_date: date
    closing_date: date
    entries: tuple[StatementEntry, ...]
    source: str = field(default="", compare=False)
    format: StatementFormat = field(default="camt.053", compare=False)

    def __post_init__(self) -> None:
        _require_int(self.opening, "opening")
        _require_int(self.closing, "closing")
        currency(self.currency)
        for entry in self.entries:
            if entry.currency != self.currency:
                raise InputError(
                    f"{self.source or '<statement>'}: entry in {entry.currency} "
                    f"on a {self.currency} statement"
                )
        total = self.entries_total
        if self.opening + total != self.closing:
            raise InputError(f"{self.source or '<statement>'}: {_balance_message(self, total)}")

    @property
    def entries_total(self) -> int:
        """The sum of the entries' signed amounts: ``closing - opening``."""
        return sum(e.amount for e in self.entries)


def _require_int(value: object, what: str) -> None:
    # bool is an int subclass and float is the defect this whole codebase guards against.
    if isinstance(value, bool) or not isinstance(value, int):
        raise AmountError(f"{what}: expected an int of minor units, got {type(value).__name__}")


def _balance_message(stmt_or_fields: Statement | _Totals, total: int) -> str:
    code = stmt_or_fields.currency
    opening, closing = stmt_or_fields.opening, stmt_or_fields.closing
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
    """Collects the problems of one file, to refuse it once, listing them all."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.items: list[Problem] = []
        # A wrong currency code is reported where it first appears, not on every amount.
        self.bad_codes: set[str] = set()

    def add(self, line: int, field_name: str, expected: str) -> None:
        self.items.append(Problem(self.name, line, field_name, expected))

    def raise_if_any(self) -> None:
        if self.items:
            raise InputError(self.items)


def _currency_code(
    code: str, cnh_as_cny: bool, problems: _Problems, line: int, field_name: str
) -> str | None:
    code = code.strip()
    if code in problems.bad_codes:
        return None
    if code == "CNH":
        if cnh_as_cny:
            return "CNY"
        problems.bad_codes.add(code)
        problems.add(
            line,
            field_name,
            "an ISO 4217 currency; CNH is the offshore RMB market label, not a currency "
            "(read it as CNY only with the cnh_as_cny setting)",
        )
        return None
    try:
        return currency(code).code
    except UnknownCurrency as exc:
        problems.bad_codes.add(code)
        problems.add(line, field_name, str(exc))
        return None


def _amount(text: str, code: str, problems: _Problems, line: int, field_name: str) -> int | None:
    try:
        return parse_amount(text, code)
    except AmountError as exc:
        problems.add(line, field_name, f"an amount in {code} ({exc})")
        return None


# --------------------------------------------------------------------------------------------
# Reading


def read_statement(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    cnh_as_cny: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Statement:
    """Read one camt.053 or MT940 statement, detecting the format from the content.

    ``source`` is a path (``str`` or path-like) or the file's content (``bytes``). ``name`` is the
    file name used in messages and kept as :attr:`Statement.source` (default: the path, or
    ``"<statement>"``). Raises :class:`~ledger.errors.InputError` listing every problem found.
    """
    data, name = _load(source, name, max_bytes)
    kind = detect_format(data, name=name)
    if kind == "camt.053":
        return _read_camt053(data, name, cnh_as_cny)
    return _read_mt940(data, name, cnh_as_cny)


def detect_format(data: bytes, *, name: str = "<statement>") -> StatementFormat:
    """``"camt.053"`` for XML, ``"mt940"`` for SWIFT text; anything else is an InputError."""
    head = data.removeprefix(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<"):
        return "camt.053"
    if head.startswith((b":20:", b"{1:", b"{4:")) or re.search(rb"^:20:", data, re.MULTILINE):
        return "mt940"
    raise InputError(
        [
            Problem(
                name,
                0,
                "format",
                "a camt.053 XML document or an MT940 text (with a :20: field)",
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
        try:
            with Path(source).open("rb") as fh:
                data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise InputError(
                [Problem(name, 0, "file", f"an existing, readable file ({exc.strerror})")]
            ) from None
    if len(data) > max_bytes:
        raise InputError(
            [
                Problem(
                    name,
                    0,
                    "size",
                    f"a statement of at most {max_bytes} bytes (this one is larger; "
                    "raise max_bytes if it is genuine)",
                )
            ]
        )
    return data, name


# camt.053 ----------------------------------------------------------------------------------


class _LineRecordingBuilder:
    """A TreeBuilder target that remembers the source line of every element it starts."""

    def __init__(self) -> None:
        self.builder = ET.TreeBuilder()
        self.lines: dict[ET.Element, int] = {}
        self.parser: Any = None

    def start(self, tag: str, attrib: dict[str, str]) -> ET.Element:
        elem = self.builder.start(tag, attrib)
        self.lines[elem] = int(self.parser.parser.CurrentLineNumber)
        return elem

    def end(self, tag: str) -> ET.Element:
        return self.builder.end(tag)

    def data(self, text: str) -> None:
        self.builder.data(text)

    def close(self) -> ET.Element:
        return self.builder.close()


def _parse_xml(data: bytes, name: str) -> tuple[ET.Element, dict[ET.Element, int]]:
    target = _LineRecordingBuilder()
    parser = DefusedXMLParser(
        target=target, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    target.parser = parser
    try:
        parser.feed(data)
        root: ET.Element = parser.close()
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else 0
        raise InputError([Problem(name, line, "xml", f"well-formed XML ({exc})")]) from None
    except DefusedXmlException as exc:
        line = int(parser.parser.CurrentLineNumber)
        raise InputError(
            [
                Problem(
                    name,
                    line,
                    "xml",
                    "XML without a DTD: DTDs, entity declarations and external entities are "
                    f"refused (entity expansion bombs, reading other files) ({exc!r})",
                )
            ]
        ) from None
    return root, target.lines


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _text(elem: ET.Element | None) -> str | None:
    if elem is None or elem.text is None:
        return None
    text = elem.text.strip()
    return text or None


def _read_camt053(data: bytes, name: str, cnh_as_cny: bool) -> Statement:
    root, lines = _parse_xml(data, name)
    problems = _Problems(name)

    def line_of(elem: ET.Element) -> int:
        return lines.get(elem, 0)

    ns = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    match = _CAMT_NS_RE.match(ns)
    if _local(root.tag) != "Document" or (ns and (match is None or match.group(1) != "053")):
        problems.add(
            line_of(root),
            "Document",
            f"a camt.053 Document (urn:iso:std:iso:20022:tech:xsd:camt.053.001.xx), "
            f"got {_local(root.tag)} in namespace {ns or '(none)'}",
        )
        problems.raise_if_any()
    stmts = root.findall("{*}BkToCstmrStmt/{*}Stmt")
    if len(stmts) != 1:
        problems.add(
            line_of(root),
            "BkToCstmrStmt/Stmt",
            f"exactly one Stmt per file (found {len(stmts)})",
        )
        problems.raise_if_any()
    stmt = stmts[0]

    account = _text(stmt.find("{*}Acct/{*}Id/{*}IBAN")) or _text(
        stmt.find("{*}Acct/{*}Id/{*}Othr/{*}Id")
    )
    if account is None:
        problems.add(line_of(stmt), "Stmt/Acct/Id", "an account IBAN or Othr/Id")

    code: str | None = None
    acct_ccy = stmt.find("{*}Acct/{*}Ccy")
    if _text(acct_ccy) is not None and acct_ccy is not None:
        code = _currency_code(
            _text(acct_ccy) or "", cnh_as_cny, problems, line_of(acct_ccy), "Stmt/Acct/Ccy"
        )

    # kind -> (amount, date, Amt element, its path); a kind seen but unreadable maps to None.
    balances: dict[str, tuple[int, date, ET.Element, str] | None] = {}
    for i, bal in enumerate(stmt.findall("{*}Bal"), 1):
        path = f"Stmt/Bal[{i}]"
        kind = _text(bal.find("{*}Tp/{*}CdOrPrtry/{*}Cd"))
        if kind not in ("OPBD", "PRCD", "CLBD"):
            continue  # available and interim balances take no part in the check
        if kind in balances:
            problems.add(line_of(bal), f"{path}/Tp", f"one {kind} balance (found a second)")
            continue
        balances[kind] = None
        parsed = _camt_money(bal, path, code, cnh_as_cny, problems, line_of)
        when = _camt_date(bal.find("{*}Dt"), f"{path}/Dt", problems, line_of(bal))
        if parsed is not None:
            code = code or parsed[1]
        if parsed is not None and when is not None:
            amt = bal.find("{*}Amt")
            balances[kind] = (parsed[0], when, bal if amt is None else amt, f"{path}/Amt")
    opening = balances.get("OPBD") or balances.get("PRCD")
    closing = balances.get("CLBD")
    if not balances.keys() & {"OPBD", "PRCD"}:
        problems.add(line_of(stmt), "Stmt/Bal", "an opening balance (Bal with code OPBD or PRCD)")
    if "CLBD" not in balances:
        problems.add(line_of(stmt), "Stmt/Bal", "a closing balance (Bal with code CLBD)")

    entries: list[StatementEntry] = []
    for i, ntry in enumerate(stmt.findall("{*}Ntry"), 1):
        entry = _camt_entry(ntry, f"Stmt/Ntry[{i}]", code, cnh_as_cny, problems, line_of)
        if entry is not None:
            entries.append(entry)

    problems.raise_if_any()
    # Everything below is present: a missing piece was a problem and raised above.
    if account is None or code is None or opening is None or closing is None:
        raise LedgerError("unreachable: incomplete statement passed validation")
    totals = _Totals(code, opening[0], closing[0])
    total = sum(e.amount for e in entries)
    if totals.opening + total != totals.closing:
        problems.add(line_of(closing[2]), closing[3], _balance_message(totals, total))
        problems.raise_if_any()
    return Statement(
        account=account,
        currency=code,
        opening=opening[0],
        closing=closing[0],
        opening_date=opening[1],
        closing_date=closing[1],
        entries=tuple(entries),
        source=name,
        format="camt.053",
    )


def _camt_money(
    parent: ET.Element,
    path: str,
    code: str | None,
    cnh_as_cny: bool,
    problems: _Problems,
    line_of: Callable[[ET.Element], int],
) -> tuple[int, str] | None:
    """The signed amount of a Bal or Ntry (``Amt`` + ``CdtDbtInd``) and its currency."""
    amt = parent.find("{*}Amt")
    line = line_of(parent)
    if amt is None or _text(amt) is None:
        problems.add(line, f"{path}/Amt", "an amount")
        return None
    line = line_of(amt)
    raw_ccy = amt.get("Ccy")
    if raw_ccy is None:
        problems.add(line, f"{path}/Amt/@Ccy", "a currency attribute Ccy")
        return None
    ccy = _currency_code(raw_ccy, cnh_as_cny, problems, line, f"{path}/Amt/@Ccy")
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
    minor = _amount(text, ccy, problems, line, f"{path}/Amt")
    indicator_elem = parent.find("{*}CdtDbtInd")
    indicator = _text(indicator_elem)
    if indicator not in ("CRDT", "DBIT"):
        problems.add(
            line_of(indicator_elem) if indicator_elem is not None else line_of(parent),
            f"{path}/CdtDbtInd",
            f"CRDT or DBIT, got {indicator!r}",
        )
        return None
    if minor is None:
        return None
    return (minor if indicator == "CRDT" else -minor), ccy


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
                return date.fromisoformat(text)
            if _local(child.tag) == "DtTm":
                return datetime.fromisoformat(text).date()
        except ValueError:
            problems.add(line, f"{path}/{_local(child.tag)}", f"an ISO date, got {text!r}")
            return None
    problems.add(line, path, "a date (Dt or DtTm)")
    return None


def _camt_entry(
    ntry: ET.Element,
    path: str,
    code: str | None,
    cnh_as_cny: bool,
    problems: _Problems,
    line_of: Callable[[ET.Element], int],
) -> StatementEntry | None:
    line = line_of(ntry)
    status_elem = ntry.find("{*}Sts")
    status = _text(ntry.find("{*}Sts/{*}Cd")) or _text(status_elem)
    if status is not None and status != "BOOK":
        return None  # pending or information only: not part of the booked balance
    money = _camt_money(ntry, path, code, cnh_as_cny, problems, line_of)
    booked = _camt_date(ntry.find("{*}BookgDt"), f"{path}/BookgDt", problems, line)
    valued = _camt_date(ntry.find("{*}ValDt"), f"{path}/ValDt", problems, line)

    reversal = False
    rvsl = _text(ntry.find("{*}RvslInd"))
    if rvsl is not None:
        if rvsl not in ("true", "false", "1", "0"):
            problems.add(line, f"{path}/RvslInd", f"true or false, got {rvsl!r}")
        reversal = rvsl in ("true", "1")

    details = ntry.findall("{*}NtryDtls/{*}TxDtls")
    if len(details) > 1:
        problems.add(
            line,
            f"{path}/NtryDtls",
            f"one TxDtls per entry (found {len(details)}: batch bookings cannot be matched "
            "per payment)",
        )
    e2e = _text(details[0].find("{*}Refs/{*}EndToEndId")) if details else None
    if e2e in _NO_REFERENCE:
        e2e = None

    description = _text(ntry.find("{*}AddtlNtryInf"))
    if description is None:
        ustrd = [t for t in (_text(u) for u in ntry.iterfind(".//{*}RmtInf/{*}Ustrd")) if t]
        description = " ".join(ustrd)

    if money is None or booked is None or valued is None:
        return None
    return StatementEntry(
        amount=money[0],
        currency=money[1],
        booking_date=booked,
        value_date=valued,
        end_to_end_id=e2e,
        bank_ref=_text(ntry.find("{*}AcctSvcrRef")),
        reversal=reversal,
        description=description,
        line=line,
    )


# MT940 ---------------------------------------------------------------------------------------

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
        "customer reference of at most 16 characters, optional // bank reference)"
    ),
}


@dataclass(frozen=True, slots=True)
class _Field:
    tag: str
    line: int
    value: str


def _mt940_fields(text: str, problems: _Problems) -> tuple[list[_Field], int]:
    """Split MT940 text into its fields, each with the line its tag is on."""
    fields: list[_Field] = []
    last_line = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.removeprefix("\ufeff") if number == 1 else raw
        if not line.strip():
            continue
        last_line = number
        stripped = line.strip()
        if stripped in ("-", "-}") or stripped.startswith("{"):
            continue  # SWIFT envelope: {1:...}{2:...}{4: and the -} trailer
        match = _MT940_TAG_RE.match(line)
        if match is not None:
            fields.append(_Field(match["tag"], number, match["value"]))
        elif fields:
            last = fields[-1]
            fields[-1] = _Field(last.tag, last.line, f"{last.value}\n{line}")
        else:
            problems.add(number, "text", "a field tag like :20: (text before the first field)")
    return fields, last_line


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
    fld: _Field,
    ctx: mt940.models.Transactions,
    cnh_as_cny: bool,
    problems: _Problems,
) -> tuple[int, str, date] | None:
    parsed = _mt940_parse(fld, ctx, problems)
    if parsed is None:
        return None
    raw, built = parsed
    name = f":{fld.tag}:"
    if not raw.get("amount"):
        problems.add(fld.line, f"{name} amount", _MT940_EXPECTED["60"])
        return None
    code = _currency_code(raw["currency"], cnh_as_cny, problems, fld.line, f"{name} currency")
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
    """The entry of a :61: field; with no currency (a bad opening), only its syntax is checked."""
    parsed = _mt940_parse(fld, ctx, problems)
    if parsed is None:
        return None
    raw, built = parsed
    if built.get("extra_details") and "\n" not in fld.value.rstrip():
        # The library cut a long reference at 16 (or 23) characters and kept the rest as details.
        problems.add(
            fld.line,
            ":61: reference",
            "a customer reference of at most 16 characters before // and a bank reference "
            f"after it, got {fld.value.rstrip()!r}",
        )
        return None
    if code is None:
        return None
    amount = _exact_minor(
        built["amount"].amount, raw["amount"], code, problems, fld.line, ":61: amount"
    )
    if amount is None:
        return None
    value_date: date = built["date"]
    booking: date = built.get("entry_date") or value_date
    customer = (built.get("customer_reference") or "").strip()
    bank = (built.get("bank_reference") or "").strip()
    return StatementEntry(
        amount=amount,
        currency=code,
        booking_date=date(booking.year, booking.month, booking.day),
        value_date=date(value_date.year, value_date.month, value_date.day),
        end_to_end_id=None if customer.upper() in _NO_REFERENCE or not customer else customer,
        bank_ref=bank or None,
        reversal=str(built["status"]).upper().startswith("R"),
        line=fld.line,
    )


_MT940_GROUPS: Final[dict[str, str]] = {
    "60F": "60",
    "60M": "60",
    "62F": "62",
    "62M": "62",
    "28C": "28",
}
_MT940_SINGLE: Final = ("20", "25", "28", "60", "62")
_MT940_IGNORED: Final = ("13", "13D", "21", "34F", "64", "65", "90C", "90D", "NS")


def _read_mt940(data: bytes, name: str, cnh_as_cny: bool) -> Statement:
    problems = _Problems(name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError([Problem(name, line, "text", f"UTF-8 text ({exc.reason})")]) from None
    fields, last_line = _mt940_fields(text, problems)
    ctx = mt940.models.Transactions(options=_MT940_OPTIONS)

    seen: dict[str, _Field] = {}
    account: str | None = None
    opening: tuple[int, str, date] | None = None
    closing: tuple[int, str, date] | None = None
    entries: list[StatementEntry] = []
    details: list[list[str]] = []
    # Index of the entry the last :61: made; :86: lines belong to it until another field comes.
    current: int | None = None
    for fld in fields:
        group = _MT940_GROUPS.get(fld.tag, fld.tag)
        if not seen and group != "20":
            problems.add(fld.line, f":{fld.tag}:", "the statement to start with :20:")
        if group != "86":
            current = None
        if group in _MT940_SINGLE and group in seen:
            first = seen[group]
            what = "one statement per file" if group == "20" else f"one :{fld.tag}: field"
            problems.add(
                fld.line, f":{fld.tag}:", f"{what} (a first :{first.tag}: is on line {first.line})"
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
            opening = _mt940_balance(fld, ctx, cnh_as_cny, problems)
        elif group == "61":
            if "60" not in seen or "62" in seen:
                problems.add(
                    fld.line, ":61:", "statement lines between the :60F: and :62F: balances"
                )
            else:
                entry = _mt940_entry(fld, ctx, opening[1] if opening else None, problems)
                if entry is not None:
                    entries.append(entry)
                    details.append([])
                    current = len(entries) - 1
        elif group == "86":
            if current is not None:
                # Banks wrap :86: at 65 characters, mid-word: the lines are one text.
                details[current].append(fld.value.replace("\n", ""))
        elif group == "62":
            closing = _mt940_balance(fld, ctx, cnh_as_cny, problems)
        elif group not in _MT940_IGNORED:
            problems.add(fld.line, f":{fld.tag}:", "a known MT940 field")

    if "20" not in seen and not problems.items:
        problems.add(last_line, ":20:", "an MT940 statement starting with :20:")
    if "25" not in seen:
        problems.add(last_line, ":25:", "an account identification :25:")
    if "60" not in seen:
        problems.add(last_line, ":60F:", "an opening balance :60F: (or :60M:)")
    if "62" not in seen:
        problems.add(
            last_line,
            ":62F:",
            f"a closing balance :62F: (or :62M:); the statement ends at line {last_line} "
            "without one: is the file truncated?",
        )
    if opening is not None and closing is not None and closing[1] != opening[1]:
        problems.add(
            seen["62"].line,
            f":{seen['62'].tag}: currency",
            f"the opening balance's currency {opening[1]}, got {closing[1]}",
        )
    problems.raise_if_any()
    if account is None or opening is None or closing is None:
        raise LedgerError("unreachable: incomplete statement passed validation")

    code = opening[1]
    entries = [
        dataclasses.replace(entry, description="".join(lines).strip())
        for entry, lines in zip(entries, details, strict=True)
    ]
    total = sum(e.amount for e in entries)
    if opening[0] + total != closing[0]:
        problems.add(
            seen["62"].line,
            f":{seen['62'].tag}: amount",
            _balance_message(_Totals(code, opening[0], closing[0]), total),
        )
        problems.raise_if_any()
    return Statement(
        account=account,
        currency=code,
        opening=opening[0],
        closing=closing[0],
        opening_date=opening[2],
        closing_date=closing[2],
        entries=tuple(entries),
        source=name,
        format="mt940",
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
        if entry.end_to_end_id is not None:
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
    problems = _Problems(statement.source or "<statement>")
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
        f":60F:{balance(statement.opening, statement.opening_date)}",
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
    lines.append(f":62F:{balance(statement.closing, statement.closing_date)}")
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
