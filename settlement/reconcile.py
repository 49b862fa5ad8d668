"""Reconciliation against the database: a statement file and a ledger account, matched.

This module is the database edge of reconciliation. :mod:`settlement.matching` holds the rules
(pure, no I/O); this module reads what they need from the ledger and the statement file, and can
write a statement from the ledger itself (for the demo and for tests).

What it guarantees:

* **Signs.** A :class:`~settlement.matching.LedgerLine` carries the change of the account's
  balance on its *normal* side: ``+`` when the transfer raises it (a credit to a liability,
  equity or income account, a debit to an asset or expense account), ``-`` when it lowers it. A
  bank statement shows the account holder's balance the same way (``+`` credit), so a nostro
  (an asset in our books) and a customer account (a liability) both reconcile with their
  statements without further sign flips. The ledger's closing balance in a result is the
  account's normal-side balance, as ``wmc report balances --as-of`` shows it.
* **References.** A line's ``reference`` is its transfer's ``reference`` column when set, else
  its entry's id (the instruction id), as ``wmc reconcile`` in CONTRACT.md says; ``entry_id`` is
  always the entry's id, ``kind`` the entry's kind.
* **The period and the opening.** A statement covers whole value days ``[first, last]``, where
  ``last`` is the closing balance's date (camt ``CLBD``, MT940 ``:62F:``) and ``first`` depends
  on how the bank dated its opening balance (camt ``OPBD``, MT940 ``:60F:``), as banks do both:

  - *start-of-day*: the opening balance carries the first day covered (the worked example of
    DOMAIN.md: ``OPBD`` and ``CLBD`` both 2025-03-03). This is the case when the opening and
    closing dates are equal, or when an entry was booked on or before the opening date;
  - *previous closing*: the opening balance repeats the previous statement's closing balance,
    with that statement's date (SWIFT's usage rule for ``:60F:``; ISO 20022 ``OPBD`` "equals the
    closing booked balance of the previous report"), e.g. ``:60F:`` dated Friday 2025-02-28 on
    Monday 2025-03-03's statement. This is the case when the opening date is before the closing
    date and no entry was booked on or before it: the first day covered is the day after.

  Either way the ledger's opening is its balance at the end of the day before ``first`` (value
  dates ``<= first - 1``), its lines are the transfers with value dates in ``[first, last]``, and
  so its closing is its balance as of ``last``. A statement whose opening date is after its
  closing date is refused. The one case the dates cannot tell apart: a multi-day statement
  dated start-of-day with no booking on its first day is read as previous-closing, so a ledger
  transfer on that first day counts in the opening (and shows as an ``opening_difference`` if
  the bank lacks it) rather than as ``missing_in_statement``; the breaks still sum to the
  difference.
* **The window: the date the statement counts by.** A statement's closing balance counts its
  entries by *booking* date: an entry booked on the last day of the period is in it even when
  its value date is after the period (a real camt.053 case: booked 2014-12-31, value
  2015-01-02), and an entry value-dated inside the period but booked after it is not. The ledger
  counts by value date and has no booking date of the bank's. So the ledger's side of the
  comparison is: the lines value-dated in ``[first, last]``, **plus** each line of a reference
  the statement books in the period, of the same amount, that lies outside those days (value
  date within ``date_tolerance_days`` of the period and of the statement's value dates),
  nearest the statement entry's value date first, as many as the statement has entries of that
  reference and amount that the period's lines leave unmatched (a reversal pulls nothing in:
  it undoes a payment of another day). A line taken in from before ``first`` is taken out of
  the ledger's opening (it was counted there); one from after ``last`` adds to the ledger's
  closing, which is then the ledger's balance as of ``last`` plus those lines: the ledger's
  balance on the statement's terms. The pair is then a match or, where the value dates differ,
  a ``date_mismatch``, never a false ``missing_in_ledger``. A ledger line the bank booked in an
  earlier statement's period but value-dated in this one cannot be told from one the bank has
  not booked yet: it shows as ``missing_in_statement``, balanced by an ``opening_difference``.
* **Several statements in a file.** :func:`reconcile_statement` takes the file's one statement,
  or the one whose account identifier is the ledger account's code, and refuses a file of
  several without one such (naming what it holds); :func:`reconcile_statements` reconciles each
  in turn (``wmc reconcile --all``). A report without balances (camt.054, an MT942 or camt.052
  without them) is refused for reconciliation, named as what it is.
* **Results.** :func:`reconcile_statement` returns an :class:`AccountReconciliation`: a
  :class:`~settlement.matching.Reconciliation` (its breaks sum to the difference) whose
  ``account`` is the *ledger* account code the caller named, with the statement's own account
  identifier (IBAN or other id) in ``statement_account``, and the period in ``period_start`` /
  ``period_end``.
* **Read only.** Nothing here writes to the database; the caller owns the connection and its
  transaction, and should read the lines and the opening in one transaction (one snapshot).
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import ClassVar

from sqlalchemy import Connection, and_, or_, select

from ledger.entries import DEBIT_NORMAL
from ledger.errors import InputError, NotFound, Problem
from ledger.money import DEFAULT_CURRENCIES, format_amount
from ledger.reports import balances
from ledger.schema import Account, Entry, Transfer
from settlement.matching import (
    BreakType,
    LedgerLine,
    Reconciliation,
    reconcile,
    reconciliation_to_dict,
)
from settlement.settings import ReconciliationSettings, load_settings
from settlement.statements import (
    Statement,
    StatementEntry,
    StatementFormat,
    describe_statements,
    read_statements,
    write_camt053,
    write_mt940,
)

__all__ = [
    "AccountReconciliation",
    "BankFee",
    "ChangeAmount",
    "DropLine",
    "DuplicateLine",
    "LedgerAccount",
    "Plant",
    "ShiftValueDate",
    "ledger_account",
    "ledger_balance",
    "ledger_lines",
    "reconcile_one",
    "reconcile_statement",
    "reconcile_statements",
    "reconciliation_report",
    "statement_from_ledger",
    "statement_period",
]


@dataclass(frozen=True, slots=True)
class LedgerAccount:
    """The identity of a ledger account, as reconciliation needs it."""

    id: int
    code: str
    bank_id: str
    type: str
    currency: str

    @property
    def debit_normal(self) -> bool:
        return self.type in DEBIT_NORMAL


@dataclass(frozen=True, slots=True)
class AccountReconciliation(Reconciliation):
    """A reconciliation of one ledger account against one statement file.

    ``account`` is the ledger account code; ``statement_account`` the statement's own account
    identifier; ``period_start``/``period_end`` the value days compared (see the module
    docstring); ``source`` the statement file's name (provenance: no part in equality).
    """

    statement_account: str = ""
    period_start: date | None = None
    period_end: date | None = None
    source: str = field(default="", compare=False)  # provenance, as in Statement
    #: What the statement is (``"camt.053"``, ``"mt940"``...) and its own id (camt ``Stmt/Id``,
    #: MT940 ``:20:``); provenance.
    statement_format: str = field(default="", compare=False)
    statement_id: str = field(default="", compare=False)
    #: What the reader accepted with a remark (``FILE:LINE: field 'F': note``).
    warnings: tuple[str, ...] = field(default=(), compare=False)


def ledger_account(conn: Connection, code: str) -> LedgerAccount:
    """The account ``code``; :class:`~ledger.errors.NotFound` if the ledger has none."""
    a = Account.__table__.c
    row = conn.execute(
        select(a.id, a.code, a.bank_id, a.type, a.currency).where(a.code == code)
    ).first()
    if row is None:
        raise NotFound(f"account {code!r} does not exist")
    return LedgerAccount(int(row.id), row.code, row.bank_id, row.type, row.currency)


def ledger_lines(conn: Connection, account: str, start: date, end: date) -> list[LedgerLine]:
    """The account's transfers with value date in ``[start, end]``, signed on its normal side.

    One query joining transfers, entries and accounts, ordered by value date and transfer id
    (the order they were posted in). Raises :class:`~ledger.errors.NotFound` for an unknown
    account (an account without transfers gives ``[]``).
    """
    acc = ledger_account(conn, account)
    t = Transfer.__table__.c
    e = Entry.__table__.c
    a = Account.__table__.c
    stmt = (
        select(
            t.amount, t.currency, t.value_date, t.reference, t.debit_account_id,
            e.id.label("entry_id"), e.kind,
        )
        .select_from(
            Transfer.__table__.join(Entry.__table__, e.seq == t.entry_seq).join(
                Account.__table__,
                or_(a.id == t.debit_account_id, a.id == t.credit_account_id),
            )
        )
        # No index covers the account columns of transfers: this scans the day's transfers.
        .where(and_(a.id == acc.id, t.value_date >= start, t.value_date <= end))
        .order_by(t.value_date, t.id)
    )
    lines = []
    for r in conn.execute(stmt):
        amount = int(r.amount)
        debited = int(r.debit_account_id) == acc.id
        # A debit raises a debit-normal account and lowers a credit-normal one.
        raises = debited == acc.debit_normal
        lines.append(
            LedgerLine(
                amount=amount if raises else -amount,
                currency=r.currency,
                value_date=_as_date(r.value_date),
                reference=r.reference or r.entry_id,
                entry_id=r.entry_id,
                kind=r.kind,
            )
        )
    return lines


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def ledger_balance(conn: Connection, account: str, as_of: date) -> int:
    """The account's balance on its normal side, counting value dates on or before ``as_of``.

    The same figure as ``wmc report balances --as-of``; NotFound for an unknown account.
    """
    rows = balances(conn, as_of=as_of, account=account)
    if not rows:
        raise NotFound(f"account {account!r} does not exist")
    return rows[0].balance


def statement_period(statement: Statement) -> tuple[date, date]:
    """The value days ``(first, last)`` the statement covers (see the module docstring).

    Raises :class:`~ledger.errors.InputError` when the opening date is after the closing date.
    """
    opening, closing = statement.opening_date, statement.closing_date
    if opening > closing:
        raise InputError(
            [
                Problem(
                    statement.source or "<statement>",
                    0,
                    "opening_date",
                    f"an opening balance dated on or before the closing balance ({closing}), "
                    f"got {opening}",
                )
            ]
        )
    if opening == closing or any(e.booking_date <= opening for e in statement.entries):
        return opening, closing
    return opening + timedelta(days=1), closing


def is_statement_of(statement_account: str, account: str,
                    settings: ReconciliationSettings) -> bool:
    """Whether a statement of ``statement_account`` is the statement of ledger ``account``:
    the same code, or mapped to it by the settings."""
    mapped = settings.statement_account_of(statement_account)
    return account == (statement_account if mapped is None else mapped)


def reconcile_statement(
    conn: Connection,
    source: str | os.PathLike[str] | bytes,
    *,
    account: str,
    settings: ReconciliationSettings | None = None,
    name: str | None = None,
    force: bool = False,
    currencies: Collection[str] = DEFAULT_CURRENCIES,
) -> AccountReconciliation:
    """Read a statement file and reconcile its statement against ledger account ``account``.

    The statement must be ``account``'s: its account id (camt ``Acct/Id``, MT940 ``:25:``) is
    ``account``'s code, or mapped to it by ``settings.statement_accounts``; else
    :class:`~ledger.errors.InputError` names both, unless ``force``.

    ``source`` is a path or the file's bytes; ``name`` names it in messages (default: the path).
    ``settings`` default to the packaged defaults (``settings.default.toml``); ``currencies`` are
    the ledger's carried currencies (the ``ledger.currencies`` setting). A file of several
    statements gives the one whose account identifier is ``account`` (see the module
    docstring). Raises :class:`~ledger.errors.NotFound` for an unknown account and
    :class:`~ledger.errors.InputError` for an unreadable statement, one in a currency other than
    the account's, or one that cannot be reconciled (naming the file).
    """
    settings = settings or load_settings().reconciliation
    acc = ledger_account(conn, account)
    found = _read(source, name, settings, currencies)
    return reconcile_one(conn, _select(found, acc.code, settings), account=acc.code,
                         settings=settings, force=force)


def reconcile_statements(
    conn: Connection,
    source: str | os.PathLike[str] | bytes,
    *,
    account: str | None = None,
    settings: ReconciliationSettings | None = None,
    name: str | None = None,
    currencies: Collection[str] = DEFAULT_CURRENCIES,
) -> list[AccountReconciliation]:
    """Reconcile every statement of a file in turn, in file order (``wmc reconcile --all``).

    Each is reconciled against ledger account ``account`` when given (a file of one account's
    days), else against the ledger account whose code is the statement's account identifier.
    Every statement is checked before any is reconciled: an unknown account, a report without
    balances or a currency mismatch refuses the file.
    """
    settings = settings or load_settings().reconciliation
    found = _read(source, name, settings, currencies)
    targets = [ledger_account(conn, account or settings.statement_account_of(s.account)
                              or s.account).code for s in found]
    for stmt, code in zip(found, targets, strict=True):
        _check_reconcilable(stmt, ledger_account(conn, code), settings, force=False)
    return [
        reconcile_one(conn, stmt, account=code, settings=settings)
        for stmt, code in zip(found, targets, strict=True)
    ]


def _read(
    source: str | os.PathLike[str] | bytes,
    name: str | None,
    settings: ReconciliationSettings,
    currencies: Collection[str],
) -> tuple[Statement, ...]:
    return read_statements(
        source,
        name=name,
        cnh_as_cny=settings.cnh_as_cny,
        max_bytes=settings.statement_max_bytes,
        max_elements=settings.statement_max_elements,
        currencies=currencies,
    )


def _select(found: Sequence[Statement], account: str,
            settings: ReconciliationSettings) -> Statement:
    if len(found) == 1:
        return found[0]
    mine = [s for s in found if is_statement_of(s.account, account, settings)]
    if len(mine) == 1:
        return mine[0]
    file_name = found[0].source or "<statement>"
    if mine:
        expected = (
            f"one statement of account {account!r}, found {len(mine)} "
            f"({describe_statements(mine)}): reconcile each in turn with --all"
        )
    else:
        expected = (
            f"a statement of account {account!r} among the file's {len(found)} "
            f"({describe_statements(found)}): name one of these accounts, or reconcile "
            "each in turn with --all"
        )
    raise InputError([Problem(file_name, 0, "statement", expected)])


def _check_reconcilable(statement: Statement, acc: LedgerAccount,
                        settings: ReconciliationSettings, *, force: bool) -> None:
    file_name = statement.source or "<statement>"
    if not statement.has_balances:
        raise InputError(
            [
                Problem(
                    file_name,
                    0,
                    "balances",
                    f"a statement with opening and closing balances to reconcile; this "
                    f"{statement.kind_name} of account {statement.account} has none (it says "
                    "what was booked, not what the account holds)",
                )
            ]
        )
    if not force and not is_statement_of(statement.account, acc.code, settings):
        mapped = settings.statement_account_of(statement.account)
        raise InputError([Problem(
            file_name, 0, "account",
            f"a statement of ledger account {acc.code!r}, got one of account "
            f"{statement.account!r}"
            + (f" (mapped to {mapped!r} by reconciliation.statement_accounts)" if mapped else
               ": map it in the settings (reconciliation.statement_accounts) or use --force"),
        )])
    if statement.currency != acc.currency:
        raise InputError(
            [
                Problem(
                    file_name,
                    0,
                    "currency",
                    f"a statement in {acc.currency}, the currency of ledger account "
                    f"{acc.code!r}, got {statement.currency}",
                )
            ]
        )


def reconcile_one(
    conn: Connection,
    statement: Statement,
    *,
    account: str,
    settings: ReconciliationSettings | None = None,
    force: bool = False,
) -> AccountReconciliation:
    """Reconcile one statement already read against ledger account ``account`` (a statement of
    another account is refused unless ``force``: see :func:`reconcile_statement`)."""
    settings = settings or load_settings().reconciliation
    acc = ledger_account(conn, account)
    _check_reconcilable(statement, acc, settings, force=force)
    first, last = statement_period(statement)
    opening = ledger_balance(conn, acc.code, first - timedelta(days=1))
    lines = ledger_lines(conn, acc.code, first, last)
    taken = _booked_in_period(conn, acc.code, statement, lines, first, last, settings)
    # A line value-dated before the period was counted in the ledger's opening: move it out.
    opening -= sum(x.amount for x in taken if x.value_date < first)
    rec = reconcile(
        statement, [*lines, *taken], opening, date_tolerance_days=settings.date_tolerance_days
    )
    return AccountReconciliation(
        account=acc.code,
        currency=rec.currency,
        matched=rec.matched,
        breaks=rec.breaks,
        ledger_opening=rec.ledger_opening,
        statement_opening=rec.statement_opening,
        ledger_closing=rec.ledger_closing,
        statement_closing=rec.statement_closing,
        statement_account=statement.account,
        period_start=first,
        period_end=last,
        source=statement.source or "<statement>",
        statement_format=statement.format,
        statement_id=statement.statement_id,
        warnings=tuple(str(w) for w in statement.warnings),
    )


def _booked_in_period(
    conn: Connection,
    account: str,
    statement: Statement,
    lines: Sequence[LedgerLine],
    first: date,
    last: date,
    settings: ReconciliationSettings,
) -> list[LedgerLine]:
    """The ledger lines outside ``[first, last]`` of references the statement books in it.

    See "The window" in the module docstring: for each end-to-end id, as many lines as the
    statement has entries of it beyond the period's own lines, nearest the entry's value date.
    """
    # A reversal reverses a payment of another day: it never pulls that payment in.
    parts = [
        p for e in statement.entries for p in e.parts()
        if p.end_to_end_id is not None and not p.reversal
    ]
    wanted = Counter((p.end_to_end_id, p.amount) for p in parts)
    wanted.subtract(Counter((x.reference, x.amount) for x in lines))
    short = {key for key, n in wanted.items() if n > 0}
    if not short:
        return []
    tolerance = timedelta(days=settings.date_tolerance_days)
    values = [p.value_date for p in parts if (p.end_to_end_id, p.amount) in short]
    lo, hi = min([first, *values]) - tolerance, max([last, *values]) + tolerance
    outside = [
        *(ledger_lines(conn, account, lo, first - timedelta(days=1)) if lo < first else []),
        *(ledger_lines(conn, account, last + timedelta(days=1), hi) if hi > last else []),
    ]
    taken: list[LedgerLine] = []
    for key in sorted(short, key=lambda k: (str(k[0]), k[1])):
        target = min(p.value_date for p in parts if (p.end_to_end_id, p.amount) == key)
        near = sorted(
            (x for x in outside if (x.reference, x.amount) == key),
            key=lambda x: (abs((x.value_date - target).days), x.value_date, x.entry_id),
        )
        taken.extend(near[: wanted[key]])
    return taken


def reconciliation_report(rec: Reconciliation) -> dict[str, object]:
    """The ``wmc reconcile`` JSON object, extended for an :class:`AccountReconciliation`.

    The CONTRACT.md keys come first, as :func:`~settlement.matching.reconciliation_to_dict`
    renders them; an account reconciliation adds ``statement_account``, ``period_start``,
    ``period_end``, ``ledger_opening`` and ``statement_opening`` (amounts as strings).
    """
    out = reconciliation_to_dict(rec)
    if isinstance(rec, AccountReconciliation):
        out["statement_account"] = rec.statement_account
        out["period_start"] = rec.period_start.isoformat() if rec.period_start else None
        out["period_end"] = rec.period_end.isoformat() if rec.period_end else None
        out["statement_format"] = rec.statement_format
        out["statement_id"] = rec.statement_id
        out["warnings"] = list(rec.warnings)
    code = rec.currency
    out["ledger_opening"] = format_amount(rec.ledger_opening, code)
    out["statement_opening"] = format_amount(rec.statement_opening, code)
    return out


# --------------------------------------------------------------------------------------------
# A statement written from the ledger, with planted breaks


@dataclass(frozen=True, slots=True)
class DropLine:
    """Leave a ledger line off the statement: the bank books it later (timing)."""

    ref: str  # the line's reference or entry id
    break_type: ClassVar[BreakType] = "missing_in_statement"


@dataclass(frozen=True, slots=True)
class BankFee:
    """Add a charge the ledger has not booked: a debit of ``amount`` minor units, no reference.

    Its share of the difference is ``+amount``. Choose an amount no unmatched ledger line of the
    day has, or the matcher pairs them by amount (that is its rule for entries without a
    reference).
    """

    amount: int
    description: str = "bank charge"
    break_type: ClassVar[BreakType] = "missing_in_ledger"


@dataclass(frozen=True, slots=True)
class ChangeAmount:
    """Show a ledger line with ``delta`` minor units more on the statement (a rounding
    difference); its share of the difference is ``-delta``."""

    ref: str
    delta: int = 1
    break_type: ClassVar[BreakType] = "amount_mismatch"


@dataclass(frozen=True, slots=True)
class ShiftValueDate:
    """Show a ledger line with its value date moved by ``days``; share ``0``."""

    ref: str
    days: int = 1
    break_type: ClassVar[BreakType] = "date_mismatch"


@dataclass(frozen=True, slots=True)
class DuplicateLine:
    """Show a ledger line twice on the statement (charged twice); share ``-amount``."""

    ref: str
    break_type: ClassVar[BreakType] = "duplicate"


Plant = DropLine | BankFee | ChangeAmount | ShiftValueDate | DuplicateLine


def statement_from_ledger(
    conn: Connection,
    account: str,
    day: date,
    *,
    plant: Sequence[Plant] = (),
    fmt: StatementFormat = "camt.053",
    statement_account: str | None = None,
) -> tuple[Statement, bytes | str]:
    """The statement a bank would send for ledger account ``account`` on ``day``, with breaks.

    The statement opens (start-of-day, dated ``day``) at the ledger's balance as of the day
    before and carries one entry per ledger line of ``day`` (value and booking date ``day``),
    in posting order: amount as the ledger has it, end-to-end id = the line's reference, bank
    reference ``BANKREF-000001``, ``-000002``, ... in statement order. Then each plant changes
    it (see :class:`DropLine`, :class:`BankFee`, :class:`ChangeAmount`, :class:`ShiftValueDate`,
    :class:`DuplicateLine`; each has the ``break_type`` it causes). A plant's ``ref`` names a
    line by reference or entry id; several plants naming the same ref take its lines in turn,
    one line each. The closing is whatever the entries add up to.

    Returns the statement and its text: camt.053 bytes, or MT940 ``str`` (which refuses, with
    :class:`~ledger.errors.InputError`, references longer than 16 characters). The account
    identifier on the statement is ``statement_account`` (default: the ledger code). Raises
    NotFound for an unknown account and InputError for a plant naming no (free) line of ``day``.
    """
    acc = ledger_account(conn, account)
    code = acc.currency
    opening = ledger_balance(conn, acc.code, day - timedelta(days=1))
    lines = ledger_lines(conn, acc.code, day, day)
    entries: list[StatementEntry | None] = [
        StatementEntry(
            amount=x.amount,
            currency=code,
            booking_date=day,
            value_date=x.value_date,
            end_to_end_id=x.reference,
            bank_ref=None,
            description=f"{x.kind} {x.entry_id}",
        )
        for x in lines
    ]
    extra: dict[int, list[StatementEntry]] = {}  # index -> entries shown right after it
    fees: list[StatementEntry] = []
    planted: set[int] = set()

    def target(ref: str, p: Plant) -> int:
        for i, x in enumerate(lines):
            if i not in planted and ref in (x.reference, x.entry_id):
                planted.add(i)
                return i
        raise InputError(
            f"plant {p!r}: account {acc.code} has no (further) line {ref!r} on {day}"
        )

    for p in plant:
        if isinstance(p, BankFee):
            if p.amount <= 0:
                raise InputError(f"plant {p!r}: a fee amount above zero, in minor units")
            fees.append(
                StatementEntry(
                    amount=-p.amount, currency=code, booking_date=day, value_date=day,
                    end_to_end_id=None, bank_ref=None, description=p.description,
                )
            )
            continue
        i = target(p.ref, p)
        original = entries[i]
        if original is None:  # pragma: no cover - target() never hands out a line twice
            raise InputError(f"plant {p!r}: line already dropped")
        if isinstance(p, DropLine):
            entries[i] = None
        elif isinstance(p, ChangeAmount):
            if p.delta == 0:
                raise InputError(f"plant {p!r}: a non-zero delta")
            entries[i] = dataclasses.replace(original, amount=original.amount + p.delta)
        elif isinstance(p, ShiftValueDate):
            if p.days == 0:
                raise InputError(f"plant {p!r}: a non-zero number of days")
            entries[i] = dataclasses.replace(
                original, value_date=original.value_date + timedelta(days=p.days)
            )
        else:
            extra.setdefault(i, []).append(original)

    shown: list[StatementEntry] = []
    for i, entry in enumerate(entries):
        if entry is not None:
            shown.append(entry)
        shown.extend(extra.get(i, ()))
    shown.extend(fees)
    numbered = tuple(
        dataclasses.replace(e, bank_ref=f"BANKREF-{n:06d}") for n, e in enumerate(shown, 1)
    )
    statement = Statement(
        account=statement_account or acc.code,
        currency=code,
        opening=opening,
        closing=opening + sum(e.amount for e in numbered),
        opening_date=day,
        closing_date=day,
        entries=numbered,
        format=fmt,
    )
    body: bytes | str = write_camt053(statement) if fmt == "camt.053" else write_mt940(statement)
    return statement, body
