"""Scheme reference data: investors (closed-loop pairs per channel) and eligible products.

Loaded idempotently like the ledger's own reference data (same row: no-op; same key with other
content: an error naming both). The closed loop is checked on load: both accounts of a pair
exist and hold CNY (cross-border legs are in RMB), they belong to banks on opposite sides of the
border, and an investment account serves one investor and channel only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, select

from ledger.errors import InputError, Problem
from ledger.files import Field, Schema, one_of
from ledger.money import carried_currency
from ledger.refdata import LoadResult, read_file, upsert_rows
from ledger.schema import ACCOUNT_LENGTH, KEY_LENGTH, Account, Bank
from settlement.schema import Investor, Product

DIRECTIONS = ("southbound", "northbound")
CHANNELS = ("bank", "broker")
RISKS = ("R1", "R2", "R3", "R4", "R5")
# Northbound: public funds R1-R4 (DOMAIN.md). Southbound: a policy setting would go here.
MAX_RISK = {"northbound": "R4", "southbound": "R5"}

INVESTOR_SCHEMA = Schema((
    Field("investor_id", required=True, limit=KEY_LENGTH),
    Field("direction", one_of(*DIRECTIONS), required=True),
    Field("remittance_account", required=True, limit=ACCOUNT_LENGTH),
    Field("investment_account", required=True, limit=ACCOUNT_LENGTH),
    Field("channel", one_of(*CHANNELS), default="bank"),
))

PRODUCT_SCHEMA = Schema((
    Field("product", required=True, limit=KEY_LENGTH),
    Field("currency", lambda t: carried_currency(t).code, required=True),
    Field("risk", one_of(*RISKS), required=True),
    Field("direction", one_of(*DIRECTIONS), required=True),
    Field("account", required=True, limit=ACCOUNT_LENGTH),
))

HOME_MARKETS = {"southbound": ("CN",), "northbound": ("HK", "MO")}


def _accounts(conn: Connection, codes: Iterable[str]) -> dict[str, tuple[str, str]]:
    """code -> (currency, market of its bank)."""
    wanted = sorted(set(codes))
    out: dict[str, tuple[str, str]] = {}
    a, b = Account.__table__.c, Bank.__table__.c
    for i in range(0, len(wanted), 2000):
        stmt = (
            select(a.code, a.currency, b.market)
            .join(Bank.__table__, b.bank_id == a.bank_id)
            .where(a.code.in_(wanted[i : i + 2000]))
        )
        out.update((r[0], (r[1], r[2])) for r in conn.execute(stmt))
    return out


def _investment_owners(conn: Connection, codes: Sequence[str]) -> dict[str, tuple[str, str]]:
    """investment account -> (investor, channel), for the stored investors among ``codes``."""
    wanted = sorted(set(codes))
    inv = Investor.__table__.c
    out: dict[str, tuple[str, str]] = {}
    for i in range(0, len(wanted), 2000):
        stmt = select(inv.investment_account, inv.investor_id, inv.channel).where(
            inv.investment_account.in_(wanted[i : i + 2000]))
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
    # Whose each investment account is: stored investors first, then this file's rows.
    seen_investment = _investment_owners(conn, [r["investment_account"] for r in rows])
    for i, r in enumerate(rows):
        file, line = origin[i] if origin else ("investors", i + 1)
        home = HOME_MARKETS[r["direction"]]
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
                                        f"an account at a {side} bank for a {r['direction']} "
                                        f"investor, {r[field]} is in {acc[1]}"))
        key = (r["investor_id"], r["channel"])
        other = seen_investment.setdefault(r["investment_account"], key)
        if other != key:
            problems.append(Problem(file, line, "investment_account",
                                    f"an account of one investor and channel only; "
                                    f"{r['investment_account']} is already "
                                    f"{other[0]}/{other[1]}'s"))
    if problems:
        raise InputError(problems)
    out = [
        {"investor_id": r["investor_id"], "channel": r["channel"] or "bank",
         "direction": r["direction"], "remittance_account": r["remittance_account"],
         "investment_account": r["investment_account"]}
        for r in rows
    ]
    table: Table = Investor.__table__  # type: ignore[assignment]
    return upsert_rows(conn, table, ["investor_id", "channel"], out, kind="investor",
                       origin=origin)


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
    out = [{k: r[k] for k in ("product", "currency", "risk", "direction", "account")}
           for r in rows]
    table: Table = Product.__table__  # type: ignore[assignment]
    return upsert_rows(conn, table, ["product"], out, kind="product", origin=origin)


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
