"""Determinism: with a fixed clock the same scenario gives byte-identical reports and the same
hash chain, run after run, and on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
from collections.abc import Callable

from moneyed import Money
from sqlalchemy import text

from wmc_ledger import FixedClock, Instruction, Ledger
from wmc_ledger.testing import ScenarioBuilder


def scenario(ledger: Ledger) -> tuple[str, str, str, list[str]]:
    """A day with remittances, a conversion, netted transfers and rejections; returns the
    batch's JSON, the stored batch's JSON, the trial balance's JSON and the chain hashes."""
    world = ScenarioBuilder(ledger)
    gzb = world.bank("GZB", market="CN")
    hkb = world.bank("HKB", market="HK")
    mob = world.bank("MOB", market="MO")
    li = world.investor("LI", direction="southbound", home=gzb, partner=hkb)
    world.deposit(li.remittance_account, Money("800000.00", "CNY"))
    clients = {b.bank_id: b.customer("CLIENTS", "HKD") for b in (gzb, hkb, mob)}
    for account in clients.values():
        world.deposit(account, Money("1000000.00", "HKD"))
    world.rates({"CNY/HKD": ("1.0584", "1.0688")})
    day = "2025-03-03"
    batch = ledger.settle([
        Instruction("D-1", "remit", li.remittance_account, li.investment_account,
                    Money("500000.00", "CNY"), day, investor_id="LI"),
        Instruction("D-2", "convert", li.investment_account, li.investment("HKD"),
                    Money("123456.78", "CNY"), day, submitted_at="2025-03-03T10:00:00+08:00"),
        Instruction("D-3", "transfer", clients["HKB"], clients["MOB"],
                    Money("250000.00", "HKD"), day),
        Instruction("D-4", "transfer", clients["MOB"], clients["GZB"],
                    Money("75000.50", "HKD"), day),
        Instruction("D-5", "transfer", clients["GZB"], clients["HKB"],
                    Money("9999999.00", "HKD"), day),
        Instruction("D-6", "remit", li.remittance_account, li.investment_account,
                    Money("100000.00", "CNY"), "2025-03-08", investor_id="LI"),  # a Saturday
    ])
    with ledger.engine.connect() as conn:
        hashes = [str(r[0]) for r in conn.execute(text("SELECT hash FROM entries ORDER BY seq"))]
    trial = ledger.trial_balance()
    return (batch.to_json(), ledger.batch(batch.batch_id).to_json(),
            json.dumps(trial.to_dict(), indent=2), hashes)


def test_the_same_scenario_twice_gives_the_same_bytes(
    wmc_ledger_factory: Callable[..., Ledger],
) -> None:
    first = scenario(wmc_ledger_factory(clock=FixedClock("2025-03-03T18:00:00+08:00")))
    second = scenario(wmc_ledger_factory(clock=FixedClock("2025-03-03T18:00:00+08:00")))
    assert first == second
    report = first[0]
    assert '"batch_id": "B00000001"' in report and '"insufficient_funds"' in report
    assert '"reason": "holiday"' in report  # the Saturday remit moved to Monday
    # Another clock changes the chain (posted_at is hashed) but not the reports.
    other = scenario(wmc_ledger_factory(clock=FixedClock("2025-03-03T18:30:00+08:00")))
    assert other[:3] == first[:3] and other[3] != first[3]


def test_sqlite_and_the_database_under_test_agree(
    db_url: str, wmc_ledger_factory: Callable[..., Ledger]
) -> None:
    with Ledger.open(db_url, clock=FixedClock("2025-03-03T18:00:00+08:00")).init() as ledger:
        here = scenario(ledger)
    assert here == scenario(wmc_ledger_factory(clock=FixedClock("2025-03-03T18:00:00+08:00")))
