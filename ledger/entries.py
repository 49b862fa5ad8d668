"""Entries and transfers as values, and the canonical encodings that the hashes are taken over.

Pure: no database, no I/O. A :class:`TransferSpec` moves one positive amount from a debit account
to a credit account in one currency, so every entry (a tuple of transfers posted together) is
balanced per currency by construction. An entry's ``digest`` is its idempotency fingerprint: the
same id with the same digest is a duplicate, with another digest a conflict. What is hashed for
tamper evidence (every stored column, in an unambiguous encoding) is ``ledger.records``'.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

DEBIT_NORMAL: Final = frozenset({"asset", "expense"})


class TransferSpec(NamedTuple):
    """One leg: ``amount`` minor units of ``currency`` from ``debit`` to ``credit`` (codes).

    A named tuple: immutable, and made in a fraction of a frozen dataclass's time (a
    conversion makes four).
    """

    debit: str
    credit: str
    amount: int
    currency: str
    value_date: dt.date | None = None  # None: the entry's value date
    reference: str | None = None


#: A transfer as a plain tuple, in :class:`TransferSpec` order: what the posting hot path takes.
TransferTuple = tuple[str, str, int, str, dt.date | None, str | None]


@dataclass(frozen=True, slots=True)
class EntrySpec:
    """What a client asks to post: transfers that stand or fall together, under its own id."""

    id: str
    kind: str
    value_date: dt.date
    transfers: tuple[TransferSpec, ...]
    meta: Mapping[str, Any] | None = None
    reverses: str | None = None  # the id of the entry this one reverses
    digest: str | None = None  # None: computed from the content by content_digest()
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)


def normal_balance(account_type: str, debits: int, credits: int) -> int:
    """The balance on the account's normal side (debit side for assets and expenses)."""
    return debits - credits if account_type in DEBIT_NORMAL else credits - debits


def canonical_meta(meta: Mapping[str, Any] | None) -> str | None:
    """Meta as canonical JSON (sorted keys, no spaces); values must already be str/int/bool."""
    if not meta:
        return None
    return json.dumps(dict(meta), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_text(entry: EntrySpec, meta_text: str | None = None) -> str:
    """The canonical text of what the client asked for: id, kind, value date, reversal, meta,
    and per transfer the account codes, amount, currency, value date and reference.

    ``meta_text`` is ``canonical_meta(entry.meta)`` when the caller has it already.
    """
    meta = meta_text if meta_text is not None else (canonical_meta(entry.meta) or "")
    return legs_content_text(entry.id, entry.kind, entry.value_date, entry.reverses, meta,
                             entry.transfers)


def legs_content_text(entry_id: str, kind: str, value_date: dt.date, reverses: str | None,
                      meta_text: str, transfers: Iterable[TransferTuple]) -> str:
    """:func:`content_text` of an entry given by its parts, its transfers as plain tuples in
    :class:`TransferSpec` order (debit, credit, amount, currency, value date, reference)."""
    texts = _DATE_TEXTS
    vd = texts.get(value_date) or _date_text(value_date)
    text = f"{entry_id}\x1f{kind}\x1f{vd}\x1f{reverses or ''}\x1f{meta_text}"
    for debit, credit, amount, currency, leg_vd, reference in transfers:
        leg_text = vd if leg_vd is None else texts.get(leg_vd) or _date_text(leg_vd)
        text += (f"\x1e{debit}\x1f{credit}\x1f{amount}\x1f{currency}\x1f{leg_text}\x1f"
                 f"{reference or ''}")
    return text


# Dates as their texts: formatting a date takes ten times a dict lookup, and an entry of four
# legs has five. A ledger's value dates are few; the cache starts again if it grows large.
_DATE_TEXTS: dict[dt.date, str] = {}


def _date_text(day: dt.date) -> str:
    if len(_DATE_TEXTS) >= 4096:
        _DATE_TEXTS.clear()
    text = _DATE_TEXTS[day] = f"{day}"
    return text


def digest_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def content_digest(entry: EntrySpec) -> str:
    """The default idempotency fingerprint: SHA-256 of :func:`content_text`."""
    return digest_text(content_text(entry))
