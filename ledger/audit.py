"""``wmc audit verify``: recompute what the ledger promises and name the first thing broken.

Checks, in one pass over the entries in sequence order:
- the sequence has no gap and the chain hash of every entry recomputes from the previous one
  and the entry's stored columns and transfers (so a transfer changed, removed or added behind
  the library's back is found, naming the entry);
- every transfer's currency is both its accounts' currency, its amount is positive;
- the ledger head holds the last entry's hash;
then, per account, that the running totals equal the sums of its transfers, and per currency
that debits equal credits.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from ledger.entries import GENESIS_HASH, EntrySpec, TransferSpec, chain_hash, content_text
from ledger.errors import LedgerError
from ledger.money import format_amount


@dataclass(frozen=True, slots=True)
class AuditReport:
    """What ``wmc audit verify`` checked and the problems found (none: ``ok``)."""

    entries: int
    transfers: int
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems


def _date(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def verify(conn: Connection, *, max_problems: int = 20) -> AuditReport:
    problems: list[str] = []
    accounts = {
        int(r[0]): (r[1], r[2], int(r[3]), int(r[4]))
        for r in conn.execute(
            text("SELECT id, code, currency, debits_posted, credits_posted FROM accounts")
        )
    }
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    prev_hash = GENESIS_HASH
    expected_seq = 1
    n_entries = n_transfers = 0
    rows = conn.execution_options(yield_per=10_000).execute(
        text(
            "SELECT e.seq, e.id, e.kind, e.value_date, e.batch_id, r.id, e.meta, e.digest, "
            "e.posted_at, e.hash, t.id, t.debit_account_id, t.credit_account_id, t.amount, "
            "t.currency, t.value_date, t.reference "
            "FROM entries e LEFT JOIN transfers t ON t.entry_seq = e.seq "
            "LEFT JOIN entries r ON r.seq = e.reverses ORDER BY e.seq, t.id"
        )
    )
    current: tuple[object, ...] | None = None
    legs: list[TransferSpec] = []
    first_tid = 0

    def close_entry() -> None:
        nonlocal prev_hash, expected_seq, n_entries
        if current is None:  # pragma: no cover - called only once an entry has been read
            return
        seq = int(str(current[0]))
        n_entries += 1
        if seq != expected_seq:
            problems.append(f"entry seq {seq} ({current[1]}): expected seq {expected_seq}")
        expected_seq = seq + 1
        if not legs:
            problems.append(f"entry {current[1]} (seq {seq}) has no transfers")
        stored = EntrySpec(str(current[1]), str(current[2]), _date(current[3]), tuple(legs),
                           reverses=None if current[5] is None else str(current[5]))
        content = content_text(stored, "" if current[6] is None else str(current[6]))
        recomputed = chain_hash(
            prev_hash, seq=seq, first_transfer_id=first_tid,
            batch_id=None if current[4] is None else str(current[4]),
            posted_at=str(current[8]), digest=str(current[7]), content=content,
        )
        if recomputed != current[9]:
            problems.append(
                f"entry {current[1]} (seq {seq}): hash does not match its content or the chain "
                "(changed, added or removed behind the ledger's back)"
            )
        prev_hash = str(current[9])

    for r in rows:
        if current is None or r[0] != current[0]:
            if current is not None:
                close_entry()
                if len(problems) >= max_problems:
                    break
            current, legs = tuple(r[:10]), []
            first_tid = 0 if r[10] is None else int(r[10])
        if r[10] is None:
            continue
        n_transfers += 1
        debit, credit = accounts.get(int(r[11])), accounts.get(int(r[12]))
        amount, cur = int(r[13]), str(r[14])
        if debit is None or credit is None:
            problems.append(f"entry {current[1]}: transfer {r[10]} names a missing account")
            continue
        if debit[1] != cur or credit[1] != cur:
            problems.append(f"entry {current[1]}: transfer {r[10]} currency {cur} differs "
                            f"from its accounts' ({debit[1]}, {credit[1]})")
        if amount <= 0:
            problems.append(f"entry {current[1]}: transfer {r[10]} amount "
                            f"{_shown(amount, cur)} is not > 0")
        sums[int(r[11])][0] += amount
        sums[int(r[12])][1] += amount
        legs.append(TransferSpec(debit[0], credit[0], amount, cur, _date(r[15]), r[16]))
    else:
        if current is not None:
            close_entry()
    head = conn.execute(text("SELECT last_seq, last_hash FROM ledger_head WHERE id = 1")).one()
    if not problems and (int(head[0]) != expected_seq - 1 or head[1] != prev_hash):
        problems.append(
            f"ledger head (seq {head[0]}) does not match the last entry (seq {expected_seq - 1})"
        )
    per_currency: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for acc_id, (code, cur, debits, credits) in sorted(accounts.items()):
        per_currency[cur][0] += debits
        per_currency[cur][1] += credits
        s = sums.get(acc_id, [0, 0])
        if (debits, credits) != (s[0], s[1]) and len(problems) < max_problems:
            problems.append(
                f"account {code}: running totals debits {_shown(debits, cur)} credits "
                f"{_shown(credits, cur)} differ from its transfers' debits {_shown(s[0], cur)} "
                f"credits {_shown(s[1], cur)}"
            )
    for cur, (d, c) in sorted(per_currency.items()):
        if d != c:
            problems.append(f"{cur}: total debits {_shown(d, cur)} differ from total credits "
                            f"{_shown(c, cur)}")
    return AuditReport(n_entries, n_transfers, tuple(problems))


def _shown(minor: int, code: str) -> str:
    """An amount in a problem's text: major units with the currency (``100000.00 HKD``), as
    people read it; minor units only when the currency is unknown (the problem may be that)."""
    try:
        return f"{format_amount(minor, code)} {code}"
    except LedgerError:
        return f"{minor} (minor units of {code!r})"
