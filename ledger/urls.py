"""The ledger's default database URL, in a module of its own so that the command line can name
it without importing SQLAlchemy (``wmc --help`` stays fast)."""

from __future__ import annotations

from typing import Final

DEFAULT_URL: Final = "sqlite:///wmc.db"
