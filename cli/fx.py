"""``wmc fx``: foreign-exchange operations on the ledger (revaluation of FX positions)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated

import typer

from cli.common import Format, engine_of, parse_date, settings_of
from cli.logs import event


def register(app: typer.Typer) -> None:
    fx_app = typer.Typer(no_args_is_help=True, help="FX: revalue positions at period end.")
    app.add_typer(fx_app, name="fx")

    @fx_app.command("revalue")
    def revalue_cmd(
        ctx: typer.Context,
        as_of: Annotated[str, typer.Option("--as-of", help="Period end, YYYY-MM-DD.")],
        book: Annotated[str, typer.Option("--book")] = "default",
        reporting_currency: Annotated[str, typer.Option("--reporting-currency")] = "MOP",
        fmt: Annotated[Format, typer.Option("--format")] = Format.table,
    ) -> None:
        """Post unrealised FX gain or loss on every bank's FX positions at the closing mid
        rate; idempotent per date and book."""
        from cli.render import emit_json, emit_rows
        from fx.revalue import revalue
        from ledger.db import transaction
        from settlement.calendars import MARKET_TZ, calendar

        day = parse_date(as_of)
        if day is None:  # typer requires --as-of; this keeps the type checker honest
            raise typer.BadParameter("--as-of is required")
        settings = settings_of(ctx).fx
        t0 = time.perf_counter()
        result = transaction(engine_of(ctx), lambda conn: revalue(
            conn, as_of=day, book=book, reporting_currency=reporting_currency,
            posted_at=dt.datetime.now(MARKET_TZ).isoformat(),
            staleness_business_days=settings.staleness_for(book),
            next_business_day=calendar("HK").next_business_day,
            peg=(settings.peg_bid, settings.peg_ask),
        ))
        event("fx.revalued", as_of=as_of, book=book, posted=result.posted,
              already_done=result.already_done, seconds=round(time.perf_counter() - t0, 3))
        data = result.to_dict()
        if fmt is Format.json:
            emit_json(data)
            return
        emit_rows(data.get("lines", []), fmt.value,
                  title=f"Revaluation {as_of} ({book}) into {reporting_currency}")
        if fmt is Format.table:
            typer.echo("already revalued: nothing posted" if result.already_done
                       else f"{result.posted} entries posted")
