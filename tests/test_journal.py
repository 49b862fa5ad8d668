"""The journal (``Ledger.entries``, ``wmc entries``) and registers (``Ledger.register``,
``wmc register``) on SQLite and PostgreSQL: every filter against its plain meaning over the
whole journal, paging that neither repeats nor skips, and registers that close on the balance."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from moneyed import Money
from sqlalchemy import text
from typer.testing import CliRunner

from cli.main import app
from tests.settlement_builders import BANKS, INVESTORS, PRODUCTS, RATES, _accounts, ins
from wmc_ledger import (
    Entry,
    FixedClock,
    InputError,
    JournalEntry,
    JournalTransfer,
    Ledger,
    NotFound,
    Transfer,
)

runner = CliRunner()


def hkd(amount: str) -> Money:
    return Money(amount, "HKD")


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    with Ledger.open(db_url, clock=FixedClock("2025-03-03T20:00:00+08:00")).init() as opened:
        opened.load_banks(BANKS)
        opened.load_accounts(_accounts())
        opened.load_investors(INVESTORS)
        opened.load_products(PRODUCTS)
        opened.load_rates(RATES)
        yield opened


@pytest.fixture
def day(ledger: Ledger) -> Ledger:
    """Direct posts over three value dates, a batch (transfers, a fee, a conversion, a remit)
    and a reversal: entries of one and of several transfers, in three currencies."""
    assert all(r.ok for r in ledger.post([
        Entry("FUND-A", (Transfer("A-NOSTRO-HKD", "A-CUST-HKD", hkd("5000.00"), reference="R-1"),
                         Transfer("A-NOSTRO-CNY", "A-CUST-CNY", Money("9000.00", "CNY"))),
              value_date=dt.date(2025, 3, 1)),
        Entry("FUND-B", (Transfer("B-NOSTRO-MOP", "B-CUST-MOP", Money("700.00", "MOP")),),
              value_date=dt.date(2025, 3, 2)),
        Entry("FUND-S1", (Transfer("C-NOSTRO-CNY", "S1-REM", Money("50000.00", "CNY")),),
              value_date=dt.date(2025, 3, 2)),
    ]))
    batch = ledger.settle([
        ins("T-1", "transfer", "A-CUST-HKD", "B-CUST-HKD", "1200.00", reference="E2E-1"),
        ins("T-2", "transfer", "A-CUST-HKD", "C-CUST-HKD", "99.99"),
        ins("FEE-1", "fee", "A-CUST-HKD", "A-FEES-HKD", "10.00"),
        ins("FX-1", "convert", "A-CUST-CNY", "A-CUST-HKD", "1000.00", "CNY"),
        ins("REM-1", "remit", "S1-REM", "S1-INV", "20000.00", "CNY", investor_id="S1"),
        ins("BAD-1", "transfer", "B-CUST-MOP", "A-CUST-MOP", "800.00", "MOP"),
    ], name="day.csv")
    assert batch.accepted == 5 and batch.codes == {"BAD-1": "insufficient_funds"}
    assert ledger.reverse("T-2").ok
    return ledger


def everything(ledger: Ledger) -> list[JournalEntry]:
    page = ledger.entries(limit=10_000, order="oldest")
    assert page.next_after is None
    return list(page.entries)


def legs(e: JournalEntry, pred: Callable[[JournalTransfer], bool]) -> bool:
    return any(pred(t) for t in e.transfers)


def ids(entries: object) -> list[str]:
    return [e.entry_id for e in entries.entries]  # type: ignore[attr-defined]


def test_the_whole_journal_in_posting_order_with_every_transfer(day: Ledger) -> None:
    all_ = everything(day)
    assert [e.entry_id for e in all_] == ["FUND-A", "FUND-B", "FUND-S1", "T-1", "T-2",
                                          "FEE-1", "FX-1", "REM-1", "REV-T-2"]
    assert [e.seq for e in all_] == sorted(e.seq for e in all_)
    by_id = {e.entry_id: e for e in all_}
    fund = by_id["FUND-A"]
    assert fund.batch_id is None and fund.value_date == dt.date(2025, 3, 1)
    assert [(t.debit, t.credit, t.amount, t.reference) for t in fund.transfers] == [
        ("A-NOSTRO-HKD", "A-CUST-HKD", hkd("5000.00"), "R-1"),
        ("A-NOSTRO-CNY", "A-CUST-CNY", Money("9000.00", "CNY"), None)]
    assert by_id["T-1"].batch_id == day.batches()[0] and by_id["T-1"].kind == "transfer"
    assert by_id["REV-T-2"].reverses == "T-2" and by_id["REV-T-2"].kind == "reversal"
    assert len(by_id["FX-1"].transfers) > 1  # the conversion's legs come whole
    # Nothing posted is left out: the journal's transfers are the table's.
    with day.engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM transfers")).scalar()
    assert sum(len(e.transfers) for e in all_) == stored
    assert ids(day.entries(limit=10_000)) == [e.entry_id for e in reversed(all_)]


FILTERS: list[tuple[dict[str, object], Callable[[JournalEntry], bool]]] = [
    ({"account": "A-CUST-HKD"},
     lambda e: legs(e, lambda t: "A-CUST-HKD" in (t.debit, t.credit))),
    ({"bank": "B"}, lambda e: legs(e, lambda t: t.debit[:2] == "B-" or t.credit[:2] == "B-")),
    ({"kind": "fee"}, lambda e: e.kind == "fee"),
    ({"entry_id": "FX-1"}, lambda e: e.entry_id == "FX-1"),
    ({"reference": "E2E-1"}, lambda e: legs(e, lambda t: t.reference == "E2E-1")),
    ({"date_from": "2025-03-02", "date_to": "2025-03-02"},
     lambda e: legs(e, lambda t: t.value_date == dt.date(2025, 3, 2))),
    ({"date_from": dt.date(2025, 3, 3)}, lambda e: legs(e, lambda t: t.value_date.day >= 3)),
    ({"min_amount": "1000.00"}, lambda e: legs(e, lambda t: t.amount.amount >= 1000)),
    ({"max_amount": Decimal("99.99")},
     lambda e: legs(e, lambda t: t.amount.amount <= Decimal("99.99"))),
    ({"min_amount": hkd("1000.00")},
     lambda e: legs(e, lambda t: t.amount.currency.code == "HKD" and t.amount >= hkd("1000"))),
    ({"account": "A-CUST-HKD", "min_amount": "50.00", "max_amount": "1200.00"},
     lambda e: legs(e, lambda t: "A-CUST-HKD" in (t.debit, t.credit)
                    and 50 <= t.amount.amount <= 1200)),
    ({"bank": "A", "kind": "transfer", "date_to": "2025-03-03"},
     lambda e: e.kind == "transfer"
     and legs(e, lambda t: "A-" in (t.debit[:2], t.credit[:2])
              or t.debit in ("S1-INV", "FUND-SB-HKD") or t.credit in ("S1-INV",))),
]


@pytest.mark.parametrize(("query", "meaning"), FILTERS,
                         ids=[",".join(q) for q, _ in FILTERS])
def test_each_filter_is_its_plain_meaning(day: Ledger, query: dict[str, object],
                                          meaning: Callable[[JournalEntry], bool]) -> None:
    expected = [e.entry_id for e in everything(day) if meaning(e)]
    assert expected, "a filter that selects nothing proves nothing"
    assert ids(day.entries(order="oldest", **query)) == expected  # type: ignore[arg-type]
    assert ids(day.entries(**query)) == expected[::-1]  # type: ignore[arg-type]


def test_batch_filter_and_unknown_names_select_nothing(day: Ledger) -> None:
    (batch_id,) = day.batches()
    assert ids(day.entries(batch=batch_id, order="oldest")) == [
        "T-1", "T-2", "FEE-1", "FX-1", "REM-1"]
    assert ids(day.entries(account="NO-SUCH")) == []
    assert ids(day.entries(bank="Z")) == []
    assert ids(day.entries(entry_id="BAD-1")) == []  # rejected: never posted


@pytest.mark.parametrize("order", ["newest", "oldest"])
@pytest.mark.parametrize("query", [{}, {"bank": "A"}, {"min_amount": "10.00"}])
def test_paging_neither_repeats_nor_skips(day: Ledger, order: str,
                                          query: dict[str, str]) -> None:
    whole = ids(day.entries(limit=10_000, order=order, **query))
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = day.entries(limit=2, after=after, order=order, **query)
        seen += ids(page)
        pages += 1
        after = page.next_after
        if after is None:
            break
        assert len(page.entries) == 2 and after == page.entries[-1].entry_id
    assert seen == whole and pages == (len(whole) + 1) // 2


def test_bad_queries_are_refused(day: Ledger) -> None:
    with pytest.raises(NotFound, match="NOPE"):
        day.entries(after="NOPE")
    with pytest.raises(InputError, match="limit"):
        day.entries(limit=0)
    with pytest.raises(InputError, match="order"):
        day.entries(order="sideways")
    with pytest.raises(InputError, match="min_amount"):
        day.entries(min_amount="ten")
    with pytest.raises(InputError, match="date_from"):
        day.entries(date_from="03/03/2025")


# -- registers ---------------------------------------------------------------------------------


def test_register_runs_to_the_balance(day: Ledger) -> None:
    reg = day.register("A-CUST-HKD")
    assert reg.opening == hkd("0.00") and reg.closing == day.balance("A-CUST-HKD")
    running = reg.opening
    for line in reg.lines:  # a liability: credits raise it, debits lower it
        running = running + line.credit - line.debit
        assert line.balance == running
        assert (line.debit.amount == 0) != (line.credit.amount == 0)
    assert [(x.entry_id, x.counterparty) for x in reg.lines][:3] == [
        ("FUND-A", "A-NOSTRO-HKD"), ("T-1", "B-CUST-HKD"), ("T-2", "C-CUST-HKD")]
    assert [x.value_date for x in reg.lines] == sorted(x.value_date for x in reg.lines)
    asset = day.register("A-NOSTRO-HKD")  # an asset: debits raise it
    assert asset.lines[0].balance == hkd("5000.00") == asset.closing


@pytest.mark.parametrize("window", [("2025-03-02", "2025-03-02"), ("2025-03-03", None),
                                    (None, "2025-03-01"), ("2025-03-04", "2025-03-09")])
def test_register_window_opens_and_closes_on_the_as_of_balances(
        day: Ledger, window: tuple[str | None, str | None]) -> None:
    start, end = window
    for account in ("A-CUST-HKD", "S1-REM", "A-CUST-CNY", "A-NOSTRO-CNY"):
        reg = day.register(account, date_from=start, date_to=end)
        before = (day.balance(account, as_of=dt.date.fromisoformat(start) - dt.timedelta(1))
                  if start else hkd("0") * 0)
        assert reg.opening.amount == before.amount
        closing = day.balance(account, as_of=end) if end else day.balance(account)
        assert reg.closing == closing
        assert all((start is None or x.value_date.isoformat() >= start)
                   and (end is None or x.value_date.isoformat() <= end) for x in reg.lines)


def test_register_of_an_unknown_account_or_a_backward_window(day: Ledger) -> None:
    with pytest.raises(NotFound):
        day.register("NOPE")
    with pytest.raises(InputError, match="after"):
        day.register("A-CUST-HKD", date_from="2025-03-04", date_to="2025-03-03")


# -- the commands ------------------------------------------------------------------------------


def wmc(db: str, *args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, ["--db", db, *args])
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


def test_wmc_entries_prints_what_the_api_returns(day: Ledger) -> None:
    db = day.engine.url.render_as_string(hide_password=False)
    code, out, _ = wmc(db, "entries", "--account", "A-CUST-HKD", "--limit", "3",
                       "--format", "json")
    assert code == 0
    page = day.entries(account="A-CUST-HKD", limit=3)
    assert json.loads(out) == page.to_dict()
    assert json.loads(out)["entries"][0]["transfers"][0]["amount"].count(".") == 1
    code, out, _ = wmc(db, "entries", "--account", "A-CUST-HKD", "--limit", "3",
                       "--after", page.next_after or "", "--order", "newest", "--format", "csv")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("seq,entry_id,kind,batch_id,reverses,debit_account")
    following = day.entries(account="A-CUST-HKD", limit=3, after=page.next_after)
    assert len(lines) - 1 == sum(len(e.transfers) for e in following.entries)
    code, out, _ = wmc(db, "entries", "--kind", "fee", "--limit", "1")
    assert code == 0 and "FEE-1" in out and "more:" not in out
    code, out, _ = wmc(db, "entries", "--limit", "1")
    assert code == 0 and "more: --after REV-T-2" in out
    code, _, err = wmc(db, "entries", "--after", "NOPE")
    assert code == 2 and "NOPE" in err
    code, _, err = wmc(db, "entries", "--from", "yesterday")
    assert code == 2


def test_wmc_register_prints_what_the_api_returns(day: Ledger) -> None:
    db = day.engine.url.render_as_string(hide_password=False)
    code, out, _ = wmc(db, "register", "A-CUST-HKD", "--from", "2025-03-03", "--format",
                       "json")
    assert code == 0
    assert json.loads(out) == day.register("A-CUST-HKD", date_from="2025-03-03").to_dict()
    assert json.loads(out)["opening"] == "5000.00"
    code, out, _ = wmc(db, "register", "A-CUST-HKD")
    assert code == 0 and f"closing {day.balance('A-CUST-HKD').amount:.2f} HKD" in out
    code, _, err = wmc(db, "register", "NOPE")
    assert code != 0 and "NOPE" in err
