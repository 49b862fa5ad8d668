"""Accounts take any three-letter currency code; which currencies are carried is a setting.

The CHECK on ``accounts.currency`` listed four codes (MOP, HKD, CNY, USD). Which ISO 4217
currencies a ledger carries is now the setting ``ledger.currencies``, checked where accounts are
loaded; the database keeps a shape check (three upper-case ASCII letters), so a lower-case or
truncated code still cannot get in past the application. The composite foreign keys and the
trigger that hold every transfer to its accounts' one currency are untouched.

SQLite cannot alter a CHECK. Rebuilding ``accounts`` would drop its triggers and break the
references of ``transfers``; instead the table's stored definition is edited in place, the
procedure SQLite documents for removing or changing CHECK constraints (``PRAGMA
writable_schema``, "Making Other Kinds Of Table Schema Changes", sqlite.org/lang_altertable.html):
no row is rewritten, and existing rows are checked against the new constraint before the
change commits.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD_CHECK = "CONSTRAINT ck_accounts_currency CHECK (currency IN ('MOP', 'HKD', 'CNY', 'USD'))"
SQLITE_CHECK = "CONSTRAINT ck_accounts_currency CHECK (currency GLOB '[A-Z][A-Z][A-Z]')"
POSTGRES_CHECK = "currency ~ '^[A-Z]{3}$'"
OLD_POSTGRES_CHECK = "currency IN ('MOP', 'HKD', 'CNY', 'USD')"


def _sqlite_swap(old: str, new: str) -> None:
    conn = op.get_bind()
    sql = conn.execute(
        text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'accounts'")
    ).scalar_one()
    if old not in sql:
        raise RuntimeError(f"accounts table definition lacks the expected constraint {old!r}")
    version = conn.execute(text("PRAGMA schema_version")).scalar_one()
    conn.execute(text("PRAGMA writable_schema = ON"))
    conn.execute(
        text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'accounts'"),
        {"sql": sql.replace(old, new)},
    )
    # A new schema version makes every connection re-read the definition.
    conn.execute(text(f"PRAGMA schema_version = {int(version) + 1}"))
    conn.execute(text("PRAGMA writable_schema = OFF"))
    bad = conn.execute(
        text(f"SELECT count(*) FROM accounts WHERE NOT ({new.partition('CHECK ')[2]})")
    ).scalar_one()
    if bad:
        raise RuntimeError(f"{bad} accounts violate the new constraint {new!r}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("currency", "accounts", type_="check")
        op.create_check_constraint("currency", "accounts", POSTGRES_CHECK)
    else:
        _sqlite_swap(OLD_CHECK, SQLITE_CHECK)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("currency", "accounts", type_="check")
        op.create_check_constraint("currency", "accounts", OLD_POSTGRES_CHECK)
    else:
        _sqlite_swap(SQLITE_CHECK, OLD_CHECK)
