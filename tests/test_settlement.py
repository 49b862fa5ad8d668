"""The batch settlement engine on the DOMAIN.md cases, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from fx.booking import rate_meta
from fx.conversion import Rounding, convert
from fx.quotes import dealt_rate
from ledger.audit import verify
from ledger.entries import canonical_meta
from ledger.errors import InputError
from ledger.money import parse_amount
from ledger.reports import balances, trial_balance
from settlement.engine import AtomicRollback
from settlement.quota import quota_report
from settlement.settings import load_settings
from tests.settlement_builders import build_world, codes, ins, settings_with, settle


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Engine:
    build_world(engine, tmp_path)
    return engine


def _bal(engine: Engine) -> dict[str, int]:
    with engine.connect() as c:
        return {b.account: b.balance for b in balances(c)}


def test_three_bank_netting_from_domain(world: Engine, tmp_path: Path) -> None:
    gross = [("A", "B", "1200000.00"), ("B", "A", "450000.00"), ("B", "C", "300000.00"),
             ("C", "A", "800000.00"), ("A", "C", "100000.00"), ("C", "B", "50000.00")]
    rows = [ins(f"N{i}", "transfer", f"{p}-NOSTRO-HKD", f"{q}-NOSTRO-HKD", amt)
            for i, (p, q, amt) in enumerate(gross)]
    report = settle(world, tmp_path, rows)
    data = report.to_dict()
    assert data["accepted"] == 6 and data["rejected"] == 0
    assert data["positions"] == [
        {"bank_id": "A", "currency": "HKD", "net": "-50000.00"},
        {"bank_id": "B", "currency": "HKD", "net": "500000.00"},
        {"bank_id": "C", "currency": "HKD", "net": "-450000.00"},
    ]
    assert {(o["payer"], o["payee"], o["amount"]) for o in data["obligations"]} == {
        ("A", "B", "750000.00"), ("C", "A", "700000.00"), ("B", "C", "250000.00")}
    assert all(o["value_date"] == "2025-03-03" for o in data["obligations"])


def _fund(account: str, amount: str, currency: str = "CNY", bank: str = "C") -> dict[str, str]:
    return ins(f"FUND-{account}", "transfer", f"{bank}-NOSTRO-{currency}", account, amount,
               currency)


def test_remit_and_repatriate_closed_loop(world: Engine, tmp_path: Path) -> None:
    report = settle(world, tmp_path, [
        _fund("S1-REM", "5000000.00"),
        ins("R1", "remit", "S1-REM", "S1-INV", "1000000.00", "CNY", investor_id="S1"),
        ins("R2", "remit", "S1-REM", "S1-INV-HKD", "10.00", "HKD", investor_id="S1"),
        ins("R3", "remit", "S1-REM", "S2-INV-BANK", "10.00", "CNY", investor_id="S1"),
        ins("R4", "remit", "S1-REM", "S1-INV", "10.00", "CNY", investor_id="NOBODY"),
        ins("R5", "repatriate", "S1-INV", "C-CUST-CNY", "10.00", "CNY", investor_id="S1"),
        ins("R6", "repatriate", "S1-INV", "S1-REM", "400000.00", "CNY", investor_id="S1"),
        ins("T1", "transfer", "S1-INV", "A-CUST-CNY", "10.00", "CNY"),
    ])
    assert codes(report) == {"R2": "not_rmb", "R3": "closed_loop_violation",
                             "R4": "unknown_investor", "R5": "closed_loop_violation",
                             "T1": "closed_loop_violation"}
    gross = report.to_dict()["gross_payments"]
    assert [(g["instruction_id"], g["payer"], g["payee"], g["amount"]) for g in gross] == [
        ("R1", "C", "A", "1000000.00"), ("R6", "A", "C", "400000.00")]
    assert report.positions == ()  # remittances are gross, never netted
    with world.connect() as c:
        q = quota_report(c, load_settings(None), investor="S1")
    assert q["investors"] == [{"investor_id": "S1", "direction": "southbound", "channel": "bank",
                               "remitted_out": "1000000.00", "remitted_back": "400000.00",
                               "used": "600000.00", "remaining": "2400000.00"}]
    assert q["aggregate"][0] == {"direction": "southbound", "used": "600000.00",
                                 "remaining": "149999400000.00"}


def test_individual_quota_and_net_floor(world: Engine, tmp_path: Path) -> None:
    report = settle(world, tmp_path, [
        _fund("S1-REM", "9000000.00"),
        ins("R1", "remit", "S1-REM", "S1-INV", "2500000.00", "CNY", investor_id="S1"),
        ins("R2", "remit", "S1-REM", "S1-INV", "600000.00", "CNY", investor_id="S1"),
        ins("R3", "remit", "S1-REM", "S1-INV", "500000.00", "CNY", investor_id="S1"),
        ins("B1", "repatriate", "S1-INV", "S1-REM", "3000000.00", "CNY", investor_id="S1"),
        ins("R4", "remit", "S1-REM", "S1-INV", "3000000.00", "CNY", investor_id="S1"),
        ins("R5", "remit", "S1-REM", "S1-INV", "0.01", "CNY", investor_id="S1"),
    ])
    assert codes(report) == {"R2": "quota_exceeded_individual",
                             "R5": "quota_exceeded_individual"}
    with world.connect() as c:
        row = quota_report(c, load_settings(None), investor="S1")["investors"][0]
    assert row["used"] == "3000000.00" and row["remaining"] == "0.00"


def test_net_floor_gives_no_headroom_for_gains(world: Engine, tmp_path: Path) -> None:
    report = settle(world, tmp_path, [
        _fund("S1-REM", "1000000.00"), _fund("FUND-SB-CNY", "9000000.00", bank="A"),
        ins("R1", "remit", "S1-REM", "S1-INV", "1000000.00", "CNY", investor_id="S1"),
        # the product pays back twice what went in: a gain of 2,000,000.00
        ins("G1", "redeem", "FUND-SB-CNY", "S1-INV", "2000000.00", "CNY", investor_id="S1",
            product="SB-CNY"),
        ins("B1", "repatriate", "S1-INV", "S1-REM", "3000000.00", "CNY", investor_id="S1"),
    ])
    assert report.rejected == 0
    with world.connect() as c:
        row = quota_report(c, load_settings(None), investor="S1")["investors"][0]
    assert row["used"] == "0.00" and row["remaining"] == "3000000.00"


def test_channel_quota_for_an_investor_on_two_channels(world: Engine, tmp_path: Path) -> None:
    report = settle(world, tmp_path, [
        _fund("S2-REM-BANK", "5000000.00"), _fund("S2-REM-BRK", "5000000.00"),
        ins("R1", "remit", "S2-REM-BANK", "S2-INV-BANK", "1500000.00", "CNY", investor_id="S2"),
        ins("R2", "remit", "S2-REM-BANK", "S2-INV-BANK", "0.01", "CNY", investor_id="S2"),
        ins("R3", "remit", "S2-REM-BRK", "S2-INV-BRK", "1500000.00", "CNY", investor_id="S2"),
    ])
    assert codes(report) == {"R2": "quota_exceeded_channel"}
    with world.connect() as c:
        rows = quota_report(c, load_settings(None), investor="S2")["investors"]
    assert [(r["channel"], r["used"], r["remaining"]) for r in rows] == [
        ("bank", "1500000.00", "0.00"), ("broker", "1500000.00", "0.00")]


def test_aggregate_quota_counts_earlier_instructions(world: Engine, tmp_path: Path) -> None:
    settings = settings_with(tmp_path, '[quota]\naggregate_per_direction = "2000000.00"\n'
                                       'individual = "3000000.00"\n')
    report = settle(world, tmp_path, [
        _fund("S1-REM", "5000000.00"), _fund("S2-REM-BANK", "5000000.00"),
        _fund("N1-REM", "5000000.00", bank="B"),
        ins("R1", "remit", "S1-REM", "S1-INV", "1500000.00", "CNY", investor_id="S1"),
        ins("R2", "remit", "S2-REM-BANK", "S2-INV-BANK", "600000.00", "CNY", investor_id="S2"),
        ins("R3", "remit", "N1-REM", "N1-INV", "1900000.00", "CNY", investor_id="N1"),
        ins("R4", "remit", "S2-REM-BANK", "S2-INV-BANK", "500000.00", "CNY", investor_id="S2"),
    ], settings=settings)
    assert codes(report) == {"R2": "quota_exceeded_aggregate"}


def test_products_eligibility(world: Engine, tmp_path: Path) -> None:
    report = settle(world, tmp_path, [
        _fund("S1-INV-HKD", "100000.00", "HKD", bank="A"), _fund("N1-REM", "100000.00", bank="B"),
        ins("R1", "remit", "N1-REM", "N1-INV", "100000.00", "CNY", investor_id="N1"),
        ins("P1", "subscribe", "S1-INV-HKD", "FUND-SB-HKD", "50000.00", "HKD",
            investor_id="S1", product="SB-FUND"),
        ins("P2", "subscribe", "N1-INV", "FUND-NB-CNY", "1000.00", "CNY", investor_id="N1",
            product="NB-FUND"),
        ins("P3", "subscribe", "N1-INV", "FUND-R5-CNY", "1000.00", "CNY", investor_id="N1",
            product="NB-STRUCT"),
        ins("P4", "subscribe", "N1-INV", "FUND-SB-HKD", "1000.00", "CNY", investor_id="N1",
            product="SB-FUND"),
        ins("P5", "redeem", "FUND-SB-HKD", "S1-INV-HKD", "20000.00", "HKD", investor_id="S1",
            product="SB-FUND"),
        ins("P6", "subscribe", "N1-INV", "FUND-NB-CNY", "1000.00", "CNY", investor_id="N1",
            product="NOPE"),
    ])
    assert codes(report) == {"P3": "product_not_eligible", "P4": "product_not_eligible",
                             "P6": "unknown_product"}
    assert _bal(world)["S1-INV-HKD"] == 7_000_000


def test_common_checks(world: Engine, tmp_path: Path) -> None:
    report = settle(world, tmp_path, [
        ins("X1", "transfer", "NOPE", "A-CUST-HKD", "1.00"),
        ins("X2", "transfer", "A-CUST-HKD", "A-CUST-HKD", "1.00"),
        ins("X3", "transfer", "A-NOSTRO-HKD", "A-CUST-CNY", "1.00"),
        ins("X4", "transfer", "A-CUST-HKD", "B-CUST-HKD", "1.00"),
        ins("X5", "fee", "A-NOSTRO-HKD", "A-CUST-HKD", "1.00"),
        ins("OK1", "fee", "A-NOSTRO-HKD", "A-FEES-HKD", "1.00"),
    ])
    assert codes(report) == {"X1": "unknown_account", "X2": "accounts_must_be_different",
                             "X3": "currency_mismatch", "X4": "insufficient_funds",
                             "X5": "fee_not_to_income"}


def test_idempotent_file_and_conflicting_ids(world: Engine, tmp_path: Path) -> None:
    rows = [ins("I1", "transfer", "A-NOSTRO-HKD", "A-CUST-HKD", "100.00"),
            ins("I2", "transfer", "A-CUST-HKD", "B-CUST-HKD", "40.00"),
            ins("I3", "transfer", "A-CUST-HKD", "B-CUST-HKD", "90.00")]
    first = settle(world, tmp_path, rows)
    assert codes(first) == {"I3": "insufficient_funds"}
    settle(world, tmp_path, [ins("I9", "transfer", "A-NOSTRO-HKD", "A-CUST-HKD", "500.00")],
           name="more.csv")
    second = settle(world, tmp_path, rows)  # I3 would pass now: its rejection stands
    assert (first.accepted, second.accepted, second.duplicates) == (2, 0, 3)
    changed = [ins("I2", "transfer", "A-CUST-HKD", "B-CUST-HKD", "41.00")]
    third = settle(world, tmp_path, changed, name="changed.csv")
    assert codes(third) == {"I2": "exists_with_different_content"}
    assert _bal(world)["B-CUST-HKD"] == 4_000
    with world.connect() as c:
        assert verify(c).ok


def test_malformed_file_lists_every_problem_and_writes_nothing(world: Engine,
                                                              tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "instruction_id,kind,debit_account,credit_account,amount,currency,value_date\n"
        "G1,transfer,A-NOSTRO-HKD,A-CUST-HKD,10.00,HKD,2025-03-03\n"
        "B2,transfer,A-NOSTRO-HKD,A-CUST-HKD,10.005,MOP,2025-03-03\n"
        "B3,teleport,A-NOSTRO-HKD,A-CUST-HKD,1.00,HKD,2025-03-03\n"
        "B4,transfer,A-NOSTRO-HKD,A-CUST-HKD,-1.00,HKD,03/03/2025\n", encoding="utf-8")
    from settlement.engine import BatchOptions, settle_file

    with pytest.raises(InputError) as exc:
        settle_file(world, path, BatchOptions())
    message = str(exc.value)
    for needle in (f"{path}:3: field 'amount'", f"{path}:4: field 'kind'",
                   f"{path}:5: field 'amount'", f"{path}:5: field 'value_date'"):
        assert needle in message
    with world.connect() as c:
        assert c.execute(text("SELECT count(*) FROM entries")).scalar() == 0
        assert c.execute(text("SELECT count(*) FROM batches")).scalar() == 0


def test_atomic_rolls_back_on_any_rejection(world: Engine, tmp_path: Path) -> None:
    rows = [ins("A1", "transfer", "A-NOSTRO-HKD", "A-CUST-HKD", "100.00"),
            ins("A2", "transfer", "A-CUST-HKD", "B-CUST-HKD", "400.00")]
    with pytest.raises(AtomicRollback) as exc:
        settle(world, tmp_path, rows, atomic=True)
    assert codes(exc.value.report) == {"A2": "insufficient_funds"}
    with world.connect() as c:
        assert c.execute(text("SELECT count(*) FROM entries")).scalar() == 0


def test_conversions_book_spread_and_balance(world: Engine, tmp_path: Path) -> None:
    report = settle(world, tmp_path, [
        _fund("S1-REM", "100000.00"),
        ins("R1", "remit", "S1-REM", "S1-INV", "100000.00", "CNY", investor_id="S1"),
        ins("C1", "convert", "S1-INV", "S1-INV-HKD", "100000.00", "CNY"),
        ins("C2", "convert", "S1-INV-HKD", "S1-INV", "10.00", "HKD", book="nobook"),
        ins("C3", "convert", "S1-INV-HKD", "S1-INV", "1000.00", "HKD", rate="0.9400"),
    ])
    assert codes(report) == {"C2": "no_rate"}, report.rejections
    bal = _bal(world)
    assert bal["S1-INV-HKD"] == 10_584_000 - 100_000  # CNY 100,000.00 x 1.0584, less C3
    assert bal["S1-INV"] == 94_000
    with world.connect() as c:
        assert all(t.debits == t.credits for t in trial_balance(c).currencies)
        meta = c.execute(text("SELECT meta FROM entries WHERE id = 'C1'")).scalar_one()
        assert "1.0584" in meta
        assert verify(c).ok


def test_one_dealt_rate_dealt_again_books_what_that_rate_gives(world: Engine,
                                                               tmp_path: Path) -> None:
    """Dealt rates are kept (FastRate.dealt): the same rate written "0.94" or "0.9400", and
    another rate after it, each book the amount and the meta of their own rate, made afresh."""
    dealt = [("D1", "1000.00", "0.9400"), ("D2", "333.33", "0.94"), ("D3", "333.33", "0.9401")]
    settle(world, tmp_path, [
        _fund("S1-REM", "100000.00"),
        ins("R1", "remit", "S1-REM", "S1-INV", "100000.00", "CNY", investor_id="S1"),
        ins("C0", "convert", "S1-INV", "S1-INV-HKD", "50000.00", "CNY"),
        *(ins(iid, "convert", "S1-INV-HKD", "S1-INV", amount, "HKD", rate=rate)
          for iid, amount, rate in dealt),
    ])
    mode = Rounding(load_settings(None).fx.rounding_for("default"))
    with world.connect() as c:
        for iid, amount, rate_text in dealt:
            meta, bought = c.execute(text(
                "SELECT e.meta, t.amount FROM entries e JOIN transfers t ON t.entry_seq = e.seq "
                "JOIN accounts k ON k.id = t.credit_account_id "
                "WHERE e.id = :id AND k.code = 'S1-INV'"), {"id": iid}).one()
            rate = dealt_rate("HKD", "CNY", Decimal(rate_text))  # a new object: not kept
            assert meta == canonical_meta(rate_meta(rate, mode))
            assert int(bought) == convert(parse_amount(amount, "HKD"), rate, mode).buy_amount


def test_stale_rate(world: Engine, tmp_path: Path) -> None:
    report = settle(world, tmp_path, [
        _fund("S1-REM", "100.00"),
        ins("R1", "remit", "S1-REM", "S1-INV", "100.00", "CNY", investor_id="S1"),
        ins("C1", "convert", "S1-INV", "S1-INV-HKD", "10.00", "CNY", value_date="2025-03-10",
            submitted_at="2025-03-10T10:00:00+08:00"),
    ])
    assert codes(report) == {"C1": "stale_rate"}
    assert "CNY" in report.rejections[0].message and "2025-03-03" in report.rejections[0].message


def test_mainland_holiday_moves_the_cn_leg_only(world: Engine, tmp_path: Path) -> None:
    # 28 Jan - 4 Feb 2025 is closed on the Mainland; Monday 3 Feb is open in HK and Macau.
    report = settle(world, tmp_path, [
        ins("H1", "transfer", "C-NOSTRO-HKD", "A-NOSTRO-HKD", "100.00", value_date="2025-02-03",
            submitted_at="2025-02-03T10:00:00+08:00"),
        ins("H2", "transfer", "A-NOSTRO-HKD", "B-NOSTRO-HKD", "100.00", value_date="2025-02-03",
            submitted_at="2025-02-03T10:00:00+08:00"),
        ins("H3", "transfer", "C-NOSTRO-HKD", "C-CUST-HKD", "100.00", value_date="2025-01-26",
            submitted_at="2025-01-26T10:00:00+08:00"),
        # rejected (insufficient funds): its moved leg is not reported
        ins("H4", "transfer", "C-CUST-HKD", "A-CUST-HKD", "9999.00", value_date="2025-02-03",
            submitted_at="2025-02-03T10:00:00+08:00"),
    ])
    moved = {(m["instruction_id"], m["market"]): m["value_date"]
             for m in report.to_dict()["moved_dates"]}
    assert moved == {("H1", "CN"): "2025-02-05"}  # 26 Jan 2025 was a make-up working day
    with world.connect() as c:
        from settlement.batches import load_report

        assert load_report(c, report.batch_id).moved_dates == report.moved_dates
    with world.connect() as c:
        legs = c.execute(text(
            "SELECT t.value_date FROM transfers t JOIN entries e ON e.seq = t.entry_seq "
            "WHERE e.id = 'H1' ORDER BY t.id")).scalars().all()
    assert [str(d) for d in legs] == ["2025-02-05", "2025-02-03"]
    oblig = {(o.payer, o.payee): o.value_date.isoformat() for o in report.obligations}
    assert oblig[("C", "A")] == "2025-02-05" and oblig[("A", "B")] == "2025-02-03"


def test_cutoff_takes_the_next_business_day(world: Engine, tmp_path: Path) -> None:
    report = settle(world, tmp_path, [
        _fund("S1-REM", "100.00"),
        ins("E1", "remit", "S1-REM", "S1-INV", "10.00", "CNY", investor_id="S1",
            value_date="2025-03-07", submitted_at="2025-03-07T19:29:59+08:00"),
        ins("L1", "remit", "S1-REM", "S1-INV", "10.00", "CNY", investor_id="S1",
            value_date="2025-03-07", submitted_at="2025-03-07T19:30:00+08:00"),
    ])
    dates = {g.instruction_id: g.value_date.isoformat() for g in report.gross_payments}
    assert dates == {"E1": "2025-03-07", "L1": "2025-03-10"}  # Friday after 19:30: Monday


def test_json_report_is_deterministic(world: Engine, tmp_path: Path) -> None:
    rows = [ins("J1", "transfer", "A-NOSTRO-HKD", "B-NOSTRO-HKD", "12.34")]
    data = settle(world, tmp_path, rows).to_dict()
    assert json.dumps(data)  # serialisable, amounts are strings
    assert data["positions"][0]["net"] == "-12.34"


@pytest.mark.parametrize("sql", [
    "UPDATE batches SET accepted = accepted + 1",
    "UPDATE batch_positions SET net = 0",
    "DELETE FROM rejected_instructions",
    "DELETE FROM batch_rejections",
])
def test_a_settled_batch_record_is_append_only(world: Engine, tmp_path: Path, sql: str) -> None:
    from sqlalchemy.exc import DBAPIError

    settle(world, tmp_path, [ins("A1", "transfer", "A-NOSTRO-HKD", "B-NOSTRO-HKD", "1.00"),
                             ins("A2", "transfer", "A-CUST-HKD", "B-CUST-HKD", "9.00")])
    with pytest.raises(DBAPIError), world.begin() as c:
        c.execute(text(sql))


def test_a_batch_runs_the_garbage_collector_less_often_and_puts_it_back(
        world: Engine, tmp_path: Path) -> None:
    import gc

    from settlement.engine import BatchOptions, fewer_collections, settle_file

    before = gc.get_threshold()
    path = tmp_path / "day.csv"
    path.write_text(
        "instruction_id,kind,debit_account,credit_account,amount,currency,value_date\n"
        "G1,transfer,A-NOSTRO-HKD,A-CUST-HKD,10.00,HKD,2025-03-03\n", encoding="utf-8")
    during: list[tuple[int, int, int]] = []
    settle_file(world, path, BatchOptions(progress=lambda n: during.append(gc.get_threshold())))
    assert during and during[0][0] >= 50_000
    assert gc.get_threshold() == before
    path.write_text("no,such,header\n", encoding="utf-8")
    with pytest.raises(InputError):
        settle_file(world, path, BatchOptions())
    assert gc.get_threshold() == before  # after a refused file too
    with fewer_collections(), fewer_collections():  # nested (concurrent batches): last one out
        assert gc.get_threshold()[0] >= 50_000
    assert gc.get_threshold() == before
