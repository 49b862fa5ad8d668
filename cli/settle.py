"""``wmc settle``: run a day's instruction file, show a stored batch.

The engine, rich and the report are imported inside the commands, so that registering them
costs ``wmc --help`` nothing.
"""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.common import Format, check_table, engine_of, ledger_of, quiet, settings_of, table_option
from cli.logs import event
from cli.render import Section, console, emit_json, emit_rows, emit_sections, message
from ledger.errors import BatchRolledBack

if TYPE_CHECKING:
    from settlement.report import BatchReport


def _count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            n += block.count(b"\n")
    return max(0, n - (1 if path.suffix.lower() == ".csv" else 0))


class SettleTable(StrEnum):
    """The tables of a batch report, by their ``--table`` names, in the order a terminal
    shows them."""

    summary = "summary"
    rejections_by_code = "rejections_by_code"
    rejections = "rejections"
    duplicates = "duplicates"
    positions = "positions"
    obligations = "obligations"
    gross_totals = "gross_totals"
    gross_payments = "gross_payments"
    moved_dates = "moved_dates"

_FIRST = 20
"""Rows of a long list (rejections, duplicates) a terminal shows when no ``--table`` is named."""


def report_sections(report: BatchReport, *, whole: bool) -> list[Section]:
    """The batch report as named tables; ``whole``: every row of the long lists."""
    from ledger.money import format_amount

    data = report.to_dict()
    totals: dict[str, list[int]] = {}
    for g in report.gross_payments:
        t = totals.setdefault(g.currency, [0, 0])
        t[0] += 1
        t[1] += g.amount
    summary = {k: data[k] for k in ("batch_id", "status", "instructions", "accepted",
                                    "rejected", "duplicates", "file_sha256")}
    by_code: dict[str, int] = {}
    for r in report.rejections:
        by_code[r.code] = by_code.get(r.code, 0) + 1
    rejections = data["rejections"] if whole else data["rejections"][:_FIRST]
    duplicates = [{"instruction_id": d.instruction_id, "line": d.line,
                   "duplicates": d.describe()}
                  for d in (report.duplicates_detail if whole
                            else report.duplicates_detail[:_FIRST])]
    shown = "" if whole or len(report.rejections) <= _FIRST else f" (first {_FIRST})"
    shown_dups = "" if whole or report.duplicates <= _FIRST else f" (first {_FIRST})"
    gross = ([g.to_dict() for g in report.gross_payments] if whole else [])
    return [
        Section("summary", "Batch", [summary]),
        Section("rejections_by_code", "Rejections by code",
                [{"code": c, "count": n} for c, n in sorted(by_code.items())], ("code", "count")),
        Section("rejections", f"Rejections{shown}", rejections,
                ("instruction_id", "line", "code", "message")),
        Section("duplicates", f"Duplicates{shown_dups}", duplicates,
                ("instruction_id", "line", "duplicates")),
        Section("positions", "Multilateral net positions", data["positions"],
                ("bank_id", "currency", "net")),
        Section("obligations", "Bilateral obligations", data["obligations"],
                ("payer", "payee", "currency", "amount", "value_date")),
        Section("gross_totals", "Gross cross-border payments (settled one by one)",
                [{"currency": c, "count": n, "amount": format_amount(a, c)}
                 for c, (n, a) in sorted(totals.items())], ("currency", "count", "amount")),
        Section("gross_payments", "Gross cross-border payments", gross,
                ("instruction_id", "payer", "payee", "currency", "amount", "value_date")),
        Section("moved_dates", "Value dates moved", data["moved_dates"] if whole else [],
                ("instruction_id", "market", "requested", "value_date", "reason")),
    ]


def print_report(report: BatchReport, fmt: str, table: str | None = None) -> None:
    """The report as JSON, as one CSV table (``table``, default ``summary``), or on a terminal:
    a headline, the tables (or the one named) and notes."""
    if fmt == "json":
        emit_json(report.to_dict())
        return
    if fmt == "csv" or table is not None:
        emit_sections(report_sections(report, whole=True), fmt, table, default="summary")
        return
    out = console()
    if report.committed:
        out.print(message("[bold]batch {}[/]  {} instructions: {} accepted, {} rejected, "
                          "{} duplicates  (sha256 {}…)", report.batch_id, report.instructions,
                          report.accepted, report.rejected, report.duplicates,
                          report.file_sha256[:12]))
    else:
        out.print(message("[bold red]rolled back[/] (--atomic): {} instructions, {} rejected; "
                          "no batch was written  (sha256 {}…)", report.instructions,
                          report.rejected, report.file_sha256[:12]))
    sections = [s for s in report_sections(report, whole=False)
                if s.name not in ("summary", "gross_payments", "moved_dates")
                and (s.rows or s.name in ("rejections_by_code", "positions", "obligations",
                                          "gross_totals"))]
    prose = []
    if report.moved_dates:
        prose.append(message("{} legs moved to the next business day (holiday or cut-off); "
                             "--table moved_dates lists them", len(report.moved_dates)))
    emit_sections(sections, fmt, None, default="rejections_by_code", prose=prose, out=out)


def register(app: typer.Typer) -> None:
    settle = typer.Typer(no_args_is_help=True, help="Settle a day's batch; show stored batches.")
    app.add_typer(settle, name="settle")

    @settle.command("run")
    def run(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help="Instructions, .csv or .jsonl.")],
        atomic: Annotated[bool, typer.Option("--atomic", help="Any rejection rolls back all.")]
        = False,
        fmt: Annotated[Format, typer.Option("--format")] = Format.table,
        table: Annotated[SettleTable | None, table_option("summary")] = None,
    ) -> None:
        """Validate, convert, post and net a batch; print what was posted and what is owed."""
        chosen = check_table(fmt, table)
        engine = engine_of(ctx)
        settings = settings_of(ctx)
        show = sys.stderr.isatty() and file.is_file() and not quiet(ctx)
        progress: Any = None
        bar = None
        if show:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            bar = Progress("[progress.description]{task.description}", BarColumn(),
                           MofNCompleteColumn(), TimeRemainingColumn(), transient=True,
                           console=console(stderr=True))
            task = bar.add_task("settling", total=_count_lines(file))
            bar.start()

            def progress(n: int) -> None:
                bar.advance(task, n)

        from ledger.checkpoint import CheckpointNotWritten
        from settlement.engine import AtomicRollback, BatchOptions, settle_file

        try:
            report = settle_file(engine, file, BatchOptions(atomic=atomic, settings=settings,
                                                            progress=progress))
        except AtomicRollback as exc:
            print_report(exc.report, fmt.value, chosen)
            raise
        except CheckpointNotWritten as exc:  # the batch is committed: show it, then the error
            print_report(exc.batch, fmt.value, chosen)
            raise
        finally:
            if bar is not None:
                bar.stop()
        print_report(report, fmt.value, chosen)

    @settle.command("revert")
    def revert(
        ctx: typer.Context,
        batch_id: Annotated[str, typer.Argument(help="The batch to revert whole.")],
        id_prefix: Annotated[str, typer.Option(
            "--id-prefix", help="Prefix of the reversing entries' ids.")] = "REV-",
        fmt: Annotated[Format, typer.Option("--format")] = Format.table,
    ) -> None:
        """Revert a batch with one new batch reversing all its entries (exit 1 if refused)."""
        from settlement.batches import load_report

        t0 = time.perf_counter()
        result = ledger_of(ctx).revert(batch_id, id_prefix=id_prefix)
        event("settle.reverted", batch_id=batch_id, code=result.code,
              reversal=None if result.reversal is None else result.reversal.batch_id,
              seconds=round(time.perf_counter() - t0, 3))
        if fmt is Format.json:
            emit_json(result.to_dict())
        elif result.reversal is not None:
            typer.echo(f"{batch_id}: {result.code}: {result.message}")
            with engine_of(ctx).connect() as conn:
                print_report(load_report(conn, result.reversal.batch_id), fmt.value)
        if result.reversal is None:
            typer.echo(f"error: {result.message} ({result.code})", err=True)
            raise typer.Exit(1)

    @settle.command("list")
    def list_(
        ctx: typer.Context,
        fmt: Annotated[Format, typer.Option("--format")] = Format.table,
    ) -> None:
        """List the stored batches: file, sha256, posted at, counts, state."""
        rows = [b.to_dict() for b in ledger_of(ctx).batch_list()]
        if fmt is Format.table:
            for r in rows:  # the digest's head names the file; --format json has it whole
                r["file_sha256"] = r["file_sha256"][:12] + "…"
        emit_rows(rows, fmt.value, title="Batches")

    @settle.command("show")
    def show(
        ctx: typer.Context,
        batch_id: Annotated[str, typer.Argument(help="The batch id a run printed.")],
        fmt: Annotated[Format, typer.Option("--format")] = Format.table,
        html: Annotated[Path | None, typer.Option("--html", help="Also write an HTML page.")]
        = None,
        table: Annotated[SettleTable | None, table_option("summary")] = None,
    ) -> None:
        """Print a stored batch's report again (and optionally write it as an HTML page)."""
        from settlement.batches import load_report

        chosen = check_table(fmt, table)
        t0 = time.perf_counter()
        with engine_of(ctx).connect() as conn:
            report = load_report(conn, batch_id)
        print_report(report, fmt.value, chosen)
        event("settle.shown", batch_id=batch_id, instructions=report.instructions,
              seconds=round(time.perf_counter() - t0, 3))
        if html is not None:
            from settlement.html_report import render_batch_html

            html.write_text(render_batch_html(report.to_dict()), encoding="utf-8")
            typer.echo(f"wrote {html}", err=True)


__all__ = ["BatchRolledBack", "register"]
