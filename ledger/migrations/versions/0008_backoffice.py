"""Back office: the journal's and registers' indexes, and the records of batch reverts.

- ``ix_transfers_debit_account`` and ``ix_transfers_credit_account``, on (account id, entry seq):
  a journal page filtered by account or bank is one ordered range read of each, and a register
  or an as-of balance reads only the account's own transfers. Their cost on posting is measured
  in the README (Design: the journal).
- ``batch_reversals``: a batch reverted, and the batch that reverts it (each at most once).
- ``batch_quota_changes`` and ``batch_aggregate_changes``: what each batch changed in each
  investor's quota usage and in each direction's aggregate, so that a revert gives back
  exactly that (with the net-usage floor, a repatriation's effect depends on the usage before).
All three are append-only.

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.migrations.append_only import append_only_triggers

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

RECORD_TABLES = ("batch_reversals", "batch_quota_changes", "batch_aggregate_changes")


def upgrade() -> None:
    op.create_index("ix_transfers_debit_account", "transfers",
                    ["debit_account_id", "entry_seq"])
    op.create_index("ix_transfers_credit_account", "transfers",
                    ["credit_account_id", "entry_seq"])
    op.create_table(
        "batch_reversals",
        sa.Column("batch_id", sa.String(64), sa.ForeignKey("batches.batch_id"),
                  primary_key=True),
        sa.Column("reversal_batch_id", sa.String(64), sa.ForeignKey("batches.batch_id"),
                  nullable=False, unique=True),
        sa.CheckConstraint("batch_id <> reversal_batch_id", name="not_itself"),
    )
    op.create_table(
        "batch_quota_changes",
        sa.Column("batch_id", sa.String(64), sa.ForeignKey("batches.batch_id"),
                  primary_key=True),
        sa.Column("investor_id", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(8), primary_key=True),
        sa.Column("remitted_out", sa.BigInteger, nullable=False),
        sa.Column("remitted_back", sa.BigInteger, nullable=False),
        sa.Column("used", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "batch_aggregate_changes",
        sa.Column("batch_id", sa.String(64), sa.ForeignKey("batches.batch_id"),
                  primary_key=True),
        sa.Column("direction", sa.String(16), primary_key=True),
        sa.Column("used", sa.BigInteger, nullable=False),
    )
    for ddl in append_only_triggers(op.get_bind().dialect.name, RECORD_TABLES):
        op.execute(ddl)


def downgrade() -> None:
    for table in reversed(RECORD_TABLES):
        op.drop_table(table)
    op.drop_index("ix_transfers_credit_account", table_name="transfers")
    op.drop_index("ix_transfers_debit_account", table_name="transfers")
