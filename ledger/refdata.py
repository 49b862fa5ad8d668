"""Reference data: banks and accounts, loaded idempotently from files or Python values.

Loading the same row twice is a no-op; the same key with different content is a
:class:`~ledger.errors.ConflictError` naming both versions. A file with any bad row is refused
whole (:class:`~ledger.errors.InputError` listing every problem) and nothing of it is written.
The generic :func:`upsert_rows` is what the FX and settlement packages load their own reference
data with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select, tuple_, update

from ledger.errors import ConflictError, InputError, NotFound, Problem
from ledger.files import Field, Schema, one_of, parse_bool, read_rows
from ledger.money import carried_currency
from ledger.records import record_rows
from ledger.schema import ACCOUNT_LENGTH, ACCOUNT_TYPES, BANK_ID_LENGTH, MARKETS, Account, Bank


def _currency(text: str) -> str:
    return carried_currency(text).code


BANK_SCHEMA = Schema((
    Field("bank_id", required=True, limit=BANK_ID_LENGTH),
    Field("name", required=True),
    Field("market", one_of(*MARKETS), required=True),
))

ACCOUNT_SCHEMA = Schema((
    Field("account", required=True, limit=ACCOUNT_LENGTH),
    Field("bank_id", required=True, limit=BANK_ID_LENGTH),
    Field("type", one_of(*ACCOUNT_TYPES), required=True),
    Field("currency", _currency, required=True),
    Field("name", default=""),
    Field("allow_overdraft", parse_bool, default=False),
))


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What loading reference data did: rows read, rows new, rows already there unchanged."""

    kind: str
    rows: int
    inserted: int
    unchanged: int


def _where(origin: Sequence[tuple[str, int]] | None, i: int) -> str:
    return f"{origin[i][0]}:{origin[i][1]}" if origin else f"row {i + 1}"


def read_file(path: str | Path, schema: Schema) -> list[tuple[int, dict[str, Any]]]:
    """All rows of a reference file, or InputError listing every problem in it."""
    problems: list[Problem] = []
    rows = list(read_rows(path, schema, problems))
    if problems:
        raise InputError(problems)
    return rows


def upsert_rows(
    conn: Connection,
    table: Table,
    key: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    *,
    kind: str,
    origin: Sequence[tuple[str, int]] | None = None,
) -> LoadResult:
    """Insert the rows whose key is new; equal rows are no-ops; a changed row is a conflict."""
    cols = list(rows[0].keys()) if rows else []
    seen: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for i, row in enumerate(rows):
        k = tuple(row[c] for c in key)
        if k in seen and dict(seen[k]) != dict(row):
            where = _where(origin, i)
            raise ConflictError(
                f"{kind} {'/'.join(map(str, k))}: {where} has {dict(row)} but an earlier row "
                f"of the same input has {dict(seen[k])}"
            )
        seen[k] = row
    existing: dict[tuple[Any, ...], dict[str, Any]] = {}
    keys = list(seen)
    key_cols = [table.c[c] for c in key]
    for i in range(0, len(keys), 2000):
        part = keys[i : i + 2000]
        if len(key) == 1:
            cond = key_cols[0].in_(bindparam("k", expanding=True))
            params = {"k": [k[0] for k in part]}
        else:
            cond = tuple_(*key_cols).in_(part)
            params = {}
        for r in conn.execute(select(*[table.c[c] for c in cols]).where(cond), params):
            m = dict(r._mapping)
            existing[tuple(m[c] for c in key)] = m
    new = []
    for i, row in enumerate(rows):
        k = tuple(row[c] for c in key)
        if k in existing:
            stored = existing[k]
            if any(stored[c] != row[c] for c in cols):
                where = _where(origin, i)
                raise ConflictError(
                    f"{kind} {'/'.join(map(str, k))} exists with different content: "
                    f"stored {stored}, {where} has {dict(row)}"
                )
        elif seen.get(k) is row:
            new.append(dict(row))
    if new:
        conn.execute(insert(table), new)
        record_rows(conn, table.name, new)
    return LoadResult(kind, len(rows), len(new), len(rows) - len(new))


def load_banks(
    conn: Connection,
    rows: Iterable[Mapping[str, Any]],
    *,
    origin: Sequence[tuple[str, int]] | None = None,
) -> LoadResult:
    rows = [
        {"bank_id": r["bank_id"], "name": r["name"], "market": one_of(*MARKETS)(r["market"])}
        for r in rows
    ]
    return upsert_rows(conn, Bank.__table__, ["bank_id"], rows, kind="bank", origin=origin)  # type: ignore[arg-type]


def load_accounts(
    conn: Connection,
    rows: Iterable[Mapping[str, Any]],
    *,
    origin: Sequence[tuple[str, int]] | None = None,
) -> LoadResult:
    out = [_account_row(r) for r in rows]
    banks = {r["bank_id"] for r in out}
    known = set(
        conn.execute(
            select(Bank.bank_id).where(Bank.bank_id.in_(bindparam("b", expanding=True))),
            {"b": sorted(banks)},
        ).scalars()
    ) if banks else set()
    unknown = [
        Problem(*(origin[i] if origin else ("accounts", i + 1)), "bank_id",
                f"a known bank, got {r['bank_id']!r}")
        for i, r in enumerate(out)
        if r["bank_id"] not in known
    ]
    if unknown:
        raise InputError(unknown)
    return upsert_rows(conn, Account.__table__, ["code"], out, kind="account", origin=origin)  # type: ignore[arg-type]


def _account_row(r: Mapping[str, Any]) -> dict[str, Any]:
    """An accounts-file row as a row of the accounts table, type and currency checked."""
    return {
        "code": r["account"],
        "bank_id": r["bank_id"],
        "type": one_of(*ACCOUNT_TYPES)(r["type"]),
        "currency": carried_currency(r["currency"]).code,
        "name": r.get("name") or "",
        "allow_overdraft": bool(r.get("allow_overdraft") or False),
    }


def load_file(conn: Connection, kind: str, path: str | Path) -> LoadResult:
    """Load a ``banks`` or ``accounts`` file (all or nothing: the caller owns the transaction)."""
    if kind in ("banks", "accounts"):
        rows = read_file(path, BANK_SCHEMA if kind == "banks" else ACCOUNT_SCHEMA)
        load = load_banks if kind == "banks" else load_accounts
        return load(conn, [r for _, r in rows], origin=[(str(path), ln) for ln, _ in rows])
    raise InputError(f"unknown reference data kind {kind!r}")


def close_account(conn: Connection, code: str) -> None:
    """Close an account: it keeps its history and balance, and takes no new transfers."""
    res = conn.execute(update(Account).where(Account.code == code).values(closed=True))
    if res.rowcount == 0:
        raise NotFound(f"account {code!r} does not exist")
    record_rows(conn, "accounts", [{"code": code}])


def ensure_accounts(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> int:
    """Create the accounts of ``rows`` (shaped as for :func:`load_accounts`) that do not exist.

    For accounts the ledger opens itself on first use (each bank's FX accounts): an existing
    account of the same code is left exactly as it is (an accounts file may have declared it
    first), never compared or changed. The insert skips codes that appear meanwhile
    (``ON CONFLICT DO NOTHING``), so two writers opening the same account both succeed.
    Returns how many accounts were created. A row naming an unknown bank is a
    :class:`~ledger.errors.NotFound`.
    """
    wanted: dict[str, dict[str, Any]] = {}
    for r in rows:
        wanted.setdefault(r["account"], _account_row(r))
    if not wanted:
        return 0
    a = Account.__table__.c
    existing = set(conn.execute(
        select(a.code).where(a.code.in_(bindparam("c", expanding=True))), {"c": list(wanted)}
    ).scalars())
    missing = [row for code, row in wanted.items() if code not in existing]
    if not missing:
        return 0
    banks = sorted({r["bank_id"] for r in missing})
    known = set(conn.execute(
        select(Bank.bank_id).where(Bank.bank_id.in_(bindparam("b", expanding=True))),
        {"b": banks},
    ).scalars())
    unknown = [b for b in banks if b not in known]
    if unknown:
        raise NotFound(f"bank {unknown[0]!r} does not exist (opening account(s) for it)")
    table: Table = Account.__table__  # type: ignore[assignment]
    dialect = conn.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        pg = postgresql.insert(table).values(missing).on_conflict_do_nothing(
            index_elements=["code"]
        )
        return _recorded(conn, conn.execute(pg.returning(table.c.code)).scalars().all())
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        lite = sqlite.insert(table).values(missing).on_conflict_do_nothing(
            index_elements=["code"]
        )
        return _recorded(conn, conn.execute(lite.returning(table.c.code)).scalars().all())
    conn.execute(insert(table), missing)
    return _recorded(conn, [r["code"] for r in missing])


def _recorded(conn: Connection, codes: Sequence[str]) -> int:
    """Record the accounts just opened in the events log; how many."""
    return record_rows(conn, "accounts", [{"code": c} for c in sorted(codes)])
