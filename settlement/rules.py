"""The scheme's rules as pure functions over in-memory state: closed loop, products, quotas.

No database, no I/O. The engine loads the reference data and the stored quota usage once per
batch into these structures, asks them about each instruction in file order (so earlier
instructions of the same batch count), applies the accepted ones, and writes the touched usage
back once. Every rejection is a ``(code, message)`` value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from ledger.money import format_amount

Rejection = tuple[str, str]

# Product risk levels eligible per direction: Northbound public funds R1-R4 (DOMAIN.md).
MAX_RISK: Final = {"northbound": "R4", "southbound": "R5"}


@dataclass(frozen=True, slots=True)
class Link:
    """An investor's closed loop on one channel: the paired remittance and investment accounts."""

    investor_id: str
    channel: str
    direction: str
    remittance_account: str
    investment_account: str


@dataclass(frozen=True, slots=True)
class ProductInfo:
    product: str
    currency: str
    risk: str
    direction: str
    account: str


@dataclass(slots=True)
class Scheme:
    """Investors' links and products, indexed for the checks below."""

    links: dict[str, list[Link]] = field(default_factory=dict)
    by_account: dict[str, Link] = field(default_factory=dict)
    products: dict[str, ProductInfo] = field(default_factory=dict)
    #: Every investor's investment account: principal leaves one only by the scheme's kinds.
    investment_accounts: set[str] = field(default_factory=set)

    def add_link(self, link: Link) -> None:
        self.links.setdefault(link.investor_id, []).append(link)
        self.by_account[link.remittance_account] = link
        self.by_account[link.investment_account] = link
        self.investment_accounts.add(link.investment_account)

    def pair(self, investor_id: str | None, debit: str, credit: str,
             outbound: bool) -> Link | Rejection:
        """The link a remit (``outbound``) or repatriation uses, or why there is none."""
        if not investor_id:
            return ("unknown_investor", "a remit or repatriate names its investor_id")
        links = self.links.get(investor_id)
        if not links:
            return ("unknown_investor", f"investor {investor_id!r} is not registered")
        for link in links:
            src, dst = ((link.remittance_account, link.investment_account) if outbound
                        else (link.investment_account, link.remittance_account))
            if debit == src and credit == dst:
                return link
        where = "from its remittance account to its paired investment account" if outbound \
            else "from its investment account back to its own remittance account"
        return ("closed_loop_violation",
                f"investor {investor_id}'s money may only go {where}; got {debit} -> {credit}")

    def investor_of(self, investor_id: str | None, account: str) -> Link | Rejection:
        """The link of the investor whose investment money ``account`` holds."""
        owner = self.by_account.get(account)
        if investor_id:
            links = self.links.get(investor_id)
            if not links:
                return ("unknown_investor", f"investor {investor_id!r} is not registered")
            if owner is not None and owner.investor_id != investor_id:
                return ("closed_loop_violation",
                        f"account {account} belongs to investor {owner.investor_id}")
            return owner or links[0]
        if owner is None or owner.investment_account != account:
            return ("unknown_investor", f"no investor's investment account is {account}")
        return owner

    def product_for(self, name: str | None, link: Link, currency: str) -> ProductInfo | Rejection:
        if not name:
            return ("unknown_product", "a subscription or redemption names its product")
        product = self.products.get(name)
        if product is None:
            return ("unknown_product", f"product {name!r} is not registered")
        if product.direction != link.direction or product.risk > MAX_RISK[link.direction]:
            return ("product_not_eligible",
                    f"product {name} ({product.direction}, {product.risk}) is not eligible for "
                    f"{link.direction} investor {link.investor_id}")
        if product.currency != currency:
            return ("currency_mismatch", f"product {name} is in {product.currency}, "
                                         f"the instruction in {currency}")
        return product


@dataclass(frozen=True, slots=True)
class QuotaLimits:
    individual: int
    per_channel: int
    aggregate: int
    floor_zero: bool


class QuotaBook:
    """Net quota usage per investor and channel, and per direction for the aggregate quota.

    Usage is counted in CNY minor units: a remittance out adds, a repatriation subtracts; with
    ``floor_zero`` an investor's usage never goes below zero (gains brought home make no room).
    """

    def __init__(self, limits: QuotaLimits, usage: dict[tuple[str, str], list[int]],
                 channels: dict[str, int], aggregate: dict[str, int]) -> None:
        self.limits = limits
        self.usage = usage  # (investor, channel) -> [remitted_out, remitted_back, used]
        self.channels = channels  # investor -> number of channels
        self.aggregate = aggregate
        self.touched: set[tuple[str, str]] = set()
        self.aggregate_touched = False

    def _row(self, link: Link) -> list[int]:
        key = (link.investor_id, link.channel)
        row = self.usage.get(key)
        if row is None:
            row = self.usage[key] = [0, 0, 0]
        return row

    def check_remit(self, link: Link, amount: int) -> Rejection | None:
        lim = self.limits
        row = self._row(link)
        if self.channels.get(link.investor_id, 1) > 1 and row[2] + amount > lim.per_channel:
            return ("quota_exceeded_channel",
                    f"investor {link.investor_id} on {link.channel}: used "
                    f"{format_amount(row[2], 'CNY')} + {format_amount(amount, 'CNY')} > "
                    f"{format_amount(lim.per_channel, 'CNY')} CNY per channel")
        usage, inv = self.usage, link.investor_id
        bank, broker = usage.get((inv, "bank")), usage.get((inv, "broker"))
        total = (bank[2] if bank else 0) + (broker[2] if broker else 0)
        if total + amount > lim.individual:
            return ("quota_exceeded_individual",
                    f"investor {link.investor_id}: used {format_amount(total, 'CNY')} + "
                    f"{format_amount(amount, 'CNY')} > {format_amount(lim.individual, 'CNY')} CNY")
        agg = self.aggregate.get(link.direction, 0)
        if agg + amount > lim.aggregate:
            return ("quota_exceeded_aggregate",
                    f"{link.direction} aggregate quota: used {format_amount(agg, 'CNY')} + "
                    f"{format_amount(amount, 'CNY')} > {format_amount(lim.aggregate, 'CNY')} CNY")
        return None

    def remit(self, link: Link, amount: int) -> None:
        row = self._row(link)
        row[0] += amount
        row[2] += amount
        self.aggregate[link.direction] = self.aggregate.get(link.direction, 0) + amount
        self.touched.add((link.investor_id, link.channel))
        self.aggregate_touched = True

    def repatriate(self, link: Link, amount: int) -> None:
        row = self._row(link)
        row[1] += amount
        row[2] = max(0, row[2] - amount) if self.limits.floor_zero else row[2] - amount
        self.aggregate[link.direction] = self.aggregate.get(link.direction, 0) - amount
        self.touched.add((link.investor_id, link.channel))
        self.aggregate_touched = True
