"""Simple transfers, whole process, beside the lean raw insert of the same transfers.

``python -m benchmarks.simple_transfers [--transfers 1000000] [--accounts 10000]
[--db sqlite postgresql] [--repeat N]``

The workload of the speed issue: N simple HKD transfers between ``--accounts`` customer
accounts that may not overdraw, each funded first (a funding batch, not timed). Timed: ``wmc
settle run FILE`` as a whole process (start-up, reading, judging, posting, netting, commit), with
its peak RSS. In the same run, the lean raw insert: the same N transfers as one row each (id,
debit, credit, amount, currency, value date; primary key only) into a fresh database by the
fastest raw route (``executemany`` on SQLite, ``COPY`` on PostgreSQL), only the writes timed.
Prints both rates, their ratio, and the rate as a share of TigerBeetle's 325,000 transfers/s
measured on these machines (see the README).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

from benchmarks.throughput import WORK, _fresh_url

TIGERBEETLE = 325_000  # transfers/s, 1,000,000 transfers, whole process, these machines
DAY = "2025-03-03"


def write_world(folder: Path, accounts: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "banks.csv").open("w", newline="") as fh:
        fh.write("bank_id,name,market\nHKB,Harbour Bank,HK\nMOB,Macau Bank,MO\n")
    with (folder / "accounts.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["account", "bank_id", "type", "currency", "name", "allow_overdraft"])
        w.writerow(["HKB-NOSTRO-HKD", "HKB", "asset", "HKD", "nostro", "true"])
        for i in range(accounts):
            w.writerow([f"C{i:06d}", "HKB" if i % 2 else "MOB", "liability", "HKD", "", "false"])
    with (folder / "funding.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["instruction_id", "kind", "debit_account", "credit_account", "amount",
                    "currency", "value_date"])
        for i in range(accounts):
            w.writerow([f"F{i:06d}", "transfer", "HKB-NOSTRO-HKD", f"C{i:06d}", "1000000.00",
                        "HKD", DAY])


def write_transfers(path: Path, n: int, accounts: int, seed: int = 7) -> list[tuple[int, ...]]:
    """The day's file, and the same transfers as lean rows (id, debit, credit, amount)."""
    rng = random.Random(seed)
    rows: list[tuple[int, ...]] = []
    with path.open("w", newline="") as fh:
        fh.write("instruction_id,kind,debit_account,credit_account,amount,currency,value_date\n")
        for i in range(n):
            d = rng.randrange(accounts)
            c = (d + 1 + rng.randrange(accounts - 1)) % accounts
            amount = rng.randrange(1, 10_000)  # up to 100.00: no funded account runs dry
            fh.write(f"T{i:08d},transfer,C{d:06d},C{c:06d},{amount // 100}.{amount % 100:02d},"
                     f"HKD,{DAY}\n")
            rows.append((i + 1, d + 2, c + 2, amount))
    return rows


def wmc(*args: str, env: dict[str, str]) -> tuple[float, int, str]:
    """Run ``wmc`` as a whole process: wall seconds, peak RSS (KiB) and its stderr."""
    exe = str(Path(sys.executable).with_name("wmc"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    done = subprocess.run([exe, "-q", *args], env=env, capture_output=True, text=True,
                          check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"wmc {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds, max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss), \
        done.stderr


def lean_insert(db: str, rows: list[tuple[int, ...]]) -> float:
    """The lean raw insert of ``rows``, one transaction, only the writes timed."""
    url, drop = _fresh_url(db, "lean")
    try:
        if db == "sqlite":
            import sqlite3

            con = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA synchronous = NORMAL")
            con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, debit INTEGER NOT NULL, "
                        "credit INTEGER NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT "
                        "NULL, value_date TEXT NOT NULL)")
            full = [(*r, "HKD", DAY) for r in rows]
            t0 = time.perf_counter()
            con.execute("BEGIN")
            con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", full)
            con.execute("COMMIT")
            seconds = time.perf_counter() - t0
            con.close()
            return seconds
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as con:
            con.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, debit BIGINT NOT NULL, "
                        "credit BIGINT NOT NULL, amount BIGINT NOT NULL, currency CHAR(3) NOT "
                        "NULL, value_date DATE NOT NULL)")
            con.commit()
            t0 = time.perf_counter()
            with con.cursor() as cur, cur.copy("COPY t FROM STDIN") as copy:
                for r in rows:
                    copy.write_row((*r, "HKD", DAY))
            con.commit()
            return time.perf_counter() - t0
    finally:
        drop()


def run(db: str, n: int, accounts: int) -> tuple[float, float, int]:
    folder = WORK / f"simple-{accounts}"
    write_world(folder, accounts)
    day = folder / f"transfers-{n}.csv"
    rows = write_transfers(day, n, accounts)
    url, drop = _fresh_url(db, "simple")
    env = {**os.environ, "WMC_DB": url}
    try:
        wmc("init", env=env)
        wmc("load", "banks", str(folder / "banks.csv"), env=env)
        wmc("load", "accounts", str(folder / "accounts.csv"), env=env)
        wmc("settle", "run", str(folder / "funding.csv"), "--format", "json", env=env)
        seconds, rss, _ = wmc("settle", "run", str(day), "--format", "json", env=env)
    finally:
        drop()
    lean = lean_insert(db, rows)
    return n / seconds, n / lean, rss


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--transfers", type=int, default=1_000_000)
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    for db in args.db:
        runs = [run(db, args.transfers, args.accounts) for _ in range(args.repeat)]
        for rate, lean, rss in runs:
            print(f"{db}: {args.transfers:,} simple transfers: wmc settle run {rate:,.0f}/s, "
                  f"lean raw insert {lean:,.0f}/s, ratio {rate / lean:.2f}, "
                  f"{rate / TIGERBEETLE:.2f}x TigerBeetle, peak RSS {rss // 1024} MiB",
                  flush=True)
        if args.repeat > 1:
            rate = median(r[0] for r in runs)
            lean = median(r[1] for r in runs)
            print(f"{db}: medians: {rate:,.0f}/s against {lean:,.0f}/s, ratio "
                  f"{median(r[0] / r[1] for r in runs):.2f}")


if __name__ == "__main__":
    main()
