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
- A database that cannot be reached or used is a :class:`~ledger.errors.DatabaseError` naming
  the URL (password hidden) and what is wrong, whichever statement meets it first
  (:func:`database_error`, hooked into every engine made here): a URL that does not parse, a
  dialect other than SQLite and PostgreSQL, a driver that is not installed, no such file, a
  file that is not a database, a server that does not answer within :data:`CONNECT_TIMEOUT`
  seconds, a database that is not initialised, read-only or full. Invariant violations and
  retryable conflicts stay the driver's errors.
- Opening a SQLite ledger never creates its file: only :func:`create_database` (called by
  ``ledger.migrate.upgrade``, that is ``wmc init``) does, so a read on a mistyped path leaves
  nothing behind.
"""

from __future__ import annotations

import random
import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from ledger.errors import DatabaseError, IntegrityError, LedgerError
from ledger.urls import DEFAULT_URL as DEFAULT_URL

T = TypeVar("T")

DIALECTS: Final = ("sqlite", "postgresql")
#: Seconds a PostgreSQL connection attempt may take (``?connect_timeout=N`` in the URL wins).
CONNECT_TIMEOUT: Final = 5
RETRY_SQLSTATES = frozenset({"40001", "40P01"})
WRITE_OPTION = "wmc_write"
# Set on the engines made here: their connections may be used from the poster's writer thread
# (see ledger.posting), never at the same time as from the caller's.
WRITE_BEHIND_OPTION = "wmc_write_behind"


def safe_url(url: str | URL) -> str:
    """``url`` as text with any password hidden, also when it does not parse as a URL."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))


def _parse(url: str) -> URL:
    if not url.strip():
        raise DatabaseError("database URL is empty: expected a SQLAlchemy URL such as "
                            f"{DEFAULT_URL} or postgresql+psycopg://user@host/db")
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"database URL {safe_url(url)!r} does not parse: expected a "
                            f"SQLAlchemy URL such as {DEFAULT_URL} or "
                            "postgresql+psycopg://user@host/db") from None
    if parsed.get_backend_name() not in DIALECTS:
        raise DatabaseError(f"database URL {safe_url(parsed)!r}: the ledger runs on SQLite "
                            "(sqlite:///FILE) or PostgreSQL (postgresql+psycopg://...), not "
                            f"{parsed.get_backend_name()!r}")
    return parsed


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite ``url``; ``None`` for an in-memory database or a ``file:`` URI."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if url.query.get("uri") in ("true", "1") or url.database.startswith("file:"):
        return None
    return Path(url.database)


def make_engine(url: str = DEFAULT_URL, *, isolation_level: str | None = None, **kw: Any) -> Engine:
    """An engine for ``url`` set up for the ledger (SQLite pragmas, PostgreSQL isolation).

    Raises :class:`DatabaseError` for a URL the ledger cannot use; connects nothing yet.
    """
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        # pysqlite refuses a connection to any thread but its creator's unless told otherwise
        # (SQLAlchemy tells it for files, not for in-memory databases).
        kw["connect_args"] = {"check_same_thread": False, **kw.get("connect_args", {})}
    else:
        if isolation_level is not None:
            kw["isolation_level"] = isolation_level
        if "connect_timeout" not in parsed.query:
            # An unreachable server fails in seconds, not after the operating system's minutes.
            kw["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT,
                                  **kw.get("connect_args", {})}
    try:
        engine = create_engine(parsed, **kw)
    except ImportError as exc:
        raise DatabaseError(f"database URL {safe_url(parsed)!r}: its driver is not installed "
                            f"({_first_line(exc)})") from None
    except (ArgumentError, NoSuchModuleError, TypeError) as exc:
        raise DatabaseError(f"database URL {safe_url(parsed)!r}: {_first_line(exc)}") from None
    if parsed.get_backend_name() == "sqlite":
        _configure_sqlite(engine)
    _map_errors(engine)
    engine.update_execution_options(**{WRITE_BEHIND_OPTION: True})
    return engine


def create_database(engine: Engine) -> None:
    """Create the file of a SQLite ledger if there is none (``wmc init``; nothing otherwise)."""
    path = sqlite_file(engine.url)
    if path is None or path.exists():
        return
    try:
        sqlite3.connect(path).close()
    except sqlite3.Error as exc:
        where = ("its directory does not exist" if not path.parent.is_dir() else str(exc))
        raise DatabaseError(f"database {safe_url(engine.url)}: cannot create {path}: "
                            f"{where}") from None


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# Errors that say the database cannot be used, whatever statement met them: SQLite's by result
# code name, PostgreSQL's by SQLSTATE (or SQLSTATE class, two characters).
_SQLITE_UNUSABLE: Final = {
    "SQLITE_CANTOPEN": "cannot open the database file",
    "SQLITE_NOTADB": "the file is not a SQLite database",
    "SQLITE_READONLY": "the database is read-only",
    "SQLITE_FULL": "the disk or the database's size limit is full",
    "SQLITE_IOERR": "disk I/O error",
    "SQLITE_PERM": "permission denied",
    "SQLITE_AUTH": "permission denied",
}
_PG_UNUSABLE: Final = {
    "08": "cannot connect to the server",
    "28": "the server refused the login",
    "3D000": "no such database",
    "3F000": "no such schema",
    "42501": "permission denied",
    "53100": "the server's disk is full",
    "53": "the server is out of resources",
    "25006": "the database is read-only",
    "57P": "the server is shutting down or starting up",
}
_NOT_INITIALISED: Final = "not a wmc ledger, or not initialised: run `wmc init` (Ledger.init) first"


def database_error(exc: BaseException, url: str | URL) -> LedgerError | None:
    """The :class:`DatabaseError` that ``exc`` (from a driver or SQLAlchemy) means for the
    database at ``url``, or ``None`` if ``exc`` is not about reaching or using the database
    (an invariant violation, a conflict to retry, a bug)."""
    orig = getattr(exc, "orig", None) or exc
    detail = _first_line(orig)
    what: str | None = None
    if isinstance(orig, sqlite3.Error):
        # The primary result code: SQLITE_IOERR_WRITE is an SQLITE_IOERR.
        name = "_".join((getattr(orig, "sqlite_errorname", "") or "").split("_")[:2])
        if name == "SQLITE_CORRUPT":
            return IntegrityError(f"database {safe_url(url)}: the file is corrupt ({detail})")
        what = _SQLITE_UNUSABLE.get(name)
        if what is None and detail.startswith("no such table"):
            what = _NOT_INITIALISED
    else:
        state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if state:
            if state == "42P01":
                what = _NOT_INITIALISED
            else:
                what = (_PG_UNUSABLE.get(state) or _PG_UNUSABLE.get(state[:3])
                        or _PG_UNUSABLE.get(state[:2]))
        elif isinstance(exc, OperationalError) and _is_psycopg(orig):
            # psycopg gives no SQLSTATE when it never reached a server.
            what = _PG_UNUSABLE["08"]
    if what is None:
        return None
    return DatabaseError(f"database {safe_url(url)}: {what} ({detail})")


def _is_psycopg(orig: BaseException) -> bool:
    return type(orig).__module__.startswith("psycopg")


def _map_errors(engine: Engine) -> None:
    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        if isinstance(context.original_exception, LedgerError):
            raise context.original_exception
        mapped = database_error(context.sqlalchemy_exception or context.original_exception,
                                engine.url)
        if mapped is not None:
            raise mapped from None


def _configure_sqlite(engine: Engine) -> None:
    memory = engine.url.database in (None, "", ":memory:")
    path = sqlite_file(engine.url)

    @event.listens_for(engine, "do_connect")
    def _no_file_made(*_args: Any) -> None:
        # sqlite3 would create a missing file (and open /dev/null as an empty database).
        if path is not None and not path.is_file():
            what = ("is not a regular file" if path.exists() else
                    "does not exist: run `wmc init` (Ledger.init) to create a ledger there")
            raise DatabaseError(f"database {safe_url(engine.url)}: {path} {what}")

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
            if not _retryable(exc):
                raise
            if attempt == attempts:
                raise DatabaseError(
                    f"database {safe_url(engine.url)}: still locked or in conflict with "
                    f"other writers after {attempts} attempts ({_first_line(exc)})") from exc
            # Jittered backoff so that colliding writers do not collide again in lockstep.
            time.sleep(min(0.5, 0.005 * 2**attempt) * random.random())
    raise AssertionError("unreachable")  # pragma: no cover
