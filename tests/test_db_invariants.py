"""The database itself refuses what the library would never write: raw SQL cannot break it."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from ledger.audit import verify
from tests.ledger_builders import entry, post, seed


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    seed(engine)
    post(engine, [entry("e1", "A-NOSTRO-HKD", "A-CUST-HKD", 1_000)])
    return engine


def _ids(conn: object) -> dict[str, int]:
    return {r[0]: r[1] for r in conn.execute(text("SELECT code, id FROM accounts"))}  # type: ignore[attr-defined]


def _raw_transfer(engine: Engine, debit: str, credit: str, amount: object,
                  currency: str) -> None:
    with engine.begin() as c:
        ids = _ids(c)
        c.execute(text(
            "INSERT INTO transfers (id, entry_seq, debit_account_id, credit_account_id, amount, "
            "currency, value_date) VALUES (999, 1, :d, :c, :a, :cur, '2025-03-03')"
        ), {"d": ids[debit], "c": ids[credit], "a": amount, "cur": currency})


@pytest.mark.parametrize(
    ("debit", "credit", "amount", "currency"),
    [
        ("A-NOSTRO-HKD", "A-CUST-HKD", 0, "HKD"),
        ("A-NOSTRO-HKD", "A-CUST-HKD", -100, "HKD"),
        ("A-NOSTRO-HKD", "A-NOSTRO-HKD", 100, "HKD"),
        ("A-NOSTRO-HKD", "A-CUST-HKD", 100, "CNY"),
        ("A-NOSTRO-HKD", "A-CUST-CNY", 100, "HKD"),
        ("A-NOSTRO-CNY", "A-CUST-HKD", 100, "CNY"),
        ("A-NOSTRO-HKD", "A-CUST-HKD", "abc", "HKD"),
    ],
    ids=["zero", "negative", "same-account", "wrong-currency", "mixed-debit", "mixed-credit",
         "text-amount"],
)
def test_raw_insert_of_a_bad_transfer_is_refused(
    ledger: Engine, debit: str, credit: str, amount: object, currency: str
) -> None:
    with pytest.raises(DBAPIError):
        _raw_transfer(ledger, debit, credit, amount, currency)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE transfers SET amount = amount + 1",
        "DELETE FROM transfers",
        "UPDATE entries SET kind = 'fee'",
        "DELETE FROM entries",
        "UPDATE accounts SET currency = 'CNY' WHERE code = 'A-CUST-HKD'",
        "DELETE FROM accounts WHERE code = 'C-CUST-HKD'",
        "UPDATE accounts SET debits_posted = debits_posted + 5000 WHERE code = 'A-CUST-HKD'",
        # text compares above any number in SQLite: the no-overdraft CHECK alone would pass it
        "UPDATE accounts SET credits_posted = 'x', debits_posted = 5000 "
        "WHERE code = 'A-CUST-HKD'",
        "DELETE FROM ledger_head",
    ],
)
def test_raw_update_or_delete_is_refused(ledger: Engine, sql: str) -> None:
    with pytest.raises(DBAPIError), ledger.begin() as c:
        c.execute(text(sql))
    with ledger.connect() as c:
        assert verify(c).ok


@pytest.mark.parametrize("table", ["transfers", "ledger_head"])
def test_truncate_is_refused_on_postgres(ledger: Engine, table: str) -> None:
    if ledger.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    with pytest.raises(DBAPIError), ledger.begin() as c:
        c.execute(text(f"TRUNCATE {table} CASCADE"))


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT OR REPLACE INTO entries (seq, id, kind, value_date, digest, posted_at, hash) "
        "VALUES (1, 'e1', 'forged', '2025-03-03', 'x', 'x', 'x')",
        "INSERT OR REPLACE INTO transfers (id, entry_seq, debit_account_id, credit_account_id, "
        "amount, currency, value_date) SELECT 1, 1, debit_account_id, credit_account_id, 999, "
        "currency, value_date FROM transfers WHERE id = 1",
        "INSERT OR REPLACE INTO accounts (id, code, bank_id, type, currency) "
        "SELECT id, code, bank_id, 'asset', currency FROM accounts WHERE code = 'A-CUST-HKD'",
    ],
    ids=["entries", "transfers", "accounts"],
)
def test_sqlite_insert_or_replace_cannot_rewrite_history(ledger: Engine, sql: str) -> None:
    if ledger.dialect.name != "sqlite":
        pytest.skip("INSERT OR REPLACE is SQLite's")
    with pytest.raises(DBAPIError), ledger.begin() as c:
        c.execute(text(sql))
    with ledger.connect() as c:
        assert verify(c).ok


def test_sqlite_refuses_a_fractional_amount(ledger: Engine) -> None:
    if ledger.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's BIGINT takes no fraction")
    with pytest.raises(DBAPIError):
        _raw_transfer(ledger, "A-NOSTRO-HKD", "A-CUST-HKD", 0.5, "HKD")


def _disable_append_only(conn: object, dialect: str) -> None:
    if dialect == "postgresql":
        conn.execute(text("ALTER TABLE transfers DISABLE TRIGGER transfers_append_only"))  # type: ignore[attr-defined]
    else:
        conn.execute(text("DROP TRIGGER transfers_append_only_update"))  # type: ignore[attr-defined]


def test_audit_finds_a_transfer_changed_behind_the_ledgers_back(ledger: Engine) -> None:
    post(ledger, [entry("e2", "A-NOSTRO-HKD", "B-NOSTRO-HKD", 250),
                  entry("e3", "A-NOSTRO-HKD", "C-NOSTRO-HKD", 300)])
    with ledger.connect() as c:
        assert verify(c).ok
    with ledger.begin() as c:
        _disable_append_only(c, ledger.dialect.name)
        c.execute(text("UPDATE transfers SET amount = 260 WHERE amount = 250"))
    with ledger.connect() as c:
        report = verify(c)
    assert not report.ok
    assert "entry e2 " in report.problems[0]
