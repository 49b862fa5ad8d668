"""The pytest plugin: a fresh, isolated, deterministic ledger in one line of a bank's test.

Registered through the ``pytest11`` entry point ``wmc_ledger``, so installing wmc-ledger is all
it takes. Fixtures:

- ``wmc_ledger``: a fresh, migrated :class:`~wmc_ledger.Ledger` for the test, on the
  ``wmc_clock``, with the ``wmc_settings``; dropped after the test.
- ``wmc_clock``: a :class:`~wmc_ledger.FixedClock` at Monday 2025-03-03 18:00 UTC+8; move it
  with ``advance()`` / ``set()``.
- ``wmc_settings``: ``None`` (the documented defaults). Override it in a ``conftest.py`` to return
  a :class:`~wmc_ledger.Settings` or the path of a settings TOML file.
- ``wmc_world``: a :class:`ScenarioBuilder` on ``wmc_ledger``: banks, accounts, investors,
  products, rates, deposits and bank statements, a line each.
- ``wmc_ledger_factory``: makes more fresh ledgers in one test (to compare two runs of a scenario).

Where the ledgers live: ``--wmc-db URL`` on the command line, else the environment variable
``WMC_TEST_DB``, else SQLite. With SQLite (``sqlite`` or any ``sqlite:///...`` URL) each ledger is
a new database file in the test's temporary directory (``sqlite://``: a new in-memory database).
With PostgreSQL (``postgresql+psycopg://user@host/db``) the session creates a database of its
own (or, without the right to, uses the one named), each ledger is a new schema in it, and
schemas and database are dropped afterwards.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path

import pytest
from moneyed import Money
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from ledger.errors import InputError, LedgerError
from settlement.settings import Settings
from settlement.statements import Statement, StatementEntry, write_camt053, write_mt940
from wmc_ledger.api import Ledger, day_of
from wmc_ledger.clock import DEFAULT_START, GBA_TIME, FixedClock, aware
from wmc_ledger.values import Entry, PostResult, Transfer, minor_units

ENV_VAR = "WMC_TEST_DB"
"""The environment variable naming the test database when ``--wmc-db`` is not given."""

SettingsSource = Settings | str | os.PathLike[str] | None


# -- where the ledgers live ----------------------------------------------------------------------


class Databases:
    """Makes a fresh, empty database per ledger and drops them all at the end of the session."""

    def __init__(self, url: str | None, base_dir: Callable[[], Path]) -> None:
        self.spec = url or "sqlite"
        self._base_dir = base_dir
        self._count = 0
        self._admin: Engine | None = None
        self._created: str | None = None  # the database this session created (PostgreSQL)
        self._database: URL | None = None
        if self.spec == "sqlite" or self.spec.startswith("sqlite:"):
            self.kind = "sqlite"
            return
        parsed = make_url(self.spec)
        if parsed.get_backend_name() != "postgresql":
            raise pytest.UsageError(
                f"--wmc-db / {ENV_VAR}: expected sqlite or a postgresql+psycopg:// URL, "
                f"got {parsed.render_as_string(hide_password=True)}"
            )
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.kind = "postgresql"
        self._server = parsed

    def describe(self) -> str:
        """One line for pytest's report header."""
        if self.kind == "sqlite":
            where = "an in-memory database" if _memory(self.spec) else "a database file"
            return f"wmc-ledger: test ledgers on SQLite ({where} per ledger)"
        url = self._server.render_as_string(hide_password=True)
        return f"wmc-ledger: test ledgers on PostgreSQL {url} (a schema per ledger)"

    def fresh(self) -> tuple[str, Callable[[], None]]:
        """The URL of a new empty database, and how to drop it."""
        self._count += 1
        if self.kind == "sqlite":
            if _memory(self.spec):
                return "sqlite://", _nothing
            path = self._base_dir() / f"wmc-ledger-{self._count}.db"
            return f"sqlite:///{path}", _nothing
        admin = self._admin_engine()
        schema = f"wmc_{uuid.uuid4().hex[:16]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        assert self._database is not None
        url = self._database.update_query_dict({"options": f"-csearch_path={schema}"})

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))

        return url.render_as_string(hide_password=False), drop

    def _admin_engine(self) -> Engine:
        if self._admin is not None:
            return self._admin
        server = create_engine(self._server, isolation_level="AUTOCOMMIT")
        name = f"wmc_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        try:
            with server.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except DBAPIError as exc:
            if "permission denied" not in str(exc).lower():
                server.dispose()
                raise
            # No right to create databases: use schemas of the database named.
            self._database = self._server
            self._admin = server
            return server
        server.dispose()
        self._created = name
        self._database = self._server.set(database=name)
        self._admin = create_engine(self._database, isolation_level="AUTOCOMMIT")
        return self._admin

    def close(self) -> None:
        """Drop the session's database (PostgreSQL) and release the admin connections."""
        if self._admin is not None:
            self._admin.dispose()
            self._admin = None
        if self._created is not None:
            server = create_engine(self._server, isolation_level="AUTOCOMMIT")
            try:
                with server.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{self._created}" WITH (FORCE)'))
            finally:
                server.dispose()
            self._created = None


def _memory(spec: str) -> bool:
    return spec in ("sqlite://", "sqlite:///:memory:")


def _nothing() -> None:
    return None


# -- the plugin's hooks and fixtures -------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wmc-ledger", "wmc-ledger test ledgers")
    group.addoption(
        "--wmc-db", dest="wmc_db", default=None, metavar="URL",
        help=f"where wmc_ledger fixtures make their ledgers: sqlite (default) or a "
             f"postgresql+psycopg:// URL (a schema per test); env {ENV_VAR}",
    )


def _spec(config: pytest.Config) -> str | None:
    value: str | None = config.getoption("wmc_db", default=None)
    return value or os.environ.get(ENV_VAR) or None


def pytest_report_header(config: pytest.Config) -> str:
    try:
        return Databases(_spec(config), lambda: Path(".")).describe()
    except pytest.UsageError as exc:
        return f"wmc-ledger: {exc}"


@pytest.fixture(scope="session")
def wmc_databases(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Databases]:
    """Where this session's ledgers live (``--wmc-db`` / ``WMC_TEST_DB``; default SQLite)."""
    databases = Databases(_spec(request.config),
                          lambda: tmp_path_factory.mktemp("wmc-ledger", numbered=True))
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture
def wmc_clock() -> FixedClock:
    """A clock standing at Monday 2025-03-03 18:00 UTC+8 until the test moves it."""
    return FixedClock(DEFAULT_START)


@pytest.fixture
def wmc_settings() -> SettingsSource:
    """The settings of ``wmc_ledger``: ``None`` is the documented defaults. Override this
    fixture to return a ``Settings`` value or the path of a settings TOML file."""
    return None


LedgerFactory = Callable[..., Ledger]


@pytest.fixture
def wmc_ledger_factory(
    wmc_databases: Databases, wmc_settings: SettingsSource
) -> Iterator[LedgerFactory]:
    """``make(clock=None, settings=<wmc_settings>, init=True) -> Ledger``: fresh ledgers, each
    in a database of its own, dropped after the test. ``clock=None`` is a new
    :class:`~wmc_ledger.FixedClock` at the default start, so two ledgers made alike run alike."""
    made: list[tuple[Ledger, Callable[[], None]]] = []

    def make(*, clock: Callable[[], dt.datetime] | None = None,
             settings: SettingsSource = wmc_settings, init: bool = True) -> Ledger:
        url, drop = wmc_databases.fresh()
        ledger = Ledger.open(url, clock=clock or FixedClock(DEFAULT_START), settings=settings)
        made.append((ledger, drop))
        return ledger.init() if init else ledger

    try:
        yield make
    finally:
        for ledger, drop in reversed(made):
            ledger.close()
            drop()


@pytest.fixture
def wmc_ledger(wmc_ledger_factory: LedgerFactory, wmc_clock: FixedClock) -> Ledger:
    """A fresh, migrated ledger on ``wmc_clock`` and ``wmc_settings``, dropped afterwards."""
    return wmc_ledger_factory(clock=wmc_clock)


@pytest.fixture
def wmc_world(wmc_ledger: Ledger) -> ScenarioBuilder:
    """A :class:`ScenarioBuilder` on ``wmc_ledger``."""
    return ScenarioBuilder(wmc_ledger)


# -- builders ------------------------------------------------------------------------------------


class BankBuilder:
    """One bank of a scenario: opens its accounts, named ``{bank_id}-{WHAT}-{CUR}``."""

    def __init__(self, world: ScenarioBuilder, bank_id: str, market: str, name: str) -> None:
        self.world = world
        self.bank_id = bank_id
        self.market = market
        self.name = name

    def __repr__(self) -> str:
        return f"BankBuilder({self.bank_id!r}, market={self.market!r})"

    def account(self, code: str, currency: str, *, type: str = "liability",
                overdraft: bool = False, name: str = "") -> str:
        """Open account ``code`` at this bank (a customer liability by default)."""
        self.world.ledger.load_accounts([{
            "account": code, "bank_id": self.bank_id, "type": type, "currency": currency,
            "name": name, "allow_overdraft": overdraft,
        }])
        return code

    def nostro(self, currency: str) -> str:
        """The bank's ``{bank}-NOSTRO-{CUR}`` account: an asset that may go below zero."""
        return self.account(f"{self.bank_id}-NOSTRO-{currency}", currency, type="asset",
                            overdraft=True, name="nostro")

    def customer(self, who: str, currency: str) -> str:
        """A customer's ``{bank}-{WHO}-{CUR}`` account (a liability, no overdraft)."""
        return self.account(f"{self.bank_id}-{who}-{currency}", currency, name=who)

    def income(self, currency: str, what: str = "FEES") -> str:
        """The bank's ``{bank}-{WHAT}-{CUR}`` income account (where fees are paid)."""
        return self.account(f"{self.bank_id}-{what}-{currency}", currency, type="income",
                            name=what.lower())


class InvestorBuilder:
    """An investor's closed loop on one channel: the paired remittance and investment accounts
    (both CNY), and the investment bank's other-currency accounts of the investor."""

    def __init__(self, world: ScenarioBuilder, investor_id: str, direction: str, channel: str,
                 home: BankBuilder, partner: BankBuilder, remittance_account: str,
                 investment_account: str) -> None:
        self.world = world
        self.investor_id = investor_id
        self.direction = direction
        self.channel = channel
        self.home = home
        self.partner = partner
        self.remittance_account = remittance_account
        self.investment_account = investment_account

    def __repr__(self) -> str:
        return (f"InvestorBuilder({self.investor_id!r}, {self.direction}, {self.channel}: "
                f"{self.remittance_account} <-> {self.investment_account})")

    def investment(self, currency: str) -> str:
        """The investor's account in ``currency`` at the investment bank (CNY: the paired
        investment account; another currency: ``{investment account}-{CUR}``, opened)."""
        if currency == "CNY":
            return self.investment_account
        return self.partner.account(f"{self.investment_account}-{currency}", currency,
                                    name=f"{self.investor_id} investment {currency}")

    def home_account(self, currency: str) -> str:
        """The investor's ordinary account in ``currency`` at the home bank (outside the
        closed loop: where a Macau investor keeps MOP, say), opened as
        ``{home bank}-{investor}-{CUR}``."""
        return self.home.customer(self.investor_id, currency)


class ScenarioBuilder:
    """Writes a scenario into a ledger as the bank tells it: one line per bank, account,
    investor, product, rate sheet or deposit, each loaded at once (idempotently).

    >>> world = ScenarioBuilder(ledger)                                   # doctest: +SKIP
    >>> gzb = world.bank("GZB", market="CN", name="Guangzhou Bay Bank")   # doctest: +SKIP
    >>> hkb = world.bank("HKB", market="HK", name="Harbour Bank")         # doctest: +SKIP
    >>> li = world.investor("LI", direction="southbound", home=gzb, partner=hkb)  # doctest: +SKIP
    >>> world.deposit(li.remittance_account, Money("500000.00", "CNY"))   # doctest: +SKIP
    >>> world.rates({"CNY/HKD": ("1.0584", "1.0688")})                    # doctest: +SKIP
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.banks: dict[str, BankBuilder] = {}
        self._deposits = 0

    def bank(self, bank_id: str, *, market: str, name: str | None = None,
             kind: str = "bank") -> BankBuilder:
        """A bank in ``market`` (``MO``, ``HK`` or ``CN``); ``kind="securities_firm"`` for a
        securities firm (it serves the broker channel)."""
        name = name or bank_id
        self.ledger.load_banks([{"bank_id": bank_id, "name": name, "market": market,
                                 "kind": kind}])
        builder = self.banks[bank_id] = BankBuilder(self, bank_id, market, name)
        return builder

    def _bank(self, bank: BankBuilder | str) -> BankBuilder:
        if isinstance(bank, BankBuilder):
            return bank
        try:
            return self.banks[bank]
        except KeyError:
            raise InputError(f"bank {bank!r} is not in this scenario (world.bank(...) first)") \
                from None

    def investor(
        self,
        investor_id: str,
        *,
        direction: str,
        home: BankBuilder | str,
        partner: BankBuilder | str,
        channel: str = "bank",
        remittance_account: str | None = None,
        investment_account: str | None = None,
        eligible_from: str | None = None,
        eligible_until: str | None = None,
    ) -> InvestorBuilder:
        """An investor whose remittance account is at ``home`` (the home market's bank) and
        whose investment account is at ``partner`` (across the border), paired on ``channel``.

        The accounts are opened (CNY customer accounts) as ``{home}-{investor}-REM`` and
        ``{partner}-{investor}-INV`` (with ``-BROKER`` on the broker channel) unless named.
        """
        h, p = self._bank(home), self._bank(partner)
        suffix = "" if channel == "bank" else f"-{channel.upper()}"
        rem = h.account(remittance_account or f"{h.bank_id}-{investor_id}-REM{suffix}", "CNY",
                        name=f"{investor_id} remittance")
        inv = p.account(investment_account or f"{p.bank_id}-{investor_id}-INV{suffix}", "CNY",
                        name=f"{investor_id} investment")
        self.ledger.load_investors([{
            "investor_id": investor_id, "direction": direction, "remittance_account": rem,
            "investment_account": inv, "channel": channel,
            "eligible_from": eligible_from, "eligible_until": eligible_until,
        }])
        return InvestorBuilder(self, investor_id, direction, channel, h, p, rem, inv)

    def product(self, product: str, *, bank: BankBuilder | str, currency: str, risk: str,
                direction: str, account: str | None = None, product_type: str = "public_fund",
                category: str | None = None, complex: bool | None = None,
                domicile: str | None = None, authorisation: str | None = None) -> str:
        """A product sold by ``bank``; subscriptions are paid into ``account`` (default:
        ``{bank}-{product}``, opened). Whether it is eligible is the eligibility table's say,
        from ``product_type`` and the attributes given. Returns the product's account."""
        b = self._bank(bank)
        code = b.account(account or f"{b.bank_id}-{product}", currency,
                         name=f"product {product}")
        self.ledger.load_products([{
            "product": product, "currency": currency, "risk": risk, "direction": direction,
            "account": code, "product_type": product_type, "category": category,
            "complex": complex, "domicile": domicile, "authorisation": authorisation,
        }])
        return code

    def rates(
        self,
        quotes: Mapping[str, tuple[str | Decimal, str | Decimal]],
        *,
        as_of: dt.datetime | str | None = None,
        book: str = "default",
        source: str = "scenario",
    ) -> None:
        """A rate sheet: ``{"CNY/HKD": (bid, ask), ...}`` (quote units per 1 base) in ``book``.

        ``as_of`` defaults to 09:15 UTC+8 on the clock's day, when the CNY central parity is
        published, so the day's instructions find it.
        """
        if as_of is None:
            day = aware(self.ledger.clock(), "clock").astimezone(GBA_TIME).date()
            when = dt.datetime.combine(day, dt.time(9, 15), GBA_TIME)
        else:
            when = aware(as_of, "as_of")
        rows = []
        for pair, (bid, ask) in quotes.items():
            base, sep, quote = pair.partition("/")
            if not sep:
                raise InputError(f"rates: expected a pair like 'CNY/HKD', got {pair!r}")
            rows.append({"base": base, "quote": quote, "bid": bid, "ask": ask, "as_of": when,
                         "source": source, "book": book})
        self.ledger.load_rates(rows)

    def deposit(self, account: str, amount: Money, *, value_date: dt.date | str | None = None,
                entry_id: str | None = None) -> PostResult:
        """Pay ``amount`` into ``account`` from its bank's nostro in that currency (opened if
        needed): the customer's opening money. Raises ``LedgerError`` if it is rejected."""
        found = self.ledger.balances(account=account)
        if not found:
            raise InputError(f"deposit: account {account!r} does not exist")
        acc = found[0]
        nostro = self._bank_of(acc.bank_id).nostro(acc.currency)
        self._deposits += 1
        eid = entry_id or f"DEPOSIT-{account}-{self._deposits}"
        day = day_of(value_date, "value_date")
        (result,) = self.ledger.post([Entry(eid, (Transfer(nostro, account, amount),),
                                            value_date=day, kind="deposit")])
        if result.code not in ("ok", "duplicate"):
            raise LedgerError(f"deposit {eid} rejected: {result.code} {result.message}")
        return result

    def _bank_of(self, bank_id: str) -> BankBuilder:
        # A bank loaded some other way (from a file, say) gets a builder for its nostro.
        return self.banks.get(bank_id) or BankBuilder(self, bank_id, market="", name=bank_id)

    def statement(
        self,
        account: str,
        *,
        day: dt.date | str,
        opening: Money,
        lines: Sequence[tuple[str | None, Money]],
        fmt: str = "camt.053",
        statement_account: str | None = None,
    ) -> bytes:
        """The statement the bank sends for ``account`` on ``day`` (camt.053 or MT940 bytes).

        ``lines`` are ``(end-to-end id or None, signed amount)`` in booking order: ``+`` a
        credit to the holder, ``-`` a debit (a fee without reference: ``(None, -150)``). The
        closing balance is what they add up to; bank references are ``BANKREF-000001``, ...
        """
        when = day_of(day, "day")
        if when is None:
            raise InputError("statement: a day is required")
        code = opening.currency.code
        entries = tuple(
            StatementEntry(
                amount=minor_units(amount, code), currency=code, booking_date=when,
                value_date=when, end_to_end_id=ref, bank_ref=f"BANKREF-{n:06d}",
                description=ref or "bank charge",
            )
            for n, (ref, amount) in enumerate(lines, start=1)
        )
        start = minor_units(opening)
        statement = Statement(
            account=statement_account or account, currency=code, opening=start,
            closing=start + sum(e.amount for e in entries), opening_date=when,
            closing_date=when, entries=entries, format="mt940" if fmt == "mt940" else "camt.053",
        )
        if fmt == "mt940":
            return write_mt940(statement).encode("utf-8")
        if fmt != "camt.053":
            raise InputError(f"statement format: expected camt.053 or mt940, got {fmt!r}")
        return write_camt053(statement)


__all__ = ["ENV_VAR", "BankBuilder", "Databases", "InvestorBuilder", "LedgerFactory",
           "ScenarioBuilder"]
