"""A three-bank day with netting and a reconciliation, as the settlement operator's tests tell it.

Harbour Bank (HKB, Hong Kong), Macau Orient Bank (MOB, Macau) and Guangzhou Bay Bank (GZB, the
Mainland) settle a day of HKD fund flows between their customers through the ledger. The
payment systems settle gross, but the ledger nets the batch to tell each bank what it owes: the
worked example of the domain (multilateral A -50,000, B +500,000, C -450,000; bilateral A pays
B 750,000, C pays A 700,000, B pays C 250,000). At the end of the day HKB's statement for its
clients' HKD account arrives and is reconciled: the bank charged a fee the ledger has not
booked, and booked one payment a day late.
"""

from __future__ import annotations

import pytest
from moneyed import Money

from wmc_ledger import AtomicBatchRolledBack, Instruction, Ledger
from wmc_ledger.testing import ScenarioBuilder

DAY = "2025-03-03"


def hkd(amount: str) -> Money:
    return Money(amount, "HKD")


@pytest.fixture
def clients(wmc_world: ScenarioBuilder) -> dict[str, str]:
    """Each bank's clients' HKD account, funded the business day before."""
    accounts = {}
    for bank_id, market, name in [("HKB", "HK", "Harbour Bank"),
                                  ("MOB", "MO", "Macau Orient Bank"),
                                  ("GZB", "CN", "Guangzhou Bay Bank")]:
        bank = wmc_world.bank(bank_id, market=market, name=name)
        accounts[bank_id] = bank.customer("CLIENTS", "HKD")
        wmc_world.deposit(accounts[bank_id], hkd("5000000.00"), value_date="2025-02-28")
    bank = wmc_world.banks["HKB"]
    bank.income("HKD")
    return accounts


def flows(a: dict[str, str]) -> list[Instruction]:
    def pay(n: int, payer: str, payee: str, amount: str) -> Instruction:
        return Instruction(f"D-{n:04d}", "transfer", a[payer], a[payee], hkd(amount), DAY,
                           reference=f"E2E-{n:04d}", submitted_at="2025-03-03T11:00:00+08:00")

    return [
        pay(1, "HKB", "MOB", "1200000.00"),
        pay(2, "MOB", "HKB", "450000.00"),
        pay(3, "MOB", "GZB", "300000.00"),
        pay(4, "GZB", "HKB", "800000.00"),
        pay(5, "HKB", "GZB", "100000.00"),
        pay(6, "GZB", "MOB", "50000.00"),
    ]


def test_the_day_nets_to_what_each_bank_owes(wmc_ledger: Ledger,
                                             clients: dict[str, str]) -> None:
    batch = wmc_ledger.settle(flows(clients))

    assert (batch.batch_id, batch.accepted, batch.rejected) == ("B00000001", 6, 0)
    assert {p.bank_id: p.net for p in batch.positions} == {
        "HKB": hkd("-50000.00"), "MOB": hkd("500000.00"), "GZB": hkd("-450000.00")}
    assert [(o.payer, o.payee, o.amount) for o in batch.obligations] == [
        ("GZB", "HKB", hkd("700000.00")),
        ("HKB", "MOB", hkd("750000.00")),
        ("MOB", "GZB", hkd("250000.00")),
    ]
    assert batch.obligation("HKB", "MOB", "HKD") == hkd("750000.00")
    assert batch.obligation("MOB", "HKB", "HKD") == hkd("0.00")  # the net is one way only
    assert batch.gross_payments == ()  # no remittance today: everything nets
    # The stored batch reads back the same, and so does the CLI's JSON of it.
    assert wmc_ledger.batch("B00000001").to_json() == batch.to_json()

    # Running the same file again posts nothing: every instruction is a duplicate.
    again = wmc_ledger.settle(flows(clients))
    assert (again.accepted, again.duplicates) == (0, 6)
    assert wmc_ledger.balance(clients["MOB"]) == hkd("5500000.00")


def test_hkb_statement_reconciles_with_a_fee_and_a_late_booking(
    wmc_ledger: Ledger, wmc_world: ScenarioBuilder, clients: dict[str, str]
) -> None:
    wmc_ledger.settle(flows(clients))
    account = clients["HKB"]
    # HKB's statement: it booked D-0005 a day late (not on today's statement) and charged a
    # HKD 150.00 fee without a reference.
    statement = wmc_world.statement(account, day=DAY, opening=hkd("5000000.00"), lines=[
        ("E2E-0001", hkd("-1200000.00")),
        ("E2E-0002", hkd("450000.00")),
        ("E2E-0004", hkd("800000.00")),
        (None, hkd("-150.00")),
    ])

    rec = wmc_ledger.reconcile(statement, account=account, name="hkb-2025-03-03.xml")

    assert rec.matched == 3
    assert sorted(rec.break_types) == ["missing_in_ledger", "missing_in_statement"]
    assert rec.ledger_closing == hkd("4950000.00")
    assert rec.statement_closing == hkd("5049850.00")
    # The breaks explain the difference exactly: -100,000.00 booked late, +150.00 fee.
    assert rec.difference == hkd("-99850.00")
    assert sum((b.amount for b in rec.breaks), hkd("0")) == rec.difference

    # The operator books the fee; what is left is the timing difference, which tomorrow's
    # statement will clear.
    fee = wmc_ledger.settle([Instruction("FEE-0001", "fee", account, "HKB-FEES-HKD",
                                         hkd("150.00"), DAY)])
    assert fee.codes == {}
    again = wmc_ledger.reconcile(statement, account=account)
    assert again.matched == 4
    [late] = again.breaks
    assert (late.type, late.ledger_ref, late.amount) == (
        "missing_in_statement", "E2E-0005", hkd("-100000.00"))
    assert again.to_dict()["difference"] == "-100000.00"


def test_an_atomic_batch_with_a_rejection_writes_nothing(
    wmc_ledger: Ledger, clients: dict[str, str]
) -> None:
    day = [*flows(clients),
           Instruction("D-0099", "transfer", clients["GZB"], clients["HKB"], hkd("9999999.00"),
                       DAY)]
    with pytest.raises(AtomicBatchRolledBack) as rolled_back:
        wmc_ledger.settle(day, atomic=True)
    assert rolled_back.value.batch.codes == {"D-0099": "insufficient_funds"}
    assert wmc_ledger.batches() == []
    assert wmc_ledger.balance(clients["HKB"]) == hkd("5000000.00")
