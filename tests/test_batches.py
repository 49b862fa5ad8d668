"""Stored batches (``Ledger.batch_list``, ``wmc settle list``) and what each batch changed in
quota usage, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from moneyed import Money
from sqlalchemy import text
from typer.testing import CliRunner

from cli.main import app
from tests.settlement_builders import (
    BANKS,
    INSTRUCTION_COLUMNS,
    INVESTORS,
    PRODUCTS,
    RATES,
    _accounts,
    ins,
    write_csv,
)
from wmc_ledger import FixedClock, Ledger

runner = CliRunner()


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    with Ledger.open(db_url, clock=FixedClock("2025-03-03T20:00:00+08:00")).init() as opened:
        opened.load_banks(BANKS)
        opened.load_accounts(_accounts())
        opened.load_investors(INVESTORS)
        opened.load_products(PRODUCTS)
        opened.load_rates(RATES)
        yield opened


def test_settle_list_shows_every_batch_with_its_file_and_counts(ledger: Ledger,
                                                                 tmp_path: Path) -> None:
    day = write_csv(tmp_path / "day.csv", [
        ins("F-1", "transfer", "A-NOSTRO-HKD", "A-CUST-HKD", "100.00"),
        ins("F-2", "transfer", "A-CUST-HKD", "B-CUST-HKD", "500.00"),
    ], INSTRUCTION_COLUMNS)
    first = ledger.settle(day)
    again = ledger.settle(day)
    listed = ledger.batch_list()
    assert [b.batch_id for b in listed] == [first.batch_id, again.batch_id] == ledger.batches()
    one, two = listed
    assert one.file_sha256 == hashlib.sha256(day.read_bytes()).hexdigest() == two.file_sha256
    assert one.file_name == str(day) and one.committed_at.startswith("2025-03-03T20:00")
    assert (one.instructions, one.accepted, one.rejected, one.duplicates) == (2, 1, 1, 0)
    assert (two.accepted, two.rejected, two.duplicates) == (0, 0, 2)  # outcomes are final
    assert one.state == two.state == "settled" and one.reversed_by is None
    db = ledger.engine.url.render_as_string(hide_password=False)
    res = runner.invoke(app, ["--db", db, "settle", "list", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == [b.to_dict() for b in listed]
    assert json.loads(res.stdout)[0]["posted_at"] == one.committed_at
    res = runner.invoke(app, ["--db", db, "settle", "list", "--format", "csv"])
    assert res.stdout.splitlines()[0] == ("batch_id,file,file_sha256,posted_at,instructions,"
                                          "accepted,rejected,duplicates,state,reverses,"
                                          "reversed_by")
    res = runner.invoke(app, ["--db", db, "settle", "list"])
    assert res.exit_code == 0 and first.batch_id in res.stdout and "settled" in res.stdout


def test_each_batch_records_what_it_changed_in_quota_usage(ledger: Ledger) -> None:
    ledger.transfer("FUND", "C-NOSTRO-CNY", "S1-REM", Money("90000.00", "CNY"))
    ledger.settle([ins("R-1", "remit", "S1-REM", "S1-INV", "50000.00", "CNY", investor_id="S1")])
    # The floor: bringing home more than the net usage leaves usage at zero, not below.
    ledger.transfer("GAIN", "A-NOSTRO-CNY", "S1-INV", Money("10000.00", "CNY"))
    ledger.settle([ins("P-1", "repatriate", "S1-INV", "S1-REM", "60000.00", "CNY",
                       investor_id="S1")])
    with ledger.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT batch_id, investor_id, channel, remitted_out, remitted_back, used "
            "FROM batch_quota_changes ORDER BY batch_id")).all()
        agg = conn.execute(text(
            "SELECT batch_id, direction, used FROM batch_aggregate_changes "
            "WHERE used <> 0 ORDER BY batch_id")).all()
        usage = conn.execute(text("SELECT remitted_out, remitted_back, used FROM quota_usage "
                                  "WHERE investor_id = 'S1'")).one()
    assert [tuple(r) for r in rows] == [
        ("B00000001", "S1", "bank", 5_000_000, 0, 5_000_000),
        ("B00000002", "S1", "bank", 0, 6_000_000, -5_000_000)]
    assert [tuple(r) for r in agg] == [("B00000001", "southbound", 5_000_000),
                                       ("B00000002", "southbound", -6_000_000)]
    assert tuple(usage) == (5_000_000, 6_000_000, 0)
