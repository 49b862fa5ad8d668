"""A settled batch's duplicates: which instruction of the batch duplicated what.

``batch_duplicates`` holds one row per instruction of a batch that was counted as a
``duplicate`` (its id already judged with the same content): its line, its id, and what it
duplicates (``posted`` in batch ``of_batch_id``, or ``rejected`` there with ``of_code``), so that
``wmc settle show`` lists them as the run did. Append-only, like the rest of a batch's record.
Batches settled before this revision have no rows here (their count stays in ``batches``).

Revision ID: 0009
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.migrations.append_only import append_only_triggers

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_duplicates",
        sa.Column("batch_id", sa.String(64), sa.ForeignKey("batches.batch_id"), primary_key=True),
        sa.Column("line", sa.Integer, primary_key=True),
        sa.Column("instruction_id", sa.String(128), nullable=False),
        sa.Column("of_status", sa.String(16), nullable=False),
        # NULL: posted outside any batch (Ledger.post); else the batch that judged it first
        sa.Column("of_batch_id", sa.String(64), nullable=True),
        sa.Column("of_code", sa.String(64), nullable=True),
        sa.CheckConstraint("of_status IN ('posted', 'rejected')", name="of_status"),
    )
    for ddl in append_only_triggers(op.get_bind().dialect.name, ("batch_duplicates",)):
        op.execute(ddl)


def downgrade() -> None:
    op.drop_table("batch_duplicates")
