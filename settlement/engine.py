"""The batch settlement engine: a day's instruction file in, a committed batch and its report out.

Guarantees:
- **All or nothing.** A batch runs in one database transaction: a crash, a kill or an error at
  any point leaves none of it, and running the file again completes it. A file with any value
  that does not parse is refused whole (:class:`~ledger.errors.InputError`, every problem listed);
  with ``atomic=True`` any rejection rolls the batch back (:class:`BatchRolledBack`, carrying the
  report).
- **Idempotent.** ``instruction_id`` is the entry id: the same id with the same content (its
  digest) is a ``duplicate``, with other content ``exists_with_different_content``; the same file
  twice posts nothing the second time.
- **In file order.** Each instruction is judged against the state left by the accepted ones
  before it (balances, quotas), so the result does not depend on how the file is chunked.
- **Streaming, set-based.** The file is read in chunks; per chunk the existing ids and the
  accounts are fetched in a few queries; rows are written in bulk by the ledger's poster; balances
  and quota usage are written once per account / investor per batch. Memory stays flat.
- **Anchored.** With the settings ``audit.checkpoint_dir`` and ``audit.checkpoint_key``, a signed
  checkpoint (``ledger.checkpoint``) is written after the commit; the directory and key are
  checked before the batch (a bad one refuses it, nothing written), and a write that fails after
  the commit raises :class:`~ledger.checkpoint.CheckpointNotWritten` carrying the report: the
  batch stands, and it is never silent.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import islice
from operator import attrgetter
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, text

from fx.book import BookRates, FastRate, RateBook
from fx.booking import (
    CONVERSION_ROLES,
    ROLES,
    conversion_legs,
    fx_account,
    open_fx_accounts,
    rate_meta,
)
from fx.conversion import Rounding
from fx.quotes import NoRate, StaleRate
from ledger.checkpoint import AfterBatch, CheckpointNotWritten
from ledger.db import is_postgres, rows_where_in, transaction
from ledger.errors import BatchRolledBack, InputError, Problem
from ledger.posting import DUPLICATE, AccountState, Lookup, Poster, Prepared, Rejection
from ledger.records import record_batch, recording
from ledger.refdata import ensure_accounts
from settlement.calendars import MARKET_TZ, Calendar, build_calendar, read_day_overrides
from settlement.instructions import Instruction, read_instructions
from settlement.netting import NettingAccumulator
from settlement.report import BatchReport, DuplicateRow, GrossPayment, MovedDate, RejectionRow
from settlement.rules import (
    DEFAULT_PRODUCT_TYPE,
    Link,
    ProductInfo,
    QuotaBook,
    QuotaLimits,
    Scheme,
    investor_eligibility,
)
from settlement.settings import Settings, load_settings

# The library logs through the standard library and installs no handler but a null one: a
# program using it sees nothing unless it configures logging (the ``wmc`` command does).
log = logging.getLogger("wmc.settlement")
logging.getLogger("wmc").addHandler(logging.NullHandler())

# Instructions per chunk, measured best on the 100,000 benchmark day: on SQLite a smaller chunk
# shortens the write left after the last one; on PostgreSQL each chunk costs round trips and a
# COPY of its own.
CHUNK = 5_000
CHUNK_POSTGRES = 10_000
LAST_CHUNK_PIECE = 1_000  # transfer rows
GROSS_KINDS = ("remit", "repatriate")
_ID = attrgetter("instruction_id")
_DEBIT, _CREDIT = attrgetter("debit_account"), attrgetter("credit_account")
# A chunk with its ids, and the lookups started for it: earlier rejections, stored ids, accounts.
_Rejected = dict[str, tuple[str, str, str]]  # id -> (digest, code, batch) of earlier batches
_Ahead = tuple[list[Instruction], list[str], Future[_Rejected], Future[Lookup]]
CURRENCIES = ("MOP", "HKD", "CNY", "USD")


def _as_date(value: Any) -> dt.date | None:
    """A DATE column read with ``text()``: SQLite gives its ISO text, PostgreSQL a date."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def transit_account(bank_id: str, currency: str) -> str:
    """Where a leg waits when the two markets' value dates differ (documented in the README)."""
    return f"{bank_id}:{TRANSIT}:{currency}"


TRANSIT: Final = "TRANSIT"


def opened_by_ledger(code: str) -> bool:
    """Whether ``code`` names an account the ledger opens itself (a bank's FX accounts, see
    :mod:`fx.booking`, and its transit accounts): ``{bank}:{ROLE}:{CUR}``."""
    parts = code.split(":")
    return len(parts) == 3 and (parts[1] in ROLES or parts[1] == TRANSIT)


class AtomicRollback(BatchRolledBack):
    """An ``atomic`` batch had rejections: nothing was written; ``report`` says why."""

    def __init__(self, report: BatchReport) -> None:
        self.report = report
        super().__init__(
            f"--atomic: {report.rejected} instruction(s) rejected, batch rolled back, "
            "nothing written"
        )


@dataclass(frozen=True, slots=True)
class BatchOptions:
    atomic: bool = False
    settings: Settings | None = None
    clock: Callable[[], dt.datetime] | None = None
    progress: Callable[[int], None] | None = None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _chunks(items: Iterable[Instruction],
            size: int) -> Iterator[tuple[list[Instruction], list[Instruction]]]:
    """``items`` in lists of ``size``, each with the one that follows (empty after the last)."""
    it = iter(items)
    chunk = list(islice(it, size))
    while chunk:
        following = list(islice(it, size))
        yield chunk, following
        chunk = following


_gc_lock = threading.Lock()
_gc_batches = 0
_gc_saved = gc.get_threshold()


@contextmanager
def fewer_collections(young: int = 50_000) -> Iterator[None]:
    """Run the cyclic garbage collector less often while batches run, then as before.

    A batch allocates millions of short-lived objects (instructions, rows, keys) that reference
    counting frees; with the default threshold (a young collection every 700 allocations) the
    collector spends about a tenth of a batch finding nothing to collect. The setting is the
    process's: the first batch to start raises it, the last to end puts it back.
    """
    global _gc_batches, _gc_saved
    with _gc_lock:
        if _gc_batches == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(young, _gc_saved[0]), *_gc_saved[1:])
        _gc_batches += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_batches -= 1
            if _gc_batches == 0:
                gc.set_threshold(*_gc_saved)


def settle_file(
    engine: Engine, path: str | Path, options: BatchOptions | None = None
) -> BatchReport:
    """Settle the instruction file at ``path`` in one transaction; see the module docstring."""
    options = options or BatchOptions()
    path = Path(path)
    if not path.is_file():
        raise InputError([Problem(str(path), 0, "file", "an existing, readable file")])
    sha = file_sha256(path)
    settings = options.settings or load_settings(None)
    after = AfterBatch.from_settings(settings.audit.checkpoint_dir, settings.audit.checkpoint_key)
    t0 = time.perf_counter()
    batch: list[_Batch] = []

    def work(conn: Connection) -> BatchReport:
        batch[:] = [_Batch(conn, path, sha, settings, options)]
        # What the batch records in the events log (accounts it opens, itself) is dated as
        # its entries are.
        with recording(at=dt.datetime.fromisoformat(batch[0].posted_at)):
            return batch[0].run()

    with fewer_collections():
        report = transaction(engine, work)
    seconds = time.perf_counter() - t0
    # Every remittance stays in the ledger; the report reads them back only when asked, so a
    # batch of a million instructions does not hold a quarter of a million payments in memory.
    report = replace(report, gross_payments=StoredGrossPayments(
        engine, batch[0].poster.first_seq, batch[0].poster.seq))
    log.info("settlement.batch_committed", extra={"fields": {
        "batch_id": report.batch_id, "file": str(path), "instructions": report.instructions,
        "accepted": report.accepted, "rejected": report.rejected,
        "duplicates": report.duplicates, "seconds": round(seconds, 3),
        "instructions_per_second": round(report.instructions / seconds) if seconds else None,
    }})
    if after is not None:
        write_checkpoint_after(engine, after, report, options)
    return report


def write_checkpoint_after(engine: Engine, after: AfterBatch, report: BatchReport,
                           options: BatchOptions) -> None:
    """The signed checkpoint after a committed batch (settings ``audit.checkpoint_dir``). The
    batch stands whatever happens here, so a failure is logged and raised with its report."""
    now = (options.clock or (lambda: dt.datetime.now(MARKET_TZ)))()
    try:
        with engine.connect() as conn, conn.begin():
            path = after.write(conn, now)
    except Exception as exc:  # the batch is committed: whatever failed, say so with its report
        log.error("audit.checkpoint_not_written", extra={"fields": {
            "batch_id": report.batch_id, "directory": str(after.directory), "error": str(exc)}})
        raise CheckpointNotWritten(
            f"batch {report.batch_id} is committed, but its checkpoint was not written into "
            f"{after.directory}: {exc} (settle the same file again to write it)", report,
        ) from exc
    log.info("audit.checkpoint_written", extra={"fields": {
        "batch_id": report.batch_id, "path": str(path)}})


class _Batch:
    """One run of one file inside one transaction."""

    def __init__(self, conn: Connection, path: Path, sha: str, settings: Settings,
                 options: BatchOptions) -> None:
        self.conn = conn
        self.path = path
        self.sha = sha
        self.settings = settings
        self.options = options
        self.now = now = (options.clock or (lambda: dt.datetime.now(MARKET_TZ)))()
        self.posted_at = now.isoformat()
        self.problems: list[Problem] = []
        self.rejections: list[RejectionRow] = []
        self.moved: list[MovedDate] = []
        self._moving: list[MovedDate] = []  # the instruction being judged
        self.netting = NettingAccumulator()
        # Rejected ids: those of earlier batches (fetched per chunk) and this batch's own.
        self.rejected_before: _Rejected = {}
        self.rejected_now: dict[str, tuple[str, str]] = {}  # id -> digest, code
        # Instructions counted as duplicates: of rejections, complete; of posted entries, the
        # batch they were posted in is found after the run (_duplicates_found).
        self.duplicate_rows: list[DuplicateRow] = []
        self.count = self.accepted = self.duplicates = 0
        self._maybe_seen: set[str] = set()  # ids of the chunk that may have been seen before
        # The chunk that follows, with its lookups started (see _begin_chunk).
        self._ahead: _Ahead | None = None

    # -- set-up -------------------------------------------------------------------------------

    def _load_reference(self) -> None:
        conn = self.conn
        self.markets = {r[0]: r[1] for r in conn.execute(text("SELECT bank_id, market FROM banks"))}
        overrides = (read_day_overrides(self.settings.calendar.overrides)
                     if self.settings.calendar.overrides else ())
        self.calendars: dict[str, Calendar] = {
            m: build_calendar(m, overrides) for m in ("CN", "HK", "MO")
        }
        self.scheme = Scheme(eligibility=self.settings.eligibility.rules)
        for r in conn.execute(text(
            "SELECT investor_id, channel, direction, remittance_account, investment_account, "
            "eligible_from, eligible_until FROM investors"
        )):
            self.scheme.add_link(Link(r[0], r[1], r[2], r[3], r[4], _as_date(r[5]),
                                      _as_date(r[6])))
        for r in conn.execute(text(
            "SELECT p.product, p.currency, p.risk, p.direction, p.account, p.product_type, "
            "p.category, p.complex, p.domicile, p.authorisation, b.market FROM products p "
            "JOIN accounts a ON a.code = p.account JOIN banks b ON b.bank_id = a.bank_id"
        )):
            self.scheme.products[r[0]] = ProductInfo(
                r[0], r[1], r[2], r[3], r[4], r[5] or DEFAULT_PRODUCT_TYPE, r[6],
                None if r[7] is None else bool(r[7]), r[8], r[9], r[10])
        usage = {
            (r[0], r[1]): [int(r[2]), int(r[3]), int(r[4])]
            for r in conn.execute(text(
                "SELECT investor_id, channel, remitted_out, remitted_back, used FROM quota_usage"
            ))
        }
        channels: dict[str, int] = {}
        for inv, links in self.scheme.links.items():
            channels[inv] = len(links)
        aggregate = {r[0]: int(r[1]) for r in conn.execute(
            text("SELECT direction, used FROM aggregate_quota"))}
        # What the batch changes in each row is stored with it: a revert gives back exactly that.
        self._usage_before = {key: tuple(row) for key, row in usage.items()}
        self._aggregate_before = dict(aggregate)
        q = self.settings.quota
        self.quota = QuotaBook(
            QuotaLimits(q.individual, q.per_channel_when_two_channels, q.aggregate_per_direction,
                        q.net_usage_floor_zero),
            usage, channels, aggregate,
        )
        self.rates = RateBook.load(conn)
        banks = sorted(self.markets)
        open_fx_accounts(conn, banks, CURRENCIES)
        ensure_accounts(conn, [
            {"account": transit_account(b, c), "bank_id": b, "type": "asset", "currency": c,
             "name": "value-date transit", "allow_overdraft": True}
            for b in banks for c in CURRENCIES
        ])
        # Loaded now, once, rather than one by one in the middle of a chunk.
        self.poster.load_accounts(
            [transit_account(b, c) for b in banks for c in CURRENCIES]
            + [fx_account(b, role, c) for b in banks for role in CONVERSION_ROLES
               for c in CURRENCIES]
            + sorted(self.scheme.investment_accounts)
        )
        self._leg_cache: dict[tuple[str, dt.date], dt.date] = {}
        self._views: dict[tuple[str, str], BookRates] = {}
        self._rounding: dict[str, Rounding] = {}
        self._cutoff_cache: dict[tuple[str, dt.date, bool, str], dt.date] = {}
        self._cut_at: dict[tuple[dt.date, str], dt.datetime] = {}

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> BatchReport:
        conn = self.conn
        t0 = time.perf_counter()
        with Poster(conn, posted_at=self.posted_at) as poster:
            self.poster = poster
            n = conn.execute(text("SELECT count(*) FROM batches")).scalar_one()
            self.batch_id = poster.batch_id = f"B{int(n) + 1:08d}"
            self._load_reference()
            progress = self.options.progress
            size = CHUNK_POSTGRES if is_postgres(conn) else CHUNK
            read = read_instructions(self.path, self.problems, now=self.now,
                                     window_days=self.settings.input.value_date_window_days)
            for chunk, following in _chunks(read, size):
                self.count += len(chunk)
                if not following:
                    # What is left to write after the last instruction is written in the
                    # caller's thread: keep it short by writing the last chunk in pieces.
                    poster.flush_every = LAST_CHUNK_PIECE
                if not self.problems:  # a refused file: keep reading only to list every problem
                    self._begin_chunk(chunk, following)
                    for ins in chunk:
                        self._settle(ins)
                if progress is not None:
                    progress(len(chunk))
            if self.problems:
                raise InputError(self.problems)
            poster.close()
        self._duplicates_found()
        self._write_quota()
        report = self._report(time.perf_counter() - t0)
        if self.options.atomic and self.rejections:
            # Rolled back: the report must carry its gross payments before they are gone.
            raise AtomicRollback(replace(report, committed=False, gross_payments=tuple(
                gross_payments(self.conn, self.poster.first_seq, self.poster.seq))))
        self._store(report)
        return report

    def _select_rejected(self, ids: list[str]) -> _Rejected:
        """Of ``ids``, those rejected by earlier batches: id -> (digest, code, batch)."""
        return {r[0]: (r[1], r[2], r[3]) for r in rows_where_in(
            self.conn, "rejected_instructions", "instruction_id, digest, code, batch_id",
            "instruction_id", ids)}

    def _reject(self, ins: Instruction, code: str, message: str, *, first: bool = True) -> None:
        self.rejections.append(RejectionRow(ins.instruction_id, ins.line, code, message))
        if first:
            self.rejected_now[ins.instruction_id] = (ins.digest, code)

    def _begin_chunk(self, chunk: list[Instruction], following: list[Instruction]) -> None:
        """Fetch what the chunk's instructions need; name the ids that may be seen before;
        start the lookups for the chunk that follows, to run behind the writes while this one
        is judged (see Poster.lookup: rejections of earlier batches do not change either)."""
        poster = self.poster
        ahead, self._ahead = self._ahead, None
        if ahead is None or ahead[0] is not chunk:  # the first chunk
            ahead = self._look_up(chunk)
        _, ids, rejected_ahead, looked_up_ahead = ahead
        rejected, looked_up = rejected_ahead.result(), looked_up_ahead.result()
        self.rejected_before = rejected
        poster.begin_chunk(looked_up)
        # Most ids were never seen before and come once: only the others are looked up one by
        # one (see _judged_before).
        self._maybe_seen = poster.maybe_taken(ids)
        self._maybe_seen.update(rejected)
        self._maybe_seen.update(self.rejected_now.keys() & ids)
        if following:
            self._ahead = self._look_up(following)

    def _look_up(self, chunk: list[Instruction]) -> _Ahead:
        """Start the lookups of ``chunk`` behind the writes in flight (Poster.behind)."""
        poster = self.poster
        ids = list(map(_ID, chunk))
        codes = {*map(_DEBIT, chunk), *map(_CREDIT, chunk)}
        return (chunk, ids, poster.behind(lambda: self._select_rejected(ids)),
                poster.lookup(ids, codes))

    def _judged_before(self, ins: Instruction) -> bool:
        """Count ``ins`` as a duplicate or reject it if its id was posted or rejected before
        (in an earlier batch or earlier in this one); False if it is new."""
        iid = ins.instruction_id
        dup = self.poster.check_duplicate(iid, ins.digest)
        if dup is None:
            now = self.rejected_now.get(iid)
            earlier = (*now, self.batch_id) if now else self.rejected_before.get(iid)
            if earlier is None:
                return False
            if earlier[0] == ins.digest:
                # Judged before: its rejection stands (the README's re-sending policy).
                self.duplicates += 1
                self.duplicate_rows.append(
                    DuplicateRow(iid, ins.line, "rejected", earlier[2], earlier[1]))
            else:
                self._reject(ins, "exists_with_different_content",
                             f"instruction {iid!r} was judged before with other content "
                             f"(rejected: {earlier[1]})", first=False)
        elif dup.code == DUPLICATE:
            self.duplicates += 1
            self.duplicate_rows.append(DuplicateRow(iid, ins.line, "posted", None))
        else:
            self._reject(ins, dup.code, dup.message, first=False)
        return True

    def _settle(self, ins: Instruction) -> None:
        poster = self.poster
        iid = ins.instruction_id
        if self._moving:
            self._moving.clear()
        if iid in self._maybe_seen and self._judged_before(ins):
            return
        accounts = poster.accounts  # loaded for the chunk by begin_chunk
        debit = accounts.get(ins.debit_account) or poster.account(ins.debit_account)
        credit = accounts.get(ins.credit_account) or poster.account(ins.credit_account)
        if debit is None or credit is None:
            missing = ins.debit_account if debit is None else ins.credit_account
            return self._reject(ins, "unknown_account", f"account {missing!r} does not exist")
        if debit is credit:
            return self._reject(ins, "accounts_must_be_different",
                                "debit and credit are one account")
        kind = ins.kind
        link: Link | None = None
        if kind in GROSS_KINDS:
            if ins.currency != "CNY":
                return self._reject(ins, "not_rmb",
                                    f"cross-border legs are in RMB (CNY), got {ins.currency}")
            found = self.scheme.pair(ins.investor_id, debit.code, credit.code,
                                     outbound=kind == "remit")
            if isinstance(found, tuple):
                return self._reject(ins, *found)
            # Money may always come home; only new money out needs an eligible investor.
            if kind == "remit" and (ineligible := investor_eligibility(found, ins.value_date)):
                return self._reject(ins, *ineligible)
            link = found
        elif kind == "transfer":
            investment = self.scheme.investment_accounts
            if debit.code in investment or credit.code in investment:
                acc = debit if debit.code in investment else credit
                return self._reject(
                    ins, "closed_loop_violation",
                    f"{acc.code} is an investment account: principal moves only by remit, "
                    "repatriate, subscribe, redeem, convert or fee")
        elif kind == "fee":
            if credit.type != "income":
                return self._reject(ins, "fee_not_to_income",
                                    f"a fee is paid to an income account; {credit.code} is "
                                    f"{credit.type}")
        elif kind in ("subscribe", "redeem"):
            not_eligible = self._check_product(ins, debit, credit)
            if not_eligible is not None:
                return self._reject(ins, *not_eligible)
        prepared: Prepared | None = None
        rejection: Rejection | None
        judged: Prepared | Rejection | None
        if kind == "convert":
            judged = self._conversion(ins, debit, credit)
            settle_date = ins.value_date if isinstance(judged, Rejection) else judged.value_date
        else:
            d_market, c_market = self.markets[debit.bank_id], self.markets[credit.bank_id]
            settle_date = d_date = self._leg_date(ins, d_market)
            c_date = d_date if c_market == d_market else self._leg_date(ins, c_market)
            if c_date == d_date:
                judged = None
            else:
                judged = self._split_entry(ins, debit, d_date, c_date)
                settle_date = max(d_date, c_date)
        if judged is None:  # one transfer, one value date: the fast path
            rejection = poster.check_transfer(debit, credit, ins.amount, ins.currency)
        elif isinstance(judged, Rejection):
            rejection = judged
        else:
            rejection, prepared = None, judged
        if rejection is not None:
            return self._reject(ins, rejection.code, rejection.message)
        if link is not None:  # remit or repatriate: the quota counts it
            if kind == "remit":
                over = self.quota.check_remit(link, ins.amount)
                if over is not None:
                    return self._reject(ins, *over)
                self.quota.remit(link, ins.amount)
            else:
                self.quota.repatriate(link, ins.amount)
        if prepared is not None:
            poster.apply(prepared)
        else:
            poster.apply_transfer(iid, kind, debit, credit, ins.amount, ins.currency,
                                  settle_date, ins.reference or iid, ins.digest)
        self.accepted += 1
        if self._moving:
            self.moved.extend(self._moving)
        if kind not in GROSS_KINDS and debit.bank_id != credit.bank_id:
            self.netting.add(debit.bank_id, credit.bank_id, ins.currency, ins.amount,
                             settle_date)

    def _check_product(self, ins: Instruction, debit: AccountState,
                       credit: AccountState) -> tuple[str, str] | None:
        subscribing = ins.kind == "subscribe"
        own, product_side = (debit, credit) if subscribing else (credit, debit)
        found = self.scheme.investor_of(ins.investor_id, own.code)
        if isinstance(found, tuple):
            return found
        if subscribing and (ineligible := investor_eligibility(found, ins.value_date)):
            return ineligible
        product = self.scheme.product_for(ins.product, found, ins.currency)
        if isinstance(product, tuple):
            return product
        if product_side.code != product.account:
            return ("closed_loop_violation",
                    f"product {product.product} is paid through {product.account}, "
                    f"not {product_side.code}")
        home = self.poster.account(found.investment_account)
        if home is not None and own.bank_id != home.bank_id:
            return ("closed_loop_violation",
                    f"{own.code} is not at investor {found.investor_id}'s investment bank "
                    f"({home.bank_id})")
        return None

    # -- value dates --------------------------------------------------------------------------

    def _leg_date(self, ins: Instruction, market: str) -> dt.date:
        """The value date of the leg in ``market``: the requested date, moved past a cut-off
        (when submitted on or after the value date, at or after its currency's cut-off) and
        rolled forward over the market's closed days."""
        requested = earliest = ins.value_date
        submitted = ins.submitted_at
        if submitted is not None:
            # Most instructions come in before their value date's cut-off: one comparison.
            cut_at = self._cut_at.get((requested, ins.currency))
            if cut_at is None:
                cut_at = self._cut_at[(requested, ins.currency)] = dt.datetime.combine(
                    requested, self.settings.cutoffs.for_currency(ins.currency), MARKET_TZ)
            if submitted >= cut_at:
                local = submitted.astimezone(MARKET_TZ)
                cutoff = self.settings.cutoffs.for_currency(ins.currency)
                key = (market, local.date(), local.time() >= cutoff, ins.currency)
                cut = self._cutoff_cache.get(key)
                if cut is None:
                    cut = self._cutoff_cache[key] = \
                        self.calendars[market].value_date_for(local, cutoff)
                if cut > requested:
                    earliest = cut
        rolled = self._leg_cache.get((market, earliest))
        if rolled is None:
            rolled = self._leg_cache[(market, earliest)] = \
                self.calendars[market].roll_forward(earliest)
        if rolled != requested:
            reason = "cutoff" if earliest != requested else "holiday"
            # Reported only if the instruction is accepted (see _settle).
            self._moving.append(MovedDate(ins.instruction_id, market, requested, rolled, reason))
        return rolled

    def _split_entry(self, ins: Instruction, debit: AccountState, d_date: dt.date,
                     c_date: dt.date) -> Prepared | Rejection:
        """A market closed on one side moves that side's leg only: the money waits in the
        payer bank's transit account between the two value dates."""
        transit = transit_account(debit.bank_id, ins.currency)
        ref = ins.reference or ins.instruction_id
        amount, currency = ins.amount, ins.currency
        return self.poster.prepare_legs(ins.instruction_id, ins.kind, d_date, (
            (ins.debit_account, transit, amount, currency, d_date, ref),
            (transit, ins.credit_account, amount, currency, c_date, ref),
        ), digest=ins.digest)

    def _conversion(self, ins: Instruction, debit: AccountState,
                    credit: AccountState) -> Prepared | Rejection:
        """The conversion's entry, judged; or why it cannot be made."""
        if debit.currency != ins.currency:
            return Rejection("currency_mismatch", f"convert sells {ins.currency} from "
                                                  f"{debit.code}, which holds {debit.currency}")
        if credit.currency == ins.currency:
            return Rejection("currency_mismatch", "convert buys another currency than "
                             f"{ins.currency}; {credit.code} holds {credit.currency}")
        if debit.bank_id != credit.bank_id:
            return Rejection("convert_across_banks", "a conversion happens inside one bank; "
                                                     f"{debit.code} and {credit.code} are at two")
        market = self.markets[debit.bank_id]
        value_date = self._leg_date(ins, market)
        mode = self._rounding.get(ins.book)
        if mode is None:
            mode = self._rounding[ins.book] = Rounding(self.settings.fx.rounding_for(ins.book))
        buy = credit.currency
        try:
            if ins.rate is not None:
                fast = FastRate.dealt(ins.currency, buy, ins.rate)
            else:
                at = ins.submitted_at or dt.datetime.combine(
                    ins.value_date, self.settings.cutoffs.for_currency(ins.currency), MARKET_TZ)
                fast = self._book_view(ins.book, market).fast_rate(ins.currency, buy, at)
        except StaleRate as exc:
            return Rejection("stale_rate", str(exc))
        except NoRate as exc:
            return Rejection("no_rate", str(exc))
        buy_amount, _mid, spread, rounding = fast.amounts(ins.amount, mode)
        rate = fast.rate
        legs = conversion_legs(debit.code, credit.code, debit.bank_id, ins.currency, buy,
                               sell_amount=ins.amount, buy_amount=buy_amount, spread=spread,
                               rounding=rounding, reference=ins.reference or ins.instruction_id)
        return self.poster.prepare_legs(ins.instruction_id, ins.kind, value_date, legs,
                                        meta=rate_meta(rate, mode), digest=ins.digest)

    def _book_view(self, book: str, market: str) -> BookRates:
        view = self._views.get((book, market))
        if view is None:
            fx = self.settings.fx
            view = self._views[(book, market)] = self.rates.view(
                book, staleness_business_days=fx.staleness_for(book),
                next_business_day=self.calendars[market].next_business_day,
                peg=(fx.peg_bid, fx.peg_ask),
            )
        return view

    # -- the end ------------------------------------------------------------------------------

    def _write_quota(self) -> None:
        quota = self.quota
        pg = is_postgres(self.conn)
        mark = "%s" if pg else "?"
        if quota.touched:
            rows = [(inv, ch, *quota.usage[(inv, ch)]) for inv, ch in sorted(quota.touched)]
            upsert = (
                f"INSERT INTO quota_usage (investor_id, channel, remitted_out, remitted_back, "
                f"used) VALUES ({mark}, {mark}, {mark}, {mark}, {mark}) "
                "ON CONFLICT (investor_id, channel) DO UPDATE SET "
                "remitted_out = excluded.remitted_out, remitted_back = excluded.remitted_back, "
                "used = excluded.used"
            )
            self.conn.exec_driver_sql(upsert, rows)
        if quota.aggregate_touched:
            self.conn.exec_driver_sql(
                f"UPDATE aggregate_quota SET used = {mark} WHERE direction = {mark}",
                [(used, d) for d, used in sorted(quota.aggregate.items())],
            )

    def _duplicates_found(self) -> None:
        """Name the batch each duplicate of a posted entry was posted in (every entry of this
        batch is written by now, so one lookup by id finds them all)."""
        posted = [d.instruction_id for d in self.duplicate_rows if d.of_status == "posted"]
        if not posted:
            return
        batch_of = {r[0]: r[1] for r in rows_where_in(self.conn, "entries", "id, batch_id",
                                                      "id", sorted(set(posted)))}
        self.duplicate_rows = [
            replace(d, of_batch=batch_of.get(d.instruction_id)) if d.of_status == "posted" else d
            for d in self.duplicate_rows
        ]

    def _report(self, seconds: float) -> BatchReport:
        return BatchReport(
            batch_id=self.batch_id, file_name=str(self.path), file_sha256=self.sha,
            instructions=self.count, accepted=self.accepted, rejected=len(self.rejections),
            duplicates=self.duplicates, rejections=tuple(self.rejections),
            positions=tuple(self.netting.positions()),
            obligations=tuple(self.netting.obligations()),
            gross_payments=(),  # read back after the commit, when asked for: see settle_file
            moved_dates=tuple(self.moved), seconds=seconds,
            duplicates_detail=tuple(self.duplicate_rows),
        )

    def _store(self, report: BatchReport) -> None:
        conn = self.conn
        pg = is_postgres(conn)
        m = "%s" if pg else "?"
        conn.exec_driver_sql(
            "INSERT INTO batches (batch_id, file_name, file_sha256, committed_at, instructions, "
            f"accepted, rejected, duplicates, seconds, first_seq, last_seq) VALUES "
            f"({', '.join([m] * 11)})",
            (report.batch_id, report.file_name, report.file_sha256, self.posted_at,
             report.instructions, report.accepted, report.rejected, report.duplicates,
             f"{report.seconds:.3f}", self.poster.first_seq, self.poster.seq),
        )
        if report.rejections:
            conn.exec_driver_sql(
                "INSERT INTO batch_rejections (batch_id, line, instruction_id, code, message) "
                f"VALUES ({m}, {m}, {m}, {m}, {m})",
                [(report.batch_id, r.line, r.instruction_id, r.code, r.message)
                 for r in report.rejections],
            )
        if self.rejected_now:
            conn.exec_driver_sql(
                "INSERT INTO rejected_instructions (instruction_id, digest, batch_id, code) "
                f"VALUES ({m}, {m}, {m}, {m})",
                [(iid, digest, report.batch_id, code)
                 for iid, (digest, code) in self.rejected_now.items()],
            )
        if report.duplicates_detail:
            conn.exec_driver_sql(
                "INSERT INTO batch_duplicates (batch_id, line, instruction_id, of_status, "
                f"of_batch_id, of_code) VALUES ({m}, {m}, {m}, {m}, {m}, {m})",
                [(report.batch_id, d.line, d.instruction_id, d.of_status, d.of_batch, d.of_code)
                 for d in report.duplicates_detail],
            )
        if report.positions:
            conn.exec_driver_sql(
                f"INSERT INTO batch_positions (batch_id, bank_id, currency, net) VALUES "
                f"({m}, {m}, {m}, {m})",
                [(report.batch_id, p.bank_id, p.currency, p.net) for p in report.positions],
            )
        if report.moved_dates:
            conn.exec_driver_sql(
                "INSERT INTO batch_moved_dates (batch_id, position, instruction_id, market, "
                f"requested, value_date, reason) VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m})",
                [(report.batch_id, i, d.instruction_id, d.market, d.requested.isoformat(),
                  d.value_date.isoformat(), d.reason)
                 for i, d in enumerate(report.moved_dates, start=1)],
            )
        quota = self.quota
        if quota.touched:
            changes = []
            for key in sorted(quota.touched):
                before = self._usage_before.get(key, (0, 0, 0))
                after = quota.usage[key]
                changes.append((report.batch_id, *key,
                                *(a - b for a, b in zip(after, before, strict=True))))
            conn.exec_driver_sql(
                "INSERT INTO batch_quota_changes (batch_id, investor_id, channel, remitted_out, "
                f"remitted_back, used) VALUES ({m}, {m}, {m}, {m}, {m}, {m})", changes)
        if quota.aggregate_touched:
            conn.exec_driver_sql(
                f"INSERT INTO batch_aggregate_changes (batch_id, direction, used) VALUES "
                f"({m}, {m}, {m})",
                [(report.batch_id, d, used - self._aggregate_before.get(d, 0))
                 for d, used in sorted(quota.aggregate.items())])
        if report.obligations:
            conn.exec_driver_sql(
                "INSERT INTO batch_obligations (batch_id, payer, payee, currency, value_date, "
                f"amount) VALUES ({m}, {m}, {m}, {m}, {m}, {m})",
                [(report.batch_id, o.payer, o.payee, o.currency, o.value_date.isoformat(),
                  o.amount) for o in report.obligations],
            )
        record_batch(conn, report.batch_id)


class StoredGrossPayments(Sequence[GrossPayment]):
    """A committed batch's gross payments, read from the ledger on first use."""

    def __init__(self, engine: Engine, first_seq: int, last_seq: int) -> None:
        self._engine, self._range = engine, (first_seq, last_seq)
        self._rows: tuple[GrossPayment, ...] | None = None

    def _load(self) -> tuple[GrossPayment, ...]:
        if self._rows is None:
            with self._engine.connect() as conn:
                self._rows = tuple(gross_payments(conn, *self._range))
        return self._rows

    def __getitem__(self, index: Any) -> Any:
        return self._load()[index]

    def __len__(self) -> int:
        return len(self._load())

    def __iter__(self) -> Iterator[GrossPayment]:
        return iter(self._load())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(self._load())

    def __repr__(self) -> str:
        return f"StoredGrossPayments(seq {self._range[0]}..{self._range[1]})"


def gross_payments(conn: Connection, first_seq: int, last_seq: int) -> Iterator[GrossPayment]:
    """The batch's accepted remittances and repatriations, read back from the ledger."""
    if last_seq < first_seq:
        return
    rows = conn.execute(text(
        "SELECT e.id, d.bank_id, c.bank_id, t.currency, t.amount, t.value_date "
        "FROM entries e JOIN transfers t ON t.entry_seq = e.seq "
        "JOIN accounts d ON d.id = t.debit_account_id "
        "JOIN accounts c ON c.id = t.credit_account_id "
        "WHERE e.seq BETWEEN :a AND :b AND e.kind IN ('remit', 'repatriate') "
        "ORDER BY e.seq, t.id"
    ), {"a": first_seq, "b": last_seq})
    pending: dict[str, Any] | None = None
    for eid, payer, payee, cur, amount, vd in rows:
        day = vd if isinstance(vd, dt.date) else dt.date.fromisoformat(str(vd))
        # A split entry (transit) is one payment: payer of its first leg, payee of its last.
        if pending is not None and pending["instruction_id"] == eid:
            pending["payee"], pending["value_date"] = payee, max(pending["value_date"], day)
            continue
        if pending is not None:
            yield GrossPayment(**pending)
        pending = {"instruction_id": eid, "payer": payer, "payee": payee, "currency": cur,
                   "amount": int(amount), "value_date": day}
    if pending is not None:
        yield GrossPayment(**pending)
