"""The FX tables: quoted rates, and the record of each revaluation.

Declared on the ledger's shared declarative ``Base`` so that one Alembic history (``0002``)
creates them next to the ledger's tables.

What the database guarantees here:

- ``fx_rates`` keeps each quote **without loss**: ``bid`` and ``ask`` are the ``Decimal``'s own
  plain text (``format(d, "f")``: every digit and trailing zero kept, never a float, never a
  ``NUMERIC`` read back as float), ``as_of`` is the original ISO 8601 text with its offset, and
  ``as_of_utc`` the same instant as fixed-width UTC text (``2025-03-03T01:15:00.000000Z``) so
  that text order is time order on every database. The key is ``(book, base, quote,
  as_of_utc)``: one quote per pair, book and instant.
- ``fx_revaluations`` records, per revaluation (book, date) and per bank and currency, the
  position revalued, the exact closing mid used (as the fraction ``n/d``), the value in the
  reporting currency, the value carried before, and the id of the entry that posted the
  difference (``NULL`` when the difference was zero).
- Both tables are append-only: UPDATE, DELETE (and TRUNCATE on PostgreSQL) are refused by
  triggers, as for entries; a rate is corrected by a newer quote, never by an edit.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.schema import CURRENCY_CODES, Base


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class RateRow(Base):
    """One quote of one rate book, as loaded (see the module docstring for the encodings)."""

    __tablename__ = "fx_rates"
    __table_args__ = (
        CheckConstraint(_in("base", CURRENCY_CODES), name="base"),
        CheckConstraint(_in("quote", CURRENCY_CODES), name="quote"),
        CheckConstraint("base <> quote", name="pair"),
    )

    book: Mapped[str] = mapped_column(String(64), primary_key=True)
    base: Mapped[str] = mapped_column(String(3), primary_key=True)
    quote: Mapped[str] = mapped_column(String(3), primary_key=True)
    as_of_utc: Mapped[str] = mapped_column(String(27), primary_key=True)
    as_of: Mapped[str] = mapped_column(String(64))
    bid: Mapped[str] = mapped_column(String(64))
    ask: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text, default="")


class RevaluationRow(Base):
    """One line of one revaluation: a bank's FX position in one currency, valued at a close."""

    __tablename__ = "fx_revaluations"
    __table_args__ = (
        UniqueConstraint("book", "as_of", "bank_id", "currency", name="uq_fx_revaluations_line"),
        CheckConstraint(_in("currency", CURRENCY_CODES), name="currency"),
        CheckConstraint(_in("reporting_currency", CURRENCY_CODES), name="reporting_currency"),
        CheckConstraint("amount = value - previous", name="amount"),
        Index("ix_fx_revaluations_carry", "reporting_currency", "bank_id", "currency"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    book: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[dt.date] = mapped_column(Date)
    bank_id: Mapped[str] = mapped_column(ForeignKey("banks.bank_id"))
    currency: Mapped[str] = mapped_column(String(3))
    reporting_currency: Mapped[str] = mapped_column(String(3))
    #: The bank's exposure in ``currency``, minor units: credits - debits of its FX position.
    position: Mapped[int] = mapped_column(BigInteger)
    #: The exact closing mid, reporting-currency units per 1 ``currency``, as ``"n/d"``.
    rate: Mapped[str] = mapped_column(Text)
    #: ``position`` at ``rate`` in minor units of the reporting currency, rounded half-even.
    value: Mapped[int] = mapped_column(BigInteger)
    #: The value carried by the previous revaluation of this bank and currency (0 if none).
    previous: Mapped[int] = mapped_column(BigInteger)
    #: ``value - previous``: what the entry posted (signed).
    amount: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    posted_at: Mapped[str] = mapped_column(String(40))
