"""The values of the public API: what goes into a :class:`~wmc_ledger.Ledger` and what comes out.

Immutable dataclasses. Every amount is py-moneyed ``Money`` (inside the ledger it is an ``int`` of
minor units; the conversion happens here, at the boundary, once, and refuses ``Money("10.005",
"MOP")`` rather than round it). Each result type has ``to_dict()`` giving exactly the JSON object
(or row) that the matching ``wmc`` command prints with ``--format json``: amounts as strings with
the currency's minor digits, keys in the documented order. So a bank's test and a back office's
script see the same numbers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from moneyed import Money

from fx.quotes import fraction_text
from ledger.audit import AuditReport as AuditResult
from ledger.errors import AmountError
from ledger.money import format_amount, from_money, parse_amount, to_money
from ledger.refdata import LoadResult


def minor_units(amount: Money, currency: str | None = None) -> int:
    """``amount`` in minor units; ``currency``, if given, must be its currency."""
    if not isinstance(amount, Money):
        raise AmountError(f"expected py-moneyed Money, got {type(amount).__name__}")
    minor, code = from_money(amount)
    if currency is not None and code != currency:
        raise AmountError(f"expected an amount in {currency}, got {code}")
    return minor


def money_text(amount: Money) -> str:
    """``amount`` as a decimal string with exactly its currency's digits (``"2500.10"``)."""
    minor, code = from_money(amount)
    return format_amount(minor, code)


def _money_of_text(text: str, code: str) -> Money:
    return to_money(parse_amount(text, code), code)


# -- what goes in --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transfer:
    """One leg of an :class:`Entry`: ``amount`` from account ``debit`` to account ``credit``.

    Both accounts hold ``amount``'s currency. ``value_date`` defaults to the entry's;
    ``reference`` is what reconciliation matches a statement's end-to-end id against.
    """

    debit: str
    credit: str
    amount: Money
    value_date: dt.date | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """Transfers that are posted together or not at all, under the client's own ``id``.

    ``id`` is the idempotency key: the same id with the same content is a ``duplicate``, with
    other content ``exists_with_different_content``. ``value_date`` defaults to the ledger
    clock's day (UTC+8). ``meta`` values are text. ``reverses`` names an entry this one reverses.
    """

    id: str
    transfers: tuple[Transfer, ...]
    value_date: dt.date | None = None
    kind: str = "transfer"
    meta: Mapping[str, str] | None = None
    reverses: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.transfers, tuple):
            object.__setattr__(self, "transfers", tuple(self.transfers))


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction of a batch, as a row of an instructions file (CONTRACT.md).

    ``amount`` is ``Money``; its currency is the instruction's ``currency``. ``value_date``
    defaults to the ledger clock's day when the batch is settled. :meth:`to_row` gives the file
    row; :meth:`~wmc_ledger.Ledger.settle` also takes plain mappings with the file's field names.
    """

    instruction_id: str
    kind: str
    debit_account: str
    credit_account: str
    amount: Money
    value_date: dt.date | str | None = None
    investor_id: str | None = None
    product: str | None = None
    rate: Decimal | str | None = None
    book: str | None = None
    reference: str | None = None
    submitted_at: dt.datetime | str | None = None

    def to_row(self, default_value_date: dt.date | None = None) -> dict[str, str]:
        """The instruction as an instructions-file row (field name -> text; empty ones left out)."""
        value_date = self.value_date if self.value_date is not None else default_value_date
        row: dict[str, Any] = {
            "instruction_id": self.instruction_id,
            "kind": self.kind,
            "debit_account": self.debit_account,
            "credit_account": self.credit_account,
            "amount": self.amount,
            "value_date": value_date,
            "investor_id": self.investor_id,
            "product": self.product,
            "rate": self.rate,
            "book": self.book,
            "reference": self.reference,
            "submitted_at": self.submitted_at,
        }
        return {k: v for k, v in row.items() if v is not None}


# -- what comes out ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostResult:
    """The outcome of one entry: ``code`` is ``ok``, ``duplicate`` or a rejection code."""

    entry_id: str
    code: str
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when the entry was posted now."""
        return self.code == "ok"


@dataclass(frozen=True, slots=True)
class ConversionResult:
    """The outcome of one conversion: its :class:`PostResult` fields and what was converted.

    ``bought``, ``spread`` and ``rounding`` are in the bought currency and ``rate`` is the
    customer's rate (bought units per sold unit, up to 20 decimals); they are ``None`` when no
    rate was found (``no_rate``, ``stale_rate``, ...). ``bought + spread + rounding`` is the
    amount at the mid rate.
    """

    entry_id: str
    code: str
    message: str
    sold: Money
    bought: Money | None = None
    spread: Money | None = None
    rounding: Money | None = None
    rate: Decimal | None = None

    @property
    def ok(self) -> bool:
        """True when the conversion was posted now."""
        return self.code == "ok"


@dataclass(frozen=True, slots=True)
class Balance:
    """One account's totals; ``balance`` is on its normal side (debit side for assets and
    expenses, credit side for liabilities, equity and income)."""

    account: str
    bank_id: str
    currency: str
    type: str
    debits: Money
    credits: Money
    balance: Money

    def to_dict(self) -> dict[str, str]:
        """The row of ``wmc report balances --format json``."""
        return {
            "account": self.account,
            "bank_id": self.bank_id,
            "currency": self.currency,
            "debits": money_text(self.debits),
            "credits": money_text(self.credits),
            "balance": money_text(self.balance),
        }


@dataclass(frozen=True, slots=True)
class CurrencyTotal:
    """A currency's total debits and credits over every account (always equal)."""

    currency: str
    debits: Money
    credits: Money

    def to_dict(self) -> dict[str, str]:
        return {
            "currency": self.currency,
            "debits": money_text(self.debits),
            "credits": money_text(self.credits),
        }


@dataclass(frozen=True, slots=True)
class TrialBalance:
    """Debits and credits per currency and per account."""

    currencies: tuple[CurrencyTotal, ...]
    accounts: tuple[Balance, ...]

    @property
    def balanced(self) -> bool:
        """True when debits equal credits in every currency (the ledger guarantees it)."""
        return all(c.debits == c.credits for c in self.currencies)

    def to_dict(self) -> dict[str, Any]:
        """The object of ``wmc report trial-balance --format json``."""
        return {
            "currencies": [c.to_dict() for c in self.currencies],
            "accounts": [a.to_dict() for a in self.accounts],
        }


@dataclass(frozen=True, slots=True)
class Rejection:
    """An instruction of a batch that was not posted, with its line, code and reason."""

    instruction_id: str
    line: int
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"instruction_id": self.instruction_id, "line": self.line, "code": self.code,
                "message": self.message}


@dataclass(frozen=True, slots=True)
class Duplicate:
    """An instruction of a batch counted as a ``duplicate`` (its id was judged before with the
    same content), and what it duplicates: ``duplicate_of`` ``posted`` (in ``batch_id``;
    ``None`` when posted outside any batch) or ``rejected`` (in ``batch_id``, with ``code``,
    which stands)."""

    instruction_id: str
    line: int
    duplicate_of: str
    batch_id: str | None
    code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"instruction_id": self.instruction_id, "line": self.line,
                "duplicate_of": self.duplicate_of, "batch_id": self.batch_id,
                "code": self.code}


@dataclass(frozen=True, slots=True)
class Position:
    """A bank's multilateral net in one currency over a batch: + it receives, - it pays."""

    bank_id: str
    net: Money

    def to_dict(self) -> dict[str, str]:
        return {"bank_id": self.bank_id, "currency": self.net.currency.code,
                "net": money_text(self.net)}


@dataclass(frozen=True, slots=True)
class Obligation:
    """``payer`` owes ``payee`` the net ``amount`` on ``value_date`` (bilateral netting)."""

    payer: str
    payee: str
    amount: Money
    value_date: dt.date

    def to_dict(self) -> dict[str, str]:
        return {"payer": self.payer, "payee": self.payee, "currency": self.amount.currency.code,
                "amount": money_text(self.amount), "value_date": self.value_date.isoformat()}


@dataclass(frozen=True, slots=True)
class GrossPayment:
    """An accepted remittance or repatriation: settled on its own, never netted."""

    instruction_id: str
    payer: str
    payee: str
    amount: Money
    value_date: dt.date

    def to_dict(self) -> dict[str, str]:
        return {"instruction_id": self.instruction_id, "payer": self.payer, "payee": self.payee,
                "currency": self.amount.currency.code, "amount": money_text(self.amount),
                "value_date": self.value_date.isoformat()}


@dataclass(frozen=True, slots=True)
class MovedDate:
    """A leg whose value date moved to the next business day (``holiday`` or ``cutoff``)."""

    instruction_id: str
    market: str
    requested: dt.date
    value_date: dt.date
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"instruction_id": self.instruction_id, "market": self.market,
                "requested": self.requested.isoformat(),
                "value_date": self.value_date.isoformat(), "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Batch:
    """A settled batch: counts, rejections, net positions, obligations and gross payments.

    ``to_json()`` is byte for byte what ``wmc settle run --format json`` prints; with an
    injected clock the same scenario gives the same bytes on every run. A batch read back with
    :meth:`~wmc_ledger.Ledger.batch` has no ``moved_dates`` (they are not stored).
    """

    batch_id: str
    file_sha256: str
    instructions: int
    accepted: int
    rejected: int
    duplicates: int
    rejections: tuple[Rejection, ...] = ()
    positions: tuple[Position, ...] = ()
    obligations: tuple[Obligation, ...] = ()
    gross_payments: tuple[GrossPayment, ...] = ()
    moved_dates: tuple[MovedDate, ...] = ()
    duplicates_detail: tuple[Duplicate, ...] = ()
    committed: bool = True

    @property
    def status(self) -> str:
        """``committed``, or ``rolled_back`` (an ``atomic`` batch with rejections: the batch
        does not exist, and ``to_dict`` gives no ``batch_id``)."""
        return "committed" if self.committed else "rolled_back"

    @property
    def codes(self) -> dict[str, str]:
        """instruction id -> rejection code, for the rejected instructions."""
        return {r.instruction_id: r.code for r in self.rejections}

    def position(self, bank_id: str, currency: str) -> Money:
        """``bank_id``'s net in ``currency`` (zero when it had no nettable flow in it)."""
        for p in self.positions:
            if p.bank_id == bank_id and p.net.currency.code == currency:
                return p.net
        return to_money(0, currency)

    def obligation(self, payer: str, payee: str, currency: str) -> Money:
        """What ``payer`` owes ``payee`` net in ``currency``, over every value date (zero when
        nothing; the netting puts each pair's net on one side only)."""
        total = to_money(0, currency)
        for o in self.obligations:
            if (o.payer, o.payee, o.amount.currency.code) == (payer, payee, currency):
                total += o.amount
        return total

    def to_dict(self) -> dict[str, Any]:
        """The object of ``wmc settle run --format json``."""
        return {
            "batch_id": self.batch_id if self.committed else None,
            "status": self.status,
            "file_sha256": self.file_sha256,
            "instructions": self.instructions,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "duplicates_detail": [d.to_dict() for d in self.duplicates_detail],
            "rejections": [r.to_dict() for r in self.rejections],
            "positions": [p.to_dict() for p in self.positions],
            "obligations": [o.to_dict() for o in self.obligations],
            "gross_payments": [g.to_dict() for g in self.gross_payments],
            "moved_dates": [m.to_dict() for m in self.moved_dates],
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as the CLI prints it (two-space indent, UTF-8 text, newline)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"


@dataclass(frozen=True, slots=True)
class InvestorQuota:
    """One investor's net quota usage on one channel, in CNY."""

    investor_id: str
    direction: str
    channel: str
    remitted_out: Money
    remitted_back: Money
    used: Money
    remaining: Money

    def to_dict(self) -> dict[str, str]:
        return {"investor_id": self.investor_id, "direction": self.direction,
                "channel": self.channel, "remitted_out": money_text(self.remitted_out),
                "remitted_back": money_text(self.remitted_back), "used": money_text(self.used),
                "remaining": money_text(self.remaining)}


@dataclass(frozen=True, slots=True)
class AggregateQuota:
    """The aggregate quota of one direction (shared by Hong Kong and Macau), in CNY."""

    direction: str
    used: Money
    remaining: Money

    def to_dict(self) -> dict[str, str]:
        return {"direction": self.direction, "used": money_text(self.used),
                "remaining": money_text(self.remaining)}


@dataclass(frozen=True, slots=True)
class QuotaReport:
    """Quota usage per investor and channel, and per direction."""

    investors: tuple[InvestorQuota, ...]
    aggregate: tuple[AggregateQuota, ...]

    def investor(self, investor_id: str, channel: str = "bank") -> InvestorQuota:
        """The row of ``investor_id`` on ``channel``; ``KeyError`` if there is none."""
        for row in self.investors:
            if row.investor_id == investor_id and row.channel == channel:
                return row
        raise KeyError(f"no quota row for investor {investor_id!r} on channel {channel!r}")

    def direction(self, direction: str) -> AggregateQuota:
        """The aggregate row of ``direction`` (``southbound`` or ``northbound``)."""
        for row in self.aggregate:
            if row.direction == direction:
                return row
        raise KeyError(f"no aggregate quota row for {direction!r}")

    def to_dict(self) -> dict[str, Any]:
        """The object of ``wmc report quota --format json``."""
        return {"investors": [r.to_dict() for r in self.investors],
                "aggregate": [r.to_dict() for r in self.aggregate]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuotaReport:
        """Back from :meth:`to_dict`'s shape (amounts as CNY text)."""
        return cls(
            tuple(
                InvestorQuota(
                    r["investor_id"], r["direction"], r["channel"],
                    *(_money_of_text(r[k], "CNY") for k in ("remitted_out", "remitted_back",
                                                            "used", "remaining")),
                )
                for r in data["investors"]
            ),
            tuple(
                AggregateQuota(r["direction"], _money_of_text(r["used"], "CNY"),
                               _money_of_text(r["remaining"], "CNY"))
                for r in data["aggregate"]
            ),
        )


@dataclass(frozen=True, slots=True)
class Break:
    """One difference between a statement and the ledger, with its signed share of the
    difference (the breaks' amounts sum to ledger closing minus statement closing)."""

    type: str
    amount: Money
    statement_ref: str | None
    ledger_ref: str | None
    value_date: dt.date
    end_to_end_id: str | None = None
    ledger_entry_id: str | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "amount": money_text(self.amount),
                "currency": self.amount.currency.code, "statement_ref": self.statement_ref,
                "ledger_ref": self.ledger_ref, "value_date": self.value_date.isoformat()}


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """A statement matched against one ledger account.

    ``matched`` counts entries matched with no break; ``reconciled`` is true when there is no
    break at all. Closings are the ledger's (on the account's normal side) and the statement's.
    """

    account: str
    currency: str
    matched: int
    breaks: tuple[Break, ...]
    ledger_opening: Money
    statement_opening: Money
    ledger_closing: Money
    statement_closing: Money
    statement_account: str = ""
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    #: The statement's kind (``camt.053``, ``mt940``, ...) and id (``Stmt/Id``, ``:20:``).
    statement_format: str = ""
    statement_id: str = ""
    #: What the reader accepted with a remark, as ``FILE:LINE: field 'F': note``.
    warnings: tuple[str, ...] = ()

    @property
    def difference(self) -> Money:
        """Ledger closing minus statement closing: the sum of the breaks' amounts."""
        return self.ledger_closing - self.statement_closing

    @property
    def reconciled(self) -> bool:
        """True when there is no break."""
        return not self.breaks

    @property
    def break_types(self) -> list[str]:
        """The breaks' types, in order."""
        return [b.type for b in self.breaks]

    def to_dict(self) -> dict[str, Any]:
        """The object of ``wmc reconcile --format json``."""
        return {
            "account": self.account,
            "matched": self.matched,
            "breaks": [b.to_dict() for b in self.breaks],
            "ledger_closing": money_text(self.ledger_closing),
            "statement_closing": money_text(self.statement_closing),
            "difference": money_text(self.difference),
            "statement_account": self.statement_account,
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "period_end": self.period_end.isoformat() if self.period_end else None,
            "ledger_opening": money_text(self.ledger_opening),
            "statement_opening": money_text(self.statement_opening),
            "statement_format": self.statement_format,
            "statement_id": self.statement_id,
            "warnings": list(self.warnings),
        }


__all__ = [
    "AggregateQuota", "AuditResult", "Balance", "Batch", "Break", "ConversionResult",
    "CurrencyTotal", "Entry", "GrossPayment", "Instruction", "InvestorQuota", "LoadResult",
    "MovedDate", "Obligation", "Position", "PostResult", "QuotaReport", "Reconciliation",
    "Rejection", "Transfer", "TrialBalance", "minor_units", "money_text",
]


# -- the journal, registers and batches (back office) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class JournalTransfer:
    """One posted transfer of a :class:`JournalEntry`."""

    transfer_id: int
    debit: str
    credit: str
    amount: Money
    value_date: dt.date
    reference: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"transfer_id": self.transfer_id, "debit_account": self.debit,
                "credit_account": self.credit, "amount": money_text(self.amount),
                "currency": self.amount.currency.code,
                "value_date": self.value_date.isoformat(), "reference": self.reference}


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A posted entry, whole: ``seq`` is its place in posting order, ``reverses`` the id of the
    entry it reverses, ``batch_id`` the batch that posted it (``None`` for a direct post)."""

    seq: int
    entry_id: str
    kind: str
    value_date: dt.date
    batch_id: str | None
    reverses: str | None
    posted_at: str
    transfers: tuple[JournalTransfer, ...]

    def to_dict(self) -> dict[str, Any]:
        """An element of ``wmc entries --format json``'s ``entries``."""
        return {"seq": self.seq, "entry_id": self.entry_id, "kind": self.kind,
                "value_date": self.value_date.isoformat(), "batch_id": self.batch_id,
                "reverses": self.reverses, "posted_at": self.posted_at,
                "transfers": [t.to_dict() for t in self.transfers]}


@dataclass(frozen=True, slots=True)
class JournalPage:
    """A page of :meth:`~wmc_ledger.Ledger.entries`; pass ``next_after`` as ``after`` for the
    next one (``None``: this page is the last)."""

    entries: tuple[JournalEntry, ...]
    next_after: str | None

    def to_dict(self) -> dict[str, Any]:
        """The object of ``wmc entries --format json``."""
        return {"entries": [e.to_dict() for e in self.entries], "next_after": self.next_after}


@dataclass(frozen=True, slots=True)
class RegisterLine:
    """One transfer on a register's account: ``debit`` or ``credit`` is its amount (the other
    is zero), ``balance`` the running balance on the account's normal side after it."""

    value_date: dt.date
    entry_id: str
    kind: str
    transfer_id: int
    counterparty: str
    debit: Money
    credit: Money
    balance: Money
    reference: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"value_date": self.value_date.isoformat(), "entry_id": self.entry_id,
                "kind": self.kind, "transfer_id": self.transfer_id,
                "counterparty": self.counterparty, "debit": money_text(self.debit),
                "credit": money_text(self.credit), "balance": money_text(self.balance),
                "reference": self.reference}


@dataclass(frozen=True, slots=True)
class Register:
    """An account's transfers over a value-date window with running balances: ``closing`` is
    ``opening`` plus the lines, and equals the account's balance as of ``date_to``."""

    account: str
    bank_id: str
    currency: str
    type: str
    date_from: dt.date | None
    date_to: dt.date | None
    opening: Money
    closing: Money
    lines: tuple[RegisterLine, ...]

    def to_dict(self) -> dict[str, Any]:
        """The object of ``wmc register ACCOUNT --format json``."""
        return {"account": self.account, "bank_id": self.bank_id, "currency": self.currency,
                "type": self.type,
                "from": None if self.date_from is None else self.date_from.isoformat(),
                "to": None if self.date_to is None else self.date_to.isoformat(),
                "opening": money_text(self.opening), "closing": money_text(self.closing),
                "lines": [line.to_dict() for line in self.lines]}


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """A stored batch in ``wmc settle list``: its file, counts and ``state``: ``settled``,
    ``reverted`` (``reversed_by`` names the batch that reverts it) or ``reversal`` (it reverts
    ``reverses``)."""

    batch_id: str
    file_name: str
    file_sha256: str
    committed_at: str
    instructions: int
    accepted: int
    rejected: int
    duplicates: int
    state: str
    reverses: str | None = None
    reversed_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A row of ``wmc settle list --format json``."""
        return {"batch_id": self.batch_id, "file": self.file_name,
                "file_sha256": self.file_sha256, "posted_at": self.committed_at,
                "instructions": self.instructions, "accepted": self.accepted,
                "rejected": self.rejected, "duplicates": self.duplicates, "state": self.state,
                "reverses": self.reverses, "reversed_by": self.reversed_by}


@dataclass(frozen=True, slots=True)
class TranslatedBalance:
    """An account's balance and its value in a reporting currency at a closing mid: ``rate``
    is the exact mid (reporting units per 1 unit of the account's currency), ``rate_text`` it
    in decimals for people, ``converted`` the balance at it, rounded once."""

    balance: Balance
    rate: Fraction
    converted: Money

    @property
    def rate_text(self) -> str:
        """The rate as decimal text: exact up to 20 decimals, else rounded half-even there."""
        return fraction_text(self.rate, 20) if self.rate else "0"

    def to_dict(self) -> dict[str, str]:
        """A row of ``wmc report balances --in R --at-rate-of D --format json``."""
        return {**self.balance.to_dict(), "rate": self.rate_text,
                "rate_exact": f"{self.rate.numerator}/{self.rate.denominator}",
                "in_currency": self.converted.currency.code,
                "converted": money_text(self.converted)}


@dataclass(frozen=True, slots=True)
class RevertResult:
    """The outcome of reverting a batch: ``code`` ``ok`` (``reversal`` is the new batch),
    ``duplicate`` (reverted before: ``reversal`` is that batch) or a refusal's code
    (``later_batch_depends``, ``entry_already_reversed``, ``is_a_reversal``, ...; nothing was
    written)."""

    batch_id: str
    code: str
    message: str
    reversal: Batch | None = None

    @property
    def ok(self) -> bool:
        """True when the batch was reverted now."""
        return self.code == "ok"

    def to_dict(self) -> dict[str, Any]:
        """The object of ``wmc settle revert --format json``."""
        return {"batch_id": self.batch_id, "code": self.code, "message": self.message,
                "reversal": None if self.reversal is None else self.reversal.to_dict()}
