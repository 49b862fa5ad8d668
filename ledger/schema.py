"""The database schema, as typed SQLAlchemy ORM classes.

This module declares every table of the database (the ledger's, and those the FX and settlement
packages keep next to it) so that one Alembic history, in ``ledger/migrations``, creates and
upgrades the whole of it. The ORM classes serve reads and administration; the posting hot path
writes with driver-level bulk statements against the same tables.

Invariants the database itself enforces (see the migrations for the triggers):
- a transfer has one debit account, one different credit account, one amount > 0 and one
  currency, which must be the currency of both accounts: every transfer, and so every entry and
  every currency, is balanced by construction;
- entries and transfers are append-only: UPDATE and DELETE (and TRUNCATE on PostgreSQL) are refused;
- an account's code, bank, type and currency never change once created;
- an account that does not allow overdraft never has a balance below zero on its normal side.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ACCOUNT_TYPES = ("asset", "liability", "equity", "income", "expense")
DEBIT_NORMAL_TYPES = ("asset", "expense")
MARKETS = ("MO", "HK", "CN")
#: Column lengths of identifiers, which the readers enforce (``ledger.files.Field.limit``):
#: account codes, entry ids and references; bank ids; other keys (investors, products, books).
ACCOUNT_LENGTH = 128
ENTRY_ID_LENGTH = 128
BANK_ID_LENGTH = 64
KEY_LENGTH = 64
# The rate and revaluation tables of fx.schema still list these; accounts check only the shape.
CURRENCY_CODES = ("MOP", "HKD", "CNY", "USD")


# A 64-bit id; on SQLite an INTEGER PRIMARY KEY, i.e. the rowid itself (no second index).
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Bank(Base):
    __tablename__ = "banks"
    __table_args__ = (CheckConstraint(_in("market", MARKETS), name="market"),)

    bank_id: Mapped[str] = mapped_column(String(BANK_ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    market: Mapped[str] = mapped_column(String(2))


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(_in("type", ACCOUNT_TYPES), name="type"),
        # Which currencies are carried is a setting; the database holds the code's shape
        # (migration 0006), in each dialect's own pattern syntax.
        CheckConstraint("currency GLOB '[A-Z][A-Z][A-Z]'", name="currency").ddl_if(
            dialect="sqlite"
        ),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency").ddl_if(
            dialect="postgresql"
        ),
        CheckConstraint("debits_posted >= 0 AND credits_posted >= 0", name="posted_non_negative"),
        CheckConstraint(
            "allow_overdraft OR CASE WHEN "
            + _in("type", DEBIT_NORMAL_TYPES)
            + " THEN debits_posted >= credits_posted ELSE credits_posted >= debits_posted END",
            name="no_overdraft",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(ACCOUNT_LENGTH), unique=True)
    bank_id: Mapped[str] = mapped_column(ForeignKey("banks.bank_id"))
    type: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    name: Mapped[str] = mapped_column(Text, default="")
    allow_overdraft: Mapped[bool] = mapped_column(Boolean, default=False)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)


class Entry(Base):
    """A set of transfers posted together atomically, under a client-chosen id."""

    __tablename__ = "entries"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(ENTRY_ID_LENGTH), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    value_date: Mapped[dt.date] = mapped_column(Date)
    batch_id: Mapped[str | None] = mapped_column(String(64))
    reverses: Mapped[int | None] = mapped_column(
        ForeignKey("entries.seq"), unique=True, nullable=True
    )
    meta: Mapped[str | None] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    posted_at: Mapped[str] = mapped_column(String(40))
    hash: Mapped[str] = mapped_column(String(64))


class Transfer(Base):
    """One amount moved from a debit account to a credit account, in their common currency."""

    __tablename__ = "transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="accounts_different"),
        Index("ix_transfers_entry_seq", "entry_seq"),
        Index("ix_transfers_debit_account", "debit_account_id", "entry_seq"),
        Index("ix_transfers_credit_account", "credit_account_id", "entry_seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    entry_seq: Mapped[int] = mapped_column(ForeignKey("entries.seq"))
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    value_date: Mapped[dt.date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(ENTRY_ID_LENGTH))


class Event(Base):
    """One row written to a covered reference table, as a record of the events log (see
    ``ledger.records``): append-only, hashed into the events tree."""

    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[str] = mapped_column(String(40))
    recorded_by: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(64))


class LedgerHead(Base):
    """The single row every writer locks first: the sequence counters, both logs' Merkle
    frontiers and the ledger's root."""

    __tablename__ = "ledger_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_transfer_id: Mapped[int] = mapped_column(BigInteger, default=0)
    root: Mapped[str] = mapped_column(String(64))
    ledger_id: Mapped[str] = mapped_column(String(32))
    entries_frontier: Mapped[str] = mapped_column(Text, default="")
    events_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    events_frontier: Mapped[str] = mapped_column(Text, default="")

