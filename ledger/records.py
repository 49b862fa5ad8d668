"""The ledger's two logs and what is hashed of them: an unambiguous, versioned record encoding,
the events log of reference data, and the Merkle roots that a checkpoint signs.

**Two logs, two trees.** *Entries* (``entries`` with their ``transfers``, in ``seq`` order 1..N)
and *events* (``events``, ``seq`` 1..M: every row written to a covered reference table, such
as a bank, an account opened or closed, an investor's pairing, a product, a rate, a batch and its
rejections). Each log's leaves are ``ledger.merkle.leaf_hash`` of its records' encodings; the
stored ``hash`` column of a row is its leaf, hex. The ledger's **root** is
``ledger_root(entries_root, events_root)``, kept in the head with both trees' frontiers, so a
writer extends the trees without reading them.

**Encoding, version 1.** A record is text: a tag (``wmc1:entry;``, ``wmc1:event;``) then every
field in turn: a text as a netstring, ``<length in code points>:<text>``; an integer as its
decimal digits closed by ``;``; a null as ``~``. Each field says where it ends, so no content
(a reference holding separators, a newline, anything) can move a boundary: two different records
never encode alike. The text is
hashed as UTF-8, lone surrogates passed through, so that encoding never fails.

**Coverage.** A reference table declares what of it is covered (:class:`Covered`) next to its
schema; its writers call :func:`record_rows` or :func:`record_group` in the same transaction, and
``wmc audit verify`` replays the events against the tables (``ledger.audit``). Columns that move
with every posting (running totals) are not covered: the audit recomputes them from transfers.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from hashlib import sha256
from typing import Any, Final, Literal, NamedTuple

from sqlalchemy import Connection, text

from ledger.db import is_postgres
from ledger.merkle import EMPTY_ROOT, Frontier, leaf_hash

ENTRY_TAG: Final = "wmc1:entry;"
EVENT_TAG: Final = "wmc1:event;"
_ROOT = b"\x02wmc1:root;"
NULL: Final = "~"

Log = Literal["entries", "events"]


def ns(value: object) -> str:
    """One field as a netstring (``None`` as ``~``)."""
    if value is None:
        return NULL
    s = value if isinstance(value, str) else str(value)
    return f"{len(s)}:{s}"


def to_bytes(record: str) -> bytes:
    return record.encode("utf-8", "surrogatepass")


#: One transfer of an entry record: id, debit code, credit code, amount, currency, value date
#: (text), reference.
LegRecord = tuple[int, str, str, int, str, str, str | None]


def entry_record(seq: int, entry_id: str, kind: str, value_date: str, batch_id: str | None,
                 posted_at: str, reverses: int | None, meta: str | None, digest: str,
                 legs: Sequence[LegRecord]) -> str:
    """The encoding of a posted entry and its transfers: every stored column, the accounts by
    code. Integers are their decimal digits closed by ``;`` (no digit is a ``;``), texts
    netstrings, nulls ``~``. Written out field by field: it runs once per entry posted."""
    text = (f"{ENTRY_TAG}{seq};{len(entry_id)}:{entry_id}{len(kind)}:{kind}"
            f"{len(value_date)}:{value_date}"
            f"{NULL if batch_id is None else f'{len(batch_id)}:{batch_id}'}"
            f"{len(posted_at)}:{posted_at}{NULL if reverses is None else f'{reverses};'}"
            f"{NULL if meta is None else f'{len(meta)}:{meta}'}{len(digest)}:{digest}"
            f"{len(legs)};")
    for tid, debit, credit, amount, currency, vd, reference in legs:
        text += (f"{tid};{len(debit)}:{debit}{len(credit)}:{credit}{amount};"
                 f"{len(currency)}:{currency}{len(vd)}:{vd}"
                 f"{NULL if reference is None else f'{len(reference)}:{reference}'}")
    return text


def event_record(seq: int, kind: str, subject: str, body: str, recorded_at: str,
                 recorded_by: str) -> str:
    return "".join((EVENT_TAG, f"{seq};", ns(kind), ns(subject), ns(body), ns(recorded_at),
                    ns(recorded_by)))


def decode_record(record: bytes) -> dict[str, Any]:
    """The fields of an encoded record, by name (for people reading a proof)."""
    s = record.decode("utf-8", "surrogatepass")
    names: tuple[str, ...]
    if s.startswith(ENTRY_TAG):
        tag, names = "entry", ("seq", "id", "kind", "value_date", "batch_id", "posted_at",
                               "reverses", "meta", "digest", "transfers")
    elif s.startswith(EVENT_TAG):
        tag, names = "event", ("seq", "kind", "subject", "body", "recorded_at", "recorded_by")
    else:
        raise ValueError("not a wmc1 record")
    fields = iter(_netstrings(s[len(ENTRY_TAG if tag == "entry" else EVENT_TAG):]))
    out: dict[str, Any] = {"record": tag}
    for name in names:
        out[name] = next(fields)
    if tag == "entry":
        count = int(out["transfers"] or 0)
        leg_names = ("id", "debit", "credit", "amount", "currency", "value_date", "reference")
        out["transfers"] = [{n: next(fields) for n in leg_names} for _ in range(count)]
    if next(fields, None) is not None:
        raise ValueError("trailing fields after the record")
    return out


def _netstrings(s: str) -> Iterator[str | None]:
    """The fields of an encoding: ``~``, ``<digits>;`` (an integer, as its text) or
    ``<length>:<text>``."""
    i = 0
    while i < len(s):
        if s[i] == NULL:
            yield None
            i += 1
            continue
        j = i
        while s[j] not in ":;":
            j += 1
        if s[j] == ";":
            yield s[i:j]
            i = j + 1
            continue
        n = int(s[i:j])
        yield s[j + 1:j + 1 + n]
        i = j + 1 + n


def ledger_root(entries_root: bytes, events_root: bytes) -> bytes:
    """The one root that stands for both logs."""
    return sha256(_ROOT + entries_root + events_root).digest()


# -- the head ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TreeState:
    """Both logs' sizes and roots, and the ledger's root: what a checkpoint signs."""

    ledger_id: str
    last_seq: int
    last_transfer_id: int
    entries_size: int
    entries_root: bytes
    events_size: int
    events_root: bytes
    root: bytes


HEAD_COLUMNS: Final = ("ledger_id, last_seq, last_transfer_id, entries_frontier, events_seq, "
                       "events_frontier, root")


def read_head(conn: Connection, *, lock: bool = False) -> tuple[Any, ...]:
    """The head row (locked for update on PostgreSQL when ``lock``; SQLite writers already hold
    the database's write lock)."""
    suffix = " FOR UPDATE" if lock and is_postgres(conn) else ""
    return tuple(conn.exec_driver_sql(
        f"SELECT {HEAD_COLUMNS} FROM ledger_head WHERE id = 1{suffix}").one())


def tree_state(conn: Connection) -> TreeState:
    """The state as the head says it."""
    ledger_id, last_seq, last_tid, e_front, ev_seq, ev_front, root = read_head(conn)
    entries = Frontier.decode(int(last_seq), str(e_front or ""))
    events = Frontier.decode(int(ev_seq), str(ev_front or ""))
    return TreeState(str(ledger_id), int(last_seq), int(last_tid), entries.size,
                     entries.root(), events.size, events.root(), bytes.fromhex(str(root)))


def stored_leaves(conn: Connection, log: Log, size: int | None = None) -> list[bytes]:
    """The first ``size`` (all if None) stored leaf hashes of ``log``, in order."""
    table = "entries" if log == "entries" else "events"
    sql = f"SELECT hash FROM {table}"
    if size is not None:
        sql += f" WHERE seq <= {int(size)}"
    rows = conn.execution_options(yield_per=50_000).exec_driver_sql(sql + " ORDER BY seq")
    return [bytes.fromhex(str(r[0])) for r in rows]


def set_root(conn: Connection, *, entries: Frontier | None = None,
             events: Frontier | None = None, last_transfer_id: int | None = None) -> bytes:
    """Write one or both logs' frontiers to the head (the caller holds the head's lock) and the
    root of both. Returns the root."""
    head = read_head(conn)
    if entries is None:
        entries = Frontier.decode(int(head[1]), str(head[3] or ""))
    if events is None:
        events = Frontier.decode(int(head[4]), str(head[5] or ""))
    tid = int(head[2]) if last_transfer_id is None else last_transfer_id
    root = ledger_root(entries.root(), events.root())
    m = "%s" if is_postgres(conn) else "?"
    conn.exec_driver_sql(
        f"UPDATE ledger_head SET last_seq = {m}, last_transfer_id = {m}, entries_frontier = {m}, "
        f"events_seq = {m}, events_frontier = {m}, root = {m} WHERE id = 1",
        (entries.size, tid, entries.encode(), events.size, events.encode(), root.hex()))
    return root


def empty_root() -> bytes:
    return ledger_root(EMPTY_ROOT, EMPTY_ROOT)


# -- events: coverage of reference data ----------------------------------------------------------


class Covered(NamedTuple):
    """What of a table the events log covers.

    ``key``: the columns that name a row (the event's subject). ``exclude``: columns left out
    (recomputed by the audit from what is covered). ``group``: if set, the table is covered a
    group of rows at a time (all rows with one value of that column, such as a batch's
    rejections) by one event holding their count and digest.
    """

    table: str
    key: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    group: str | None = None


def _covered(*specs: Covered) -> dict[str, Covered]:
    return {s.table: s for s in specs}


#: Every covered table, the siblings' by name (``ledger`` imports none of them): reference rows
#: one by one; a batch's rows and those it wrote beside it (rejections, positions, moved dates,
#: obligations) a batch at a time. Not covered, and recomputed by the audit instead: accounts'
#: running totals (from transfers) and quota usage (from the remittances posted).
COVERED: Final = _covered(
    Covered("banks", ("bank_id",)),
    Covered("accounts", ("code",), exclude=("debits_posted", "credits_posted")),
    Covered("investors", ("investor_id", "channel")),
    Covered("products", ("product",)),
    Covered("fx_rates", ("book", "base", "quote", "as_of_utc")),
    Covered("fx_revaluations", ("book", "as_of", "bank_id", "currency")),
    Covered("batches", ("batch_id",)),
    Covered("batch_rejections", ("batch_id", "line"), group="batch_id"),
    Covered("rejected_instructions", ("instruction_id",), group="batch_id"),
    Covered("batch_positions", ("batch_id", "bank_id", "currency"), group="batch_id"),
    Covered("batch_moved_dates", ("batch_id", "position"), group="batch_id"),
    Covered("batch_obligations", ("batch_id", "payer", "payee", "currency", "value_date"),
            group="batch_id"),
    Covered("batch_duplicates", ("batch_id", "line"), group="batch_id"),
    Covered("batch_reversals", ("batch_id",), group="reversal_batch_id"),
    Covered("batch_quota_changes", ("batch_id", "investor_id", "channel"), group="batch_id"),
    Covered("batch_aggregate_changes", ("batch_id", "direction"), group="batch_id"),
)
#: Columns that are booleans (SQLite hands them back as 0/1; bodies say true/false).
BOOLEAN_COLUMNS: Final = {"accounts": ("allow_overdraft", "closed")}


@dataclass(frozen=True, slots=True)
class Recorder:
    """Who and when for the events written in this context."""

    by: str
    at: dt.datetime | None = None  # None: the time of writing


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


_recorder: ContextVar[Recorder | None] = ContextVar("wmc_recorder", default=None)


@contextmanager
def recording(*, by: str | None = None, at: dt.datetime | None = None) -> Iterator[None]:
    """Events written inside are recorded as made by ``by`` (default: the OS user) at ``at``
    (default: the time of writing)."""
    token = _recorder.set(Recorder(by or _os_user(), at))
    try:
        yield
    finally:
        _recorder.reset(token)


def _who_when() -> tuple[str, str]:
    rec = _recorder.get()
    by = rec.by if rec is not None else _os_user()
    at = rec.at if rec is not None and rec.at is not None else dt.datetime.now(dt.UTC)
    return by, at.isoformat()


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def _value(value: Any) -> Any:
    """A column value as the body stores it: the same on SQLite and PostgreSQL."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def row_body(spec: Covered, row: Mapping[str, Any]) -> str:
    return canonical({k: _value(v) for k, v in row.items() if k not in spec.exclude})


def subject_of(spec: Covered, row: Mapping[str, Any]) -> str:
    return canonical([_value(row[k]) for k in spec.key])


def select_rows(conn: Connection, spec: Covered,
                where: str = "", params: Mapping[str, Any] | None = None
                ) -> list[dict[str, Any]]:
    order = ", ".join(spec.key)
    sql = f"SELECT * FROM {spec.table}{' WHERE ' + where if where else ''} ORDER BY {order}"
    return [_normalise(conn, spec, dict(r._mapping))
            for r in conn.execute(text(sql), dict(params or {}))]


def _normalise(conn: Connection, spec: Covered, row: dict[str, Any]) -> dict[str, Any]:
    for k in BOOLEAN_COLUMNS.get(spec.table, ()):
        if row.get(k) is not None:
            row[k] = bool(row[k])
    return row


def record_rows(conn: Connection, table: str, rows: Iterable[Mapping[str, Any]]) -> int:
    """Append an event for each of ``rows`` (as now stored, re-read by key) of a covered table.
    Returns how many were recorded. The caller's transaction holds the write."""
    spec = COVERED[table]
    keys = [tuple(r[k] for k in spec.key) for r in rows]
    if not keys:
        return 0
    stored: list[dict[str, Any]] = []
    for i in range(0, len(keys), 500):
        part = keys[i:i + 500]
        conds, params = [], {}
        for j, key in enumerate(part):
            conds.append("(" + " AND ".join(f"{c} = :k{j}_{n}" for n, c in enumerate(spec.key))
                         + ")")
            params.update({f"k{j}_{n}": v for n, v in enumerate(key)})
        stored += select_rows(conn, spec, " OR ".join(conds), params)
    return append_events(conn, [(spec.table, subject_of(spec, r), row_body(spec, r))
                          for r in stored])


def group_body(spec: Covered, rows: Sequence[Mapping[str, Any]]) -> str:
    digest = sha256()
    for r in rows:
        digest.update(to_bytes(ns(row_body(spec, r))))
    return canonical({"rows": len(rows), "sha256": digest.hexdigest()})


def record_group(conn: Connection, table: str, value: Any) -> int:
    """Append one event for the rows of a group-covered ``table`` whose group column is
    ``value`` (their count and digest), if there are any."""
    spec = COVERED[table]
    if spec.group is None:  # pragma: no cover - a programming error
        raise ValueError(f"{table} is covered row by row")
    rows = select_rows(conn, spec, f"{spec.group} = :g", {"g": value})
    if not rows:
        return 0
    return append_events(conn, [(spec.table, canonical(_value(value)), group_body(spec, rows))])


def record_batch(conn: Connection, batch_id: str) -> None:
    """Record a committed batch in the events log: its row, the rows written beside it (every
    table covered by ``group`` on a batch id), and the entries tree as the batch leaves it
    (size and root, which the audit recomputes from the leaves). Called once a batch's rows
    are all written, in its transaction."""
    record_rows(conn, "batches", [{"batch_id": batch_id}])
    for spec in COVERED.values():
        if spec.group is not None and table_exists(conn, spec.table):
            record_group(conn, spec.table, batch_id)
    head = read_head(conn)
    tree = Frontier.decode(int(head[1]), str(head[3] or ""))
    record_event(conn, "batch_tree", batch_id, {"entries_size": tree.size,
                                                "entries_root": tree.root().hex()})


def rerecord(conn: Connection, table: str) -> int:
    """Record every row of a covered ``table`` again, as it is now: what a migration that
    changes the table's columns does, so that the events log says what the rows became (and
    the audit holds them to it). Returns how many events were recorded."""
    spec = COVERED[table]
    if not table_exists(conn, table):
        return 0
    rows = select_rows(conn, spec)
    if spec.group is None:
        return append_events(conn, [(table, subject_of(spec, r), row_body(spec, r))
                                    for r in rows])
    groups: dict[Any, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r[spec.group], []).append(r)
    return append_events(conn, [(table, canonical(_value(g)), group_body(spec, rs))
                                for g, rs in sorted(groups.items(), key=lambda kv: str(kv[0]))])


def table_exists(conn: Connection, table: str) -> bool:
    if is_postgres(conn):
        return bool(conn.exec_driver_sql(
            "SELECT to_regclass(current_schema() || '.' || %s) IS NOT NULL", (table,)
        ).scalar_one())
    return conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).first() is not None


def record_event(conn: Connection, kind: str, subject: str, body: Mapping[str, Any]) -> int:
    """Append one event of a kind of its own (not a table's row), such as the schema's
    fingerprint at ``wmc init``."""
    return append_events(conn, [(kind, subject, canonical(dict(body)))])


def append_events(conn: Connection, events: Sequence[tuple[str, str, str]]) -> int:
    """Append ``events`` (kind, subject, body) to the events log and move the root: the one
    writer of events."""
    if not events:
        return 0
    head = read_head(conn, lock=True)
    frontier = Frontier.decode(int(head[4]), str(head[5] or ""))
    by, at = _who_when()
    rows = []
    for kind, subject, body in events:
        seq = frontier.size + 1
        leaf = leaf_hash(to_bytes(event_record(seq, kind, subject, body, at, by)))
        frontier.append(leaf)
        rows.append((seq, kind, subject, body, at, by, leaf.hex()))
    m = "%s" if is_postgres(conn) else "?"
    conn.exec_driver_sql(
        "INSERT INTO events (seq, kind, subject, body, recorded_at, recorded_by, hash) "
        f"VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m})", rows)
    set_root(conn, events=frontier)
    return len(rows)


def entry_record_at(conn: Connection, seq: int) -> bytes:
    """The encoded record of the entry at ``seq``, rebuilt from the stored rows."""
    rows = conn.execute(text(
        "SELECT e.seq, e.id, e.kind, e.value_date, e.batch_id, e.posted_at, e.reverses, e.meta, "
        "e.digest, t.id, d.code, c.code, t.amount, t.currency, t.value_date, t.reference "
        "FROM entries e LEFT JOIN transfers t ON t.entry_seq = e.seq "
        "LEFT JOIN accounts d ON d.id = t.debit_account_id "
        "LEFT JOIN accounts c ON c.id = t.credit_account_id "
        "WHERE e.seq = :s ORDER BY t.id"), {"s": seq}).all()
    if not rows:
        raise LookupError(f"no entry at seq {seq}")
    e = rows[0]
    legs = [(int(r[9]), str(r[10]), str(r[11]), int(r[12]), str(r[13]), date_text(r[14]), r[15])
            for r in rows if r[9] is not None]
    return to_bytes(entry_record(int(e[0]), str(e[1]), str(e[2]), date_text(e[3]), e[4],
                                 str(e[5]), None if e[6] is None else int(e[6]), e[7],
                                 str(e[8]), legs))


def event_record_at(conn: Connection, seq: int) -> bytes:
    r = conn.execute(text(
        "SELECT seq, kind, subject, body, recorded_at, recorded_by FROM events WHERE seq = :s"),
        {"s": seq}).one_or_none()
    if r is None:
        raise LookupError(f"no event at seq {seq}")
    return to_bytes(event_record(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]),
                                 str(r[5])))


def date_text(value: object) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def recompute_state(conn: Connection) -> TreeState:
    """The state recomputed from the stored leaves (not from the records: see the audit)."""
    head = read_head(conn)
    entries, events = Frontier(), Frontier()
    entries.extend(stored_leaves(conn, "entries"))
    events.extend(stored_leaves(conn, "events"))
    last_tid = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM transfers").scalar_one()
    return TreeState(str(head[0]), entries.size, int(last_tid), entries.size, entries.root(),
                     events.size, events.root(), ledger_root(entries.root(), events.root()))
