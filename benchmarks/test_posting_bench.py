"""Posting entries in bulk, beside the storage limit measured in the same run.

``test_post_entries``: 10,000 one-transfer entries per round through ``ledger.posting``
(idempotency lookups, account checks, running balances, hash chain, bulk writes, balance update).
``test_raw_insert``: the same rows (entries and transfers, same tables, same indexes, triggers
and constraints) written by the fastest raw route: COPY on PostgreSQL, driver executemany on
SQLite. The ratio of the two means is the figure the ledger is held to (goal: at least 0.5).
Run: ``make bench`` or ``.venv/bin/pytest benchmarks/test_posting_bench.py --benchmark-only``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from typing import Any

import pytest
from sqlalchemy import Engine

from ledger.db import transaction
from ledger.entries import EntrySpec, TransferSpec
from ledger.posting import ENTRY_COLUMNS, TRANSFER_COLUMNS, post_entries, write_rows
from ledger.refdata import load_accounts, load_banks

BATCH = 10_000
ACCOUNTS = 1_000
DAY = dt.date(2025, 3, 3)
POSTED_AT = "2025-03-03T18:00:00+08:00"
_ids = itertools.count()


def _seed(engine: Engine) -> None:
    def work(conn: Any) -> None:
        load_banks(conn, [{"bank_id": "A", "name": "A", "market": "HK"}])
        load_accounts(conn, [{"account": "NOSTRO", "bank_id": "A", "type": "asset",
                              "currency": "HKD", "allow_overdraft": True}]
                      + [{"account": f"C{i:05d}", "bank_id": "A", "type": "liability",
                          "currency": "HKD"} for i in range(ACCOUNTS)])

    transaction(engine, work)


def _entries() -> list[EntrySpec]:
    n = next(_ids)
    return [
        EntrySpec(f"E{n:04d}-{i:06d}", "transfer", DAY,
                  (TransferSpec("NOSTRO", f"C{i % ACCOUNTS:05d}", 100 + i, "HKD"),))
        for i in range(BATCH)
    ]


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    _seed(engine)
    return engine


def test_post_entries(benchmark: Any, ledger: Engine) -> None:
    def run(entries: list[EntrySpec]) -> None:
        transaction(ledger, lambda c: post_entries(c, entries, posted_at=POSTED_AT,
                                                   batch_id="BENCH"))

    benchmark.extra_info["rows_per_round"] = 2 * BATCH
    benchmark.pedantic(run, setup=lambda: ((_entries(),), {}), rounds=12, warmup_rounds=1)


def test_raw_insert(benchmark: Any, ledger: Engine) -> None:
    with ledger.connect() as conn:
        ids = {r[0]: r[1] for r in conn.exec_driver_sql("SELECT code, id FROM accounts")}
    state = {"seq": 0}

    def rows() -> tuple[tuple[Any, ...], dict[str, Any]]:
        entries, transfers = [], []
        for e in _entries():
            state["seq"] += 1
            seq, t = state["seq"], e.transfers[0]
            digest = hashlib.sha256(e.id.encode()).hexdigest()
            entries.append((seq, e.id, e.kind, "2025-03-03", "BENCH", None, None, digest,
                            POSTED_AT, digest))
            transfers.append((seq, seq, ids[t.debit], ids[t.credit], t.amount, t.currency,
                              "2025-03-03", e.id))
        return (entries, transfers), {}

    def run(entries: list[tuple[Any, ...]], transfers: list[tuple[Any, ...]]) -> None:
        def work(conn: Any) -> None:
            write_rows(conn, "entries", ENTRY_COLUMNS, entries)
            write_rows(conn, "transfers", TRANSFER_COLUMNS, transfers)

        transaction(ledger, work)

    benchmark.extra_info["rows_per_round"] = 2 * BATCH
    benchmark.pedantic(run, setup=rows, rounds=12, warmup_rounds=1)
