"""Posting entries: results per entry, idempotency, overdraft, reversals, invariants."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, text

from ledger.audit import verify
from ledger.db import make_engine, transaction
from ledger.entries import EntrySpec, TransferSpec
from ledger.posting import post_entries
from ledger.reports import balances, trial_balance
from tests.ledger_builders import DAY, POSTED_AT, entry, post, seed


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    seed(engine)
    return engine


def test_posts_and_reports(ledger: Engine) -> None:
    res = post(ledger, [entry("e1", "A-NOSTRO-HKD", "A-CUST-HKD", 100_000),
                        entry("e2", "A-CUST-HKD", "B-CUST-HKD", 30_000)])
    assert [r.code for r in res] == ["ok", "ok"]
    with ledger.connect() as c:
        bal = {b.account: b.balance for b in balances(c)}
        assert bal["A-CUST-HKD"] == 70_000
        assert bal["B-CUST-HKD"] == 30_000
        assert bal["A-NOSTRO-HKD"] == 100_000
        tb = trial_balance(c)
        assert all(t.debits == t.credits for t in tb.currencies)
        assert verify(c).ok


def test_overdraft_counts_earlier_entries_of_the_batch(ledger: Engine) -> None:
    res = post(ledger, [
        entry("fund", "A-NOSTRO-HKD", "A-CUST-HKD", 1_000),
        entry("pay1", "A-CUST-HKD", "B-CUST-HKD", 600),
        entry("pay2", "A-CUST-HKD", "B-CUST-HKD", 600),
        entry("pay3", "A-CUST-HKD", "B-CUST-HKD", 400),
    ])
    assert [r.code for r in res] == ["ok", "ok", "insufficient_funds", "ok"]
    with ledger.connect() as c:
        assert {b.account: b.balance for b in balances(c)}["A-CUST-HKD"] == 0


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        (entry("x", "NOPE", "A-CUST-HKD", 1), "unknown_account"),
        (entry("x", "A-CUST-HKD", "A-CUST-HKD", 1), "accounts_must_be_different"),
        (entry("x", "A-NOSTRO-HKD", "A-CUST-CNY", 1, "HKD"), "currency_mismatch"),
        (entry("x", "A-NOSTRO-HKD", "A-CUST-HKD", 1, "CNY"), "currency_mismatch"),
        (entry("x", "A-NOSTRO-HKD", "A-CUST-HKD", 0), "amount_must_be_positive"),
        (entry("x", "A-NOSTRO-HKD", "A-CUST-HKD", -5), "amount_must_be_positive"),
        (entry("x", "A-CUST-HKD", "B-CUST-HKD", 1), "insufficient_funds"),
    ],
)
def test_rejections_are_values(ledger: Engine, spec: EntrySpec, code: str) -> None:
    res = post(ledger, [spec, entry("y", "A-NOSTRO-HKD", "A-CUST-HKD", 5)])
    assert [r.code for r in res] == [code, "ok"]
    with ledger.connect() as c:
        assert c.execute(text("SELECT count(*) FROM entries")).scalar() == 1


def test_closed_account(ledger: Engine) -> None:
    from ledger.db import transaction
    from ledger.refdata import close_account

    transaction(ledger, lambda c: close_account(c, "B-CUST-HKD"))
    res = post(ledger, [entry("x", "B-NOSTRO-HKD", "B-CUST-HKD", 5)])
    assert res[0].code == "account_closed"


def test_idempotency(ledger: Engine) -> None:
    first = [entry("e1", "A-NOSTRO-HKD", "A-CUST-HKD", 100), entry("e2", "A-NOSTRO-HKD",
                                                                    "A-CUST-HKD", 200)]
    assert [r.code for r in post(ledger, first)] == ["ok", "ok"]
    again = post(ledger, [*first, entry("e2", "A-NOSTRO-HKD", "A-CUST-HKD", 201)])
    assert [r.code for r in again] == ["duplicate", "duplicate", "exists_with_different_content"]
    # inside one batch too, across chunk boundaries
    batch = [entry(f"n{i % 3}", "A-NOSTRO-HKD", "A-CUST-HKD", 7) for i in range(6)]
    assert [r.code for r in post(ledger, batch)] == ["ok"] * 3 + ["duplicate"] * 3
    with ledger.connect() as c:
        assert {b.account: b.balance for b in balances(c)}["A-CUST-HKD"] == 321


@pytest.mark.parametrize("chunk_size", [1, 2, 3])
def test_ids_stay_known_while_their_rows_are_written_behind(ledger: Engine,
                                                              chunk_size: int) -> None:
    """A chunk's rows are written while the next chunk is judged: an id repeated one or two
    chunks later, or an entry reversed in the same call, is found all the same."""
    batch = [entry(f"n{i % 3}", "A-NOSTRO-HKD", "A-CUST-HKD", 7) for i in range(9)]
    batch += [entry("n1", "A-NOSTRO-HKD", "A-CUST-HKD", 8),
              entry("r0", "A-CUST-HKD", "A-NOSTRO-HKD", 7, kind="reversal", reverses="n0")]
    res = transaction(ledger, lambda c: post_entries(c, batch, posted_at=POSTED_AT,
                                                     chunk_size=chunk_size))
    assert [r.code for r in res] == (["ok"] * 3 + ["duplicate"] * 6
                                     + ["exists_with_different_content", "ok"])
    with ledger.connect() as c:
        assert c.execute(text("SELECT count(*) FROM entries")).scalar() == 4
        assert {b.account: b.balance for b in balances(c)}["A-CUST-HKD"] == 14
        assert verify(c).ok


def test_maybe_taken_names_every_id_that_needs_a_duplicate_check(ledger: Engine) -> None:
    """Stored ids, ids of the chunk before (not yet written) and ids given twice in the chunk;
    an id outside these is free when its turn comes."""
    from ledger.posting import Poster

    post(ledger, [entry("stored", "A-NOSTRO-HKD", "A-CUST-HKD", 5)])

    def work(conn: Connection) -> tuple[set[str], set[str]]:
        with Poster(conn, posted_at=POSTED_AT) as poster:
            accounts = ["A-NOSTRO-HKD", "A-CUST-HKD"]
            first = ["p1", "stored", "p2"]
            poster.begin_chunk(poster.lookup(first, accounts).result())
            before = poster.maybe_taken(first)
            poster.post(entry("p1", "A-NOSTRO-HKD", "A-CUST-HKD", 1))
            second = ["p1", "new", "twice", "twice", "stored", "p3"]
            poster.begin_chunk(poster.lookup(second, accounts).result())
            return before, poster.maybe_taken(second)

    before, after = transaction(ledger, work)
    assert before == {"stored"}
    assert after == {"p1", "twice", "stored"}


def test_a_lookup_made_a_chunk_ahead_finds_what_one_made_at_its_chunk_would(
        ledger: Engine) -> None:
    """Poster.lookup runs behind the write of the chunk before the one being judged: ids of
    earlier chunks are found stored or in memory, and an account loaded and posted to in the
    meantime keeps its running totals."""
    from ledger.posting import Poster

    post(ledger, [entry("stored", "A-NOSTRO-HKD", "A-CUST-HKD", 50)])
    accounts = ["A-NOSTRO-HKD", "A-CUST-HKD"]

    def work(conn: Connection) -> tuple[list[str | None], set[str], int]:
        with Poster(conn, posted_at=POSTED_AT) as poster:
            poster.begin_chunk(poster.lookup(["p1"], accounts).result())
            poster.post(entry("p1", "A-NOSTRO-HKD", "A-CUST-HKD", 1))
            # p1's rows are written behind from here
            poster.begin_chunk(poster.lookup(["p2"], accounts).result())
            third = ["p1", "p2", "stored", "p3"]
            ahead = poster.lookup(third, [*accounts, "B-CUST-HKD"])
            poster.post(entry("p2", "A-CUST-HKD", "B-CUST-HKD", 20))  # loads B-CUST-HKD
            poster.begin_chunk(ahead.result())
            codes = []
            for iid in third:
                found = poster.check_duplicate(iid, "no such digest")
                codes.append(None if found is None else found.code)
            taken = poster.maybe_taken(third)
            balance = poster.accounts["B-CUST-HKD"].balance
            poster.close()
            return codes, taken, balance

    codes, taken, balance = transaction(ledger, work)
    assert codes == ["exists_with_different_content"] * 3 + [None]
    assert taken == {"p1", "p2", "stored"}
    assert balance == 20
    with ledger.connect() as c:
        assert {b.account: b.balance for b in balances(c)}["B-CUST-HKD"] == 20
        assert verify(c).ok


def test_what_runs_behind_raises_at_the_next_wait(ledger: Engine) -> None:
    from ledger.posting import Poster

    def work(conn: Connection) -> None:
        with Poster(conn, posted_at=POSTED_AT) as poster:
            poster.behind(lambda: 1 // 0)
            poster.wait()

    with pytest.raises(ZeroDivisionError):
        transaction(ledger, work)


def test_a_failed_write_behind_rolls_the_whole_call_back(
        ledger: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import ledger.posting as posting

    real = posting.write_rows

    def failing(conn: Connection, table: str, *args: Any, **kw: Any) -> None:
        if table == "transfers":
            raise RuntimeError("disk full")
        real(conn, table, *args, **kw)

    monkeypatch.setattr(posting, "write_rows", failing)
    batch = [entry(f"f{i}", "A-NOSTRO-HKD", "A-CUST-HKD", 7) for i in range(5)]
    with pytest.raises(RuntimeError, match="disk full"):
        transaction(ledger, lambda c: post_entries(c, batch, posted_at=POSTED_AT, chunk_size=2))
    with ledger.connect() as c:
        assert c.execute(text("SELECT count(*) FROM entries")).scalar() == 0
        assert c.execute(text("SELECT last_seq FROM ledger_head")).scalar() == 0


def test_multi_leg_entry_is_atomic(ledger: Engine) -> None:
    fee_and_payment = EntrySpec("m1", "fee", DAY, (
        TransferSpec("A-NOSTRO-HKD", "A-CUST-HKD", 1_000, "HKD"),
        TransferSpec("A-CUST-HKD", "B-CUST-HKD", 900, "HKD"),
        TransferSpec("A-CUST-HKD", "C-CUST-HKD", 200, "HKD"),  # 1,100 out of 1,000: the entry fails
    ))
    assert post(ledger, [fee_and_payment])[0].code == "insufficient_funds"
    with ledger.connect() as c:
        assert c.execute(text("SELECT count(*) FROM transfers")).scalar() == 0


def test_reversal(ledger: Engine) -> None:
    post(ledger, [entry("e1", "A-NOSTRO-HKD", "A-CUST-HKD", 500)])
    res = post(ledger, [
        entry("r1", "A-CUST-HKD", "A-NOSTRO-HKD", 500, kind="reversal", reverses="e1"),
        entry("r2", "A-CUST-HKD", "A-NOSTRO-HKD", 500, kind="reversal", reverses="e1"),
        entry("r3", "A-CUST-HKD", "A-NOSTRO-HKD", 500, kind="reversal", reverses="nope"),
    ])
    assert [r.code for r in res] == ["ok", "already_reversed", "unknown_entry"]
    with ledger.connect() as c:
        assert c.execute(text("SELECT reverses FROM entries WHERE id = 'r1'")).scalar() == 1
        assert verify(c).ok


ACCOUNTS = ["A-NOSTRO-HKD", "A-CUST-HKD", "B-CUST-HKD", "C-CUST-HKD", "B-NOSTRO-HKD",
            "A-CUST-CNY", "B-NOSTRO-CNY", "C-CUST-CNY"]


@st.composite
def entries(draw: st.DrawFn) -> list[EntrySpec]:
    out = []
    for i in range(draw(st.integers(1, 25))):
        legs = []
        for _ in range(draw(st.integers(1, 3))):
            d, c = draw(st.sampled_from(ACCOUNTS)), draw(st.sampled_from(ACCOUNTS))
            cur = "CNY" if d.endswith("CNY") else "HKD"
            legs.append(TransferSpec(d, c, draw(st.integers(1, 10_000)), cur))
        out.append(EntrySpec(f"h{draw(st.integers(0, 10**9))}-{i}", "transfer", DAY, tuple(legs)))
    return out


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batches=st.lists(entries(), min_size=1, max_size=3))
def test_any_accepted_sequence_keeps_the_invariants(ledger: Engine,
                                                    batches: list[list[EntrySpec]]) -> None:
    for batch in batches:
        post(ledger, batch)
    with ledger.connect() as c:
        for t in trial_balance(c).currencies:
            assert t.debits == t.credits
        recomputed: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for d, cr, amount in c.execute(text(
            "SELECT d.code, k.code, t.amount FROM transfers t "
            "JOIN accounts d ON d.id = t.debit_account_id "
            "JOIN accounts k ON k.id = t.credit_account_id"
        )):
            recomputed[d][0] += amount
            recomputed[cr][1] += amount
        for b in balances(c):
            assert (b.debits, b.credits) == tuple(recomputed.get(b.account, [0, 0]))
            if b.account.startswith(("A-CUST", "B-CUST", "C-CUST")):
                assert b.balance >= 0
        assert verify(c).ok


def test_fast_path_encodes_like_content_text(ledger: Engine) -> None:
    """The one-transfer fast path and the general path store the same content and hashes."""
    from ledger.entries import content_text

    one = entry("fast", "A-NOSTRO-HKD", "A-CUST-HKD", 123)
    two_legs = EntrySpec("slow", "transfer", DAY, (
        TransferSpec("A-NOSTRO-HKD", "A-CUST-HKD", 100, "HKD", None, "ref-1"),
        TransferSpec("A-NOSTRO-HKD", "A-CUST-HKD", 23, "HKD", None, "ref-1"),
    ))
    assert [r.code for r in post(ledger, [one, two_legs])] == ["ok", "ok"]
    with ledger.connect() as c:
        digest = c.execute(text("SELECT digest FROM entries WHERE id = 'fast'")).scalar_one()
        assert verify(c).ok
    import hashlib

    assert digest == hashlib.sha256(content_text(one).encode()).hexdigest()


def test_readers_are_not_blocked_by_a_writer_on_sqlite(ledger: Engine) -> None:
    """A batch being written holds the write lock; reports still read the committed state."""
    if ledger.dialect.name != "sqlite":
        pytest.skip("SQLite's locking")
    import time

    from ledger.db import WRITE_OPTION
    from ledger.posting import post_entries

    post(ledger, [entry("e1", "A-NOSTRO-HKD", "A-CUST-HKD", 100)])
    with ledger.connect().execution_options(**{WRITE_OPTION: True}) as writer, writer.begin():
        post_entries(writer, [entry("e2", "A-NOSTRO-HKD", "A-CUST-HKD", 50)],
                     posted_at="2025-03-03T10:00:00+08:00")
        t0 = time.perf_counter()
        with ledger.connect() as reader:
            bal = {b.account: b.balance for b in balances(reader)}
        assert bal["A-CUST-HKD"] == 100  # the snapshot before the uncommitted batch
        assert time.perf_counter() - t0 < 5
    with ledger.connect() as reader:
        assert {b.account: b.balance for b in balances(reader)}["A-CUST-HKD"] == 150


@pytest.mark.parametrize("made_here", [True, False])
def test_in_memory_ledgers_post_across_chunks(made_here: bool) -> None:
    """An in-memory SQLite connection belongs to the thread that made it: make_engine lets the
    writer thread use it; a plain engine gets its rows written in the caller's thread."""
    from sqlalchemy import create_engine

    from ledger.migrate import upgrade

    engine = make_engine("sqlite://") if made_here else create_engine("sqlite://")
    upgrade(engine)
    seed(engine)
    batch = [entry(f"m{i}", "A-NOSTRO-HKD", "A-CUST-HKD", 7) for i in range(7)]
    res = transaction(engine, lambda c: post_entries(c, batch, posted_at=POSTED_AT,
                                                     chunk_size=2))
    assert [r.code for r in res] == ["ok"] * 7
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM transfers")).scalar() == 7
        assert verify(c).ok
    engine.dispose()


@pytest.mark.parametrize("part", [1, 10_000])
def test_rows_where_in_gives_back_exact_values(ledger: Engine, part: int,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """On SQLite the rows travel as one JSON value: text, NULL and 64-bit integers come back
    exactly as the driver would give them, whether the keys go in one statement or several."""
    from ledger.db import rows_where_in

    monkeypatch.setattr("ledger.db.ROWS_WHERE_IN_PART", part)
    from ledger.refdata import load_accounts

    big = 2**63 - 1
    odd = 'A-"Ü\\x,1'

    def work(conn: Connection) -> list[list[Any]]:
        load_accounts(conn, [{"account": odd, "bank_id": "A", "type": "asset",
                              "currency": "HKD", "allow_overdraft": True}])
        conn.execute(text("UPDATE accounts SET debits_posted = :n, credits_posted = :n "
                          "WHERE code = :c"), {"n": big, "c": odd})
        return [list(r) for r in rows_where_in(
            conn, "accounts", "code, debits_posted, name", "code", [odd, "A-CUST-HKD", "nope"])]

    rows = {r[0]: r[1:] for r in transaction(ledger, work)}
    assert rows.keys() == {odd, "A-CUST-HKD"}
    assert rows["A-CUST-HKD"][0] == 0
    assert rows[odd][0] == big and type(rows[odd][0]) is int
