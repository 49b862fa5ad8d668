"""Migration 0006: accounts.currency checks the code's shape, on a database that holds data."""

from __future__ import annotations

import pytest
from sqlalchemy import exc, text

from ledger.db import make_engine
from ledger.migrate import upgrade


def _account(code: str, currency: str, bank: str = "B1") -> str:
    return (
        "INSERT INTO accounts (code, bank_id, type, currency, name, allow_overdraft, closed,"
        f" debits_posted, credits_posted) VALUES ('{code}', '{bank}', 'asset', '{currency}',"
        " '', false, false, 0, 0)"
    )


def test_upgrade_keeps_rows_and_triggers_and_checks_the_shape(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0004")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO banks (bank_id, name, market) VALUES ('B1', 'B', 'HK')"))
            conn.execute(text(_account("HKD-1", "HKD")))
            with pytest.raises(exc.IntegrityError), conn.begin_nested():
                conn.execute(text(_account("EUR-0", "EUR")))
        upgrade(engine)
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT code, currency FROM accounts")).all()
            assert [tuple(r) for r in rows] == [("HKD-1", "HKD")]
            conn.execute(text(_account("EUR-1", "EUR")))  # carried or not is the loader's job
            for bad in ("eur", "EU", "EURO", "E1R"):
                # PostgreSQL's VARCHAR(3) refuses "EURO" before the CHECK does.
                with pytest.raises((exc.IntegrityError, exc.DataError)), conn.begin_nested():
                    conn.execute(text(_account(f"BAD-{bad}", bad)))
            # The identity trigger survived: an account's currency never changes.
            with pytest.raises(exc.DatabaseError), conn.begin_nested():
                conn.execute(text("UPDATE accounts SET currency = 'MOP' WHERE code = 'HKD-1'"))
        upgrade(engine)  # twice is harmless
    finally:
        engine.dispose()
