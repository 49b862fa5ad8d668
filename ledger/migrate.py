"""Schema creation and upgrades through Alembic; ``wmc init`` calls :func:`upgrade`.

Guarantees:
- Running it on an up-to-date database is a no-op, so ``wmc init`` twice is harmless.
- Runs at the same time on one database end with one schema and all succeed: on PostgreSQL an
  upgrade holds a session-level advisory lock (:data:`MIGRATION_LOCK`) from before its
  transaction begins until after it commits, so the next one waits, then finds the schema
  current; on SQLite the upgrade's ``BEGIN IMMEDIATE`` serialises them.
- It is the only code that creates a SQLite ledger's file (:func:`ledger.db.create_database`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from ledger.audit import record_schema
from ledger.db import WRITE_OPTION, create_database, is_postgres

MIGRATIONS = Path(__file__).with_name("migrations")

#: The key of the PostgreSQL advisory lock that serialises upgrades of one database (a fixed
#: 64-bit number: the first eight bytes of SHA-256 of "wmc-ledger schema upgrade").
MIGRATION_LOCK: Final = 0x4C5A_CE58_AB35_CB82


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision`` in one transaction."""
    create_database(engine)
    cfg = _config()
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn:
        pg = is_postgres(conn)
        if pg:
            # A session lock taken outside the upgrade's transaction: the transaction that
            # waited for it begins afterwards, and so reads the schema the previous one left.
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
            conn.commit()
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                # What the migrations made is what the audit will hold the schema to.
                record_schema(conn, MigrationContext.configure(conn).get_current_revision())
        finally:
            if pg:
                _unlock(conn)


def _unlock(conn: Connection) -> None:
    try:
        conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
        conn.commit()
    except Exception:
        # The session lock must not go back to the pool with the connection: ending the
        # session releases it (the error that brought us here, if any, is the one to see).
        conn.invalidate()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()
