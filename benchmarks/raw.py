"""The storage limit's route: the fastest raw insert each driver has, as the issue names it.

COPY on PostgreSQL (the ledger's own route, :func:`ledger.posting.write_rows`); the driver's
``executemany`` on SQLite, one call per part, straight on the sqlite3 connection. The ledger
writes SQLite rows otherwise (one ``INSERT`` from a JSON array, so that a background thread can
write without the GIL); single-threaded, that route is slower than this one, so the limit is not
flattered by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from ledger.db import is_postgres
from ledger.posting import write_rows


def raw_insert(conn: Connection, table: str, columns: Sequence[str],
               rows: Sequence[tuple[Any, ...]]) -> None:
    if is_postgres(conn):
        write_rows(conn, table, columns, rows)
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    marks = ", ".join("?" * len(columns))
    raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
