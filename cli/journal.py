"""``wmc entries`` and ``wmc register``: the journal and an account's register, read back."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated, Any

import structlog
import typer

from cli.common import Format, ledger_of, parse_date
from cli.render import emit_json, emit_rows

log = structlog.get_logger("wmc")


class OrderOption(StrEnum):
    newest = "newest"
    oldest = "oldest"


def register(app: typer.Typer) -> None:
    @app.command("entries")
    def entries(
        ctx: typer.Context,
        account: Annotated[str | None, typer.Option("--account")] = None,
        bank: Annotated[str | None, typer.Option("--bank")] = None,
        batch: Annotated[str | None, typer.Option("--batch")] = None,
        entry_id: Annotated[str | None, typer.Option("--id", help="One entry by its id.")]
        = None,
        reference: Annotated[str | None, typer.Option("--reference")] = None,
        kind: Annotated[str | None, typer.Option("--kind")] = None,
        date_from: Annotated[str | None, typer.Option("--from", help="Value date YYYY-MM-DD.")]
        = None,
        date_to: Annotated[str | None, typer.Option("--to", help="Value date YYYY-MM-DD.")]
        = None,
        min_amount: Annotated[str | None, typer.Option("--min", help="Major units: 100.00.")]
        = None,
        max_amount: Annotated[str | None, typer.Option("--max", help="Major units: 100.00.")]
        = None,
        limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 100,
        after: Annotated[str | None, typer.Option(
            "--after", help="The entry id a previous page named as next.")] = None,
        order: Annotated[OrderOption, typer.Option("--order")] = OrderOption.newest,
        fmt: Annotated[Format, typer.Option("--format")] = Format.table,
    ) -> None:
        """List posted entries with their transfers, filtered and paged."""
        t0 = time.perf_counter()
        page = ledger_of(ctx).entries(
            account=account, bank=bank, batch=batch, entry_id=entry_id, reference=reference,
            kind=kind, date_from=parse_date(date_from), date_to=parse_date(date_to),
            min_amount=min_amount, max_amount=max_amount, limit=limit, after=after,
            order=order.value)
        log.info("entries.listed", entries=len(page.entries), next_after=page.next_after,
                 seconds=round(time.perf_counter() - t0, 3))
        if fmt is Format.json:
            emit_json(page.to_dict())
            return
        # Table and CSV: one row per transfer, its entry's fields repeated.
        rows: list[dict[str, Any]] = []
        for e in page.entries:
            head = {"seq": e.seq, "entry_id": e.entry_id, "kind": e.kind,
                    "batch_id": e.batch_id or "", "reverses": e.reverses or ""}
            for t in e.transfers:
                leg = t.to_dict()
                rows.append({**head, "debit_account": leg["debit_account"],
                             "credit_account": leg["credit_account"], "amount": leg["amount"],
                             "currency": leg["currency"], "value_date": leg["value_date"],
                             "reference": leg["reference"] or ""})
        emit_rows(rows, fmt.value, title="Entries")
        if fmt is Format.table and page.next_after is not None:
            typer.echo(f"more: --after {page.next_after}")

    @app.command("register")
    def register_(
        ctx: typer.Context,
        account: Annotated[str, typer.Argument(help="The account code.")],
        date_from: Annotated[str | None, typer.Option("--from", help="Value date YYYY-MM-DD.")]
        = None,
        date_to: Annotated[str | None, typer.Option("--to", help="Value date YYYY-MM-DD.")]
        = None,
        fmt: Annotated[Format, typer.Option("--format")] = Format.table,
    ) -> None:
        """An account's transfers with the running balance on its normal side."""
        t0 = time.perf_counter()
        reg = ledger_of(ctx).register(account, date_from=parse_date(date_from),
                                      date_to=parse_date(date_to))
        log.info("register.listed", account=account, lines=len(reg.lines),
                 seconds=round(time.perf_counter() - t0, 3))
        data = reg.to_dict()
        if fmt is Format.json:
            emit_json(data)
            return
        emit_rows(data["lines"], fmt.value, title=f"Register of {account} ({reg.currency})")
        if fmt is Format.table:
            typer.echo(f"opening {data['opening']}  closing {data['closing']} {reg.currency}")
