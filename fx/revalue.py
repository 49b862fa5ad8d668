"""Revaluation of each bank's FX positions at a period end (``wmc fx revalue --as-of DATE``).

**What is valued.** A bank's *exposure* in currency C is the credit balance (credits - debits)
of its ``{bank}:FX_POSITION:{C}`` account, counting transfers whose value date is on or before
``as_of``: buying CNY from a customer credits the CNY position (see :mod:`fx.booking`). Each
exposure is valued in the reporting currency R at the book's **closing mid**: the mid of the
rate C -> R resolved as for a conversion (direct, inverse, or crossed through HKD then USD, the
MOP/HKD peg included) from the latest quotes at or before the end of ``as_of`` (23:59:59.999999,
UTC+8), each leg within the staleness limit. The value is rounded **half-even, once per line**.
The exposure in R itself is a line too, valued at 1: it is what makes the lines add up to a
result (a CNY -> MOP conversion leaves +CNY and -MOP exposures whose values cancel at an
unchanged rate).

**The booking.** Per bank and currency C, the change of the value since the bank's last
revaluation into R (any book; 0 before the first) is one entry, ``kind`` ``fx_revaluation``,
value date ``as_of``, id ``REVAL:{book}:{as_of}:{bank}:{C}``, in R::

    change > 0:  {bank}:FX_POSITION_REVALUED:{R}  ->  {bank}:FX_REVALUATION:{R}   change
    change < 0:  {bank}:FX_REVALUATION:{R}        ->  {bank}:FX_POSITION_REVALUED:{R}  -change

(debit -> credit; both accounts are opened on first use, with overdraft.) So after a
revaluation ``FX_POSITION_REVALUED:R`` holds the value, at the closing mids, of all the bank's
FX positions, which offsets them exactly (up to each line's rounding) when the position
accounts are translated into R at the same rates; and ``FX_REVALUATION:R``, an income account,
holds the mark-to-market result of the bank's FX book at mid: positions are booked at the mid of
their deal (the spread is already in ``FX_INCOME``), so this is everything the positions have
gained or lost since, realised or not. A line whose change is zero posts nothing.

**Signs.** Inside, ``RevaluationLine.position`` is the exposure (credits - debits: positive
when the bank is long C). The report (:meth:`RevalueResult.to_dict`, ``wmc fx revalue``) shows
each signed figure as ``wmc report balances`` shows the account it comes from, so that the two
agree: ``position`` is ``{bank}:FX_POSITION:{C}``'s balance on its normal (debit) side, hence
negative for a long position (buying C credits the account); ``value`` and ``previous`` are the
line's share of ``FX_POSITION_REVALUED:{R}`` (debit side: positive for a long position), and
``amount`` their change, ``FX_REVALUATION:{R}``'s (income: positive is a gain).

**Guarantees.**

- Idempotent per (date, book): every line is recorded in ``fx_revaluations`` (position, the
  exact mid as ``n/d``, value, previous value, entry id) in the same transaction as its entry.
  Running the same date and book again posts nothing and returns the recorded lines
  (``already_done``); if the positions or rates have changed since, it is a
  :class:`~ledger.errors.ConflictError` naming the first line that differs.
- Dates go forward: a date before the latest revaluation into R (any book) is refused.
- A missing or stale closing rate for a currency with an exposure raises
  :class:`~fx.quotes.NoRate` / :class:`~fx.quotes.StaleRate`; nothing is posted.
- Everything happens in the caller's transaction; nothing is committed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from fractions import Fraction
from typing import Any, Final

from sqlalchemy import Connection, Row, func, insert, select

from fx.book import DEFAULT_PEG, BookRates, NextBusinessDay, Peg, RateBook
from fx.booking import (
    LOCAL_TIME,
    POSITION,
    REVALUATION,
    REVALUATION_ROLES,
    REVALUED,
    fx_account,
    open_fx_accounts,
)
from fx.conversion import Rounding, round_minor
from fx.quotes import DEFAULT_BOOK, fraction_text
from fx.schema import RevaluationRow
from ledger.entries import EntrySpec, TransferSpec
from ledger.errors import ConflictError, LedgerError
from ledger.money import currency, format_amount
from ledger.posting import DUPLICATE, OK, Result, post_entries
from ledger.records import record_rows
from ledger.reports import balances

REVALUE_KIND: Final = "fx_revaluation"


@dataclass(frozen=True, slots=True)
class RevaluationLine:
    """One bank's exposure in one currency, valued in the reporting currency at a close."""

    bank_id: str
    currency: str
    #: credits - debits of ``{bank}:FX_POSITION:{currency}``, minor units of ``currency``.
    position: int
    #: The closing mid, reporting units per 1 ``currency``; ``None`` when not needed (no
    #: exposure left to value).
    rate: Fraction | None
    #: ``position`` at ``rate``, minor units of the reporting currency, rounded half-even.
    value: int
    #: The value carried by this bank's previous revaluation of ``currency``.
    previous: int
    #: The entry that posted ``amount``; ``None`` when ``amount`` is zero.
    entry_id: str | None

    @property
    def amount(self) -> int:
        """What this line posts: ``value - previous`` (positive: a gain)."""
        return self.value - self.previous


@dataclass(frozen=True, slots=True)
class RevalueResult:
    as_of: date
    book: str
    reporting_currency: str
    lines: tuple[RevaluationLine, ...]
    #: Entries posted by this call (0 when the date and book had been revalued already).
    posted: int
    already_done: bool

    @property
    def total(self) -> int:
        """The revaluation result of the period, minor units of the reporting currency."""
        return sum(line.amount for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        r = self.reporting_currency
        return {
            "as_of": self.as_of.isoformat(),
            "book": self.book,
            "reporting_currency": r,
            "posted": self.posted,
            "already_done": self.already_done,
            "total": format_amount(self.total, r),
            "lines": [
                {
                    "bank_id": line.bank_id,
                    "currency": line.currency,
                    # As `wmc report balances` shows FX_POSITION:C (debit-normal): see
                    # "Signs" in the module docstring.
                    "position": format_amount(-line.position, line.currency),
                    "rate": _rate_display(line.rate),
                    "value": format_amount(line.value, r),
                    "previous": format_amount(line.previous, r),
                    "amount": format_amount(line.amount, r),
                    "entry_id": line.entry_id,
                }
                for line in self.lines
            ],
        }


def _rate_display(rate: Fraction | None) -> str:
    """``rate`` as decimal text for people: exact up to 20 decimals, else half-even."""
    return "" if rate is None else fraction_text(rate, 20)


def closing_time(as_of: date) -> datetime:
    """The end of ``as_of`` in UTC+8: the instant whose latest quotes are the closing rates."""
    return datetime.combine(as_of, time.max, tzinfo=LOCAL_TIME)


def entry_id(book: str, as_of: date, bank_id: str, code: str) -> str:
    return f"REVAL:{book}:{as_of.isoformat()}:{bank_id}:{code}"


def revalue(
    conn: Connection,
    *,
    as_of: date,
    book: str = DEFAULT_BOOK,
    reporting_currency: str = "MOP",
    posted_at: str,
    rates: RateBook | None = None,
    staleness_business_days: int = 1,
    next_business_day: NextBusinessDay | None = None,
    peg: Peg | None = DEFAULT_PEG,
    batch_id: str | None = None,
) -> RevalueResult:
    """Revalue every bank's FX positions on ``as_of`` with ``book``'s closing mids, into
    ``reporting_currency``, and post the changes (see the module docstring)."""
    r = currency(reporting_currency).code
    if not book or book != book.strip():
        raise LedgerError(f"expected a rate book name without surrounding spaces, got {book!r}")
    stored = _stored_lines(conn, book, as_of)
    if not stored:
        latest = conn.execute(
            select(func.max(RevaluationRow.as_of)).where(RevaluationRow.reporting_currency == r)
        ).scalar()
        if latest is not None and latest > as_of:
            raise ConflictError(
                f"revaluation into {r} for {as_of} refused: one for {latest} exists already "
                "(revaluations go forward in time)"
            )
    # On a second run, what was carried before the first one.
    carried = _carried(conn, r, before=min((row.id for row in stored), default=None))
    lines = _value_lines(
        conn, as_of=as_of, book=book, reporting=r, carried=carried,
        view=(rates if rates is not None else RateBook.load(conn, [book])).view(
            book, staleness_business_days=staleness_business_days,
            next_business_day=next_business_day, peg=peg,
        ),
    )
    if stored:
        return _confirm(stored, lines, as_of=as_of, book=book, reporting=r)
    entries = []
    for line in lines:
        if line.entry_id is None:
            continue
        revalued, result = fx_account(line.bank_id, REVALUED, r), fx_account(
            line.bank_id, REVALUATION, r
        )
        amount = line.amount
        transfer = (
            TransferSpec(revalued, result, amount, r)
            if amount > 0
            else TransferSpec(result, revalued, -amount, r)
        )
        entries.append(EntrySpec(line.entry_id, REVALUE_KIND, as_of, (transfer,), {
            "fx_book": book,
            "fx_as_of": as_of.isoformat(),
            "fx_bank": line.bank_id,
            "fx_currency": line.currency,
            "fx_reporting_currency": r,
            "fx_position": format_amount(line.position, line.currency),
            "fx_mid": _rate_display(line.rate),
            "fx_mid_exact": str(line.rate) if line.rate is not None else "",
            "fx_value": format_amount(line.value, r),
            "fx_previous": format_amount(line.previous, r),
        }))
    if entries:
        open_fx_accounts(
            conn, sorted({line.bank_id for line in lines if line.entry_id}), [r],
            roles=REVALUATION_ROLES,
        )
    results = post_entries(conn, entries, posted_at=posted_at, batch_id=batch_id)
    _raise_rejections(results)
    if lines:
        rows = [
            {
                "book": book, "as_of": as_of, "bank_id": line.bank_id,
                "currency": line.currency, "reporting_currency": r,
                "position": line.position,
                "rate": str(line.rate) if line.rate is not None else "",
                "value": line.value, "previous": line.previous, "amount": line.amount,
                "entry_id": line.entry_id, "posted_at": posted_at,
            }
            for line in lines
        ]
        conn.execute(insert(RevaluationRow), rows)
        record_rows(conn, "fx_revaluations", rows)
    posted = sum(1 for res in results if res.code == OK)
    return RevalueResult(as_of, book, r, tuple(lines), posted, False)


def _raise_rejections(results: list[Result]) -> None:
    bad = [res for res in results if res.code not in (OK, DUPLICATE)]
    if not bad:
        return
    first = bad[0]
    message = f"revaluation entry {first.entry_id} rejected: {first.code} {first.message}"
    if first.code == "exists_with_different_content":
        raise ConflictError(message)
    raise LedgerError(message)


def _stored_lines(conn: Connection, book: str, as_of: date) -> list[Row[Any]]:
    t = RevaluationRow.__table__.c
    stmt = select(RevaluationRow.__table__).where(t.book == book, t.as_of == as_of)
    return list(conn.execute(stmt.order_by(t.bank_id, t.currency)))


def _carried(
    conn: Connection, reporting: str, *, before: int | None
) -> dict[tuple[str, str], int]:
    """(bank, currency) -> the value of its latest revaluation into ``reporting`` (recorded
    before row id ``before``, if given)."""
    t = RevaluationRow.__table__.c
    cond = t.reporting_currency == reporting
    if before is not None:
        cond = cond & (t.id < before)
    latest = select(func.max(t.id)).where(cond).group_by(t.bank_id, t.currency).scalar_subquery()
    return {
        (row.bank_id, row.currency): int(row.value)
        for row in conn.execute(select(t.bank_id, t.currency, t.value).where(t.id.in_(latest)))
    }


def _value_lines(
    conn: Connection,
    *,
    as_of: date,
    book: str,
    reporting: str,
    carried: dict[tuple[str, str], int],
    view: BookRates,
) -> list[RevaluationLine]:
    at = closing_time(as_of)
    r_scale = currency(reporting).scale
    positions: dict[tuple[str, str], int] = {}
    for row in balances(conn, as_of=as_of):
        if row.account == fx_account(row.bank_id, POSITION, row.currency):
            positions[(row.bank_id, row.currency)] = row.credits - row.debits
    lines = []
    for key in sorted(positions.keys() | carried.keys()):
        bank, code = key
        position = positions.get(key, 0)
        previous = carried.get(key, 0)
        if position == 0 and previous == 0:
            continue
        rate: Fraction | None
        if code == reporting:
            rate, value = Fraction(1), position
        elif position == 0:
            rate, value = None, 0
        else:
            rate = view.rate_for(code, reporting, at).mid_factor
            exact = Fraction(position * r_scale, currency(code).scale) * rate
            value = round_minor(exact, Rounding.HALF_EVEN)
        eid = entry_id(book, as_of, bank, code) if value != previous else None
        lines.append(RevaluationLine(bank, code, position, rate, value, previous, eid))
    return lines


def _confirm(
    stored: list[Row[Any]],
    lines: list[RevaluationLine],
    *,
    as_of: date,
    book: str,
    reporting: str,
) -> RevalueResult:
    """The second run of a (date, book): the same valuation is a no-op, another a conflict."""
    recorded = {
        (row.bank_id, row.currency): RevaluationLine(
            row.bank_id, row.currency, int(row.position),
            Fraction(row.rate) if row.rate else None, int(row.value), int(row.previous),
            row.entry_id,
        )
        for row in stored
    }
    for row in stored:
        if row.reporting_currency != reporting:
            raise ConflictError(
                f"{book} was revalued on {as_of} into {row.reporting_currency}, not {reporting}"
            )
    now = {(line.bank_id, line.currency): line for line in lines}
    for key in sorted(recorded.keys() | now.keys()):
        old, new = recorded.get(key), now.get(key)
        same = (
            old is not None and new is not None
            and (old.position, old.rate, old.value) == (new.position, new.rate, new.value)
        )
        if not same:
            def show(line: RevaluationLine | None) -> str:
                if line is None:
                    return "no line"
                return (
                    f"position {format_amount(line.position, line.currency)} {line.currency} "
                    f"at {_rate_display(line.rate) or '-'} = "
                    f"{format_amount(line.value, reporting)} {reporting}"
                )

            raise ConflictError(
                f"revaluation {book} {as_of} of {key[0]} {key[1]} exists with different "
                f"content: recorded {show(old)}, now {show(new)}"
            )
    return RevalueResult(
        as_of, book, reporting, tuple(recorded[k] for k in sorted(recorded)), 0, True
    )
