"""Back-office reads: the journal's and registers' indexes.

- ``ix_transfers_debit_account`` and ``ix_transfers_credit_account``, on (account id, entry seq):
  a journal page filtered by account or bank is one ordered range read of each, and a register
  or an as-of balance reads only the account's own transfers. Their cost on posting is measured
  in the README (Design: the journal).

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_transfers_debit_account", "transfers",
                    ["debit_account_id", "entry_seq"])
    op.create_index("ix_transfers_credit_account", "transfers",
                    ["credit_account_id", "entry_seq"])


def downgrade() -> None:
    op.drop_index("ix_transfers_credit_account", table_name="transfers")
    op.drop_index("ix_transfers_debit_account", table_name="transfers")
