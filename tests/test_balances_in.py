"""Balances in one currency (``Ledger.balances_in``, ``wmc report balances --in R
--at-rate-of D``) on SQLite and PostgreSQL: the closing mid, exact, rounded once; refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction

import pytest
from moneyed import Money
from typer.testing import CliRunner

from cli.main import app
from fx.conversion import Rounding, round_minor
from fx.quotes import NoRate, StaleRate
from tests.settlement_builders import BANKS, RATES, _accounts
from wmc_ledger import FixedClock, Ledger, UnknownCurrency

runner = CliRunner()
MID_CNY_HKD = (Fraction("1.0584") + Fraction("1.0688")) / 2
PEG = Fraction("1.03")  # the default peg: HKD 100 = MOP 103, bid = ask


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    with Ledger.open(db_url, clock=FixedClock("2025-03-03T20:00:00+08:00")).init() as opened:
        opened.load_banks(BANKS)
        opened.load_accounts(_accounts())
        opened.load_rates(RATES)
        assert opened.transfer("H", "A-NOSTRO-HKD", "A-CUST-HKD", Money("1000.01", "HKD")).ok
        assert opened.transfer("C", "A-NOSTRO-CNY", "A-CUST-CNY", Money("100000.00", "CNY")).ok
        assert opened.transfer("M", "B-NOSTRO-MOP", "B-CUST-MOP", Money("12.34", "MOP")).ok
        yield opened


def test_each_balance_at_the_closing_mid_rounded_once(ledger: Ledger) -> None:
    rows = {t.balance.account: t for t in ledger.balances_in("MOP", at_rate_of="2025-03-03",
                                                              bank="A")}
    cny = rows["A-CUST-CNY"]
    assert cny.rate == MID_CNY_HKD * PEG  # crossed through HKD at full precision
    # 100,000.00 CNY x 1.0636 x 1.03 = 109,550.80 MOP: one rounding, at the amount.
    assert cny.converted == Money(str(round_minor(Fraction(10_000_000) * MID_CNY_HKD * PEG,
                                                  Rounding.HALF_EVEN) / 100), "MOP")
    assert cny.converted == Money("109550.80", "MOP") and cny.rate_text == "1.095508"
    hkd = rows["A-CUST-HKD"]
    # 1,000.01 x 1.03 = 1,030.0103: rounded half-even once.
    assert hkd.rate == PEG and hkd.converted == Money("1030.01", "MOP")
    assert rows["A-NOSTRO-HKD"].converted == Money("1030.01", "MOP")
    assert rows["A-CUST-MOP"].rate == 1 and rows["A-CUST-MOP"].converted == Money("0", "MOP")
    # A zero balance needs no rate: bank C has posted nothing, and book "empty" has no quotes.
    idle = ledger.balances_in("MOP", at_rate_of="2025-03-03", bank="C", book="empty")
    assert {(t.balance.currency, t.rate, t.converted.amount) for t in idle} == {
        ("CNY", Fraction(0), Decimal(0)), ("HKD", Fraction(0), Decimal(0)),
        ("MOP", Fraction(1), Decimal(0))}
    mop = {t.balance.account: t for t in ledger.balances_in("MOP", at_rate_of="2025-03-03",
                                                             account="B-CUST-MOP")}
    assert mop["B-CUST-MOP"].rate == 1 and mop["B-CUST-MOP"].converted == Money("12.34", "MOP")
    # The balances are the plain report's.
    assert [t.balance for t in ledger.balances_in("HKD", at_rate_of="2025-03-03")] == \
        ledger.balances()


def test_no_rate_or_a_stale_one_refuses_naming_the_pair(ledger: Ledger) -> None:
    with pytest.raises(NoRate, match=r"MOP/CNY.*needed for B-CUST-MOP .*book 'empty'"):
        ledger.balances_in("CNY", at_rate_of="2025-03-03", bank="B", book="empty")
    with pytest.raises(NoRate, match="needed for A-CUST-CNY at the close of 2025-03-02"):
        ledger.balances_in("MOP", at_rate_of="2025-03-02", bank="A")  # before the first quote
    with pytest.raises(StaleRate, match="CNY/HKD"):
        ledger.balances_in("MOP", at_rate_of="2025-03-10", bank="A")
    with pytest.raises(UnknownCurrency):
        ledger.balances_in("CNH", at_rate_of="2025-03-03")


def test_wmc_report_balances_in_one_currency(ledger: Ledger) -> None:
    db = ledger.engine.url.render_as_string(hide_password=False)
    res = runner.invoke(app, ["--db", db, "report", "balances", "--in", "MOP", "--at-rate-of",
                              "2025-03-03", "--bank", "A", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = {r["account"]: r for r in json.loads(res.stdout)}
    assert rows["A-CUST-CNY"] | {} == {
        "account": "A-CUST-CNY", "bank_id": "A", "currency": "CNY", "debits": "0.00",
        "credits": "100000.00", "balance": "100000.00", "rate": "1.095508",
        "rate_exact": str(MID_CNY_HKD * PEG), "in_currency": "MOP", "converted": "109550.80"}
    res = runner.invoke(app, ["--db", db, "report", "balances", "--in", "MOP"])
    assert res.exit_code == 2 and "--at-rate-of" in res.output
    res = runner.invoke(app, ["--db", db, "report", "balances", "--in", "CNY", "--at-rate-of",
                              "2025-03-03", "--book", "empty"])
    assert res.exit_code == 2 and "no rate" in res.stderr and res.stdout == ""
