"""Engines, transactions and retries: the one place that knows how to talk to each database.

Guarantees:
- SQLite connections run with foreign keys on and WAL journaling; a :func:`transaction` begins
  ``IMMEDIATE``, so a writer holds the write lock for its whole transaction and never fails half
  way on a busy lock, while readers begin deferred and read a snapshot meanwhile.
- :func:`transaction` runs a unit of work in one database transaction and retries it from the
  start on a serialization failure or deadlock (SQLSTATE 40001, 40P01; SQLite ``database is
  locked``), so the same code runs at SERIALIZABLE and on engines that speak PostgreSQL's protocol.
  The unit of work must therefore be safe to run again: it may not keep effects outside the
  database between attempts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError

T = TypeVar("T")

DEFAULT_URL = "sqlite:///wmc.db"
RETRY_SQLSTATES = frozenset({"40001", "40P01"})
WRITE_OPTION = "wmc_write"
# Set on the engines made here: their connections may be used from the poster's writer thread
# (see ledger.posting), never at the same time as from the caller's.
WRITE_BEHIND_OPTION = "wmc_write_behind"


def make_engine(url: str = DEFAULT_URL, *, isolation_level: str | None = None, **kw: Any) -> Engine:
    """An engine for ``url`` set up for the ledger (SQLite pragmas, PostgreSQL isolation)."""
    if url.startswith("sqlite"):
        # pysqlite refuses a connection to any thread but its creator's unless told otherwise
        # (SQLAlchemy tells it for files, not for in-memory databases).
        kw["connect_args"] = {"check_same_thread": False, **kw.get("connect_args", {})}
        engine = create_engine(url, **kw)
        _configure_sqlite(engine)
    else:
        if isolation_level is not None:
            kw["isolation_level"] = isolation_level
        engine = create_engine(url, **kw)
    engine.update_execution_options(**{WRITE_BEHIND_OPTION: True})
    return engine


def _configure_sqlite(engine: Engine) -> None:
    memory = engine.url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see "begin" below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        # An INSERT OR REPLACE deletes the row it replaces: with recursive triggers that delete
        # meets the append-only and no-delete triggers, and is refused like any other.
        cur.execute("PRAGMA recursive_triggers = ON")
        cur.execute("PRAGMA busy_timeout = 30000")
        if not memory:
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA cache_size = -65536")  # 64 MiB of page cache
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front (no upgrade that could fail half way); readers
        # begin deferred and read their WAL snapshot while a batch is being written.
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def json_array(values: Sequence[Any]) -> str:
    """``values`` as one JSON array: the single parameter that carries a list to SQLite
    (``json_each(?)``), where PostgreSQL takes the list itself. orjson: a sixth of the json
    module's time, and this time is taken from the batch's judging thread."""
    return orjson.dumps(values).decode()


ROWS_WHERE_IN_PART: Final = 10_000  # keys per statement


def rows_where_in(conn: Connection, table: str, columns: str, key: str,
                  values: Sequence[Any]) -> list[Sequence[Any]]:
    """``columns`` of the rows of ``table`` whose ``key`` is one of ``values``, by one
    statement with one parameter (an array on PostgreSQL, a JSON array on SQLite) per
    :data:`ROWS_WHERE_IN_PART` keys.

    On SQLite the rows come back as one JSON value, made by one step of the statement: the
    driver gives up the GIL for each step, and a thread that reads while another runs Python
    (the poster's writer thread) would otherwise wait to take it back once per row.
    """
    pg = is_postgres(conn)
    sql = (f"SELECT {columns} FROM {table} WHERE {key} = ANY(%s)" if pg else
           f"SELECT json_group_array(json_array({columns})) FROM {table} "
           f"WHERE {key} IN (SELECT value FROM json_each(?))")
    rows: list[Sequence[Any]] = []
    for i in range(0, len(values), ROWS_WHERE_IN_PART):
        part = list(values[i : i + ROWS_WHERE_IN_PART])
        if pg:
            rows.extend(conn.exec_driver_sql(sql, (part,)))
        else:
            rows.extend(orjson.loads(conn.exec_driver_sql(sql, (json_array(part),)).scalar_one()))
    return rows


def is_postgres(conn: Connection | Engine) -> bool:
    return conn.dialect.name == "postgresql"


def _retryable(exc: DBAPIError) -> bool:
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in RETRY_SQLSTATES:
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(orig)


def transaction(engine: Engine, work: Callable[[Connection], T], *, attempts: int = 8) -> T:
    """Run ``work(conn)`` in one transaction; retry the whole of it on serialization failures."""
    for attempt in range(1, attempts + 1):
        try:
            with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, \
                    conn.begin():
                return work(conn)
        except DBAPIError as exc:
            if attempt == attempts or not _retryable(exc):
                raise
            # Jittered backoff so that colliding writers do not collide again in lockstep.
            time.sleep(min(0.5, 0.005 * 2**attempt) * random.random())
    raise AssertionError("unreachable")  # pragma: no cover
