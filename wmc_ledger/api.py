"""The public Python API: one :class:`Ledger` object over everything the ``wmc`` command does.

A :class:`Ledger` wraps one database (any SQLAlchemy URL; ``sqlite://`` is a private in-memory
ledger) and, optionally, a clock and settings. Every method that writes runs in one database
transaction of its own and either does all of its work or none of it; every method that reads
sees one consistent snapshot. Amounts go in and come out as py-moneyed ``Money``.

Guarantees a bank's tests rely on:

- **One engine.** :meth:`Ledger.settle` runs the same engine as ``wmc settle run``: an iterable
  of instructions is written to a temporary JSON Lines file in the CONTRACT.md format and
  settled from there, so a rejection's ``line`` is the instruction's position (from 1).
- **Determinism.** The ledger reads the time only from its clock (``posted_at``, a batch's
  ``committed_at``, a conversion's default instant, the default value date), and batch ids are
  sequential (``B00000001``, ...). Inject a :class:`~wmc_ledger.FixedClock` and the same scenario
  gives byte-identical reports (:meth:`~wmc_ledger.Batch.to_json`) and the same Merkle roots.
- **Rejections are values.** Posting, converting and settling return a result code per item
  (``ok``, ``duplicate``, ``insufficient_funds``, ...); exceptions (:class:`LedgerError` and
  subclasses) are for bad input (``InputError``: nothing was written), unknown names
  (``NotFound``), conflicting reference data (``ConflictError``) and an atomic batch rolled back
  (:class:`AtomicBatchRolledBack`, carrying the batch).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from moneyed import Money
from sqlalchemy import Connection, Engine, select
from sqlalchemy.pool import StaticPool

from fx.book import RateBook, load_rates_file
from fx.book import load_rates as fx_load_rates
from fx.booking import BookRules, ConversionRequest, post_conversions
from fx.conversion import Rounding
from fx.translate import translate_balances
from ledger import audit as ledger_audit
from ledger import checkpoint as ledger_checkpoint
from ledger import journal, reports
from ledger.checkpoint import Checkpoint, CheckpointNotWritten, ProofCheck
from ledger.corrections import reversal_entry
from ledger.db import DEFAULT_URL, make_engine, transaction
from ledger.entries import EntrySpec, TransferSpec
from ledger.errors import BatchRolledBack, InputError, IntegrityError, NotFound, Problem
from ledger.files import Schema, clean_text, parse_bool
from ledger.money import to_money
from ledger.posting import post_entries
from ledger.records import recompute_state, recording, tree_state
from ledger.refdata import ACCOUNT_SCHEMA, BANK_SCHEMA
from ledger.refdata import close_account as ledger_close_account
from ledger.refdata import load_accounts as ledger_load_accounts
from ledger.refdata import load_banks as ledger_load_banks
from ledger.refdata import load_file as ledger_load_file
from ledger.roles import create_roles as ledger_create_roles
from ledger.schema import ACCOUNT_LENGTH, ENTRY_ID_LENGTH, Account, Bank
from settlement.audit import quota_check
from settlement.batches import batch_summaries, list_batches, load_report
from settlement.calendars import Calendar, build_calendar, read_day_overrides
from settlement.engine import AtomicRollback, BatchOptions, opened_by_ledger, settle_file
from settlement.instructions import COLUMNS as INSTRUCTION_COLUMNS
from settlement.quota import quota_report
from settlement.refdata import INVESTOR_SCHEMA, PRODUCT_SCHEMA
from settlement.refdata import load_file as scheme_load_file
from settlement.refdata import load_investors as scheme_load_investors
from settlement.refdata import load_products as scheme_load_products
from settlement.report import BatchReport
from settlement.revert import RevertRefused, revert_batch
from settlement.settings import Settings, load_settings
from wmc_ledger.clock import GBA_TIME, Clock, aware, system_clock
from wmc_ledger.values import (
    AuditResult,
    Balance,
    Batch,
    BatchSummary,
    Break,
    ConversionResult,
    CurrencyTotal,
    Duplicate,
    Entry,
    GrossPayment,
    Instruction,
    JournalEntry,
    JournalPage,
    JournalTransfer,
    LoadResult,
    MovedDate,
    Obligation,
    Position,
    PostResult,
    QuotaReport,
    Reconciliation,
    Register,
    RegisterLine,
    Rejection,
    RevertResult,
    Transfer,
    TranslatedBalance,
    TrialBalance,
    minor_units,
    money_text,
)

if TYPE_CHECKING:
    from settlement.reconcile import AccountReconciliation

Source = str | os.PathLike[str] | Iterable[Mapping[str, Any]]
"""Reference data: a ``.csv`` / ``.jsonl`` file's path, or rows (mappings of field -> value)."""

KINDS: Final = ("banks", "accounts", "investors", "products", "rates")
"""The kinds of reference data :meth:`Ledger.load` takes, in the order they depend on each other."""

_SCHEMAS: Final[Mapping[str, Schema]] = {
    "banks": BANK_SCHEMA, "accounts": ACCOUNT_SCHEMA, "investors": INVESTOR_SCHEMA,
    "products": PRODUCT_SCHEMA,
}


class AtomicBatchRolledBack(BatchRolledBack):
    """An ``atomic`` batch had rejections and was rolled back whole: nothing was written.

    ``batch`` is the report the batch would have had (its ``rejections`` say why).
    """

    def __init__(self, batch: Batch, message: str) -> None:
        self.batch = batch
        super().__init__(message)


def _is_path(source: object) -> bool:
    return isinstance(source, str | os.PathLike)


def day_of(value: dt.date | str | None, what: str) -> dt.date | None:
    """``value`` as a date (``date`` or ``YYYY-MM-DD`` text; ``None`` stays ``None``)."""
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise InputError(f"{what}: expected a date (YYYY-MM-DD), got {value!r}")


def _in_memory(url: str) -> bool:
    return url.startswith("sqlite") and url.split("://", 1)[-1] in ("", "/", "/:memory:")


class Ledger:
    """A settlement ledger on one database. Open one with :meth:`open`, then :meth:`init` it.

    >>> from moneyed import Money
    >>> with Ledger.open("sqlite://").init() as ledger:
    ...     _ = ledger.load_banks([{"bank_id": "HKB", "name": "Harbour Bank", "market": "HK"}])
    ...     _ = ledger.load_accounts([
    ...         {"account": "HKB-NOSTRO-HKD", "bank_id": "HKB", "type": "asset",
    ...          "currency": "HKD", "allow_overdraft": True},
    ...         {"account": "HKB-CUST-HKD", "bank_id": "HKB", "type": "liability",
    ...          "currency": "HKD"}])
    ...     ledger.transfer("DEP-1", "HKB-NOSTRO-HKD", "HKB-CUST-HKD", Money("500.00", "HKD")).ok
    ...     ledger.balance("HKB-CUST-HKD")
    True
    Money('500.00', 'HKD')
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock | None = None,
        settings: Settings | str | os.PathLike[str] | None = None,
    ) -> None:
        """Wrap an engine made by :func:`ledger.db.make_engine` (prefer :meth:`open`)."""
        self._engine = engine
        self._clock: Clock = clock or system_clock
        # A settings file is read, and checked whole, now: a bad key fails the open, not
        # whichever later call first reads its section.
        self._settings: Settings | None = (
            settings if isinstance(settings, Settings)
            else None if settings is None else load_settings(Path(settings)))
        self._calendars: dict[str, Calendar] = {}

    @classmethod
    def open(
        cls,
        url: str = DEFAULT_URL,
        *,
        clock: Clock | None = None,
        settings: Settings | str | os.PathLike[str] | None = None,
    ) -> Ledger:
        """A ledger on the database at ``url`` (any SQLAlchemy URL; the CLI's ``--db``).

        ``sqlite://`` is a private in-memory database (one connection, gone on :meth:`close`).
        ``clock`` is called for the current time (default: the system clock); ``settings`` is a
        :class:`Settings` value or a settings TOML file (default: the documented defaults),
        read and checked whole here (a bad file raises ``InputError`` naming file, line and
        key). Nothing is connected until the first call that needs the database; a URL the
        ledger cannot use raises :class:`~ledger.errors.DatabaseError` here, a database it
        cannot reach or use raises it from the first call that meets it (no SQLite file is
        created before :meth:`init`).
        """
        if _in_memory(url):
            engine = make_engine(url, poolclass=StaticPool,
                                 connect_args={"check_same_thread": False})
        else:
            engine = make_engine(url)
        return cls(engine, clock=clock, settings=settings)

    # -- the ledger itself ----------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for what the API does not cover; not part of its promise)."""
        return self._engine

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self._engine.url.render_as_string(hide_password=True)

    @property
    def clock(self) -> Clock:
        """Where the ledger reads the time."""
        return self._clock

    @property
    def settings(self) -> Settings:
        """The settings in force (the file given to :meth:`open`, else the defaults)."""
        if self._settings is None:
            self._settings = load_settings(None)
        return self._settings

    def init(self) -> Ledger:
        """Create or upgrade the schema (``wmc init``); harmless on an up-to-date database.

        Returns the ledger, so ``Ledger.open(url).init()`` reads as one step.
        """
        from ledger.migrate import upgrade  # Alembic: only for this

        upgrade(self._engine)
        return self

    def create_roles(self, *, owner_role: str = "wmc_owner",
                     app_role: str = "wmc_app") -> list[str]:
        """PostgreSQL only (``wmc init --create-roles``): make an owner role own the ledger's
        schema and grant an application role only what settling, loading and reporting need
        (see :mod:`ledger.roles`); returns the statements run. Connect as a superuser or a
        role with ``CREATEROLE`` that owns the schema; connect the application as ``app_role``.
        """
        statements: list[str] = self._write(
            lambda conn: ledger_create_roles(conn, owner_role=owner_role, app_role=app_role))
        return statements

    def close(self) -> None:
        """Release the database connections (an in-memory ledger is gone afterwards)."""
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({self.url!r})"

    def _write(self, work: Callable[[Connection], Any]) -> Any:
        # Reference data written here is recorded in the events log at the clock's time.
        with recording(at=self._now()):
            return transaction(self._engine, work)

    def _now(self) -> dt.datetime:
        return aware(self._clock(), "the ledger clock's time")

    # -- reference data -------------------------------------------------------------------------

    def load(self, kind: str, source: Source) -> LoadResult:
        """Load reference data of ``kind`` (one of :data:`KINDS`) from a file or rows.

        Like ``wmc load KIND FILE``: idempotent (the same row again is a no-op; the same key
        with other content is a ``ConflictError`` naming both); a bad file or row is refused
        whole (``InputError`` listing every problem as ``FILE:LINE: field 'NAME': ...``; rows
        are named ``KIND:N``, counted from 1) and nothing is written. Rows are mappings with the
        file's field names; values may be text (parsed as in a file) or typed (``True`` for a
        flag; ``Decimal`` and aware ``datetime`` for rates; rates may also be ``fx`` quotes).
        """
        if kind not in KINDS:
            raise InputError(f"unknown reference data kind {kind!r} "
                             f"(expected one of {', '.join(KINDS)})")
        if _is_path(source):
            path = Path(source)  # type: ignore[arg-type]
            if kind in ("banks", "accounts"):
                result = self._write(lambda c: ledger_load_file(c, kind, path))
            elif kind == "rates":
                result = self._write(lambda c: load_rates_file(c, path))
            else:
                result = self._write(lambda c: scheme_load_file(c, kind, path))
        elif kind == "rates":
            rows: list[Mapping[str, Any]] = list(source)  # type: ignore[arg-type]
            result = self._write(lambda c: fx_load_rates(c, rows))
        else:
            parsed = _parse_rows(kind, source, _SCHEMAS[kind])  # type: ignore[arg-type]
            loaders: dict[str, Callable[[Connection, list[dict[str, Any]]], LoadResult]] = {
                "banks": ledger_load_banks, "accounts": ledger_load_accounts,
                "investors": scheme_load_investors, "products": scheme_load_products,
            }
            loader = loaders[kind]
            result = self._write(lambda c: loader(c, parsed))
        # The loaders name what they loaded in the singular ("bank"); the API says the kind asked.
        return LoadResult(kind, result.rows, result.inserted, result.unchanged,
                          result.completed)

    def load_banks(self, source: Source) -> LoadResult:
        """Banks: ``bank_id``, ``name``, ``market`` (``MO``, ``HK``, ``CN``). See :meth:`load`."""
        return self.load("banks", source)

    def load_accounts(self, source: Source) -> LoadResult:
        """Accounts: ``account``, ``bank_id``, ``type``, ``currency``, ``name``,
        ``allow_overdraft``. See :meth:`load`."""
        return self.load("accounts", source)

    def load_investors(self, source: Source) -> LoadResult:
        """Investors' closed-loop pairs: ``investor_id``, ``direction``, ``remittance_account``,
        ``investment_account``, ``channel``. See :meth:`load`."""
        return self.load("investors", source)

    def load_products(self, source: Source) -> LoadResult:
        """Eligible products: ``product``, ``currency``, ``risk``, ``direction``, ``account``.
        See :meth:`load`."""
        return self.load("products", source)

    def load_rates(self, source: Source) -> LoadResult:
        """Quotes: ``base``, ``quote``, ``bid``, ``ask``, ``as_of``, ``source``, ``book``.
        See :meth:`load`."""
        return self.load("rates", source)

    def close_account(self, account: str) -> None:
        """Close ``account``: it keeps its history and balance and takes no new transfers."""
        self._write(lambda c: ledger_close_account(c, account))

    # -- posting --------------------------------------------------------------------------------

    def post(self, entries: Iterable[Entry]) -> list[PostResult]:
        """Post entries in one transaction; one :class:`PostResult` per entry, in order.

        Each entry is judged on its own against the balances left by the ones before it: a
        rejected entry (``insufficient_funds``, ``unknown_account``, ``account_closed``, ...)
        posts nothing and does not stop the others.
        """
        now = self._now()
        today = now.astimezone(GBA_TIME).date()
        specs = [_entry_spec(e, today, i) for i, e in enumerate(entries, start=1)]
        results = self._write(lambda c: post_entries(c, specs, posted_at=now.isoformat()))
        return [PostResult(r.entry_id, r.code, r.message) for r in results]

    def reverse(
        self,
        entry_id: str,
        *,
        new_id: str | None = None,
        value_date: dt.date | str | None = None,
    ) -> PostResult:
        """Reverse a posted entry with a new one (default id ``REV-{entry_id}``) that names it:
        the same amounts, debit and credit swapped; ``wmc reverse``. An entry is reversed once
        (``already_reversed``); a remit or repatriate is refused (correct it by instruction)."""
        day = day_of(value_date, "value_date") if value_date is not None else None
        now = self._now()

        def work(conn: Any) -> list[Any]:
            spec = reversal_entry(conn, entry_id, new_id=new_id, value_date=day)
            return post_entries(conn, [spec], posted_at=now.isoformat())

        (result,) = self._write(work)
        return PostResult(result.entry_id, result.code, result.message)

    def transfer(
        self,
        entry_id: str,
        debit: str,
        credit: str,
        amount: Money,
        *,
        value_date: dt.date | str | None = None,
        reference: str | None = None,
        kind: str = "transfer",
        meta: Mapping[str, str] | None = None,
    ) -> PostResult:
        """Post one entry of one transfer: ``amount`` from ``debit`` to ``credit``."""
        day = day_of(value_date, "value_date")
        (result,) = self.post([Entry(entry_id, (Transfer(debit, credit, amount, None, reference),),
                                     value_date=day, kind=kind, meta=meta)])
        return result

    def convert(
        self,
        entry_id: str,
        debit_account: str,
        credit_account: str,
        amount: Money,
        *,
        at: dt.datetime | str | None = None,
        book: str = "default",
        rate: Decimal | str | None = None,
        value_date: dt.date | str | None = None,
        reference: str | None = None,
    ) -> ConversionResult:
        """Sell ``amount`` from ``debit_account`` for ``credit_account``'s currency and post it.

        The rate is ``rate`` if given (a dealt rate: credit-currency units per debit-currency
        unit), else ``book``'s latest quote at or before ``at`` (default: the clock's now),
        through a pivot where needed and with the MOP/HKD peg of the settings; the book's
        rounding and staleness limit come from the settings. The spread goes to the debit
        bank's ``FX_INCOME`` account and the rounding residue to its ``FX_ROUNDING`` account.
        ``value_date`` defaults to ``at``'s day in UTC+8. Rejections are values
        (``no_rate``, ``stale_rate``, ``insufficient_funds``, ``currency_mismatch``, ...).
        """
        now = self._now()
        when = aware(at, "at") if at is not None else now
        dealt = _rate(rate)
        day = day_of(value_date, "value_date")
        fx = self.settings.fx
        rules = {book: BookRules(Rounding(fx.rounding_for(book)), fx.staleness_for(book))}
        sold = amount

        def work(conn: Connection) -> Any:
            acc = conn.execute(
                select(Account.currency, Bank.market)
                .join(Bank, Bank.bank_id == Account.bank_id)
                .where(Account.code == debit_account)
            ).first()
            minor = minor_units(sold, None if acc is None else acc.currency)
            request = ConversionRequest(
                entry_id, debit_account, credit_account, minor, when, book=book,
                value_date=day, reference=reference, rate=dealt,
            )
            (outcome,) = post_conversions(
                conn, [request], posted_at=now.isoformat(), rules=rules,
                next_business_day=(self._calendar(acc.market).next_business_day
                                   if acc is not None else None),
                peg=(fx.peg_bid, fx.peg_ask),
            )
            return outcome

        outcome = self._write(work)
        r, conv = outcome.result, outcome.conversion
        if conv is None:
            return ConversionResult(r.entry_id, r.code, r.message, amount)
        return ConversionResult(
            r.entry_id, r.code, r.message, amount,
            bought=to_money(conv.buy_amount, conv.buy),
            spread=to_money(conv.spread, conv.buy),
            rounding=to_money(conv.rounding, conv.buy),
            rate=Decimal(conv.rate.display(20)),
        )

    def _calendar(self, market: str) -> Calendar:
        cal = self._calendars.get(market)
        if cal is None:
            path = self.settings.calendar.overrides
            overrides = read_day_overrides(path) if path else ()
            cal = self._calendars[market] = build_calendar(market, overrides)
        return cal

    # -- settlement -----------------------------------------------------------------------------

    def settle(
        self,
        instructions: str | os.PathLike[str] | Iterable[Instruction | Mapping[str, Any]],
        *,
        atomic: bool = False,
        name: str = "instructions",
        progress: Callable[[int], None] | None = None,
    ) -> Batch:
        """Settle a batch, as ``wmc settle run``: judge, convert, post and net it in one
        transaction, and return its report.

        ``instructions`` is an instructions file (``.csv`` / ``.jsonl``) or an iterable of
        :class:`Instruction` values or mappings with the file's field names (values may be
        text, ``Money`` for ``amount`` (its currency is the instruction's), ``date``,
        aware ``datetime``, ``Decimal``). A missing ``value_date`` is the clock's day. An
        iterable's problems are named ``NAME:N`` (``name``, the instruction's position).

        Each instruction is accepted or rejected on its own (``Batch.rejections``);
        ``instruction_id`` is idempotent across batches. With ``atomic``, any rejection rolls
        the whole batch back and raises :class:`AtomicBatchRolledBack` carrying the report.
        A file with a value that does not parse raises ``InputError``; nothing is written.
        """
        settings = self.settings  # read (and check) before anything is written
        if _is_path(instructions):
            path = Path(instructions)  # type: ignore[arg-type]
            return self._settle_file(path, settings, atomic, progress)
        now = self._now()
        rows = _instruction_rows(name, instructions,  # type: ignore[arg-type]
                                 now.astimezone(GBA_TIME).date())
        with tempfile.TemporaryDirectory(prefix="wmc-batch-") as tmp:
            path = Path(tmp) / f"{Path(name).name or 'instructions'}.jsonl"
            with path.open("w", encoding="utf-8", newline="\n") as fh:
                for row in rows:
                    # ASCII: a lone surrogate becomes an escape the reader refuses by name,
                    # not a UnicodeEncodeError here.
                    fh.write(json.dumps(row) + "\n")
            try:
                return self._settle_file(path, settings, atomic, progress)
            except InputError as exc:
                raise _renamed(exc, str(path), name) from None

    def _settle_file(self, path: Path, settings: Settings, atomic: bool,
                     progress: Callable[[int], None] | None) -> Batch:
        options = BatchOptions(atomic=atomic, settings=settings, clock=self._clock,
                               progress=progress)
        try:
            report = settle_file(self._engine, path, options)
        except AtomicRollback as exc:
            raise AtomicBatchRolledBack(_batch_of(exc.report), str(exc)) from None
        except CheckpointNotWritten as exc:
            raise CheckpointNotWritten(str(exc), _batch_of(exc.batch)) from exc
        return _batch_of(report)

    def batch(self, batch_id: str) -> Batch:
        """A stored batch's report (as ``wmc settle show``); ``NotFound`` if there is none."""
        with self._engine.connect() as conn:
            return _batch_of(load_report(conn, batch_id))

    def batches(self) -> list[str]:
        """The ids of the stored batches, oldest first."""
        with self._engine.connect() as conn:
            return [str(r["batch_id"]) for r in list_batches(conn)]

    def revert(self, batch_id: str, *, id_prefix: str = "REV-") -> RevertResult:
        """Revert a settled batch whole with one new batch (``wmc settle revert``).

        Every entry of the batch is reversed by ``{id_prefix}{entry id}`` through the same
        reversal rule and poster as :meth:`reverse`, its quota and aggregate usage changes are
        given back exactly, and the reversal batch's positions and obligations are the batch's
        reversed. Idempotent: a second call is ``duplicate`` with the same reversal batch. A
        refusal is a code (``later_batch_depends`` where a reversal would overdraw an account
        or a quota, ...), and then nothing is written. ``NotFound`` for an unknown batch.
        """
        now = self._now()
        floor = self.settings.quota.net_usage_floor_zero
        try:
            outcome = self._write(lambda c: revert_batch(
                c, batch_id, id_prefix=id_prefix, posted_at=now.isoformat(), floor_zero=floor))
        except RevertRefused as refused:
            outcome = refused.outcome
        return RevertResult(outcome.batch_id, outcome.code, outcome.message,
                            None if outcome.reversal is None else _batch_of(outcome.reversal))

    def batch_list(self) -> list[BatchSummary]:
        """Every stored batch: file, counts and state, oldest first (``wmc settle list``)."""
        with self._engine.connect() as conn:
            return [BatchSummary(b.batch_id, b.file_name, b.file_sha256, b.committed_at,
                                 b.instructions, b.accepted, b.rejected, b.duplicates, b.state,
                                 b.reverses, b.reversed_by) for b in batch_summaries(conn)]

    # -- reports --------------------------------------------------------------------------------

    def balance(self, account: str, *, as_of: dt.date | str | None = None) -> Money:
        """``account``'s balance on its normal side (as of a value date if given)."""
        rows = self.balances(account=account, as_of=as_of)
        if not rows:
            raise NotFound(f"account {account!r} does not exist")
        return rows[0].balance

    def balances(
        self,
        *,
        as_of: dt.date | str | None = None,
        bank: str | None = None,
        account: str | None = None,
        hide_zero: bool = False,
        hide_unused_ledger_accounts: bool = False,
    ) -> list[Balance]:
        """Every account's totals (of one bank, or one account), ordered by account code.

        ``as_of`` counts the transfers whose value date is on or before that day.
        ``hide_zero`` leaves out the accounts whose balance is zero;
        ``hide_unused_ledger_accounts`` those the ledger opened itself (FX, transit: see the
        README) that no transfer has moved. An ``account`` asked for by name is never left out.
        """
        day = day_of(as_of, "as_of")
        with self._engine.connect() as conn:
            rows = reports.balances(conn, as_of=day, bank=bank, account=account)
        if account is None:
            if hide_zero:
                rows = [r for r in rows if r.balance != 0]
            if hide_unused_ledger_accounts:
                rows = [r for r in rows if r.debits or r.credits
                        or not opened_by_ledger(r.account)]
        return [_balance_of(r) for r in rows]

    def balances_in(
        self,
        currency: str,
        *,
        at_rate_of: dt.date | str,
        book: str = "default",
        as_of: dt.date | str | None = None,
        bank: str | None = None,
        account: str | None = None,
    ) -> list[TranslatedBalance]:
        """:meth:`balances`, each also in ``currency`` at ``book``'s closing mid on
        ``at_rate_of`` (``wmc report balances --in R --at-rate-of D``): exact arithmetic,
        rounded once per account with the book's rounding setting. A currency without a rate
        (or with a stale one) raises ``NoRate`` (``StaleRate``) naming the pair; nothing else
        is shown then.
        """
        day = day_of(at_rate_of, "at_rate_of")
        if day is None:
            raise InputError("at_rate_of: expected a date (YYYY-MM-DD)")
        as_of_day = day_of(as_of, "as_of")
        fx = self.settings.fx
        rounding = Rounding(fx.rounding_for(book))
        with self._engine.connect() as conn:
            rows = reports.balances(conn, as_of=as_of_day, bank=bank, account=account)
            view = RateBook.load(conn, [book]).view(
                book, staleness_business_days=fx.staleness_for(book),
                next_business_day=self._calendar("HK").next_business_day,
                peg=(fx.peg_bid, fx.peg_ask))
            translated = translate_balances(rows, into=currency, rate_date=day, view=view,
                                            rounding=rounding)
        return [TranslatedBalance(_balance_of(t.row), t.rate, to_money(t.amount, t.into))
                for t in translated]

    def trial_balance(self, *, as_of: dt.date | str | None = None) -> TrialBalance:
        """Debits and credits per currency (always equal) and per account."""
        day = day_of(as_of, "as_of")
        with self._engine.connect() as conn:
            tb = reports.trial_balance(conn, as_of=day)
        return TrialBalance(
            tuple(CurrencyTotal(c.currency, to_money(c.debits, c.currency),
                                to_money(c.credits, c.currency)) for c in tb.currencies),
            tuple(_balance_of(r) for r in tb.accounts),
        )

    def entries(
        self,
        *,
        account: str | None = None,
        bank: str | None = None,
        batch: str | None = None,
        entry_id: str | None = None,
        reference: str | None = None,
        kind: str | None = None,
        date_from: dt.date | str | None = None,
        date_to: dt.date | str | None = None,
        min_amount: Money | Decimal | str | None = None,
        max_amount: Money | Decimal | str | None = None,
        limit: int = 100,
        after: str | None = None,
        order: str = "newest",
    ) -> JournalPage:
        """A page of posted entries, whole, newest (or ``order="oldest"``) first (``wmc entries``).

        ``account``, ``bank``, ``reference``, the value dates ``date_from``..``date_to`` and the
        amounts select entries with at least one transfer meeting all of them; ``batch``,
        ``entry_id`` and ``kind`` select on the entry. A ``Money`` bound counts transfers in
        its currency only; a ``Decimal`` or text bound (major units) every currency's. Pass the
        page's ``next_after`` as ``after`` for the next page; an unknown ``after`` is
        ``NotFound``. ``limit`` is 1 to 10,000.
        """
        if order not in ("newest", "oldest"):
            raise InputError(f"order: expected 'newest' or 'oldest', got {order!r}")
        day_from = day_of(date_from, "date_from")
        day_to = day_of(date_to, "date_to")
        low = _amount_bound(min_amount, "min_amount")
        high = _amount_bound(max_amount, "max_amount")
        with self._engine.connect() as conn:
            page = journal.entries(
                conn, account=account, bank=bank, batch=batch, entry_id=entry_id,
                reference=reference, kind=kind, date_from=day_from, date_to=day_to,
                min_amount=low, max_amount=high, limit=limit, after=after,
                order=journal.Order(order))
        return JournalPage(tuple(_journal_entry_of(e) for e in page.entries), page.next_after)

    def register(
        self,
        account: str,
        *,
        date_from: dt.date | str | None = None,
        date_to: dt.date | str | None = None,
    ) -> Register:
        """``account``'s transfers by value date with running balances (``wmc register``).

        ``opening`` is the balance before ``date_from``; ``closing`` equals
        :meth:`balance` as of ``date_to`` (without it, the current balance).
        """
        day_from = day_of(date_from, "date_from")
        day_to = day_of(date_to, "date_to")
        with self._engine.connect() as conn:
            reg = journal.register(conn, account, date_from=day_from, date_to=day_to)
        c = reg.currency
        return Register(
            reg.account, reg.bank_id, c, reg.type, reg.date_from, reg.date_to,
            to_money(reg.opening, c), to_money(reg.closing, c),
            tuple(RegisterLine(x.value_date, x.entry_id, x.kind, x.transfer_id, x.counterparty,
                               to_money(x.debit, c), to_money(x.credit, c),
                               to_money(x.balance, c), x.reference) for x in reg.lines),
        )

    def quota(self, *, investor: str | None = None) -> QuotaReport:
        """Net quota usage per investor and channel, and the aggregate per direction (CNY)."""
        settings = self.settings
        with self._engine.connect() as conn:
            data = quota_report(conn, settings, investor=investor)
        return QuotaReport.from_dict(data)

    def reconcile(
        self,
        statement: str | os.PathLike[str] | bytes,
        *,
        account: str,
        name: str | None = None,
        force: bool = False,
    ) -> Reconciliation:
        """Match a camt.053 or MT940 statement (a path, or the file's bytes) against ledger
        account ``account``, as ``wmc reconcile``. ``name`` names bytes in messages.

        A statement of another account (its ``Acct/Id`` / ``:25:`` neither ``account`` nor
        mapped to it by the ``reconciliation.statement_accounts`` setting) raises
        ``InputError`` naming both, unless ``force``."""
        from settlement.reconcile import reconcile_statement  # the statement readers

        source: str | bytes = statement if isinstance(statement, bytes) else os.fspath(statement)
        settings = self.settings.reconciliation
        with self._engine.connect() as conn, conn.begin():
            rec = reconcile_statement(conn, source, account=account, settings=settings,
                                      name=name, force=force,
                                      currencies=self.settings.ledger.currencies)
        return _reconciliation_of(rec)

    def reconcile_all(
        self,
        statement: str | os.PathLike[str] | bytes,
        *,
        account: str | None = None,
        name: str | None = None,
    ) -> list[Reconciliation]:
        """Reconcile every statement of a file in turn, as ``wmc reconcile --all``: against
        ``account`` when given, else each against the ledger account its identifier names."""
        from settlement.reconcile import reconcile_statements  # the statement readers

        source: str | bytes = statement if isinstance(statement, bytes) else os.fspath(statement)
        settings = self.settings.reconciliation
        with self._engine.connect() as conn, conn.begin():
            recs = reconcile_statements(conn, source, account=account, settings=settings,
                                        name=name, currencies=self.settings.ledger.currencies)
        return [_reconciliation_of(rec) for rec in recs]

    # -- signed checkpoints and inclusion proofs --------------------------------------------------

    def checkpoint(self, key: str | os.PathLike[str], *,
                   out: str | os.PathLike[str] | None = None) -> Checkpoint:
        """Sign the ledger's current state with the Ed25519 private key in the PEM file ``key``
        (``wmc audit checkpoint``), and write it to ``out`` if given.

        Refuses (``IntegrityError``) when the head's roots are not those of the stored leaves:
        signing a head that contradicts the rows would anchor the contradiction.
        """
        private = ledger_checkpoint.load_private_key(key)
        with self._engine.connect() as conn, conn.begin():
            state, rows = tree_state(conn), recompute_state(conn)
        said = (state.entries_size, state.entries_root, state.events_size, state.events_root,
                state.root)
        found = (rows.entries_size, rows.entries_root, rows.events_size, rows.events_root,
                 rows.root)
        if said != found:
            raise IntegrityError(
                f"the ledger head ({state.entries_size} entries, {state.events_size} events, "
                f"root {state.root.hex()}) does not match its rows ({rows.entries_size} "
                f"entries, {rows.events_size} events, root {rows.root.hex()}): no checkpoint "
                "is signed; run `wmc audit verify`")
        cp = ledger_checkpoint.make_checkpoint(state, private, at=self._now())
        if out is not None:
            ledger_checkpoint.write_checkpoint(cp, out)
        return cp

    def verify_checkpoint(self, checkpoint: str | os.PathLike[str],
                          public_key: str | os.PathLike[str]) -> list[str]:
        """What keeps the ledger from extending the signed checkpoint in the file
        ``checkpoint`` (``wmc audit verify --checkpoint``): a rewritten, reordered or truncated
        history, another ledger; empty when it extends it. A checkpoint whose signature does
        not verify with ``public_key`` raises ``IntegrityError``; a malformed one ``InputError``.
        """
        cp = ledger_checkpoint.read_checkpoint(
            checkpoint, ledger_checkpoint.load_public_key(public_key))
        with self._engine.connect() as conn, conn.begin():
            return ledger_checkpoint.check_extends(conn, cp)

    def prove(self, entry_id: str, checkpoint: str | os.PathLike[str], *,
              public_key: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """An inclusion proof of entry ``entry_id`` in the signed checkpoint in the file
        ``checkpoint`` (``wmc audit prove``), as JSON-ready data; :func:`check_proof` checks it
        with no database. The checkpoint's signature is checked too if ``public_key`` is given.
        Refuses an entry posted after the checkpoint, and a ledger that does not extend it."""
        key = None if public_key is None else ledger_checkpoint.load_public_key(public_key)
        cp = ledger_checkpoint.read_checkpoint(checkpoint, key)
        with self._engine.connect() as conn, conn.begin():
            return ledger_checkpoint.prove(conn, entry_id, cp)

    def audit(self) -> AuditResult:
        """Recompute both Merkle trees and every invariant (``wmc audit verify``)."""
        settings = self.settings
        with self._engine.connect() as conn, conn.begin():
            return ledger_audit.verify(conn, extra=[quota_check(settings)])


def keygen(directory: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair for checkpoints into ``directory`` (``wmc audit keygen``):
    ``wmc-checkpoint.key`` (PEM, mode 0600) and ``wmc-checkpoint.pub``; never overwrites."""
    return ledger_checkpoint.keygen(directory)


def check_proof(proof: str | os.PathLike[str] | Mapping[str, Any],
                public_key: str | os.PathLike[str]) -> ProofCheck:
    """Check an inclusion proof (a file :meth:`Ledger.prove` wrote, or its data) with the
    checkpoint key's public half, with no database (``wmc audit check-proof``): the
    checkpoint's signature, the record's leaf, the path to the signed root. Problems are in
    ``ProofCheck.problems``; a file that is not JSON raises ``InputError``."""
    key = ledger_checkpoint.load_public_key(public_key)
    if isinstance(proof, Mapping):
        return ledger_checkpoint.check_proof(proof, key)
    try:
        data = json.loads(Path(proof).read_bytes())
    except OSError as exc:
        raise InputError(f"{proof}: cannot read the proof: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{proof}: not JSON: {exc}") from None
    return ledger_checkpoint.check_proof(data, key, source=str(proof))


# -- conversions at the boundary -----------------------------------------------------------------


def _parse_rows(kind: str, rows: Iterable[Mapping[str, Any]],
                schema: Schema) -> list[dict[str, Any]]:
    """Rows of Python values through the file's field parsers: the same checks, named KIND:N."""
    problems: list[Problem] = []
    out: list[dict[str, Any]] = []
    known = schema.names
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            problems.append(Problem(kind, i, "row", "a mapping of field name to value"))
            continue
        ok = True
        for key in row:
            if key not in known:
                problems.append(Problem(kind, i, str(key), "no such field (unknown field)"))
                ok = False
        parsed: dict[str, Any] = {}
        for f in schema.fields:
            value = row.get(f.name)
            if value is None or (isinstance(value, str) and not value.strip()):
                if f.required:
                    problems.append(Problem(kind, i, f.name, "a value (required)"))
                    ok = False
                parsed[f.name] = f.default
                continue
            if isinstance(value, bool) and f.parse is parse_bool:
                parsed[f.name] = value
                continue
            if not isinstance(value, str):
                problems.append(Problem(kind, i, f.name,
                                        f"text, got {type(value).__name__} {value!r}"))
                ok = False
                continue
            try:
                parsed[f.name] = f.parse(clean_text(value, f.limit))
            except ValueError as exc:
                problems.append(Problem(kind, i, f.name, str(exc)))
                ok = False
        if ok:
            out.append(parsed)
    if problems:
        raise InputError(problems)
    return out


def _entry_spec(entry: Entry, today: dt.date, i: int = 1) -> EntrySpec:
    if not isinstance(entry, Entry):
        raise InputError(f"expected a wmc_ledger.Entry, got {type(entry).__name__}")
    problems: list[Problem] = []

    def text(value: str, field: str, limit: int) -> str:
        # The rule of every reader's text fields (ledger.files.clean_text), named entries:N.
        try:
            return clean_text(value, limit)
        except ValueError as exc:
            problems.append(Problem("entries", i, field, str(exc)))
            return value

    entry_id = text(entry.id, "id", ENTRY_ID_LENGTH)
    transfers = []
    for t in entry.transfers:
        minor = minor_units(t.amount)
        code = t.amount.currency.code
        reference = None if t.reference is None else text(t.reference, "reference",
                                                          ENTRY_ID_LENGTH)
        transfers.append(TransferSpec(text(t.debit, "debit", ACCOUNT_LENGTH),
                                      text(t.credit, "credit", ACCOUNT_LENGTH), minor, code,
                                      t.value_date, reference))
    if problems:
        raise InputError(problems)
    return EntrySpec(entry_id, entry.kind, entry.value_date or today, tuple(transfers),
                     meta=dict(entry.meta) if entry.meta else None, reverses=entry.reverses)


def _rate(rate: Decimal | str | None) -> Decimal | None:
    if rate is None or isinstance(rate, Decimal):
        return rate
    if not isinstance(rate, str):  # a float is never a rate: it is already rounded
        raise InputError(f"rate: expected a Decimal or a decimal string like '1.0584', "
                         f"got {type(rate).__name__} {rate!r}")
    try:
        return Decimal(rate)
    except InvalidOperation:
        raise InputError(f"rate: expected a decimal rate like 1.0584, got {rate!r}") from None


def _field_text(value: Any) -> str:
    """An instruction field's value as file text; raises ValueError saying what was expected."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return aware(value, "submitted_at").isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        raise ValueError("text or Decimal, never a float (floats are not exact)")
    raise ValueError(f"text, got {type(value).__name__} {value!r}")


def _instruction_rows(
    name: str, items: Iterable[Instruction | Mapping[str, Any]], today: dt.date
) -> list[dict[str, str]]:
    problems: list[Problem] = []
    rows: list[dict[str, str]] = []
    for i, item in enumerate(items, start=1):
        if isinstance(item, Instruction):
            raw: dict[str, Any] = dict(item.to_row(today))
        elif isinstance(item, Mapping):
            raw = {str(k): v for k, v in item.items() if v is not None}
            raw.setdefault("value_date", today)
        else:
            problems.append(Problem(name, i, "instruction",
                                    "a wmc_ledger.Instruction or a mapping of field -> value"))
            continue
        amount = raw.get("amount")
        if isinstance(amount, Money):
            code = amount.currency.code
            if raw.get("currency", code) != code:
                problems.append(Problem(name, i, "currency",
                                        f"the amount's currency {code}, got {raw['currency']!r}"))
                continue
            try:
                raw["amount"] = money_text(amount)
            except ValueError as exc:
                problems.append(Problem(name, i, "amount", str(exc)))
                continue
            raw["currency"] = code
        elif isinstance(amount, int) and not isinstance(amount, bool):
            problems.append(Problem(name, i, "amount",
                                    "Money or decimal text in major units, got an int"))
            continue
        row: dict[str, str] = {}
        ordered = [c for c in INSTRUCTION_COLUMNS if c in raw] + [
            c for c in raw if c not in INSTRUCTION_COLUMNS]
        for key in ordered:
            try:
                row[key] = _field_text(raw[key])
            except ValueError as exc:
                problems.append(Problem(name, i, key, str(exc)))
        rows.append(row)
    if problems:
        raise InputError(problems)
    return rows


def _renamed(exc: InputError, path: str, name: str) -> InputError:
    if exc.problems:
        return InputError([
            Problem(name if p.file == path else p.file, p.line, p.field, p.expected)
            for p in exc.problems
        ])
    return InputError(str(exc).replace(path, name))


def _amount_bound(value: Money | Decimal | str | None, what: str) -> journal.AmountBound | None:
    if value is None:
        return None
    if isinstance(value, Money):
        return journal.AmountBound.of(minor_units(value), value.currency.code)
    if isinstance(value, Decimal):
        return journal.AmountBound.major(format(value, "f"))
    if isinstance(value, str):
        try:
            return journal.AmountBound.major(value.strip())
        except InputError:
            raise InputError(f"{what}: expected a decimal amount like 100.00, "
                             f"got {value!r}") from None
    raise InputError(f"{what}: expected Money, a Decimal or decimal text, "
                     f"got {type(value).__name__} {value!r}")


def _journal_entry_of(e: journal.JournalEntry) -> JournalEntry:
    return JournalEntry(
        e.seq, e.id, e.kind, e.value_date, e.batch_id, e.reverses, e.posted_at,
        tuple(JournalTransfer(t.id, t.debit, t.credit, to_money(t.amount, t.currency),
                              t.value_date, t.reference) for t in e.transfers),
    )


def _balance_of(r: reports.BalanceRow) -> Balance:
    c = r.currency
    return Balance(r.account, r.bank_id, c, r.type, to_money(r.debits, c),
                   to_money(r.credits, c), to_money(r.balance, c))


def _batch_of(report: BatchReport) -> Batch:
    return Batch(
        batch_id=report.batch_id,
        file_sha256=report.file_sha256,
        instructions=report.instructions,
        accepted=report.accepted,
        rejected=report.rejected,
        duplicates=report.duplicates,
        rejections=tuple(Rejection(r.instruction_id, r.line, r.code, r.message)
                         for r in report.rejections),
        positions=tuple(Position(p.bank_id, to_money(p.net, p.currency))
                        for p in report.positions),
        obligations=tuple(Obligation(o.payer, o.payee, to_money(o.amount, o.currency),
                                     o.value_date) for o in report.obligations),
        gross_payments=tuple(GrossPayment(g.instruction_id, g.payer, g.payee,
                                          to_money(g.amount, g.currency), g.value_date)
                             for g in report.gross_payments),
        moved_dates=tuple(MovedDate(m.instruction_id, m.market, m.requested, m.value_date,
                                    m.reason) for m in report.moved_dates),
        duplicates_detail=tuple(Duplicate(d.instruction_id, d.line, d.of_status, d.of_batch,
                                          d.of_code) for d in report.duplicates_detail),
        committed=report.committed,
    )


def _reconciliation_of(rec: AccountReconciliation) -> Reconciliation:
    c = rec.currency
    return Reconciliation(
        account=rec.account,
        currency=c,
        matched=rec.matched,
        breaks=tuple(
            Break(b.type, to_money(b.amount, b.currency), b.statement_ref, b.ledger_ref,
                  b.value_date, b.end_to_end_id, b.ledger_entry_id, b.detail)
            for b in rec.breaks
        ),
        ledger_opening=to_money(rec.ledger_opening, c),
        statement_opening=to_money(rec.statement_opening, c),
        ledger_closing=to_money(rec.ledger_closing, c),
        statement_closing=to_money(rec.statement_closing, c),
        statement_account=rec.statement_account,
        period_start=rec.period_start,
        period_end=rec.period_end,
        statement_format=rec.statement_format,
        statement_id=rec.statement_id,
        warnings=rec.warnings,
    )
