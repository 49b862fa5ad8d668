"""Balances and the trial balance, read from the database.

Without ``as_of`` a balance is the account's running totals, kept in the same transaction as its
transfers; with ``as_of`` it is recomputed from the transfers whose value date is on or before
that day. A balance is always on the account's normal side. The trial balance's debits equal its
credits per currency, because every transfer debits and credits the same amount.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from ledger.entries import normal_balance
from ledger.money import format_amount


@dataclass(frozen=True, slots=True)
class BalanceRow:
    account: str
    bank_id: str
    currency: str
    type: str
    debits: int
    credits: int

    @property
    def balance(self) -> int:
        return normal_balance(self.type, self.debits, self.credits)

    def to_dict(self) -> dict[str, Any]:
        c = self.currency
        return {
            "account": self.account,
            "bank_id": self.bank_id,
            "currency": c,
            "debits": format_amount(self.debits, c),
            "credits": format_amount(self.credits, c),
            "balance": format_amount(self.balance, c),
        }


@dataclass(frozen=True, slots=True)
class CurrencyTotal:
    currency: str
    debits: int
    credits: int

    def to_dict(self) -> dict[str, Any]:
        c = self.currency
        return {
            "currency": c,
            "debits": format_amount(self.debits, c),
            "credits": format_amount(self.credits, c),
        }


@dataclass(frozen=True, slots=True)
class TrialBalance:
    currencies: tuple[CurrencyTotal, ...]
    accounts: tuple[BalanceRow, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "currencies": [c.to_dict() for c in self.currencies],
            "accounts": [a.to_dict() for a in self.accounts],
        }


def balances(
    conn: Connection,
    *,
    as_of: dt.date | None = None,
    bank: str | None = None,
    account: str | None = None,
) -> list[BalanceRow]:
    """One row per account (filtered by bank or account code), ordered by account code."""
    where = []
    params: dict[str, Any] = {}
    if bank is not None:
        where.append("a.bank_id = :bank")
        params["bank"] = bank
    if account is not None:
        where.append("a.code = :account")
        params["account"] = account
    cond = (" WHERE " + " AND ".join(where)) if where else ""
    if as_of is None:
        sql = (
            "SELECT a.code, a.bank_id, a.currency, a.type, a.debits_posted, a.credits_posted "
            f"FROM accounts a{cond} ORDER BY a.code"
        )
    else:
        params["as_of"] = as_of
        sql = (
            "SELECT a.code, a.bank_id, a.currency, a.type, COALESCE(d.s, 0), COALESCE(c.s, 0) "
            "FROM accounts a "
            "LEFT JOIN (SELECT debit_account_id AS id, SUM(amount) AS s FROM transfers "
            "WHERE value_date <= :as_of GROUP BY debit_account_id) d ON d.id = a.id "
            "LEFT JOIN (SELECT credit_account_id AS id, SUM(amount) AS s FROM transfers "
            "WHERE value_date <= :as_of GROUP BY credit_account_id) c ON c.id = a.id"
            f"{cond} ORDER BY a.code"
        )
    return [
        BalanceRow(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]))
        for r in conn.execute(text(sql), params)
    ]


def trial_balance(conn: Connection, *, as_of: dt.date | None = None) -> TrialBalance:
    rows = balances(conn, as_of=as_of)
    totals: dict[str, list[int]] = {}
    for r in rows:
        t = totals.setdefault(r.currency, [0, 0])
        t[0] += r.debits
        t[1] += r.credits
    return TrialBalance(
        tuple(CurrencyTotal(c, d, k) for c, (d, k) in sorted(totals.items())), tuple(rows)
    )
