"""``wmc demo``: a day of the ledger on a fresh embedded SQLite database, shown in the terminal."""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import time
from pathlib import Path

from rich.console import Console

from cli.render import emit_rows
from ledger import audit, reports
from ledger.db import make_engine, transaction
from ledger.entries import EntrySpec, TransferSpec
from ledger.migrate import upgrade
from ledger.posting import post_entries
from ledger.refdata import load_accounts, load_banks

BANKS = [
    {"bank_id": "BNU-MO", "name": "Banco Nacional Ultramarino (sample)", "market": "MO"},
    {"bank_id": "HKB-HK", "name": "Harbour Bank Hong Kong (sample)", "market": "HK"},
    {"bank_id": "GZB-CN", "name": "Guangzhou Bay Bank (sample)", "market": "CN"},
]


def run_demo(directory: Path | None = None, *, entries: int = 20_000, seed: int = 7) -> None:
    console = Console()
    workdir = Path(directory or tempfile.mkdtemp(prefix="wmc-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{workdir / 'wmc.db'}"
    console.rule("[bold]wmc-ledger demo")
    console.print(f"ledger: {url}")
    engine = make_engine(url)
    upgrade(engine)
    rng = random.Random(seed)
    accounts: list[dict[str, str | bool]] = []
    for bank in BANKS:
        b = bank["bank_id"]
        for cur in ("MOP", "HKD", "CNY"):
            accounts.append({"account": f"{b}-NOSTRO-{cur}", "bank_id": b, "type": "asset",
                             "currency": cur, "allow_overdraft": True})
            for i in range(20):
                accounts.append({"account": f"{b}-C{i:03d}-{cur}", "bank_id": b,
                                 "type": "liability", "currency": cur})

    def load(conn: object) -> None:
        load_banks(conn, BANKS)  # type: ignore[arg-type]
        load_accounts(conn, accounts)  # type: ignore[arg-type]

    transaction(engine, load)
    day = dt.date(2025, 3, 3)
    specs = []
    customers = [{k: str(v) for k, v in a.items()} for a in accounts if a["type"] == "liability"]
    for i in range(entries):
        if i < len(customers):
            c = customers[i]
            specs.append(EntrySpec(f"FUND-{i}", "transfer", day, (TransferSpec(
                f"{c['bank_id']}-NOSTRO-{c['currency']}", c["account"], 10_000_000,
                c["currency"]),)))
            continue
        cur = rng.choice(("MOP", "HKD", "CNY"))
        src, dst = rng.sample([c for c in customers if c["currency"] == cur], 2)
        specs.append(EntrySpec(f"T-{i}", "transfer", day, (TransferSpec(
            src["account"], dst["account"], rng.randint(100, 5_000_000), cur),)))
    t0 = time.perf_counter()
    results = transaction(engine, lambda c: post_entries(
        c, specs, posted_at="2025-03-03T18:00:00+08:00", batch_id="DEMO-1"))
    seconds = time.perf_counter() - t0
    ok = sum(r.code == "ok" for r in results)
    console.print(f"posted {ok} of {len(specs)} entries in {seconds:.2f}s "
                  f"({len(specs) / seconds:,.0f} entries/s); "
                  f"{len(specs) - ok} rejected (insufficient funds)")
    with engine.connect() as conn:
        tb = reports.trial_balance(conn)
        emit_rows([c.to_dict() for c in tb.currencies], "table", title="Trial balance")
        result = audit.verify(conn)
    console.print(f"audit: {'ok' if result.ok else 'BROKEN'}: {result.entries} entries, "
                  f"{result.transfers} transfers")
