"""`wmc settle`, `wmc report quota`, `wmc reconcile` and `wmc fx revalue` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from settlement.reconcile import BankFee, statement_from_ledger
from tests.settlement_builders import INSTRUCTION_COLUMNS, build_world, ins, write_csv
from tests.test_cli import wmc


@pytest.fixture
def db(engine: Engine, db_url: str, tmp_path: Path) -> str:
    build_world(engine, tmp_path)
    return db_url


def _day(tmp_path: Path, name: str = "day.csv") -> Path:
    return write_csv(tmp_path / name, [
        ins("F1", "transfer", "C-NOSTRO-CNY", "S1-REM", "500000.00", "CNY",
            reference="E2E-F1"),
        ins("R1", "remit", "S1-REM", "S1-INV", "300000.00", "CNY", investor_id="S1",
            reference="E2E-R1"),
        ins("C1", "convert", "S1-INV", "S1-INV-HKD", "100000.00", "CNY"),
        ins("N1", "transfer", "A-NOSTRO-HKD", "B-NOSTRO-HKD", "1200.00"),
        ins("X1", "transfer", "A-CUST-HKD", "B-CUST-HKD", "5.00"),
        ins("L1", "transfer", "A-NOSTRO-HKD", "C-NOSTRO-HKD", "7.00",
            submitted_at="2025-03-03T17:30:00+08:00"),  # after the HKD cut-off: Tuesday
    ], INSTRUCTION_COLUMNS)


def test_settle_run_show_and_html(db: str, tmp_path: Path) -> None:
    code, out, _ = wmc(db, "settle", "run", str(_day(tmp_path)), "--format", "json")
    assert code == 0
    run = json.loads(out)
    assert (run["accepted"], run["rejected"]) == (5, 1)
    assert run["moved_dates"] == [
        {"instruction_id": "L1", "market": "HK", "requested": "2025-03-03",
         "value_date": "2025-03-04", "reason": "cutoff"},
        {"instruction_id": "L1", "market": "CN", "requested": "2025-03-03",
         "value_date": "2025-03-04", "reason": "cutoff"}]
    assert run["rejections"][0]["code"] == "insufficient_funds"
    assert run["rejections"][0]["line"] == 6
    assert [g["instruction_id"] for g in run["gross_payments"]] == ["R1"]
    code, out, _ = wmc(db, "settle", "show", run["batch_id"], "--format", "json",
                       "--html", str(tmp_path / "b.html"))
    assert code == 0
    assert json.loads(out) == run
    assert "<svg" in (tmp_path / "b.html").read_text(encoding="utf-8")
    code, out, _ = wmc(db, "settle", "run", str(_day(tmp_path)), "--format", "json")
    again = json.loads(out)
    assert (again["accepted"], again["duplicates"]) == (0, 6)
    code, out, _ = wmc(db, "settle", "run", str(_day(tmp_path)))
    assert code == 0 and "Multilateral net positions" in out
    code, _, err = wmc(db, "settle", "show", "B99999999")
    assert code == 2 and "does not exist" in err


def test_atomic_and_bad_files_exit_codes(db: str, tmp_path: Path) -> None:
    code, out, err = wmc(db, "settle", "run", str(_day(tmp_path)), "--atomic",
                         "--format", "json")
    assert code == 1 and "rolled back" in err
    assert json.loads(out)["rejected"] == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction_id": "B1", "kind": "transfer"}\nnot json\n', encoding="utf-8")
    code, _, err = wmc(db, "settle", "run", str(bad))
    assert code == 2
    assert f"{bad}:1: field 'debit_account'" in err and f"{bad}:2: field 'json'" in err
    code, out, _ = wmc(db, "report", "balances", "--format", "json", "--account", "S1-REM")
    assert json.loads(out)[0]["balance"] == "0.00"


def test_quota_report(db: str, tmp_path: Path) -> None:
    wmc(db, "settle", "run", str(_day(tmp_path)))
    _, out, _ = wmc(db, "report", "quota", "--format", "json", "--investor", "S1")
    data = json.loads(out)
    assert data["investors"][0]["used"] == "300000.00"
    assert data["investors"][0]["remaining"] == "2700000.00"


def test_reconcile_exit_codes(db: str, engine: Engine, tmp_path: Path) -> None:
    wmc(db, "settle", "run", str(_day(tmp_path)))
    import datetime as dt

    with engine.connect() as conn:
        _, clean = statement_from_ledger(conn, "S1-REM", dt.date(2025, 3, 3))
        _, fee = statement_from_ledger(conn, "S1-REM", dt.date(2025, 3, 3),
                                       plant=[BankFee(1500, "charge")], fmt="mt940")
    (tmp_path / "clean.xml").write_bytes(clean if isinstance(clean, bytes) else clean.encode())
    (tmp_path / "fee.mt940").write_text(fee if isinstance(fee, str) else fee.decode())
    code, out, _ = wmc(db, "reconcile", str(tmp_path / "clean.xml"), "--account", "S1-REM",
                       "--format", "json")
    assert code == 0 and json.loads(out)["breaks"] == []
    code, out, _ = wmc(db, "reconcile", str(tmp_path / "fee.mt940"), "--account", "S1-REM",
                       "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert [b["type"] for b in data["breaks"]] == ["missing_in_ledger"]
    assert data["difference"] == "15.00" == data["breaks"][0]["amount"]
    code, out, _ = wmc(db, "reconcile", str(tmp_path / "fee.mt940"), "--account", "S1-REM")
    assert code == 1 and "difference 15.00" in out


def test_fx_revalue_is_idempotent(db: str, tmp_path: Path) -> None:
    wmc(db, "settle", "run", str(_day(tmp_path)))
    code, out, _ = wmc(db, "fx", "revalue", "--as-of", "2025-03-03", "--format", "json")
    assert code == 0
    first = json.loads(out)
    code, out, _ = wmc(db, "fx", "revalue", "--as-of", "2025-03-03", "--format", "json")
    second = json.loads(out)
    assert second["already_done"] and second["posted"] == 0
    assert first["total"] == second["total"]
    assert wmc(db, "audit", "verify")[0] == 0


def test_reverse(db: str, tmp_path: Path) -> None:
    wmc(db, "settle", "run", str(_day(tmp_path)))
    _, before, _ = wmc(db, "report", "balances", "--format", "json", "--account", "B-NOSTRO-HKD")
    code, out, _ = wmc(db, "reverse", "N1")
    assert code == 0 and "REV-N1 reverses N1" in out
    _, after, _ = wmc(db, "report", "balances", "--format", "json", "--account", "B-NOSTRO-HKD")
    assert json.loads(before)[0]["balance"] == "-1200.00"  # an asset, credited
    assert json.loads(after)[0]["balance"] == "0.00"
    code, _, err = wmc(db, "reverse", "N1", "--id", "REV-N1-AGAIN")
    assert code == 2 and "already_reversed" in err
    code, _, err = wmc(db, "reverse", "R1")
    assert code == 2 and "repatriate" in err
    code, _, err = wmc(db, "reverse", "NOPE")
    assert code == 2 and "does not exist" in err
    code, _, _ = wmc(db, "reverse", "C1")  # a conversion: every leg undone
    assert code == 0
    assert wmc(db, "audit", "verify")[0] == 0


def test_bad_instruction_files_name_the_line_and_write_nothing(db: str, tmp_path: Path) -> None:
    header = "instruction_id,kind,debit_account,credit_account,amount,currency,value_date"
    good = "G1,transfer,S1-REM,S2-REM-BANK,1.00,CNY,2025-03-03"
    cases = {
        "twice.csv": (f"{header},amount\n{good},9.00\n".encode(), "1: field 'amount'"),
        "bytes.csv": (f"{header}\n{good}\nG2,transfer,S1-REM,\xff\n".encode("latin-1"),
                      "3: field 'text': UTF-8"),
        "huge.csv": (f"{header}\n{good}\nG2,transfer,{'x' * 200_000},S1,1.00,CNY,"
                     "2025-03-03\n".encode(), "field 'row': a CSV row"),
        "twice.jsonl": (b'{"instruction_id": "G1", "kind": "transfer", "debit_account": "S1-REM",'
                        b' "credit_account": "S2-REM-BANK", "amount": "1.00", "currency": "CNY",'
                        b' "value_date": "2025-03-03", "amount": "9999.00"}\n',
                        "1: field 'amount': one value (duplicate field)"),
    }
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        code, _, err = wmc(db, "settle", "run", str(path))
        assert code == 2 and expected in err and str(path) in err, (name, err)
    code, out, _ = wmc(db, "report", "balances", "--format", "json", "--account", "S1-REM")
    assert json.loads(out)[0]["debits"] == "0.00"


def test_an_investment_account_already_stored_for_another_investor(db: str,
                                                                    tmp_path: Path) -> None:
    clash = tmp_path / "investors.csv"
    clash.write_text("investor_id,direction,remittance_account,investment_account\n"
                     "S9,southbound,S1-REM,S1-INV\n", encoding="utf-8")
    code, _, err = wmc(db, "load", "investors", str(clash))
    assert code == 2 and f"{clash}:2: field 'investment_account'" in err and "S1/bank" in err
