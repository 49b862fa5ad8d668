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
from collections.abc import Sequence
from typing import Any

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
    rows = conn.execute(text(_LEGS + "WHERE e.id = :id ORDER BY t.id DESC"),
                        {"id": entry_id}).all()
    if not rows:
        raise NotFound(f"entry {entry_id!r} does not exist")
    kind = rows[0][1]
    if kind in SCHEME_KINDS:
        raise ConflictError(
            f"entry {entry_id!r} is a {kind}: its quota usage follows scheme instructions, so "
            f"correct it with a {'repatriate' if kind == 'remit' else 'remit'} instruction"
        )
    return _reversal(rows, new_id or f"REV-{entry_id}", value_date)


def batch_reversal_entries(
    conn: Connection, batch_id: str, first_seq: int, last_seq: int, *, id_prefix: str,
) -> list[EntrySpec]:
    """The entries reversing every entry of a batch, newest first, ids ``{id_prefix}{id}``.

    Remits and repatriations are reversed too: the caller gives their quota usage back (a
    batch revert undoes the batch's quota changes as recorded with it).
    """
    rows = conn.execute(text(
        _LEGS + "WHERE e.seq BETWEEN :a AND :b AND e.batch_id = :batch "
        "ORDER BY e.seq DESC, t.id DESC"), {"a": first_seq, "b": last_seq, "batch": batch_id})
    specs: list[EntrySpec] = []
    legs: list[Any] = []
    for row in rows:
        if legs and legs[0][0] != row[0]:
            specs.append(_reversal(legs, f"{id_prefix}{legs[0][0]}", None))
            legs = []
        legs.append(row)
    if legs:
        specs.append(_reversal(legs, f"{id_prefix}{legs[0][0]}", None))
    return specs


_LEGS = (
    "SELECT e.id, e.kind, e.value_date, d.code, c.code, t.amount, t.currency, t.value_date, "
    "t.reference FROM entries e JOIN transfers t ON t.entry_seq = e.seq "
    "JOIN accounts d ON d.id = t.debit_account_id "
    "JOIN accounts c ON c.id = t.credit_account_id "
)


def _reversal(rows: Sequence[Any], new_id: str, value_date: dt.date | None) -> EntrySpec:
    """The one rule of a reversal: the original's legs in reverse order, debit and credit
    swapped, same amounts, currencies, dates and references, naming the original."""
    legs = tuple(
        TransferSpec(credit, debit, int(amount), currency,
                     value_date or _date(leg_date), reference)
        for _, _, _, debit, credit, amount, currency, leg_date, reference in rows
    )
    return EntrySpec(new_id, "reversal", value_date or _date(rows[0][2]), legs,
                     reverses=rows[0][0])
