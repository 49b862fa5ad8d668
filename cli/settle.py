"""``wmc settle``: run a day's instruction file, show a stored batch."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import structlog
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from cli.common import Format, engine_of, settings_of
from cli.render import emit_json, emit_rows
from ledger.checkpoint import CheckpointNotWritten
from ledger.errors import BatchRolledBack
from settlement.batches import load_report
from settlement.engine import AtomicRollback, BatchOptions, settle_file
from settlement.report import BatchReport

log = structlog.get_logger("wmc")


def _count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            n += block.count(b"\n")
    return max(0, n - (1 if path.suffix.lower() == ".csv" else 0))


def print_report(report: BatchReport, fmt: str) -> None:
    data = report.to_dict()
    if fmt == "json":
        emit_json(data)
        return
    console = Console()
    console.print(
        f"[bold]batch {report.batch_id}[/]  {report.instructions} instructions: "
        f"{report.accepted} accepted, {report.rejected} rejected, {report.duplicates} duplicates"
        f"  (sha256 {report.file_sha256[:12]}…)"
    )
    by_code: dict[str, int] = {}
    for r in report.rejections:
        by_code[r.code] = by_code.get(r.code, 0) + 1
    emit_rows([{"code": c, "count": n} for c, n in sorted(by_code.items())], fmt,
              title="Rejections by code")
    if report.rejections:
        emit_rows([r.to_dict() for r in report.rejections[:20]], fmt,
                  title=f"First {min(20, len(report.rejections))} rejections")
    emit_rows(data["positions"], fmt, title="Multilateral net positions")
    emit_rows(data["obligations"], fmt, title="Bilateral obligations")
    totals: dict[str, list[int]] = {}
    for g in report.gross_payments:
        t = totals.setdefault(g.currency, [0, 0])
        t[0] += 1
        t[1] += g.amount
    from ledger.money import format_amount

    emit_rows([{"currency": c, "count": n, "amount": format_amount(a, c)}
               for c, (n, a) in sorted(totals.items())], fmt,
              title="Gross cross-border payments (settled one by one)")
    if report.moved_dates:
        console.print(f"{len(report.moved_dates)} legs moved to the next business day "
                      "(holiday or cut-off); --format json lists them")


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
    ) -> None:
        """Validate, convert, post and net a batch; print what was posted and what is owed."""
        engine = engine_of(ctx)
        settings = settings_of(ctx)
        show = sys.stderr.isatty() and file.is_file()
        progress: Any = None
        bar = None
        if show:
            bar = Progress("[progress.description]{task.description}", BarColumn(),
                           MofNCompleteColumn(), TimeRemainingColumn(), transient=True,
                           console=Console(stderr=True))
            task = bar.add_task("settling", total=_count_lines(file))
            bar.start()

            def progress(n: int) -> None:
                bar.advance(task, n)

        try:
            report = settle_file(engine, file, BatchOptions(atomic=atomic, settings=settings,
                                                            progress=progress))
        except AtomicRollback as exc:
            print_report(exc.report, fmt.value)
            raise
        except CheckpointNotWritten as exc:  # the batch is committed: show it, then the error
            print_report(exc.batch, fmt.value)
            raise
        finally:
            if bar is not None:
                bar.stop()
        print_report(report, fmt.value)

    @settle.command("show")
    def show(
        ctx: typer.Context,
        batch_id: Annotated[str, typer.Argument(help="The batch id a run printed.")],
        fmt: Annotated[Format, typer.Option("--format")] = Format.table,
        html: Annotated[Path | None, typer.Option("--html", help="Also write an HTML page.")]
        = None,
    ) -> None:
        """Print a stored batch's report again (and optionally write it as an HTML page)."""
        t0 = time.perf_counter()
        with engine_of(ctx).connect() as conn:
            report = load_report(conn, batch_id)
        print_report(report, fmt.value)
        log.info("settle.shown", batch_id=batch_id, instructions=report.instructions,
                 seconds=round(time.perf_counter() - t0, 3))
        if html is not None:
            from settlement.html_report import render_batch_html

            html.write_text(render_batch_html(report.to_dict()), encoding="utf-8")
            typer.echo(f"wrote {html}", err=True)


__all__ = ["BatchRolledBack", "register"]
