"""``wmc demo``: one day of the ledger on a fresh embedded SQLite database, shown in the terminal.

The demo walks a back office's day, one heading per step:

1. **The day.** :func:`settlement.sampleday.generate` writes a realistic day into ``DIR/input``:
   banks in Macau, Hong Kong and the Mainland, a few hundred investors, products, rates and
   about 50,000 instructions with planted rejections; the reference data is loaded.
2. **Settlement.** The batch is settled with a progress bar; the summary shows the counts, the
   rejections by code (next to what the generator planted), the multilateral positions per bank
   and currency, the bilateral obligations, the gross cross-border payments and the throughput.
3. **The HTML report**, written next to the ledger as ``DIR/batch-<id>.html``.
4. **Reconciliation.** The busiest settlement (nostro) account's statement for the day is built
   from the ledger with four planted breaks (a timing difference, an unbooked bank fee, a
   one-cent mismatch, a duplicate), written as camt.053 and as MT940, and both are reconciled:
   the breaks, the difference equation, and that both formats give the same breaks.
5. **Quota, trial balance, audit**: the aggregate quota, the top investors by usage, debits =
   credits per currency, and the audit chain verified.
6. **Try next**: ``wmc`` commands pointed at the demo's database.

What it guarantees:

* **Contained.** Everything lives in one folder: a new temporary one, or ``--dir D`` when ``D``
  is new, empty, or a previous demo's (recognised by its :data:`MARKER` file; there only the
  files a demo writes are replaced). Any other non-empty folder is refused (exit 2), because the
  demo would overwrite files such as ``accounts.csv`` or someone's ``wmc.db``.
* **Deterministic.** For a seed, the files, the batch (its clock is fixed at
  :data:`BATCH_CLOCK`), the ledger, the statements and the reports are the same on every run;
  only the timings and the name of a temporary folder differ.
* **Checked, not just shown.** :func:`run_demo` returns a :class:`DemoResult` with what a test
  needs: the counts, the rejections by code next to the planted ones, the breaks per statement
  format next to the planted ones. A failed audit raises :class:`~ledger.errors.IntegrityError`
  (exit 3) after showing what broke.

No float ever holds an amount: amounts are ``int`` minor units, shown through
:func:`ledger.money.format_amount` (thousands separators added to the text).
"""

from __future__ import annotations

import csv
import datetime as dt
import shlex
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text
from sqlalchemy import Connection, Engine, func, or_, select, text

from fx.book import load_rates_file
from ledger import audit, reports
from ledger.db import make_engine, transaction
from ledger.errors import InputError, IntegrityError, LedgerError
from ledger.migrate import upgrade
from ledger.money import CURRENCIES, format_amount, group_digits, parse_amount
from ledger.refdata import LoadResult
from ledger.refdata import load_file as load_ledger_file
from ledger.schema import Account, Transfer
from settlement.audit import quota_check
from settlement.engine import BatchOptions, settle_file
from settlement.html_report import render_batch_html
from settlement.matching import Break
from settlement.quota import quota_report
from settlement.reconcile import (
    AccountReconciliation,
    BankFee,
    ChangeAmount,
    DropLine,
    DuplicateLine,
    Plant,
    ledger_lines,
    reconcile_statement,
    statement_from_ledger,
)
from settlement.refdata import load_file as load_scheme_file
from settlement.report import BatchReport
from settlement.sampleday import GeneratedFiles, generate
from settlement.settings import Settings, load_settings
from settlement.statements import StatementFormat

__all__ = ["BATCH_CLOCK", "DAY", "MARKER", "DemoResult", "run_demo"]

#: The batch day, and the fixed time the batch is stamped with (deterministic runs).
DAY: Final = dt.date(2025, 3, 3)
UTC8: Final = dt.timezone(dt.timedelta(hours=8), "UTC+08:00")
BATCH_CLOCK: Final = dt.datetime(2025, 3, 3, 20, 0, tzinfo=UTC8)

#: A file the demo leaves in its folder, so that ``--dir`` may replace a previous demo's ledger.
MARKER: Final = ".wmc-demo"
INPUT_DIR: Final = "input"
INPUT_FILES: Final = (
    "banks.csv", "accounts.csv", "investors.csv", "products.csv", "rates.csv",
    "instructions.csv", "expected.csv",
)
DB_FILES: Final = ("wmc.db", "wmc.db-journal", "wmc.db-wal", "wmc.db-shm")
OUTPUT_GLOBS: Final = ("batch-*.html", "statement-*.xml", "statement-*.mt940")

#: The size of the sample world: a few hundred investors, accounts enough to be quick.
INVESTORS: Final = 300
ACCOUNTS: Final = 2_000

#: The unbooked charge planted on the statement, in minor units. Nostro lines of the day are
#: credits (funding), so a debit of this size can never be paired with one by amount.
BANK_FEE: Final = 150_00

FORMATS: Final[tuple[tuple[StatementFormat, str, str], ...]] = (
    ("camt.053", "xml", "camt.053"),
    ("mt940", "mt940", "MT940"),
)

#: Columns whose cells are numbers: right-aligned.
_RIGHT: Final = frozenset({
    "rows", "new", "count", "rejected", "planted", "amount", "total", "net", "used",
    "remaining", "remitted out", "remitted back", "debits", "credits", "debits - credits",
    "transfers", *CURRENCIES,
})


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What a demo run did, for a test to check (mappings are read-only views)."""

    directory: Path
    database: str  # the SQLAlchemy URL of the demo's ledger
    batch_id: str
    instructions: int  # rows of the instruction file: funding block + the day's
    accepted: int
    rejected: int
    duplicates: int
    rejections: Mapping[str, int]  # rejected instructions per code
    planted_rejections: Mapping[str, int]  # what the generator planted, per code
    html: Path
    account: str  # the reconciled ledger account
    statements: Mapping[str, Path]  # statement file per format ("camt.053", "mt940")
    breaks: Mapping[str, tuple[Break, ...]]  # breaks found per format
    planted_breaks: tuple[str, ...]  # the break types planted, sorted
    audit_ok: bool
    seconds: float  # wall time of the whole run


def run_demo(
    directory: Path | None = None,
    *,
    instructions: int = 50_000,
    seed: int = 7,
    console: Console | None = None,
) -> DemoResult:
    """Run the demo in ``directory`` (default: a new temporary folder); see the module docstring.

    Raises :class:`~ledger.errors.InputError` for a folder it may not use (nothing written) and
    :class:`~ledger.errors.IntegrityError` when the audit finds the ledger broken.
    """
    if instructions < 0:
        raise InputError(f"instructions must be zero or more, got {instructions}")
    started = time.perf_counter()
    out = console or Console()
    workdir = _prepare_directory(directory)
    url = f"sqlite:///{workdir / 'wmc.db'}"
    out.rule("[bold]wmc-ledger demo: a day of Cross-boundary Wealth Management Connect")
    out.print(f"folder  {escape(str(workdir))}\nledger  {escape(url)} (embedded SQLite)")
    engine = make_engine(url)
    try:
        upgrade(engine)
        settings = load_settings(None)
        files = _step_day(out, engine, workdir / INPUT_DIR, instructions, seed)
        report = _step_settle(out, engine, settings, files)
        html = _step_html(out, workdir, report)
        account, statements, breaks, planted = _step_reconcile(out, engine, workdir, settings)
        audit_ok, top_investor = _step_checks(out, engine, settings)
        _step_try_next(out, url, workdir, report.batch_id, account, statements, top_investor)
    finally:
        engine.dispose()
    seconds = time.perf_counter() - started
    out.rule()
    out.print(f"[bold]done[/] in {seconds:.1f} s; everything is in {escape(str(workdir))}")
    return DemoResult(
        directory=workdir, database=url, batch_id=report.batch_id,
        instructions=report.instructions, accepted=report.accepted, rejected=report.rejected,
        duplicates=report.duplicates,
        rejections=MappingProxyType(dict(_rejections_by_code(report))),
        planted_rejections=MappingProxyType(dict(files.planted)),
        html=html, account=account, statements=MappingProxyType(statements),
        breaks=MappingProxyType(breaks), planted_breaks=planted, audit_ok=audit_ok,
        seconds=seconds,
    )


# -- the folder ----------------------------------------------------------------------------------


def _prepare_directory(directory: Path | None) -> Path:
    """A folder the demo may fill: new, empty, or a previous demo's (whose files are removed)."""
    if directory is None:
        workdir = Path(tempfile.mkdtemp(prefix="wmc-demo-"))
    else:
        workdir = directory.expanduser().resolve()
        if workdir.exists() and not workdir.is_dir():
            raise InputError(f"--dir {workdir}: not a folder")
        if workdir.is_dir() and any(workdir.iterdir()):
            if not (workdir / MARKER).is_file():
                raise InputError(
                    f"--dir {workdir}: the folder is not empty and is not a previous demo's "
                    f"(no {MARKER} file); the demo would overwrite its files. "
                    "Choose a new or empty folder."
                )
            _remove_previous_demo(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MARKER).write_text(
        "This folder holds a `wmc demo` ledger; `wmc demo --dir` may replace it.\n",
        encoding="utf-8",
    )
    return workdir.resolve()


def _remove_previous_demo(workdir: Path) -> None:
    """Delete only what a demo writes; anything else someone put there stays."""
    doomed = [workdir / name for name in DB_FILES]
    doomed += [workdir / INPUT_DIR / name for name in INPUT_FILES]
    for pattern in OUTPUT_GLOBS:
        doomed += sorted(workdir.glob(pattern))
    for path in doomed:
        path.unlink(missing_ok=True)
    inputs = workdir / INPUT_DIR
    if inputs.is_dir() and not any(inputs.iterdir()):
        inputs.rmdir()


# -- step 1: the day -----------------------------------------------------------------------------


def _step_day(out: Console, engine: Engine, inputs: Path, n: int, seed: int) -> GeneratedFiles:
    _heading(out, 1, "A realistic day: generate it, load the reference data")
    t0 = time.perf_counter()
    files = generate(n, inputs, seed=seed, accounts=ACCOUNTS, investors=INVESTORS)
    out.print(f"wrote the day's files into {escape(str(inputs))} in "
              f"{time.perf_counter() - t0:.1f} s (seed {seed})")

    loaders: tuple[tuple[str, Path, Callable[[Connection], LoadResult]], ...] = (
        ("banks", files.banks, lambda c: load_ledger_file(c, "banks", files.banks)),
        ("accounts", files.accounts, lambda c: load_ledger_file(c, "accounts", files.accounts)),
        ("investors", files.investors,
         lambda c: load_scheme_file(c, "investors", files.investors)),
        ("products", files.products, lambda c: load_scheme_file(c, "products", files.products)),
        ("rates", files.rates, lambda c: load_rates_file(c, files.rates)),
    )
    results = transaction(engine, lambda c: [(k, p, load(c)) for k, p, load in loaders])
    out.print(_table("Reference data loaded", ("kind", "file", "rows", "new"), [
        (kind, path.name, _n(r.rows), _n(r.inserted)) for kind, path, r in results
    ]))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT bank_id, market FROM banks")).all()
    order = {"MO": 0, "HK": 1, "CN": 2}
    banks = sorted(((str(r[0]), str(r[1])) for r in rows),
                   key=lambda r: (order.get(r[1], 3), r[0]))
    out.print("banks: " + " · ".join(f"{b} ({m})" for b, m in banks)
              + f"; {_n(files.investor_count)} investors ({_n(files.investor_rows)} "
              "investor-channel pairs), each with a paired remittance and investment account")
    mix = " · ".join(f"{k} {_n(v)}" for k, v in files.kinds.items())
    out.print(
        f"{files.instructions.name}: {_n(files.instruction_count)} rows = "
        f"{_n(files.funding_count)} funding transfers + {_n(n)} instructions of "
        f"{DAY.isoformat()} ({mix}); planted: {_n(files.rejected_count)} rejections, "
        f"{_n(files.duplicate_count)} duplicates"
    )
    return files


# -- step 2: settlement --------------------------------------------------------------------------


def _step_settle(out: Console, engine: Engine, settings: Settings,
                 files: GeneratedFiles) -> BatchReport:
    _heading(out, 2, "Settle the day's batch")
    path = files.instructions
    total = _count_rows(path)
    progress = Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(),
        MofNCompleteColumn(), TaskProgressColumn(), TimeElapsedColumn(), console=out,
    )
    with progress:
        task = progress.add_task(f"settling {path.name}", total=total)
        t0 = time.perf_counter()
        report = settle_file(engine, path, BatchOptions(
            settings=settings, clock=lambda: BATCH_CLOCK,
            progress=lambda done: progress.advance(task, done),
        ))
        seconds = time.perf_counter() - t0
    out.print(
        f"[bold]batch {report.batch_id}[/]: {_n(report.instructions)} instructions: "
        f"[green]{_n(report.accepted)} accepted[/], [red]{_n(report.rejected)} rejected[/], "
        f"{_n(report.duplicates)} duplicates (same id and content: reported, not posted again)"
        f" in {seconds:.1f} s: [bold]{_n(round(report.instructions / seconds))} "
        "instructions/s[/]"
    )

    by_code = _rejections_by_code(report)
    planted = dict(files.planted)
    codes = sorted(set(by_code) | set(planted), key=lambda c: (-by_code.get(c, 0), c))
    rows = [(c, _n(by_code.get(c, 0)), _n(planted.get(c, 0))) for c in codes]
    rows.append(("total", _n(report.rejected), _n(files.rejected_count)))
    out.print(_table("Rejections by code", ("code", "rejected", "planted"), rows,
                     footer_rows=1))
    expected = _expected_rejections(files.expected)
    found = {(r.instruction_id, r.code) for r in report.rejections}
    if found == expected:
        out.print("[green]✓[/] every rejection is one the generator planted, with its code "
                  f"(see {escape(files.expected.name)})")
    else:
        out.print(f"[red]✗[/] rejections differ from {escape(files.expected.name)}: "
                  f"{len(found - expected)} unexpected, {len(expected - found)} missing")

    out.print(_positions_table(report))
    out.print(_table(
        "Bilateral obligations (net per pair of banks, currency and value date)",
        ("payer", "payee", "currency", "value date", "amount"),
        [(o["payer"], o["payee"], o["currency"], o["value_date"], _grouped(o["amount"]))
         for o in (ob.as_json() for ob in report.obligations)],
    ))
    gross: dict[str, list[int]] = {}
    for g in report.gross_payments:
        t = gross.setdefault(g.currency, [0, 0])
        t[0] += 1
        t[1] += g.amount
    out.print(_table(
        "Gross cross-border payments (remit and repatriate, settled one by one)",
        ("currency", "count", "total"),
        [(c, _n(k), _grouped(format_amount(a, c))) for c, (k, a) in sorted(gross.items())],
    ))
    if report.moved_dates:
        out.print(f"{_n(len(report.moved_dates))} legs moved to the next business day "
                  "(holiday or cut-off)")
    return report


def _rejections_by_code(report: BatchReport) -> Counter[str]:
    return Counter(r.code for r in report.rejections)


def _expected_rejections(path: Path) -> set[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return {(r["instruction_id"], r["code"]) for r in csv.DictReader(fh)
                if r["code"] != "duplicate"}


def _positions_table(report: BatchReport) -> RenderableType:
    """Multilateral positions as banks x currencies, with each currency's sum (always 0)."""
    currencies = [c for c in CURRENCIES if any(p.currency == c for p in report.positions)]
    banks = sorted({p.bank_id for p in report.positions})
    net = {(p.bank_id, p.currency): p.net for p in report.positions}
    rows: list[tuple[str, ...]] = [
        (b, *(_grouped(format_amount(net[b, c], c)) if (b, c) in net else "" for c in currencies))
        for b in banks
    ]
    rows.append(("Σ", *(_grouped(format_amount(sum(v for (_, k), v in net.items() if k == c), c))
                       for c in currencies)))
    return _table("Multilateral net positions (+ receives, - pays)", ("bank", *currencies),
                  rows, footer_rows=1)


# -- step 3: the HTML report ---------------------------------------------------------------------


def _step_html(out: Console, workdir: Path, report: BatchReport) -> Path:
    _heading(out, 3, "The settlement report as a web page")
    path = workdir / f"batch-{report.batch_id}.html"
    path.write_text(render_batch_html(report.to_dict()), encoding="utf-8")
    out.print(f"wrote {escape(str(path))}: self-contained (no script, no external files), "
              "with a chart of the net positions")
    out.print(f"open it: {escape(path.as_uri())}")
    return path


# -- step 4: reconciliation ----------------------------------------------------------------------


def _step_reconcile(
    out: Console, engine: Engine, workdir: Path, settings: Settings,
) -> tuple[str, dict[str, Path], dict[str, tuple[Break, ...]], tuple[str, ...]]:
    _heading(out, 4, "Reconcile a bank statement against the ledger")
    written: dict[str, Path] = {}
    with engine.connect() as conn:
        account, transfers = _busiest_nostro(conn, DAY)
        lines = ledger_lines(conn, account, DAY, DAY)
        if len(lines) < 3:
            raise LedgerError(f"{account} has {len(lines)} transfers on {DAY}; the demo "
                              "plants breaks on three of them")
        dropped, changed, doubled = (lines[len(lines) * k // 4].reference for k in (1, 2, 3))
        plants: tuple[Plant, ...] = (
            DropLine(dropped), BankFee(BANK_FEE, "account maintenance charge"),
            ChangeAmount(changed, 1), DuplicateLine(doubled),
        )
        currency = lines[0].currency
        out.print(f"account [bold]{escape(account)}[/]: the settlement account with the most "
                  f"transfers today ({_n(transfers)}); its bank's statement for "
                  f"{DAY.isoformat()}, built from the ledger, with these breaks planted:")
        out.print(_table(None, ("break", "what the bank's statement shows"), [
            ("timing difference", f"{dropped} missing: the bank books it tomorrow"),
            ("unbooked bank fee", f"a {_grouped(format_amount(BANK_FEE, currency))} "
                                  f"{currency} charge the ledger has not booked"),
            ("one-cent mismatch", f"{changed} 0.01 above the ledger's amount"),
            ("duplicate", f"{doubled} twice"),
        ]))
        for fmt, suffix, _ in FORMATS:
            _, body = statement_from_ledger(conn, account, DAY, plant=plants, fmt=fmt)
            path = workdir / f"statement-{account}.{suffix}"
            if isinstance(body, bytes):
                path.write_bytes(body)
            else:
                path.write_text(body, encoding="utf-8")
            written[fmt] = path
        recs = {fmt: reconcile_statement(conn, written[fmt], account=account,
                                         settings=settings.reconciliation)
                for fmt, _, _ in FORMATS}
    out.print("wrote " + " and ".join(
        f"{escape(str(written[fmt]))} ({label})" for fmt, _, label in FORMATS))

    first = recs[FORMATS[0][0]]
    out.print(_breaks_table(first))
    _print_equation(out, first)
    planted: tuple[str, ...] = tuple(sorted(p.break_type for p in plants))
    same = all(_same_result(first, rec) for rec in recs.values())
    found = tuple(sorted(b.type for b in first.breaks))
    verdict = "[green]✓ the same[/]" if same else "[red]✗ different[/]"
    out.print(", ".join(f"{label}: {recs[fmt].matched} matched, {len(recs[fmt].breaks)} breaks"
                        for fmt, _, label in FORMATS) + f": {verdict} in both formats")
    if found == planted and same:
        out.print("[green]✓[/] exactly the planted breaks, nothing else")
    else:
        out.print(f"[red]✗[/] planted {', '.join(planted)}; found {', '.join(found)}")
    breaks: dict[str, tuple[Break, ...]] = {fmt: rec.breaks for fmt, rec in recs.items()}
    return account, written, breaks, planted


def _busiest_nostro(conn: Connection, day: dt.date) -> tuple[str, int]:
    """The bank settlement account with the most transfers of value date ``day`` (ties: by code)."""
    a = Account.__table__.c
    t = Transfer.__table__.c
    n = func.count().label("n")
    row = conn.execute(
        select(a.code, n)
        .select_from(Transfer.__table__.join(
            Account.__table__, or_(a.id == t.debit_account_id, a.id == t.credit_account_id)))
        .where(a.code.like("%-NOSTRO-%"), t.value_date == day)
        .group_by(a.code)
        .order_by(n.desc(), a.code)
        .limit(1)
    ).first()
    if row is None:
        raise LedgerError(f"no settlement (NOSTRO) account has a transfer on {day}")
    return str(row.code), int(row.n)


def _same_result(a: AccountReconciliation, b: AccountReconciliation) -> bool:
    return (a.breaks, a.matched, a.ledger_closing, a.statement_closing) == (
        b.breaks, b.matched, b.ledger_closing, b.statement_closing)


def _breaks_table(rec: AccountReconciliation) -> RenderableType:
    c = rec.currency
    return _table(
        f"Breaks of {rec.account}, value dates {_period(rec)} ({rec.matched} entries matched; "
        "each break's amount is its share of ledger - statement)",
        ("type", "amount", "statement_ref", "ledger_ref"),
        [(b.type if b.value_date == rec.period_end else f"{b.type} {b.value_date}",
          _signed(b.amount, c), b.statement_ref or "", b.ledger_ref or "") for b in rec.breaks],
    )


def _period(rec: AccountReconciliation) -> str:
    start, end = rec.period_start, rec.period_end
    if start is None or end is None or start == end:
        return str(end or start)
    return f"{start} to {end}"


def _print_equation(out: Console, rec: AccountReconciliation) -> None:
    c = rec.currency
    terms = " ".join(
        ("+ " if b.amount >= 0 else "- ") + _grouped(format_amount(abs(b.amount), c))
        for b in rec.breaks
    )
    out.print(
        f"ledger closing {_grouped(format_amount(rec.ledger_closing, c))} - statement closing "
        f"{_grouped(format_amount(rec.statement_closing, c))} = [bold]"
        f"{_grouped(format_amount(rec.difference, c))} {c}[/]\n"
        f"= Σ breaks: {terms.removeprefix('+ ')}"
    )


# -- step 5: quota, trial balance, audit ---------------------------------------------------------


def _step_checks(out: Console, engine: Engine, settings: Settings) -> tuple[bool, str | None]:
    _heading(out, 5, "Quota, trial balance, audit")
    with engine.connect() as conn:
        quota = quota_report(conn, settings)
        tb = reports.trial_balance(conn)
        result = audit.verify(conn, extra=[quota_check(settings)])
    out.print(_table(
        "Aggregate quota per direction (CNY, net, shared by Hong Kong and Macau)",
        ("direction", "used", "remaining"),
        [(r["direction"], _grouped(r["used"]), _grouped(r["remaining"]))
         for r in quota["aggregate"]],
    ))
    investors: list[dict[str, Any]] = quota["investors"]
    top = sorted(investors, key=lambda r: (-parse_amount(r["used"], "CNY"), r["investor_id"],
                                           r["channel"]))[:5]
    out.print(_table(
        "Top 5 investors by quota used (CNY; used = remitted out - remitted back, at most "
        f"{_grouped(format_amount(settings.quota.individual, 'CNY'))} each)",
        ("investor", "direction", "remitted out", "remitted back", "used"),
        [(r["investor_id"] + ("" if r["channel"] == "bank" else f" ({r['channel']})"),
          r["direction"], _grouped(r["remitted_out"]), _grouped(r["remitted_back"]),
          _grouped(r["used"])) for r in top],
    ))
    out.print(_table(
        "Trial balance per currency",
        ("currency", "debits", "credits", "debits - credits"),
        [(t.currency, _grouped(format_amount(t.debits, t.currency)),
          _grouped(format_amount(t.credits, t.currency)),
          _grouped(format_amount(t.debits - t.credits, t.currency))
          + (" [green]✓[/]" if t.debits == t.credits else " [red]✗[/]"))
         for t in tb.currencies if t.debits or t.credits],
    ))
    if not result.ok:
        out.print(f"[red bold]audit verify: BROKEN[/] ({len(result.problems)} problems)")
        for p in result.problems:
            out.print(f"  [red]{escape(p)}[/]")
        raise IntegrityError(f"audit verify: {result.problems[0]}")
    out.print(f"[green]✓ audit verify: ok[/]: {_n(result.entries)} entries, "
              f"{_n(result.transfers)} transfers; hash chain, running totals and debits = "
              "credits per currency recomputed")
    return True, (top[0]["investor_id"] if top else None)


# -- step 6: try next ----------------------------------------------------------------------------


def _step_try_next(out: Console, url: str, workdir: Path, batch_id: str, account: str,
                   statements: Mapping[str, Path], investor: str | None) -> None:
    _heading(out, 6, "Try next")
    wmc = f"wmc --db {shlex.quote(url)}"
    bank = account.split("-NOSTRO-")[0]
    commands = [
        (f"{wmc} report balances --bank {shlex.quote(bank)}", f"{bank}'s balances"),
        (f"{wmc} settle show {batch_id} "
         f"--html {shlex.quote(str(workdir / f'batch-{batch_id}-again.html'))}",
         "the batch report again, and as a web page"),
        (f"{wmc} reconcile {shlex.quote(str(statements['mt940']))} "
         f"--account {shlex.quote(account)}", "the MT940 statement's breaks (exit 1: breaks)"),
        (f"{wmc} settle run {shlex.quote(str(workdir / INPUT_DIR / 'instructions.csv'))}",
         "the same file again: every row a duplicate, nothing posted twice"),
    ]
    if investor is not None:
        commands.append((f"{wmc} report quota --investor {investor}", "one investor's quota"))
    commands += [
        (f"{wmc} report trial-balance --format json", "the trial balance as JSON"),
        (f"{wmc} audit verify", "the hash chain and invariants, again"),
    ]
    for command, why in commands:
        out.print(f"  [cyan]{escape(command)}[/]\n      [dim]{escape(why)}[/]",
                  soft_wrap=True)
    out.print(f"  [dim]or once: export WMC_DB={escape(shlex.quote(url))}[/]", soft_wrap=True)


# -- rendering helpers ---------------------------------------------------------------------------


def _heading(out: Console, number: int, title: str) -> None:
    out.print()
    out.rule(f"[bold cyan]{number}. {escape(title)}", align="left")


def _table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[str]], *,
           footer_rows: int = 0) -> RenderableType:
    """A table under a bold title line (which wraps at the terminal's width, not the table's);
    numeric columns right-aligned; the last ``footer_rows`` rows set off below a rule."""
    table = Table()
    for col in columns:
        table.add_column(col, justify="right" if col in _RIGHT else "left")
    body = list(rows)
    if not body:
        table.add_row("(none)", *[""] * (len(columns) - 1))
    split = len(body) - footer_rows
    for i, row in enumerate(body):
        table.add_row(*row, style="bold" if i >= split else None,
                      end_section=footer_rows > 0 and i == split - 1)
    return Group(Text(title, style="bold"), table) if title else table


def _n(count: int) -> str:
    return f"{count:,}"


def _grouped(amount: str) -> str:
    """``"-1234567.89"`` -> ``"-1,234,567.89"``: the one rule of cli.render's tables."""
    return group_digits(amount)


def _signed(minor: int, code: str) -> str:
    text_ = _grouped(format_amount(minor, code))
    return text_ if minor <= 0 else f"+{text_}"


def _count_rows(path: Path) -> int:
    """Data rows of an instruction file: its lines, less the CSV header."""
    n = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            n += block.count(b"\n")
    return max(0, n - (1 if path.suffix.lower() == ".csv" else 0))
