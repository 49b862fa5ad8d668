"""Generate a realistic day of Wealth Management Connect instructions and its reference data.

``python -m settlement.sampleday N OUT [--seed S] [--format csv|jsonl] [--day 2025-03-03]
[--rejections 0.02] [--accounts A] [--investors I]`` writes into the folder ``OUT``, in exactly the
formats of CONTRACT.md: ``banks.csv``, ``accounts.csv``, ``investors.csv``, ``products.csv``,
``rates.csv``, ``instructions.csv`` (or ``.jsonl``) and ``expected.csv`` (what a correct engine
must reject: ``instruction_id,line,kind,code``, with ``code`` a rejection code or ``duplicate``).
:func:`generate` is the same as a library call.

What this module guarantees:

* **Deterministic**: the same arguments give the same bytes (one ``random.Random(seed)``, no set
  iteration, no clock). The rows do not depend on the format: CSV and JSONL carry the same rows.
* **Well-formed**: every file loads without a parse error (a parse error would refuse the whole
  file); amounts are integer minor units drawn with ``rng.randint`` and written with
  :func:`ledger.money.format_amount`: no float ever holds an amount.
* **Streaming**: instructions are written as they are made; memory grows with the number of
  accounts and investors, never with ``N``.
* **Controlled outcome**: the generator keeps every balance and quota it can know exactly (and
  a lower bound of the rest: a conversion's credit is counted at the worst rate of the file,
  less one minor unit). Every instruction it does not plant as a rejection is covered: funds
  were there, the pair is the investor's, the quota has room, the product is eligible. The
  planted ones (``reject_share`` of the ``N``) each break exactly one rule, named in
  ``expected.csv``; a few accepted rows are repeated later with identical content
  (``duplicate``). This holds for an engine that settles the file in order, as CONTRACT.md says.

The layout (how an engine or a demo can find its way; ``{B}`` a bank id, ``{C}`` a currency):

* banks ``BNU-MO`` (MO), ``HKB-HK`` (HK), ``GZB-CN`` (CN); every bank holds MOP, HKD and CNY.
* ``{B}-NOSTRO-{C}``: the bank's settlement account (asset, overdraft allowed); every funding
  row debits it. ``{B}-FEES-{C}``: fee income (income). ``{B}-PRD-{product}``: where a product's
  subscriptions are paid (liability).
* ``{B}-C{nnnnnn}-{C}``: an ordinary customer account (liability, no overdraft).
* investor accounts: ``{B}-{investor}-{BNK|BRK}-{REM|INV}-{C}``: channel bank/broker, remittance
  or investment side. Accounts that differ only in the last ``-{C}`` are the same investor's,
  same channel, same bank: the currency siblings of the account named in ``investors.csv``.
  Southbound (``S000001``...): remittance ``GZB-CN-...-REM-CNY``, investment
  ``HKB-HK-...-INV-CNY`` (siblings ``-INV-HKD``) or ``BNU-MO-...-INV-CNY`` (``-INV-MOP``,
  ``-INV-HKD``). Northbound (``N000001``...): remittance at HKB-HK (sibling ``-REM-HKD``) or
  BNU-MO (sibling ``-REM-MOP``), investment ``GZB-CN-...-INV-CNY``.
* ``subscribe`` debits the investment account, or its sibling in the product's currency, and
  credits the product's account (at the investment bank); ``redeem`` is the way back, never more
  than the investor subscribed. Transfers and fees move between ordinary customer accounts only.
* conversions stay inside one bank: Southbound between the investment account and its HKD/MOP
  siblings, Northbound between the remittance account and its HKD/MOP sibling (money is
  converted before it leaves); ``book`` is ``default`` (a few ``cnh``), ``rate`` mostly empty,
  a few dealt rates given as buy units per 1 sell unit.
* the rates (book ``default``: CNY/HKD, USD/HKD, USD/CNY and the HKD/MOP peg; book ``cnh``:
  CNY/HKD) are dated 09:15+08:00 on the batch day and on the previous Hong Kong business day;
  the day's instructions run from 08:30 to 16:59:59, so the early conversions use yesterday's.
  Every value date is the batch day, as given.
* instruction ids ``F00000001``... for the funding block at the top (nostro -> each ordinary
  customer account, each remittance account and each Northbound home-currency account; never
  an investment account: principal reaches those only by ``remit``), then ``I00000001``... for
  the day's ``N`` instructions.
"""

from __future__ import annotations

import argparse
import csv
import json.encoder
import random
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Final, TextIO, TypeVar

from ledger.money import format_amount
from settlement.calendars import calendar

_T = TypeVar("_T")
Record = Callable[[Sequence[object]], object]

# -- the reference data --------------------------------------------------------------------------

CURRENCIES: Final = ("MOP", "HKD", "CNY")
MO_BANK: Final = "BNU-MO"
HK_BANK: Final = "HKB-HK"
CN_BANK: Final = "GZB-CN"
# The broker channel: a Mainland securities firm paired with a Hong Kong one (the scheme pairs a
# securities firm's investor with a securities firm across the border).
HK_BROKER: Final = "HKS-HK"
CN_BROKER: Final = "GZS-CN"


@dataclass(frozen=True, slots=True)
class BankSpec:
    bank_id: str
    name: str
    market: str
    weight: int  # share of the ordinary customers, percent
    currency_weights: tuple[tuple[str, int], ...]  # customers' currencies at this bank, percent
    kind: str = "bank"


BANKS: Final = (
    BankSpec(MO_BANK, "Banco Nacional Ultramarino (sample)", "MO", 30,
             (("MOP", 50), ("HKD", 30), ("CNY", 20))),
    BankSpec(HK_BANK, "Harbour Bank Hong Kong (sample)", "HK", 40,
             (("HKD", 60), ("CNY", 30), ("MOP", 10))),
    BankSpec(CN_BANK, "Guangzhou Bay Bank (sample)", "CN", 30,
             (("CNY", 80), ("HKD", 10), ("MOP", 10))),
    # Securities firms hold few ordinary accounts: one per currency they serve.
    BankSpec(HK_BROKER, "Harbour Securities (sample)", "HK", 0,
             (("HKD", 70), ("CNY", 30)), kind="securities_firm"),
    BankSpec(CN_BROKER, "Guangzhou Bay Securities (sample)", "CN", 0,
             (("CNY", 100),), kind="securities_firm"),
)


@dataclass(frozen=True, slots=True)
class ProductSpec:
    product: str
    currency: str
    risk: str
    direction: str
    bank_id: str
    product_type: str
    category: str = ""
    complex: str = ""  # "false": stated non-complex
    domicile: str = ""
    authorisation: str = ""

    @property
    def account(self) -> str:
        return f"{self.bank_id}-PRD-{self.product}"


SOUTHBOUND: Final = "southbound"
NORTHBOUND: Final = "northbound"

# Each eligible under the default eligibility table (settings [[eligibility.rules]]).
PRODUCTS: Final = (
    ProductSpec("SB-HKB-MMF-HKD", "HKD", "R1", SOUTHBOUND, HK_BANK, "public_fund",
                "money_market", "false", "HK", "SFC"),
    ProductSpec("SB-HKB-BOND-HKD", "HKD", "R2", SOUTHBOUND, HK_BANK, "bond", "", "false"),
    ProductSpec("SB-HKB-EQTY-HKD", "HKD", "R4", SOUTHBOUND, HK_BANK, "public_fund",
                "greater_china_equity", "false", "HK", "SFC"),
    ProductSpec("SB-HKB-DEP-CNY", "CNY", "R1", SOUTHBOUND, HK_BANK, "deposit"),
    ProductSpec("SB-BNU-DEP-MOP", "MOP", "R1", SOUTHBOUND, MO_BANK, "deposit"),
    ProductSpec("SB-BNU-BOND-MOP", "MOP", "R2", SOUTHBOUND, MO_BANK, "bond", "", "false"),
    ProductSpec("SB-BNU-FUND-HKD", "HKD", "R3", SOUTHBOUND, MO_BANK, "public_fund", "bond",
                "false", "HK", "AMCM"),
    ProductSpec("SB-HKS-FUND-HKD", "HKD", "R3", SOUTHBOUND, HK_BROKER, "public_fund", "mixed",
                "false", "HK", "SFC"),
    ProductSpec("NB-GZB-MMF-CNY", "CNY", "R1", NORTHBOUND, CN_BANK, "public_fund",
                "money_market", "", "CN", "CSRC"),
    ProductSpec("NB-GZB-BOND-CNY", "CNY", "R2", NORTHBOUND, CN_BANK, "wealth_management",
                "fixed_income"),
    ProductSpec("NB-GZB-MIX-CNY", "CNY", "R3", NORTHBOUND, CN_BANK, "wealth_management",
                "mixed"),
    ProductSpec("NB-GZB-EQTY-CNY", "CNY", "R4", NORTHBOUND, CN_BANK, "public_fund", "equity",
                "", "CN", "CSRC"),
    ProductSpec("NB-GZS-FUND-CNY", "CNY", "R3", NORTHBOUND, CN_BROKER, "public_fund", "mixed",
                "", "CN", "CSRC"),
)


@dataclass(frozen=True, slots=True)
class QuoteSpec:
    """One pair of one book, quoted on the previous business day and on the batch day."""

    book: str
    base: str
    quote: str
    previous: tuple[str, str]  # bid, ask
    today: tuple[str, str]
    source: str


# CNY/HKD around 1.0584/1.0688, USD/HKD inside the 7.75-7.85 band, USD/CNY consistent with both;
# HKD/MOP is the peg (HKD 100 = MOP 103), quoted so that MOP crosses resolve through HKD.
QUOTES: Final = (
    QuoteSpec("default", "CNY", "HKD", ("1.0579", "1.0683"), ("1.0584", "1.0688"), "HKB-HK board"),
    QuoteSpec("default", "USD", "HKD", ("7.7790", "7.7990"), ("7.7800", "7.8000"), "HKB-HK board"),
    QuoteSpec("default", "USD", "CNY", ("7.3030", "7.3400"), ("7.3050", "7.3420"), "GZB-CN board"),
    QuoteSpec("default", "HKD", "MOP", ("1.03", "1.03"), ("1.03", "1.03"),
              "AMCM peg HKD 100 = MOP 103"),
    QuoteSpec("cnh", "CNY", "HKD", ("1.0586", "1.0676"), ("1.0590", "1.0680"), "HKB-HK CNH desk"),
)
RATES_AS_OF: Final = "09:15:00+08:00"

# -- the file formats (CONTRACT.md) --------------------------------------------------------------

BANK_COLUMNS: Final = ("bank_id", "name", "market", "kind")
ACCOUNT_COLUMNS: Final = ("account", "bank_id", "type", "currency", "name", "allow_overdraft")
INVESTOR_COLUMNS: Final = (
    "investor_id", "direction", "remittance_account", "investment_account", "channel",
)
PRODUCT_COLUMNS: Final = ("product", "currency", "risk", "direction", "account", "product_type",
                          "category", "complex", "domicile", "authorisation")
RATE_COLUMNS: Final = ("base", "quote", "bid", "ask", "as_of", "source", "book")
INSTRUCTION_COLUMNS: Final = (
    "instruction_id", "kind", "debit_account", "credit_account", "amount", "currency",
    "value_date", "investor_id", "product", "rate", "book", "reference", "submitted_at",
)
INSTRUCTION_REQUIRED: Final = frozenset(INSTRUCTION_COLUMNS[:7])
EXPECTED_COLUMNS: Final = ("instruction_id", "line", "kind", "code")

# -- the day's mix -------------------------------------------------------------------------------

#: Share of each kind among the ``N`` instructions, percent: 60 / 25 / 15.
KIND_WEIGHTS: Final = (
    ("transfer", 40), ("fee", 10), ("subscribe", 8), ("redeem", 2),
    ("remit", 17), ("repatriate", 8),
    ("convert", 15),
)
#: Share of each planted rejection among the planted ones, percent.
PLANT_WEIGHTS: Final = (
    ("insufficient_funds", 28), ("unknown_account", 14), ("currency_mismatch", 14),
    ("closed_loop_violation", 12), ("quota_exceeded_individual", 10),
    ("product_not_eligible", 10), ("quota_exceeded_channel", 4),
    ("accounts_must_be_different", 4), ("unknown_investor", 4),
)

INDIVIDUAL_QUOTA: Final = 3_000_000_00  # RMB, minor units (WMC 2.0)
CHANNEL_QUOTA: Final = 1_500_000_00  # per channel, for an investor on two channels
AGGREGATE_QUOTA: Final = 150_000_000_000_00  # per direction
MIN_AMOUNT: Final = 100_00

# Amount tiers: (share, low, high) in minor units.
Tiers = tuple[tuple[float, int, int], ...]
TRANSFER_TIERS: Final[Tiers] = (
    (0.60, 100_00, 10_000_00), (0.30, 10_000_00, 100_000_00), (0.10, 100_000_00, 1_000_000_00),
)
FEE_TIERS: Final[Tiers] = ((0.8, 10_00, 200_00), (0.2, 200_00, 2_000_00))
REMIT_TIERS: Final[Tiers] = (
    (0.70, 5_000_00, 100_000_00), (0.25, 100_000_00, 500_000_00),
    (0.05, 500_000_00, 1_500_000_00),
)
WHALE_REMIT_TIERS: Final[Tiers] = ((1.0, 300_000_00, 1_500_000_00),)
CONVERT_TIERS: Final[Tiers] = (
    (0.50, 1_000_00, 50_000_00), (0.40, 50_000_00, 300_000_00), (0.10, 300_000_00, 1_000_000_00),
)
SUBSCRIBE_TIERS: Final[Tiers] = ((0.7, 10_000_00, 200_000_00), (0.3, 200_000_00, 1_000_000_00))

WHALE_SHARE: Final = 0.02  # investors whose remittances fill the RMB 3,000,000 quota
TWO_CHANNEL_SHARE: Final = 0.03  # investors on both the bank and the broker channel
NORTHBOUND_SHARE: Final = 0.40
DEALT_RATE_SHARE: Final = 0.05  # conversions at a dealt rate instead of the book's
CNH_BOOK_SHARE: Final = 0.05  # CNY/HKD conversions priced from the "cnh" book
RECENT: Final = 64  # accepted rows kept as candidates for a planted duplicate

FUNDING_START: Final = 8 * 3600  # 08:00:00, funding block until 08:30
DAY_START: Final = 8 * 3600 + 1800  # 08:30:00: before the 09:15 rates, so both days are used
DAY_SPAN: Final = 8 * 3600 + 1800  # until 16:59:59, before the HKD and MOP cut-offs (17:00)


@dataclass(frozen=True, slots=True)
class GeneratedFiles:
    """What :func:`generate` wrote: the paths and the counts (``kinds``/``planted`` are read-only
    views; the instance is not hashable)."""

    banks: Path
    accounts: Path
    investors: Path
    products: Path
    rates: Path
    instructions: Path
    expected: Path
    bank_count: int
    account_count: int
    investor_count: int  # distinct investor ids
    investor_rows: int  # one per investor and channel
    product_count: int
    rate_count: int
    funding_count: int  # the funding block at the top of the instructions
    instruction_count: int  # every row of the instructions file: funding + N
    duplicate_count: int  # rows repeating an earlier accepted row, identical content
    kinds: Mapping[str, int]  # the N rows (not the funding block) per kind
    planted: Mapping[str, int]  # planted rejections per code

    @property
    def rejected_count(self) -> int:
        return sum(self.planted.values())

    @property
    def accepted_count(self) -> int:
        """Rows a correct engine posts: everything but the planted rejections and duplicates."""
        return self.instruction_count - self.rejected_count - self.duplicate_count


# -- the generator's state -----------------------------------------------------------------------

# (kind, debit, credit, amount in minor units, currency, investor_id, product, rate, book)
Draft = tuple[str, str, str, int, str, str, str, str, str]


@dataclass(slots=True, eq=False)
class Holder:
    """One investor on one channel: its paired accounts and what the generator knows of them."""

    investor_id: str
    direction: str
    channel: str
    whale: bool
    remittance: str  # CNY, home bank
    investment: str  # CNY, investment bank
    home_fx: dict[str, str]  # Northbound: HKD or MOP siblings of the remittance account
    invest_fx: dict[str, str]  # Southbound: HKD (and MOP) siblings of the investment account
    home_bank: str
    invest_bank: str
    cap: int = INDIVIDUAL_QUOTA
    other: Holder | None = None  # the same investor on its other channel
    used_floor: int = 0  # net usage, never below zero (the default policy)
    used_raw: int = 0  # net usage, allowed below zero (the lenient reading)
    active: bool = False

    @property
    def cny(self) -> str:
        """The CNY account where this investor converts: investment (SB) or remittance (NB)."""
        return self.investment if self.direction == SOUTHBOUND else self.remittance

    @property
    def fx(self) -> dict[str, str]:
        return self.invest_fx if self.direction == SOUTHBOUND else self.home_fx


@dataclass(slots=True)
class Customer:
    account: str
    bank_id: str
    currency: str


def _worst_factors() -> dict[tuple[str, str], Fraction]:
    """Per (sell, buy), the lowest rate any quote of the file can give: credits are at least it."""
    bids = [Fraction(r) for q in QUOTES if (q.base, q.quote) == ("CNY", "HKD")
            for r in (q.previous[0], q.today[0])]
    asks = [Fraction(r) for q in QUOTES if (q.base, q.quote) == ("CNY", "HKD")
            for r in (q.previous[1], q.today[1])]
    peg = Fraction(103, 100)
    bid, ask = min(bids), max(asks)
    return {
        ("CNY", "HKD"): bid,
        ("HKD", "CNY"): 1 / ask,
        ("CNY", "MOP"): bid * peg,
        ("MOP", "CNY"): 1 / (peg * ask),
    }


# Dealt rates (buy units per 1 sell unit, the sell currency as base), as integer ten-thousandths.
DEALT_RANGES: Final = {
    ("CNY", "HKD"): (10600, 10640), ("HKD", "CNY"): (9360, 9400),
    ("CNY", "MOP"): (10900, 10950), ("MOP", "CNY"): (9090, 9130),
}


def _pick_weighted(rng: random.Random, weights: Sequence[tuple[str, int]]) -> str:
    r = rng.random() * sum(w for _, w in weights)
    for name, w in weights:
        if r < w:
            return name
        r -= w
    return weights[-1][0]


def _draw(rng: random.Random, tiers: Tiers) -> int:
    r = rng.random()
    for share, low, high in tiers:
        if r < share:
            return rng.randint(low, high)
        r -= share
    _, low, high = tiers[-1]
    return rng.randint(low, high)


def _capped(rng: random.Random, tiers: Tiers, cap: int, floor: int = MIN_AMOUNT) -> int | None:
    """A drawn amount, redrawn below ``cap`` when above it; None when ``cap`` < ``floor``."""
    if cap < floor:
        return None
    amount = _draw(rng, tiers)
    return amount if amount <= cap else rng.randint(floor, cap)


@dataclass(slots=True, eq=False)
class World:
    """The reference data of the day and the balances and quota usage the generator tracks."""

    rng: random.Random
    customers: list[Customer]
    holders: list[Holder]
    balances: dict[str, int] = field(default_factory=dict)
    by_currency: dict[str, list[Customer]] = field(default_factory=dict)
    by_bank_currency: dict[tuple[str, str], list[Customer]] = field(default_factory=dict)
    whales: list[Holder] = field(default_factory=list)
    two_channel: list[Holder] = field(default_factory=list)
    active: list[Holder] = field(default_factory=list)
    holdings: dict[tuple[int, int], int] = field(default_factory=dict)
    holding_keys: list[tuple[int, int]] = field(default_factory=list)
    holder_index: dict[int, int] = field(default_factory=dict)
    aggregate: dict[str, int] = field(default_factory=lambda: {SOUTHBOUND: 0, NORTHBOUND: 0})
    factors: dict[tuple[str, str], Fraction] = field(default_factory=_worst_factors)
    products_for: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    unknown_serial: int = 0

    def __post_init__(self) -> None:
        for c in self.customers:
            self.by_currency.setdefault(c.currency, []).append(c)
            self.by_bank_currency.setdefault((c.bank_id, c.currency), []).append(c)
        for i, h in enumerate(self.holders):
            self.holder_index[id(h)] = i
            if h.whale and h.other is None:
                self.whales.append(h)
            if h.other is not None:
                self.two_channel.append(h)
        for i, p in enumerate(PRODUCTS):
            self.products_for.setdefault((p.direction, p.bank_id), []).append(i)

    # -- picking --------------------------------------------------------------------------------

    def _one(self, items: Sequence[_T]) -> _T:
        return items[int(self.rng.random() * len(items))]

    def _funded_customer(self, floor: int = MIN_AMOUNT) -> Customer | None:
        for _ in range(20):
            c = self._one(self.customers)
            if self.balances[c.account] >= floor:
                return c
        return None

    def _other_customer(self, c: Customer, same_bank: bool) -> Customer:
        pool = (self.by_bank_currency[(c.bank_id, c.currency)] if same_bank
                else self.by_currency[c.currency])
        for _ in range(20):
            other = self._one(pool)
            if other is not c:
                return other
        return next(o for o in self.by_currency[c.currency] if o is not c)

    def _active_holder(self, account: Callable[[Holder], str], floor: int) -> Holder | None:
        if not self.active:
            return None
        for _ in range(8):
            h = self._one(self.active)
            if self.balances[account(h)] >= floor:
                return h
        return None

    def _headroom(self, h: Holder) -> int:
        """How much more ``h`` may remit under every reading of the quota rules."""
        room = h.cap - h.used_floor
        if h.other is not None:
            room = min(room, INDIVIDUAL_QUOTA - h.used_floor - h.other.used_floor)
        return min(room, AGGREGATE_QUOTA - self.aggregate[h.direction])

    def _use_quota(self, h: Holder, amount: int) -> None:
        before = h.used_floor
        h.used_raw += amount
        h.used_floor = max(0, h.used_floor + amount)
        self.aggregate[h.direction] += h.used_floor - before

    def _move(self, debit: str, credit: str, amount: int, credited: int | None = None) -> None:
        self.balances[debit] -= amount
        if credit in self.balances:
            self.balances[credit] += amount if credited is None else credited

    # -- the accepted kinds ---------------------------------------------------------------------

    def transfer(self) -> Draft | None:
        c = self._funded_customer()
        if c is None:
            return None
        other = self._other_customer(c, same_bank=self.rng.random() < 0.5)
        amount = _capped(self.rng, TRANSFER_TIERS, self.balances[c.account])
        if amount is None:
            return None
        self._move(c.account, other.account, amount)
        return ("transfer", c.account, other.account, amount, c.currency, "", "", "", "")

    def fee(self) -> Draft | None:
        c = self._funded_customer(10_00)
        if c is None:
            return None
        amount = _capped(self.rng, FEE_TIERS, self.balances[c.account], 10_00)
        if amount is None:
            return None
        fees = f"{c.bank_id}-FEES-{c.currency}"
        self._move(c.account, fees, amount)
        return ("fee", c.account, fees, amount, c.currency, "", "", "", "")

    def remit(self) -> Draft | None:
        for _ in range(8):
            h = self._one(self.holders)
            room = self._headroom(h)
            if not h.whale:  # only the whales fill their quota; the others stay below 2/3 of it
                room = min(room, h.cap * 2 // 3 - h.used_floor)
            limit = min(room, self.balances[h.remittance])
            if limit < MIN_AMOUNT:
                if self.balances[h.investment] >= MIN_AMOUNT and self.rng.random() < 0.5:
                    return self._repatriate(h)  # no room left: bring some home instead
                continue
            amount = _draw(self.rng, WHALE_REMIT_TIERS if h.whale else REMIT_TIERS)
            if amount > limit:
                # Where the quota is what binds, fill it exactly (so whales reach RMB 3,000,000);
                # where the money is, send part of it.
                quota_binds = limit < self.balances[h.remittance]
                amount = limit if quota_binds else self.rng.randint(MIN_AMOUNT, limit)
            self._move(h.remittance, h.investment, amount)
            self._use_quota(h, amount)
            if not h.active:
                h.active = True
                self.active.append(h)
            return ("remit", h.remittance, h.investment, amount, "CNY", h.investor_id, "", "", "")
        return None

    def repatriate(self) -> Draft | None:
        h = self._active_holder(lambda h: h.investment, MIN_AMOUNT)
        return None if h is None else self._repatriate(h)

    def _repatriate(self, h: Holder) -> Draft:
        balance = self.balances[h.investment]
        drawn = _capped(self.rng, REMIT_TIERS, balance)
        # a fifth bring everything home
        amount = balance if drawn is None or self.rng.random() < 0.2 else drawn
        self._move(h.investment, h.remittance, amount)
        self._use_quota(h, -amount)
        return ("repatriate", h.investment, h.remittance, amount, "CNY", h.investor_id, "", "", "")

    def convert(self) -> Draft | None:
        for _ in range(8):
            h = self._one(self.active) if self.active and self.rng.random() < 0.7 else (
                self._one(self.holders))
            # Southbound money is in the investment account only after a remit.
            if h.direction == NORTHBOUND or h.active:
                draft = self._convert(h)
                if draft is not None:
                    return draft
        return None

    def _convert(self, h: Holder) -> Draft | None:
        rng = self.rng
        fx_currency = self._one(list(h.fx))
        fx_account = h.fx[fx_currency]
        legs = [(h.cny, "CNY", fx_account, fx_currency), (fx_account, fx_currency, h.cny, "CNY")]
        # Southbound money arrives in CNY and is converted; Northbound money leaves in CNY.
        if (h.direction == SOUTHBOUND) != (rng.random() < 0.6):
            legs.reverse()
        for debit, sell, credit, buy in legs:
            amount = _capped(rng, CONVERT_TIERS, self.balances[debit])
            if amount is None:
                continue
            rate = ""
            book = "cnh" if "MOP" not in (sell, buy) and rng.random() < CNH_BOOK_SHARE else (
                "default")
            factor = self.factors[(sell, buy)]
            if rng.random() < DEALT_RATE_SHARE:
                low, high = DEALT_RANGES[(sell, buy)]
                ten_thousandths = rng.randint(low, high)
                rate = f"{ten_thousandths // 10000}.{ten_thousandths % 10000:04d}"
                factor = Fraction(ten_thousandths, 10000)
            credited = max(0, amount * factor.numerator // factor.denominator - 1)
            self._move(debit, credit, amount, credited)
            return ("convert", debit, credit, amount, sell, h.investor_id, "", rate, book)
        return None

    def _subscription_account(self, h: Holder, currency: str) -> str | None:
        if currency == "CNY":
            return h.investment
        return h.invest_fx.get(currency)

    def subscribe(self) -> Draft | None:
        h = self._active_holder(lambda h: h.investment, 0)
        if h is None:
            return None
        candidates = self.products_for[(h.direction, h.invest_bank)]
        start = int(self.rng.random() * len(candidates))
        for k in range(len(candidates)):
            index = candidates[(start + k) % len(candidates)]
            p = PRODUCTS[index]
            debit = self._subscription_account(h, p.currency)
            if debit is None:
                continue
            amount = _capped(self.rng, SUBSCRIBE_TIERS, self.balances[debit])
            if amount is None:
                continue
            self._move(debit, p.account, amount)
            key = (self.holder_index[id(h)], index)
            if key not in self.holdings:
                self.holding_keys.append(key)
                self.holdings[key] = 0
            self.holdings[key] += amount
            return ("subscribe", debit, p.account, amount, p.currency, h.investor_id, p.product,
                    "", "")
        return None

    def redeem(self) -> Draft | None:
        if not self.holding_keys:
            return None
        for _ in range(8):
            key = self._one(self.holding_keys)
            held = self.holdings[key]
            if held < MIN_AMOUNT:
                continue
            h, p = self.holders[key[0]], PRODUCTS[key[1]]
            credit = self._subscription_account(h, p.currency)
            if credit is None:  # pragma: no cover - a holding was bought from this account
                continue
            amount = held if self.rng.random() < 0.3 else self.rng.randint(MIN_AMOUNT, held)
            self.holdings[key] = held - amount
            self._move(p.account, credit, amount)
            return ("redeem", p.account, credit, amount, p.currency, h.investor_id, p.product,
                    "", "")
        return None

    # -- the planted rejections (nothing of theirs changes the state) -------------------------

    def plant(self, code: str) -> Draft | None:
        """A row that breaks exactly the rule ``code`` names, or None if none can be made now."""
        planters: dict[str, Callable[[], Draft | None]] = {
            "insufficient_funds": self._plant_insufficient_funds,
            "unknown_account": self._plant_unknown_account,
            "currency_mismatch": self._plant_currency_mismatch,
            "accounts_must_be_different": self._plant_accounts_must_be_different,
            "closed_loop_violation": self._plant_closed_loop_violation,
            "quota_exceeded_individual": self._plant_quota_exceeded_individual,
            "quota_exceeded_channel": self._plant_quota_exceeded_channel,
            "product_not_eligible": self._plant_product_not_eligible,
            "unknown_investor": self._plant_unknown_investor,
        }
        return planters[code]()

    def _plant_insufficient_funds(self) -> Draft | None:
        c = self._one(self.customers)  # balances of ordinary customers are known exactly
        amount = self.balances[c.account] + self.rng.randint(1_00, 50_000_00)
        if self.rng.random() < 0.25:
            fees = f"{c.bank_id}-FEES-{c.currency}"
            return ("fee", c.account, fees, amount, c.currency, "", "", "", "")
        other = self._other_customer(c, same_bank=self.rng.random() < 0.5)
        return ("transfer", c.account, other.account, amount, c.currency, "", "", "", "")

    def _plant_unknown_account(self) -> Draft | None:
        c = self._funded_customer()
        if c is None:
            return None
        self.unknown_serial += 1
        ghost = f"{c.bank_id}-C{len(self.customers) + self.unknown_serial:06d}-{c.currency}"
        amount = _capped(self.rng, TRANSFER_TIERS, self.balances[c.account])
        if amount is None:
            return None
        if self.rng.random() < 0.5:
            return ("transfer", c.account, ghost, amount, c.currency, "", "", "", "")
        return ("transfer", ghost, c.account, amount, c.currency, "", "", "", "")

    def _plant_currency_mismatch(self) -> Draft | None:
        c = self._funded_customer()
        if c is None:
            return None
        for cur in CURRENCIES:
            pool = self.by_bank_currency.get((c.bank_id, cur))
            if cur != c.currency and pool:
                amount = _capped(self.rng, TRANSFER_TIERS, self.balances[c.account])
                if amount is None:
                    return None
                other = self._one(pool)
                return ("transfer", c.account, other.account, amount, c.currency, "", "", "", "")
        return None

    def _plant_accounts_must_be_different(self) -> Draft | None:
        c = self._funded_customer()
        if c is None:
            return None
        amount = _capped(self.rng, TRANSFER_TIERS, self.balances[c.account])
        if amount is None:
            return None
        return ("transfer", c.account, c.account, amount, c.currency, "", "", "", "")

    def _plant_closed_loop_violation(self) -> Draft | None:
        for _ in range(8):
            h, stranger = self._one(self.holders), self._one(self.holders)
            if stranger.investor_id == h.investor_id or stranger.direction != h.direction:
                continue
            if self.rng.random() < 0.3 and self.balances[h.investment] >= MIN_AMOUNT:
                # money going home to someone else's remittance account
                amount = _capped(self.rng, REMIT_TIERS, self.balances[h.investment])
                if amount is not None:
                    return ("repatriate", h.investment, stranger.remittance, amount, "CNY",
                            h.investor_id, "", "", "")
            amount = _capped(self.rng, REMIT_TIERS,
                             min(self._headroom(h), self.balances[h.remittance]))
            if amount is not None:
                return ("remit", h.remittance, stranger.investment, amount, "CNY", h.investor_id,
                        "", "", "")
        return None

    def _plant_quota(self, pool: Sequence[Holder]) -> Draft | None:
        if not pool:
            return None
        for _ in range(8):
            h = self._one(pool)
            # Over the cap even if gains brought home had created headroom (the lenient reading).
            amount = h.cap - h.used_raw + self.rng.randint(1_00, 100_000_00)
            if amount > self.balances[h.remittance]:
                continue
            if h.other is not None and (
                h.used_floor + amount + h.other.used_floor > INDIVIDUAL_QUOTA
            ):
                continue  # would break the individual quota too: not a clean channel case
            if self.aggregate[h.direction] + amount > AGGREGATE_QUOTA:
                continue
            return ("remit", h.remittance, h.investment, amount, "CNY", h.investor_id, "", "", "")
        return None

    def _plant_quota_exceeded_individual(self) -> Draft | None:
        return self._plant_quota(self.whales)

    def _plant_quota_exceeded_channel(self) -> Draft | None:
        return self._plant_quota(self.two_channel)

    def _plant_product_not_eligible(self) -> Draft | None:
        h = self._active_holder(lambda h: h.investment, MIN_AMOUNT)
        if h is None:
            return None
        wrong = [p for p in PRODUCTS if p.direction != h.direction and p.currency == "CNY"]
        p = self._one(wrong)
        amount = _capped(self.rng, SUBSCRIBE_TIERS, self.balances[h.investment])
        if amount is None:
            return None
        return ("subscribe", h.investment, p.account, amount, "CNY", h.investor_id, p.product,
                "", "")

    def _plant_unknown_investor(self) -> Draft | None:
        for _ in range(8):
            h = self._one(self.holders)
            amount = _capped(self.rng, REMIT_TIERS,
                             min(self._headroom(h), self.balances[h.remittance]))
            if amount is None:
                continue
            self.unknown_serial += 1
            ghost = f"{h.investor_id[0]}{len(self.holders) + self.unknown_serial:06d}"
            return ("remit", h.remittance, h.investment, amount, "CNY", ghost, "", "", "")
        return None


# -- building the reference data -----------------------------------------------------------------


def _build_customers(rng: random.Random, count: int) -> list[Customer]:
    combos = [(b.bank_id, c) for b in BANKS for c, _ in b.currency_weights]
    out: list[Customer] = []
    bank_weights = [(b.bank_id, b.weight) for b in BANKS]
    currency_weights = {b.bank_id: b.currency_weights for b in BANKS}
    for i in range(count):
        if i < len(combos):  # every bank holds customers in every currency
            bank_id, cur = combos[i]
        else:
            bank_id = _pick_weighted(rng, bank_weights)
            cur = _pick_weighted(rng, currency_weights[bank_id])
        out.append(Customer(f"{bank_id}-C{i + 1:06d}-{cur}", bank_id, cur))
    return out


def _make_holder(
    investor_id: str, direction: str, channel: str, whale: bool, abroad: str,
) -> Holder:
    """``abroad`` is the HK or MO institution: where a Southbound investor invests, where a
    Northbound one lives; the Mainland side is the bank, or the securities firm on the broker
    channel."""
    mark = "BNK" if channel == "bank" else "BRK"
    mainland = CN_BANK if channel == "bank" else CN_BROKER
    if direction == SOUTHBOUND:
        home, invest = mainland, abroad
        fx_currencies: tuple[str, ...] = ("MOP", "HKD") if invest == MO_BANK else ("HKD",)
        home_fx: dict[str, str] = {}
        invest_fx = {c: f"{invest}-{investor_id}-{mark}-INV-{c}" for c in fx_currencies}
    else:
        home, invest = abroad, mainland
        home_cur = "MOP" if home == MO_BANK else "HKD"
        home_fx = {home_cur: f"{home}-{investor_id}-{mark}-REM-{home_cur}"}
        invest_fx = {}
    return Holder(
        investor_id=investor_id, direction=direction, channel=channel, whale=whale,
        remittance=f"{home}-{investor_id}-{mark}-REM-CNY",
        investment=f"{invest}-{investor_id}-{mark}-INV-CNY",
        home_fx=home_fx, invest_fx=invest_fx, home_bank=home, invest_bank=invest,
    )


def _build_holders(rng: random.Random, investors: int) -> list[Holder]:
    out: list[Holder] = []
    serial = {SOUTHBOUND: 0, NORTHBOUND: 0}
    for _ in range(investors):
        direction = NORTHBOUND if rng.random() < NORTHBOUND_SHARE else SOUTHBOUND
        serial[direction] += 1
        investor_id = f"{'N' if direction == NORTHBOUND else 'S'}{serial[direction]:06d}"
        whale = rng.random() < WHALE_SHARE
        two = rng.random() < TWO_CHANNEL_SHARE
        abroad = HK_BANK if rng.random() < 0.65 else MO_BANK
        first = _make_holder(investor_id, direction, "bank", whale, abroad)
        out.append(first)
        if two:  # the broker channel: securities firms on both sides
            second = _make_holder(investor_id, direction, "broker", whale, HK_BROKER)
            first.cap = second.cap = CHANNEL_QUOTA
            first.other, second.other = second, first
            out.append(second)
    return out


def _fund_amount(rng: random.Random, account: str, h: Holder | None) -> int:
    if h is None:
        return rng.randint(20_000_00, 3_000_000_00)  # an ordinary customer
    if account != h.remittance:
        return rng.randint(100_000_00, 2_000_000_00)  # a Northbound home-currency account
    if h.whale:
        return rng.randint(6_000_000_00, 9_000_000_00)
    if h.other is not None:
        return rng.randint(2_000_000_00, 4_000_000_00)
    return rng.randint(300_000_00, 3_500_000_00)


# -- writing -------------------------------------------------------------------------------------


def _write_csv(path: Path, columns: Sequence[str], rows: Iterator[Sequence[str]]) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


_encode = json.encoder.encode_basestring_ascii


class _InstructionWriter:
    """Writes instruction rows as CSV or JSON Lines (empty optional fields left out)."""

    def __init__(self, fh: TextIO, fmt: str) -> None:
        self._fh = fh
        self._csv = csv.writer(fh, lineterminator="\n") if fmt == "csv" else None
        self._keys = tuple(_encode(c) + ": " for c in INSTRUCTION_COLUMNS)
        self._optional = tuple(c not in INSTRUCTION_REQUIRED for c in INSTRUCTION_COLUMNS)
        self.first_line = 2 if self._csv is not None else 1  # file line of the first row
        if self._csv is not None:
            self._csv.writerow(INSTRUCTION_COLUMNS)

    def write(self, row: Sequence[str]) -> None:
        if self._csv is not None:
            self._csv.writerow(row)
            return
        parts = [k + _encode(v) for k, v, opt in zip(self._keys, row, self._optional, strict=True)
                 if v or not opt]
        self._fh.write("{" + ", ".join(parts) + "}\n")


def _clock(day_iso: str) -> Callable[[int], str]:
    """``seconds since midnight -> ISO 8601 timestamp at +08:00``, remembering the last one."""
    last_seconds, last_text = -1, ""

    def at(seconds: int) -> str:
        nonlocal last_seconds, last_text
        if seconds != last_seconds:
            h, rest = divmod(seconds, 3600)
            m, s = divmod(rest, 60)
            last_seconds, last_text = seconds, f"{day_iso}T{h:02d}:{m:02d}:{s:02d}+08:00"
        return last_text

    return at


def generate(
    n: int,
    out: Path,
    *,
    seed: int = 1,
    fmt: str = "csv",
    day: date = date(2025, 3, 3),
    reject_share: float = 0.02,
    accounts: int | None = None,
    investors: int | None = None,
) -> GeneratedFiles:
    """Write a day's batch of ``n`` instructions (after a funding block) and its reference data.

    ``accounts`` is the total number of accounts (default ``max(10_000, n // 50)``; ordinary
    customer accounts fill what the banks, products and investors leave, at least one per bank
    and currency); ``investors`` the number of investor ids (default ``max(1_000, n // 500)``).
    ``reject_share`` of the ``n`` rows are planted rejections.
    """
    if n < 0:
        raise ValueError(f"n must be zero or more, got {n}")
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"fmt must be 'csv' or 'jsonl', got {fmt!r}")
    if not 0 <= reject_share < 1:
        raise ValueError(f"reject_share must be in [0, 1), got {reject_share}")
    investor_total = max(1_000, n // 500) if investors is None else investors
    account_total = max(10_000, n // 50) if accounts is None else accounts
    if investor_total < 1:
        raise ValueError(f"investors must be at least 1, got {investor_total}")

    rng = random.Random(seed)
    holders = _build_holders(rng, investor_total)
    fixed = len(BANKS) * len(CURRENCIES) * 2 + len(PRODUCTS)
    holder_accounts = sum(2 + len(h.home_fx) + len(h.invest_fx) for h in holders)
    customer_count = max(account_total - fixed - holder_accounts,
                         sum(len(b.currency_weights) for b in BANKS))
    customers = _build_customers(rng, customer_count)
    world = World(rng, customers, holders)

    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.csv" for name in
             ("banks", "accounts", "investors", "products", "rates", "expected")}
    instructions_path = out / f"instructions.{fmt}"

    bank_count = _write_csv(paths["banks"], BANK_COLUMNS,
                            ((b.bank_id, b.name, b.market, b.kind) for b in BANKS))
    account_count = _write_csv(paths["accounts"], ACCOUNT_COLUMNS, _account_rows(world))
    investor_rows = _write_csv(paths["investors"], INVESTOR_COLUMNS, (
        (h.investor_id, h.direction, h.remittance, h.investment, h.channel) for h in holders))
    product_count = _write_csv(paths["products"], PRODUCT_COLUMNS, (
        (p.product, p.currency, p.risk, p.direction, p.account, p.product_type, p.category,
         p.complex, p.domicile, p.authorisation) for p in PRODUCTS))
    previous = calendar("HK").previous_business_day(day)
    rate_count = _write_csv(paths["rates"], RATE_COLUMNS, (
        (q.base, q.quote, bid, ask, f"{d.isoformat()}T{RATES_AS_OF}", q.source, q.book)
        for q in QUOTES for d, (bid, ask) in ((previous, q.previous), (day, q.today))))

    kinds = {k: 0 for k, _ in KIND_WEIGHTS}
    planted = {code: 0 for code, _ in PLANT_WEIGHTS}
    with ExitStack() as stack:
        fh = stack.enter_context(
            instructions_path.open("w", newline="", encoding="utf-8", buffering=1 << 20))
        expected_fh = stack.enter_context(paths["expected"].open("w", newline="",
                                                                 encoding="utf-8"))
        writer = _InstructionWriter(fh, fmt)
        expected = csv.writer(expected_fh, lineterminator="\n")
        expected.writerow(EXPECTED_COLUMNS)
        funding_count, duplicate_count = _write_day(
            world, n, day, reject_share, writer, expected.writerow, kinds, planted)

    total_investors = len({h.investor_id: None for h in holders})
    return GeneratedFiles(
        banks=paths["banks"], accounts=paths["accounts"], investors=paths["investors"],
        products=paths["products"], rates=paths["rates"], instructions=instructions_path,
        expected=paths["expected"], bank_count=bank_count, account_count=account_count,
        investor_count=total_investors, investor_rows=investor_rows,
        product_count=product_count, rate_count=rate_count, funding_count=funding_count,
        instruction_count=funding_count + n, duplicate_count=duplicate_count,
        kinds=_frozen(kinds), planted=_frozen({k: v for k, v in planted.items() if v}),
    )


def _frozen(counts: dict[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(counts))


def _account_rows(world: World) -> Iterator[tuple[str, str, str, str, str, str]]:
    for b in BANKS:
        for cur in CURRENCIES:
            yield (f"{b.bank_id}-NOSTRO-{cur}", b.bank_id, "asset", cur,
                   f"{b.bank_id} settlement account {cur}", "true")
        for cur in CURRENCIES:
            yield (f"{b.bank_id}-FEES-{cur}", b.bank_id, "income", cur,
                   f"{b.bank_id} fee income {cur}", "false")
    for p in PRODUCTS:
        yield (p.account, p.bank_id, "liability", p.currency, f"subscriptions to {p.product}",
               "false")
    for c in world.customers:
        yield (c.account, c.bank_id, "liability", c.currency, "customer", "false")
    for h in world.holders:
        who = f"{h.investor_id} {h.direction} ({h.channel} channel)"
        for code in (h.remittance, *h.home_fx.values()):
            yield (code, h.home_bank, "liability", code[-3:], f"{who} remittance", "false")
        for code in (h.investment, *h.invest_fx.values()):
            yield (code, h.invest_bank, "liability", code[-3:], f"{who} investment", "false")


def _write_day(
    world: World,
    n: int,
    day: date,
    reject_share: float,
    writer: _InstructionWriter,
    expected: Record,
    kinds: dict[str, int],
    planted: dict[str, int],
) -> tuple[int, int]:
    """The funding block, then ``n`` instructions; returns (funding rows, duplicate rows)."""
    rng = world.rng
    day_iso = day.isoformat()
    ymd = day.strftime("%Y%m%d")
    at = _clock(day_iso)
    write = writer.write

    # Funding: every account that is debited before it is credited gets its opening money.
    funded: list[tuple[str, str, str, Holder | None]] = [
        (c.account, c.bank_id, c.currency, None) for c in world.customers]
    for h in world.holders:
        funded.append((h.remittance, h.home_bank, "CNY", h))
        funded.extend((code, h.home_bank, cur, h) for cur, code in h.home_fx.items())
    balances = world.balances
    for c in world.customers:
        balances[c.account] = 0
    for h in world.holders:
        for code in (h.remittance, h.investment, *h.home_fx.values(), *h.invest_fx.values()):
            balances[code] = 0
    for p in PRODUCTS:
        balances[p.account] = 0
    nf = len(funded)
    for i, (account, bank_id, cur, holder) in enumerate(funded):
        amount = _fund_amount(rng, account, holder)
        balances[account] += amount
        write((f"F{i + 1:08d}", "transfer", f"{bank_id}-NOSTRO-{cur}", account,
               format_amount(amount, cur), cur, day_iso, "", "", "", "", "",
               at(FUNDING_START + i * 1800 // nf)))

    makers: dict[str, Callable[[], Draft | None]] = {
        "transfer": world.transfer, "fee": world.fee, "subscribe": world.subscribe,
        "redeem": world.redeem, "remit": world.remit, "repatriate": world.repatriate,
        "convert": world.convert,
    }
    cumulative: list[tuple[float, str]] = []
    running = 0
    total = sum(w for _, w in KIND_WEIGHTS)
    for kind, w in KIND_WEIGHTS:
        running += w
        cumulative.append((running / total, kind))
    fallbacks = (world.remit, world.transfer, world.fee)

    duplicates = max(2, n // 1000) if n >= 200 else 0
    dup_at = {(k + 1) * n // (duplicates + 1) for k in range(duplicates)}
    recent: list[tuple[str, ...]] = []
    duplicate_count = 0
    first_line = writer.first_line + nf

    for i in range(n):
        if i in dup_at and recent:
            row = recent[int(rng.random() * len(recent))]
            write(row)
            expected((row[0], first_line + i, row[1], "duplicate"))
            kinds[row[1]] += 1
            duplicate_count += 1
            continue
        draft: Draft | None = None
        code = ""
        if rng.random() < reject_share:
            for _ in range(4):  # early in the day some rules cannot be broken yet: try another
                code = _pick_weighted(rng, PLANT_WEIGHTS)
                draft = world.plant(code)
                if draft is not None:
                    break
        if draft is None:
            code = ""
            r = rng.random()
            kind = next((k for threshold, k in cumulative if r < threshold), "convert")
            draft = makers[kind]()
            for fallback in fallbacks:
                if draft is not None:
                    break
                draft = fallback()
            if draft is None:
                raise RuntimeError("the generator ran out of funded accounts")
        kind, debit, credit, amount, cur, investor, product, rate, book = draft
        iid = f"I{i + 1:08d}"
        reference = f"E2E-{ymd}-{i + 1:08d}" if kind in ("remit", "repatriate") else ""
        row = (iid, kind, debit, credit, format_amount(amount, cur), cur, day_iso, investor,
               product, rate, book, reference, at(DAY_START + i * DAY_SPAN // n))
        write(row)
        kinds[kind] += 1
        if code:
            planted[code] += 1
            expected((iid, first_line + i, kind, code))
        elif len(recent) < RECENT:
            recent.append(row)
        else:
            recent[i % RECENT] = row
    return nf, duplicate_count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m settlement.sampleday",
        description="Write a realistic day of WMC instructions and its reference data.")
    parser.add_argument("n", type=int, help="instructions after the funding block")
    parser.add_argument("out", type=Path, help="folder to write the files into")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", dest="fmt", choices=("csv", "jsonl"), default="csv")
    parser.add_argument("--day", type=date.fromisoformat, default=date(2025, 3, 3),
                        help="the batch day, YYYY-MM-DD (default 2025-03-03)")
    parser.add_argument("--rejections", type=float, default=0.02,
                        help="share of planted rejections (default 0.02)")
    parser.add_argument("--accounts", type=int, default=None)
    parser.add_argument("--investors", type=int, default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        files = generate(args.n, args.out, seed=args.seed, fmt=args.fmt, day=args.day,
                         reject_share=args.rejections, accounts=args.accounts,
                         investors=args.investors)
    except ValueError as exc:
        parser.error(str(exc))
    seconds = time.perf_counter() - started
    print(f"wrote {files.instructions} ({files.funding_count} funding + {args.n} instructions) "
          f"in {seconds:.1f}s", file=sys.stderr)
    print(f"accounts {files.account_count}, investors {files.investor_count} "
          f"({files.investor_rows} rows), products {files.product_count}, "
          f"rates {files.rate_count}", file=sys.stderr)
    print("kinds: " + ", ".join(f"{k} {v}" for k, v in files.kinds.items()), file=sys.stderr)
    print(f"expected: {files.accepted_count} accepted, {files.rejected_count} rejected ("
          + ", ".join(f"{k} {v}" for k, v in files.planted.items())
          + f"), {files.duplicate_count} duplicates; see {files.expected}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
