"""Conversions and block deals posted as ledger entries: fx.booking."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moneyed import Money
from sqlalchemy import Connection, Engine, text

from fx.book import RateBook, load_rates
from fx.booking import (
    BlockLine,
    BlockRejected,
    BookRules,
    ConversionRequest,
    block_entries,
    conversion_entry,
    convert_and_post,
    fx_account_rows,
    open_fx_accounts,
    post_block,
    post_conversions,
    recompute,
)
from fx.conversion import Rounding, convert
from fx.quotes import NoRate, StaleRate, dealt_rate, make_quote
from ledger.audit import verify
from ledger.db import transaction
from ledger.entries import TransferSpec
from ledger.errors import LedgerError, NotFound
from ledger.refdata import load_accounts, load_banks
from ledger.reports import balances, trial_balance
from tests.ledger_builders import DAY, POSTED_AT, entry, post, seed

HKT = timezone(timedelta(hours=8))
T0 = datetime(2025, 3, 3, 9, 15, tzinfo=HKT)
AT = T0 + timedelta(hours=1)
CNY_HKD = make_quote("CNY", "HKD", "1.0584", "1.0688", T0, "BOC")


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    """Banks A, B, C (tests.ledger_builders) plus MOP and USD customer accounts, the CNY/HKD
    rate of T0, and A's customer funded with CNY 200,000.00."""
    seed(engine)

    def work(conn: Connection) -> None:
        load_accounts(conn, [
            {"account": f"{b}-CUST-{cur}", "bank_id": b, "type": "liability", "currency": cur}
            for b in "AB" for cur in ("MOP", "USD")
        ])
        load_rates(conn, [CNY_HKD])

    transaction(engine, work)
    funded = post(engine, [entry("fund", "A-NOSTRO-CNY", "A-CUST-CNY", 20_000_000, "CNY")])
    assert funded[0].code == "ok"
    return engine


def balance_of(conn: Connection) -> dict[str, int]:
    return {b.account: b.balance for b in balances(conn)}


def assert_balanced(conn: Connection) -> None:
    tb = trial_balance(conn)
    assert tb.currencies and all(t.debits == t.credits for t in tb.currencies)
    assert verify(conn).ok


# --- accounts -----------------------------------------------------------------------------------


def test_fx_account_rows_have_the_documented_names() -> None:
    rows = fx_account_rows("A", ["CNY", "MOP"])
    assert [(r["account"], r["type"], r["currency"], r["allow_overdraft"]) for r in rows] == [
        ("A:FX_POSITION:CNY", "asset", "CNY", True),
        ("A:FX_INCOME:CNY", "income", "CNY", True),
        ("A:FX_ROUNDING:CNY", "expense", "CNY", True),
        ("A:FX_POSITION:MOP", "asset", "MOP", True),
        ("A:FX_INCOME:MOP", "income", "MOP", True),
        ("A:FX_ROUNDING:MOP", "expense", "MOP", True),
    ]
    assert [r["account"] for r in fx_account_rows(
        "B", ["MOP"], roles=("FX_REVALUATION", "FX_POSITION_REVALUED"))] == [
        "B:FX_REVALUATION:MOP", "B:FX_POSITION_REVALUED:MOP",
    ]


def test_open_fx_accounts_is_idempotent_and_leaves_declared_ones_alone(ledger: Engine) -> None:
    transaction(ledger, lambda c: load_accounts(c, [
        {"account": "A:FX_POSITION:HKD", "bank_id": "A", "type": "asset", "currency": "HKD",
         "name": "declared by the bank", "allow_overdraft": True},
    ]))
    assert transaction(ledger, lambda c: open_fx_accounts(c, ["A", "B"], ["HKD", "CNY"])) == 11
    assert transaction(ledger, lambda c: open_fx_accounts(c, ["A", "B"], ["HKD", "CNY"])) == 0
    with ledger.connect() as conn:
        name = conn.execute(
            text("SELECT name FROM accounts WHERE code = 'A:FX_POSITION:HKD'")
        ).scalar_one()
    assert name == "declared by the bank"
    with pytest.raises(NotFound, match="'Z'"):
        transaction(ledger, lambda c: open_fx_accounts(c, ["Z"], ["HKD"]))


# --- one conversion -----------------------------------------------------------------------------


def test_cny_to_mop_posted_as_a_real_entry(ledger: Engine) -> None:
    conv, result = transaction(ledger, lambda c: convert_and_post(
        c, entry_id="cv1", debit_account="A-CUST-CNY", credit_account="A-CUST-MOP",
        amount=Money("100000.00", "CNY"), at=AT, posted_at=POSTED_AT, reference="E2E-9",
    ))
    assert result.code == "ok"
    assert (conv.sell_amount, conv.buy_amount) == (10_000_000, 10_901_520)  # MOP 109,015.20
    # Mid: 1.0636 x 1.03 = 1.095508, so MOP 109,550.80; the spread is the difference.
    assert (conv.mid_amount, conv.spread, conv.rounding) == (10_955_080, 53_560, 0)
    with ledger.connect() as conn:
        bal = balance_of(conn)
        assert bal["A-CUST-CNY"] == 10_000_000
        assert bal["A-CUST-MOP"] == 10_901_520
        assert bal["A:FX_POSITION:CNY"] == -10_000_000  # credited: the bank is long CNY
        assert bal["A:FX_POSITION:MOP"] == 10_955_080  # gave up MOP at mid
        assert bal["A:FX_INCOME:MOP"] == 53_560
        assert bal["A:FX_ROUNDING:MOP"] == 0
        assert_balanced(conn)
        rows = conn.execute(text(
            "SELECT t.reference FROM transfers t JOIN entries e ON e.seq = t.entry_seq "
            "WHERE e.id = 'cv1'")).scalars().all()
        assert rows == ["E2E-9"] * 3  # sell, buy, spread: no rounding leg (it is zero)


def test_the_rounding_leg_is_booked_when_there_is_one(ledger: Engine) -> None:
    conv, result = transaction(ledger, lambda c: convert_and_post(
        c, entry_id="cv2", debit_account="A-CUST-CNY", credit_account="A-CUST-MOP",
        amount=1_234_520, at=AT, posted_at=POSTED_AT,
    ))
    assert result.code == "ok"
    assert (conv.buy_amount, conv.mid_amount, conv.spread, conv.rounding) == (
        1_345_814, 1_352_427, 6_612, 1)
    with ledger.connect() as conn:
        bal = balance_of(conn)
        assert bal["A:FX_ROUNDING:MOP"] == -1  # credited 0.01: the bank gained it
        assert bal["A:FX_POSITION:MOP"] == 1_352_427
        assert_balanced(conn)


def test_the_ledger_records_enough_to_recompute(ledger: Engine) -> None:
    conv, _ = transaction(ledger, lambda c: convert_and_post(
        c, entry_id="cv3", debit_account="A-CUST-CNY", credit_account="A-CUST-USD",
        amount=1_234_567, at=AT, posted_at=POSTED_AT, rounding=Rounding.FLOOR,
        rates=RateBook([CNY_HKD, make_quote("USD", "HKD", "7.7700", "7.7900", T0, "HKMA")]),
    ))
    with ledger.connect() as conn:
        meta = json.loads(conn.execute(
            text("SELECT meta FROM entries WHERE id = 'cv3'")).scalar_one())
    assert all(isinstance(v, str) for v in meta.values())
    assert meta["fx_pair"] == "CNY/USD" and meta["fx_book"] == "default"
    assert meta["fx_rounding"] == "floor" and meta["fx_legs"] == "2"
    assert meta["fx_leg1_quote"] == "CNY/HKD" and meta["fx_leg1_side"] == "bid"
    assert meta["fx_leg2_quote"] == "USD/HKD" and meta["fx_leg2_side"] == "ask"
    assert meta["fx_leg2_ask"] == "7.7900" and meta["fx_leg2_source"] == "HKMA"
    assert meta["fx_leg1_as_of"] == "2025-03-03T09:15:00+08:00"
    assert Fraction(meta["fx_factor_exact"]) == Fraction("1.0584") / Fraction("7.79")
    assert meta["fx_factor"].startswith("0.1358")
    assert recompute(meta, 1_234_567) == conv


def test_a_dealt_rate(ledger: Engine) -> None:
    conv, result = transaction(ledger, lambda c: convert_and_post(
        c, entry_id="dealt", debit_account="A-CUST-CNY", credit_account="A-CUST-HKD",
        amount=100_000, at=AT, posted_at=POSTED_AT, rate=Decimal("1.07"),
    ))
    assert (result.code, conv.buy_amount, conv.spread, conv.rounding) == ("ok", 107_000, 0, 0)
    with ledger.connect() as conn:
        meta = json.loads(conn.execute(
            text("SELECT meta FROM entries WHERE id = 'dealt'")).scalar_one())
    assert (meta["fx_rate"], meta["fx_factor"], meta["fx_legs"]) == ("dealt", "1.07", "0")
    assert recompute(meta, 100_000) == conv


def test_convert_and_post_raises_what_stops_it(ledger: Engine) -> None:
    def attempt(**kw: object) -> object:
        args: dict[str, object] = {
            "entry_id": "x", "debit_account": "A-CUST-CNY", "credit_account": "A-CUST-HKD",
            "amount": 100, "at": AT, "posted_at": POSTED_AT,
        } | kw
        return transaction(ledger, lambda c: convert_and_post(c, **args))  # type: ignore[arg-type]

    with pytest.raises(StaleRate, match="CNY/HKD"):
        attempt(at=T0 + timedelta(days=3))
    with pytest.raises(NoRate, match="CNY/USD"):
        attempt(credit_account="A-CUST-USD")
    with pytest.raises(NotFound, match="NOPE"):
        attempt(credit_account="NOPE")
    with pytest.raises(LedgerError, match="HKD amount"):
        attempt(amount=Money("1.00", "HKD"))
    # A posting rejection is a value.
    outcome = attempt(debit_account="B-CUST-CNY")
    assert isinstance(outcome, tuple) and outcome[1].code == "insufficient_funds"
    with ledger.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM entries")).scalar_one() == 1  # "fund"


def test_post_conversions_reports_a_result_per_request(ledger: Engine) -> None:
    def req(eid: str, credit: str = "A-CUST-HKD", **kw: object) -> ConversionRequest:
        return ConversionRequest(eid, kw.pop("debit", "A-CUST-CNY"), credit,  # type: ignore[arg-type]
                                 kw.pop("amount", 1_000_00), kw.pop("at", AT), **kw)  # type: ignore[arg-type]

    batch = [
        req("ok1"),
        req("nope", credit="NOPE"),
        req("same", credit="B-CUST-CNY"),
        req("zero", amount=0),
        req("usd", credit="A-CUST-USD"),
        req("stale", at=T0 + timedelta(days=5)),
        req("cnh", book="CNH"),
        req("poor", debit="B-CUST-CNY"),
        req("dealt", rate=Decimal("1.0700")),
        req("half_up", amount=1_234_520, credit="A-CUST-MOP"),
    ]
    outcomes = transaction(ledger, lambda c: post_conversions(
        c, batch, posted_at=POSTED_AT, rules={"default": BookRules(Rounding.FLOOR)},
    ))
    assert [(o.request.entry_id, o.result.code) for o in outcomes] == [
        ("ok1", "ok"), ("nope", "unknown_account"), ("same", "currency_mismatch"),
        ("zero", "amount_must_be_positive"), ("usd", "no_rate"), ("stale", "stale_rate"),
        ("cnh", "no_rate"), ("poor", "insufficient_funds"), ("dealt", "ok"), ("half_up", "ok"),
    ]
    assert outcomes[-1].conversion is not None and outcomes[-1].conversion.mode is Rounding.FLOOR
    assert "2025-03-03T09:15:00+08:00" in outcomes[5].result.message
    again = transaction(ledger, lambda c: post_conversions(c, batch, posted_at=POSTED_AT,
                                                           rules={"default": BookRules(
                                                               Rounding.FLOOR)}))
    assert [o.result.code for o in again if o.conversion] == ["duplicate", "insufficient_funds",
                                                              "duplicate", "duplicate"]
    with ledger.connect() as conn:
        assert_balanced(conn)


# --- the entry itself ---------------------------------------------------------------------------


def test_conversion_entry_legs_and_directions() -> None:
    rate = RateBook([CNY_HKD]).rate_for("CNY", "MOP", at=AT)
    conv = convert(1_234_520, rate)
    spec = conversion_entry("e", debit_account="C-CNY", credit_account="C-MOP", bank_id="A",
                            conversion=conv, value_date=DAY, extra_meta={"batch": "b1"})
    assert spec.kind == "convert" and spec.value_date == DAY
    assert spec.transfers == (
        TransferSpec("C-CNY", "A:FX_POSITION:CNY", 1_234_520, "CNY"),
        TransferSpec("A:FX_POSITION:MOP", "C-MOP", 1_345_814, "MOP"),
        TransferSpec("A:FX_POSITION:MOP", "A:FX_INCOME:MOP", 6_612, "MOP"),
        TransferSpec("A:FX_POSITION:MOP", "A:FX_ROUNDING:MOP", 1, "MOP"),
    )
    assert spec.meta is not None and spec.meta["batch"] == "b1"
    # A negative rounding (or spread) runs the other way; a zero one is left out.
    negative = replace(conv, buy_amount=1_345_816, rounding=-1)
    legs = conversion_entry("e", debit_account="C-CNY", credit_account="C-MOP", bank_id="A",
                            conversion=negative, value_date=DAY).transfers
    assert legs[-1] == TransferSpec("A:FX_ROUNDING:MOP", "A:FX_POSITION:MOP", 1, "MOP")
    flat = replace(conv, spread=0, rounding=0, buy_amount=conv.mid_amount)
    assert len(conversion_entry("e", debit_account="C-CNY", credit_account="C-MOP",
                                bank_id="A", conversion=flat, value_date=DAY).transfers) == 2
    with pytest.raises(LedgerError, match="fx_pair"):
        conversion_entry("e", debit_account="C-CNY", credit_account="C-MOP", bank_id="A",
                         conversion=conv, value_date=DAY, extra_meta={"fx_pair": "x"})


# --- block deals --------------------------------------------------------------------------------

LINES = [
    BlockLine("L1", "A-CUST-CNY", "A-CUST-HKD", 1_234_500, "E2E-L1"),
    BlockLine("L2", "A-CUST-CNY", "B-CUST-HKD", 2_000_100, "E2E-L2"),
    BlockLine("L3", "A-CUST-CNY", "A-CUST-HKD", 3_000_300, "E2E-L3"),
]
AT_1_0650 = dealt_rate("CNY", "HKD", Decimal("1.0650"))


def test_block_deal_residue_goes_to_the_rounding_account(ledger: Engine) -> None:
    deal, results = transaction(ledger, lambda c: post_block(
        c, "BLK1", LINES, bank_id="A", rate=AT_1_0650, value_date=DAY, posted_at=POSTED_AT,
        mode=Rounding.HALF_UP, policy="residue",
    ))
    assert [r.code for r in results] == ["ok"] * 4
    assert deal.line_amounts == (1_314_743, 2_130_107, 3_195_320)  # sum 66,401.70
    assert deal.block.buy_amount == 6_640_169  # 62,349.00 x 1.0650 = 66,401.685, half-up
    assert deal.residue == -1  # the lines pay out 0.01 more than the block brings in
    _, entries = block_entries("BLK1", LINES, bank_id="A", rate=AT_1_0650, value_date=DAY,
                               mode=Rounding.HALF_UP, policy="residue")
    block = entries[-1]
    assert block.id == "BLK1" and block.kind == "fx_block"
    assert block.meta is not None and block.meta["fx_block_residue"] == "-1"
    # The block's own rounding against its mid (66,401.685 half-even: .68), then the residue.
    assert block.transfers == (
        TransferSpec("A:FX_ROUNDING:HKD", "A:FX_POSITION:HKD", 1, "HKD"),
        TransferSpec("A:FX_ROUNDING:HKD", "A:FX_POSITION:HKD", 1, "HKD"),
    )
    with ledger.connect() as conn:
        bal = balance_of(conn)
        assert bal["A-CUST-HKD"] + bal["B-CUST-HKD"] == 6_640_170
        assert bal["A:FX_ROUNDING:HKD"] == 2
        assert bal["A:FX_POSITION:CNY"] == -6_234_900
        assert bal["A:FX_POSITION:HKD"] == 6_640_168  # the block at mid
        assert_balanced(conn)


def test_block_deal_allocated_over_the_lines(ledger: Engine) -> None:
    deal, _ = transaction(ledger, lambda c: post_block(
        c, "BLK2", LINES, bank_id="A", rate=AT_1_0650, value_date=DAY, posted_at=POSTED_AT,
        mode=Rounding.HALF_UP, policy="allocate",
    ))
    assert deal.line_amounts == (1_314_743, 2_130_107, 3_195_319)  # sum = the block, 66,401.69
    assert deal.residue == 0
    with ledger.connect() as conn:
        bal = balance_of(conn)
        assert bal["A-CUST-HKD"] == 1_314_743 + 3_195_319
        assert bal["B-CUST-HKD"] == 2_130_107
        assert bal["A:FX_ROUNDING:HKD"] == 1  # the block's own rounding only
        assert_balanced(conn)
        refs = conn.execute(text(
            "SELECT t.reference FROM transfers t JOIN entries e ON e.seq = t.entry_seq "
            "WHERE e.id = 'L2' ORDER BY t.id")).scalars().all()
        assert refs == ["E2E-L2", "E2E-L2"]


def test_a_rejected_line_rolls_the_block_back(ledger: Engine) -> None:
    lines = [*LINES, BlockLine("L4", "B-CUST-CNY", "B-CUST-HKD", 100)]  # B's customer is empty
    with pytest.raises(BlockRejected, match="L4: insufficient_funds"):
        transaction(ledger, lambda c: post_block(
            c, "BLK3", lines, bank_id="A", rate=AT_1_0650, value_date=DAY,
            posted_at=POSTED_AT,
        ))
    with ledger.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM entries")).scalar_one() == 1


# --- property: conversions never create money ---------------------------------------------------

_ids = itertools.count()
CUSTOMERS = {cur: f"P-{cur}" for cur in ("CNY", "HKD", "MOP", "USD")}
QUOTES = [CNY_HKD, make_quote("USD", "HKD", "7.7700", "7.7900", T0, "HKMA"),
          make_quote("USD", "CNY", "7.1000", "7.2500", T0, "PBOC")]


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    batch=st.lists(
        st.tuples(st.sampled_from(sorted(CUSTOMERS)), st.sampled_from(sorted(CUSTOMERS)),
                  st.integers(1, 10**11)),
        min_size=1, max_size=12,
    ),
    mode=st.sampled_from(Rounding),
)
def test_posted_conversions_balance_and_never_overpay(
    engine: Engine, batch: list[tuple[str, str, int]], mode: Rounding
) -> None:
    def setup(conn: Connection) -> None:
        if conn.execute(text("SELECT COUNT(*) FROM banks WHERE bank_id = 'P'")).scalar_one():
            return
        load_banks(conn, [{"bank_id": "P", "name": "P", "market": "MO"}])
        load_accounts(conn, [
            {"account": code, "bank_id": "P", "type": "liability", "currency": cur,
             "allow_overdraft": True} for cur, code in CUSTOMERS.items()
        ])

    transaction(engine, setup)
    requests = [
        ConversionRequest(f"p{next(_ids)}", CUSTOMERS[sell], CUSTOMERS[buy], amount, AT)
        for sell, buy, amount in batch if sell != buy
    ]
    outcomes = transaction(engine, lambda c: post_conversions(
        c, requests, posted_at=POSTED_AT, rates=RateBook(QUOTES),
        default_rules=BookRules(mode),
    ))
    for o in outcomes:
        assert o.result.code == "ok"
        conv = o.conversion
        assert conv is not None
        assert conv.buy_amount + conv.spread + conv.rounding == conv.mid_amount
        assert conv.spread >= 0
        if mode is Rounding.FLOOR:
            assert conv.buy_amount <= conv.exact_value
    with engine.connect() as conn:
        assert_balanced(conn)
        posted = conn.execute(text(
            "SELECT e.id, t.amount FROM transfers t JOIN entries e ON e.seq = t.entry_seq "
            "JOIN accounts a ON a.id = t.credit_account_id WHERE a.code LIKE 'P-%'"
        )).all()
    paid: dict[str, int] = {str(eid): int(amount) for eid, amount in posted}
    for o in outcomes:  # what the customer was credited is the conversion's buy amount
        assert o.conversion is not None
        assert paid.get(o.request.entry_id, 0) == o.conversion.buy_amount
