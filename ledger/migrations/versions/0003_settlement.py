"""Settlement: investors, products, quota usage, batches and their reports.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.migrations.append_only import append_only_triggers

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DIRECTION = "direction IN ('southbound', 'northbound')"
RECORD_TABLES = ("batches", "batch_rejections", "rejected_instructions", "batch_positions",
                 "batch_moved_dates", "batch_obligations")


def upgrade() -> None:
    op.create_table(
        "investors",
        sa.Column("investor_id", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(8), primary_key=True),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("remittance_account", sa.String(128), sa.ForeignKey("accounts.code"),
                  nullable=False),
        sa.Column("investment_account", sa.String(128), sa.ForeignKey("accounts.code"),
                  nullable=False, unique=True),
        sa.CheckConstraint(DIRECTION, name="direction"),
        sa.CheckConstraint("channel IN ('bank', 'broker')", name="channel"),
    )
    op.create_table(
        "products",
        sa.Column("product", sa.String(64), primary_key=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("risk", sa.String(2), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("account", sa.String(128), sa.ForeignKey("accounts.code"), nullable=False),
        sa.CheckConstraint(DIRECTION, name="direction"),
        sa.CheckConstraint("risk IN ('R1', 'R2', 'R3', 'R4', 'R5')", name="risk"),
    )
    op.create_table(
        "quota_usage",
        sa.Column("investor_id", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(8), primary_key=True),
        sa.Column("remitted_out", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("remitted_back", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("used", sa.BigInteger, nullable=False, server_default="0"),
        sa.CheckConstraint("remitted_out >= 0 AND remitted_back >= 0", name="sums"),
        sa.ForeignKeyConstraint(["investor_id", "channel"],
                                ["investors.investor_id", "investors.channel"]),
    )
    op.create_table(
        "aggregate_quota",
        sa.Column("direction", sa.String(16), primary_key=True),
        sa.Column("used", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.execute("INSERT INTO aggregate_quota (direction, used) VALUES ('southbound', 0), "
               "('northbound', 0)")
    op.create_table(
        "batches",
        sa.Column("batch_id", sa.String(64), primary_key=True),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("committed_at", sa.String(40), nullable=False),
        sa.Column("instructions", sa.Integer, nullable=False),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("duplicates", sa.Integer, nullable=False),
        sa.Column("seconds", sa.String(32), nullable=False),
        # The batch's entries are the contiguous seq range first_seq..last_seq (no index needed).
        sa.Column("first_seq", sa.BigInteger, nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "batch_rejections",
        sa.Column("batch_id", sa.String(64), sa.ForeignKey("batches.batch_id"), primary_key=True),
        sa.Column("line", sa.Integer, primary_key=True),
        sa.Column("instruction_id", sa.String(128), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    # The idempotency of rejections: an instruction id judged and rejected keeps that outcome;
    # the same id with the same content again is a duplicate, never judged a second time.
    op.create_table(
        "rejected_instructions",
        sa.Column("instruction_id", sa.String(128), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("batch_id", sa.String(64), sa.ForeignKey("batches.batch_id"), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
    )
    op.create_table(
        "batch_positions",
        sa.Column("batch_id", sa.String(64), sa.ForeignKey("batches.batch_id"), primary_key=True),
        sa.Column("bank_id", sa.String(64), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("net", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "batch_moved_dates",
        sa.Column("batch_id", sa.String(64), sa.ForeignKey("batches.batch_id"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),  # the report's order
        sa.Column("instruction_id", sa.String(128), nullable=False),
        sa.Column("market", sa.String(2), nullable=False),
        sa.Column("requested", sa.String(10), nullable=False),
        sa.Column("value_date", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
    )
    op.create_table(
        "batch_obligations",
        sa.Column("batch_id", sa.String(64), sa.ForeignKey("batches.batch_id"), primary_key=True),
        sa.Column("payer", sa.String(64), primary_key=True),
        sa.Column("payee", sa.String(64), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("value_date", sa.String(10), primary_key=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
    )
    # A settled batch's record, and the rejections that make ids final, are never rewritten.
    for ddl in append_only_triggers(op.get_bind().dialect.name, RECORD_TABLES):
        op.execute(ddl)


def downgrade() -> None:
    for table in ("batch_obligations", "batch_moved_dates", "batch_positions",
                  "rejected_instructions", "batch_rejections", "batches", "aggregate_quota",
                  "quota_usage", "products", "investors"):
        op.drop_table(table)
