"""Ledger entries for customer conversions and block deals, and the FX accounts they use.

**Accounts.** Each bank has, per currency, FX accounts that the ledger opens itself on first use
(:func:`open_fx_accounts`; an accounts file may declare them beforehand, and an existing account
is left as it is). The names are part of the contract:

- ``{bank_id}:FX_POSITION:{CUR}``: asset, overdraft allowed; the bank's FX position in CUR,
  carried at mid;
- ``{bank_id}:FX_INCOME:{CUR}``: income, overdraft allowed; the spread earned in CUR;
- ``{bank_id}:FX_ROUNDING:{CUR}``: expense, overdraft allowed; rounding residues in CUR (a
  credit balance is a gain);
- ``{bank_id}:FX_REVALUATION:{CUR}``: income, overdraft allowed; the revaluation result in the
  reporting currency CUR;
- ``{bank_id}:FX_POSITION_REVALUED:{CUR}``: asset, overdraft allowed; the value of the bank's
  FX positions in the reporting currency CUR, as of its last revaluation.

The last two are used by :mod:`fx.revalue` only.

**A conversion** (:func:`conversion_entry`) of ``sell_amount`` of the sell currency into the buy
currency, by bank ``B``, is one entry (``kind`` ``"convert"``) whose transfers are::

    sell:  customer's sell account      -> B:FX_POSITION:{sell}   sell_amount
    buy:   B:FX_POSITION:{buy}          -> customer's buy account  buy_amount
           B:FX_POSITION:{buy}          -> B:FX_INCOME:{buy}       spread
           B:FX_POSITION:{buy}          -> B:FX_ROUNDING:{buy}     rounding

(``X -> Y``: X is debited, Y credited.) A negative spread or rounding reverses its transfer; a
zero one is left out. Each currency balances on its own, as every transfer does; the position
gives up exactly ``mid_amount`` of the buy currency for ``sell_amount`` of the sell currency,
so positions are carried at mid and the spread and the rounding are booked where they belong.
The bank's *exposure* in a currency is the credit balance of its position account (credits -
debits): buying CNY from a customer credits ``B:FX_POSITION:CNY``.

The entry's ``meta`` (all values text) lets anyone recompute the conversion from the ledger:
``fx_pair``, ``fx_book``, ``fx_rate`` (``book`` or ``dealt``), ``fx_factor`` (decimal, exact up
to 20 places), ``fx_factor_exact`` (the exact fraction ``n/d``), ``fx_mid_factor``,
``fx_rounding`` (the mode), ``fx_legs``, and per leg ``i`` ``fx_leg{i}_quote`` (``BASE/QUOTE``),
``fx_leg{i}_side`` (``bid``/``ask``), ``fx_leg{i}_bid``, ``fx_leg{i}_ask`` (exact decimal
text), ``fx_leg{i}_as_of`` (ISO 8601 with offset) and ``fx_leg{i}_source``. The peg leg has
source ``peg`` and the date :data:`fx.book.PEG_AS_OF`. :func:`recompute` does it.

**A block deal** (:func:`block_entries`): several customers' conversions at one rate, booked
against one block amount (:func:`fx.conversion.convert_block`). Each line is an entry with the
two customer transfers; the block is one more entry, under the block's id, with the block's
spread, the block's rounding and the residue (the block's buy amount minus what the lines pay
out; 0 under the ``allocate`` policy), each between ``B:FX_POSITION:{buy}`` and the income or
rounding account as above. The lines and the block entry must be posted together
(:func:`post_block` does, and raises if any is rejected so the caller's transaction rolls back).

Pure builders (:func:`conversion_entry`, :func:`block_entries`, :func:`fx_account_rows`) do no
I/O; :func:`open_fx_accounts`, :func:`post_conversions`, :func:`convert_and_post` and
:func:`post_block` work inside the caller's transaction and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Final

from moneyed import Money
from sqlalchemy import Connection, bindparam, select

from fx.book import DEFAULT_PEG, BookRates, NextBusinessDay, Peg, RateBook, rate_text
from fx.conversion import (
    BlockConversion,
    BlockPolicy,
    Conversion,
    Rounding,
    convert,
    convert_block,
)
from fx.quotes import (
    DEFAULT_BOOK,
    CrossRate,
    Leg,
    NoRate,
    Quote,
    RateError,
    StaleRate,
    dealt_rate,
)
from ledger.entries import EntrySpec, TransferSpec, TransferTuple
from ledger.errors import AmountError, LedgerError, NotFound
from ledger.money import from_money
from ledger.posting import DUPLICATE, OK, Result, post_entries
from ledger.refdata import ensure_accounts
from ledger.schema import Account

POSITION: Final = "FX_POSITION"
INCOME: Final = "FX_INCOME"
ROUNDING: Final = "FX_ROUNDING"
REVALUATION: Final = "FX_REVALUATION"
REVALUED: Final = "FX_POSITION_REVALUED"

#: Role -> (account type, description). Every FX account allows overdraft.
ROLES: Final[Mapping[str, tuple[str, str]]] = {
    POSITION: ("asset", "FX position"),
    INCOME: ("income", "FX income (spread)"),
    ROUNDING: ("expense", "FX rounding residue"),
    REVALUATION: ("income", "FX revaluation result"),
    REVALUED: ("asset", "FX positions revalued"),
}
CONVERSION_ROLES: Final = (POSITION, INCOME, ROUNDING)
REVALUATION_ROLES: Final = (REVALUATION, REVALUED)

CONVERT_KIND: Final = "convert"
BLOCK_KIND: Final = "fx_block"
LOCAL_TIME: Final = timezone(timedelta(hours=8))  # CN, HK and MO: UTC+8, no daylight saving


def fx_account(bank_id: str, role: str, currency: str) -> str:
    """The code of a bank's FX account: ``fx_account("A", POSITION, "HKD")`` is
    ``"A:FX_POSITION:HKD"``."""
    return f"{bank_id}:{role}:{currency}"


def fx_account_rows(
    bank_id: str, currencies: Iterable[str], *, roles: Iterable[str] = CONVERSION_ROLES
) -> list[dict[str, Any]]:
    """The accounts-file rows of a bank's FX accounts in ``currencies`` (see module docstring)."""
    rows = []
    for cur in dict.fromkeys(currencies):
        for role in roles:
            type_, label = ROLES[role]
            rows.append({
                "account": fx_account(bank_id, role, cur),
                "bank_id": bank_id,
                "type": type_,
                "currency": cur,
                "name": f"{label} {cur}",
                "allow_overdraft": True,
            })
    return rows


def open_fx_accounts(
    conn: Connection,
    bank_ids: Iterable[str],
    currencies: Iterable[str],
    *,
    roles: Iterable[str] = CONVERSION_ROLES,
) -> int:
    """Open each bank's FX accounts in each currency unless they exist; how many were opened."""
    currencies = list(dict.fromkeys(currencies))
    roles = tuple(roles)
    rows = [
        row
        for bank in dict.fromkeys(bank_ids)
        for row in fx_account_rows(bank, currencies, roles=roles)
    ]
    return ensure_accounts(conn, rows)


# -- entries -------------------------------------------------------------------------------------


_META_CACHE: dict[int, tuple[CrossRate, Rounding, Mapping[str, str]]] = {}
_META_CACHE_SIZE: Final = 1024


def rate_meta(rate: CrossRate, mode: Rounding) -> Mapping[str, str]:
    """The meta that records ``rate`` and ``mode`` (see the module docstring). Cached per rate."""
    held = _META_CACHE.get(id(rate))
    if held is not None and held[0] is rate and held[1] is mode:
        return held[2]
    meta = {
        "fx_pair": f"{rate.sell}/{rate.buy}",
        "fx_rate": "book" if rate.legs else "dealt",
        "fx_factor": rate.display(20),
        "fx_factor_exact": str(rate.factor),
        "fx_mid_factor": rate.mid_display(20),
        "fx_rounding": mode.value,
        "fx_legs": str(len(rate.legs)),
    }
    if rate.legs:
        meta["fx_book"] = rate.legs[0].quote.book
    for i, leg in enumerate(rate.legs, start=1):
        q = leg.quote
        meta[f"fx_leg{i}_quote"] = f"{q.base}/{q.quote}"
        meta[f"fx_leg{i}_side"] = leg.side
        meta[f"fx_leg{i}_bid"] = rate_text(q.bid)
        meta[f"fx_leg{i}_ask"] = rate_text(q.ask)
        meta[f"fx_leg{i}_as_of"] = q.as_of.isoformat()
        meta[f"fx_leg{i}_source"] = q.source
    if len(_META_CACHE) >= _META_CACHE_SIZE:
        _META_CACHE.clear()
    frozen = MappingProxyType(meta)  # shared by every conversion at this rate: read-only
    _META_CACHE[id(rate)] = (rate, mode, frozen)
    return frozen


def _with_extra(meta: Mapping[str, str], extra: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not extra:
        # The cached meta itself: every conversion at one rate shares it, and the poster
        # encodes it once.
        return meta
    clash = meta.keys() & extra.keys()
    if clash:
        raise LedgerError(f"extra meta may not set {', '.join(sorted(clash))}: the rate's own")
    for key, value in extra.items():
        if not isinstance(value, str | int | bool):
            raise LedgerError(f"meta {key!r} must be text, an int or a bool, got {value!r}")
    return {**meta, **extra}


def _leg(debit: str, credit: str, amount: int, cur: str,
         ref: str | None) -> TransferTuple:
    """``amount`` from debit to credit; a negative amount goes the other way."""
    if amount < 0:
        return (credit, debit, -amount, cur, None, ref)
    return (debit, credit, amount, cur, None, ref)


def conversion_legs(
    debit_account: str, credit_account: str, bank_id: str, sell: str, buy: str, *,
    sell_amount: int, buy_amount: int, spread: int, rounding: int,
    reference: str | None = None,
) -> list[TransferTuple]:
    """The transfers of one customer conversion by ``bank_id`` (see the module docstring), as
    plain tuples in :class:`TransferSpec` order, all on the entry's value date; the amounts
    are those of the :class:`Conversion`."""
    position = fx_account(bank_id, POSITION, buy)
    legs: list[TransferTuple] = [
        (debit_account, fx_account(bank_id, POSITION, sell), sell_amount, sell, None, reference)
    ]
    if buy_amount:
        legs.append((position, credit_account, buy_amount, buy, None, reference))
    if spread:
        legs.append(_leg(position, fx_account(bank_id, INCOME, buy), spread, buy, reference))
    if rounding:
        legs.append(_leg(position, fx_account(bank_id, ROUNDING, buy), rounding, buy,
                         reference))
    return legs


def conversion_entry(
    entry_id: str,
    *,
    debit_account: str,
    credit_account: str,
    bank_id: str,
    conversion: Conversion,
    value_date: date,
    reference: str | None = None,
    kind: str = CONVERT_KIND,
    extra_meta: Mapping[str, Any] | None = None,
    digest: str | None = None,
) -> EntrySpec:
    """The entry of one customer conversion by ``bank_id`` (see the module docstring).

    ``debit_account`` holds ``conversion.sell``, ``credit_account`` ``conversion.buy``; the
    accounts' currencies are checked when the entry is posted. ``digest``: the entry's
    idempotency fingerprint when the caller has one (an instruction's), else its content's.
    """
    c = conversion
    legs = conversion_legs(debit_account, credit_account, bank_id, c.sell, c.buy,
                           sell_amount=c.sell_amount, buy_amount=c.buy_amount, spread=c.spread,
                           rounding=c.rounding, reference=reference)
    meta = _with_extra(rate_meta(c.rate, c.mode), extra_meta)
    return EntrySpec(entry_id, kind, value_date, tuple(TransferSpec(*leg) for leg in legs), meta,
                     digest=digest)


@dataclass(frozen=True, slots=True)
class BlockLine:
    """One customer's part of a block deal: ``amount`` minor units of the sell currency."""

    entry_id: str
    debit_account: str
    credit_account: str
    amount: int
    reference: str | None = None


def block_entries(
    block_id: str,
    lines: Sequence[BlockLine],
    *,
    bank_id: str,
    rate: CrossRate,
    value_date: date,
    mode: Rounding = Rounding.HALF_EVEN,
    policy: BlockPolicy = "residue",
    reference: str | None = None,
) -> tuple[BlockConversion, tuple[EntrySpec, ...]]:
    """Convert ``lines`` against one block deal and build their entries (module docstring).

    Returns the :class:`~fx.conversion.BlockConversion` and the entries: one per line, in
    order, then the block's own entry (left out when its spread, rounding and residue are all
    zero). Post them together (:func:`post_block`).
    """
    if not lines:
        raise AmountError("expected at least one line in a block")
    deal = convert_block([line.amount for line in lines], rate, mode, policy)
    buy = deal.buy
    position = fx_account(bank_id, POSITION, buy)
    block_meta = {"fx_block": block_id, "fx_block_policy": policy}
    line_meta = _with_extra(rate_meta(rate, mode), block_meta)
    sell_position = fx_account(bank_id, POSITION, deal.sell)
    entries = []
    for line, conv in zip(lines, deal.lines, strict=True):
        # Only the customers' transfers: the spread and rounding are the block's, booked below.
        legs = [TransferSpec(line.debit_account, sell_position, conv.sell_amount, deal.sell,
                             None, line.reference)]
        if conv.buy_amount:
            legs.append(TransferSpec(position, line.credit_account, conv.buy_amount, buy, None,
                                     line.reference))
        entries.append(EntrySpec(line.entry_id, CONVERT_KIND, value_date, tuple(legs),
                                 dict(line_meta)))
    block = deal.block
    income, rounding = fx_account(bank_id, INCOME, buy), fx_account(bank_id, ROUNDING, buy)
    legs = [
        TransferSpec(*_leg(position, account, amount, buy, reference))
        for account, amount in (
            (income, block.spread), (rounding, block.rounding), (rounding, deal.residue)
        )
        if amount
    ]
    if legs:
        meta = _with_extra(rate_meta(rate, mode), {
            **block_meta,
            "fx_block_lines": str(len(lines)),
            "fx_block_sell_amount": str(block.sell_amount),
            "fx_block_buy_amount": str(block.buy_amount),
            "fx_block_residue": str(deal.residue),
        })
        entries.append(EntrySpec(block_id, BLOCK_KIND, value_date, tuple(legs), meta))
    return deal, tuple(entries)


def recompute(meta: Mapping[str, Any], sell_amount: int) -> Conversion:
    """The conversion an entry's ``meta`` describes, recomputed for ``sell_amount``.

    The check an auditor runs: ``recompute(entry.meta, sell_amount)`` gives the amounts that
    were posted (for a line of a block deal under ``allocate``, the block may have moved its
    amount by one minor unit). Raises :class:`~fx.quotes.RateError` if the recorded legs do
    not give the recorded factor.
    """
    sell, buy = str(meta["fx_pair"]).split("/")
    factor = Fraction(str(meta["fx_factor_exact"]))
    mode = Rounding(str(meta["fx_rounding"]))
    legs = []
    for i in range(1, int(meta["fx_legs"]) + 1):
        base, quote = str(meta[f"fx_leg{i}_quote"]).split("/")
        q = Quote(
            str(meta["fx_book"]), base, quote, Decimal(str(meta[f"fx_leg{i}_bid"])),
            Decimal(str(meta[f"fx_leg{i}_ask"])),
            datetime.fromisoformat(str(meta[f"fx_leg{i}_as_of"])),
            str(meta[f"fx_leg{i}_source"]),
        )
        side = str(meta[f"fx_leg{i}_side"])
        if side == "bid":
            legs.append(Leg(q, "bid"))
        elif side == "ask":
            legs.append(Leg(q, "ask"))
        else:
            raise RateError("side", f"expected bid or ask, got {side!r}")
    if not legs:
        return convert(sell_amount, CrossRate(sell, buy, factor, factor, ()), mode)
    exact, mid = Fraction(1), Fraction(1)
    for leg in legs:
        exact *= leg.factor
        mid *= leg.mid_factor
    if exact != factor:
        raise RateError("fx_factor_exact", f"the legs give {exact}, the meta says {factor}")
    return convert(sell_amount, CrossRate(sell, buy, exact, mid, tuple(legs)), mode)


# -- posting -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookRules:
    """How a rate book converts: its rounding mode and its staleness limit."""

    rounding: Rounding = Rounding.HALF_EVEN
    staleness_business_days: int = 1


@dataclass(frozen=True, slots=True)
class ConversionRequest:
    """Convert ``amount`` minor units from ``debit_account`` into ``credit_account``'s currency.

    The rate is ``rate`` if given (a dealt rate: credit-currency units per 1 debit-currency
    unit), else ``book``'s latest at or before ``at``. The converting bank is ``bank_id``, or
    the debit account's bank. ``value_date`` defaults to ``at``'s date in UTC+8.
    """

    entry_id: str
    debit_account: str
    credit_account: str
    amount: int
    at: datetime
    book: str = DEFAULT_BOOK
    value_date: date | None = None
    reference: str | None = None
    rate: Decimal | None = None
    bank_id: str | None = None


@dataclass(frozen=True, slots=True)
class ConversionOutcome:
    """What became of one request: its conversion (None if it never got a rate) and result."""

    request: ConversionRequest
    conversion: Conversion | None
    result: Result


def _accounts(conn: Connection, codes: Iterable[str]) -> dict[str, tuple[str, str]]:
    """code -> (bank_id, currency) of the accounts that exist among ``codes``."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    a = Account.__table__.c
    stmt = select(a.code, a.bank_id, a.currency).where(
        a.code.in_(bindparam("codes", expanding=True))
    )
    found: dict[str, tuple[str, str]] = {}
    for i in range(0, len(wanted), 5000):
        for r in conn.execute(stmt, {"codes": wanted[i : i + 5000]}):
            found[r.code] = (r.bank_id, r.currency)
    return found


def post_conversions(
    conn: Connection,
    requests: Iterable[ConversionRequest],
    *,
    posted_at: str,
    rates: RateBook | None = None,
    rules: Mapping[str, BookRules] | None = None,
    default_rules: BookRules = BookRules(),
    next_business_day: NextBusinessDay | None = None,
    peg: Peg | None = DEFAULT_PEG,
    batch_id: str | None = None,
) -> list[ConversionOutcome]:
    """Convert and post each request on its own, in the caller's transaction.

    Rejections are values (``Result.code``): those of posting (``insufficient_funds``,
    ``duplicate``, ...) and, before posting, ``unknown_account``, ``accounts_must_be_different``,
    ``currency_mismatch`` (both accounts in one currency), ``amount_must_be_positive``,
    ``no_rate``, ``stale_rate`` and ``invalid_rate``. The FX accounts of each converting bank
    are opened as needed. ``rates`` defaults to the stored quotes of the requested books.
    """
    requests = list(requests)
    accounts = _accounts(conn, (c for r in requests for c in (r.debit_account,
                                                              r.credit_account)))
    if rates is None:
        rates = RateBook.load(conn, {r.book for r in requests if r.rate is None})
    rules = rules or {}
    views: dict[str, BookRates] = {}
    outcomes: list[ConversionOutcome | None] = []
    built: list[tuple[int, Conversion, EntrySpec]] = []
    to_open: set[tuple[str, str]] = set()
    for i, req in enumerate(requests):
        book_rules = rules.get(req.book, default_rules)
        view = views.get(req.book)
        if view is None:
            view = views[req.book] = rates.view(
                req.book, staleness_business_days=book_rules.staleness_business_days,
                next_business_day=next_business_day, peg=peg,
            )
        made = _prepare(req, accounts, view, book_rules.rounding)
        if isinstance(made, Result):
            outcomes.append(ConversionOutcome(req, None, made))
            continue
        bank, conv = made
        entry = conversion_entry(
            req.entry_id, debit_account=req.debit_account, credit_account=req.credit_account,
            bank_id=bank, conversion=conv,
            value_date=req.value_date or req.at.astimezone(LOCAL_TIME).date(),
            reference=req.reference,
        )
        to_open.update(((bank, conv.sell), (bank, conv.buy)))
        outcomes.append(None)
        built.append((i, conv, entry))
    for bank in sorted({b for b, _ in to_open}):
        open_fx_accounts(conn, [bank], sorted(c for b, c in to_open if b == bank))
    results = post_entries(
        conn, [entry for _, _, entry in built], posted_at=posted_at, batch_id=batch_id
    )
    for (i, conv, _), result in zip(built, results, strict=True):
        outcomes[i] = ConversionOutcome(requests[i], conv, result)
    return [o for o in outcomes if o is not None]


def _prepare(
    req: ConversionRequest,
    accounts: Mapping[str, tuple[str, str]],
    view: BookRates,
    mode: Rounding,
) -> tuple[str, Conversion] | Result:
    eid = req.entry_id
    for code in (req.debit_account, req.credit_account):
        if code not in accounts:
            return Result(eid, "unknown_account", f"account {code!r} does not exist")
    if req.debit_account == req.credit_account:
        return Result(eid, "accounts_must_be_different", "debit and credit are one account")
    debit_bank, sell = accounts[req.debit_account]
    _, buy = accounts[req.credit_account]
    if sell == buy:
        return Result(eid, "currency_mismatch",
                      f"a conversion needs two currencies; both accounts hold {sell}")
    if type(req.amount) is not int or req.amount <= 0:
        return Result(eid, "amount_must_be_positive", f"amount {req.amount!r} is not > 0")
    try:
        if req.rate is not None:
            conv = convert(req.amount, dealt_rate(sell, buy, req.rate), mode)
        else:
            conv = view.convert(req.amount, sell, buy, req.at, mode)
    except StaleRate as exc:
        return Result(eid, "stale_rate", str(exc))
    except NoRate as exc:
        return Result(eid, "no_rate", str(exc))
    except RateError as exc:
        return Result(eid, "invalid_rate", str(exc))
    return req.bank_id or debit_bank, conv


def convert_and_post(
    conn: Connection,
    *,
    entry_id: str,
    debit_account: str,
    credit_account: str,
    amount: int | Money,
    at: datetime,
    posted_at: str,
    book: str = DEFAULT_BOOK,
    rates: RateBook | None = None,
    rounding: Rounding = Rounding.HALF_EVEN,
    staleness_business_days: int = 1,
    next_business_day: NextBusinessDay | None = None,
    peg: Peg | None = DEFAULT_PEG,
    value_date: date | None = None,
    reference: str | None = None,
    rate: Decimal | None = None,
    bank_id: str | None = None,
    batch_id: str | None = None,
) -> tuple[Conversion, Result]:
    """Convert ``amount`` of ``debit_account`` into ``credit_account`` at ``book``'s rate at
    ``at`` (or the dealt ``rate``) and post it, in the caller's transaction.

    ``amount`` is minor units of the debit account's currency, or ``Money`` in it. Returns the
    conversion and the posting's :class:`~ledger.posting.Result` (``ok``, ``duplicate`` or a
    rejection such as ``insufficient_funds``). Raises :class:`~fx.quotes.NoRate`,
    :class:`~fx.quotes.StaleRate`, :class:`~ledger.errors.NotFound` (an unknown account) or
    :class:`~ledger.errors.LedgerError` for anything else that stops it before posting.
    """
    accounts = _accounts(conn, [debit_account, credit_account])
    for code in (debit_account, credit_account):
        if code not in accounts:
            raise NotFound(f"account {code!r} does not exist")
    if debit_account == credit_account:
        raise LedgerError("a conversion needs two different accounts")
    debit_bank, sell = accounts[debit_account]
    _, buy = accounts[credit_account]
    if isinstance(amount, Money):
        minor, code = from_money(amount)
        if code != sell:
            raise AmountError(f"{code} amount for account {debit_account!r} in {sell}")
        amount = minor
    if rate is not None:
        conv = convert(amount, dealt_rate(sell, buy, rate), rounding)
    else:
        book_rates = rates if rates is not None else RateBook.load(conn, [book])
        conv = book_rates.view(
            book, staleness_business_days=staleness_business_days,
            next_business_day=next_business_day, peg=peg,
        ).convert(amount, sell, buy, at, rounding)
    bank = bank_id or debit_bank
    open_fx_accounts(conn, [bank], [sell, buy])
    entry = conversion_entry(
        entry_id, debit_account=debit_account, credit_account=credit_account, bank_id=bank,
        conversion=conv, value_date=value_date or at.astimezone(LOCAL_TIME).date(),
        reference=reference,
    )
    (result,) = post_entries(conn, [entry], posted_at=posted_at, batch_id=batch_id)
    return conv, result


class BlockRejected(LedgerError):
    """A line or the block entry of a block deal was rejected: the whole deal must roll back."""

    def __init__(self, results: Sequence[Result]) -> None:
        self.results = tuple(results)
        super().__init__(
            "block deal rejected: "
            + "; ".join(f"{r.entry_id}: {r.code} {r.message}".strip() for r in self.results)
        )


def post_block(
    conn: Connection,
    block_id: str,
    lines: Sequence[BlockLine],
    *,
    bank_id: str,
    rate: CrossRate,
    value_date: date,
    posted_at: str,
    mode: Rounding = Rounding.HALF_EVEN,
    policy: BlockPolicy = "residue",
    reference: str | None = None,
    batch_id: str | None = None,
) -> tuple[BlockConversion, list[Result]]:
    """Build (:func:`block_entries`) and post a block deal in the caller's transaction.

    Raises :class:`BlockRejected` if any of its entries is rejected (the caller's transaction
    must then roll back, which :func:`ledger.db.transaction` does); ``duplicate`` is fine.
    """
    deal, entries = block_entries(
        block_id, lines, bank_id=bank_id, rate=rate, value_date=value_date, mode=mode,
        policy=policy, reference=reference,
    )
    open_fx_accounts(conn, [bank_id], [deal.sell, deal.buy])
    results = post_entries(conn, entries, posted_at=posted_at, batch_id=batch_id)
    bad = [r for r in results if r.code not in (OK, DUPLICATE)]
    if bad:
        raise BlockRejected(bad)
    return deal, results
