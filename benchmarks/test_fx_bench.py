"""The FX hot path, pure Python, no database: 100,000 conversions per round.

``test_conversions``: per conversion, the rate lookup in a :class:`fx.book.RateBook` view (a mix
of direct, inverse, cross and pegged pairs over a day whose quotes change every hour, each
instruction with its own timestamp), the exact conversion rounded once, and the
:class:`~ledger.entries.EntrySpec` of :func:`fx.booking.conversion_entry` (customer, position,
spread and rounding transfers, with the rate in its meta).
``test_lookup_and_convert``: the lookup and the conversion alone, the figure held to "well
under 5 microseconds".
``test_transfers``: 100,000 plain one-transfer ``EntrySpec`` built the same way, the baseline.
Run: ``make bench`` or ``.venv/bin/pytest benchmarks/test_fx_bench.py --benchmark-only``.
Each test stores its rate per second in ``extra_info``.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from fx.book import RateBook
from fx.booking import conversion_entry
from fx.conversion import Conversion, Rounding
from fx.quotes import Quote, make_quote
from ledger.entries import EntrySpec, TransferSpec

N = 100_000
DAY = dt.date(2025, 3, 3)
PAIRS = [("CNY", "HKD"), ("HKD", "CNY"), ("CNY", "MOP"), ("MOP", "CNY"), ("HKD", "MOP"),
         ("USD", "HKD"), ("CNY", "USD"), ("MOP", "USD")]


def _quotes() -> list[Quote]:
    quotes = []
    for hour in range(9, 18):
        at = f"2025-03-03T{hour:02d}:00:00+08:00"
        step = Decimal(hour - 9) / 10_000
        quotes.append(make_quote("CNY", "HKD", str(Decimal("1.0584") + step),
                                 str(Decimal("1.0688") + step), at, "BOC"))
        quotes.append(make_quote("USD", "HKD", str(Decimal("7.7700") + step),
                                 str(Decimal("7.7900") + step), at, "HKMA"))
    return quotes


def _inputs() -> list[tuple[str, str, str, int, dt.datetime, str, str]]:
    rng = random.Random(20250303)
    rows = []
    for i in range(N):
        sell, buy = PAIRS[i % len(PAIRS)]
        second = 9 * 3600 + rng.randrange(9 * 3600)
        # Each instruction's own timestamp, parsed as the settlement engine parses it.
        at = dt.datetime.fromisoformat(
            f"2025-03-03T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}+08:00")
        rows.append((f"CV{i:06d}", sell, buy, rng.randrange(1, 10**9), at, f"C{i % 1000}-{sell}",
                     f"C{i % 1000}-{buy}"))
    return rows


INPUTS = _inputs()
QUOTES = _quotes()


def _per_second(benchmark: Any) -> None:
    benchmark.extra_info["per_second"] = round(N / benchmark.stats.stats.mean)


def test_conversions(benchmark: Any) -> None:
    def run() -> list[EntrySpec]:
        view = RateBook(QUOTES).view("default")  # a fresh cache each round
        out = []
        for eid, sell, buy, amount, at, debit, credit in INPUTS:
            conv = view.convert(amount, sell, buy, at, Rounding.HALF_EVEN)
            out.append(conversion_entry(eid, debit_account=debit, credit_account=credit,
                                        bank_id="A", conversion=conv, value_date=DAY))
        return out

    entries = benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    assert len(entries) == N and len(entries[0].transfers) >= 2
    _per_second(benchmark)


def test_lookup_and_convert(benchmark: Any) -> None:
    def run() -> list[Conversion]:
        view = RateBook(QUOTES).view("default")
        return [view.convert(amount, sell, buy, at, Rounding.HALF_EVEN)
                for _, sell, buy, amount, at, _, _ in INPUTS]

    conversions = benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    assert len(conversions) == N
    _per_second(benchmark)
    benchmark.extra_info["microseconds_each"] = round(benchmark.stats.stats.mean / N * 1e6, 3)


def test_transfers(benchmark: Any) -> None:
    def run() -> list[EntrySpec]:
        return [
            EntrySpec(eid, "transfer", DAY, (TransferSpec(debit, credit, amount, sell),))
            for eid, sell, _, amount, _, debit, credit in INPUTS
        ]

    entries = benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    assert len(entries) == N
    _per_second(benchmark)
