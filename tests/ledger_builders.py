"""Small builders for ledger tests: banks, accounts and entries in a line each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Engine

from ledger.db import transaction
from ledger.entries import EntrySpec, TransferSpec
from ledger.posting import Result, post_entries
from ledger.refdata import load_accounts, load_banks

DAY = dt.date(2025, 3, 3)
POSTED_AT = "2025-03-03T10:00:00+08:00"


def seed(engine: Engine) -> None:
    """Banks A (HK), B (MO), C (CN); per bank an HKD asset with overdraft (a nostro), an HKD
    customer liability without, and a CNY liability without."""
    def work(conn: object) -> None:
        load_banks(conn, [  # type: ignore[arg-type]
            {"bank_id": "A", "name": "Bank A", "market": "HK"},
            {"bank_id": "B", "name": "Bank B", "market": "MO"},
            {"bank_id": "C", "name": "Bank C", "market": "CN"},
        ])
        rows = []
        for b in "ABC":
            rows += [
                {"account": f"{b}-NOSTRO-HKD", "bank_id": b, "type": "asset", "currency": "HKD",
                 "allow_overdraft": True},
                {"account": f"{b}-CUST-HKD", "bank_id": b, "type": "liability",
                 "currency": "HKD"},
                {"account": f"{b}-CUST-CNY", "bank_id": b, "type": "liability",
                 "currency": "CNY"},
                {"account": f"{b}-NOSTRO-CNY", "bank_id": b, "type": "asset", "currency": "CNY",
                 "allow_overdraft": True},
            ]
        load_accounts(conn, rows)  # type: ignore[arg-type]

    transaction(engine, work)  # type: ignore[arg-type]


def entry(eid: str, debit: str, credit: str, amount: int, currency: str = "HKD",
          kind: str = "transfer", reverses: str | None = None) -> EntrySpec:
    return EntrySpec(eid, kind, DAY, (TransferSpec(debit, credit, amount, currency),),
                     reverses=reverses)


def post(engine: Engine, entries: Sequence[EntrySpec], batch_id: str | None = None) -> list[Result]:
    return transaction(
        engine, lambda c: post_entries(c, entries, posted_at=POSTED_AT, batch_id=batch_id)
    )
