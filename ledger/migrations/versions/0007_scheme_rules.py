"""The scheme's rules as published: product types, institution kinds, investor eligibility dates.

- ``products``: the nullable ``product_type``, ``category``, ``complex``, ``domicile``,
  ``authorisation`` the eligibility table reads (NULL: not stated; a product of no stated type
  is judged as a public fund, as every product was before this revision).
- ``banks``: ``kind`` (NOT NULL, default ``bank``), ``bank`` or ``securities_firm``.
- ``investors``: the nullable ``eligible_from`` and ``eligible_until`` dates the bank attests.

Every existing row stays valid: the new columns are nullable or take their default.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.records import recording, rerecord

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PRODUCT_TYPES = ("deposit", "wealth_management", "public_fund", "bond", "structured_product",
                 "other")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


# Written as DDL, not op.add_column: a column with its CHECK (and a default), added in place on
# both SQLite and PostgreSQL (SQLite's ALTER TABLE takes a column constraint).
ADD = [
    "ALTER TABLE banks ADD COLUMN kind VARCHAR(16) DEFAULT 'bank' NOT NULL "
    f"CONSTRAINT ck_banks_kind CHECK (kind IN ({_in(('bank', 'securities_firm'))}))",
    "ALTER TABLE products ADD COLUMN product_type VARCHAR(32) "
    f"CONSTRAINT ck_products_product_type CHECK (product_type IN ({_in(PRODUCT_TYPES)}))",
]


def upgrade() -> None:
    for ddl in ADD:
        op.execute(ddl)
    op.add_column("products", sa.Column("category", sa.String(64), nullable=True))
    op.add_column("products", sa.Column("complex", sa.Boolean, nullable=True))
    op.add_column("products", sa.Column("domicile", sa.String(2), nullable=True))
    op.add_column("products", sa.Column("authorisation", sa.String(32), nullable=True))
    op.add_column("investors", sa.Column("eligible_from", sa.Date, nullable=True))
    op.add_column("investors", sa.Column("eligible_until", sa.Date, nullable=True))
    # The events log says what the rows of the tables with new columns became.
    with recording(by="migration 0007"):
        for table in ("banks", "products", "investors"):
            rerecord(op.get_bind(), table)


def downgrade() -> None:
    # Plain DROP COLUMN on both (SQLite 3.35+): each CHECK added above belongs to its column
    # and goes with it; a batch copy of the table would keep the CHECK and fail.
    for table, column in (("investors", "eligible_until"), ("investors", "eligible_from"),
                          ("products", "authorisation"), ("products", "domicile"),
                          ("products", "complex"), ("products", "category"),
                          ("products", "product_type"), ("banks", "kind")):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
