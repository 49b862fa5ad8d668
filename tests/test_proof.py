"""Issue: proof that the ledger was not rewritten. An auditor with database access (triggers
off, as an admin can) edits one covered row; ``audit verify`` names it. The old chain's
ambiguity (fields joined by separators a reference could hold) is gone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from hashlib import sha256
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text

from ledger.audit import AuditReport, verify
from ledger.db import make_engine, transaction
from ledger.errors import IntegrityError
from ledger.merkle import Frontier
from ledger.migrate import upgrade
from ledger.records import (
    decode_record,
    entry_record,
    entry_record_at,
    read_head,
    recompute_state,
    set_root,
    stored_leaves,
    tree_state,
)
from settlement.audit import quota_check
from settlement.settings import load_settings
from tests.settlement_builders import build_world, ins, settle

SETTINGS = load_settings(None)


def audit(engine: Engine) -> AuditReport:
    with engine.connect() as conn:
        return verify(conn, extra=[quota_check(SETTINGS)])


@pytest.fixture
def day(engine: Engine, tmp_path: Path) -> Engine:
    """A small day: reference data, a funded remittance, a transfer, a rejection."""
    build_world(engine, tmp_path)
    settle(engine, tmp_path, [
        ins("D-1", "transfer", "C-NOSTRO-CNY", "S1-REM", "500000.00", "CNY"),
        ins("D-2", "transfer", "A-NOSTRO-HKD", "A-CUST-HKD", "1200.00"),
        ins("D-3", "transfer", "A-NOSTRO-HKD", "NOPE", "1.00"),
    ], name="d1.csv")
    settle(engine, tmp_path, [
        ins("R-1", "remit", "S1-REM", "S1-INV", "300000.00", "CNY", investor_id="S1"),
        ins("R-2", "transfer", "A-CUST-HKD", "B-CUST-HKD", "200.00"),
    ], name="d2.csv")
    assert audit(engine).ok, audit(engine).problems
    return engine


@pytest.fixture
def admin(day: Engine) -> Callable[[str, dict[str, object] | None], None]:
    """Run SQL as an admin would: with every trigger out of the way, then put back exactly
    (so the schema's fingerprint alone does not give the edit away)."""

    def run(sql: str, params: dict[str, object] | None = None) -> None:
        with day.begin() as conn:
            if day.dialect.name == "postgresql":
                conn.execute(text("SET LOCAL session_replication_role = replica"))
                conn.execute(text(sql), params or {})
                return
            triggers = conn.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
            for name, _ in triggers:
                conn.execute(text(f"DROP TRIGGER {name}"))
            conn.execute(text(sql), params or {})
            for _, ddl in triggers:
                conn.exec_driver_sql(ddl)

    return run


EDITS = [
    ("UPDATE accounts SET allow_overdraft = true WHERE code = 'A-CUST-HKD'", "accounts"),
    ("UPDATE accounts SET closed = true WHERE code = 'B-CUST-HKD'", "accounts"),
    ("UPDATE accounts SET type = 'equity' WHERE code = 'A-CUST-HKD'", "accounts"),
    ("UPDATE investors SET remittance_account = 'S2-REM-BANK' WHERE investor_id = 'S1'",
     "investors"),
    ("UPDATE products SET risk = 'R1' WHERE product = 'NB-STRUCT'", "products"),
    ("UPDATE fx_rates SET bid = '1.1000'", "fx_rates"),
    ("UPDATE batches SET accepted = accepted + 1 WHERE batch_id = 'B00000001'", "batches"),
    ("UPDATE batch_rejections SET code = 'duplicate'", "batch_rejections"),
    ("DELETE FROM rejected_instructions", "rejected_instructions"),
    ("UPDATE quota_usage SET used = 0, remitted_out = 0", "quota usage"),
    ("UPDATE aggregate_quota SET used = 0", "aggregate quota"),
    ("UPDATE events SET body = replace(body, 'nostro', 'n0stro') "
     "WHERE kind = 'accounts' AND subject = '[\"A-NOSTRO-HKD\"]'", "event"),
    ("UPDATE transfers SET amount = amount + 1 WHERE id = 1", "entry D-1"),
    ("UPDATE entries SET kind = 'fee' WHERE id = 'D-2'", "entry D-2"),
    ("UPDATE ledger_head SET last_transfer_id = last_transfer_id + 5", "ledger head"),
    ("UPDATE accounts SET credits_posted = credits_posted + 100 WHERE code = 'A-CUST-HKD'",
     "running totals"),
    ("INSERT INTO banks (bank_id, name, market) VALUES ('Z', 'Z', 'HK')", "banks"),
]


@pytest.mark.parametrize(("sql", "named"), EDITS, ids=[e[1] + f"-{i}" for i, e in
                                                     enumerate(EDITS)])
def test_any_single_edit_of_a_covered_row_is_named(day: Engine, admin: Callable[..., None],
                                                   sql: str, named: str) -> None:
    admin(sql)
    report = audit(day)
    assert not report.ok
    assert any(named in p for p in report.problems), report.problems


def test_deleting_the_last_entry_and_rewinding_the_head_is_caught(
        day: Engine, admin: Callable[..., None]) -> None:
    with day.connect() as conn:
        last = int(read_head(conn)[1])
        leaves = stored_leaves(conn, "entries", last - 1)
    tree = Frontier()
    tree.extend(leaves)
    admin("DELETE FROM transfers WHERE entry_seq = :s", {"s": last})
    admin("DELETE FROM entries WHERE seq = :s", {"s": last})
    # The head and the totals made consistent with what is left, as a careful forger would.
    with day.begin() as conn:
        tid = conn.execute(text("SELECT max(id) FROM transfers")).scalar_one()
        set_root(conn, entries=tree, last_transfer_id=int(tid))
    admin("UPDATE accounts SET credits_posted = credits_posted - 20000 "
          "WHERE code = 'B-CUST-HKD'")
    admin("UPDATE accounts SET debits_posted = debits_posted - 20000 "
          "WHERE code = 'A-CUST-HKD'")
    report = audit(day)
    assert any("truncated" in p for p in report.problems), report.problems


def test_a_damaged_head_is_refused_by_the_next_batch(day: Engine, tmp_path: Path,
                                                     admin: Callable[..., None]) -> None:
    admin("UPDATE ledger_head SET last_transfer_id = last_transfer_id - 1")
    with pytest.raises(IntegrityError, match="ledger head says"):
        settle(day, tmp_path, [ins("X-1", "transfer", "A-NOSTRO-HKD", "A-CUST-HKD", "1.00")],
               name="x.csv")
    assert any("ledger head" in p for p in audit(day).problems)


def test_a_transfer_of_no_entry_is_found(day: Engine, admin: Callable[..., None]) -> None:
    with day.connect() as conn:
        tid = int(conn.execute(text("SELECT max(id) FROM transfers")).scalar_one()) + 1
        a = conn.execute(text("SELECT id FROM accounts WHERE code = 'A-NOSTRO-HKD'")).scalar()
        b = conn.execute(text("SELECT id FROM accounts WHERE code = 'A-CUST-HKD'")).scalar()
    if day.dialect.name == "sqlite":
        raw = day.raw_connection()
        try:
            raw.execute("PRAGMA foreign_keys = OFF")
            raw.execute("INSERT INTO transfers (id, entry_seq, debit_account_id, "
                        "credit_account_id, amount, currency, value_date) VALUES "
                        f"({tid}, 999, {a}, {b}, 100, 'HKD', '2025-03-03')")
            raw.commit()
        finally:
            raw.close()
    else:
        admin("INSERT INTO transfers (id, entry_seq, debit_account_id, credit_account_id, "
              f"amount, currency, value_date) VALUES ({tid}, 999, {a}, {b}, 100, 'HKD', "
              "'2025-03-03')")
    assert any("belong to no entry" in p for p in audit(day).problems)


def test_a_dropped_or_disabled_trigger_is_found(day: Engine) -> None:
    with day.begin() as conn:
        if day.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE entries DISABLE TRIGGER entries_append_only"))
        else:
            conn.execute(text("DROP TRIGGER entries_append_only_update"))
    assert any(p.startswith("schema:") and "entries" in p for p in audit(day).problems)


def _old_text(fields: list[str]) -> str:
    """The encoding before version 1: fields joined by unit separators (\\x1f), transfers by
    record separators (\\x1e)."""
    return "\x1f".join(fields)


def test_the_split_transfer_forgery_no_longer_hashes_alike() -> None:
    # One transfer whose reference holds the separators, and two transfers made by cutting
    # it there: the old text is the same, the wmc1 record is not.
    forged_ref = "R\x1eA\x1fB\x1f10000\x1fHKD\x1f2025-03-03\x1fR2"
    one = _old_text(["A", "B", "5000", "HKD", "2025-03-03", forged_ref])
    two = _old_text(["A", "B", "5000", "HKD", "2025-03-03", "R"]) + "\x1e" + _old_text(
        ["A", "B", "10000", "HKD", "2025-03-03", "R2"])
    assert one == two
    record_one = entry_record(1, "E", "transfer", "2025-03-03", None, "t", None, None, "d",
                              [(1, "A", "B", 5000, "HKD", "2025-03-03", forged_ref)])
    record_two = entry_record(1, "E", "transfer", "2025-03-03", None, "t", None, None, "d",
                              [(1, "A", "B", 5000, "HKD", "2025-03-03", "R"),
                               (2, "A", "B", 10000, "HKD", "2025-03-03", "R2")])
    assert record_one != record_two
    assert decode_record(record_one.encode())["transfers"][0]["reference"] == forged_ref


def test_the_forgery_in_the_database_is_caught(day: Engine, admin: Callable[..., None]) -> None:
    # D-2's one transfer becomes two, amounts and references cut as above.
    with day.connect() as conn:
        tid, a, b = conn.execute(text(
            "SELECT t.id, t.debit_account_id, t.credit_account_id FROM transfers t "
            "JOIN entries e ON e.seq = t.entry_seq WHERE e.id = 'D-2'")).one()
        seq = conn.execute(text("SELECT seq FROM entries WHERE id = 'D-2'")).scalar_one()
    admin("UPDATE transfers SET reference = 'R' WHERE id = :t", {"t": tid})
    admin("INSERT INTO transfers (id, entry_seq, debit_account_id, credit_account_id, amount, "
          "currency, value_date, reference) VALUES (:i, :s, :a, :b, 10000, 'HKD', "
          "'2025-03-03', 'R2')", {"i": 100_000, "s": seq, "a": a, "b": b})
    report = audit(day)
    assert any("entry D-2" in p for p in report.problems), report.problems


def test_records_rebuild_to_the_stored_leaves_and_the_head(day: Engine) -> None:
    with day.connect() as conn:
        state, again = tree_state(conn), recompute_state(conn)
        assert state == again
        for seq, leaf in enumerate(stored_leaves(conn, "entries"), start=1):
            assert sha256(b"\x00" + entry_record_at(conn, seq)).digest() == leaf


FIELDS = [("entries", "value_date", "'2025-03-04'"), ("entries", "batch_id", "'B00000009'"),
          ("entries", "posted_at", "'2025-03-03T00:00:00+08:00'"), ("entries", "digest", "'0'"),
          ("entries", "meta", "'{}'"), ("transfers", "reference", "'x'"),
          ("transfers", "value_date", "'2025-03-05'"), ("transfers", "currency", "'MOP'")]


@pytest.mark.parametrize(("table", "column", "value"), FIELDS)
@pytest.mark.parametrize("which", ["first", "last"])
def test_any_edit_of_an_entry_field_is_caught(day: Engine, admin: Callable[..., None],
                                              table: str, column: str, value: str,
                                              which: str) -> None:
    with day.connect() as conn:
        seq = 1 if which == "first" else int(read_head(conn)[1])
    where = "seq = :s" if table == "entries" else "entry_seq = :s"
    admin(f"UPDATE {table} SET {column} = {value} WHERE {where}", {"s": seq})
    report = audit(day)
    assert any(f"(seq {seq})" in p for p in report.problems), report.problems


# -- carrying an existing ledger over ------------------------------------------------------------


@pytest.fixture
def old_ledger(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine, "0004")
    yield engine
    engine.dispose()


def test_migration_carries_a_ledger_with_data_over(old_ledger: Engine) -> None:
    def fill(conn: Connection) -> None:
        conn.execute(text("INSERT INTO banks (bank_id, name, market) VALUES ('A', 'A', 'HK')"))
        for i, (code, type_) in enumerate([("A-N", "asset"), ("A-C", "liability")], start=1):
            conn.execute(text(
                "INSERT INTO accounts (id, code, bank_id, type, currency, name, "
                "allow_overdraft, closed, debits_posted, credits_posted) VALUES "
                "(:i, :c, 'A', :t, 'HKD', '', true, false, :d, :k)"),
                {"i": i, "c": code, "t": type_, "d": 500 if i == 1 else 0,
                 "k": 500 if i == 2 else 0})
        conn.execute(text(
            "INSERT INTO entries (seq, id, kind, value_date, batch_id, reverses, meta, digest, "
            "posted_at, hash) VALUES (1, 'OLD-1', 'transfer', '2025-03-03', NULL, NULL, NULL, "
            "'d', '2025-03-03T18:00:00+08:00', :h)"), {"h": "a" * 64})
        conn.execute(text(
            "INSERT INTO transfers (id, entry_seq, debit_account_id, credit_account_id, "
            "amount, currency, value_date, reference) VALUES (1, 1, 1, 2, 500, 'HKD', "
            "'2025-03-03', 'OLD-1')"))
        conn.execute(text("UPDATE ledger_head SET last_seq = 1, last_transfer_id = 1"))

    transaction(old_ledger, fill)
    upgrade(old_ledger)
    report = audit(old_ledger)
    assert report.ok, report.problems
    assert (report.entries, report.transfers) == (1, 1)
    assert report.events >= 4  # a bank, two accounts, the schema
    with old_ledger.connect() as conn:
        assert tree_state(conn).entries_size == 1
        assert decode_record(entry_record_at(conn, 1))["id"] == "OLD-1"
