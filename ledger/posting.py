"""Posting entries: the one place where transfers hit the database.

A :class:`Poster` lives inside one database transaction. It first locks the ledger head (the
sequence counters and the Merkle frontiers), so writers are serialised and the trees never fork
(a head whose counters are not the rows' is refused); it
then judges each entry on its own, against running balances kept in memory (earlier entries of
the same batch count), and returns a result per entry: rejections are values, never exceptions.
Accepted rows are written in bulk (``COPY`` on PostgreSQL, one ``INSERT`` from a JSON array on
SQLite) in chunks, and each touched account's running totals are updated once, when the poster
closes. Nothing is visible to others before the transaction commits, so a batch is all or
nothing; the database's own constraints and triggers stand behind every check made here.

**Bounds.** The poster keeps each currency's total of debits (which equals its total of
credits and is at least any account's running total or any bank's position in it) and rejects
an entry that would take it over ``ledger.money.MAX_MINOR`` (``balance_overflow``), and a leg
over that bound by itself (``amount_too_large``: a conversion's bought amount, say), counting
every earlier entry of the batch. So nothing the ledger stores or sums can overflow BIGINT.

Memory stays flat in the size of a batch: entries are judged chunk by chunk (``lookup`` then
``begin_chunk``),
and rows already flushed are found again by the database when a later chunk repeats an id.

**Write-behind.** A chunk's rows are written by a background thread while the next chunk is
judged: the bulk statements run in the driver's C code without the GIL (one statement per few
thousand rows), so the database works on one core while Python judges on the other. The thread
uses the same connection and transaction, never at the same time as the poster: every read
first waits for the write in flight (:meth:`Poster.wait`), and the ids of rows not yet in the
database are held in memory until they are. The lookups for a chunk to come
(:meth:`Poster.lookup`) run in that thread too, after the write before them. A failed write
surfaces at the next wait, in the caller's thread, and the transaction rolls back as for any
other error. Only connections of engines made by :func:`ledger.db.make_engine` are written
behind (they may be used from another thread); any other connection gets the same writes, at
the same points, in the caller's thread.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from hashlib import sha256
from itertools import islice
from typing import Any, Final, NamedTuple, TypeVar

from sqlalchemy import Connection, text

from ledger.db import WRITE_BEHIND_OPTION, is_postgres, json_array, rows_where_in
from ledger.entries import (
    DEBIT_NORMAL,
    EntrySpec,
    TransferSpec,
    TransferTuple,
    canonical_meta,
    content_text,
    digest_text,
    legs_content_text,
)
from ledger.errors import IntegrityError, LedgerError
from ledger.merkle import Frontier, MerkleError
from ledger.money import MAX_MINOR, format_amount, max_amount_text
from ledger.records import entry_record, read_head, set_root

T = TypeVar("T")

OK: Final = "ok"
DUPLICATE: Final = "duplicate"

ENTRY_COLUMNS: Final = (
    "seq", "id", "kind", "value_date", "batch_id", "reverses", "meta", "digest", "posted_at",
    "hash",
)
TRANSFER_COLUMNS: Final = (
    "id", "entry_seq", "debit_account_id", "credit_account_id", "amount", "currency",
    "value_date", "reference",
)
# A poster's pending entry rows leave out the two columns that are the same for every entry it
# posts (batch_id, posted_at): they are written once per statement, not encoded once per row.
PENDING_ENTRY_COLUMNS: Final = (
    "seq", "id", "kind", "value_date", "reverses", "meta", "digest", "hash",
)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an entry was not posted: a snake_case ``code`` and a message for people."""

    code: str
    message: str


class Result(NamedTuple):
    """The outcome for one entry: ``ok``, ``duplicate`` or a rejection code.

    A named tuple, not a frozen dataclass: one is made per posted entry, and this is the
    cheapest immutable value Python builds.
    """

    entry_id: str
    code: str
    message: str = ""
    seq: int | None = None


@dataclass(slots=True)
class AccountState:
    """An account as the poster sees it: its identity and its running totals in this batch."""

    id: int
    code: str
    bank_id: str
    type: str
    currency: str
    allow_overdraft: bool
    closed: bool
    debits: int
    credits: int
    stored_debits: int = 0  # the totals in the database: the batch adds the difference
    stored_credits: int = 0
    debit_normal: bool = False  # set from type in __post_init__
    guarded: bool = True  # not allow_overdraft

    def __post_init__(self) -> None:
        self.debit_normal = self.type in DEBIT_NORMAL
        self.guarded = not self.allow_overdraft
        self.stored_debits, self.stored_credits = self.debits, self.credits

    @property
    def balance(self) -> int:
        """Balance on the normal side, including what this batch has posted so far."""
        if self.debit_normal:
            return self.debits - self.credits
        return self.credits - self.debits


class Prepared(NamedTuple):
    """An entry that passed every check, ready for :meth:`Poster.apply` (a named tuple: one is
    made per conversion)."""

    entry_id: str
    kind: str
    value_date: dt.date
    digest: str
    content: str
    meta: str | None  # the entry's meta as canonical JSON
    legs: tuple[tuple[AccountState, AccountState, int, str, dt.date, str | None], ...]
    reverses_seq: int | None


class Lookup(NamedTuple):
    """What :meth:`Poster.lookup` found for a chunk: which of its ids are stored (with their
    digests), and the rows of the accounts it named that were not loaded yet."""

    ids: list[str]
    stored: dict[str, str]  # id -> digest
    wanted: list[str]  # account codes looked up
    accounts: list[Sequence[Any]]  # their rows, as load_accounts reads them


def _chunks(items: Iterable[EntrySpec], size: int) -> Iterator[list[EntrySpec]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


class Poster:
    """Judges and posts entries inside the caller's transaction (see the module docstring).

    Use it as a context manager: whatever happens inside, nothing pending is left behind.
    """

    def __init__(
        self,
        conn: Connection,
        *,
        posted_at: str,
        batch_id: str | None = None,
        flush_every: int = 20_000,
    ) -> None:
        self.conn = conn
        self.batch_id = batch_id
        self.posted_at = posted_at
        self.flush_every = flush_every
        self._pg = is_postgres(conn)
        head = read_head(conn, lock=True)
        self.seq, self.transfer_id = int(head[1]), int(head[2])
        _check_head(conn, self.seq, self.transfer_id)
        try:
            self.tree = Frontier.decode(self.seq, str(head[3] or ""))
        except MerkleError as exc:
            raise IntegrityError(f"the ledger head's entries frontier is damaged ({exc}): "
                                 "run 'wmc audit verify'") from None
        self.first_seq = self.seq + 1
        # Each currency's total of debits (= its total of credits), this batch's included: no
        # account's running total, balance or position can exceed it, so bounding it by
        # MAX_MINOR bounds them all (ledger.money.MAX_MINOR says why that bound).
        self.totals: dict[str, int] = {
            str(r[0]): int(r[1]) for r in conn.exec_driver_sql(
                "SELECT currency, COALESCE(SUM(debits_posted), 0) FROM accounts GROUP BY currency"
            )
        }
        self.accounts: dict[str, AccountState] = {}
        self._missing_accounts: set[str] = set()
        self._existing: dict[str, str] = {}  # id -> digest, already in the database
        self._absent: set[str] = set()  # ids known not to be in the database
        self._chunk_new: dict[str, str] = {}  # ids posted in this chunk -> digest
        self._prev_new: dict[str, str] = {}  # the previous chunk's: maybe not yet in the database
        self._writer: ThreadPoolExecutor | None = None
        # A connection from ledger.db.make_engine may be used from the writer thread; any other
        # gets its rows written in the caller's thread, at the same points.
        self._behind = bool(conn.get_execution_options().get(WRITE_BEHIND_OPTION))
        self._in_flight: list[Future[Any]] = []  # in submission order
        self._date_text: dict[dt.date, str] = {}
        self._meta_cache: dict[int, tuple[Mapping[str, Any], str | None]] = {}
        self._entry_rows: list[tuple[Any, ...]] = []  # in PENDING_ENTRY_COLUMNS
        self._transfer_rows: list[tuple[Any, ...]] = []
        self.posted = 0
        self.duplicates = 0
        self.rejected = 0

    @property
    def _constants(self) -> dict[str, Any]:
        """The entry columns left out of the pending rows (see PENDING_ENTRY_COLUMNS)."""
        return {"batch_id": self.batch_id, "posted_at": self.posted_at}

    # -- lookups ------------------------------------------------------------------------------

    def begin_chunk(self, looked_up: Lookup) -> None:
        """Begin judging the chunk of entries that :meth:`lookup` looked up, then start writing
        the rows of the chunk before in the background (see "Write-behind" in the module
        docstring).

        A caller with reads of its own for the chunk makes them before, after :meth:`wait`.
        """
        self.wait()
        self._existing.clear()
        self._absent.clear()
        # The last chunk's rows are not in the database yet: its ids stay known in memory.
        self._prev_new, self._chunk_new = self._chunk_new, {}
        self._existing.update(looked_up.stored)
        self._absent.update(looked_up.ids)
        self._absent.difference_update(looked_up.stored)
        self._add_accounts(looked_up.wanted, looked_up.accounts)
        self._write_behind()

    def lookup(self, entry_ids: Iterable[str], account_codes: Iterable[str]) -> Future[Lookup]:
        """Look up in two queries what a chunk of entries will need (which of its ids are
        stored, the accounts it names) for its :meth:`begin_chunk`, behind the writes in flight
        (:meth:`behind`): on a connection written behind, in the writer thread, so that the
        lookups for a chunk can run while the chunk before it is judged.

        Sound because nothing the lookups read changes before that chunk begins except by the
        rows this poster writes: a stored id they miss is one posted since, which the poster
        holds in memory until its chunk's successor has begun; an account loaded since keeps
        the running totals it has."""
        ids = list(dict.fromkeys(entry_ids))
        wanted = self._not_loaded(account_codes)
        return self.behind(lambda: self._look_up(ids, wanted))

    def _look_up(self, ids: list[str], wanted: list[str]) -> Lookup:
        return Lookup(ids, self._select_digests(ids), wanted, self._select_accounts(wanted))

    def behind(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn``, which may use the connection, after the writes in flight: in the writer
        thread on a connection written behind, else now. :meth:`wait` waits for it too, and
        raises what it raised."""
        if self._behind:
            future = self._writer_thread().submit(fn)
            self._in_flight.append(future)
            return future
        done: Future[T] = Future()
        done.set_result(fn())
        return done

    def maybe_taken(self, entry_ids: Sequence[str]) -> set[str]:
        """Of the chunk's ``entry_ids`` (as given to :meth:`lookup`), those that are
        stored, pending, or given more than once: only these need :meth:`check_duplicate`
        before they are posted; any other id of the chunk is free when its turn comes."""
        taken = set(self._existing)
        taken.update(self._prev_new.keys() & entry_ids)
        if len(set(entry_ids)) != len(entry_ids):
            taken.update(i for i, n in Counter(entry_ids).items() if n > 1)
        return taken

    def _select_digests(self, ids: Sequence[str]) -> dict[str, str]:
        return {r[0]: r[1] for r in rows_where_in(self.conn, "entries", "id, digest", "id", ids)}

    def load_accounts(self, codes: Iterable[str]) -> None:
        wanted = self._not_loaded(codes)
        if wanted:
            self.wait()
            self._add_accounts(wanted, self._select_accounts(wanted))

    def _not_loaded(self, codes: Iterable[str]) -> list[str]:
        # Sorted: the same query every run. Codes found missing before stay missing.
        if not isinstance(codes, set | frozenset):
            codes = set(codes)
        return sorted(codes.difference(self.accounts, self._missing_accounts))

    def _select_accounts(self, codes: list[str]) -> list[Sequence[Any]]:
        return rows_where_in(
            self.conn, "accounts", "id, code, bank_id, type, currency, allow_overdraft, closed, "
            "debits_posted, credits_posted", "code", codes)

    def _add_accounts(self, wanted: list[str], rows: list[Sequence[Any]]) -> None:
        accounts = self.accounts
        for r in rows:
            if r[1] not in accounts:  # one loaded since holds this batch's running totals
                accounts[r[1]] = AccountState(
                    int(r[0]), r[1], r[2], r[3], r[4], bool(r[5]), bool(r[6]), int(r[7]),
                    int(r[8]),
                )
        self._missing_accounts.update(c for c in wanted if c not in accounts)

    def account(self, code: str) -> AccountState | None:
        acc = self.accounts.get(code)
        if acc is None and code not in self._missing_accounts:
            self.load_accounts([code])
            acc = self.accounts.get(code)
        return acc

    def _stored_digest(self, entry_id: str) -> str | None:
        digest = self._chunk_new.get(entry_id) or self._prev_new.get(entry_id)
        if digest is not None:
            return digest
        if entry_id in self._absent:
            return None
        digest = self._existing.get(entry_id)
        if digest is None:
            self.wait()
            digest = self._select_digests([entry_id]).get(entry_id)
        return digest

    # -- judging ------------------------------------------------------------------------------

    def check_duplicate(self, entry_id: str, digest: str) -> Result | None:
        """``duplicate`` or ``exists_with_different_content`` if the id is taken, else None."""
        stored = self._stored_digest(entry_id)
        if stored is None:
            return None
        if stored == digest:
            return Result(entry_id, DUPLICATE, "already posted with the same content")
        return Result(
            entry_id,
            "exists_with_different_content",
            f"entry {entry_id!r} exists with different content",
        )

    def prepare(
        self, entry: EntrySpec, digest: str | None = None, content: str | None = None
    ) -> Prepared | Rejection:
        """Check ``entry`` against the accounts and running balances, without posting it.

        The caller must have ruled out duplicates (:meth:`check_duplicate`) first.
        """
        reverses_seq = None
        if entry.reverses is not None:
            found = self._reversal_target(entry.reverses)
            if isinstance(found, Rejection):
                return found
            reverses_seq = found
        return self.prepare_legs(entry.id, entry.kind, entry.value_date, entry.transfers,
                                 meta=entry.meta, digest=digest or entry.digest,
                                 reverses=entry.reverses, reverses_seq=reverses_seq,
                                 content=content)

    def prepare_legs(
        self, entry_id: str, kind: str, value_date: dt.date,
        transfers: Sequence[TransferTuple], *,
        meta: Mapping[str, Any] | None = None, digest: str | None = None,
        reverses: str | None = None, reverses_seq: int | None = None,
        content: str | None = None,
    ) -> Prepared | Rejection:
        """:meth:`prepare` for an entry given by its parts, its transfers as plain tuples (a
        :class:`~ledger.entries.TransferSpec` is one): what a caller on a hot path builds
        instead of an :class:`EntrySpec`. ``reverses_seq`` is the seq of ``reverses``, found."""
        accounts = self.accounts
        legs = []
        for debit_code, credit_code, amount, currency, leg_vd, reference in transfers:
            debit = accounts.get(debit_code) or self.account(debit_code)
            credit = accounts.get(credit_code) or self.account(credit_code)
            if debit is None or credit is None:
                missing = debit_code if debit is None else credit_code
                return Rejection("unknown_account", f"account {missing!r} does not exist")
            if debit.closed or credit.closed:
                closed = debit.code if debit.closed else credit.code
                return Rejection("account_closed", f"account {closed!r} is closed")
            if debit is credit:
                return Rejection("accounts_must_be_different", "debit and credit are one account")
            if currency != debit.currency or currency != credit.currency:
                return Rejection(
                    "currency_mismatch",
                    f"{currency} transfer between {debit.code} ({debit.currency}) and "
                    f"{credit.code} ({credit.currency})",
                )
            if type(amount) is not int or amount <= 0:
                return Rejection("amount_must_be_positive", f"amount {amount!r} is not > 0")
            if amount > MAX_MINOR:
                return self._too_large(amount, currency)
            legs.append((debit, credit, amount, currency, leg_vd or value_date, reference))
        overflow = self._overflow(legs)
        if overflow is not None:
            return overflow
        if len(legs) == 1:
            # The common case: a debit lowers a guarded credit-normal account, a credit lowers
            # a guarded debit-normal one; nothing else can overdraw.
            debit, credit, amount = legs[0][0], legs[0][1], legs[0][2]
            if debit.guarded and not debit.debit_normal and debit.credits - debit.debits < amount:
                return self._insufficient(debit, amount)
            if credit.guarded and credit.debit_normal and credit.debits - credit.credits < amount:
                return self._insufficient(credit, amount)
        elif not legs:
            return Rejection("no_transfers", "an entry needs at least one transfer")
        else:
            # Only accounts that may not be overdrawn need their net change (an FX position,
            # on two or three legs of every conversion, may).
            deltas: dict[int, list[Any]] = {}
            for debit, credit, amount, *_ in legs:
                if debit.guarded:
                    d = deltas.get(debit.id)
                    change = amount if debit.debit_normal else -amount
                    if d is None:
                        deltas[debit.id] = [debit, change]
                    else:
                        d[1] += change
                if credit.guarded:
                    d = deltas.get(credit.id)
                    change = -amount if credit.debit_normal else amount
                    if d is None:
                        deltas[credit.id] = [credit, change]
                    else:
                        d[1] += change
            for acc, delta in deltas.values():
                if delta < 0 and acc.balance + delta < 0:
                    return self._insufficient(acc, -delta)
        meta_text = self._meta_text(meta)
        if content is None:
            content = legs_content_text(entry_id, kind, value_date, reverses, meta_text or "",
                                        transfers)
        return Prepared(entry_id, kind, value_date, digest or digest_text(content), content,
                        meta_text, tuple(legs), reverses_seq)

    def _meta_text(self, meta: Mapping[str, Any] | None) -> str | None:
        # Many entries share one meta object (every conversion at one rate): encode it once.
        if not meta:
            return None
        cached = self._meta_cache.get(id(meta))
        if cached is not None and cached[0] is meta:
            return cached[1]
        if len(self._meta_cache) >= 1024:
            self._meta_cache.clear()
        text_ = canonical_meta(meta)
        self._meta_cache[id(meta)] = (meta, text_)  # holding meta keeps its id unique
        return text_

    @staticmethod
    def _too_large(amount: int, currency: str) -> Rejection:
        return Rejection(
            "amount_too_large",
            f"amount {format_amount(amount, currency)} {currency} is over the ledger's bound: "
            f"at most {max_amount_text(currency)}",
        )

    def _overflow(self, legs: Sequence[tuple[Any, ...]]) -> Rejection | None:
        """``balance_overflow`` if the legs would take a currency's total over MAX_MINOR."""
        totals = self.totals
        if len(legs) == 1:
            currency, amount = legs[0][3], legs[0][2]
            if totals.get(currency, 0) + amount <= MAX_MINOR:
                return None
            return self._overflowing(currency, amount)
        added: dict[str, int] = {}
        for leg in legs:
            added[leg[3]] = added.get(leg[3], 0) + leg[2]
        for currency, amount in added.items():
            if totals.get(currency, 0) + amount > MAX_MINOR:
                return self._overflowing(currency, amount)
        return None

    def _overflowing(self, currency: str, amount: int) -> Rejection:
        return Rejection(
            "balance_overflow",
            f"{format_amount(amount, currency)} {currency} more would take the ledger's "
            f"{currency} total of {format_amount(self.totals.get(currency, 0), currency)} "
            f"over its bound of {max_amount_text(currency)}",
        )

    @staticmethod
    def _insufficient(acc: AccountState, needed: int) -> Rejection:
        return Rejection(
            "insufficient_funds",
            f"account {acc.code!r} has {format_amount(acc.balance, acc.currency)} "
            f"{acc.currency}, needs {format_amount(needed, acc.currency)}",
        )

    def _reversal_target(self, entry_id: str) -> int | Rejection:
        self.flush()  # the target may be among the rows not yet written
        row = self.conn.execute(
            text(
                "SELECT e.seq, (SELECT r.seq FROM entries r WHERE r.reverses = e.seq) "
                "FROM entries e WHERE e.id = :id"
            ),
            {"id": entry_id},
        ).first()
        if row is None:
            return Rejection("unknown_entry", f"entry {entry_id!r} to reverse does not exist")
        if row[1] is not None:
            return Rejection("already_reversed", f"entry {entry_id!r} is already reversed")
        return int(row[0])

    # -- posting ------------------------------------------------------------------------------

    def apply(self, prepared: Prepared) -> int:
        """Post a prepared entry: running totals, its leaf in the entries tree, pending rows.
        Returns its seq."""
        self.seq = seq = self.seq + 1
        rows = self._transfer_rows
        first = tid = self.transfer_id + 1
        vd_text = self._date_text
        totals = self.totals
        for debit, credit, amount, currency, value_date, reference in prepared.legs:
            debit.debits += amount
            credit.credits += amount
            totals[currency] = totals.get(currency, 0) + amount
            rows.append((tid, seq, debit.id, credit.id, amount, currency,
                         vd_text.get(value_date) or self._date(value_date), reference))
            tid += 1
        self.transfer_id = tid - 1
        digest = prepared.digest
        value_date = prepared.value_date
        vd = vd_text.get(value_date) or self._date(value_date)
        record = entry_record(
            seq, prepared.entry_id, prepared.kind, vd, self.batch_id, self.posted_at,
            prepared.reverses_seq, prepared.meta, digest,
            [(first + i, d.code, c.code, amount, currency,
              vd_text.get(leg_vd) or self._date(leg_vd), reference)
             for i, (d, c, amount, currency, leg_vd, reference) in enumerate(prepared.legs)])
        leaf = sha256(b"\x00" + record.encode("utf-8", "surrogatepass")).digest()
        self.tree.append(leaf)  # == merkle.leaf_hash(records.to_bytes(record))
        self._entry_rows.append((
            seq, prepared.entry_id, prepared.kind, vd, prepared.reverses_seq, prepared.meta,
            digest, leaf.hex(),
        ))
        self._chunk_new[prepared.entry_id] = digest
        self.posted += 1
        if len(rows) >= self.flush_every:
            self._write_behind()
        return seq

    # -- the one-transfer fast path ------------------------------------------------------------

    def check_transfer(self, debit: AccountState, credit: AccountState, amount: int,
                       currency: str) -> Rejection | None:
        """:meth:`prepare`'s checks for an entry of one transfer between resolved accounts."""
        if debit.closed or credit.closed:
            closed = debit.code if debit.closed else credit.code
            return Rejection("account_closed", f"account {closed!r} is closed")
        if debit is credit:
            return Rejection("accounts_must_be_different", "debit and credit are one account")
        if currency != debit.currency or currency != credit.currency:
            return Rejection(
                "currency_mismatch",
                f"{currency} transfer between {debit.code} ({debit.currency}) and "
                f"{credit.code} ({credit.currency})",
            )
        if type(amount) is not int or amount <= 0:
            return Rejection("amount_must_be_positive", f"amount {amount!r} is not > 0")
        if amount > MAX_MINOR:
            return self._too_large(amount, currency)
        if self.totals.get(currency, 0) + amount > MAX_MINOR:
            return self._overflowing(currency, amount)
        if debit.guarded and not debit.debit_normal and debit.credits - debit.debits < amount:
            return self._insufficient(debit, amount)
        if credit.guarded and credit.debit_normal and credit.debits - credit.credits < amount:
            return self._insufficient(credit, amount)
        return None

    def apply_transfer(self, entry_id: str, kind: str, debit: AccountState,
                       credit: AccountState, amount: int, currency: str, value_date: dt.date,
                       reference: str | None, digest: str) -> int:
        """Post an entry of one transfer that passed :meth:`check_transfer`.

        Stores exactly what :meth:`apply` stores for the same entry given as an
        :class:`EntrySpec`, without building one: the settlement hot path.
        """
        self.seq = seq = self.seq + 1
        self.transfer_id = tid = self.transfer_id + 1
        vd = self._date_text.get(value_date) or self._date(value_date)
        debit.debits += amount
        credit.credits += amount
        self.totals[currency] = self.totals.get(currency, 0) + amount
        record = entry_record(seq, entry_id, kind, vd, self.batch_id, self.posted_at, None, None,
                              digest, ((tid, debit.code, credit.code, amount, currency, vd,
                                        reference),))
        leaf = sha256(b"\x00" + record.encode("utf-8", "surrogatepass")).digest()
        self.tree.append(leaf)
        self._transfer_rows.append((tid, seq, debit.id, credit.id, amount, currency, vd,
                                    reference))
        self._entry_rows.append((seq, entry_id, kind, vd, None, None, digest, leaf.hex()))
        self._chunk_new[entry_id] = digest
        self.posted += 1
        if len(self._transfer_rows) >= self.flush_every:
            self._write_behind()
        return seq

    def _date(self, value: dt.date) -> str:
        text_ = self._date_text[value] = value.isoformat()
        return text_

    def post(self, entry: EntrySpec) -> Result:
        """Judge and, if accepted, post one entry."""
        transfers = entry.transfers
        if len(transfers) == 1 and entry.reverses is None and not entry.meta:
            t = transfers[0]
            if t.value_date is None or t.value_date == entry.value_date:
                return self._post_one(entry, t)
        content = content_text(entry, self._meta_text(entry.meta) or "")
        digest = entry.digest or digest_text(content)
        dup = self._counted(self.check_duplicate(entry.id, digest))
        if dup is not None:
            return dup
        prepared = self.prepare(entry, digest, content)
        if isinstance(prepared, Rejection):
            self.rejected += 1
            return Result(entry.id, prepared.code, prepared.message)
        return Result(entry.id, OK, "", self.apply(prepared))

    def _counted(self, dup: Result | None) -> Result | None:
        if dup is not None:
            if dup.code == DUPLICATE:
                self.duplicates += 1
            else:
                self.rejected += 1
        return dup

    def _post_one(self, entry: EntrySpec, t: TransferSpec) -> Result:
        """:meth:`post` for an entry of one transfer on the entry's value date."""
        vd = self._date_text.get(entry.value_date) or self._date(entry.value_date)
        content = (f"{entry.id}\x1f{entry.kind}\x1f{vd}\x1f\x1f\x1e{t.debit}\x1f{t.credit}\x1f"
                   f"{t.amount}\x1f{t.currency}\x1f{vd}\x1f{t.reference or ''}")
        # == content_text(entry): tests/test_posting.py holds the two encodings equal
        digest = entry.digest or digest_text(content)
        dup = self._counted(self.check_duplicate(entry.id, digest))
        if dup is not None:
            return dup
        debit = self.accounts.get(t.debit) or self.account(t.debit)
        credit = self.accounts.get(t.credit) or self.account(t.credit)
        if debit is None or credit is None:
            self.rejected += 1
            missing = t.debit if debit is None else t.credit
            return Result(entry.id, "unknown_account", f"account {missing!r} does not exist")
        rejection = self.check_transfer(debit, credit, t.amount, t.currency)
        if rejection is not None:
            self.rejected += 1
            return Result(entry.id, rejection.code, rejection.message)
        seq = self.apply_transfer(entry.id, entry.kind, debit, credit, t.amount, t.currency,
                                  entry.value_date, t.reference, digest)
        return Result(entry.id, OK, "", seq)

    def wait(self) -> None:
        """Return when no write or lookup is in flight, the connection free for the caller's
        reads; one that failed raises here."""
        in_flight = self._in_flight
        while in_flight:
            in_flight.pop(0).result()

    def _write_behind(self) -> None:
        """Start writing the pending rows in the background (after the write in flight)."""
        self.wait()
        entries, transfers = self._entry_rows, self._transfer_rows
        if not entries and not transfers:
            return
        self._entry_rows, self._transfer_rows = [], []
        if not self._behind:
            _write_pending(self.conn, entries, transfers, self._constants, behind=False)
            return
        self._in_flight.append(self._writer_thread().submit(
            _write_pending, self.conn, entries, transfers, self._constants, behind=True))

    def _writer_thread(self) -> ThreadPoolExecutor:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="wmc-writer")
        return self._writer

    def flush(self) -> None:
        """Write the pending rows now, in this thread; return when they are in the database."""
        self.wait()
        entries, transfers = self._entry_rows, self._transfer_rows
        self._entry_rows, self._transfer_rows = [], []
        _write_pending(self.conn, entries, transfers, self._constants, behind=False)

    def _stop_writer(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None

    def close(self) -> None:
        """Write what is pending, add the batch's totals to each touched account once, and
        move the head."""
        self.flush()
        self._stop_writer()
        touched = [
            (a.debits - a.stored_debits, a.credits - a.stored_credits, a.id)
            for a in self.accounts.values()
            if a.debits != a.stored_debits or a.credits != a.stored_credits
        ]
        if touched:
            touched.sort(key=lambda r: r[2])  # one lock order for every writer: no deadlocks
            self.conn.exec_driver_sql(
                "UPDATE accounts SET debits_posted = debits_posted + %s, "
                "credits_posted = credits_posted + %s WHERE id = %s"
                if self._pg
                else "UPDATE accounts SET debits_posted = debits_posted + ?, "
                "credits_posted = credits_posted + ? WHERE id = ?",
                touched,
            )
            for a in self.accounts.values():
                a.stored_debits, a.stored_credits = a.debits, a.credits
        set_root(self.conn, entries=self.tree, last_transfer_id=self.transfer_id)

    def __enter__(self) -> Poster:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._entry_rows, self._transfer_rows = [], []
        # The connection is about to roll back or commit: no write may still be using it.
        try:
            self.wait()
        except Exception:
            if exc is None:
                raise
        finally:
            self._stop_writer()


def _check_head(conn: Connection, last_seq: int, last_transfer_id: int) -> None:
    """Refuse to post on a head whose counters are not the rows' (two lookups of a key's
    maximum): a damaged head would otherwise give out ids already taken."""
    seq, tid = conn.exec_driver_sql(
        "SELECT (SELECT coalesce(max(seq), 0) FROM entries), "
        "(SELECT coalesce(max(id), 0) FROM transfers)").one()
    if (int(seq), int(tid)) != (last_seq, last_transfer_id):
        raise IntegrityError(
            f"the ledger head says seq {last_seq} and transfer {last_transfer_id}, the rows end "
            f"at seq {seq} and transfer {tid}: the head or the rows were changed behind the "
            "ledger's back; nothing was posted (run 'wmc audit verify')")


def _write_pending(conn: Connection, entries: list[tuple[Any, ...]],
                   transfers: list[tuple[Any, ...]], constants: Mapping[str, Any], *,
                   behind: bool) -> None:
    # Entries first: transfers reference them.
    if entries:
        write_rows(conn, "entries", PENDING_ENTRY_COLUMNS, entries, behind=behind,
                   constants=constants)
    if transfers:
        write_rows(conn, "transfers", TRANSFER_COLUMNS, transfers, behind=behind)


def write_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]],
    *, behind: bool = False, constants: Mapping[str, Any] | None = None,
) -> None:
    """Insert ``rows`` in bulk, straight on the driver's connection, inside the caller's
    transaction: COPY on PostgreSQL; on SQLite the driver's ``executemany``, or with ``behind``
    (the poster's writer thread) one ``INSERT ... SELECT`` from a JSON array of the rows.
    ``constants`` are more columns, with one value for every row.

    ``executemany`` is the faster of the two in one thread, but it binds every row's values
    holding the GIL, taking it back from the thread that judges the next chunk; the one JSON
    statement runs in C without it. Also the benchmarks' storage limit (``behind=False``).
    """
    raw = conn.connection.driver_connection
    if raw is None:  # pragma: no cover - a connection inside a transaction is live
        raise LedgerError("bulk writes need a live database connection")
    constants = constants or {}
    cols = ", ".join([*columns, *constants])
    extra = tuple(constants.values())
    if is_postgres(conn):
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row + extra if extra else row)
        return
    if not behind:
        marks = ", ".join("?" * (len(columns) + len(extra)))
        raw.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})",
                        [row + extra for row in rows] if extra else rows)
        return
    # One statement and one parameter, a JSON array of the rows (and one parameter per
    # constant): the GIL is held only to encode and bind them; SQLite decodes and inserts the
    # rows in C without the GIL.
    picks = ", ".join([*(f"json_extract(value, '$[{i}]')" for i in range(len(columns))),
                       *(f"?{i}" for i in range(2, len(extra) + 2))])
    raw.execute(f"INSERT INTO {table} ({cols}) SELECT {picks} FROM json_each(?1)",
                (json_array(rows), *extra))


def post_entries(
    conn: Connection,
    entries: Iterable[EntrySpec],
    *,
    posted_at: str,
    batch_id: str | None = None,
    chunk_size: int = 10_000,
) -> list[Result]:
    """Post ``entries`` in the caller's transaction; one :class:`Result` per entry, in order."""
    with Poster(conn, posted_at=posted_at, batch_id=batch_id) as poster:
        results = post_with(poster, entries, chunk_size=chunk_size)
        poster.close()
    return results


def post_with(poster: Poster, entries: Iterable[EntrySpec], *,
              chunk_size: int = 10_000) -> list[Result]:
    """Post ``entries`` through an open ``poster`` (a caller that must hold the ledger head's
    lock before it names its batch opens the poster itself); the caller closes it."""
    results: list[Result] = []
    for chunk in _chunks(entries, chunk_size):
        poster.begin_chunk(poster.lookup(
            (e.id for e in chunk),
            (code for e in chunk for t in e.transfers for code in (t.debit, t.credit)),
        ).result())
        results.extend(poster.post(e) for e in chunk)
    return results
