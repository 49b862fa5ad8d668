"""The settlement package's tables: scheme reference data, quota usage, and stored batches.

Declared on the ledger's declarative base so that one Alembic history (``ledger/migrations``)
creates them. Quota amounts are BIGINT minor units of CNY. A batch's report is kept as rows
(rejections, duplicates, positions, obligations); its gross payments are read back from the
ledger's own entries of the batch, so nothing is stored twice.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ledger.schema import Base


class Investor(Base):
    __tablename__ = "investors"
    __table_args__ = (
        CheckConstraint("direction IN ('southbound', 'northbound')", name="direction"),
        CheckConstraint("channel IN ('bank', 'broker')", name="channel"),
    )

    investor_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    direction: Mapped[str] = mapped_column(String(16))
    remittance_account: Mapped[str] = mapped_column(ForeignKey("accounts.code"))
    investment_account: Mapped[str] = mapped_column(ForeignKey("accounts.code"), unique=True)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("direction IN ('southbound', 'northbound')", name="direction"),
        CheckConstraint("risk IN ('R1', 'R2', 'R3', 'R4', 'R5')", name="risk"),
    )

    product: Mapped[str] = mapped_column(String(64), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    risk: Mapped[str] = mapped_column(String(2))
    direction: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(ForeignKey("accounts.code"))


class QuotaUsage(Base):
    """Per investor and channel: CNY remitted out and back, and the net usage counted."""

    __tablename__ = "quota_usage"
    __table_args__ = (CheckConstraint("remitted_out >= 0 AND remitted_back >= 0", name="sums"),)

    investor_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    remitted_out: Mapped[int] = mapped_column(BigInteger, default=0)
    remitted_back: Mapped[int] = mapped_column(BigInteger, default=0)
    used: Mapped[int] = mapped_column(BigInteger, default=0)


class AggregateQuota(Base):
    """Per direction, the net flow counted against the aggregate quota (shared by HK and MO)."""

    __tablename__ = "aggregate_quota"

    direction: Mapped[str] = mapped_column(String(16), primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger, default=0)


class Batch(Base):
    __tablename__ = "batches"

    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    file_name: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String(64))
    committed_at: Mapped[str] = mapped_column(String(40))
    instructions: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[str] = mapped_column(String(32))
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)


class BatchRejection(Base):
    __tablename__ = "batch_rejections"

    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.batch_id"), primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    instruction_id: Mapped[str] = mapped_column(String(128))
    code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)


class RejectedInstruction(Base):
    """An instruction id whose first judgement was a rejection: that outcome is final."""

    __tablename__ = "rejected_instructions"

    instruction_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.batch_id"))
    code: Mapped[str] = mapped_column(String(64))


class BatchDuplicate(Base):
    """An instruction of a batch counted as a ``duplicate``, and what it duplicates."""

    __tablename__ = "batch_duplicates"
    __table_args__ = (
        CheckConstraint("of_status IN ('posted', 'rejected')", name="of_status"),
    )

    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.batch_id"), primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    instruction_id: Mapped[str] = mapped_column(String(128))
    of_status: Mapped[str] = mapped_column(String(16))
    of_batch_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    of_code: Mapped[str | None] = mapped_column(String(64), nullable=True)


class BatchPosition(Base):
    __tablename__ = "batch_positions"

    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.batch_id"), primary_key=True)
    bank_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    net: Mapped[int] = mapped_column(BigInteger)


class BatchMovedDate(Base):
    """A leg of a batch's instruction whose value date moved (holiday or cut-off)."""

    __tablename__ = "batch_moved_dates"

    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.batch_id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    instruction_id: Mapped[str] = mapped_column(String(128))
    market: Mapped[str] = mapped_column(String(2))
    requested: Mapped[str] = mapped_column(String(10))
    value_date: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(16))


class BatchObligation(Base):
    __tablename__ = "batch_obligations"

    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.batch_id"), primary_key=True)
    payer: Mapped[str] = mapped_column(String(64), primary_key=True)
    payee: Mapped[str] = mapped_column(String(64), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    value_date: Mapped[str] = mapped_column(String(10), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class BatchReversal(Base):
    """A batch reverted whole by another batch (``wmc settle revert``); each at most once."""

    __tablename__ = "batch_reversals"
    __table_args__ = (CheckConstraint("batch_id <> reversal_batch_id", name="not_itself"),)

    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.batch_id"), primary_key=True)
    reversal_batch_id: Mapped[str] = mapped_column(ForeignKey("batches.batch_id"), unique=True)


class BatchQuotaChange(Base):
    """What a batch changed in one investor's quota usage on one channel (CNY minor units)."""

    __tablename__ = "batch_quota_changes"

    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.batch_id"), primary_key=True)
    investor_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    remitted_out: Mapped[int] = mapped_column(BigInteger)
    remitted_back: Mapped[int] = mapped_column(BigInteger)
    used: Mapped[int] = mapped_column(BigInteger)


class BatchAggregateChange(Base):
    """What a batch changed in one direction's aggregate quota usage."""

    __tablename__ = "batch_aggregate_changes"

    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.batch_id"), primary_key=True)
    direction: Mapped[str] = mapped_column(String(16), primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger)
