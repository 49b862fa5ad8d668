"""Ledger core: banks, accounts, entries, transfers, the chain head, and the triggers.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.migrations.append_only import append_only_triggers

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
GENESIS = "0" * 64

OVERDRAFT = (
    "allow_overdraft OR CASE WHEN type IN ('asset', 'expense') "
    "THEN debits_posted >= credits_posted ELSE credits_posted >= debits_posted END"
)

SQLITE_TRIGGERS = [
    """CREATE TRIGGER transfers_currency BEFORE INSERT ON transfers
    WHEN (SELECT currency FROM accounts WHERE id = NEW.debit_account_id) IS NOT NEW.currency
      OR (SELECT currency FROM accounts WHERE id = NEW.credit_account_id) IS NOT NEW.currency
    BEGIN SELECT RAISE(ABORT, 'currency_mismatch: transfer and account currencies differ'); END""",
    """CREATE TRIGGER accounts_identity BEFORE UPDATE OF code, bank_id, type, currency ON accounts
    WHEN NEW.code IS NOT OLD.code OR NEW.bank_id IS NOT OLD.bank_id
      OR NEW.type IS NOT OLD.type OR NEW.currency IS NOT OLD.currency
    BEGIN SELECT RAISE(ABORT, 'an account''s code, bank, type and currency never change'); END""",
    """CREATE TRIGGER accounts_no_delete BEFORE DELETE ON accounts
    BEGIN SELECT RAISE(ABORT, 'accounts are never deleted: close them'); END""",
]

PG_TRIGGERS = [
    """CREATE FUNCTION wmc_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '% are append-only: % refused', TG_TABLE_NAME, lower(TG_OP)
        USING ERRCODE = 'restrict_violation';
    END $$""",
    """CREATE FUNCTION wmc_account_identity() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'accounts are never deleted: close them'
          USING ERRCODE = 'restrict_violation';
      END IF;
      IF NEW.code IS DISTINCT FROM OLD.code OR NEW.bank_id IS DISTINCT FROM OLD.bank_id
         OR NEW.type IS DISTINCT FROM OLD.type OR NEW.currency IS DISTINCT FROM OLD.currency THEN
        RAISE EXCEPTION 'an account''s code, bank, type and currency never change'
          USING ERRCODE = 'restrict_violation';
      END IF;
      RETURN NEW;
    END $$""",
    """CREATE TRIGGER accounts_no_truncate BEFORE TRUNCATE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION wmc_append_only()""",
    """CREATE TRIGGER accounts_identity BEFORE UPDATE OR DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION wmc_account_identity()""",
]


def upgrade() -> None:
    op.create_table(
        "banks",
        sa.Column("bank_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("market", sa.String(2), nullable=False),
        sa.CheckConstraint("market IN ('MO', 'HK', 'CN')", name="market"),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("code", sa.String(128), nullable=False, unique=True),
        sa.Column("bank_id", sa.String(64), sa.ForeignKey("banks.bank_id"), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("allow_overdraft", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("closed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("debits_posted", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("credits_posted", sa.BigInteger, nullable=False, server_default="0"),
        sa.CheckConstraint(
            "type IN ('asset', 'liability', 'equity', 'income', 'expense')", name="type"
        ),
        sa.CheckConstraint("currency IN ('MOP', 'HKD', 'CNY', 'USD')", name="currency"),
        sa.CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0", name="posted_non_negative"
        ),
        sa.CheckConstraint(OVERDRAFT, name="no_overdraft"),
        sa.UniqueConstraint("id", "currency", name="uq_accounts_id_currency"),
    )
    op.create_table(
        "entries",
        sa.Column("seq", BigId, primary_key=True, autoincrement=False),
        sa.Column("id", sa.String(128), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value_date", sa.Date, nullable=False),
        sa.Column("batch_id", sa.String(64)),
        sa.Column("reverses", sa.BigInteger, sa.ForeignKey("entries.seq"), unique=True),
        sa.Column("meta", sa.Text),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("posted_at", sa.String(40), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    pg = op.get_bind().dialect.name == "postgresql"
    if pg:
        # A transfer's currency is both its accounts' currency: on PostgreSQL a composite
        # foreign key says so (checked in C, no trigger); SQLite has a trigger below instead.
        account_keys = [
            sa.ForeignKeyConstraint(["debit_account_id", "currency"],
                                    ["accounts.id", "accounts.currency"],
                                    name="fk_transfers_debit_currency"),
            sa.ForeignKeyConstraint(["credit_account_id", "currency"],
                                    ["accounts.id", "accounts.currency"],
                                    name="fk_transfers_credit_currency"),
        ]
    else:
        account_keys = [
            sa.ForeignKeyConstraint(["debit_account_id"], ["accounts.id"]),
            sa.ForeignKeyConstraint(["credit_account_id"], ["accounts.id"]),
        ]
    op.create_table(
        "transfers",
        sa.Column("id", BigId, primary_key=True, autoincrement=False),
        sa.Column("entry_seq", sa.BigInteger, sa.ForeignKey("entries.seq"), nullable=False),
        sa.Column("debit_account_id", sa.Integer, nullable=False),
        sa.Column("credit_account_id", sa.Integer, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("value_date", sa.Date, nullable=False),
        sa.Column("reference", sa.String(128)),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("debit_account_id <> credit_account_id", name="accounts_different"),
        *account_keys,
    )
    op.create_index("ix_transfers_entry_seq", "transfers", ["entry_seq"])
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_transfer_id", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="single_row"),
    )
    op.execute(f"INSERT INTO ledger_head (id, last_seq, last_transfer_id, last_hash) "
               f"VALUES (1, 0, 0, '{GENESIS}')")
    dialect = op.get_bind().dialect.name
    triggers = PG_TRIGGERS if dialect == "postgresql" else SQLITE_TRIGGERS
    for ddl in [*triggers, *append_only_triggers(dialect, ("entries", "transfers"))]:
        op.execute(ddl)


def downgrade() -> None:
    bind = op.get_bind()
    for table in ("ledger_head", "transfers", "entries", "accounts", "banks"):
        op.drop_table(table)
    if bind.dialect.name == "postgresql":
        for fn in ("wmc_append_only", "wmc_account_identity"):
            op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
