"""Corrections: a posted entry is never changed; it is reversed by a new entry that names it.

:func:`reversal_entry` reads the original's transfers and builds the entry that undoes them:
the same amounts and currencies with debit and credit swapped, in reverse order, under a new id,
with ``reverses`` naming the original. Posting it goes through the ordinary poster, so every
check holds (the accounts still open, no overdraft) and the database allows each entry to be
reversed once. Cross-border remittances are not reversed here: their quota usage follows
scheme instructions (a ``repatriate`` undoes a ``remit``), not ledger corrections.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, text

from ledger.entries import EntrySpec, TransferSpec
from ledger.errors import ConflictError, NotFound

SCHEME_KINDS = frozenset({"remit", "repatriate"})


def _date(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def reversal_entry(
    conn: Connection,
    entry_id: str,
    *,
    new_id: str | None = None,
    value_date: dt.date | None = None,
) -> EntrySpec:
    """The entry that reverses ``entry_id`` (default id ``REV-{entry_id}``)."""
    rows = conn.execute(text(
        "SELECT e.kind, e.value_date, d.code, c.code, t.amount, t.currency, t.value_date, "
        "t.reference FROM entries e JOIN transfers t ON t.entry_seq = e.seq "
        "JOIN accounts d ON d.id = t.debit_account_id "
        "JOIN accounts c ON c.id = t.credit_account_id WHERE e.id = :id ORDER BY t.id DESC"
    ), {"id": entry_id}).all()
    if not rows:
        raise NotFound(f"entry {entry_id!r} does not exist")
    kind = rows[0][0]
    if kind in SCHEME_KINDS:
        raise ConflictError(
            f"entry {entry_id!r} is a {kind}: its quota usage follows scheme instructions, so "
            f"correct it with a {'repatriate' if kind == 'remit' else 'remit'} instruction"
        )
    legs = tuple(
        TransferSpec(credit, debit, int(amount), currency,
                     value_date or _date(leg_date), reference)
        for _, _, debit, credit, amount, currency, leg_date, reference in rows
    )
    return EntrySpec(new_id or f"REV-{entry_id}", "reversal", value_date or _date(rows[0][1]),
                     legs, reverses=entry_id)
