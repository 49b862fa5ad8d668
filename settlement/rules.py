"""The scheme's rules as pure functions over in-memory state: closed loop, products, quotas.

Rules as published: a product is eligible for a direction when one rule of the eligibility table
(settings ``[[eligibility.rules]]``, defaults from the regulators' pages, see the README) admits
its type, risk, category, complexity, domicile and authorisation as sold in its seller's market;
an investor row is eligible between its optional ``eligible_from`` and ``eligible_until`` dates
(what the bank attests). Each rule has its one function here; the engine only asks.

No database, no I/O. The engine loads the reference data and the stored quota usage once per
batch into these structures, asks them about each instruction in file order (so earlier
instructions of the same batch count), applies the accepted ones, and writes the touched usage
back once. Every rejection is a ``(code, message)`` value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from ledger.money import format_amount

Rejection = tuple[str, str]

RISKS: Final = ("R1", "R2", "R3", "R4", "R5")
#: What a product is. ``public_fund``: a publicly offered fund (Mainland public securities
#: investment fund; an SFC- or AMCM-authorised fund); ``wealth_management``: a Mainland wealth
#: management product.
PRODUCT_TYPES: Final = ("deposit", "wealth_management", "public_fund", "bond",
                        "structured_product", "other")
#: The type of a product row that states none: before types existed every product was judged
#: as a public fund (Northbound R1-R4), and an untyped row keeps that meaning.
DEFAULT_PRODUCT_TYPE: Final = "public_fund"
#: An investor's channel and the kind of institution that serves it on both sides of the border.
CHANNEL_KIND: Final = {"bank": "bank", "broker": "securities_firm"}


@dataclass(frozen=True, slots=True)
class Link:
    """An investor's closed loop on one channel: the paired remittance and investment accounts."""

    investor_id: str
    channel: str
    direction: str
    remittance_account: str
    investment_account: str
    #: The dates between which the bank attests the investor is eligible (inclusive; None: open).
    eligible_from: dt.date | None = None
    eligible_until: dt.date | None = None


@dataclass(frozen=True, slots=True)
class ProductInfo:
    product: str
    currency: str
    risk: str
    direction: str
    account: str
    #: The stated type, or :data:`DEFAULT_PRODUCT_TYPE` for a row that states none.
    product_type: str = DEFAULT_PRODUCT_TYPE
    #: A fund's or product's category (``commodity_futures``, ``greater_china_equity``,
    #: ``cash_management``...); None: not stated.
    category: str | None = None
    #: Complex product (SFC sense); None: not stated.
    complex: bool | None = None
    #: Where the fund is domiciled, a two-letter code (``HK``, ``LU``...); None: not stated.
    domicile: str | None = None
    #: Who authorised it for public offer (``SFC``, ``CSRC``, ``AMCM``...); None: not stated.
    authorisation: str | None = None
    #: The market of the bank that sells it (the bank of its account).
    market: str = ""

    def describe(self) -> str:
        parts = [self.product_type, self.risk]
        if self.category:
            parts.append(self.category)
        return f"{self.product} ({', '.join(parts)})"


@dataclass(frozen=True, slots=True)
class EligibilityRule:
    """One line of the eligibility table: a kind of product one direction admits.

    A product passes when its type is ``product_type``, its seller is in ``seller_markets``
    (empty: any) and it meets every condition: currency among ``currencies``, risk at most
    ``max_risk``, category among ``categories`` and not among ``exclude_categories``, stated
    non-complex when ``non_complex``, domicile among ``domiciles``, authorisation among
    ``authorisations`` (an empty set: no condition). A condition on an attribute the product
    row does not state fails: the ledger admits only what it is told.
    """

    name: str
    direction: str
    product_type: str
    source: str
    seller_markets: frozenset[str] = frozenset()
    currencies: frozenset[str] = frozenset()
    max_risk: str = "R5"
    categories: frozenset[str] = frozenset()
    exclude_categories: frozenset[str] = frozenset()
    non_complex: bool = False
    domiciles: frozenset[str] = frozenset()
    authorisations: frozenset[str] = frozenset()

    def covers(self, product: ProductInfo, direction: str) -> bool:
        """Whether this rule is the one that speaks for ``product`` sold in ``direction``."""
        return (self.direction == direction and self.product_type == product.product_type
                and (not self.seller_markets or product.market in self.seller_markets))

    def failure(self, p: ProductInfo) -> str | None:
        """The first condition of this rule ``p`` fails, or None when the rule admits it."""
        if self.currencies and p.currency not in self.currencies:
            return f"currency {p.currency} is not {_or(self.currencies)}"
        if p.risk > self.max_risk:
            return f"risk {p.risk} is above {self.max_risk}"
        if self.categories and p.category not in self.categories:
            got = p.category or "not stated"
            return f"category {got} is not {_or(self.categories)}"
        if p.category is not None and p.category in self.exclude_categories:
            return f"category {p.category} is excluded"
        if self.non_complex and p.complex is not False:
            return ("the product is complex" if p.complex
                    else "the product is not stated non-complex")
        if self.domiciles and p.domicile not in self.domiciles:
            return f"domicile {p.domicile or 'not stated'} is not {_or(self.domiciles)}"
        if self.authorisations and p.authorisation not in self.authorisations:
            return (f"authorisation {p.authorisation or 'not stated'} is not "
                    f"{_or(self.authorisations)}")
        return None


def _or(values: frozenset[str]) -> str:
    return " or ".join(sorted(values))


def product_eligibility(product: ProductInfo, direction: str,
                        rules: Sequence[EligibilityRule]) -> Rejection | None:
    """``product_not_eligible`` naming each rule that speaks for the product and why it fails.

    The product is eligible when one rule covering its type and seller market admits it.
    """
    covering = [r for r in rules if r.covers(product, direction)]
    if not covering:
        where = f" sold in {product.market}" if product.market else ""
        return ("product_not_eligible",
                f"product {product.describe()} is not eligible {direction}: no rule of the "
                f"eligibility table admits a {product.product_type}{where}")
    failures = []
    for rule in covering:
        why = rule.failure(product)
        if why is None:
            return None
        failures.append(f"rule {rule.name}: {why}")
    return ("product_not_eligible",
            f"product {product.describe()} is not eligible {direction}: {'; '.join(failures)}")


def investor_eligibility(link: Link, on: dt.date) -> Rejection | None:
    """``investor_not_eligible`` when ``on`` is outside the dates the bank attests."""
    if link.eligible_from is not None and on < link.eligible_from:
        return ("investor_not_eligible",
                f"investor {link.investor_id} on {link.channel} is eligible from "
                f"{link.eligible_from.isoformat()}, not on {on.isoformat()}")
    if link.eligible_until is not None and on > link.eligible_until:
        return ("investor_not_eligible",
                f"investor {link.investor_id} on {link.channel} was eligible until "
                f"{link.eligible_until.isoformat()}, not on {on.isoformat()}")
    return None


@dataclass(slots=True)
class Scheme:
    """Investors' links and products, indexed for the checks below."""

    links: dict[str, list[Link]] = field(default_factory=dict)
    by_account: dict[str, Link] = field(default_factory=dict)
    products: dict[str, ProductInfo] = field(default_factory=dict)
    #: Every investor's investment account: principal leaves one only by the scheme's kinds.
    investment_accounts: set[str] = field(default_factory=set)
    #: The eligibility table (settings ``[[eligibility.rules]]``).
    eligibility: Sequence[EligibilityRule] = ()

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
        if product.direction != link.direction:
            return ("product_not_eligible",
                    f"product {name} is sold {product.direction}, not to {link.direction} "
                    f"investor {link.investor_id}")
        refused = product_eligibility(product, link.direction, self.eligibility)
        if refused is not None:
            return refused
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
