"""Reconciliation: matching a bank statement against the ledger's lines of the same account.

What this module guarantees:

* The breaks explain the whole difference: ``sum(break.amount) == ledger_closing -
  statement_closing`` for every :class:`Reconciliation` (its constructor refuses anything else).
  Each break's ``amount`` is its signed share of that difference, in minor units:

  ====================  ============================================================
  break                 share (ledger minus statement)
  ====================  ============================================================
  missing_in_statement  ``+ ledger amount`` (a ledger credit the bank lacks is ``+``)
  missing_in_ledger     ``- statement amount`` (a ``-150.00`` bank fee gives ``+150.00``)
  amount_mismatch       ``ledger amount - statement amount``
  date_mismatch         ``0``
  duplicate             ledger side ``+ ledger amount``; statement side ``- statement amount``
  reversal              ledger side ``+ ledger amount``; statement side ``- statement amount``
  opening_difference    ``ledger_opening - statement opening``
  ====================  ============================================================

* The result is deterministic: it depends neither on the order of the ledger lines given nor on
  the format the statement came in (camt.053 and MT940 of the same day give equal results).
* Pure: no database, no I/O, no logging; amounts are ``int`` minor units throughout.

A batch booking (a statement entry with :attr:`~settlement.statements.StatementEntry.details`)
is matched as its payments: each detail is an entry of its own (its amount, its end-to-end id,
its bank reference or the entry's), so each is matched, or breaks, on its own; the details add up
to the entry, so the balances are unchanged. A statement without opening and closing balances
(camt.054, an MT942) cannot be reconciled and is refused, named as what it is.

How entries are matched, in order:

1. **Reversal pairs on the statement.** A statement entry with ``reversal=True`` cancels the
   earliest earlier, not yet cancelled entry with the same end-to-end id and the opposite amount.
   Such a pair nets to zero on the statement. Against the ledger lines of that reference:

   * the ledger has both the original amount and its reversal: two matches (with a
     ``date_mismatch`` where a value date differs);
   * the ledger has only the original amount: one ``reversal`` break, share ``+`` that ledger
     amount (the ledger still counts money the bank gave back), refs of the reversal entry;
   * the ledger has neither: the pair nets out against the ledger, no break (and no match).

   A reversal entry whose original is not on this statement is an ordinary entry: matched if the
   ledger booked the reversal too, else a ``reversal`` break with share ``-`` its amount.
2. **By reference.** A statement entry's end-to-end id equal to a ledger line's ``reference``.
   Within one reference: equal amount and value date match; then equal amount with another value
   date (nearest first) is a ``date_mismatch``, whatever the distance; then the rest pair up,
   nearest amount first, as ``amount_mismatch`` (a reversal is never paired with the exact
   opposite amount: that is the original it reverses, not a mismatch). What is left of a
   reference the other side also has is a ``duplicate`` (the same reference once too often), a
   ``reversal`` if it is a reversal entry, else ``missing_in_*``.
3. **By amount and date.** A statement entry *without* end-to-end id (bank fees, interest,
   ``NONREF``) matches a remaining ledger line of the same amount whose value date is within
   ``date_tolerance_days``, nearest date first; a different date within the window is a
   ``date_mismatch``. An entry that carries an end-to-end id the ledger does not know is never
   matched by amount: its reference says it is another payment, and a silent match would hide it.
4. **What is left.** A ledger line is a ``duplicate`` when another ledger line of the same amount
   and value date was matched and the ledger has more such lines than the statement (a retry
   posted under another reference), else ``missing_in_statement`` (also a timing difference: the
   bank books it later). A statement entry is a ``reversal`` if it is one; a ``duplicate`` when it
   has no end-to-end id and another entry of the same amount and value date was matched and the
   statement has more such entries than the ledger (charged twice); else ``missing_in_ledger``.

**Openings.** The statement's opening is what the bank says the account held; ``ledger_opening``
is what the ledger says it held at the same point. When they differ, yesterday's unresolved breaks
are being carried forward, and the difference is reported as one ``opening_difference`` break
(dated the statement's opening date, no refs), so the breaks still explain the whole difference
between the closings, as a bank's reconciliation must, and the day's own breaks stay separate.

Which of two is the duplicate: the later one, on the statement in statement order, in the
ledger in (value date, reference, entry id) order, so a retry's later entry id is the one named. A
break carries the refs of the side(s) that have the item: a ledger-side duplicate has no
``statement_ref``, a statement-side duplicate no ``ledger_ref``.

``matched`` counts statement-entry/ledger-line pairs that match with no break.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final, Literal, get_args

from ledger.errors import AmountError, InputError, IntegrityError
from ledger.money import currency, format_amount
from settlement.statements import Statement, StatementEntry

BreakType = Literal[
    "opening_difference",
    "missing_in_ledger",
    "missing_in_statement",
    "amount_mismatch",
    "date_mismatch",
    "duplicate",
    "reversal",
]

#: Every break type, in the order breaks of one value date are listed.
BREAK_TYPES: Final[tuple[BreakType, ...]] = get_args(BreakType)
_TYPE_ORDER: Final = {t: i for i, t in enumerate(BREAK_TYPES)}


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """One ledger posting to the reconciled account, signed in the statement's sense.

    ``amount`` is ``+`` where the statement would show a credit and ``-`` for a debit; the caller
    turns the account's normal side into that sense.
    """

    amount: int
    currency: str
    value_date: date
    reference: str
    entry_id: str
    kind: str = "transfer"

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise AmountError(
                f"ledger line {self.entry_id}: expected an int of minor units, "
                f"got {type(self.amount).__name__}"
            )
        currency(self.currency)


@dataclass(frozen=True, slots=True)
class Break:
    """One difference between statement and ledger, with its signed share of the difference.

    ``statement_ref`` is the statement entry's bank reference, ``ledger_ref`` the ledger line's
    reference; either is ``None`` when that side has no item. ``end_to_end_id``,
    ``ledger_entry_id`` and ``detail`` say more for a report; ``statement_line`` (where the entry
    is in the statement file) is provenance and takes no part in equality.
    """

    type: BreakType
    amount: int
    currency: str
    statement_ref: str | None
    ledger_ref: str | None
    value_date: date
    end_to_end_id: str | None = None
    ledger_entry_id: str | None = None
    detail: str = ""
    statement_line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The result of :func:`reconcile`; its breaks always sum to ``difference``."""

    account: str
    currency: str
    matched: int
    breaks: tuple[Break, ...]
    ledger_opening: int
    statement_opening: int
    ledger_closing: int
    statement_closing: int

    def __post_init__(self) -> None:
        explained = sum(b.amount for b in self.breaks)
        if explained != self.difference:
            raise IntegrityError(
                f"reconciliation of {self.account}: breaks sum to "
                f"{format_amount(explained, self.currency)} but the difference is "
                f"{format_amount(self.difference, self.currency)} {self.currency}"
            )

    @property
    def difference(self) -> int:
        """Ledger closing minus statement closing: the sum of the breaks' amounts."""
        return self.ledger_closing - self.statement_closing

    @property
    def opening_difference(self) -> int:
        """Ledger opening minus statement opening (carried-forward differences)."""
        return self.ledger_opening - self.statement_opening

    @property
    def reconciled(self) -> bool:
        """True when there is no break at all."""
        return not self.breaks


# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Stmt:
    pos: int  # position on the statement: the deterministic order, the same in every format
    entry: StatementEntry


@dataclass(frozen=True, slots=True)
class _Ledg:
    pos: int  # position after sorting by content, so the input order does not matter
    line: LedgerLine


class _Matcher:
    """The mutable working state of one reconciliation; only :func:`reconcile` creates one."""

    def __init__(self, statement: Statement, lines: Sequence[LedgerLine]) -> None:
        self.code = statement.currency
        # A batch booking is matched payment by payment, each on its own end-to-end id.
        parts = [part for e in statement.entries for part in e.parts()]
        self.stmt = [_Stmt(i, e) for i, e in enumerate(parts)]
        ordered = sorted(
            lines, key=lambda x: (x.value_date, x.reference, x.entry_id, x.amount, x.kind)
        )
        self.ledg = [_Ledg(i, x) for i, x in enumerate(ordered)]
        self.by_ref: dict[str, list[_Ledg]] = defaultdict(list)
        for g in self.ledg:
            self.by_ref[g.line.reference].append(g)
        self.free_stmt: set[int] = {s.pos for s in self.stmt}
        self.free_ledg: set[int] = {g.pos for g in self.ledg}
        self.matched_stmt: set[int] = set()  # matched, with or without a break
        self.matched_ledg: set[int] = set()
        self.matched = 0
        self.breaks: list[Break] = []

    # -- recording ------------------------------------------------------------------------

    def pair(self, s: _Stmt, g: _Ledg) -> None:
        """Record a pair; a break if amount or value date differ, else a clean match."""
        self.free_stmt.discard(s.pos)
        self.free_ledg.discard(g.pos)
        self.matched_stmt.add(s.pos)
        self.matched_ledg.add(g.pos)
        e, x = s.entry, g.line
        if e.amount != x.amount:
            self.add(
                "amount_mismatch",
                x.amount - e.amount,
                s,
                g,
                f"ledger {self.fmt(x.amount)}, statement {self.fmt(e.amount)}",
            )
        elif e.value_date != x.value_date:
            self.add(
                "date_mismatch",
                0,
                s,
                g,
                f"ledger value date {x.value_date}, statement {e.value_date}",
            )
        else:
            self.matched += 1

    def add(
        self,
        kind: BreakType,
        amount: int,
        s: _Stmt | None,
        g: _Ledg | None,
        detail: str,
        value_date: date | None = None,
    ) -> None:
        e = s.entry if s is not None else None
        x = g.line if g is not None else None
        when = value_date or (e.value_date if e is not None else None)
        when = when or (x.value_date if x is not None else None)
        if when is None:
            raise IntegrityError("a break needs a statement entry, a ledger line or a date")
        self.breaks.append(
            Break(
                type=kind,
                amount=amount,
                currency=self.code,
                statement_ref=e.bank_ref if e is not None else None,
                ledger_ref=x.reference if x is not None else None,
                value_date=when,
                end_to_end_id=e.end_to_end_id if e is not None else None,
                ledger_entry_id=x.entry_id if x is not None else None,
                detail=detail,
                statement_line=e.line if e is not None else None,
            )
        )

    def fmt(self, amount: int) -> str:
        return f"{format_amount(amount, self.code)} {self.code}"

    # -- step 1: reversal pairs on the statement ------------------------------------------

    def reversal_pairs(self) -> None:
        cancelled: set[int] = set()
        for r in self.stmt:
            e = r.entry
            if not e.reversal or e.end_to_end_id is None or e.amount == 0:
                continue  # a reversal of nothing cancels nothing
            original = next(
                (
                    o
                    for o in self.stmt[: r.pos]
                    if o.pos not in cancelled
                    and not o.entry.reversal
                    and o.entry.end_to_end_id == e.end_to_end_id
                    and o.entry.amount == -e.amount
                ),
                None,
            )
            if original is None:
                continue
            cancelled.update((original.pos, r.pos))
            self.free_stmt.difference_update((original.pos, r.pos))
            ref = e.end_to_end_id
            booked = self.free_lines(ref, -e.amount)
            undone = self.free_lines(ref, e.amount)
            if booked and undone:
                # Both sides booked and reversed it: two clean matches.
                self.pair(original, booked[0])
                self.pair(r, undone[0])
            elif booked:
                g = booked[0]
                self.free_ledg.discard(g.pos)
                self.matched_ledg.add(g.pos)
                self.add(
                    "reversal",
                    g.line.amount,
                    r,
                    g,
                    f"the bank reversed {self.fmt(-e.amount)} (bank ref "
                    f"{original.entry.bank_ref}) that the ledger still holds",
                )
            # Neither: the pair nets out against a ledger that never had it.

    def free_lines(self, reference: str, amount: int) -> list[_Ledg]:
        return [
            g
            for g in self.by_ref.get(reference, ())
            if g.pos in self.free_ledg and g.line.amount == amount
        ]

    # -- step 2: by reference -------------------------------------------------------------

    def by_reference(self) -> None:
        stmt_by_ref: dict[str, list[_Stmt]] = defaultdict(list)
        for s in self.stmt:
            if s.pos in self.free_stmt and s.entry.end_to_end_id is not None:
                stmt_by_ref[s.entry.end_to_end_id].append(s)
        ledg_by_ref: dict[str, list[_Ledg]] = defaultdict(list)
        for g in self.ledg:
            if g.pos in self.free_ledg:
                ledg_by_ref[g.line.reference].append(g)
        for ref in sorted(stmt_by_ref.keys() & ledg_by_ref.keys()):
            self.match_reference(stmt_by_ref[ref], ledg_by_ref[ref])

    def match_reference(self, stmts: list[_Stmt], ledgs: list[_Ledg]) -> None:
        free_s = list(stmts)
        free_g = list(ledgs)

        def take(s: _Stmt, g: _Ledg) -> None:
            free_s.remove(s)
            free_g.remove(g)
            self.pair(s, g)

        for s in list(free_s):  # equal amount and date
            g = next(
                (
                    g
                    for g in free_g
                    if g.line.amount == s.entry.amount and g.line.value_date == s.entry.value_date
                ),
                None,
            )
            if g is not None:
                take(s, g)
        same_amount = [
            (abs((g.line.value_date - s.entry.value_date).days), s.pos, g.pos, s, g)
            for s in free_s
            for g in free_g
            if g.line.amount == s.entry.amount
        ]
        for *_, s, g in sorted(same_amount, key=lambda c: c[:3]):
            if s in free_s and g in free_g:
                take(s, g)
        rest = [
            (
                abs(g.line.amount - s.entry.amount),
                abs((g.line.value_date - s.entry.value_date).days),
                s.pos,
                g.pos,
                s,
                g,
            )
            for s in free_s
            for g in free_g
            if not (s.entry.reversal and g.line.amount == -s.entry.amount)
        ]
        for *_, s, g in sorted(rest, key=lambda c: c[:4]):
            if s in free_s and g in free_g:
                take(s, g)

        some_s_paired = len(free_s) < len(stmts)
        some_g_paired = len(free_g) < len(ledgs)
        for g in free_g:
            self.free_ledg.discard(g.pos)
            if some_g_paired:
                self.add(
                    "duplicate",
                    g.line.amount,
                    None,
                    g,
                    f"reference {g.line.reference} is booked "
                    f"{len(ledgs)} times in the ledger, "
                    f"{len(stmts)} on the statement",
                )
            else:
                self.missing_in_statement(g)
        for s in free_s:
            self.free_stmt.discard(s.pos)
            if s.entry.reversal:
                self.reversal_only_on_statement(s)
            elif some_s_paired:
                self.add(
                    "duplicate",
                    -s.entry.amount,
                    s,
                    None,
                    f"reference {s.entry.end_to_end_id} is booked {len(stmts)} times on the "
                    f"statement, {len(ledgs)} in the ledger",
                )
            else:
                self.missing_in_ledger(s)

    # -- step 3: by amount and date -------------------------------------------------------

    def by_amount(self, tolerance: int) -> None:
        by_amount: dict[int, list[_Ledg]] = defaultdict(list)
        for g in self.ledg:
            if g.pos in self.free_ledg:
                by_amount[g.line.amount].append(g)
        candidates = [
            (abs((g.line.value_date - s.entry.value_date).days), s.pos, g.pos, s, g)
            for s in self.stmt
            if s.pos in self.free_stmt and s.entry.end_to_end_id is None
            for g in by_amount.get(s.entry.amount, ())
            if abs((g.line.value_date - s.entry.value_date).days) <= tolerance
        ]
        for *_, s, g in sorted(candidates, key=lambda c: c[:3]):
            if s.pos in self.free_stmt and g.pos in self.free_ledg:
                self.pair(s, g)

    # -- step 4: what is left -------------------------------------------------------------

    def leftovers(self) -> None:
        stmt_count = Counter((s.entry.amount, s.entry.value_date) for s in self.stmt)
        ledg_count = Counter((g.line.amount, g.line.value_date) for g in self.ledg)
        matched_ledg_keys = {
            (g.line.amount, g.line.value_date) for g in self.ledg if g.pos in self.matched_ledg
        }
        matched_stmt_keys = {
            (s.entry.amount, s.entry.value_date) for s in self.stmt if s.pos in self.matched_stmt
        }
        extra_ledg = {k: n - stmt_count[k] for k, n in ledg_count.items() if n > stmt_count[k]}
        extra_stmt = {k: n - ledg_count[k] for k, n in stmt_count.items() if n > ledg_count[k]}

        # The later lines of a key are the duplicates: walk backwards.
        for g in reversed(self.ledg):
            if g.pos not in self.free_ledg:
                continue
            key = (g.line.amount, g.line.value_date)
            if key in matched_ledg_keys and extra_ledg.get(key, 0) > 0:
                extra_ledg[key] -= 1
                self.add(
                    "duplicate",
                    g.line.amount,
                    None,
                    g,
                    f"the ledger has {ledg_count[key]} lines of {self.fmt(key[0])} on {key[1]}, "
                    f"the statement {stmt_count[key]}",
                )
            else:
                self.missing_in_statement(g)
        self.free_ledg.clear()
        for s in reversed(self.stmt):
            if s.pos not in self.free_stmt:
                continue
            key = (s.entry.amount, s.entry.value_date)
            if s.entry.reversal:
                self.reversal_only_on_statement(s)
            elif (
                s.entry.end_to_end_id is None
                and key in matched_stmt_keys
                and extra_stmt.get(key, 0) > 0
            ):
                extra_stmt[key] -= 1
                self.add(
                    "duplicate",
                    -s.entry.amount,
                    s,
                    None,
                    f"the statement has {stmt_count[key]} entries of {self.fmt(key[0])} on "
                    f"{key[1]}, the ledger {ledg_count[key]}",
                )
            else:
                self.missing_in_ledger(s)
        self.free_stmt.clear()

    def missing_in_statement(self, g: _Ledg) -> None:
        self.add(
            "missing_in_statement",
            g.line.amount,
            None,
            g,
            f"{g.line.kind} {self.fmt(g.line.amount)} not (yet) booked by the bank",
        )

    def missing_in_ledger(self, s: _Stmt) -> None:
        self.add(
            "missing_in_ledger",
            -s.entry.amount,
            s,
            None,
            f"{self.fmt(s.entry.amount)} booked by the bank, not in the ledger"
            + (f": {s.entry.description}" if s.entry.description else ""),
        )

    def reversal_only_on_statement(self, s: _Stmt) -> None:
        self.add(
            "reversal",
            -s.entry.amount,
            s,
            None,
            f"the bank reversed {self.fmt(-s.entry.amount)}; the ledger has no reversal",
        )


def _sort_key(b: Break) -> tuple[date, int, str, str, int, str, str]:
    return (
        b.value_date,
        _TYPE_ORDER[b.type],
        b.statement_ref or "",
        b.ledger_ref or "",
        b.amount,
        b.ledger_entry_id or "",
        b.end_to_end_id or "",
    )


def reconcile(
    statement: Statement,
    ledger_lines: Iterable[LedgerLine],
    ledger_opening: int,
    *,
    date_tolerance_days: int = 2,
) -> Reconciliation:
    """Match ``statement`` against the ledger's lines of the same account and explain the rest.

    ``ledger_lines`` are the account's postings for the statement's period, signed in the
    statement's sense; ``ledger_opening`` is the ledger's balance (same sense) where the statement
    opens. Raises :class:`~ledger.errors.InputError` for a line in another currency.
    """
    lines = list(ledger_lines)
    statement_opening, statement_closing = statement.opening, statement.closing
    if statement_opening is None or statement_closing is None:
        raise InputError(
            f"{statement.source or statement.account}: a {statement.kind_name} without opening "
            "and closing balances cannot be reconciled (it says what was booked, not what the "
            "account holds); reconcile the day's camt.053 or MT940 statement"
        )
    if isinstance(ledger_opening, bool) or not isinstance(ledger_opening, int):
        raise AmountError("ledger_opening: expected an int of minor units")
    if date_tolerance_days < 0:
        raise InputError(f"date_tolerance_days must be 0 or more, got {date_tolerance_days}")
    wrong = sorted({x.currency for x in lines} - {statement.currency})
    if wrong:
        raise InputError(
            f"statement {statement.source or statement.account} is in {statement.currency}; "
            f"ledger lines in {', '.join(wrong)} cannot be reconciled against it"
        )

    m = _Matcher(statement, lines)
    m.reversal_pairs()
    m.by_reference()
    m.by_amount(date_tolerance_days)
    m.leftovers()
    opening_gap = ledger_opening - statement_opening
    if opening_gap:
        m.add(
            "opening_difference",
            opening_gap,
            None,
            None,
            f"ledger opening {m.fmt(ledger_opening)}, statement opening "
            f"{m.fmt(statement_opening)}: differences carried forward",
            value_date=statement.opening_date,
        )
    return Reconciliation(
        account=statement.account,
        currency=statement.currency,
        matched=m.matched,
        breaks=tuple(sorted(m.breaks, key=_sort_key)),
        ledger_opening=ledger_opening,
        statement_opening=statement_opening,
        ledger_closing=ledger_opening + sum(x.amount for x in lines),
        statement_closing=statement_closing,
    )


def reconciliation_to_dict(rec: Reconciliation) -> dict[str, object]:
    """The ``wmc reconcile`` JSON object: amounts as strings with the currency's digits."""
    code = rec.currency
    return {
        "account": rec.account,
        "matched": rec.matched,
        "breaks": [
            {
                "type": b.type,
                "amount": format_amount(b.amount, b.currency),
                "currency": b.currency,
                "statement_ref": b.statement_ref,
                "ledger_ref": b.ledger_ref,
                "value_date": b.value_date.isoformat(),
            }
            for b in rec.breaks
        ],
        "ledger_closing": format_amount(rec.ledger_closing, code),
        "statement_closing": format_amount(rec.statement_closing, code),
        "difference": format_amount(rec.difference, code),
    }
