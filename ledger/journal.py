"""The journal read back: posted entries with their transfers, and an account's register.

Guarantees:

- **Journal.** :func:`entries` returns whole entries (every transfer of an entry, even when only
  one of them matched the filters), ordered by ``seq`` (posting order), oldest or newest first,
  one page at a time. A page's cursor is the id of its last entry; the next page starts strictly
  after it in the same order, so paging never repeats or skips an entry, even while new entries
  are posted (they only ever get higher ``seq`` numbers).
- **Filters.** Entry filters (``entry_id``, ``batch``, ``kind``) apply to the entry; transfer
  filters (``account``, ``bank``, ``reference``, value dates, amounts) select the entries that
  have at least one transfer meeting all of them. A bank matches a transfer whose debit or
  credit account is the bank's. Amounts are compared in each transfer's own minor units.
- **Indexes.** An account or bank filter reads ``ix_transfers_debit_account`` and
  ``ix_transfers_credit_account`` ((account id, entry seq), migration 0008) and never scans the
  transfers table; ``entry_id`` reads the entries' unique id index, a cursor the primary key.
  Without an account or bank filter the page walks entries by primary key and checks each one's
  transfers through ``ix_transfers_entry_seq``, stopping once the page is full.
- **Register.** :func:`register` lists an account's transfers in value-date order (then posting
  order), each with the running balance on the account's normal side; ``opening`` is the
  balance of the value dates before ``date_from`` and ``closing`` is ``opening`` plus the lines:
  equal to :func:`ledger.reports.balances` as of ``date_to`` (or without a date, its running
  totals).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, text

from ledger.entries import normal_balance
from ledger.errors import InputError, NotFound
from ledger.money import CURRENCIES, parse_amount

MAX_LIMIT = 10_000
"""The largest page :func:`entries` returns (a bigger one is refused, not cut short)."""


class Order(StrEnum):
    newest = "newest"
    oldest = "oldest"


@dataclass(frozen=True, slots=True)
class AmountBound:
    """A bound on transfer amounts, per currency code, in that currency's minor units: a
    transfer in a currency the bound does not name never meets it."""

    minor: Mapping[str, int]

    @classmethod
    def of(cls, minor: int, currency: str) -> AmountBound:
        """``minor`` units of ``currency`` (transfers in other currencies are left out)."""
        return cls({currency: minor})

    @classmethod
    def major(cls, value: str) -> AmountBound:
        """Decimal text in major units (``"100.00"``), read in each currency's own digits."""
        per: dict[str, int] = {}
        for code in CURRENCIES:
            try:
                per[code] = parse_amount(value, code)
            except ValueError:
                continue
        if not per:
            raise InputError(f"amount bound: expected a decimal amount like 100.00, "
                             f"got {value!r}")
        return cls(per)


@dataclass(frozen=True, slots=True)
class JournalTransfer:
    id: int
    debit: str
    credit: str
    amount: int
    currency: str
    value_date: dt.date
    reference: str | None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    seq: int
    id: str
    kind: str
    value_date: dt.date
    batch_id: str | None
    reverses: str | None
    posted_at: str
    transfers: tuple[JournalTransfer, ...]


@dataclass(frozen=True, slots=True)
class JournalPage:
    entries: tuple[JournalEntry, ...]
    next_after: str | None  # the cursor of the next page; None when this page is the last


def _date(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _amount_condition(op: str, bound: AmountBound, name: str,
                      params: dict[str, Any]) -> str:
    parts = []
    for i, (code, minor) in enumerate(sorted(bound.minor.items())):
        params[f"{name}_c{i}"] = code
        params[f"{name}_{i}"] = minor
        parts.append(f"(t.currency = :{name}_c{i} AND t.amount {op} :{name}_{i})")
    return "(" + " OR ".join(parts) + ")" if parts else "1 = 0"


def entries(
    conn: Connection,
    *,
    account: str | None = None,
    bank: str | None = None,
    batch: str | None = None,
    entry_id: str | None = None,
    reference: str | None = None,
    kind: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    min_amount: AmountBound | None = None,
    max_amount: AmountBound | None = None,
    limit: int = 100,
    after: str | None = None,
    order: Order = Order.newest,
) -> JournalPage:
    """One page of posted entries meeting every filter given (see the module docstring)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit: expected 1 to {MAX_LIMIT}, got {limit}")
    params: dict[str, Any] = {"limit": limit + 1}
    where: list[str] = []
    newest = Order(order) is Order.newest
    if after is not None:
        cursor = conn.execute(text("SELECT seq FROM entries WHERE id = :id"),
                              {"id": after}).scalar()
        if cursor is None:
            raise NotFound(f"after: entry {after!r} does not exist")
        params["after_seq"] = int(cursor)
        where.append("e.seq < :after_seq" if newest else "e.seq > :after_seq")
    if entry_id is not None:
        params["entry_id"] = entry_id
        where.append("e.id = :entry_id")
    if batch is not None:
        params["batch"] = batch
        where.append("e.batch_id = :batch")
    if kind is not None:
        params["kind"] = kind
        where.append("e.kind = :kind")

    legs: list[str] = []
    if reference is not None:
        params["reference"] = reference
        legs.append("t.reference = :reference")
    if date_from is not None:
        params["date_from"] = date_from
        legs.append("t.value_date >= :date_from")
    if date_to is not None:
        params["date_to"] = date_to
        legs.append("t.value_date <= :date_to")
    if min_amount is not None:
        legs.append(_amount_condition(">=", min_amount, "min_amount", params))
    if max_amount is not None:
        legs.append(_amount_condition("<=", max_amount, "max_amount", params))

    direction = "DESC" if newest else "ASC"
    ids = _account_ids(conn, account, bank)
    if ids is None:
        if legs:
            where.append("EXISTS (SELECT 1 FROM transfers t WHERE t.entry_seq = e.seq AND "
                         + " AND ".join(legs) + ")")
        cond = (" WHERE " + " AND ".join(where)) if where else ""
        seqs = [int(r[0]) for r in conn.execute(text(
            f"SELECT e.seq FROM entries e{cond} ORDER BY e.seq {direction} LIMIT :limit"
        ), params)]
    elif not ids:
        seqs = []
    else:
        for i, account_id in enumerate(ids):
            params[f"a{i}"] = account_id
        inlist = ", ".join(f":a{i}" for i in range(len(ids)))
        cond = "".join(f" AND {c}" for c in legs + where)
        # One ordered range read of each side's (account, entry seq) index, each stopping after
        # a page: an OR of the two sides would scan the transfers table instead.
        found: set[int] = set()
        for side in ("debit", "credit"):
            found.update(int(r[0]) for r in conn.execute(text(
                f"SELECT DISTINCT t.entry_seq FROM transfers t JOIN entries e "
                f"ON e.seq = t.entry_seq WHERE t.{side}_account_id IN ({inlist}){cond} "
                f"ORDER BY t.entry_seq {direction} LIMIT :limit"
            ), params))
        seqs = sorted(found, reverse=newest)[:limit + 1]
    more = len(seqs) > limit
    seqs = seqs[:limit]
    heads = {int(r[0]): r for r in _rows_by_seq(conn, (
        "SELECT e.seq, e.id, e.kind, e.value_date, e.batch_id, r.id, e.posted_at "
        "FROM entries e LEFT JOIN entries r ON r.seq = e.reverses WHERE e.seq IN ({seqs})"
    ), seqs)}
    transfers: dict[int, list[JournalTransfer]] = {}
    for r in _rows_by_seq(conn, (
        "SELECT t.entry_seq, t.id, d.code, c.code, t.amount, t.currency, t.value_date, "
        "t.reference FROM transfers t JOIN accounts d ON d.id = t.debit_account_id "
        "JOIN accounts c ON c.id = t.credit_account_id WHERE t.entry_seq IN ({seqs}) "
        "ORDER BY t.id"
    ), seqs):
        transfers.setdefault(int(r[0]), []).append(JournalTransfer(
            int(r[1]), r[2], r[3], int(r[4]), r[5], _date(r[6]), r[7]))
    page = tuple(
        JournalEntry(seq, h[1], h[2], _date(h[3]), h[4], h[5], str(h[6]),
                     tuple(transfers.get(seq, ())))
        for seq in seqs for h in (heads[seq],)
    )
    return JournalPage(page, page[-1].id if more else None)


def _rows_by_seq(conn: Connection, sql: str, seqs: Sequence[int]) -> list[Any]:
    out: list[Any] = []
    for start in range(0, len(seqs), 500):
        chunk = seqs[start:start + 500]
        params = {f"s{i}": s for i, s in enumerate(chunk)}
        marks = ", ".join(f":s{i}" for i in range(len(chunk)))
        out.extend(conn.execute(text(sql.format(seqs=marks)), params))
    return out


def _account_ids(conn: Connection, account: str | None, bank: str | None) -> list[int] | None:
    if account is None and bank is None:
        return None
    where, params = [], {}
    if account is not None:
        where.append("code = :account")
        params["account"] = account
    if bank is not None:
        where.append("bank_id = :bank")
        params["bank"] = bank
    return [int(r[0]) for r in conn.execute(
        text(f"SELECT id FROM accounts WHERE {' AND '.join(where)} ORDER BY id"), params)]


# -- register ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterLine:
    entry_id: str
    kind: str
    transfer_id: int
    value_date: dt.date
    counterparty: str
    debit: int
    credit: int
    balance: int
    reference: str | None


@dataclass(frozen=True, slots=True)
class Register:
    account: str
    bank_id: str
    currency: str
    type: str
    date_from: dt.date | None
    date_to: dt.date | None
    opening: int
    closing: int
    lines: tuple[RegisterLine, ...]


def register(
    conn: Connection,
    account: str,
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Register:
    """``account``'s transfers with value dates in ``[date_from, date_to]`` and running balances."""
    if date_from is not None and date_to is not None and date_from > date_to:
        raise InputError(f"from {date_from} is after to {date_to}")
    acc = conn.execute(text(
        "SELECT id, bank_id, currency, type FROM accounts WHERE code = :code"
    ), {"code": account}).first()
    if acc is None:
        raise NotFound(f"account {account!r} does not exist")
    account_id, bank_id, currency, account_type = int(acc[0]), acc[1], acc[2], acc[3]
    params: dict[str, Any] = {"a": account_id}
    opening = 0
    if date_from is not None:
        params["date_from"] = date_from
        # The account's own side of each index: a range read, never a table scan.
        debits, credits = (
            int(conn.execute(text(
                f"SELECT COALESCE(SUM(amount), 0) FROM transfers WHERE {side}_account_id = :a "
                "AND value_date < :date_from"), params).scalar() or 0)
            for side in ("debit", "credit")
        )
        opening = normal_balance(account_type, debits, credits)
    window = []
    if date_from is not None:
        window.append("t.value_date >= :date_from")
    if date_to is not None:
        params["date_to"] = date_to
        window.append("t.value_date <= :date_to")
    extra = "".join(f" AND {w}" for w in window)
    rows = conn.execute(text(
        "SELECT t.value_date, t.id, e.id, e.kind, t.debit_account_id, t.amount, o.code, "
        "t.reference FROM transfers t JOIN entries e ON e.seq = t.entry_seq "
        "JOIN accounts o ON o.id = CASE WHEN t.debit_account_id = :a "
        "THEN t.credit_account_id ELSE t.debit_account_id END "
        f"WHERE t.id IN (SELECT id FROM transfers t WHERE t.debit_account_id = :a{extra} "
        f"UNION ALL SELECT id FROM transfers t WHERE t.credit_account_id = :a{extra}) "
        "ORDER BY t.value_date, t.id"
    ), params).all()
    balance = opening
    lines = []
    for r in rows:
        amount = int(r[5])
        debit, credit = (amount, 0) if int(r[4]) == account_id else (0, amount)
        balance += normal_balance(account_type, debit, credit)
        lines.append(RegisterLine(r[2], r[3], int(r[1]), _date(r[0]), r[6], debit, credit,
                                  balance, r[7]))
    return Register(account, bank_id, currency, account_type, date_from, date_to, opening,
                    balance, tuple(lines))
