"""Several processes posting to the same accounts of one PostgreSQL ledger at once."""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor

import pytest
from sqlalchemy import Engine, text

from ledger.audit import verify
from ledger.db import make_engine, transaction
from ledger.posting import post_entries
from ledger.reports import balances
from tests.ledger_builders import POSTED_AT, entry, post, seed

WORKERS, BATCHES, PER_BATCH, AMOUNT = 4, 6, 25, 700
FUNDED = 50_000  # less than the 4 * 6 * 25 * 700 = 420,000 the workers try to move


def _worker(url: str, isolation: str, worker: int) -> int:
    eng = make_engine(url, isolation_level=isolation)
    accepted = 0
    for b in range(BATCHES):
        batch = [
            entry(f"w{worker}-b{b}-{i}", "A-CUST-HKD", ("B-CUST-HKD", "C-CUST-HKD")[i % 2],
                  AMOUNT)
            for i in range(PER_BATCH)
        ]
        results = transaction(eng, lambda c, batch=batch, b=b: post_entries(  # type: ignore[misc]
            c, batch, posted_at=POSTED_AT, batch_id=f"w{worker}-{b}"))
        accepted += sum(r.code == "ok" for r in results)
    eng.dispose()
    return accepted


@pytest.mark.postgres
@pytest.mark.parametrize("isolation", ["READ COMMITTED", "SERIALIZABLE"])
def test_concurrent_writers_lose_nothing_and_never_overdraw(
    engine: Engine, db_url: str, isolation: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrency of writers is tested on PostgreSQL")
    seed(engine)
    post(engine, [entry("fund", "A-NOSTRO-HKD", "A-CUST-HKD", FUNDED)])
    with ProcessPoolExecutor(WORKERS, mp_context=mp.get_context("spawn")) as pool:
        accepted = sum(pool.map(_worker, [db_url] * WORKERS, [isolation] * WORKERS,
                                range(WORKERS)))
    assert accepted == FUNDED // AMOUNT
    with engine.connect() as c:
        bal = {b.account: b.balance for b in balances(c)}
        assert bal["A-CUST-HKD"] == FUNDED - accepted * AMOUNT >= 0
        assert bal["B-CUST-HKD"] + bal["C-CUST-HKD"] == accepted * AMOUNT
        assert c.execute(text("SELECT count(*) FROM entries")).scalar() == accepted + 1
        assert verify(c).ok
