"""Hardening found in review: SQLite values of the wrong type, and the ledger head's one row.

- SQLite keeps whatever type a value has in a BIGINT column, and text compares above any
  number, so ``amount > 0`` and the no-overdraft CHECK let ``'abc'`` through. The transfers
  trigger now also refuses an amount that is not an integer, and accounts refuse running
  totals that are not integers. (PostgreSQL's types refuse these already.)
- The ledger head row may be updated (every batch moves it) but never deleted or truncated.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TRANSFERS_CHECK = """CREATE TRIGGER transfers_currency BEFORE INSERT ON transfers
    WHEN typeof(NEW.amount) IS NOT 'integer'
      OR (SELECT currency FROM accounts WHERE id = NEW.debit_account_id) IS NOT NEW.currency
      OR (SELECT currency FROM accounts WHERE id = NEW.credit_account_id) IS NOT NEW.currency
    BEGIN SELECT RAISE(ABORT, 'transfer refused: amount not an integer, or currencies differ');
    END"""
OLD_TRANSFERS_CHECK = """CREATE TRIGGER transfers_currency BEFORE INSERT ON transfers
    WHEN (SELECT currency FROM accounts WHERE id = NEW.debit_account_id) IS NOT NEW.currency
      OR (SELECT currency FROM accounts WHERE id = NEW.credit_account_id) IS NOT NEW.currency
    BEGIN SELECT RAISE(ABORT, 'currency_mismatch: transfer and account currencies differ'); END"""
TOTALS = ("typeof(NEW.debits_posted) IS NOT 'integer' "
          "OR typeof(NEW.credits_posted) IS NOT 'integer'")
SQLITE = [
    "DROP TRIGGER transfers_currency",
    TRANSFERS_CHECK,
    *(f"""CREATE TRIGGER accounts_totals_{op_} BEFORE {op_.upper()} ON accounts WHEN {TOTALS}
    BEGIN SELECT RAISE(ABORT, 'an account''s running totals are integers'); END"""
      for op_ in ("insert", "update")),
    """CREATE TRIGGER ledger_head_no_delete BEFORE DELETE ON ledger_head
    BEGIN SELECT RAISE(ABORT, 'the ledger head is never deleted'); END""",
]
POSTGRES = [
    """CREATE TRIGGER ledger_head_no_delete BEFORE DELETE ON ledger_head
    FOR EACH ROW EXECUTE FUNCTION wmc_append_only()""",
    """CREATE TRIGGER ledger_head_no_truncate BEFORE TRUNCATE ON ledger_head
    FOR EACH STATEMENT EXECUTE FUNCTION wmc_append_only()""",
]


def upgrade() -> None:
    for ddl in POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(ddl)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_head_no_truncate ON ledger_head")
        op.execute("DROP TRIGGER ledger_head_no_delete ON ledger_head")
        return
    for ddl in ("DROP TRIGGER ledger_head_no_delete", "DROP TRIGGER accounts_totals_update",
                "DROP TRIGGER accounts_totals_insert", "DROP TRIGGER transfers_currency",
                OLD_TRANSFERS_CHECK):
        op.execute(ddl)
