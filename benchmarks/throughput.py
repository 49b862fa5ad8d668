"""End-to-end settlement throughput beside the storage limit, measured in the same run.

``python -m benchmarks.throughput [--sizes 100000 1000000] [--db sqlite postgresql] [--repeat N]``

For each size and database: a fresh ledger with the generated reference data, then
``settle_file`` on the generated day (file to committed batch with its netting), timed; its peak
RSS is that of a child process doing only this. Then, in another fresh database with the same
schema, the very entry and transfer rows the batch wrote are inserted again by the fastest raw
route (COPY on PostgreSQL, driver executemany on SQLite), only the writes timed: the storage
limit.
Prints instructions per second, the storage limit in instructions per second, their ratio, and
peak RSS; with ``--repeat N``, N settlings and raw inserts in turn, each line, then the medians.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path
from statistics import median
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


def _raw_child(url: str, source: str) -> None:
    """In a child process: copy the very rows the batch wrote (its entries and transfers, from
    the settled database ``source``) into a fresh database with the same schema, by the raw
    route; only the writes are timed."""
    from ledger.db import make_engine
    from ledger.migrate import upgrade
    from ledger.posting import ENTRY_COLUMNS, TRANSFER_COLUMNS, write_rows

    engine, src = make_engine(url), make_engine(source)
    upgrade(engine)
    with src.connect() as s, engine.begin() as conn:
        # Reference rows first (untimed): the transfers point at these accounts.
        for table, cols in (("banks", "bank_id, name, market"),
                            ("accounts", "id, code, bank_id, type, currency, name, "
                                         "allow_overdraft, closed, debits_posted, "
                                         "credits_posted")):
            rows = [tuple(r) for r in s.exec_driver_sql(f"SELECT {cols} FROM {table}")]
            marks = ", ".join(f":p{i}" for i in range(len(cols.split(","))))
            conn.execute(text(f"INSERT INTO {table} ({cols}) VALUES ({marks})"),
                         [{f"p{i}": v for i, v in enumerate(r)} for r in rows])
    seconds = 0.0
    n = 0
    with engine.begin() as conn:
        for table, cols in (("entries", ENTRY_COLUMNS), ("transfers", TRANSFER_COLUMNS)):
            # Read the whole table first: reading while writing slows SQLite's writes threefold.
            with src.connect() as s:
                rows = [tuple(r) for r in s.exec_driver_sql(
                    f"SELECT {', '.join(cols)} FROM {table} ORDER BY 1")]
            for i in range(0, len(rows), 20_000):
                part = rows[i : i + 20_000]
                t0 = time.perf_counter()
                write_rows(conn, table, cols, part)
                seconds += time.perf_counter() - t0
            n += len(rows)
            del rows
        t0 = time.perf_counter()
    seconds += time.perf_counter() - t0  # the commit
    print(json.dumps({"seconds": seconds, "rows": n}))


def _child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.throughput", *args],
                         capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _measure(db: str, size: int, folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """One settling of the day and one raw insert of its rows, each in a fresh database."""
    settled, drop_settled = _fresh_url(db, f"settle-{size}")
    try:
        run = _child(["--child", "settle", settled, str(folder)])
        url, drop = _fresh_url(db, f"raw-{size}")
        try:
            raw = _child(["--child", "raw", url, settled])
        finally:
            drop()
    finally:
        drop_settled()
    return run, raw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", type=int, default=[100_000, 1_000_000])
    ap.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    ap.add_argument("--repeat", type=int, default=1,
                    help="settle and insert raw this many times in turn; then print the medians")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        if args.child[0] == "settle":
            _settle_child(args.child[1], args.child[2])
        else:
            _raw_child(args.child[1], args.child[2])
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
            rates, limits, ratios, rss = [], [], [], []
            for _ in range(args.repeat):
                run, raw = _measure(db, size, folder)
                ips = run["instructions"] / run["seconds"]
                limit = run["instructions"] / raw["seconds"]
                rates.append(ips)
                limits.append(limit)
                ratios.append(ips / limit)
                rss.append(run["rss_mib"])
                print(
                    f"{db:10s} {size:>9,} instructions: {ips:>9,.0f} instructions/s end to end "
                    f"({run['seconds']:.1f}s; {run['accepted']:,} accepted, "
                    f"{run['rejected']:,} rejected, {run['duplicates']:,} duplicates) | "
                    f"storage limit {raw['rows'] / raw['seconds']:>9,.0f} rows/s = "
                    f"{limit:>9,.0f} instructions/s ({run['entries']:,} entries + "
                    f"{run['transfers']:,} transfers) | ratio {ips / limit:.2f} | peak RSS "
                    f"{run['rss_mib']:.0f} MiB (before the batch {run['rss_mib_before']:.0f} MiB)",
                    flush=True,
                )
            if args.repeat > 1:
                # Each settling is compared with the raw insert made right after it: on a host
                # whose speed drifts, the median of these ratios is steadier than the ratio of
                # two medians.
                print(
                    f"{db:10s} {size:>9,} instructions, median of {args.repeat}: "
                    f"{median(rates):>9,.0f} instructions/s end to end | storage limit "
                    f"{median(limits):>9,.0f} instructions/s | ratio {median(ratios):.2f} "
                    f"(from {min(ratios):.2f} to {max(ratios):.2f}) | peak RSS up to "
                    f"{max(rss):.0f} MiB",
                    flush=True,
                )


if __name__ == "__main__":
    main()
