"""A Northbound Macau investor converting MOP through the peg, as a Macau bank's tests tell it.

Mr Chan lives in Macau and banks with Macau Orient Bank (MOB). Under the Northbound scheme his
money crosses the border in RMB only, so he converts MOP to CNY at MOB before it leaves: MOP is
pegged to HKD (HKD 100 = MOP 103) and MOB quotes CNY against HKD, so the rate is a cross through
the peg, at full precision, rounded once. His RMB goes to his paired investment account at
Guangzhou Bay Bank (GZB), buys a Mainland fund, comes back with a gain and is converted back to
MOP: the worked example of the domain, CNY 100,000.00 -> MOP 109,015.20.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from moneyed import Money

from wmc_ledger import FixedClock, Instruction, Ledger
from wmc_ledger.testing import InvestorBuilder, ScenarioBuilder


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def mop(amount: str) -> Money:
    return Money(amount, "MOP")


@pytest.fixture
def chan(wmc_world: ScenarioBuilder) -> InvestorBuilder:
    mob = wmc_world.bank("MOB", market="MO", name="Macau Orient Bank")
    gzb = wmc_world.bank("GZB", market="CN", name="Guangzhou Bay Bank")
    chan = wmc_world.investor("CHAN", direction="northbound", home=mob, partner=gzb)
    wmc_world.product("GBA-BOND", bank=gzb, currency="CNY", risk="R2", direction="northbound",
                      category="fixed_income")
    wmc_world.product("GBA-STRUCT", bank=gzb, currency="CNY", risk="R5", direction="northbound")
    wmc_world.deposit(chan.home_account("MOP"), mop("200000.00"), value_date="2025-02-28")
    # MOB's board: CNY against HKD only. MOP comes through the peg (a setting, 1.03 both ways).
    wmc_world.rates({"CNY/HKD": ("1.0584", "1.0688")})
    return chan


def test_mop_to_rmb_through_the_peg_and_back(
    wmc_ledger: Ledger, wmc_world: ScenarioBuilder, wmc_clock: FixedClock, chan: InvestorBuilder
) -> None:
    savings = chan.home_account("MOP")

    # MOP 103,000.00 is HKD 100,000.00 at the peg; the customer buys CNY at MOB's ask:
    # 100,000.00 / 1.0688 = 93,562.874... -> CNY 93,562.87.
    out = wmc_ledger.convert("CHAN-FX-1", savings, chan.remittance_account, mop("103000.00"),
                             at="2025-03-03T10:00:00+08:00")
    assert out.ok, out.message
    assert out.bought == cny("93562.87")
    assert wmc_ledger.balance(savings) == mop("97000.00")

    day_one = wmc_ledger.settle([
        Instruction("CHAN-0001", "remit", chan.remittance_account, chan.investment_account,
                    cny("93562.87"), "2025-03-03", investor_id="CHAN"),
        Instruction("CHAN-0002", "subscribe", chan.investment_account, "GZB-GBA-BOND",
                    cny("93562.87"), "2025-03-03", investor_id="CHAN", product="GBA-BOND"),
        # Structured products (R5) are not eligible Northbound.
        Instruction("CHAN-0003", "subscribe", chan.investment_account, "GZB-GBA-STRUCT",
                    cny("1.00"), "2025-03-03", investor_id="CHAN", product="GBA-STRUCT"),
        # Cross-border legs are in RMB: MOP may not cross.
        Instruction("CHAN-0004", "remit", savings, chan.investment_account, mop("100.00"),
                    "2025-03-03", investor_id="CHAN"),
    ])
    assert day_one.codes == {"CHAN-0003": "product_not_eligible", "CHAN-0004": "not_rmb"}
    assert wmc_ledger.quota().direction("northbound").used == cny("93562.87")

    # A week later the bond has gained: the fund pays CNY 100,000.00 out and it comes home.
    wmc_clock.set("2025-03-10T18:00:00+08:00")
    wmc_world.deposit("GZB-GBA-BOND", cny("6437.13"))  # the fund's gain, paid in by its manager
    wmc_world.rates({"CNY/HKD": ("1.0584", "1.0688")})
    day_two = wmc_ledger.settle([
        Instruction("CHAN-0005", "redeem", "GZB-GBA-BOND", chan.investment_account,
                    cny("100000.00"), investor_id="CHAN", product="GBA-BOND"),
        Instruction("CHAN-0006", "repatriate", chan.investment_account, chan.remittance_account,
                    cny("100000.00"), investor_id="CHAN"),
    ])
    assert day_two.codes == {}
    [payment] = day_two.gross_payments
    assert (payment.payer, payment.payee, str(payment.value_date)) == ("GZB", "MOB", "2025-03-10")

    # Net usage never goes below zero: the gain brings no extra headroom (policy default).
    quota = wmc_ledger.quota(investor="CHAN").investor("CHAN")
    assert quota.used == cny("0.00")
    assert quota.remitted_back == cny("100000.00")

    # CNY -> MOP: sold at MOB's bid for HKD, HKD -> MOP at the peg: 1.0584 x 1.03 = 1.090152,
    # never rounded on the way: CNY 100,000.00 -> MOP 109,015.20 (not 109,020.00).
    back = wmc_ledger.convert("CHAN-FX-2", chan.remittance_account, savings,
                              cny("100000.00"), at="2025-03-10T11:00:00+08:00")
    assert back.ok, back.message
    assert back.rate == Decimal("1.090152")
    assert back.bought == mop("109015.20")
    assert wmc_ledger.balance(savings) == mop("206015.20")
    assert wmc_ledger.balance(chan.remittance_account) == cny("0.00")
    assert wmc_ledger.audit().ok


def test_a_stale_rate_is_refused(
    wmc_ledger: Ledger, wmc_clock: FixedClock, chan: InvestorBuilder
) -> None:
    # Monday's sheet is too old on Wednesday (staleness limit: one business day).
    result = wmc_ledger.convert("CHAN-FX-9", chan.home_account("MOP"), chan.remittance_account,
                                mop("1030.00"), at="2025-03-05T10:00:00+08:00")
    assert result.code == "stale_rate"
    assert "CNY/HKD" in result.message
    assert wmc_ledger.balance(chan.home_account("MOP")) == mop("200000.00")
