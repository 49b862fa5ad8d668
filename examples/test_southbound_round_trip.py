"""A Southbound round trip through a Hong Kong bank, as Harbour Bank's release tests tell it.

Ms Li lives in Guangzhou and banks with Guangzhou Bay Bank (GZB). Under the Southbound scheme
she remits RMB to her paired investment account at Harbour Bank (HKB) in Hong Kong, converts it
to HKD there, and buys a Hong Kong fund. Later she sells the fund, converts back to RMB and
brings the money home to the same remittance account: the closed loop. Her quota is used on a
net basis and the FX spread stays with HKB.

Everything here uses only the public API (``wmc_ledger``) and its pytest plugin's fixtures.
"""

from __future__ import annotations

import pytest
from moneyed import Money

from wmc_ledger import FixedClock, Instruction, Ledger
from wmc_ledger.testing import InvestorBuilder, ScenarioBuilder

MONDAY = "2025-03-03"
TUESDAY = "2025-03-04"


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def hkd(amount: str) -> Money:
    return Money(amount, "HKD")


@pytest.fixture
def li(wmc_world: ScenarioBuilder) -> InvestorBuilder:
    """The banks, Ms Li's closed loop, HKB's fund and Monday's rate sheet."""
    gzb = wmc_world.bank("GZB", market="CN", name="Guangzhou Bay Bank")
    hkb = wmc_world.bank("HKB", market="HK", name="Harbour Bank")
    li = wmc_world.investor("LI", direction="southbound", home=gzb, partner=hkb)
    wmc_world.product("HK-EQUITY", bank=hkb, currency="HKD", risk="R3", direction="southbound",
                      complex=False, domicile="HK", authorisation="SFC")
    wmc_world.deposit(li.remittance_account, cny("500000.00"), value_date="2025-02-28")
    wmc_world.rates({"CNY/HKD": ("1.0584", "1.0688")})  # HKB's board, Monday 09:15
    return li


def test_southbound_round_trip(wmc_ledger: Ledger, wmc_world: ScenarioBuilder,
                               wmc_clock: FixedClock, li: InvestorBuilder) -> None:
    inv_hkd = li.investment("HKD")

    # Monday: remit RMB 300,000 across, convert it at HKB's bid, buy the fund.
    monday = wmc_ledger.settle([
        Instruction("LI-0001", "remit", li.remittance_account, li.investment_account,
                    cny("300000.00"), MONDAY, investor_id="LI",
                    submitted_at="2025-03-03T10:00:00+08:00"),
        Instruction("LI-0002", "convert", li.investment_account, inv_hkd, cny("300000.00"),
                    MONDAY, submitted_at="2025-03-03T10:05:00+08:00"),
        Instruction("LI-0003", "subscribe", inv_hkd, "HKB-HK-EQUITY", hkd("317520.00"), MONDAY,
                    investor_id="LI", product="HK-EQUITY",
                    submitted_at="2025-03-03T10:10:00+08:00"),
    ])
    assert monday.codes == {}
    assert monday.accepted == 3
    # CNY 300,000.00 x 1.0584 = HKD 317,520.00 at the bid.
    assert wmc_ledger.balance("HKB-HK-EQUITY") == hkd("317520.00")
    # The remittance is settled gross, GZB -> HKB, never netted.
    [payment] = monday.gross_payments
    assert (payment.payer, payment.payee, payment.amount) == ("GZB", "HKB", cny("300000.00"))
    assert monday.obligations == ()
    assert wmc_ledger.quota(investor="LI").investor("LI").used == cny("300000.00")

    # Tuesday: the fund is sold at the same price; HKD back to RMB at HKB's ask; home again.
    wmc_clock.advance(days=1)
    wmc_world.rates({"CNY/HKD": ("1.0584", "1.0688")})  # Tuesday's sheet, unchanged
    tuesday = wmc_ledger.settle([
        Instruction("LI-0004", "redeem", "HKB-HK-EQUITY", inv_hkd, hkd("317520.00"), TUESDAY,
                    investor_id="LI", product="HK-EQUITY",
                    submitted_at="2025-03-04T10:00:00+08:00"),
        Instruction("LI-0005", "convert", inv_hkd, li.investment_account, hkd("317520.00"),
                    TUESDAY, submitted_at="2025-03-04T10:05:00+08:00"),
    ])
    assert tuesday.codes == {}
    # HKD 317,520.00 / 1.0688 = CNY 297,080.838... -> 297,080.84 (half-even).
    back = wmc_ledger.balance(li.investment_account)
    assert back == cny("297080.84")

    home = wmc_ledger.settle([
        Instruction("LI-0006", "repatriate", li.investment_account, li.remittance_account,
                    back, TUESDAY, investor_id="LI", submitted_at="2025-03-04T11:00:00+08:00"),
    ])
    assert home.codes == {}
    assert wmc_ledger.balance(li.investment_account) == cny("0.00")
    assert wmc_ledger.balance(li.remittance_account) == cny("497080.84")

    # Quota counts net: 300,000.00 out, 297,080.84 back.
    quota = wmc_ledger.quota(investor="LI").investor("LI")
    assert (quota.remitted_out, quota.remitted_back, quota.used) == (
        cny("300000.00"), cny("297080.84"), cny("2919.16"))
    assert quota.remaining == cny("2997080.84")

    # The round trip cost Ms Li the spread; HKB booked it as FX income, in each currency.
    income = {b.account: b.balance for b in wmc_ledger.balances(bank="HKB")
              if ":FX_INCOME:" in b.account}
    assert income["HKB:FX_INCOME:HKD"] > hkd("0") and income["HKB:FX_INCOME:CNY"] > cny("0")
    assert wmc_ledger.trial_balance().balanced
    assert wmc_ledger.audit().ok


def test_money_goes_home_only_to_the_same_remittance_account(
    wmc_ledger: Ledger, wmc_world: ScenarioBuilder, li: InvestorBuilder
) -> None:
    gzb = wmc_world.banks["GZB"]
    other = gzb.customer("ZHANG", "CNY")
    batch = wmc_ledger.settle([
        Instruction("LI-0101", "remit", li.remittance_account, li.investment_account,
                    cny("1000.00"), MONDAY, investor_id="LI"),
        Instruction("LI-0102", "repatriate", li.investment_account, other, cny("1000.00"),
                    MONDAY, investor_id="LI"),
        Instruction("LI-0103", "remit", li.remittance_account, li.investment_account,
                    cny("3000000.00"), MONDAY, investor_id="LI"),
        Instruction("LI-0104", "transfer", li.investment_account, other, cny("10.00"), MONDAY),
    ])
    assert batch.codes == {
        "LI-0102": "closed_loop_violation",
        "LI-0103": "insufficient_funds",
        "LI-0104": "closed_loop_violation",
    }
    assert [r.line for r in batch.rejections] == [2, 3, 4]
