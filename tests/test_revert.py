"""Reverting a batch whole (``Ledger.revert``, ``wmc settle revert``) on SQLite and PostgreSQL:
everything undone in one new batch, quota given back exactly, idempotent, refused with a code
(and nothing written) where a later batch depends on it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from moneyed import Money
from typer.testing import CliRunner

from cli.main import app
from tests.settlement_builders import BANKS, INVESTORS, PRODUCTS, RATES, _accounts, ins
from wmc_ledger import FixedClock, Ledger, NotFound

runner = CliRunner()


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    with Ledger.open(db_url, clock=FixedClock("2025-03-03T20:00:00+08:00")).init() as opened:
        opened.load_banks(BANKS)
        opened.load_accounts(_accounts())
        opened.load_investors(INVESTORS)
        opened.load_products(PRODUCTS)
        opened.load_rates(RATES)
        assert opened.transfer("F-HKD", "A-NOSTRO-HKD", "A-CUST-HKD", Money("9000.00", "HKD")).ok
        assert opened.transfer("F-CNY", "C-NOSTRO-CNY", "S1-REM", cny("90000.00")).ok
        assert opened.transfer("F-A", "A-NOSTRO-CNY", "A-CUST-CNY", cny("5000.00")).ok
        yield opened


DAY = [
    ins("T-1", "transfer", "A-CUST-HKD", "B-CUST-HKD", "1200.00"),
    ins("T-2", "transfer", "A-CUST-HKD", "C-CUST-HKD", "300.00"),
    ins("FEE-1", "fee", "A-CUST-HKD", "A-FEES-HKD", "10.00"),
    ins("FX-1", "convert", "A-CUST-CNY", "A-CUST-HKD", "1000.00", "CNY"),
    ins("R-1", "remit", "S1-REM", "S1-INV", "50000.00", "CNY", investor_id="S1"),
    ins("BAD", "transfer", "B-CUST-MOP", "A-CUST-MOP", "1.00", "MOP"),
]


def snapshot(ledger: Ledger) -> tuple[object, ...]:
    """Every balance that is not zero (a batch opens FX and transit accounts), and the quota."""
    return ({b.account: b.balance for b in ledger.balances() if b.balance.amount},
            ledger.quota().to_dict())


def test_a_revert_undoes_the_batch_exactly_in_one_new_batch(ledger: Ledger) -> None:
    before = snapshot(ledger)
    batch = ledger.settle(DAY)
    assert batch.accepted == 5 and batch.positions and batch.obligations
    result = ledger.revert(batch.batch_id, id_prefix="UNDO-")
    assert result.ok and result.reversal is not None
    rev = result.reversal
    assert snapshot(ledger) == before  # balances, quota and aggregate as before the batch
    assert rev.batch_id != batch.batch_id and rev.accepted == rev.instructions == 5
    assert {p.bank_id: -p.net for p in rev.positions} == {p.bank_id: p.net
                                                          for p in batch.positions}
    assert sorted((o.payee, o.payer, o.amount, o.value_date) for o in rev.obligations) == \
        sorted((o.payer, o.payee, o.amount, o.value_date) for o in batch.obligations)
    page = ledger.entries(batch=rev.batch_id, order="oldest", limit=100)
    assert [(e.entry_id, e.kind, e.reverses) for e in page.entries] == [
        (f"UNDO-{i}", "reversal", i) for i in ("R-1", "FX-1", "FEE-1", "T-2", "T-1")]
    states = {b.batch_id: (b.state, b.reverses, b.reversed_by) for b in ledger.batch_list()}
    assert states == {batch.batch_id: ("reverted", None, rev.batch_id),
                      rev.batch_id: ("reversal", batch.batch_id, None)}
    assert ledger.audit().ok
    again = ledger.revert(batch.batch_id)
    assert again.code == "duplicate" and again.reversal == rev and snapshot(ledger) == before
    assert ledger.revert(rev.batch_id).code == "is_a_reversal"
    with pytest.raises(NotFound):
        ledger.revert("B99999999")


def test_quota_is_given_back_as_the_batch_changed_it_under_the_floor(ledger: Ledger) -> None:
    ledger.settle([ins("R-1", "remit", "S1-REM", "S1-INV", "50000.00", "CNY",
                       investor_id="S1")])
    assert ledger.transfer("GAIN", "A-NOSTRO-CNY", "S1-INV", cny("10000.00")).ok
    home = ledger.settle([ins("P-1", "repatriate", "S1-INV", "S1-REM", "60000.00", "CNY",
                              investor_id="S1")])
    s1 = ledger.quota(investor="S1").investor("S1")
    assert s1.used == cny("0.00")  # the floor: 50,000 out, 60,000 back
    assert ledger.revert(home.batch_id).ok
    s1 = ledger.quota(investor="S1").investor("S1")
    # Given back: the 50,000 the repatriation took off, not the 60,000 it brought home.
    assert (s1.remitted_out, s1.remitted_back, s1.used) == (cny("50000.00"), cny("0.00"),
                                                            cny("50000.00"))
    agg = {a["direction"]: a["used"] for a in ledger.quota().to_dict()["aggregate"]}
    assert agg["southbound"] == "50000.00"


def test_refused_where_a_later_batch_depends_on_it_and_nothing_is_written(
        ledger: Ledger) -> None:
    first = ledger.settle([ins("T-1", "transfer", "A-CUST-HKD", "B-CUST-HKD", "500.00")])
    ledger.settle([ins("T-2", "transfer", "B-CUST-HKD", "C-CUST-HKD", "450.00")])
    before = snapshot(ledger), ledger.batches(), ledger.entries(limit=100)
    result = ledger.revert(first.batch_id)
    assert (result.code, result.reversal) == ("later_batch_depends", None)
    assert "insufficient_funds" in result.message and "B-CUST-HKD" in result.message
    assert (snapshot(ledger), ledger.batches(), ledger.entries(limit=100)) == before
    assert [b.state for b in ledger.batch_list()] == ["settled", "settled"]


def test_refused_when_an_entry_was_corrected_alone(ledger: Ledger) -> None:
    batch = ledger.settle(DAY[:2])
    assert ledger.reverse("T-2").ok
    result = ledger.revert(batch.batch_id)
    assert result.code == "entry_already_reversed" and "T-2" in result.message


def test_wmc_settle_revert(ledger: Ledger) -> None:
    batch = ledger.settle(DAY)
    db = ledger.engine.url.render_as_string(hide_password=False)
    res = runner.invoke(app, ["--db", db, "settle", "revert", batch.batch_id, "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["code"] == "ok" and data["reversal"] == ledger.revert(batch.batch_id).reversal \
        .to_dict()  # type: ignore[union-attr]
    res = runner.invoke(app, ["--db", db, "settle", "revert", batch.batch_id])
    assert res.exit_code == 0 and "duplicate" in res.stdout
    res = runner.invoke(app, ["--db", db, "settle", "revert", data["reversal"]["batch_id"]])
    assert res.exit_code == 1 and "is_a_reversal" in res.stderr
