"""Multilateral and bilateral netting: the DOMAIN.md example and the invariants."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import LedgerError
from settlement.netting import (
    Flow,
    NettingAccumulator,
    Obligation,
    Position,
    bilateral_obligations,
    net_positions,
)

D = date(2025, 3, 3)


def hkd(payer: str, payee: str, major: int, value_date: date = D) -> Flow:
    return Flow(payer, payee, "HKD", major * 100, value_date)


DOMAIN_EXAMPLE = [
    hkd("A", "B", 1_200_000),
    hkd("B", "A", 450_000),
    hkd("B", "C", 300_000),
    hkd("C", "A", 800_000),
    hkd("A", "C", 100_000),
    hkd("C", "B", 50_000),
]


def test_domain_example_multilateral() -> None:
    assert net_positions(DOMAIN_EXAMPLE) == [
        Position("A", "HKD", -50_000_00),
        Position("B", "HKD", 500_000_00),
        Position("C", "HKD", -450_000_00),
    ]


def test_domain_example_bilateral() -> None:
    assert bilateral_obligations(DOMAIN_EXAMPLE) == [
        Obligation("A", "B", "HKD", 750_000_00, D),
        Obligation("B", "C", "HKD", 250_000_00, D),
        Obligation("C", "A", "HKD", 700_000_00, D),
    ]


def test_json_shapes() -> None:
    assert Position("A", "HKD", -50_000_00).as_json() == {
        "bank_id": "A",
        "currency": "HKD",
        "net": "-50000.00",
    }
    assert Obligation("A", "B", "HKD", 750_000_00, D).as_json() == {
        "payer": "A",
        "payee": "B",
        "currency": "HKD",
        "amount": "750000.00",
        "value_date": "2025-03-03",
    }


def test_zero_net_bank_is_listed_and_zero_pair_omitted() -> None:
    flows = [hkd("A", "B", 10), hkd("B", "A", 10)]
    assert net_positions(flows) == [Position("A", "HKD", 0), Position("B", "HKD", 0)]
    assert bilateral_obligations(flows) == []


def test_same_bank_flow_is_ignored() -> None:
    flows = [hkd("A", "A", 10), hkd("A", "B", 3)]
    assert net_positions(flows) == [Position("A", "HKD", -300), Position("B", "HKD", 300)]
    assert net_positions([hkd("A", "A", 10)]) == []


def test_value_dates_settle_separately() -> None:
    monday, tuesday = date(2025, 3, 3), date(2025, 3, 4)
    flows = [hkd("A", "B", 100, monday), hkd("B", "A", 60, tuesday)]
    assert bilateral_obligations(flows) == [
        Obligation("A", "B", "HKD", 100_00, monday),
        Obligation("B", "A", "HKD", 60_00, tuesday),
    ]
    # Positions are over the whole batch.
    assert net_positions(flows) == [Position("A", "HKD", -40_00), Position("B", "HKD", 40_00)]


def test_currencies_are_netted_apart_and_sorted() -> None:
    flows = [
        Flow("B", "A", "MOP", 5, D),
        hkd("A", "B", 1),
        Flow("A", "B", "CNY", 7, D),
    ]
    assert [(p.currency, p.bank_id) for p in net_positions(flows)] == [
        ("CNY", "A"),
        ("CNY", "B"),
        ("HKD", "A"),
        ("HKD", "B"),
        ("MOP", "A"),
        ("MOP", "B"),
    ]
    assert [o.currency for o in bilateral_obligations(flows)] == ["CNY", "HKD", "MOP"]


@pytest.mark.parametrize("amount", [0, -1, 1.5, True, "100"])
def test_bad_amounts_are_refused(amount: object) -> None:
    with pytest.raises(LedgerError):
        Flow("A", "B", "HKD", amount, D)  # type: ignore[arg-type]
    with pytest.raises(LedgerError):
        NettingAccumulator().add("A", "B", "HKD", amount, D)  # type: ignore[arg-type]


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(LedgerError):
        Flow("A", "B", "CNH", 1, D)


# -- properties ----------------------------------------------------------------------------------

BANKS = st.sampled_from(["A", "B", "C", "D", "E"])
flows_strategy = st.lists(
    st.builds(
        Flow,
        payer=BANKS,
        payee=BANKS,
        currency=st.sampled_from(["HKD", "MOP", "CNY"]),
        amount=st.integers(min_value=1, max_value=10**15),
        value_date=st.sampled_from([date(2025, 3, 3), date(2025, 3, 4)]),
    ),
    max_size=60,
)


@given(flows_strategy)
def test_positions_sum_to_zero_per_currency(flows: list[Flow]) -> None:
    totals: dict[str, int] = defaultdict(int)
    for p in net_positions(flows):
        totals[p.currency] += p.net
    assert all(total == 0 for total in totals.values())


@given(flows_strategy)
def test_positions_equal_gross_received_minus_paid(flows: list[Flow]) -> None:
    expected: dict[tuple[str, str], int] = defaultdict(int)
    for f in flows:
        if f.payer != f.payee:
            expected[(f.currency, f.payer)] -= f.amount
            expected[(f.currency, f.payee)] += f.amount
    assert {(p.currency, p.bank_id): p.net for p in net_positions(flows)} == expected


@given(flows_strategy)
def test_bilateral_obligations_add_up_to_positions(flows: list[Flow]) -> None:
    from_obligations: dict[tuple[str, str], int] = defaultdict(int)
    for o in bilateral_obligations(flows):
        assert o.amount > 0 and o.payer != o.payee
        from_obligations[(o.currency, o.payee)] += o.amount
        from_obligations[(o.currency, o.payer)] -= o.amount
    for p in net_positions(flows):
        assert from_obligations.get((p.currency, p.bank_id), 0) == p.net


@given(flows_strategy, st.randoms(use_true_random=False), st.integers(min_value=1, max_value=7))
def test_result_does_not_depend_on_order_or_chunking(
    flows: list[Flow], rnd: object, chunk: int
) -> None:
    shuffled = list(flows)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    merged = NettingAccumulator()
    for start in range(0, len(shuffled), chunk):
        part = NettingAccumulator()
        part.add_flows(shuffled[start : start + chunk])
        merged.merge(part)
    one_by_one = NettingAccumulator()
    for f in reversed(flows):
        one_by_one.add_flow(f)
    assert merged.positions() == one_by_one.positions() == net_positions(flows)
    assert merged.obligations() == one_by_one.obligations() == bilateral_obligations(flows)
