"""Netting of interbank flows: multilateral positions and bilateral obligations.

The model. A :class:`Flow` is money one bank (``payer``) owes another (``payee``): one currency,
an ``int`` amount of minor units > 0, and the value date on which it settles. Netting never
creates or loses money; what it guarantees:

* **Multilateral** (:func:`net_positions`): one :class:`Position` per bank per currency, ``net``
  = received - paid (+ the bank receives, - it pays). The positions of one currency sum to zero.
  Positions span the whole batch, all value dates together (the CONTRACT's ``positions`` carry no
  value date). A bank that appears in a flow is listed even when its net is 0.
* **Bilateral** (:func:`bilateral_obligations`): one :class:`Obligation` per unordered pair of
  banks, per currency **and per value date**: flows of different value dates settle on different
  days, so a payment due Monday is not offset against one due Tuesday. ``payer`` is the bank that
  owes the net; pairs whose flows cancel out (net 0) are omitted. For every bank and currency, the
  obligations it receives less those it pays equal its multilateral position.
* A flow whose payer is its payee (two accounts of one bank) moves no money between banks and
  is ignored: it is not netted and does not list the bank.
* The result does not depend on the order of the flows nor on how they are split into chunks
  (:meth:`NettingAccumulator.merge`); lists come sorted: positions by ``(currency, bank_id)``,
  obligations by ``(currency, value_date, payer, payee)``.

Memory is O(pairs of banks x currencies x value dates), never O(flows):
:class:`NettingAccumulator` keeps one signed total per ordered pair key and can be fed a
stream of a million flows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from ledger.errors import LedgerError
from ledger.money import CURRENCIES, format_amount


class NettingError(LedgerError, ValueError):
    """A flow that cannot be netted: amount not a positive int, unknown currency."""


@dataclass(frozen=True, slots=True)
class Flow:
    """``amount`` minor units of ``currency`` that ``payer`` pays ``payee`` on ``value_date``."""

    payer: str
    payee: str
    currency: str
    amount: int
    value_date: date

    def __post_init__(self) -> None:
        _check_amount(self.amount)
        if self.currency not in CURRENCIES:
            raise NettingError(f"unknown currency {self.currency!r}")
        if not isinstance(self.value_date, date):
            raise NettingError(f"value_date must be a date, got {self.value_date!r}")


@dataclass(frozen=True, slots=True)
class Position:
    """A bank's multilateral net in one currency: + receives, - pays (minor units)."""

    bank_id: str
    currency: str
    net: int

    def as_json(self) -> dict[str, str]:
        return {
            "bank_id": self.bank_id,
            "currency": self.currency,
            "net": format_amount(self.net, self.currency),
        }


@dataclass(frozen=True, slots=True)
class Obligation:
    """``payer`` owes ``payee`` the net ``amount`` (> 0) of ``currency`` on ``value_date``."""

    payer: str
    payee: str
    currency: str
    amount: int
    value_date: date

    def as_json(self) -> dict[str, str]:
        return {
            "payer": self.payer,
            "payee": self.payee,
            "currency": self.currency,
            "amount": format_amount(self.amount, self.currency),
            "value_date": self.value_date.isoformat(),
        }


def _check_amount(amount: object) -> None:
    # `type(...) is int` refuses bool (a subclass of int) and every float or Decimal.
    if type(amount) is not int or amount <= 0:
        raise NettingError(f"amount must be a positive int of minor units, got {amount!r}")


# A pair key is (currency, value_date, low bank, high bank) with low < high; its total is what
# `low` pays `high` net (negative: `high` pays `low`). One key per unordered pair.
_Key = tuple[str, date, str, str]


class NettingAccumulator:
    """Running bilateral totals: feed flows with :meth:`add`, read the nets at any time.

    ``add`` costs one comparison, one tuple and one dict update. The accumulator is not
    thread-safe; accumulate chunks in separate accumulators and :meth:`merge` them instead.
    """

    __slots__ = ("_totals",)

    def __init__(self) -> None:
        self._totals: dict[_Key, int] = {}

    def add(self, payer: str, payee: str, currency: str, amount: int, value_date: date) -> None:
        """Record that ``payer`` pays ``payee``; a flow within one bank is ignored."""
        if type(amount) is not int or amount <= 0:
            _check_amount(amount)
        if payer < payee:
            key = (currency, value_date, payer, payee)
        elif payee < payer:
            key = (currency, value_date, payee, payer)
            amount = -amount
        else:
            return
        totals = self._totals
        totals[key] = totals.get(key, 0) + amount

    def add_flow(self, flow: Flow) -> None:
        self.add(flow.payer, flow.payee, flow.currency, flow.amount, flow.value_date)

    def add_flows(self, flows: Iterable[Flow]) -> None:
        add = self.add
        for f in flows:
            add(f.payer, f.payee, f.currency, f.amount, f.value_date)

    def merge(self, other: NettingAccumulator) -> None:
        """Add ``other``'s totals to this one (``other`` is left unchanged)."""
        totals = self._totals
        for key, amount in other._totals.items():
            totals[key] = totals.get(key, 0) + amount

    def positions(self) -> list[Position]:
        """The multilateral net per bank and currency, sorted by ``(currency, bank_id)``."""
        nets: dict[tuple[str, str], int] = {}
        for (cur, _vd, low, high), amount in self._totals.items():
            nets[(cur, low)] = nets.get((cur, low), 0) - amount
            nets[(cur, high)] = nets.get((cur, high), 0) + amount
        return [Position(bank, cur, net) for (cur, bank), net in sorted(nets.items())]

    def obligations(self) -> list[Obligation]:
        """The bilateral nets, sorted by ``(currency, value_date, payer, payee)``; zeros omitted."""
        out = [
            Obligation(low, high, cur, amount, vd)
            if amount > 0
            else Obligation(high, low, cur, -amount, vd)
            for (cur, vd, low, high), amount in self._totals.items()
            if amount != 0
        ]
        out.sort(key=lambda o: (o.currency, o.value_date, o.payer, o.payee))
        return out


def net_positions(flows: Iterable[Flow]) -> list[Position]:
    """Multilateral net of ``flows`` per bank and currency (see the module docstring)."""
    acc = NettingAccumulator()
    acc.add_flows(flows)
    return acc.positions()


def bilateral_obligations(flows: Iterable[Flow]) -> list[Obligation]:
    """Bilateral net of ``flows`` per pair of banks, currency and value date."""
    acc = NettingAccumulator()
    acc.add_flows(flows)
    return acc.obligations()
