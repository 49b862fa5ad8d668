"""Scheme reference data: investors (closed-loop pairs per channel) and eligible products.

Loaded idempotently like the ledger's own reference data (same row: no-op; same key with other
content: an error naming both). The closed loop is checked on load: both accounts of a pair
exist and hold CNY (cross-border legs are in RMB), they belong to institutions on opposite
sides of the border (the home market of the direction, and a partner across it), both of the
kind the channel needs (a bank's investor with banks, a securities firm's with securities
firms), and each remittance and investment account serves one investor and channel only (one
remittance account per investor per channel: the key of a row). An investor's
``eligible_from`` is not after its ``eligible_until``.

The columns added with the scheme's published rules (products: ``product_type``, ``category``,
``complex``, ``domicile``, ``authorisation``; investors: ``eligible_from``, ``eligible_until``)
are optional, so files written before them still load.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, select, tuple_, update

from ledger.errors import InputError, Problem
from ledger.files import Field, Parser, Schema, one_of, parse_bool
from ledger.money import carried_currency
from ledger.refdata import LoadResult, read_file, upsert_rows
from ledger.schema import ACCOUNT_LENGTH, KEY_LENGTH, Account, Bank
from settlement.rules import CHANNEL_KIND, PRODUCT_TYPES, RISKS
from settlement.schema import Investor, Product

DIRECTIONS = ("southbound", "northbound")
CHANNELS = ("bank", "broker")
_CATEGORY_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_DOMICILE_RE = re.compile(r"[A-Z]{2}")
_AUTHORISATION_RE = re.compile(r"[A-Z][A-Z0-9_]{0,31}")


def _pattern(regex: re.Pattern[str], expected: str) -> Parser:
    def parse(text: str) -> str:
        if not regex.fullmatch(text):
            raise ValueError(f"{expected}, got {text!r}")
        return text

    return parse


def parse_date(text: str) -> dt.date:
    """A ``YYYY-MM-DD`` date (the only form the file formats take)."""
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    raise ValueError(f"a date YYYY-MM-DD, got {text!r}")


INVESTOR_SCHEMA = Schema((
    Field("investor_id", required=True, limit=KEY_LENGTH),
    Field("direction", one_of(*DIRECTIONS), required=True),
    Field("remittance_account", required=True, limit=ACCOUNT_LENGTH),
    Field("investment_account", required=True, limit=ACCOUNT_LENGTH),
    Field("channel", one_of(*CHANNELS), default="bank"),
    Field("eligible_from", parse_date),
    Field("eligible_until", parse_date),
))

PRODUCT_SCHEMA = Schema((
    Field("product", required=True, limit=KEY_LENGTH),
    Field("currency", lambda t: carried_currency(t).code, required=True),
    Field("risk", one_of(*RISKS), required=True),
    Field("direction", one_of(*DIRECTIONS), required=True),
    Field("account", required=True, limit=ACCOUNT_LENGTH),
    # Not stated: judged as DEFAULT_PRODUCT_TYPE (rules.py), stored as NULL.
    Field("product_type", one_of(*PRODUCT_TYPES)),
    Field("category", _pattern(_CATEGORY_RE, "a snake_case category such as "
                                             "commodity_futures")),
    Field("complex", parse_bool),
    Field("domicile", _pattern(_DOMICILE_RE, "a two-letter upper-case code such as HK")),
    Field("authorisation", _pattern(_AUTHORISATION_RE, "an upper-case authority such as SFC")),
))
PRODUCT_COLUMNS = tuple(f.name for f in PRODUCT_SCHEMA.fields)
INVESTOR_COLUMNS = tuple(f.name for f in INVESTOR_SCHEMA.fields)
#: The optional columns a stored row may lack (NULL: not stated) and a later load may state.
PRODUCT_ATTRIBUTES = ("product_type", "category", "complex", "domicile", "authorisation")
INVESTOR_ATTRIBUTES = ("eligible_from", "eligible_until")

HOME_MARKETS = {"southbound": ("CN",), "northbound": ("HK", "MO")}


def _accounts(conn: Connection, codes: Iterable[str]) -> dict[str, tuple[str, str, str]]:
    """code -> (currency, market of its bank, kind of its bank)."""
    wanted = sorted(set(codes))
    out: dict[str, tuple[str, str, str]] = {}
    a, b = Account.__table__.c, Bank.__table__.c
    for i in range(0, len(wanted), 2000):
        stmt = (
            select(a.code, a.currency, b.market, b.kind)
            .join(Bank.__table__, b.bank_id == a.bank_id)
            .where(a.code.in_(wanted[i : i + 2000]))
        )
        out.update((r[0], (r[1], r[2], r[3])) for r in conn.execute(stmt))
    return out


def _owners(conn: Connection, column: str,
            codes: Sequence[str]) -> dict[str, tuple[str, str]]:
    """account -> (investor, channel), for the stored investors whose ``column`` is in ``codes``."""
    wanted = sorted(set(codes))
    inv = Investor.__table__.c
    out: dict[str, tuple[str, str]] = {}
    for i in range(0, len(wanted), 2000):
        stmt = select(inv[column], inv.investor_id, inv.channel).where(
            inv[column].in_(wanted[i : i + 2000]))
        out.update((r[0], (r[1], r[2])) for r in conn.execute(stmt))
    return out


def load_investors(
    conn: Connection,
    rows: Sequence[Mapping[str, Any]],
    *,
    origin: Sequence[tuple[str, int]] | None = None,
) -> LoadResult:
    accounts = _accounts(
        conn, [r["remittance_account"] for r in rows] + [r["investment_account"] for r in rows]
    )
    problems: list[Problem] = []
    # Whose each dedicated account is: stored investors first, then this file's rows.
    seen = {field: _owners(conn, field, [r[field] for r in rows])
            for field in ("remittance_account", "investment_account")}
    for i, r in enumerate(rows):
        file, line = origin[i] if origin else ("investors", i + 1)
        channel = r.get("channel") or "bank"
        home = HOME_MARKETS[r["direction"]]
        kind = CHANNEL_KIND[channel]
        for field, want_home in (("remittance_account", True), ("investment_account", False)):
            acc = accounts.get(r[field])
            if acc is None:
                problems.append(Problem(file, line, field, f"a known account, got {r[field]!r}"))
            elif acc[0] != "CNY":
                problems.append(Problem(file, line, field,
                                        f"a CNY account (cross-border legs are in RMB), "
                                        f"{r[field]} holds {acc[0]}"))
            elif (acc[1] in home) != want_home:
                side = "home" if want_home else "partner (across the border)"
                problems.append(Problem(file, line, field,
                                        f"an account at a {side} institution for a "
                                        f"{r['direction']} investor, {r[field]} is in {acc[1]}"))
            elif acc[2] != kind:
                problems.append(Problem(file, line, field,
                                        f"an account at a {kind} (a {channel}-channel investor "
                                        f"is paired {kind} to {kind}), {r[field]} is at a "
                                        f"{acc[2]}"))
        key = (r["investor_id"], channel)
        for field in ("remittance_account", "investment_account"):
            other = seen[field].setdefault(r[field], key)
            if other != key:
                problems.append(Problem(file, line, field,
                                        f"an account of one investor and channel only; "
                                        f"{r[field]} is already {other[0]}/{other[1]}'s"))
        start, end = r.get("eligible_from"), r.get("eligible_until")
        if start is not None and end is not None and start > end:
            problems.append(Problem(file, line, "eligible_until",
                                    f"a date on or after eligible_from ({start.isoformat()}), "
                                    f"got {end.isoformat()}"))
    if problems:
        raise InputError(problems)
    out = [
        {"investor_id": r["investor_id"], "channel": r.get("channel") or "bank",
         "direction": r["direction"], "remittance_account": r["remittance_account"],
         "investment_account": r["investment_account"],
         "eligible_from": _date(r.get("eligible_from")),
         "eligible_until": _date(r.get("eligible_until"))}
        for r in rows
    ]
    table: Table = Investor.__table__  # type: ignore[assignment]
    key_columns = ["investor_id", "channel"]
    completed = complete_rows(conn, table, key_columns, INVESTOR_ATTRIBUTES, out)
    for i, r in enumerate(out):  # the dates as completed from the stored row
        start, end = r["eligible_from"], r["eligible_until"]
        if start is not None and end is not None and start > end:
            file, line = origin[i] if origin else ("investors", i + 1)
            problems.append(Problem(file, line, "eligible_until",
                                    f"a date on or after the stored eligible_from "
                                    f"({start.isoformat()}), got {end.isoformat()}"))
    if problems:
        raise InputError(problems)
    return _with_completed(upsert_rows(conn, table, key_columns, out, kind="investor",
                                       origin=origin), completed)


def load_products(
    conn: Connection,
    rows: Sequence[Mapping[str, Any]],
    *,
    origin: Sequence[tuple[str, int]] | None = None,
) -> LoadResult:
    accounts = _accounts(conn, [r["account"] for r in rows])
    problems = []
    for i, r in enumerate(rows):
        file, line = origin[i] if origin else ("products", i + 1)
        acc = accounts.get(r["account"])
        if acc is None:
            problems.append(Problem(file, line, "account",
                                    f"a known account, got {r['account']!r}"))
        elif acc[0] != r["currency"]:
            problems.append(Problem(file, line, "account",
                                    f"an account in {r['currency']}, {r['account']} holds "
                                    f"{acc[0]}"))
    if problems:
        raise InputError(problems)
    out = [_product_row(r) for r in rows]
    table: Table = Product.__table__  # type: ignore[assignment]
    completed = complete_rows(conn, table, ["product"], PRODUCT_ATTRIBUTES, out)
    return _with_completed(upsert_rows(conn, table, ["product"], out, kind="product",
                                       origin=origin), completed)


def complete_rows(conn: Connection, table: Table, key: Sequence[str],
                  attributes: Sequence[str], rows: list[dict[str, Any]]) -> int:
    """Let ``rows`` state what their stored versions left unstated; returns how many changed.

    A row agrees with its stored version when every column both state is equal; ``attributes``
    are the columns either may leave unstated (NULL). Where they agree, the stored row takes
    the attributes only the new row states (a database upgraded to migration 0007 holds its
    products with no type; loading them again with their types completes them), and the new
    row takes those only the stored row states (a file written before the columns existed
    loads again as a no-op). A stated value is never changed: rows that disagree are left for
    :func:`~ledger.refdata.upsert_rows` to refuse, naming both. Rows are changed in place.
    """
    keys = sorted({tuple(r[c] for c in key) for r in rows})
    if not keys:
        return 0
    cols = [table.c[c] for c in (*key, *(c for c in rows[0] if c not in key))]
    stored: dict[tuple[Any, ...], dict[str, Any]] = {}
    for i in range(0, len(keys), 1000):
        part = keys[i : i + 1000]
        cond = (table.c[key[0]].in_([k[0] for k in part]) if len(key) == 1
                else tuple_(*[table.c[c] for c in key]).in_(part))
        for r in conn.execute(select(*cols).where(cond)):
            m = dict(r._mapping)
            stored[tuple(m[c] for c in key)] = m
    fills: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        k = tuple(row[c] for c in key)
        old = stored.get(k)
        if old is None or any(old[c] != row[c] for c in row if c not in attributes):
            continue
        if any(old[c] is not None and row[c] is not None and old[c] != row[c]
               for c in attributes):
            continue
        fill = {c: row[c] for c in attributes if old[c] is None and row[c] is not None}
        for c in attributes:
            if row[c] is None:
                row[c] = old[c]
        if fill:
            fills.setdefault(k, {}).update(fill)
            old.update(fill)
    for k, fill in fills.items():
        conn.execute(update(table).where(*[table.c[c] == v for c, v in zip(key, k, strict=True)])
                     .values(**fill))
    return len(fills)


def _with_completed(result: LoadResult, completed: int) -> LoadResult:
    return LoadResult(result.kind, result.rows, result.inserted, result.unchanged, completed)


def _date(value: Any) -> dt.date | None:
    """A date of a Python row (a date or its ISO text), or None."""
    if value is None or value == "":
        return None
    return value if isinstance(value, dt.date) else parse_date(str(value))


def _product_row(r: Mapping[str, Any]) -> dict[str, Any]:
    """A products row (from a file or Python values) as a row of the products table, checked."""
    out = {k: r[k] for k in ("product", "currency", "risk", "direction", "account")}
    for f in PRODUCT_SCHEMA.fields[5:]:
        value = r.get(f.name)
        if value is None or value == "":
            out[f.name] = f.default
        elif f.name == "complex" and isinstance(value, bool):
            out[f.name] = value
        else:
            out[f.name] = f.parse(str(value))
    return out


def load_file(conn: Connection, kind: str, path: str | Path) -> LoadResult:
    """Load an ``investors`` or ``products`` file, all or nothing."""
    schema = INVESTOR_SCHEMA if kind == "investors" else PRODUCT_SCHEMA
    rows = read_file(path, schema)
    origin = [(str(path), ln) for ln, _ in rows]
    values = [r for _, r in rows]
    if kind == "investors":
        return load_investors(conn, values, origin=origin)
    if kind == "products":
        return load_products(conn, values, origin=origin)
    raise InputError(f"unknown reference data kind {kind!r}")
