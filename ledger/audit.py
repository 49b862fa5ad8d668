"""``wmc audit verify``: recompute what the ledger promises and name what is broken.

Checks, each from the rows themselves, never from a stored conclusion:
- **entries**: seq runs 1..N with no gap; every entry's record (``ledger.records``, every stored
  column of the entry and its transfers, the accounts by code) hashes to its stored leaf; every
  transfer's currency is both its accounts', its amount positive, its accounts exist, and it
  belongs to an entry that exists; transfer ids run 1..T with no gap;
- **events**: seq runs 1..M; every event's record hashes to its stored leaf; replayed, the
  events give exactly the rows of every covered table (``ledger.records.COVERED``): a row changed,
  added or removed behind the ledger's back is named;
- **the head**: its counters are the last entry's seq and transfer id, its frontiers are those
  of the stored leaves, its root the root of both trees;
- **batches**: each batch's event records the entries tree as it stood when the batch committed
  (size and root), recomputed from the leaves;
- **balances**: per account, running totals equal the sums of its transfers; per currency, debits
  equal credits;
- **schema**: the triggers and constraints present are those recorded when the schema was last
  migrated (a fingerprint, see :func:`schema_fingerprint`).

This finds any change that was not made through the ledger's own hashing functions. A rewrite that
recomputes every hash is found only against a checkpoint signed before it (``ledger.checkpoint``).
Further checks of packages above ``ledger`` (quota usage) are passed in as ``extra``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

from sqlalchemy import Connection, text

from ledger.db import is_postgres
from ledger.merkle import Frontier
from ledger.money import format_amount
from ledger.records import (
    COVERED,
    canonical,
    date_text,
    entry_record,
    event_record,
    group_body,
    ledger_root,
    read_head,
    record_event,
    row_body,
    select_rows,
    subject_of,
    table_exists,
    to_bytes,
)

#: A check of its own, run after the ledger's: problems found, as text.
ExtraCheck = Callable[[Connection], Iterable[str]]


@dataclass(frozen=True, slots=True)
class AuditReport:
    """What ``wmc audit verify`` checked and the problems found (none: ``ok``)."""

    entries: int
    transfers: int
    problems: tuple[str, ...] = field(default=())
    events: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


class _Problems(list[str]):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    @property
    def full(self) -> bool:
        return len(self) >= self.limit

    def add(self, problem: str) -> None:
        if not self.full:
            self.append(problem)


def verify(conn: Connection, *, max_problems: int = 20,
           extra: Iterable[ExtraCheck] = ()) -> AuditReport:
    problems = _Problems(max_problems)
    accounts = {
        int(r[0]): (str(r[1]), str(r[2]), int(r[3]), int(r[4]))
        for r in conn.execute(
            text("SELECT id, code, currency, debits_posted, credits_posted FROM accounts"))
    }
    entries, n_entries, n_transfers, sums, sizes = _verify_entries(conn, accounts, problems)
    events, n_events = _verify_events(conn, problems)
    _verify_head(conn, entries, events, problems)
    _verify_batches(conn, sizes, problems)
    _verify_balances(accounts, sums, problems)
    _verify_schema(conn, problems)
    for check in extra:
        for p in check(conn):
            problems.add(p)
    return AuditReport(n_entries, n_transfers, tuple(problems), n_events)


def _verify_entries(conn: Connection, accounts: dict[int, tuple[str, str, int, int]],
                    problems: _Problems
                    ) -> tuple[Frontier, int, int, dict[int, list[int]], dict[int, bytes]]:
    """Entries and their transfers in seq order: records against leaves, the tree rebuilt."""
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    tree = Frontier()
    roots: dict[int, bytes] = {}  # tree size -> root, at the sizes batches recorded
    wanted = _batch_sizes(conn)
    rows = conn.execution_options(yield_per=20_000).execute(text(
        "SELECT e.seq, e.id, e.kind, e.value_date, e.batch_id, e.posted_at, e.reverses, e.meta, "
        "e.digest, e.hash, t.id, t.debit_account_id, t.credit_account_id, t.amount, "
        "t.currency, t.value_date, t.reference "
        "FROM entries e LEFT JOIN transfers t ON t.entry_seq = e.seq ORDER BY e.seq, t.id"))
    current: Any = None
    legs: list[tuple[int, str, str, int, str, str, str | None]] = []
    n_entries = n_transfers = 0
    expected_tid = 1

    def close_entry() -> None:
        nonlocal n_entries
        e = current
        seq = int(e[0])
        n_entries += 1
        if seq != tree.size + 1:
            problems.add(f"entry {e[1]}: seq {seq} where {tree.size + 1} was expected "
                         "(an entry removed, added or renumbered)")
        if not legs:
            problems.add(f"entry {e[1]} (seq {seq}) has no transfers")
        record = entry_record(seq, str(e[1]), str(e[2]), date_text(e[3]), e[4], str(e[5]),
                              None if e[6] is None else int(e[6]), e[7], str(e[8]), legs)
        leaf = sha256(b"\x00" + to_bytes(record)).digest()
        if leaf.hex() != e[9]:
            problems.add(f"entry {e[1]} (seq {seq}): its rows do not hash to its stored leaf "
                         "(changed behind the ledger's back)")
        try:
            tree.append(bytes.fromhex(str(e[9])))
        except ValueError:
            tree.append(leaf)
        if tree.size in wanted:
            roots[tree.size] = tree.root()

    for r in rows:
        if current is None or r[0] != current[0]:
            if current is not None:
                close_entry()
            current, legs = r, []
        if r[10] is None:
            continue
        n_transfers += 1
        tid = int(r[10])
        if tid != expected_tid:
            problems.add(f"entry {r[1]}: transfer {tid} where {expected_tid} was expected "
                         "(a transfer removed, added or renumbered)")
        expected_tid = tid + 1
        debit, credit = accounts.get(int(r[11])), accounts.get(int(r[12]))
        amount, cur = int(r[13]), str(r[14])
        if debit is None or credit is None:
            problems.add(f"entry {r[1]}: transfer {tid} names a missing account")
            legs.append((tid, "?", "?", amount, cur, date_text(r[15]), r[16]))
            continue
        if debit[1] != cur or credit[1] != cur:
            problems.add(f"entry {r[1]}: transfer {tid} currency {cur} differs from its "
                         f"accounts' ({debit[1]}, {credit[1]})")
        if amount <= 0:
            problems.add(f"entry {r[1]}: transfer {tid} amount {amount} is not > 0")
        sums[int(r[11])][0] += amount
        sums[int(r[12])][1] += amount
        legs.append((tid, debit[0], credit[0], amount, cur, date_text(r[15]), r[16]))
    if current is not None:
        close_entry()
    orphans = conn.exec_driver_sql(
        "SELECT count(*), min(t.id) FROM transfers t LEFT JOIN entries e ON e.seq = t.entry_seq "
        "WHERE e.seq IS NULL").one()
    if int(orphans[0]):
        problems.add(f"{orphans[0]} transfer(s) belong to no entry (the first: transfer "
                     f"{orphans[1]})")
        n_transfers += int(orphans[0])
    if 0 in wanted:
        roots[0] = Frontier().root()
    return tree, n_entries, n_transfers, sums, roots


def _verify_events(conn: Connection, problems: _Problems) -> tuple[Frontier, int]:
    """Events in seq order against their leaves; replayed against the covered tables."""
    tree = Frontier()
    latest: dict[tuple[str, str], str] = {}
    for r in conn.execution_options(yield_per=20_000).execute(text(
            "SELECT seq, kind, subject, body, recorded_at, recorded_by, hash FROM events "
            "ORDER BY seq")):
        seq = int(r[0])
        if seq != tree.size + 1:
            problems.add(f"event seq {seq} where {tree.size + 1} was expected (an event "
                         "removed, added or renumbered)")
        record = event_record(seq, str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]))
        leaf = sha256(b"\x00" + to_bytes(record)).digest()
        if leaf.hex() != r[6]:
            problems.add(f"event {seq} ({r[1]} {r[2]}): its row does not hash to its stored "
                         "leaf (changed behind the ledger's back)")
        try:
            tree.append(bytes.fromhex(str(r[6])))
        except ValueError:
            tree.append(leaf)
        latest[(str(r[1]), str(r[2]))] = str(r[3])
    for spec in COVERED.values():
        if not table_exists(conn, spec.table):
            continue
        stored = select_rows(conn, spec)
        recorded = {s: b for (k, s), b in latest.items() if k == spec.table}
        if spec.group is None:
            actual = {subject_of(spec, row): row_body(spec, row) for row in stored}
        else:
            groups: dict[Any, list[dict[str, Any]]] = {}
            for row in stored:
                groups.setdefault(row[spec.group], []).append(row)
            actual = {canonical(g): group_body(spec, rs)
                      for g, rs in groups.items()}
        for subject in sorted(actual.keys() | recorded.keys()):
            if subject not in recorded:
                problems.add(f"{spec.table} {subject}: a row no event records (added behind "
                             "the ledger's back)")
            elif subject not in actual:
                problems.add(f"{spec.table} {subject}: recorded, but no longer in the table "
                             "(removed behind the ledger's back)")
            elif actual[subject] != recorded[subject]:
                problems.add(f"{spec.table} {subject}: differs from what was recorded (changed "
                             f"behind the ledger's back): recorded {recorded[subject]}, now "
                             f"{actual[subject]}")
    return tree, tree.size


def _verify_head(conn: Connection, entries: Frontier, events: Frontier,
                 problems: _Problems) -> None:
    _, last_seq, last_tid, e_front, ev_seq, ev_front, root = read_head(conn)
    max_tid = int(conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM transfers")
                  .scalar_one())
    if int(last_seq) != entries.size:
        problems.add(f"ledger head: last seq {last_seq}, but the entries end at "
                     f"{entries.size}")
    if int(last_tid) != max_tid:
        problems.add(f"ledger head: last transfer {last_tid}, but the transfers end at "
                     f"{max_tid}")
    if int(ev_seq) != events.size:
        problems.add(f"ledger head: {ev_seq} events, but the log holds {events.size}")
    for name, stored, tree in (("entries", e_front, entries), ("events", ev_front, events)):
        if str(stored or "") != tree.encode():
            problems.add(f"ledger head: the {name} frontier is not that of the stored leaves")
    if str(root) != ledger_root(entries.root(), events.root()).hex():
        problems.add("ledger head: its root is not the root of the stored entries and events")


def _batch_sizes(conn: Connection) -> set[int]:
    return {size for size, _ in _batch_records(conn).values()}


def _batch_records(conn: Connection) -> dict[str, tuple[int, str]]:
    """batch id -> (entries tree size, root) as each batch's event recorded them."""
    out: dict[str, tuple[int, str]] = {}
    for subject, body in conn.exec_driver_sql(
            "SELECT subject, body FROM events WHERE kind = 'batch_tree' ORDER BY seq"):
        try:
            b = json.loads(body)
            out[str(subject)] = (int(b["entries_size"]), str(b["entries_root"]))
        except (ValueError, KeyError, TypeError):
            out[str(subject)] = (-1, "")
    return out


def _verify_batches(conn: Connection, roots: dict[int, bytes], problems: _Problems) -> None:
    for batch_id, (size, root) in sorted(_batch_records(conn).items()):
        found = roots.get(size)
        if found is None:
            problems.add(f"batch {batch_id}: committed with {size} entries, the ledger has "
                         "fewer now (truncated)")
        elif found.hex() != root:
            problems.add(f"batch {batch_id}: the first {size} entries are not those it "
                         "committed (history rewritten)")


def _verify_balances(accounts: dict[int, tuple[str, str, int, int]],
                     sums: dict[int, list[int]], problems: _Problems) -> None:
    per_currency: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for acc_id, (code, cur, debits, credits) in sorted(accounts.items()):
        per_currency[cur][0] += debits
        per_currency[cur][1] += credits
        s = sums.get(acc_id, [0, 0])
        if (debits, credits) != (s[0], s[1]):
            problems.add(
                f"account {code}: running totals debits {_money(debits, cur)} credits "
                f"{_money(credits, cur)} differ from its transfers' debits {_money(s[0], cur)} "
                f"credits {_money(s[1], cur)}")
    for cur, (d, c) in sorted(per_currency.items()):
        if d != c:
            problems.add(f"{cur}: total debits {_money(d, cur)} differ from total credits "
                         f"{_money(c, cur)}")


def _money(minor: int, currency: str) -> str:
    try:
        return f"{format_amount(minor, currency)} {currency}"
    except Exception:  # an unknown currency or an amount beyond any format: as stored
        return f"{minor} (minor units) {currency}"


# -- the schema's fingerprint --------------------------------------------------------------------


def schema_fingerprint(conn: Connection) -> dict[str, str]:
    """Each trigger and constraint of the ledger's schema, by name, with a digest of its
    definition (and, on PostgreSQL, whether it is enabled)."""
    out: dict[str, str] = {}
    if is_postgres(conn):
        for name, table, definition, enabled in conn.exec_driver_sql(
                "SELECT t.tgname, c.relname, pg_get_triggerdef(t.oid), t.tgenabled "
                "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND NOT t.tgisinternal"):
            out[f"trigger {table}.{name}"] = _digest(
                f"{_unqualified(conn, str(definition))} enabled={enabled}")
        for name, table, definition in conn.exec_driver_sql(
                "SELECT k.conname, c.relname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
                "JOIN pg_class c ON c.oid = k.conrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema()"):
            out[f"constraint {table}.{name}"] = _digest(_unqualified(conn, str(definition)))
    else:
        for type_, name, sql in conn.exec_driver_sql(
                "SELECT type, name, sql FROM sqlite_master WHERE type IN ('trigger', 'table') "
                "AND name NOT LIKE 'sqlite_%'"):
            out[f"{type_} {name}"] = _digest(str(sql))
    return out


def _unqualified(conn: Connection, definition: str) -> str:
    # A definition names its schema: one ledger's fingerprint is the same in any schema.
    schema = str(conn.exec_driver_sql("SELECT current_schema()").scalar_one())
    return definition.replace(f"{schema}.", "")


def _digest(value: str) -> str:
    return sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _verify_schema(conn: Connection, problems: _Problems) -> None:
    body = conn.exec_driver_sql(
        "SELECT body FROM events WHERE kind = 'schema' ORDER BY seq DESC LIMIT 1").scalar()
    if body is None:
        problems.add("schema: no fingerprint was recorded (run 'wmc init')")
        return
    try:
        recorded: dict[str, str] = json.loads(str(body))["objects"]
    except (ValueError, KeyError, TypeError):
        problems.add("schema: the recorded fingerprint does not parse")
        return
    now = schema_fingerprint(conn)
    for name in sorted(recorded.keys() - now.keys()):
        problems.add(f"schema: {name} is missing (dropped behind the ledger's back)")
    for name in sorted(now.keys() - recorded.keys()):
        problems.add(f"schema: {name} was added behind the ledger's back")
    for name in sorted(k for k in recorded.keys() & now.keys() if recorded[k] != now[k]):
        problems.add(f"schema: {name} differs from the migrated schema (changed or disabled)")


def record_schema(conn: Connection, revision: str | None) -> bool:
    """Record the schema's fingerprint after a migration to ``revision``, if it is not the one
    recorded last. Returns whether it recorded."""
    if not table_exists(conn, "events"):  # a schema older than the events log
        return False
    body = {"revision": revision, "objects": schema_fingerprint(conn)}
    last = conn.exec_driver_sql(
        "SELECT body FROM events WHERE kind = 'schema' ORDER BY seq DESC LIMIT 1").scalar()
    if last is not None and json.loads(str(last)).get("revision") == revision:
        return False
    if last is not None and canonical(json.loads(str(last))) == canonical(body):
        return False
    record_event(conn, "schema", str(revision), body)
    return True
