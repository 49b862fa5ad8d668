"""Rendering rows for people and programs: a table on a terminal, CSV, or JSON.

Amounts arrive here already formatted as strings with their currency's digits; nothing here
does arithmetic.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def emit_rows(rows: Sequence[Mapping[str, Any]], fmt: str, *, title: str | None = None) -> None:
    if fmt == "json":
        emit_json(list(rows))
    elif fmt == "csv":
        sys.stdout.write(rows_to_csv(rows))
    else:
        emit_table(rows, title=title)


def rows_to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0].keys()), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def emit_table(rows: Sequence[Mapping[str, Any]], *, title: str | None = None) -> None:
    # Not a terminal: no width to fit, so never cut an amount or an account code short.
    console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 400)
    if not rows:
        console.print(f"{title + ': ' if title else ''}(none)")
        return
    table = Table(title=title, show_lines=False)
    for col in rows[0]:
        numeric = col in NUMERIC_COLUMNS
        table.add_column(col, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    console.print(table)


NUMERIC_COLUMNS = frozenset({
    "debits", "credits", "balance", "net", "amount", "remitted_out", "remitted_back", "used",
    "remaining", "count", "line", "debit", "credit", "seq", "transfer_id", "rate", "converted",
})
