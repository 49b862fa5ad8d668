"""End-to-end settlement throughput beside the storage limit, measured in the same run.

``python -m benchmarks.throughput [--sizes 100000 1000000] [--db sqlite postgresql]``

For each size and database: a fresh ledger with the generated reference data, then
``settle_file`` on the generated day (file to committed batch with its netting), timed; its peak
RSS is that of a child process doing only this. Then, in another fresh database with the same
schema, the same number of entry and transfer rows as the batch wrote are inserted by the
fastest raw route (COPY on PostgreSQL, driver executemany on SQLite): the storage limit.
Prints instructions per second, the storage limit in instructions per second, their ratio, and
peak RSS.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ADMIN = os.environ.get("WMC_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
WORK = Path(os.environ.get("WMC_BENCH_DIR", "/tmp/wmc-bench"))


def _fresh_url(db: str, tag: str) -> tuple[str, Any]:
    if db == "sqlite":
        path = WORK / f"{tag}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}", lambda: None
    name = f"wmc_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False), drop


def _settle_child(url: str, folder: str) -> None:
    """In a child process: load the reference data, then settle the day; print one JSON line."""
    from benchmarks.generate import GeneratedFiles  # noqa: F401  (the layout of the folder)
    from fx.book import load_rates_file
    from ledger.db import make_engine, transaction
    from ledger.migrate import upgrade
    from ledger.refdata import load_file
    from settlement.engine import BatchOptions, settle_file
    from settlement.refdata import load_file as load_scheme_file

    base = Path(folder)
    engine = make_engine(url)
    upgrade(engine)

    def load(conn: Any) -> None:
        load_file(conn, "banks", base / "banks.csv")
        load_file(conn, "accounts", base / "accounts.csv")
        load_scheme_file(conn, "investors", base / "investors.csv")
        load_scheme_file(conn, "products", base / "products.csv")
        load_rates_file(conn, base / "rates.csv")

    transaction(engine, load)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    clock = dt.datetime(2025, 3, 3, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    t0 = time.perf_counter()
    report = settle_file(engine, base / "instructions.csv", BatchOptions(clock=lambda: clock))
    seconds = time.perf_counter() - t0
    with engine.connect() as c:
        entries = c.execute(text("SELECT count(*) FROM entries")).scalar_one()
        transfers = c.execute(text("SELECT count(*) FROM transfers")).scalar_one()
    print(json.dumps({
        "instructions": report.instructions, "accepted": report.accepted,
        "rejected": report.rejected, "duplicates": report.duplicates, "seconds": seconds,
        "entries": entries, "transfers": transfers,
        "rss_mib_before": rss_before / 1024,
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def _raw_child(url: str, entries: int, transfers: int) -> None:
    """In a child process: insert that many entry and transfer rows by the raw route."""
    from ledger.db import make_engine
    from ledger.migrate import upgrade
    from ledger.posting import ENTRY_COLUMNS, TRANSFER_COLUMNS, write_rows
    from ledger.refdata import load_accounts, load_banks

    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        load_banks(conn, [{"bank_id": "A", "name": "A", "market": "HK"}])
        load_accounts(conn, [{"account": f"X{i}", "bank_id": "A", "type": "asset",
                              "currency": "HKD", "allow_overdraft": True} for i in range(1000)])
        ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM accounts")]
    chunk = 20_000
    digest = hashlib.sha256(b"x").hexdigest()
    t0 = time.perf_counter()
    built = 0.0
    with engine.begin() as conn:
        tid = 0
        for start in range(0, entries, chunk):
            b0 = time.perf_counter()
            n = min(chunk, entries - start)
            erows = [(start + i + 1, f"I{start + i + 1:09d}", "transfer", "2025-03-03", "B1",
                      None, None, digest, "2025-03-03T20:00:00+08:00", digest) for i in range(n)]
            per = max(1, transfers // max(1, entries))
            trows = []
            for i in range(n):
                for _ in range(per):
                    tid += 1
                    trows.append((tid, start + i + 1, ids[tid % 1000], ids[(tid + 1) % 1000],
                                  100, "HKD", "2025-03-03", None))
            built += time.perf_counter() - b0
            write_rows(conn, "entries", ENTRY_COLUMNS, erows)
            write_rows(conn, "transfers", TRANSFER_COLUMNS, trows)
    seconds = time.perf_counter() - t0 - built  # the rows' making is not storage time
    print(json.dumps({"seconds": seconds, "rows": entries + tid}))


def _child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.throughput", *args],
                         capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", type=int, default=[100_000, 1_000_000])
    ap.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        if args.child[0] == "settle":
            _settle_child(args.child[1], args.child[2])
        else:
            _raw_child(args.child[1], int(args.child[2]), int(args.child[3]))
        return
    from benchmarks.generate import generate

    WORK.mkdir(parents=True, exist_ok=True)
    for size in args.sizes:
        folder = WORK / f"day-{size}"
        if not (folder / "instructions.csv").exists():
            t0 = time.perf_counter()
            generate(size, folder, seed=1)
            print(f"generated {size:,} instructions in {time.perf_counter() - t0:.1f}s",
                  flush=True)
        for db in args.db:
            url, drop = _fresh_url(db, f"settle-{size}")
            try:
                run = _child(["--child", "settle", url, str(folder)])
            finally:
                drop()
            url, drop = _fresh_url(db, f"raw-{size}")
            try:
                raw = _child(["--child", "raw", url, str(run["entries"]), str(run["transfers"])])
            finally:
                drop()
            ips = run["instructions"] / run["seconds"]
            limit = run["instructions"] / raw["seconds"]
            print(
                f"{db:10s} {size:>9,} instructions: {ips:>9,.0f} instructions/s end to end "
                f"({run['seconds']:.1f}s; {run['accepted']:,} accepted, {run['rejected']:,} "
                f"rejected, {run['duplicates']:,} duplicates) | storage limit "
                f"{raw['rows'] / raw['seconds']:>9,.0f} rows/s = {limit:>9,.0f} instructions/s "
                f"({run['entries']:,} entries + {run['transfers']:,} transfers) | ratio "
                f"{ips / limit:.2f} | peak RSS {run['rss_mib']:.0f} MiB "
                f"(before the batch {run['rss_mib_before']:.0f} MiB)",
                flush=True,
            )


if __name__ == "__main__":
    main()
