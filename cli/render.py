"""Rendering for people and programs: tables on a terminal, CSV, JSON; the one place where
values that came from data meet the terminal.

Guarantees:

- **Data is never markup.** Every value shown in a table, a title or a message is a
  :class:`rich.text.Text` built from plain text (:func:`cell`, :func:`message`), never parsed as
  Rich markup: an account coded ``[red]X[/red]`` shows literally, ``[/]nope`` cannot break a
  report.
- **Data cannot drive the terminal.** :func:`displayed` shows control characters (ANSI escapes
  included), bidi overrides and isolates and invisible format characters as Python-style escapes
  (``\\x1b``, ``\\u202e``), inert on any terminal. Text longer than :data:`TEXT_LIMIT`
  characters is cut and ends with :data:`CUT_MARK`, whose character ``…`` is itself shown
  escaped (``\\u2026``) where data holds it, so the marker cannot be mistaken for data.
- **Amounts are whole.** An amount is never cut, wrapped or bounded: amount columns do not wrap
  and are as wide as their widest value; when the table cannot fit the terminal that way, the
  rows are printed one field a line instead. People read amounts with thousands separators
  (:func:`ledger.money.group_digits`, as the demo and the HTML page do); CSV and JSON keep the
  plain ``1234.50``.
- **CSV is one table.** A command with several tables writes one of them as CSV (``--table``),
  with one header row and nothing else.

Amounts arrive here already formatted as strings with their currency's digits; nothing here
does arithmetic.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

TEXT_LIMIT: Final = 120
"""Characters of one text value shown before it is cut (counted before escaping)."""

CUT_MARK: Final = "…"
"""Ends a cut text value, followed by how many characters were left out: ``…(+880 chars)``."""

AMOUNT_COLUMNS: Final = frozenset({
    "debits", "credits", "balance", "net", "amount", "remitted_out", "remitted_back", "used",
    "remaining", "position", "value", "previous", "total", "ledger_closing",
    "statement_closing", "difference", "debit", "credit", "converted", "opening", "closing",
})
"""Columns holding amounts (text with the currency's digits): grouped, never cut or wrapped."""

COUNT_COLUMNS: Final = frozenset({
    "count", "line", "instructions", "accepted", "rejected", "duplicates", "rows", "matched",
    "seq", "transfer_id", "rate",
})
"""Columns holding counts: right-aligned, never cut or wrapped."""

# Characters that move the cursor, change colours, reorder text or hide: C0 and C1 controls,
# DEL, bidi embeddings/overrides/isolates and marks, zero-width characters, the BOM, the line
# and paragraph separators, and our own cut mark (see CUT_MARK).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\u2026]"
)


def _escape_char(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def displayed(value: object, *, limit: int | None = TEXT_LIMIT) -> str:
    """``value`` as text safe to show on a terminal: unsafe characters escaped, cut to ``limit``
    characters (``None``: never cut, for amounts) with :data:`CUT_MARK` and the count left out."""
    text = "" if value is None else str(value)
    cut = ""
    if limit is not None and len(text) > limit:  # cut before escaping: no escape is split
        cut = f"{CUT_MARK}(+{len(text) - limit} chars)"
        text = text[:limit]
    if _UNSAFE.search(text):
        text = _UNSAFE.sub(_escape_char, text)
    return text + cut


def cell(column: str, value: object) -> Text:
    """A table cell: an amount grouped and whole, any other value :func:`displayed`."""
    if column in AMOUNT_COLUMNS and isinstance(value, str):
        return Text(displayed(grouped(value), limit=None))
    return Text(displayed(value, limit=None if column in COUNT_COLUMNS else TEXT_LIMIT))


def grouped(value: str) -> str:
    """An amount's text with thousands separators; any other text as it is."""
    from ledger.money import group_digits  # its currency table: not for ``wmc --help``

    try:
        return group_digits(value)
    except ValueError:  # not an amount after all (an empty rate, a label): shown as it is
        return value


def message(template: str, *values: object) -> Text:
    """A line of prose: ``template`` is the program's own Rich markup with ``{}`` fields; each
    value is :func:`displayed` and escaped, so data never becomes markup."""
    return Text.from_markup(template.format(*(escape(displayed(v)) for v in values)))


def console(*, stderr: bool = False) -> Console:
    """A console for the command's output; not a terminal: no width to fit, never cut."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, soft_wrap=True, width=None if stream.isatty() else 400,
                   stderr=stderr)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def emit_rows(rows: Sequence[Mapping[str, Any]], fmt: str, *, title: str | None = None,
              columns: Sequence[str] | None = None) -> None:
    """One table: JSON (an array), CSV (a header even with no rows when ``columns`` are
    given) or a terminal table."""
    if fmt == "json":
        emit_json(list(rows))
    elif fmt == "csv":
        sys.stdout.write(rows_to_csv(rows, columns))
    else:
        emit_table(rows, title=title)


def rows_to_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """``rows`` as CSV with one header (``columns``, else the first row's keys; with no rows
    and no columns, nothing)."""
    fields = list(columns) if columns is not None else list(rows[0].keys()) if rows else []
    if not fields:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def emit_table(rows: Sequence[Mapping[str, Any]], *, title: str | None = None,
               out: Console | None = None) -> None:
    out = out or console()
    heading = Text(displayed(title)) if title else None
    if not rows:
        out.print(Text.assemble(heading or "", ": (none)" if heading else "(none)"))
        return
    columns = list(rows[0])
    cells = [[cell(c, row.get(c)) for c in columns] for row in rows]
    if _fits(columns, cells, out.width):
        table = Table(title=heading, show_lines=False)
        for i, col in enumerate(columns):
            if col in AMOUNT_COLUMNS or col in COUNT_COLUMNS:
                widest = max(len(col), *(r[i].cell_len for r in cells))
                # Not wrapped, as wide as the widest value: Rich folds the text columns
                # first, and _fits made sure that is enough (overflow="ignore" would also
                # drop the right justification).
                table.add_column(col, justify="right", no_wrap=True, min_width=widest)
            else:
                table.add_column(col, justify="left", overflow="fold")
        for r in cells:
            table.add_row(*r)
        out.print(table)
        return
    # Too narrow for the amounts as they are: one field a line, so that nothing is cut.
    if heading is not None:
        out.print(heading, style="bold")
    label = max(len(c) for c in columns)
    for n, r in enumerate(cells):
        if n:
            out.print()
        for col, value in zip(columns, r, strict=True):
            out.print(Text.assemble(f"{col:>{label}}  ", value), overflow="fold")


_MIN_TEXT_WIDTH: Final = 6
"""The narrowest a text column may be folded to before the table goes vertical."""


def _fits(columns: Sequence[str], cells: Sequence[Sequence[Text]], width: int) -> bool:
    """Whether a boxed table fits ``width`` with every amount and count whole and every text
    column folded to no less than :data:`_MIN_TEXT_WIDTH` (or its widest value, if narrower)."""
    need = 1  # the left border
    for i, col in enumerate(columns):
        widest = max(len(col), *(r[i].cell_len for r in cells))
        fixed = col in AMOUNT_COLUMNS or col in COUNT_COLUMNS
        need += (widest if fixed else min(widest, _MIN_TEXT_WIDTH)) + 3  # padding and border
    return need <= width


@dataclass(frozen=True, slots=True)
class Section:
    """One table of a command's output, with the name ``--table`` chooses it by."""

    name: str
    title: str
    rows: Sequence[Mapping[str, Any]]
    columns: Sequence[str] | None = None


def emit_sections(sections: Sequence[Section], fmt: str, table: str | None, *,
                  default: str, prose: Sequence[Text] = (), out: Console | None = None) -> None:
    """The tables of a command: on a terminal every table (or the one ``table`` names) and the
    ``prose`` lines after them; as CSV exactly one table (``table``, else ``default``)."""
    wanted = table or default
    chosen = next((s for s in sections if s.name == wanted), None)
    if chosen is None:  # the command's --table choices and its sections disagree
        raise ValueError(f"no table {wanted!r} among {[s.name for s in sections]}")
    if fmt == "csv":
        sys.stdout.write(rows_to_csv(chosen.rows, chosen.columns))
        return
    out = out or console()
    for s in sections:
        if table is None or s.name == table:
            emit_table(s.rows, title=s.title, out=out)
    if table is None:
        for line in prose:
            out.print(line)


def table_names_help(names: Sequence[str], default: str) -> str:
    """The help text of a command's ``--table`` option."""
    return (f"Show one table (with --format csv: which table; default {default}): "
            f"{', '.join(names)}.")
