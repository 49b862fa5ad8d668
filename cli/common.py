"""What every ``wmc`` command shares: output formats, the ledger (opened through the public
API, :class:`wmc_ledger.Ledger`), its engine and settings."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import Engine

from settlement.settings import Settings
from wmc_ledger import Ledger


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def ledger_of(ctx: typer.Context) -> Ledger:
    """The command's :class:`~wmc_ledger.Ledger` on ``--db`` with ``--settings`` (opened once)."""
    obj: dict[str, Any] = ctx.find_root().obj
    if "ledger" not in obj:
        path: Path | None = obj.get("settings_path")
        obj["ledger"] = Ledger.open(obj["db"], settings=path)
    ledger: Ledger = obj["ledger"]
    return ledger


def engine_of(ctx: typer.Context) -> Engine:
    return ledger_of(ctx).engine


def settings_of(ctx: typer.Context) -> Settings:
    return ledger_of(ctx).settings


def parse_date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected YYYY-MM-DD, got {value!r}") from None


def table_option(default: str) -> Any:
    """The ``--table NAME`` option of a command with several tables (their names: the
    option's enum; CSV writes ``default`` when none is named)."""
    return typer.Option(
        "--table",
        help=(f"Show only this table; with --format csv, the one table written (default "
              f"{default}). Not with --format json, which is the whole object."),
    )


class TrialBalanceTable(StrEnum):
    currencies = "currencies"
    accounts = "accounts"


class QuotaTable(StrEnum):
    investors = "investors"
    aggregate = "aggregate"


def check_table(fmt: Format, table: StrEnum | None) -> str | None:
    """Refuse ``--table`` with ``--format json`` before anything is done (exit 2)."""
    if table is not None and fmt is Format.json:
        raise typer.BadParameter("--format json prints the whole object; --table is for "
                                 "table and csv", param_hint="--table")
    return None if table is None else table.value
