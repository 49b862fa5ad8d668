"""What every ``wmc`` command shares: output formats, the engine, the settings."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import Engine

from ledger.db import make_engine
from settlement.settings import Settings, load_settings


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def engine_of(ctx: typer.Context) -> Engine:
    obj: dict[str, Any] = ctx.find_root().obj
    if "engine" not in obj:
        obj["engine"] = make_engine(obj["db"])
    engine: Engine = obj["engine"]
    return engine


def settings_of(ctx: typer.Context) -> Settings:
    obj: dict[str, Any] = ctx.find_root().obj
    if "settings" not in obj:
        path: Path | None = obj.get("settings_path")
        obj["settings"] = load_settings(path)
    settings: Settings = obj["settings"]
    return settings


def parse_date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected YYYY-MM-DD, got {value!r}") from None
