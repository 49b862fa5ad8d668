"""FX: quoted rates (kept without loss) and the record of revaluations; both append-only.

Rates are text, never float: ``bid``/``ask`` as the Decimal's plain text, ``as_of`` as the
original ISO 8601 text with its offset, ``as_of_utc`` as fixed-width UTC text that sorts as time.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.migrations.append_only import append_only_triggers

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CURRENCIES = "('MOP', 'HKD', 'CNY', 'USD')"
TABLES = ("fx_rates", "fx_revaluations")


def upgrade() -> None:
    op.create_table(
        "fx_rates",
        sa.Column("book", sa.String(64), nullable=False),
        sa.Column("base", sa.String(3), nullable=False),
        sa.Column("quote", sa.String(3), nullable=False),
        sa.Column("as_of_utc", sa.String(27), nullable=False),
        sa.Column("as_of", sa.String(64), nullable=False),
        sa.Column("bid", sa.String(64), nullable=False),
        sa.Column("ask", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("book", "base", "quote", "as_of_utc", name="pk_fx_rates"),
        sa.CheckConstraint(f"base IN {CURRENCIES}", name="base"),
        sa.CheckConstraint(f"quote IN {CURRENCIES}", name="quote"),
        sa.CheckConstraint("base <> quote", name="pair"),
    )
    op.create_table(
        "fx_revaluations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("book", sa.String(64), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("bank_id", sa.String(64), sa.ForeignKey("banks.bank_id"), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reporting_currency", sa.String(3), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("rate", sa.Text, nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.Column("previous", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("entry_id", sa.String(128)),
        sa.Column("posted_at", sa.String(40), nullable=False),
        sa.UniqueConstraint(
            "book", "as_of", "bank_id", "currency", name="uq_fx_revaluations_line"
        ),
        sa.CheckConstraint(f"currency IN {CURRENCIES}", name="currency"),
        sa.CheckConstraint(
            f"reporting_currency IN {CURRENCIES}", name="reporting_currency"
        ),
        sa.CheckConstraint("amount = value - previous", name="amount"),
    )
    op.create_index(
        "ix_fx_revaluations_carry",
        "fx_revaluations",
        ["reporting_currency", "bank_id", "currency"],
    )
    for ddl in append_only_triggers(op.get_bind().dialect.name, TABLES):
        op.execute(ddl)


def downgrade() -> None:
    # Dropping a table drops its triggers; wmc_append_only() belongs to 0001.
    op.drop_index("ix_fx_revaluations_carry", table_name="fx_revaluations")
    for table in reversed(TABLES):
        op.drop_table(table)
