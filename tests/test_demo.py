"""``wmc demo``: a small day end to end, its checks, and the folder rules."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from cli.demo import MARKER, DemoResult, run_demo
from ledger.errors import InputError

PLANTED_BREAKS = ("amount_mismatch", "duplicate", "missing_in_ledger", "missing_in_statement")


def _run(directory: Path, instructions: int) -> tuple[DemoResult, str]:
    buf = io.StringIO()
    result = run_demo(directory, instructions=instructions, seed=7,
                      console=Console(file=buf, width=100, force_terminal=False))
    return result, buf.getvalue()


@pytest.fixture(scope="module")
def small_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, str]:
    return _run(tmp_path_factory.mktemp("demo") / "day", 3_000)


def test_settles_the_day_with_exactly_the_planted_rejections(
    small_day: tuple[DemoResult, str],
) -> None:
    result, _ = small_day
    assert result.batch_id == "B00000001"
    assert result.accepted > 3_000  # the funding block and the day's instructions
    assert result.rejected == sum(result.planted_rejections.values()) > 0
    assert dict(result.rejections) == dict(result.planted_rejections)
    assert result.duplicates > 0
    assert result.instructions == result.accepted + result.rejected + result.duplicates
    assert result.database == f"sqlite:///{result.directory / 'wmc.db'}"
    assert result.audit_ok


def test_reconciliation_finds_exactly_the_planted_breaks_in_both_formats(
    small_day: tuple[DemoResult, str],
) -> None:
    result, _ = small_day
    assert result.planted_breaks == PLANTED_BREAKS
    assert set(result.breaks) == {"camt.053", "mt940"}
    for fmt, breaks in result.breaks.items():
        assert tuple(sorted(b.type for b in breaks)) == PLANTED_BREAKS, fmt
        assert all(b.currency == result.account[-3:] for b in breaks)
    assert result.breaks["camt.053"] == result.breaks["mt940"]
    fee = next(b for b in result.breaks["mt940"] if b.type == "missing_in_ledger")
    mismatch = next(b for b in result.breaks["mt940"] if b.type == "amount_mismatch")
    assert (fee.amount, mismatch.amount) == (150_00, -1)
    assert "-NOSTRO-" in result.account
    assert result.statements["camt.053"].read_bytes().startswith(b"<?xml")
    assert result.statements["mt940"].read_text(encoding="utf-8").startswith(":20:")


def test_writes_the_html_report_next_to_the_ledger(small_day: tuple[DemoResult, str]) -> None:
    result, _ = small_day
    assert result.html == result.directory / f"batch-{result.batch_id}.html"
    assert result.html.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    assert (result.directory / "wmc.db").is_file()
    assert (result.directory / MARKER).is_file()


def test_output_walks_through_every_step(small_day: tuple[DemoResult, str]) -> None:
    result, text = small_day
    for heading in ("1. A realistic day", "2. Settle the day's batch",
                    "3. The settlement report as a web page",
                    "4. Reconcile a bank statement", "5. Quota, trial balance, audit",
                    "6. Try next"):
        assert heading in text
    for shown in ("Reference data loaded", "Rejections by code", "Multilateral net positions",
                  "Bilateral obligations", "Gross cross-border payments", "instructions/s",
                  str(result.html), "Breaks of " + result.account, "= Σ breaks",
                  "the same in both formats", "exactly the planted breaks",
                  "Aggregate quota", "Top 5 investors", "Trial balance", "audit verify: ok",
                  f"wmc --db {result.database} report balances",
                  f"settle show {result.batch_id}", "reconcile "):
        assert shown in text, shown
    assert "✗" not in text
    assert "{" not in text  # tables and sentences, no JSON


def test_refuses_a_folder_that_is_not_a_previous_demos(tmp_path: Path) -> None:
    (tmp_path / "wmc.db").write_bytes(b"someone's ledger")
    with pytest.raises(InputError, match="not empty"):
        run_demo(tmp_path, instructions=10, console=Console(file=io.StringIO()))
    assert (tmp_path / "wmc.db").read_bytes() == b"someone's ledger"
    assert not (tmp_path / MARKER).exists()


def test_replaces_a_previous_demo_and_is_deterministic(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    first, _ = _run(folder, 500)
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    second, _ = _run(folder, 500)
    assert second.batch_id == first.batch_id == "B00000001"  # a fresh ledger, not a second batch
    for name in ("accepted", "rejected", "duplicates", "rejections", "account", "breaks"):
        assert getattr(second, name) == getattr(first, name), name
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "mine"
