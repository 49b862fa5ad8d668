"""The public Python API (``wmc_ledger``) on SQLite and PostgreSQL: every operation the CLI has,
Money at the boundary, results equal to the CLI's JSON, rejections as values."""

from __future__ import annotations

import datetime as dt
import doctest
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from moneyed import Money
from sqlalchemy import text
from typer.testing import CliRunner

import wmc_ledger
import wmc_ledger.api
import wmc_ledger.clock
from cli.main import app
from tests.settlement_builders import (
    BANKS,
    INSTRUCTION_COLUMNS,
    INVESTORS,
    PRODUCTS,
    RATES,
    _accounts,
    ins,
    write_csv,
)
from wmc_ledger import (
    AmountError,
    AtomicBatchRolledBack,
    ConflictError,
    Entry,
    FixedClock,
    InputError,
    Instruction,
    Ledger,
    NotFound,
    Transfer,
)

CLOCK_START = "2025-03-03T20:00:00+08:00"
DATA = Path(__file__).parent / "data" / "statements"
runner = CliRunner()


def hkd(amount: str) -> Money:
    return Money(amount, "HKD")


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    with Ledger.open(db_url, clock=FixedClock(CLOCK_START)).init() as opened:
        yield opened


@pytest.fixture
def world(ledger: Ledger) -> Ledger:
    """The settlement tests' three banks, accounts, investors, products and rates, as rows."""
    ledger.load_banks(BANKS)
    ledger.load_accounts(_accounts())
    ledger.load_investors(INVESTORS)
    ledger.load_products(PRODUCTS)
    ledger.load_rates(RATES)
    return ledger


def wmc(db: str, *args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, ["--db", db, *args])
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


# -- opening and reference data ------------------------------------------------------------------


def test_init_twice_is_harmless_and_returns_the_ledger(ledger: Ledger) -> None:
    assert ledger.init() is ledger
    assert ledger.balances() == []
    assert "password" not in ledger.url and repr(ledger).startswith("Ledger(")


def test_an_in_memory_ledger_keeps_its_data_until_closed() -> None:
    with Ledger.open("sqlite://").init() as ledger:
        ledger.load_banks([{"bank_id": "A", "name": "A", "market": "HK"}])
        ledger.load_accounts([{"account": "X", "bank_id": "A", "type": "asset",
                               "currency": "HKD", "allow_overdraft": True},
                              {"account": "Y", "bank_id": "A", "type": "liability",
                               "currency": "HKD"}])
        assert ledger.transfer("T1", "X", "Y", hkd("1.00")).ok
        assert ledger.balance("Y") == hkd("1.00")


def test_loading_rows_is_idempotent_and_typed_values_parse(world: Ledger) -> None:
    again = world.load_banks(BANKS)
    assert (again.kind, again.rows, again.inserted, again.unchanged) == ("banks", 3, 0, 3)
    # Typed values as well as text: a bool flag, Decimal rates, an aware datetime.
    world.load_accounts([{"account": "A-NEW", "bank_id": "A", "type": "asset",
                          "currency": "HKD", "allow_overdraft": False}])
    loaded = world.load_rates([{"base": "CNY", "quote": "HKD", "bid": Decimal("1.05"),
                                "ask": Decimal("1.06"),
                                "as_of": dt.datetime(2025, 3, 4, 9, 15,
                                                     tzinfo=dt.timezone(dt.timedelta(hours=8)))}])
    assert loaded.inserted == 1
    assert world.balance("A-NEW") == hkd("0.00")


def test_loading_files_as_the_cli_does(ledger: Ledger, tmp_path: Path) -> None:
    files = {
        "banks": write_csv(tmp_path / "banks.csv", BANKS),
        "accounts": write_csv(tmp_path / "accounts.csv", _accounts()),
        "investors": write_csv(tmp_path / "investors.csv", INVESTORS),
        "products": write_csv(tmp_path / "products.csv", PRODUCTS),
        "rates": write_csv(tmp_path / "rates.csv", RATES),
    }
    results = {kind: ledger.load(kind, path) for kind, path in files.items()}
    assert {k: r.inserted for k, r in results.items()} == {
        "banks": 3, "accounts": len(_accounts()), "investors": 4, "products": 4, "rates": 2}
    assert ledger.load("investors", str(files["investors"])).unchanged == 4


def test_bad_rows_are_refused_whole_naming_kind_row_and_field(ledger: Ledger) -> None:
    with pytest.raises(InputError) as exc:
        ledger.load_banks([{"bank_id": "A", "name": "A", "market": "HK"},
                           {"bank_id": "B", "name": "B", "market": "SG"},
                           {"bank_id": "C", "market": "CN", "colour": "red"}])
    assert [str(p).split(":")[:3] for p in exc.value.problems] == [
        ["banks", "2", " field 'market'"], ["banks", "3", " field 'colour'"],
        ["banks", "3", " field 'name'"]]
    assert ledger.balances() == [] and ledger.load_banks([]).rows == 0
    with pytest.raises(InputError, match="unknown reference data kind"):
        ledger.load("fruit", [])


def test_same_key_other_content_is_a_conflict(world: Ledger) -> None:
    with pytest.raises(ConflictError, match="Bank A"):
        world.load_banks([{"bank_id": "A", "name": "Another", "market": "HK"}])


# -- posting, balances, reports --------------------------------------------------------------------


def test_post_and_transfer_with_money(world: Ledger) -> None:
    results = world.post([
        Entry("E-1", (Transfer("A-NOSTRO-HKD", "A-CUST-HKD", hkd("1000.00"), reference="R1"),)),
        Entry("E-2", (Transfer("A-CUST-HKD", "B-CUST-HKD", hkd("400.00")),
                      Transfer("A-CUST-HKD", "C-CUST-HKD", hkd("700.00")))),
        Entry("E-1", [Transfer("A-NOSTRO-HKD", "A-CUST-HKD", hkd("1000.00"),  # type: ignore[arg-type]
                               reference="R1")]),
    ])
    assert [(r.entry_id, r.code, r.ok) for r in results] == [
        ("E-1", "ok", True), ("E-2", "insufficient_funds", False), ("E-1", "duplicate", False)]
    assert "A-CUST-HKD" in results[1].message
    changed = world.transfer("E-1", "A-NOSTRO-HKD", "A-CUST-HKD", hkd("999.00"))
    assert changed.code == "exists_with_different_content"
    assert world.transfer("E-3", "A-CUST-HKD", "B-CUST-HKD", hkd("400.00"),
                          value_date="2025-03-04").ok
    assert world.balance("A-CUST-HKD") == hkd("600.00")
    assert world.balance("A-CUST-HKD", as_of="2025-03-03") == hkd("1000.00")
    assert world.balance("B-CUST-HKD", as_of=dt.date(2025, 3, 3)) == hkd("0.00")
    rows = world.balances(bank="B")
    assert {r.account: r.balance for r in rows}["B-CUST-HKD"] == hkd("400.00")
    tb = world.trial_balance()
    assert tb.balanced and [c.currency for c in tb.currencies] == ["CNY", "HKD", "MOP"]
    hkd_total = next(c for c in tb.currencies if c.currency == "HKD")
    assert hkd_total.debits == hkd_total.credits == hkd("1400.00")
    assert world.audit().ok and world.audit().entries == 2


def test_amounts_must_be_exact_money_of_the_right_currency(world: Ledger) -> None:
    with pytest.raises(AmountError, match="decimals"):
        world.transfer("X-1", "A-NOSTRO-HKD", "A-CUST-HKD", hkd("10.005"))
    with pytest.raises(AmountError, match="Money"):
        world.transfer("X-2", "A-NOSTRO-HKD", "A-CUST-HKD", "10.00")  # type: ignore[arg-type]
    assert world.transfer("X-3", "A-NOSTRO-HKD", "A-CUST-HKD",
                          Money("10.00", "CNY")).code == "currency_mismatch"
    with pytest.raises(NotFound):
        world.balance("NOPE")


def test_closed_account_takes_no_transfers(world: Ledger) -> None:
    world.close_account("A-CUST-HKD")
    assert world.transfer("C-1", "A-NOSTRO-HKD", "A-CUST-HKD",
                          hkd("1.00")).code == "account_closed"
    with pytest.raises(NotFound):
        world.close_account("NOPE")


def test_convert_at_the_book_rate_and_at_a_dealt_rate(world: Ledger) -> None:
    world.transfer("F-1", "A-NOSTRO-CNY", "A-CUST-CNY", cny("20000.00"))
    booked = world.convert("FX-1", "A-CUST-CNY", "A-CUST-HKD", cny("10000.00"),
                           at="2025-03-03T10:00:00+08:00")
    assert booked.ok
    assert (booked.sold, booked.bought, booked.rate) == (
        cny("10000.00"), hkd("10584.00"), Decimal("1.0584"))
    assert booked.bought and booked.spread and booked.rounding is not None
    assert booked.bought + booked.spread + booked.rounding == hkd("10636.00")  # at mid 1.0636
    dealt = world.convert("FX-2", "A-CUST-CNY", "A-CUST-HKD", cny("10000.00"), rate="1.06")
    assert dealt.bought == hkd("10600.00")
    assert world.balance("A-CUST-HKD") == hkd("21184.00")
    assert world.balance("A:FX_INCOME:HKD") == hkd("52.00")
    none_left = world.convert("FX-3", "A-CUST-CNY", "A-CUST-HKD", cny("1.00"))
    assert none_left.code == "insufficient_funds"
    no_rate = world.convert("FX-4", "A-CUST-CNY", "A-CUST-MOP", cny("1.00"), book="cnh")
    assert no_rate.code == "no_rate" and no_rate.bought is None
    with pytest.raises(AmountError, match="HKD"):
        world.convert("FX-5", "A-CUST-HKD", "A-CUST-CNY", cny("1.00"))
    with pytest.raises(InputError, match="float"):  # a float rate is already rounded
        world.convert("FX-6", "A-CUST-CNY", "A-CUST-HKD", cny("1.00"), rate=1.0625)  # type: ignore[arg-type]


# -- settling --------------------------------------------------------------------------------------


def test_settle_an_iterable_of_mappings_and_instructions(world: Ledger) -> None:
    world.transfer("F-1", "C-NOSTRO-CNY", "S1-REM", cny("100000.00"))
    batch = world.settle([
        ins("I-1", "remit", "S1-REM", "S1-INV", "50000.00", "CNY", investor_id="S1"),
        {"instruction_id": "I-2", "kind": "transfer", "debit_account": "A-NOSTRO-HKD",
         "credit_account": "B-CUST-HKD", "amount": hkd("250.10"),
         "value_date": dt.date(2025, 3, 3),
         "submitted_at": dt.datetime(2025, 3, 3, 10, tzinfo=dt.timezone(dt.timedelta(hours=8)))},
        Instruction("I-3", "remit", "S1-REM", "S1-INV", cny("3000000.00"), investor_id="S1"),
        Instruction("I-4", "convert", "S1-INV", "S1-INV-HKD", cny("1000.00"),
                    rate=Decimal("1.05")),
    ])
    assert batch.batch_id == "B00000001"
    assert (batch.instructions, batch.accepted, batch.rejected) == (4, 3, 1)
    assert batch.codes == {"I-3": "insufficient_funds"}
    assert batch.rejections[0].line == 3
    assert batch.position("A", "HKD") == hkd("-250.10")
    assert batch.position("B", "HKD") == hkd("250.10")
    assert batch.position("C", "MOP") == Money("0.00", "MOP")
    assert [(g.payer, g.payee, g.amount) for g in batch.gross_payments] == [
        ("C", "A", cny("50000.00"))]
    assert world.balance("S1-INV-HKD") == hkd("1050.00")
    assert world.batches() == ["B00000001"]
    stored = world.batch("B00000001")
    assert stored.to_dict() == batch.to_dict()
    with pytest.raises(NotFound):
        world.batch("B99999999")


def test_an_iterable_with_bad_values_is_refused_naming_its_rows(world: Ledger) -> None:
    with pytest.raises(InputError) as exc:
        world.settle([
            ins("I-1", "transfer", "A-NOSTRO-HKD", "B-CUST-HKD", "10.005"),
            {"instruction_id": "I-2", "kind": "transfer", "debit_account": "A-NOSTRO-HKD",
             "credit_account": "B-CUST-HKD", "amount": 10.5, "currency": "HKD"},
            {"instruction_id": "I-3", "kind": "transfer", "debit_account": "A-NOSTRO-HKD",
             "credit_account": "B-CUST-HKD", "amount": hkd("1.00"), "currency": "MOP"},
        ], name="day-one")
    assert [(p.file, p.line, p.field) for p in exc.value.problems] == [
        ("day-one", 2, "amount"), ("day-one", 3, "currency")]
    with pytest.raises(InputError) as exc:
        world.settle([ins("I-1", "transfer", "A-NOSTRO-HKD", "B-CUST-HKD", "10.005"),
                      ins("I-2", "swap", "A-NOSTRO-HKD", "B-CUST-HKD", "1.00")])
    assert [str(p).split(": ")[0] + ":" + p.field for p in exc.value.problems] == [
        "instructions:1:amount", "instructions:2:kind"]
    assert world.batches() == [] and world.balance("B-CUST-HKD") == hkd("0.00")


def test_settle_a_file_like_the_cli(world: Ledger, db_url: str, tmp_path: Path) -> None:
    rows = [ins("I-1", "transfer", "A-NOSTRO-HKD", "B-CUST-HKD", "100.00"),
            ins("I-2", "transfer", "B-CUST-HKD", "C-CUST-HKD", "500.00")]
    path = write_csv(tmp_path / "day.csv", rows, INSTRUCTION_COLUMNS)
    batch = world.settle(path)
    assert batch.codes == {"I-2": "insufficient_funds"} and batch.rejections[0].line == 3
    code, out, _ = wmc(db_url, "settle", "show", batch.batch_id, "--format", "json")
    assert code == 0 and out == batch.to_json()
    again = world.settle(str(path))
    assert (again.batch_id, again.duplicates, again.accepted) == ("B00000002", 2, 0)


def test_an_atomic_batch_is_rolled_back_with_its_report(world: Ledger) -> None:
    with pytest.raises(AtomicBatchRolledBack) as exc:
        world.settle([ins("I-1", "transfer", "A-NOSTRO-HKD", "B-CUST-HKD", "100.00"),
                      ins("I-2", "transfer", "B-CUST-HKD", "C-CUST-HKD", "500.00")],
                     atomic=True)
    assert exc.value.exit_code == 1
    assert exc.value.batch.codes == {"I-2": "insufficient_funds"}
    assert world.batches() == [] and world.balance("B-CUST-HKD") == hkd("0.00")


def test_quota_in_money(world: Ledger) -> None:
    world.transfer("F-1", "C-NOSTRO-CNY", "S1-REM", cny("100000.00"))
    world.settle([ins("I-1", "remit", "S1-REM", "S1-INV", "60000.00", "CNY", investor_id="S1"),
                  ins("I-2", "repatriate", "S1-INV", "S1-REM", "10000.00", "CNY",
                      investor_id="S1")])
    quota = world.quota()
    s1 = quota.investor("S1")
    assert (s1.remitted_out, s1.remitted_back, s1.used, s1.remaining) == (
        cny("60000.00"), cny("10000.00"), cny("50000.00"), cny("2950000.00"))
    assert quota.investor("S2", "broker").remaining == cny("1500000.00")
    assert quota.direction("southbound").used == cny("50000.00")
    assert [r.investor_id for r in world.quota(investor="S1").investors] == ["S1"]
    with pytest.raises(KeyError):
        quota.investor("S1", "broker")


def test_settings_from_a_file_apply(db_url: str, tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text(
        '[quota]\nindividual = "1000.00"\nper_channel_when_two_channels = "500.00"\n',
        encoding="utf-8")
    with Ledger.open(db_url, settings=settings, clock=FixedClock(CLOCK_START)).init() as ledger:
        ledger.load_banks(BANKS)
        ledger.load_accounts(_accounts())
        ledger.load_investors(INVESTORS)
        ledger.transfer("F-1", "C-NOSTRO-CNY", "S1-REM", cny("5000.00"))
        batch = ledger.settle([ins("I-1", "remit", "S1-REM", "S1-INV", "1000.01", "CNY",
                                   investor_id="S1")])
        assert batch.codes == {"I-1": "quota_exceeded_individual"}
        assert ledger.settings.quota.individual == 100_000


# -- reconciliation, audit -----------------------------------------------------------------------


def worked_example(ledger: Ledger) -> None:
    """DOMAIN.md's reconciliation example on account A-NOSTRO-HKD (see tests/test_reconcile.py)."""
    ledger.load_banks(BANKS[:2])
    ledger.load_accounts([
        {"account": "A-NOSTRO-HKD", "bank_id": "A", "type": "asset", "currency": "HKD",
         "allow_overdraft": True},
        {"account": "B-NOSTRO-HKD", "bank_id": "B", "type": "asset", "currency": "HKD",
         "allow_overdraft": True},
    ])

    def into(eid: str, amount: str, ref: str | None, day: str = "2025-03-03") -> Entry:
        return Entry(eid, (Transfer("A-NOSTRO-HKD", "B-NOSTRO-HKD", hkd(amount),
                                    reference=ref),), value_date=dt.date.fromisoformat(day))

    def out_of(eid: str, amount: str, ref: str) -> Entry:
        return Entry(eid, (Transfer("B-NOSTRO-HKD", "A-NOSTRO-HKD", hkd(amount),
                                    reference=ref),), value_date=dt.date(2025, 3, 3))

    results = ledger.post([
        into("OPEN-0001", "1000000.00", None, "2025-03-02"),
        into("ENT-0001", "529200.00", "E2E-001"),
        out_of("ENT-0002", "529200.00", "E2E-002"),
        out_of("ENT-0003", "529200.00", "E2E-002"),
        into("ENT-0004", "13147.43", "E2E-005"),
        into("ENT-0005", "200000.00", "E2E-006"),
    ])
    assert all(r.ok for r in results)


@pytest.mark.parametrize("name", ["worked_example.camt053.xml", "worked_example.mt940"])
def test_reconcile_the_worked_example_as_the_cli_does(ledger: Ledger, db_url: str,
                                                      name: str) -> None:
    worked_example(ledger)
    rec = ledger.reconcile(DATA / name, account="A-NOSTRO-HKD", force=True)
    assert not rec.reconciled and rec.matched == 2
    assert sorted(rec.break_types) == ["amount_mismatch", "duplicate", "missing_in_ledger",
                                       "missing_in_statement"]
    assert rec.difference == hkd("-329049.99")
    assert sum((b.amount for b in rec.breaks), hkd("0")) == rec.difference
    code, out, _ = wmc(db_url, "reconcile", str(DATA / name), "--account", "A-NOSTRO-HKD",
                       "--force", "--format", "json")
    assert code == 1 and json.loads(out) == rec.to_dict()
    from_bytes = ledger.reconcile((DATA / name).read_bytes(), account="A-NOSTRO-HKD",
                                  name="upload", force=True)
    assert from_bytes == rec


def test_reports_equal_the_cli_json(world: Ledger, db_url: str) -> None:
    world.transfer("F-1", "C-NOSTRO-CNY", "S1-REM", cny("100000.00"))
    world.settle([ins("I-1", "remit", "S1-REM", "S1-INV", "60000.00", "CNY", investor_id="S1")])
    for args, value in [
        (("report", "balances", "--all"), [r.to_dict() for r in world.balances()]),
        (("report", "balances"),
         [r.to_dict() for r in world.balances(hide_unused_ledger_accounts=True)]),
        (("report", "balances", "--hide-zero"),
         [r.to_dict() for r in world.balances(hide_zero=True,
                                              hide_unused_ledger_accounts=True)]),
        (("report", "balances", "--bank", "C", "--as-of", "2025-03-03", "--all"),
         [r.to_dict() for r in world.balances(bank="C", as_of="2025-03-03")]),
        (("report", "trial-balance"), world.trial_balance().to_dict()),
        (("report", "quota"), world.quota().to_dict()),
    ]:
        code, out, err = wmc(db_url, *args, "--format", "json")
        assert code == 0, err
        assert json.loads(out) == value, args


def test_audit_finds_tampering(world: Ledger) -> None:
    world.transfer("F-1", "A-NOSTRO-HKD", "A-CUST-HKD", hkd("10.00"))
    assert world.audit().ok
    with world.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_head SET root = :h"), {"h": "f" * 64})
    result = world.audit()
    assert not result.ok and "ledger head" in result.problems[0]


def test_the_clock_stamps_what_is_posted(world: Ledger) -> None:
    world.transfer("F-1", "A-NOSTRO-HKD", "A-CUST-HKD", hkd("10.00"))
    clock = world.clock
    assert isinstance(clock, FixedClock)
    clock.advance(minutes=5)
    world.settle([ins("I-1", "transfer", "A-CUST-HKD", "B-CUST-HKD", "1.00")])
    with world.engine.connect() as conn:
        stamps = [r[0] for r in conn.execute(text("SELECT posted_at FROM entries ORDER BY seq"))]
        committed = conn.execute(text("SELECT committed_at FROM batches")).scalar_one()
    assert stamps == ["2025-03-03T20:00:00+08:00", "2025-03-03T20:05:00+08:00"]
    assert committed == "2025-03-03T20:05:00+08:00"
    # The default value date is the clock's day in UTC+8, whatever zone the clock speaks.
    clock.set(dt.datetime(2025, 3, 4, 17, 0, tzinfo=dt.UTC))  # 01:00 on the 5th in the GBA
    world.transfer("F-2", "A-NOSTRO-HKD", "A-CUST-HKD", hkd("1.00"))
    assert world.balance("A-CUST-HKD", as_of="2025-03-04") == hkd("9.00")
    assert world.balance("A-CUST-HKD", as_of="2025-03-05") == hkd("10.00")


def test_fixed_clock() -> None:
    clock = FixedClock("2025-03-03T09:00:00+08:00", tick=dt.timedelta(seconds=1))
    assert [clock().second for _ in range(3)] == [0, 1, 2]
    assert clock.advance(hours=1).isoformat() == "2025-03-03T10:00:03+08:00"
    assert clock.today == dt.date(2025, 3, 3)
    with pytest.raises(InputError):
        clock.advance(hours=-1)
    with pytest.raises(InputError):
        FixedClock("2025-03-03T09:00:00")
    with pytest.raises(InputError):
        Ledger.open("sqlite://", clock=lambda: dt.datetime(2025, 3, 3)).transfer(
            "X", "A", "B", hkd("1.00"))


def test_the_docstring_examples_run() -> None:
    for module in (wmc_ledger, wmc_ledger.api, wmc_ledger.clock):
        result = doctest.testmod(module)
        assert result.attempted and not result.failed, module.__name__
