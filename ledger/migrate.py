"""Schema creation and upgrades through Alembic; ``wmc init`` calls :func:`upgrade`.

Running it on an up-to-date database is a no-op, so ``wmc init`` twice is harmless.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from ledger.audit import record_schema
from ledger.db import WRITE_OPTION

MIGRATIONS = Path(__file__).with_name("migrations")


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision`` in one transaction."""
    cfg = _config()
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        # What the migrations made is what the audit will hold the schema to.
        record_schema(conn, MigrationContext.configure(conn).get_current_revision())


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()
