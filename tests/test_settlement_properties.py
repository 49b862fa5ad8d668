"""Properties of the engine over random batches: positions sum to zero, quotas hold, and the
result does not depend on how the file is chunked."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

import settlement.engine as engine_module
from ledger.db import make_engine
from ledger.migrate import upgrade
from tests.settlement_builders import build_world, ins, settings_with, settle

ACCOUNTS = ["A-NOSTRO-HKD", "B-NOSTRO-HKD", "C-NOSTRO-HKD", "A-CUST-HKD", "B-CUST-HKD",
            "C-CUST-HKD"]
REMITS = [("S1", "S1-REM", "S1-INV"), ("S2", "S2-REM-BANK", "S2-INV-BANK"),
          ("S2", "S2-REM-BRK", "S2-INV-BRK"), ("N1", "N1-REM", "N1-INV")]


@st.composite
def batches(draw: st.DrawFn) -> list[dict[str, str]]:
    rows = [ins("F1", "transfer", "C-NOSTRO-CNY", "S1-REM", "4000000.00", "CNY"),
            ins("F2", "transfer", "C-NOSTRO-CNY", "S2-REM-BANK", "4000000.00", "CNY"),
            ins("F3", "transfer", "C-NOSTRO-CNY", "S2-REM-BRK", "4000000.00", "CNY"),
            ins("F4", "transfer", "B-NOSTRO-CNY", "N1-REM", "4000000.00", "CNY")]
    for i in range(draw(st.integers(1, 40))):
        if draw(st.booleans()):
            d, c = draw(st.sampled_from(ACCOUNTS)), draw(st.sampled_from(ACCOUNTS))
            rows.append(ins(f"T{i}", "transfer", d, c, f"{draw(st.integers(1, 900_000))}.00"))
        else:
            inv, rem, acc = draw(st.sampled_from(REMITS))
            back = draw(st.booleans())
            amount = f"{draw(st.integers(1, 1_600_000))}.{draw(st.integers(0, 99)):02d}"
            rows.append(ins(f"R{i}", "repatriate" if back else "remit", acc if back else rem,
                            rem if back else acc, amount, "CNY", investor_id=inv))
        if draw(st.integers(0, 5)) == 0:
            # An id again, in this chunk or a later one, after it was accepted or rejected:
            # as it was (a duplicate) or with another amount (different content).
            again = dict(draw(st.sampled_from(rows[4:])))
            if draw(st.booleans()):
                again["amount"] = "1.00"
            rows.append(again)
    return rows


def _state(engine: Engine) -> tuple[object, ...]:
    with engine.connect() as c:
        return (
            c.execute(text("SELECT code, debits_posted, credits_posted FROM accounts "
                           "ORDER BY code")).all(),
            c.execute(text("SELECT * FROM quota_usage ORDER BY 1, 2")).all(),
            c.execute(text("SELECT * FROM aggregate_quota ORDER BY 1")).all(),
        )


@pytest.mark.slow
@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=batches(), chunk=st.integers(1, 7))
def test_random_batches(tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, str]],
                        chunk: int) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    quota = settings_with(tmp, '[quota]\naggregate_per_direction = "5000000.00"\n')
    results = []
    for size in (engine_module.CHUNK, chunk):
        folder = tmp / f"c{size}"
        folder.mkdir()
        eng = make_engine(f"sqlite:///{folder}/ledger.db")
        upgrade(eng)
        build_world(eng, folder)
        original = engine_module.CHUNK, engine_module.LAST_CHUNK_PIECE
        # The small chunks' last one is also written behind in pieces of a row or two.
        engine_module.CHUNK = size
        engine_module.LAST_CHUNK_PIECE = size if size == chunk else original[1]
        try:
            report = settle(eng, folder, rows, settings=quota)
        finally:
            engine_module.CHUNK, engine_module.LAST_CHUNK_PIECE = original
        results.append((report.to_dict(), _state(eng)))
        # positions of each currency sum to zero; every bank's obligations give its position
        per_currency: dict[str, int] = {}
        for p in report.positions:
            per_currency[p.currency] = per_currency.get(p.currency, 0) + p.net
        assert set(per_currency.values()) <= {0}
        for p in report.positions:
            owed = sum(o.amount for o in report.obligations
                       if o.currency == p.currency and o.payee == p.bank_id) - sum(
                o.amount for o in report.obligations
                if o.currency == p.currency and o.payer == p.bank_id)
            assert owed == p.net
        # no quota is ever exceeded
        with eng.connect() as c:
            for inv, used in c.execute(text(
                    "SELECT investor_id, sum(used) FROM quota_usage GROUP BY investor_id")):
                assert used <= 300_000_000, inv
            for ch_used, n in c.execute(text(
                    "SELECT u.used, (SELECT count(*) FROM investors j "
                    "WHERE j.investor_id = u.investor_id) FROM quota_usage u")):
                assert n == 1 or ch_used <= 150_000_000
            for _, used in c.execute(text("SELECT direction, used FROM aggregate_quota")):
                assert used <= 500_000_000
        eng.dispose()
    assert results[0] == results[1]  # chunking changes nothing
