"""A back office's morning after, as a Hong Kong bank's operations team would test it.

Guangzhou Bay Bank (GZB, the Mainland) and Harbour Bank (HKB, Hong Kong) settled a day: Li's
Southbound remittance of CNY 300,000 and two HKD payments between the banks' clients. The next
morning HKB's operations team finds the remittance in the journal by its end-to-end id, reads
its clients' account register, values its balances in MOP for the Macau group report, and
learns that the whole file was sent by mistake: it reverts the batch, giving Li's quota back.
"""

from __future__ import annotations

from fractions import Fraction

from moneyed import Money

from wmc_ledger import Instruction, Ledger
from wmc_ledger.testing import ScenarioBuilder

DAY = "2025-03-03"


def test_the_morning_after(wmc_world: ScenarioBuilder, wmc_ledger: Ledger) -> None:
    gzb = wmc_world.bank("GZB", market="CN", name="Guangzhou Bay Bank")
    hkb = wmc_world.bank("HKB", market="HK", name="Harbour Bank")
    li = wmc_world.investor("LI", direction="southbound", home=gzb, partner=hkb)
    hkb_clients, gzb_clients = hkb.customer("CLIENTS", "HKD"), gzb.customer("CLIENTS", "HKD")
    wmc_world.deposit(li.remittance_account, Money("500000.00", "CNY"), value_date="2025-02-28")
    wmc_world.deposit(hkb_clients, Money("80000.00", "HKD"), value_date="2025-02-28")
    wmc_world.rates({"CNY/HKD": ("1.0584", "1.0688")})
    batch = wmc_ledger.settle([
        Instruction("LI-1", "remit", li.remittance_account, li.investment_account,
                    Money("300000.00", "CNY"), DAY, investor_id="LI", reference="E2E-LI-1"),
        Instruction("P-1", "transfer", hkb_clients, gzb_clients, Money("25000.00", "HKD"), DAY),
        Instruction("P-2", "transfer", gzb_clients, hkb_clients, Money("5000.00", "HKD"), DAY),
    ], name="day.csv")
    assert batch.codes == {}

    # The journal: the remittance by its end-to-end id, whole.
    (remit,) = wmc_ledger.entries(reference="E2E-LI-1").entries
    assert (remit.entry_id, remit.kind, remit.batch_id) == ("LI-1", "remit", batch.batch_id)
    assert remit.transfers[0].amount == Money("300000.00", "CNY")

    # The register of HKB's clients: opening, each payment with its running balance, closing.
    reg = wmc_ledger.register(hkb_clients, date_from=DAY)
    assert reg.opening == Money("80000.00", "HKD")
    assert [(x.entry_id, x.balance) for x in reg.lines] == [
        ("P-1", Money("55000.00", "HKD")), ("P-2", Money("60000.00", "HKD"))]
    assert reg.closing == wmc_ledger.balance(hkb_clients)

    # The Macau group report: HKD at the peg's closing mid, HKD 100 = MOP 103.
    (in_mop,) = wmc_ledger.balances_in("MOP", at_rate_of=DAY, account=hkb_clients)
    assert in_mop.rate == Fraction("1.03") and in_mop.converted == Money("61800.00", "MOP")

    # The file was a mistake: revert it whole, once.
    assert [b.state for b in wmc_ledger.batch_list()] == ["settled"]
    undone = wmc_ledger.revert(batch.batch_id)
    assert undone.ok and undone.reversal is not None
    assert wmc_ledger.balance(hkb_clients) == Money("80000.00", "HKD")
    assert wmc_ledger.quota(investor="LI").investor("LI").used == Money("0.00", "CNY")
    assert {p.bank_id: p.net for p in undone.reversal.positions} == {
        p.bank_id: -p.net for p in batch.positions}
    assert [b.state for b in wmc_ledger.batch_list()] == ["reverted", "reversal"]
    assert wmc_ledger.revert(batch.batch_id).code == "duplicate"
    assert wmc_ledger.audit().ok
