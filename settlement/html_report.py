"""A settled batch as one self-contained HTML page: what a person looks at instead of the JSON.

:func:`render_batch_html` takes the object ``wmc settle run --format json`` prints (CONTRACT.md:
``batch_id``, ``file_sha256``, the counts, ``rejections``, ``positions``, ``obligations``,
``gross_payments``; amounts are decimal strings) and returns an HTML document.

What it guarantees:

* **Self-contained.** Inline CSS and inline SVG only: no script, no external stylesheet, font or
  image, so the page can be mailed, archived or opened offline as it is.
* **Escaped.** Every value taken from the report (bank ids, references, messages, codes, even
  currencies and counts) goes through :func:`html.escape`; a bank named ``<script>`` is text.
* **Exact.** No float ever holds an amount. Amounts are shown as the report writes them (with
  thousands separators added to the text); totals are sums of integers of minor units. The
  chart's geometry is integer arithmetic too: within one currency every amount is scaled to an
  integer at the largest number of decimals seen, and a bar's width is ``|net| * half_width //
  max|net|`` in tenths of a pixel.
* **Deterministic.** The same report gives the same page, byte for byte (no clock is read).
* **Bounded.** Long lists (obligations, gross payments, rejections' examples, moved dates) are
  cut at ``max_rows`` rows with a note saying how many were left out; counts and totals always
  cover everything.
* Pure: no database, no I/O. A malformed amount raises :class:`~ledger.errors.InputError` naming
  the field (``positions[2].net``).

The net positions chart is a diverging horizontal bar chart, one panel per currency (each with its
own scale, since currencies differ): a bar per bank, payers (negative) to the left of the axis in
red, receivers (positive) to the right in green, each labelled with its amount.
"""

from __future__ import annotations

import html
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ledger.errors import InputError
from ledger.money import group_digits

__all__ = ["render_batch_html"]

_AMOUNT_RE: Final = re.compile(r"([+-]?)(\d+)(?:\.(\d+))?")

# Chart geometry, in pixels (the SVG scales to the page width through its viewBox).
_WIDTH: Final = 760
_LABEL_END: Final = 118  # bank ids are right-aligned here
_CENTER: Final = 440  # the zero axis
_HALF: Final = 180  # the longest bar, either side
_ROW: Final = 28
_BAR: Final = 18
_TOP: Final = 26
_BOTTOM: Final = 10
_LABEL_MAX: Final = 16  # characters of a bank id shown; the full id is in the tooltip

_PAY: Final = "#c0392b"
_RECEIVE: Final = "#1e8449"

_CSS: Final = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans",
  "PingFang HK", "Microsoft JhengHei", sans-serif; color: #1f2933; background: #f5f7fa;
  margin: 0; }
main { max-width: 980px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 8px; border-bottom: 1px solid #d9e2ec;
  padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 4px; }
.sub { color: #52606d; margin: 0 0 16px; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 12.5px; word-break: break-all; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { background: #fff; border: 1px solid #d9e2ec; border-radius: 8px; padding: 10px 16px;
  min-width: 120px; }
.card .n { font-size: 24px; font-weight: 600; }
.card .l { color: #52606d; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card.bad .n { color: #c0392b; }
.card.warn .n { color: #b7791f; }
.card.good .n { color: #1e8449; }
.panel { background: #fff; border: 1px solid #d9e2ec; border-radius: 8px; padding: 8px 12px;
  margin: 10px 0; }
svg { display: block; width: 100%; height: auto; }
svg text { font: 12px system-ui, sans-serif; fill: #1f2933; }
svg .amt { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 11.5px; }
svg .axis { stroke: #7b8794; stroke-width: 1; }
svg .grid { stroke: #e4e7eb; stroke-width: 1; }
svg .hint { fill: #7b8794; font-size: 11px; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid #e4e7eb;
  vertical-align: top; }
th { background: #f0f4f8; font-weight: 600; font-size: 12.5px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.neg { color: #c0392b; }
.pos { color: #1e8449; }
.ok { color: #1e8449; }
.err { color: #c0392b; font-weight: 600; }
.note { color: #52606d; font-style: italic; margin: 6px 0; }
.empty { color: #7b8794; }
ul.ex { margin: 0; padding-left: 18px; }
footer { color: #7b8794; font-size: 12px; margin-top: 40px; }
"""


def _e(value: object) -> str:
    """Any value as escaped text (``None`` as an empty string)."""
    return html.escape("" if value is None else str(value), quote=True)


# -- exact amounts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Amount:
    """An amount as written in the report, and its digits as an exact integer."""

    text: str
    sign: int
    digits: int  # all digits, as an integer: 12345 for "123.45"
    decimals: int

    def scaled(self, decimals: int) -> int:
        """The amount as an integer of units of ``10**-decimals`` (``decimals`` >= own)."""
        factor: int = 10 ** (decimals - self.decimals)
        return self.sign * self.digits * factor


def _amount(value: object, where: str) -> _Amount:
    text = value if isinstance(value, str) else None
    m = _AMOUNT_RE.fullmatch(text.strip()) if text is not None else None
    if text is None or m is None:
        raise InputError(
            f"batch report: field '{where}': a decimal amount string such as "
            f'"-50000.00", got {value!r}'
        )
    sign, whole, frac = m.group(1), m.group(2), m.group(3) or ""
    return _Amount(text.strip(), -1 if sign == "-" else 1, int(whole + frac), len(frac))


def _format_scaled(n: int, decimals: int) -> str:
    """An integer of ``10**-decimals`` units as a grouped decimal string: ``-1,234.50``."""
    sign = "-" if n < 0 else ""
    whole, frac = divmod(abs(n), 10**decimals)
    plain = f"{sign}{whole}.{frac:0{decimals}d}" if decimals else f"{sign}{whole}"
    return group_digits(plain)  # the one rule for amounts people read (CLI, demo, HTML)


def _group(a: _Amount) -> str:
    """The amount as written, with thousands separators: ``-50000.00`` -> ``-50,000.00``."""
    return _format_scaled(a.sign * a.digits, a.decimals)


def _total(amounts: Sequence[_Amount]) -> str:
    decimals = max((a.decimals for a in amounts), default=0)
    return _format_scaled(sum(a.scaled(decimals) for a in amounts), decimals)


def _tenths(n: int) -> str:
    """Tenths of a pixel as SVG text: 1234 -> ``123.4``."""
    sign = "-" if n < 0 else ""
    whole, frac = divmod(abs(n), 10)
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


# -- reading the report leniently --------------------------------------------------------------


def _rows(report: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = report.get(key)
    if value is None:
        return []
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise InputError(f"batch report: field '{key}': a list of objects, got {value!r}")
    rows = []
    for i, row in enumerate(value):
        if not isinstance(row, Mapping):
            raise InputError(f"batch report: field '{key}[{i}]': an object, got {row!r}")
        rows.append(row)
    return rows


def _count(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return _e(value) if value is not None else "—"


# -- sections ---------------------------------------------------------------------------------


def _header(report: Mapping[str, Any]) -> str:
    batch = report.get("batch_id")
    sha = report.get("file_sha256")
    rejected = report.get("rejected")
    duplicates = report.get("duplicates")

    def card(label: str, value: object, tone: str = "") -> str:
        cls = f"card {tone}".strip()
        return (
            f'<div class="{cls}"><div class="n">{_count(value)}</div>'
            f'<div class="l">{_e(label)}</div></div>'
        )

    cards = "".join(
        [
            card("instructions", report.get("instructions")),
            card("accepted", report.get("accepted"), "good"),
            card("rejected", rejected, "bad" if rejected else ""),
            card("duplicates", duplicates, "warn" if duplicates else ""),
            card("net positions", len(_rows(report, "positions"))),
            card("gross payments", len(_rows(report, "gross_payments"))),
        ]
    )
    return (
        f"<header><h1>Settlement batch <span class=\"mono\">{_e(batch)}</span></h1>"
        f'<p class="sub">Input file SHA-256: <code>{_e(sha)}</code></p>'
        f'<div class="cards">{cards}</div></header>'
    )


def _positions(report: Mapping[str, Any]) -> str:
    rows = _rows(report, "positions")
    parts = [
        "<section><h2>Net positions</h2>",
        '<p class="sub">Multilateral net per bank and currency: payers to the left, receivers '
        "to the right. Each currency has its own scale.</p>",
    ]
    if not rows:
        parts.append('<p class="empty">No nettable flows in this batch.</p></section>')
        return "".join(parts)
    by_currency: dict[str, list[tuple[str, _Amount]]] = defaultdict(list)
    for i, row in enumerate(rows):
        net = _amount(row.get("net"), f"positions[{i}].net")
        by_currency[str(row.get("currency", ""))].append((str(row.get("bank_id", "")), net))
    for code in sorted(by_currency):
        parts.append(_currency_panel(code, by_currency[code]))
    parts.append("</section>")
    return "".join(parts)


def _currency_panel(code: str, positions: list[tuple[str, _Amount]]) -> str:
    decimals = max(a.decimals for _, a in positions)
    scaled = [(bank, a, a.scaled(decimals)) for bank, a in positions]
    # Biggest payer on top, biggest receiver at the bottom; ties by bank id.
    scaled.sort(key=lambda r: (r[2], r[0]))
    largest = max(abs(v) for _, _, v in scaled)
    total = sum(v for _, _, v in scaled)
    paying = sum(1 for _, _, v in scaled if v < 0)
    receiving = sum(1 for _, _, v in scaled if v > 0)
    check = (
        f'<span class="ok">positions sum to {_e(_format_scaled(0, decimals))} ✓</span>'
        if total == 0
        else f'<span class="err">positions sum to {_e(_format_scaled(total, decimals))}, '
        "not zero</span>"
    )
    height = _TOP + _ROW * len(scaled) + _BOTTOM
    label = (
        f"{code} net positions: {paying} paying, {receiving} receiving, "
        f"largest {_format_scaled(largest, decimals)}"
    )
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" '
        f'role="img" aria-label="{_e(label)}" data-currency="{_e(code)}">',
        f"<title>{_e(label)}</title>",
        f'<text class="hint" x="{_CENTER - 8}" y="14" text-anchor="end">← pays</text>',
        f'<text class="hint" x="{_CENTER + 8}" y="14">receives →</text>',
    ]
    for q in (-2, -1, 1, 2):  # light gridlines at half and full scale
        x = _CENTER + q * _HALF // 2
        svg.append(
            f'<line class="grid" x1="{x}" y1="{_TOP - 6}" x2="{x}" y2="{height - _BOTTOM}"/>'
        )
    for i, (bank, amount, value) in enumerate(scaled):
        y = _TOP + i * _ROW
        mid = y + _BAR // 2 + 4
        # Tenths of a pixel, by integer arithmetic; a non-zero position gets at least 1px.
        w = abs(value) * _HALF * 10 // largest if largest else 0
        if value and w < 10:
            w = 10
        if value < 0:
            x, fill, cls, tone = _CENTER * 10 - w, _PAY, "bar pay", "pays"
            tx, anchor = _CENTER * 10 - w - 60, "end"
        else:
            x, fill, cls, tone = _CENTER * 10, _RECEIVE, "bar receive", "receives"
            tx, anchor = _CENTER * 10 + w + 60, "start"
        if value == 0:
            cls, tone = "bar zero", "is flat"
        shown = bank if len(bank) <= _LABEL_MAX else bank[: _LABEL_MAX - 1] + "…"
        tip = f"{bank} {tone} {code} {_group(amount)}"
        svg.append(
            f'<text x="{_LABEL_END}" y="{mid}" text-anchor="end">{_e(shown)}'
            f"<title>{_e(bank)}</title></text>"
            f'<rect class="{cls}" x="{_tenths(x)}" y="{y}" width="{_tenths(w)}" '
            f'height="{_BAR}" rx="2" fill="{fill}" data-bank="{_e(bank)}" '
            f'data-net="{_e(amount.text)}"><title>{_e(tip)}</title></rect>'
            f'<text class="amt" x="{_tenths(tx)}" y="{mid}" text-anchor="{anchor}">'
            f"{_e(_group(amount))}</text>"
        )
    svg.append(
        f'<line class="axis" x1="{_CENTER}" y1="{_TOP - 6}" x2="{_CENTER}" '
        f'y2="{height - _BOTTOM}"/>'
    )
    svg.append("</svg>")
    return (
        f'<div class="panel"><h3>{_e(code)} <span class="sub">· {len(scaled)} banks · '
        f"{check}</span></h3>{''.join(svg)}</div>"
    )


def _capped(rows: Sequence[Any], max_rows: int, what: str) -> tuple[Sequence[Any], str]:
    if len(rows) <= max_rows:
        return rows, ""
    note = (
        f'<p class="note">Showing the first {max_rows:,} of {len(rows):,} {_e(what)}; '
        "the JSON report has them all.</p>"
    )
    return rows[:max_rows], note


def _table(head: Iterable[tuple[str, bool]], body: Iterable[Iterable[tuple[str, str]]]) -> str:
    """A table; ``head`` is (label, numeric); each cell is (escaped html, css class)."""
    ths = "".join(
        f'<th class="num">{_e(label)}</th>' if num else f"<th>{_e(label)}</th>"
        for label, num in head
    )
    trs = "".join(
        "<tr>"
        + "".join(f'<td class="{cls}">{cell}</td>' if cls else f"<td>{cell}</td>"
                  for cell, cls in row)
        + "</tr>"
        for row in body
    )
    return f"<table><thead><tr>{ths}</tr></thead><tbody>{trs}</tbody></table>"


def _per_currency(rows: Sequence[Mapping[str, Any]], key: str, field: str) -> str:
    """Count and total per currency of ``rows`` (amounts under ``field``)."""
    amounts: dict[str, list[_Amount]] = defaultdict(list)
    for i, row in enumerate(rows):
        amounts[str(row.get("currency", ""))].append(
            _amount(row.get(field), f"{key}[{i}].{field}")
        )
    return _table(
        [("Currency", False), ("Count", True), ("Total", True)],
        (
            [(_e(code), ""), (f"{len(amounts[code]):,}", "num"),
             (_e(_total(amounts[code])), "num")]
            for code in sorted(amounts)
        ),
    )


def _obligations(report: Mapping[str, Any], max_rows: int) -> str:
    rows = _rows(report, "obligations")
    parts = [
        "<section><h2>Bilateral obligations</h2>",
        '<p class="sub">What each bank pays each other bank, netted per pair and currency.</p>',
    ]
    if not rows:
        parts.append('<p class="empty">No obligations.</p></section>')
        return "".join(parts)
    parts.append(_per_currency(rows, "obligations", "amount"))
    shown, note = _capped(rows, max_rows, "obligations")
    body = []
    for i, row in enumerate(shown):
        amount = _amount(row.get("amount"), f"obligations[{i}].amount")
        body.append([
            (f"{_e(row.get('payer'))} → {_e(row.get('payee'))}", ""),
            (_e(row.get("currency")), ""),
            (_e(_group(amount)), "num"),
            (_e(row.get("value_date")), ""),
        ])
    parts.append("<h3>Payer → payee</h3>")
    parts.append(
        _table([("Payer → payee", False), ("Currency", False), ("Amount", True),
                ("Value date", False)], body)
    )
    parts.append(note + "</section>")
    return "".join(parts)


def _rejections(report: Mapping[str, Any], examples: int) -> str:
    rows = _rows(report, "rejections")
    parts = ["<section><h2>Rejections</h2>"]
    if not rows:
        parts.append('<p class="empty">No instruction was rejected.</p></section>')
        return "".join(parts)
    by_code: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_code[str(row.get("code", ""))].append(row)
    counts = Counter({code: len(items) for code, items in by_code.items()})
    body = []
    for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        items = by_code[code]
        lis = "".join(
            f"<li><code>{_e(r.get('instruction_id'))}</code>"
            + (f" (line {_e(r.get('line'))})" if r.get("line") is not None else "")
            + f": {_e(r.get('message'))}</li>"
            for r in items[:examples]
        )
        more = (
            f'<li class="note">and {len(items) - examples:,} more</li>'
            if len(items) > examples
            else ""
        )
        body.append([(f"<code>{_e(code)}</code>", ""), (f"{n:,}", "num"),
                     (f'<ul class="ex">{lis}{more}</ul>', "")])
    parts.append(_table([("Code", False), ("Count", True), ("Examples", False)], body))
    parts.append("</section>")
    return "".join(parts)


def _gross(report: Mapping[str, Any], max_rows: int) -> str:
    rows = _rows(report, "gross_payments")
    parts = [
        "<section><h2>Gross payments</h2>",
        '<p class="sub">Cross-border remittances and repatriations, settled one by one '
        "(never netted).</p>",
    ]
    if not rows:
        parts.append('<p class="empty">No gross payments.</p></section>')
        return "".join(parts)
    parts.append(_per_currency(rows, "gross_payments", "amount"))
    shown, note = _capped(rows, max_rows, "gross payments")
    body = []
    for i, row in enumerate(shown):
        amount = _amount(row.get("amount"), f"gross_payments[{i}].amount")
        body.append([
            (f"<code>{_e(row.get('instruction_id'))}</code>", ""),
            (f"{_e(row.get('payer'))} → {_e(row.get('payee'))}", ""),
            (_e(row.get("currency")), ""),
            (_e(_group(amount)), "num"),
            (_e(row.get("value_date")), ""),
        ])
    parts.append("<h3>Payments</h3>")
    parts.append(
        _table([("Instruction", False), ("Payer → payee", False), ("Currency", False),
                ("Amount", True), ("Value date", False)], body)
    )
    parts.append(note + "</section>")
    return "".join(parts)


def _moved_dates(report: Mapping[str, Any], max_rows: int) -> str:
    rows = _rows(report, "moved_dates")
    if not rows:
        return ""
    shown, note = _capped(rows, max_rows, "moved value dates")
    body = [
        [
            (f"<code>{_e(r.get('instruction_id'))}</code>", ""),
            (_e(r.get("market")), ""),
            (_e(r.get("requested")), ""),
            (_e(r.get("value_date")), ""),
            (_e(r.get("reason")), ""),
        ]
        for r in shown
    ]
    return (
        f"<section><h2>Value dates moved ({len(rows):,})</h2>"
        + _table([("Instruction", False), ("Market", False), ("Requested", False),
                  ("Value date", False), ("Reason", False)], body)
        + note
        + "</section>"
    )


def render_batch_html(
    report: Mapping[str, Any],
    *,
    max_rows: int = 200,
    examples: int = 3,
    title: str | None = None,
) -> str:
    """The batch report ``report`` (the ``wmc settle run --format json`` object) as an HTML page.

    ``max_rows`` caps each long table (obligations, gross payments, moved value dates);
    ``examples`` is how many rejections are shown per code. ``title`` defaults to
    ``"Settlement batch <batch_id>"``. See the module docstring for what the page guarantees.
    """
    if max_rows < 0 or examples < 0:
        raise InputError("max_rows and examples must be 0 or more")
    page_title = title if title is not None else f"Settlement batch {report.get('batch_id', '')}"
    body = "".join(
        [
            _header(report),
            _positions(report),
            _obligations(report, max_rows),
            _rejections(report, examples),
            _gross(report, max_rows),
            _moved_dates(report, max_rows),
        ]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(page_title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{body}"
        "<footer>wmc-ledger · batch report · amounts as in the JSON report, "
        "in each currency's major units</footer></main></body></html>\n"
    )
