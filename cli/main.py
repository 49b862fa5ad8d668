"""The ``wmc`` command: a thin layer over the library's public API (:class:`wmc_ledger.Ledger`).

What it guarantees:

- **No traceback for a failure of the world.** Library errors (:class:`ledger.errors.LedgerError`),
  files that cannot be read or written (``OSError``) and databases that cannot be reached or used
  (``ledger.db.database_error``) become one message on stderr and the README's exit code, in one
  place: :meth:`_Group.invoke`. Anything else is a defect and keeps its traceback.
- **Settings checked whole at start-up**: every command reads the settings file (``--settings``
  or ``WMC_SETTINGS``; else the defaults) before it does anything, so a bad key is refused
  (exit 2, naming the file, line and key) by every command, not only by one that reads it.
- **Fast to start.** Each command imports what it needs inside its function: ``wmc --help``
  loads typer and this package, not SQLAlchemy, Alembic, rich or the rules.
- **Logs on stderr only**, one line per command (``cli.logs``): JSON when stderr is not a
  terminal, a console line when it is, colourless under ``NO_COLOR``; none with ``--quiet``.
"""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final, NoReturn

import typer
from typer.core import TyperGroup

from cli import fx as fx_cli
from cli import journal as journal_cli
from cli import logs, settle
from cli.common import (
    Format,
    QuotaTable,
    TrialBalanceTable,
    check_table,
    ledger_of,
    parse_date,
    table_option,
)
from cli.logs import event
from cli.render import (
    Section,
    displayed,
    emit_json,
    emit_rows,
    emit_sections,
    grouped,
    message,
)
from ledger.errors import LedgerError
from ledger.urls import DEFAULT_URL


def _fail(text: str, code: int) -> NoReturn:
    # The message may quote data (an account code, a file's line): shown inert, each of its
    # lines (an InputError lists a problem a line) whole.
    shown = "\n".join(displayed(line, limit=None) for line in text.split("\n"))
    typer.echo(f"error: {shown}", err=True)
    raise typer.Exit(code)


def _os_error_text(exc: OSError) -> str:
    what = exc.strerror or str(exc)
    return f"{exc.filename}: {what}" if exc.filename is not None else what


class _Group(TyperGroup):
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except LedgerError as exc:
            _fail(str(exc), exc.exit_code)
        except OSError as exc:
            # A file named on the command line that cannot be read or written (a missing
            # folder for --html, a full disk, no permission): bad usage, nothing committed.
            _fail(_os_error_text(exc), 2)
        except Exception as exc:
            # Driver errors that reach here without passing SQLAlchemy's error hook (the raw
            # COPY connection on PostgreSQL) get the same reading as those that do.
            from ledger.db import database_error

            mapped = database_error(exc, (ctx.find_root().obj or {}).get("db", ""))
            if mapped is None:
                raise
            _fail(str(mapped), mapped.exit_code)
        finally:
            logs.reset()


app = typer.Typer(
    cls=_Group, no_args_is_help=True, add_completion=True,
    help="wmc-ledger: settlement ledger for Cross-boundary Wealth Management Connect.",
)
report_app = typer.Typer(cls=_Group, no_args_is_help=True, help="Balances, trial balance, quota.")
audit_app = typer.Typer(cls=_Group, no_args_is_help=True, help="Integrity checks.")
app.add_typer(report_app, name="report")
app.add_typer(audit_app, name="audit")
settle.register(app)
fx_cli.register(app)
journal_cli.register(app)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("wmc-ledger")
        except PackageNotFoundError:  # pragma: no cover - a tree that is not installed
            number = "0+unknown"
        typer.echo(f"wmc {number}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    db: Annotated[
        str, typer.Option("--db", envvar="WMC_DB", help="SQLAlchemy URL of the ledger database.")
    ] = DEFAULT_URL,
    settings: Annotated[
        Path | None,
        typer.Option("--settings", envvar="WMC_SETTINGS",
                     help="A settings TOML file over the documented defaults."),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar and no log line.")
    ] = False,
    _show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True,
                           help="Print the version and exit.")
    ] = False,
) -> None:
    logs.configure(quiet=quiet)
    ctx.obj = {"db": db, "settings_path": settings, "quiet": quiet}
    if ctx.resilient_parsing:  # shell completion: parse only
        return
    from settlement.settings import load_settings

    # The whole file, now: a bad key refuses every command, not only the one that reads it.
    ctx.obj["settings"] = load_settings(settings)


@app.command()
def init(
    ctx: typer.Context,
    create_roles: Annotated[bool, typer.Option(
        "--create-roles", help="PostgreSQL: make the owner role own the schema and grant the "
        "application role only what settling, loading and reporting need.")] = False,
    owner_role: Annotated[str, typer.Option("--owner-role")] = "wmc_owner",
    app_role: Annotated[str, typer.Option("--app-role")] = "wmc_app",
) -> None:
    """Create or upgrade the schema (Alembic migrations); running it twice is harmless."""
    t0 = time.perf_counter()
    ledger = ledger_of(ctx).init()
    if create_roles:
        ledger.create_roles(owner_role=owner_role, app_role=app_role)
        typer.echo(f"roles: {owner_role} owns the schema; {app_role} may settle, load and "
                   "report (connect the application as it)")
    event("init.completed", db=ledger.url, roles=create_roles,
          seconds=round(time.perf_counter() - t0, 3))


BALANCE_COLUMNS = ("account", "bank_id", "currency", "debits", "credits", "balance")
BREAK_COLUMNS = ("type", "amount", "currency", "statement_ref", "ledger_ref", "value_date")


class LoadKind(StrEnum):
    banks = "banks"
    accounts = "accounts"
    investors = "investors"
    products = "products"
    rates = "rates"


#: The columns of each reference data file, for ``wmc load --help`` (a test holds them to the
#: readers' schemas; ``*`` marks a required column).
LOAD_COLUMNS: Final = {
    "banks": "bank_id*, name*, market* (MO, HK, CN), kind (bank default, securities_firm)",
    "accounts": "account*, bank_id*, type* (asset, liability, equity, income, expense), "
                "currency*, name, allow_overdraft (true/false, default false)",
    "investors": "investor_id*, direction* (southbound, northbound), remittance_account*, "
                 "investment_account*, channel (bank default, broker), eligible_from (date), "
                 "eligible_until (date)",
    "products": "product*, currency*, risk* (R1..R5), direction*, account*, product_type "
                "(deposit, wealth_management, public_fund, bond, structured_product, other), "
                "category, complex (true/false), domicile, authorisation",
    "rates": "base*, quote*, bid*, ask*, as_of* (ISO 8601 with offset), source, "
             "book (default 'default')",
}


@app.command(epilog="Columns (* required):\n\n\b\n" + "\n".join(
    f"{kind}: {columns}" for kind, columns in LOAD_COLUMNS.items()))
def load(
    ctx: typer.Context,
    kind: Annotated[LoadKind, typer.Argument(help="What the file holds.")],
    file: Annotated[Path, typer.Argument(help="A .csv or .jsonl file.")],
) -> None:
    """Load reference data idempotently; a bad file is refused whole (exit 2).

    FILE is CSV (UTF-8, a header row) or JSON Lines with the same field names, chosen by its
    extension (.csv, .jsonl). Amounts and rates are decimal strings; the same row again is a
    no-op, the same key with other content an error naming both.
    """
    t0 = time.perf_counter()
    result = ledger_of(ctx).load(kind.value, file)
    event("load.completed", kind=kind.value, file=str(file), rows=result.rows,
          inserted=result.inserted, unchanged=result.unchanged, completed=result.completed,
          seconds=round(time.perf_counter() - t0, 3))
    completed = f" ({result.completed} completed)" if result.completed else ""
    typer.echo(f"{kind.value}: {result.rows} rows, {result.inserted} new, "
               f"{result.unchanged} unchanged{completed}")


@report_app.command("balances")
def report_balances(
    ctx: typer.Context,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Value date YYYY-MM-DD.")] = None,
    bank: Annotated[str | None, typer.Option("--bank")] = None,
    account: Annotated[str | None, typer.Option("--account")] = None,
    in_currency: Annotated[str | None, typer.Option(
        "--in", help="Also show each balance in this currency (with --at-rate-of).")] = None,
    at_rate_of: Annotated[str | None, typer.Option(
        "--at-rate-of", help="The day whose closing mid converts (YYYY-MM-DD).")] = None,
    book: Annotated[str, typer.Option("--book", help="The rate book of --in.")] = "default",
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
    hide_zero: Annotated[bool, typer.Option(
        "--hide-zero", help="Leave out the accounts whose balance is zero.")] = False,
    show_all: Annotated[bool, typer.Option(
        "--all", help="Also list the FX and transit accounts the ledger opened itself that "
                      "no transfer has moved (left out by default).")] = False,
) -> None:
    """Balances per account on its normal side; with --in, also converted at a closing mid."""
    t0 = time.perf_counter()
    if (in_currency is None) != (at_rate_of is None):
        raise typer.BadParameter("--in and --at-rate-of go together")
    ledger = ledger_of(ctx)
    if in_currency is not None:
        translated = ledger.balances_in(in_currency, at_rate_of=parse_date(at_rate_of) or "",
                                        book=book, as_of=parse_date(as_of), bank=bank,
                                        account=account)
        event("report.balances", accounts=len(translated), as_of=as_of,
                 in_currency=in_currency, at_rate_of=at_rate_of,
                 seconds=round(time.perf_counter() - t0, 3))
        emit_rows([t.to_dict() for t in translated], fmt.value,
                  title=f"Balances in {in_currency} at the closing mid of {at_rate_of} ({book})")
        return
    rows = ledger.balances(as_of=parse_date(as_of), bank=bank, account=account,
                           hide_zero=hide_zero, hide_unused_ledger_accounts=not show_all)
    event("report.balances", accounts=len(rows), as_of=as_of,
             seconds=round(time.perf_counter() - t0, 3))
    emit_rows([r.to_dict() for r in rows], fmt.value, title="Balances",
              columns=BALANCE_COLUMNS)


@report_app.command("trial-balance")
def report_trial_balance(
    ctx: typer.Context,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Value date YYYY-MM-DD.")] = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
    table: Annotated[TrialBalanceTable | None, table_option("currencies")] = None,
) -> None:
    """Debits and credits per currency (always equal) and per account."""
    chosen = check_table(fmt, table)
    t0 = time.perf_counter()
    tb = ledger_of(ctx).trial_balance(as_of=parse_date(as_of))
    event("report.trial_balance", currencies=len(tb.currencies), accounts=len(tb.accounts),
          as_of=as_of, seconds=round(time.perf_counter() - t0, 3))
    from cli.render import emit_json

    if fmt is Format.json:
        emit_json(tb.to_dict())
    else:
        emit_sections([
            Section("currencies", "Trial balance", [c.to_dict() for c in tb.currencies],
                    ("currency", "debits", "credits")),
            Section("accounts", "Accounts", [a.to_dict() for a in tb.accounts], BALANCE_COLUMNS),
        ], fmt.value, chosen, default="currencies")


@report_app.command("quota")
def report_quota(
    ctx: typer.Context,
    investor: Annotated[str | None, typer.Option("--investor")] = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
    table: Annotated[QuotaTable | None, table_option("investors")] = None,
) -> None:
    """Each investor's net quota usage per channel, and the aggregate per direction (CNY)."""
    chosen = check_table(fmt, table)
    t0 = time.perf_counter()
    from cli.render import emit_json

    data = ledger_of(ctx).quota(investor=investor).to_dict()
    event("report.quota", investors=len(data["investors"]),
          seconds=round(time.perf_counter() - t0, 3))
    if fmt is Format.json:
        emit_json(data)
    else:
        emit_sections([
            Section("investors", "Investors", data["investors"],
                    ("investor_id", "direction", "channel", "remitted_out", "remitted_back",
                     "used", "remaining")),
            Section("aggregate", "Aggregate quota", data["aggregate"],
                    ("direction", "used", "remaining")),
        ], fmt.value, chosen, default="investors")


@app.command()
def reconcile(
    ctx: typer.Context,
    statement: Annotated[
        Path,
        typer.Argument(help="camt.053/052/054 (XML) or MT940/MT942 (text): one or more."),
    ],
    account: Annotated[
        str | None, typer.Option("--account", help="The ledger account it is for.")
    ] = None,
    every: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Reconcile each statement of the file in turn (against --account if given, "
            "else the ledger account its identifier names).",
        ),
    ] = False,
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
    force: Annotated[bool, typer.Option(
        "--force", help="Reconcile even a statement whose account id (Acct/Id, :25:) is not "
                        "--account nor mapped to it in the settings.")] = False,
) -> None:
    """Match bank statements against the ledger; exit 1 when there are breaks, 2 when a
    statement is another account's."""
    t0 = time.perf_counter()
    if account is None and not every:
        typer.echo("error: give --account ACCOUNT, or --all for every statement", err=True)
        raise typer.Exit(2)
    ledger = ledger_of(ctx)
    recs = (
        ledger.reconcile_all(statement, account=account)
        if every
        else [ledger.reconcile(statement, account=account or "", force=force)]
    )
    for rec in recs:
        for warning in rec.warnings:
            typer.echo(message("warning: {}", warning), err=True)
        event("reconcile.completed", account=rec.account, statement=str(statement),
                 statement_id=rec.statement_id, matched=rec.matched, breaks=len(rec.breaks),
                 seconds=round(time.perf_counter() - t0, 3))
    if fmt is Format.json:
        emit_json([r.to_dict() for r in recs] if every else recs[0].to_dict())
    else:
        if fmt is Format.csv and every:  # one table: each break names its statement
            rows = [{"statement": rec.statement_id or rec.statement_account, **b}
                    for rec in recs for b in rec.to_dict()["breaks"]]
            emit_sections([Section("breaks", "Breaks", rows, ("statement", *BREAK_COLUMNS))],
                          fmt.value, None, default="breaks")
        else:
            for rec in recs:
                data = rec.to_dict()
                breaks: list[dict[str, Any]] = list(data["breaks"])
                title = f"Breaks of {rec.account}"
                if every:
                    title += (f" ({rec.statement_format} "
                              f"{rec.statement_id or rec.statement_account}, "
                              f"{rec.period_start} to {rec.period_end})")
                emit_sections([Section("breaks", title, breaks, BREAK_COLUMNS)],
                              fmt.value, None, default="breaks", prose=[message(
                                  "matched {}, {} breaks; ledger closing {} - statement closing "
                                  "{} = difference {} {} (= the sum of the breaks' amounts)",
                                  data["matched"], len(breaks), grouped(data["ledger_closing"]),
                                  grouped(data["statement_closing"]),
                                  grouped(data["difference"]), rec.currency)])
    if any(rec.breaks for rec in recs):
        raise typer.Exit(1)


@app.command()
def reverse(
    ctx: typer.Context,
    entry_id: Annotated[str, typer.Argument(help="The posted entry (instruction id) to undo.")],
    new_id: Annotated[str | None, typer.Option("--id", help="Default: REV-ENTRY_ID.")] = None,
    value_date: Annotated[str | None, typer.Option("--value-date")] = None,
) -> None:
    """Correct a posted entry with a reversing entry that names it (exit 2 if refused)."""
    t0 = time.perf_counter()
    result = ledger_of(ctx).reverse(entry_id, new_id=new_id, value_date=parse_date(value_date))
    event("reverse.completed", entry_id=entry_id, code=result.code,
          seconds=round(time.perf_counter() - t0, 3))
    if result.code != "ok":
        typer.echo(f"error: {displayed(entry_id)} not reversed: {result.code}: "
                   f"{displayed(result.message)}", err=True)
        raise typer.Exit(2)
    typer.echo(f"{displayed(result.entry_id)} reverses {displayed(entry_id)}")


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    checkpoint: Annotated[Path | None, typer.Option(
        "--checkpoint", help="Also prove the ledger extends this signed checkpoint.")] = None,
    public_key: Annotated[Path | None, typer.Option(
        "--public-key", help="The checkpoint key's public half (PEM).")] = None,
) -> None:
    """Recompute both Merkle trees, replay the events against the tables, check every
    invariant and the schema, and (with --checkpoint) that the ledger extends a signed
    checkpoint; exit 3 naming each break."""
    if (checkpoint is None) != (public_key is None):
        raise typer.BadParameter("--checkpoint and --public-key go together")
    t0 = time.perf_counter()
    ledger = ledger_of(ctx)
    result = ledger.audit()
    problems = list(result.problems)
    if checkpoint is not None and public_key is not None:
        problems += [f"checkpoint {checkpoint}: {p}"
                     for p in ledger.verify_checkpoint(checkpoint, public_key)]
    event("audit.verified", entries=result.entries, transfers=result.transfers,
          checkpoint=None if checkpoint is None else str(checkpoint),
          problems=len(problems), seconds=round(time.perf_counter() - t0, 3))
    if problems:
        for p in problems:
            typer.echo(f"broken: {displayed(p, limit=None)}", err=True)
        raise typer.Exit(3)
    typer.echo(f"ok: {result.entries} entries, {result.transfers} transfers, "
               f"{result.events} events verified"
               + ("" if checkpoint is None else f"; the ledger extends {checkpoint}"))


@audit_app.command("keygen")
def audit_keygen(
    directory: Annotated[Path, typer.Argument(help="Where to write the key pair.")],
) -> None:
    """Write an Ed25519 key pair for checkpoints: wmc-checkpoint.key (0600) and .pub."""
    from wmc_ledger import keygen

    private, public = keygen(directory)
    typer.echo(f"private key {private} (keep it away from the database host)\n"
               f"public key  {public} (give it to whoever verifies)")


@audit_app.command("checkpoint")
def audit_checkpoint(
    ctx: typer.Context,
    key: Annotated[Path, typer.Option("--key", help="The private key (PEM) that signs.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write it here (else stdout).")]
    = None,
) -> None:
    """Sign the ledger's current state: its id, sequence, both trees' sizes and roots."""
    cp = ledger_of(ctx).checkpoint(key, out=out)
    event("audit.checkpoint_written", path=None if out is None else str(out),
          last_seq=cp.last_seq, events=cp.events_size, root=cp.root.hex())
    if out is None:
        typer.echo(cp.to_json(), nl=False)
    else:
        typer.echo(f"checkpoint of {cp.entries_size} entries and {cp.events_size} events, "
                   f"root {cp.root.hex()}, written to {out}")


@audit_app.command("prove")
def audit_prove(
    ctx: typer.Context,
    entry_id: Annotated[str, typer.Argument(help="The entry (instruction id) to prove.")],
    checkpoint: Annotated[Path, typer.Option("--checkpoint", help="A signed checkpoint.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write it here (else stdout).")]
    = None,
) -> None:
    """Print an inclusion proof of one entry in a signed checkpoint (checkable offline)."""
    proof = ledger_of(ctx).prove(entry_id, checkpoint)
    data = json.dumps(proof, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if out is None:
        typer.echo(data, nl=False)
    else:
        out.write_text(data, encoding="utf-8")
        typer.echo(f"proof of {entry_id} (leaf {proof['leaf_index']} of "
                   f"{proof['checkpoint']['entries']['size']}) written to {out}")


@audit_app.command("check-proof")
def audit_check_proof(
    proof: Annotated[Path, typer.Argument(help="A proof `wmc audit prove` wrote.")],
    public_key: Annotated[Path, typer.Option("--public-key", help="The checkpoint key's "
                                             "public half (PEM).")],
) -> None:
    """Check an inclusion proof with no database; exit 3 naming what does not hold."""
    from wmc_ledger import check_proof

    result = check_proof(proof, public_key)
    cp = result.checkpoint
    if not result.ok or cp is None:
        for p in result.problems:
            typer.echo(f"broken: {displayed(p, limit=None)}", err=True)
        raise typer.Exit(3)
    typer.echo(f"ok: entry {result.entry_id} (seq {result.seq}) is in ledger {cp.ledger_id} as "
               f"signed at {cp.created_at} by key {cp.key_id[:16]}… "
               f"({cp.entries_size} entries, root {cp.root.hex()})")
    if result.fields is not None:
        emit_json(dict(result.fields))


@app.command()
def demo(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to keep the demo ledger (default: a new temp dir)."),
    ] = None,
    instructions: Annotated[int, typer.Option("--instructions", min=100)] = 50_000,
    seed: Annotated[int, typer.Option("--seed")] = 7,
) -> None:
    """Run a day on a fresh embedded ledger and show the reports."""
    from cli.demo import run_demo

    run_demo(directory, instructions=instructions, seed=seed)


def main() -> None:
    app(prog_name="wmc")


if __name__ == "__main__":  # pragma: no cover
    main()
