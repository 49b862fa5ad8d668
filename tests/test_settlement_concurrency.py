"""Two batches at once on PostgreSQL, on the same accounts and the same aggregate quota."""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from ledger.audit import verify
from ledger.db import make_engine
from settlement.engine import BatchOptions, settle_file
from settlement.settings import load_settings
from tests.settlement_builders import INSTRUCTION_COLUMNS, build_world, ins, settle, write_csv

SETTINGS = '[quota]\naggregate_per_direction = "2000000.00"\n'


def _run(url: str, path: str, settings_path: str, isolation: str) -> dict[str, str]:
    engine = make_engine(url, isolation_level=isolation)
    report = settle_file(engine, Path(path), BatchOptions(settings=load_settings(settings_path)))
    engine.dispose()
    return {r.instruction_id: r.code for r in report.rejections}


@pytest.mark.postgres
@pytest.mark.parametrize("isolation", ["READ COMMITTED", "SERIALIZABLE"])
def test_two_batches_cannot_overrun_the_aggregate_quota(
    engine: Engine, db_url: str, tmp_path: Path, isolation: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent batches are tested on PostgreSQL")
    build_world(engine, tmp_path)
    settle(engine, tmp_path, [
        ins("F1", "transfer", "C-NOSTRO-CNY", "S1-REM", "5000000.00", "CNY"),
        ins("F2", "transfer", "C-NOSTRO-CNY", "S2-REM-BANK", "5000000.00", "CNY"),
        ins("F3", "transfer", "C-NOSTRO-CNY", "C-CUST-CNY", "100.00", "CNY"),
    ], name="fund.csv")
    settings = tmp_path / "settings.toml"
    settings.write_text(SETTINGS, encoding="utf-8")
    one = write_csv(tmp_path / "one.csv", [
        ins("R1", "remit", "S1-REM", "S1-INV", "1200000.00", "CNY", investor_id="S1"),
        ins("P1", "transfer", "C-CUST-CNY", "A-CUST-CNY", "60.00", "CNY"),
    ], INSTRUCTION_COLUMNS)
    two = write_csv(tmp_path / "two.csv", [
        ins("R2", "remit", "S2-REM-BANK", "S2-INV-BANK", "1200000.00", "CNY", investor_id="S2"),
        ins("P2", "transfer", "C-CUST-CNY", "B-CUST-CNY", "60.00", "CNY"),
    ], INSTRUCTION_COLUMNS)
    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
        results = list(pool.map(_run, [db_url] * 2, [str(one), str(two)],
                                [str(settings)] * 2, [isolation] * 2))
    rejected = {k: v for r in results for k, v in r.items()}
    # Exactly one remittance fits the 2,000,000 cap, and one of the 60.00 payments the 100.00.
    assert sorted(rejected.values()) == ["insufficient_funds", "quota_exceeded_aggregate"]
    with engine.connect() as c:
        used = c.execute(text(
            "SELECT used FROM aggregate_quota WHERE direction = 'southbound'")).scalar_one()
        assert used == 120_000_000
        cust = c.execute(text(
            "SELECT credits_posted - debits_posted FROM accounts WHERE code = 'C-CUST-CNY'"
        )).scalar_one()
        assert cust == 4_000
        assert c.execute(text("SELECT count(*) FROM batches")).scalar_one() == 3
        assert verify(c).ok
