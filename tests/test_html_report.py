"""The batch report as HTML: well-formed, self-contained, escaped, exact, one bar per position."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from ledger.errors import InputError
from settlement.html_report import render_batch_html

VOID = frozenset({"meta", "link", "br", "hr", "img", "input", "col", "wbr"})

# DOMAIN.md "Settlement": gross A->B 1,200,000; B->A 450,000; B->C 300,000; C->A 800,000;
# A->C 100,000; C->B 50,000 (HKD).
THREE_BANKS: dict[str, Any] = {
    "batch_id": "B-20250303-01",
    "file_sha256": "9f2c" + "0" * 60,
    "instructions": 8,
    "accepted": 6,
    "rejected": 2,
    "duplicates": 0,
    "rejections": [
        {"instruction_id": "I-7", "line": 8, "code": "insufficient_funds",
         "message": "account 'A-CUST-HKD' has 0.00 HKD, needs 10.00 HKD"},
        {"instruction_id": "I-8", "line": 9, "code": "unknown_account",
         "message": "account 'Z' does not exist"},
    ],
    "positions": [
        {"bank_id": "A", "currency": "HKD", "net": "-50000.00"},
        {"bank_id": "B", "currency": "HKD", "net": "500000.00"},
        {"bank_id": "C", "currency": "HKD", "net": "-450000.00"},
    ],
    "obligations": [
        {"payer": "A", "payee": "B", "currency": "HKD", "amount": "750000.00",
         "value_date": "2025-03-03"},
        {"payer": "C", "payee": "A", "currency": "HKD", "amount": "700000.00",
         "value_date": "2025-03-03"},
        {"payer": "B", "payee": "C", "currency": "HKD", "amount": "250000.00",
         "value_date": "2025-03-03"},
    ],
    "gross_payments": [
        {"instruction_id": "R-1", "payer": "C", "payee": "A", "currency": "CNY",
         "amount": "100000.00", "value_date": "2025-03-03"},
    ],
}


class Page(HTMLParser):
    """Checks that every element is closed in order, and collects what the tests look at."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def bars(self) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == "rect" and (a.get("class") or "").startswith("bar")]


def parse(page: str) -> Page:
    p = Page()
    p.feed(page)
    p.close()
    assert p.errors == []
    assert p.stack == []
    return p


def test_the_three_bank_netting_example() -> None:
    page = render_batch_html(THREE_BANKS)
    p = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    text = " ".join(p.text)
    for shown in ("B-20250303-01", THREE_BANKS["file_sha256"], "-50,000.00", "500,000.00",
                  "-450,000.00", "750,000.00", "700,000.00", "250,000.00"):
        assert shown in text
    svgs = [a for t, a in p.tags if t == "svg"]
    assert [a["data-currency"] for a in svgs] == ["HKD"]
    bars = {a["data-bank"]: a for a in p.bars()}
    assert len(p.bars()) == 3
    # Exact geometry: B (the largest) spans the half width, C 9/10 of it, A 1/10; payers end
    # at the axis (x + width == 440), receivers start there.
    assert {b: (a["x"], a["width"], a["class"]) for b, a in bars.items()} == {
        "A": ("422", "18", "bar pay"),
        "B": ("440", "180", "bar receive"),
        "C": ("278", "162", "bar pay"),
    }
    # Largest payer on top.
    assert [a["data-bank"] for a in p.bars()] == ["C", "A", "B"]
    assert "positions sum to 0.00" in text
    # Obligations: payer -> payee, with their total per currency.
    assert "A → B" in text and "C → A" in text and "B → C" in text
    assert "1,700,000.00" in text


def test_one_bar_per_position_and_a_scale_per_currency() -> None:
    report = copy.deepcopy(THREE_BANKS)
    report["positions"] += [
        {"bank_id": "A", "currency": "CNY", "net": "0.01"},
        {"bank_id": "C", "currency": "CNY", "net": "-0.01"},
        {"bank_id": "A", "currency": "MOP", "net": "0.00"},
        {"bank_id": "B", "currency": "MOP", "net": "0.00"},
    ]
    p = parse(render_batch_html(report))
    assert [a["data-currency"] for t, a in p.tags if t == "svg"] == ["CNY", "HKD", "MOP"]
    assert len(p.bars()) == 7
    cny = [a for a in p.bars() if a["data-net"] in ("0.01", "-0.01")]
    # CNY's own scale: a cent is a full-width bar there.
    assert sorted((a["x"], a["width"]) for a in cny) == [("260", "180"), ("440", "180")]
    zero = [a for a in p.bars() if a["data-net"] == "0.00"]
    assert [(a["class"], a["width"]) for a in zero] == [("bar zero", "0")] * 2


def test_a_tiny_position_is_still_visible() -> None:
    report = {"positions": [
        {"bank_id": "A", "currency": "HKD", "net": "-1000000000.00"},
        {"bank_id": "B", "currency": "HKD", "net": "999999999.99"},
        {"bank_id": "C", "currency": "HKD", "net": "0.01"},
    ]}
    p = parse(render_batch_html(report))
    widths = {a["data-bank"]: a["width"] for a in p.bars()}
    assert widths == {"A": "180", "B": "179.9", "C": "1"}


def test_every_string_is_escaped() -> None:
    evil = "<script>alert('x')</script>"
    report = copy.deepcopy(THREE_BANKS)
    report["batch_id"] = evil
    report["positions"][0]["bank_id"] = evil
    report["obligations"][0]["payer"] = evil
    report["rejections"][0]["message"] = evil
    report["rejections"][1]["code"] = '"><img src=x onerror=alert(1)>'
    report["gross_payments"][0]["instruction_id"] = evil
    page = render_batch_html(report)
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert "&lt;script&gt;" in page
    p = parse(page)
    assert evil in {a["data-bank"] for a in p.bars()}
    assert not any(t in ("script", "img") for t, _ in p.tags)


def test_self_contained() -> None:
    page = render_batch_html(THREE_BANKS)
    p = parse(page)
    assert not any(t in ("script", "link", "img", "iframe") for t, _ in p.tags)
    assert not any(k in ("src", "href") or k.startswith("on") for _, a in p.tags for k in a)
    # The only URL is the SVG namespace.
    assert set(re.findall(r"https?://[^\"' ]+", page)) == {"http://www.w3.org/2000/svg"}
    assert "<style>" in page


def test_rejections_are_summarised_by_code_with_a_few_examples() -> None:
    report = copy.deepcopy(THREE_BANKS)
    report["rejections"] = [
        {"instruction_id": f"Q-{i}", "line": i + 2, "code": "quota_exceeded_individual",
         "message": f"investor {i} over quota"} for i in range(7)
    ] + [{"instruction_id": "N-1", "line": 30, "code": "no_rate", "message": "no CNY/HKD rate"}]
    p = parse(render_batch_html(report, examples=3))
    text = " ".join(p.text)
    rows = [a for t, a in p.tags if t == "tr"]
    assert len(rows) >= 3
    assert text.index("quota_exceeded_individual") < text.index("no_rate")  # most frequent first
    assert "Q-0" in text and "Q-2" in text and "Q-3" not in text
    assert "and 4 more" in text
    assert "no CNY/HKD rate" in text


def test_long_lists_are_capped_but_totals_count_everything() -> None:
    report = copy.deepcopy(THREE_BANKS)
    report["gross_payments"] = [
        {"instruction_id": f"R-{i:04d}", "payer": "C", "payee": "A", "currency": "CNY",
         "amount": "1000.01", "value_date": "2025-03-03"} for i in range(250)
    ]
    page = render_batch_html(report)
    text = " ".join(parse(page).text)
    assert "R-0199" in text and "R-0200" not in text
    assert "Showing the first 200 of 250 gross payments" in text
    assert "250,002.50" in text  # 250 x 1000.01, exact
    small = " ".join(parse(render_batch_html(report, max_rows=10)).text)
    assert "R-0009" in small and "R-0010" not in small


def test_empty_and_minimal_reports_render() -> None:
    text = " ".join(parse(render_batch_html({"batch_id": "EMPTY"})).text)
    assert "EMPTY" in text
    assert "No nettable flows" in text and "No instruction was rejected" in text


@pytest.mark.parametrize("bad", [1.5, "1e3", "12,50", None, "abc"])
def test_an_amount_that_is_not_a_decimal_string_is_refused(bad: object) -> None:
    report = copy.deepcopy(THREE_BANKS)
    report["positions"][1]["net"] = bad
    with pytest.raises(InputError, match=r"positions\[1\]\.net"):
        render_batch_html(report)


def test_deterministic() -> None:
    assert render_batch_html(THREE_BANKS) == render_batch_html(copy.deepcopy(THREE_BANKS))
