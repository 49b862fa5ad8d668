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
