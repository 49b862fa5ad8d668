"""A small GBA world for settlement tests: three banks, paired investors, products, rates."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from fx.book import load_rates_file
from ledger.db import transaction
from ledger.refdata import load_file
from settlement.engine import BatchOptions, settle_file
from settlement.refdata import load_file as load_scheme_file
from settlement.report import BatchReport
from settlement.settings import Settings, load_settings

CLOCK = dt.datetime(2025, 3, 3, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))

BANKS = [
    {"bank_id": "A", "name": "Bank A (HK)", "market": "HK", "kind": "bank"},
    {"bank_id": "B", "name": "Bank B (MO)", "market": "MO", "kind": "bank"},
    {"bank_id": "C", "name": "Bank C (CN)", "market": "CN", "kind": "bank"},
    # S2's broker channel: a Mainland securities firm paired with a Hong Kong one.
    {"bank_id": "D", "name": "Securities D (CN)", "market": "CN", "kind": "securities_firm"},
    {"bank_id": "E", "name": "Securities E (HK)", "market": "HK", "kind": "securities_firm"},
]


def _accounts() -> list[dict[str, str]]:
    rows = []
    for b in "ABC":
        for cur in ("HKD", "CNY", "MOP"):
            rows.append({"account": f"{b}-NOSTRO-{cur}", "bank_id": b, "type": "asset",
                         "currency": cur, "name": "nostro", "allow_overdraft": "true"})
            rows.append({"account": f"{b}-CUST-{cur}", "bank_id": b, "type": "liability",
                         "currency": cur, "name": "customer", "allow_overdraft": "false"})
        rows.append({"account": f"{b}-FEES-HKD", "bank_id": b, "type": "income",
                     "currency": "HKD", "name": "fees", "allow_overdraft": "false"})
    # Southbound investor S1 (Mainland): remits from C (CN) to A (HK); on two channels: S2.
    # Northbound investor N1 (Macau): remits from B (MO) to C (CN).
    for code, bank, cur in [
        ("S1-REM", "C", "CNY"), ("S1-INV", "A", "CNY"), ("S1-INV-HKD", "A", "HKD"),
        ("S2-REM-BANK", "C", "CNY"), ("S2-INV-BANK", "A", "CNY"),
        ("S2-REM-BRK", "D", "CNY"), ("S2-INV-BRK", "E", "CNY"),
        ("N1-REM", "B", "CNY"), ("N1-INV", "C", "CNY"),
        ("FUND-SB-HKD", "A", "HKD"), ("FUND-NB-CNY", "C", "CNY"), ("FUND-R5-CNY", "C", "CNY"),
        ("FUND-SB-CNY", "A", "CNY"),
    ]:
        rows.append({"account": code, "bank_id": bank, "type": "liability", "currency": cur,
                     "name": code, "allow_overdraft": "false"})
    return rows


INVESTORS = [
    {"investor_id": "S1", "direction": "southbound", "remittance_account": "S1-REM",
     "investment_account": "S1-INV", "channel": "bank"},
    {"investor_id": "S2", "direction": "southbound", "remittance_account": "S2-REM-BANK",
     "investment_account": "S2-INV-BANK", "channel": "bank"},
    {"investor_id": "S2", "direction": "southbound", "remittance_account": "S2-REM-BRK",
     "investment_account": "S2-INV-BRK", "channel": "broker"},
    {"investor_id": "N1", "direction": "northbound", "remittance_account": "N1-REM",
     "investment_account": "N1-INV", "channel": "bank"},
]

PRODUCTS = [
    {"product": "SB-FUND", "currency": "HKD", "risk": "R3", "direction": "southbound",
     "account": "FUND-SB-HKD", "product_type": "public_fund", "complex": "false",
     "domicile": "HK", "authorisation": "SFC"},
    {"product": "SB-CNY", "currency": "CNY", "risk": "R1", "direction": "southbound",
     "account": "FUND-SB-CNY", "product_type": "deposit"},
    {"product": "NB-FUND", "currency": "CNY", "risk": "R2", "direction": "northbound",
     "account": "FUND-NB-CNY"},
    {"product": "NB-STRUCT", "currency": "CNY", "risk": "R5", "direction": "northbound",
     "account": "FUND-R5-CNY"},
]

RATES = [
    {"base": "CNY", "quote": "HKD", "bid": "1.0584", "ask": "1.0688",
     "as_of": "2025-03-03T09:15:00+08:00", "source": "A board", "book": "default"},
    {"base": "USD", "quote": "HKD", "bid": "7.7750", "ask": "7.7850",
     "as_of": "2025-03-03T09:15:00+08:00", "source": "A board", "book": "default"},
]

INSTRUCTION_COLUMNS = ["instruction_id", "kind", "debit_account", "credit_account", "amount",
                       "currency", "value_date", "investor_id", "product", "rate", "book",
                       "reference", "submitted_at"]


def write_csv(path: Path, rows: Iterable[Mapping[str, Any]],
              columns: list[str] | None = None) -> Path:
    rows = list(rows)
    cols = columns or list(rows[0].keys())
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in cols})
    return path


def build_world(engine: Engine, tmp: Path) -> None:
    files = {
        "banks": write_csv(tmp / "banks.csv", BANKS),
        "accounts": write_csv(tmp / "accounts.csv", _accounts()),
        "investors": write_csv(tmp / "investors.csv", INVESTORS),
        "products": write_csv(tmp / "products.csv", PRODUCTS),
        "rates": write_csv(tmp / "rates.csv", RATES),
    }

    def work(conn: Any) -> None:
        load_file(conn, "banks", files["banks"])
        load_file(conn, "accounts", files["accounts"])
        load_scheme_file(conn, "investors", files["investors"])
        load_scheme_file(conn, "products", files["products"])
        load_rates_file(conn, files["rates"])

    transaction(engine, work)


def ins(iid: str, kind: str, debit: str, credit: str, amount: str, currency: str = "HKD",
        value_date: str = "2025-03-03", **extra: str) -> dict[str, str]:
    row = {"instruction_id": iid, "kind": kind, "debit_account": debit,
           "credit_account": credit, "amount": amount, "currency": currency,
           "value_date": value_date, "submitted_at": "2025-03-03T10:00:00+08:00"}
    row.update(extra)
    return row


def settle(engine: Engine, tmp: Path, rows: list[dict[str, str]], *, name: str = "day.csv",
           atomic: bool = False, settings: Settings | None = None) -> BatchReport:
    path = write_csv(tmp / name, rows, INSTRUCTION_COLUMNS)
    return settle_file(engine, path, BatchOptions(atomic=atomic, settings=settings,
                                                  clock=lambda: CLOCK))


def settings_with(tmp: Path, text: str) -> Settings:
    p = tmp / "settings.toml"
    p.write_text(text, encoding="utf-8")
    return load_settings(p)


def codes(report: BatchReport) -> dict[str, str]:
    return {r.instruction_id: r.code for r in report.rejections}
