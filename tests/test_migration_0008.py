"""Migration 0008 upgrades a ledger that holds data (SQLite and PostgreSQL): what was posted
under 0004 reads back through the new indexes, and the chain still verifies."""

from __future__ import annotations

import datetime as dt

from moneyed import Money
from sqlalchemy import inspect

from ledger.db import make_engine
from ledger.migrate import current_revision, head_revision, upgrade
from wmc_ledger import FixedClock, Ledger


def test_0008_upgrades_a_ledger_with_data(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0007")  # the revision before 0008: the code of today runs on it
    engine.dispose()
    with Ledger.open(db_url, clock=FixedClock("2025-03-03T18:00:00+08:00")) as old:
        old.load_banks([{"bank_id": "A", "name": "A", "market": "HK"}])
        old.load_accounts([
            {"account": "N", "bank_id": "A", "type": "asset", "currency": "HKD",
             "allow_overdraft": True},
            {"account": "C", "bank_id": "A", "type": "liability", "currency": "HKD"}])
        for i in range(5):
            assert old.transfer(f"E{i}", "N", "C", Money(f"{i + 1}.00", "HKD"),
                                value_date=dt.date(2025, 3, 1 + i)).ok
        # A batch of transfers only touches no quota: it settles on the old schema too.
        settled = old.settle([{"instruction_id": "S-1", "kind": "transfer",
                               "debit_account": "C", "credit_account": "N",
                               "amount": "1.00", "currency": "HKD",
                               "value_date": "2025-03-06"}])
        assert settled.accepted == 1
    with Ledger.open(db_url) as ledger:
        ledger.init()
        assert current_revision(ledger.engine) == head_revision()
        names = {ix["name"] for ix in inspect(ledger.engine).get_indexes("transfers")}
        assert {"ix_transfers_debit_account", "ix_transfers_credit_account"} <= names
        page = ledger.entries(account="C", limit=3)
        assert [e.entry_id for e in page.entries] == ["S-1", "E4", "E3"]
        reg = ledger.register("C", date_from="2025-03-02")
        assert reg.opening == Money("1.00", "HKD") and reg.closing == Money("14.00", "HKD")
        assert [b.state for b in ledger.batch_list()] == ["settled"]
        assert ledger.revert(settled.batch_id).ok  # a batch settled before 0008 reverts
        assert ledger.balance("C") == Money("15.00", "HKD")
        assert [b.state for b in ledger.batch_list()] == ["reverted", "reversal"]
        assert ledger.audit().ok
