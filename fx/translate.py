"""Balances in one currency: each account's balance translated at the closing mid of a rate book.

Guarantees:

- The rate of a currency C into the reporting currency R is the **closing mid** of ``book`` on
  ``rate_date``: resolved as for a revaluation (:func:`fx.revalue.closing_time`, the end of the
  day in UTC+8; direct, inverse or crossed through a pivot, the MOP/HKD peg included), each leg
  within the book's staleness limit. R itself is translated at exactly 1.
- The arithmetic is exact (``Fraction``) and each line is rounded **once**, with the rounding
  mode named by the caller (the book's rounding setting), to R's minor units.
- A currency with no rate, or only a stale one, refuses the whole report: ``NoRate`` (naming
  the pair, the account that needed it, the date and the book) or ``StaleRate`` (the pair and
  the quote's time). A zero balance needs no rate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from fx.book import BookRates
from fx.conversion import Rounding, round_minor
from fx.quotes import NoRate
from fx.revalue import closing_time
from ledger.money import currency
from ledger.reports import BalanceRow


@dataclass(frozen=True, slots=True)
class TranslatedBalance:
    row: BalanceRow
    into: str
    rate: Fraction  # R per 1 unit of the row's currency (major units)
    amount: int  # the balance in R's minor units, rounded once


def translate_balances(
    rows: Iterable[BalanceRow],
    *,
    into: str,
    rate_date: dt.date,
    view: BookRates,
    rounding: Rounding,
) -> list[TranslatedBalance]:
    """Each row's balance in ``into`` at ``view``'s closing mid on ``rate_date``."""
    r = currency(into)
    at = closing_time(rate_date)
    rates: dict[str, Fraction] = {r.code: Fraction(1)}
    out = []
    for row in rows:
        rate = rates.get(row.currency)
        if rate is None:
            if row.balance == 0:
                out.append(TranslatedBalance(row, r.code, Fraction(0), 0))
                continue
            try:
                rate = view.rate_for(row.currency, r.code, at).mid_factor
            except NoRate as exc:  # a stale rate's StaleRate already names pair and time
                raise NoRate(row.currency, r.code,
                             f"{exc}; needed for {row.account} at the close of {rate_date} "
                             f"(book {view.name!r})") from None
            rates[row.currency] = rate
        exact = Fraction(row.balance * r.scale, currency(row.currency).scale) * rate
        out.append(TranslatedBalance(row, r.code, rate, round_minor(exact, rounding)))
    return out
