"""Revaluation of FX positions at a period end: fx.revalue."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from fractions import Fraction

import pytest
from sqlalchemy import Connection, Engine, text

from fx.book import load_rates
from fx.booking import convert_and_post
from fx.quotes import StaleRate, make_quote
from fx.revalue import RevalueResult, closing_time, revalue
from ledger.audit import verify
from ledger.db import transaction
from ledger.errors import ConflictError
from ledger.money import parse_amount
from ledger.refdata import load_accounts
from ledger.reports import balances, trial_balance
from tests.ledger_builders import entry, post, seed

HKT = timezone(timedelta(hours=8))
DAY1, DAY2 = date(2025, 3, 3), date(2025, 3, 4)
T1 = datetime(2025, 3, 3, 9, 15, tzinfo=HKT)
T2 = T1 + timedelta(days=1)
POSTED = "2025-03-03T23:00:00+08:00"


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    """Bank A's customer sells CNY 100,000.00 for HKD on day 1 at CNY/HKD 1.0584/1.0688."""
    seed(engine)

    def work(conn: Connection) -> None:
        load_accounts(conn, [{"account": "A-CUST-MOP", "bank_id": "A", "type": "liability",
                              "currency": "MOP"}])
        load_rates(conn, [make_quote("CNY", "HKD", "1.0584", "1.0688", T1, "BOC")])

    transaction(engine, work)
    assert post(engine, [entry("fund", "A-NOSTRO-CNY", "A-CUST-CNY", 30_000_000, "CNY")])[0].code \
        == "ok"
    convert(engine, "cv1", "A-CUST-HKD", T1 + timedelta(hours=1))
    return engine


def convert(engine: Engine, eid: str, credit: str, at: datetime, amount: int = 10_000_000) -> None:
    _, result = transaction(engine, lambda c: convert_and_post(
        c, entry_id=eid, debit_account="A-CUST-CNY", credit_account=credit, amount=amount,
        at=at, posted_at=POSTED,
    ))
    assert result.code == "ok"


def run(engine: Engine, day: date, **kw: object) -> RevalueResult:
    return transaction(engine, lambda c: revalue(c, as_of=day, posted_at=POSTED, **kw))  # type: ignore[arg-type]


def balance_of(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {b.account: b.balance for b in balances(conn)}


def entry_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(
            text("SELECT id FROM entries WHERE kind = 'fx_revaluation' ORDER BY seq")).scalars())


def test_closing_time_is_the_end_of_the_day_in_utc8() -> None:
    assert closing_time(DAY1).isoformat() == "2025-03-03T23:59:59.999999+08:00"


def test_first_revaluation_values_each_position_at_the_closing_mid(ledger: Engine) -> None:
    result = run(ledger, DAY1)
    # Exposure: +CNY 100,000.00 (bought from the customer), -HKD 106,360.00 (paid at mid 1.0636).
    lines = {(x.bank_id, x.currency): x for x in result.lines}
    cny, hkd = lines[("A", "CNY")], lines[("A", "HKD")]
    assert (cny.position, cny.rate, cny.value) == (10_000_000, Fraction("1.095508"), 10_955_080)
    assert (hkd.position, hkd.rate, hkd.value) == (-10_636_000, Fraction("1.03"), -10_955_080)
    assert (result.total, result.posted, result.already_done) == (0, 2, False)
    assert entry_ids(ledger) == ["REVAL:default:2025-03-03:A:CNY", "REVAL:default:2025-03-03:A:HKD"]
    bal = balance_of(ledger)
    assert bal["A:FX_REVALUATION:MOP"] == 0
    assert bal["A:FX_POSITION_REVALUED:MOP"] == 0
    with ledger.connect() as conn:
        debits = conn.execute(text(
            "SELECT debits_posted FROM accounts WHERE code = 'A:FX_POSITION_REVALUED:MOP'"
        )).scalar_one()
        assert debits == 10_955_080
        assert all(t.debits == t.credits for t in trial_balance(conn).currencies)
        assert verify(conn).ok
    assert result.to_dict()["lines"][0] == {
        "bank_id": "A", "currency": "CNY", "position": "-100000.00", "rate": "1.095508",
        "value": "109550.80", "previous": "0.00", "amount": "109550.80",
        "entry_id": "REVAL:default:2025-03-03:A:CNY",
    }


def test_the_report_shows_the_position_as_report_balances_does(ledger: Engine) -> None:
    """One sign convention: the position of a line is its FX_POSITION account's balance."""
    result = run(ledger, DAY1)
    bal = balance_of(ledger)
    for line in result.to_dict()["lines"]:
        account = f"{line['bank_id']}:FX_POSITION:{line['currency']}"
        assert parse_amount(line["position"], line["currency"]) == bal[account]
    assert bal["A:FX_POSITION:CNY"] == -10_000_000  # long CNY: the position account is credited


def test_revaluation_is_idempotent_per_date_and_book(ledger: Engine) -> None:
    first = run(ledger, DAY1)
    second = run(ledger, DAY1)
    assert (second.posted, second.already_done) == (0, True)
    assert second.lines == first.lines
    assert len(entry_ids(ledger)) == 2


def test_the_change_since_the_last_revaluation_is_the_result(ledger: Engine) -> None:
    run(ledger, DAY1)
    transaction(ledger, lambda c: load_rates(
        c, [make_quote("CNY", "HKD", "1.0684", "1.0788", T2, "BOC")]))
    result = run(ledger, DAY2)
    lines = {x.currency: x for x in result.lines}
    # CNY 100,000.00 at 1.0736 x 1.03 = MOP 110,580.80: up MOP 1,030.00; HKD unchanged.
    assert (lines["CNY"].value, lines["CNY"].previous, lines["CNY"].amount) == (
        11_058_080, 10_955_080, 103_000)
    assert (lines["HKD"].amount, lines["HKD"].entry_id) == (0, None)
    assert (result.total, result.posted) == (103_000, 1)
    bal = balance_of(ledger)
    assert bal["A:FX_REVALUATION:MOP"] == 103_000  # a gain: the bank is long CNY, CNY rose
    assert bal["A:FX_POSITION_REVALUED:MOP"] == 103_000
    # Translated at the same closing mids, the positions and their revaluation cancel.
    translated = (
        Fraction(bal["A:FX_POSITION:CNY"]) * Fraction("1.0736") * Fraction("1.03")
        + Fraction(bal["A:FX_POSITION:HKD"]) * Fraction("1.03")
        + bal["A:FX_POSITION_REVALUED:MOP"]
    )
    assert translated == 0
    assert run(ledger, DAY2).already_done


def test_a_conversion_into_the_reporting_currency_nets_to_zero(ledger: Engine) -> None:
    convert(ledger, "cv2", "A-CUST-MOP", T1 + timedelta(hours=2))
    result = run(ledger, DAY1)
    lines = {x.currency: x for x in result.lines}
    # The MOP exposure is valued at par: without it, the CNY bought would look like a gain.
    assert lines["MOP"].rate == 1 and lines["MOP"].value == -10_955_080
    assert lines["CNY"].value == 2 * 10_955_080
    assert result.total == 0


def test_dates_go_forward_and_a_changed_date_is_a_conflict(ledger: Engine) -> None:
    transaction(ledger, lambda c: load_rates(
        c, [make_quote("CNY", "HKD", "1.0684", "1.0788", T2, "BOC")]))
    run(ledger, DAY2)
    with pytest.raises(ConflictError, match="go forward"):
        run(ledger, DAY1)
    # New business value-dated on a revalued day: running that day again is a conflict.
    convert(ledger, "cv3", "A-CUST-HKD", T2 + timedelta(hours=1), amount=100)
    with pytest.raises(ConflictError, match="A CNY exists with different content"):
        run(ledger, DAY2)
    assert len(entry_ids(ledger)) == 2


def test_another_book_on_the_same_day_revalues_from_the_last_value(ledger: Engine) -> None:
    run(ledger, DAY1)
    transaction(ledger, lambda c: load_rates(
        c, [make_quote("CNY", "HKD", "1.0600", "1.0700", T1, "CNH desk", book="CNH")]))
    result = run(ledger, DAY1, book="CNH")
    lines = {x.currency: x for x in result.lines}
    # CNY at 1.0650 x 1.03 = 1.09695: MOP 109,695.00 against the 109,550.80 carried.
    assert lines["CNY"].amount == 10_969_500 - 10_955_080
    assert lines["CNY"].entry_id == "REVAL:CNH:2025-03-03:A:CNY"
    assert balance_of(ledger)["A:FX_POSITION_REVALUED:MOP"] == 10_969_500 - 10_955_080


def test_a_stale_closing_rate_posts_nothing(ledger: Engine) -> None:
    with pytest.raises(StaleRate, match="CNY/HKD"):
        run(ledger, date(2025, 3, 5))
    assert entry_ids(ledger) == []
    with ledger.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM fx_revaluations")).scalar_one() == 0


def test_revaluation_into_hkd(ledger: Engine) -> None:
    result = run(ledger, DAY1, reporting_currency="HKD")
    lines = {x.currency: x for x in result.lines}
    assert (lines["CNY"].rate, lines["CNY"].value) == (Fraction("1.0636"), 10_636_000)
    assert lines["HKD"].rate == 1 and lines["HKD"].value == -10_636_000
    assert result.total == 0
    assert "A:FX_REVALUATION:HKD" in balance_of(ledger)
