"""The pytest plugin as a bank uses it: a test file of its own, no conftest, only the fixtures
that installing wmc-ledger registers (entry point ``pytest11``), run by ``pytester``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL, _pg_answers

pytest_plugins = ["pytester"]

BANK_TESTS = '''
from moneyed import Money

from wmc_ledger import FixedClock, Instruction, Ledger


def test_a_remittance(wmc_world, wmc_ledger, wmc_clock):
    gzb = wmc_world.bank("GZB", market="CN", name="Guangzhou Bay Bank")
    hkb = wmc_world.bank("HKB", market="HK", name="Harbour Bank")
    li = wmc_world.investor("LI", direction="southbound", home=gzb, partner=hkb)
    wmc_world.deposit(li.remittance_account, Money("1000.00", "CNY"))
    batch = wmc_ledger.settle([
        Instruction("R-1", "remit", li.remittance_account, li.investment_account,
                    Money("600.00", "CNY"), investor_id="LI"),
    ])
    assert batch.batch_id == "B00000001" and batch.codes == {}
    assert wmc_ledger.balance(li.investment_account) == Money("600.00", "CNY")
    assert isinstance(wmc_clock, FixedClock) and wmc_ledger.clock is wmc_clock
    assert str(batch.gross_payments[0].value_date) == "2025-03-03"


def test_each_test_has_a_fresh_ledger(wmc_world, wmc_ledger):
    # The same bank id with other content would conflict if the ledger were shared.
    wmc_world.bank("GZB", market="CN", name="Another name")
    assert wmc_ledger.batches() == []
    assert [b.account for b in wmc_ledger.balances()] == []


def test_two_ledgers_made_alike_run_alike(wmc_ledger_factory):
    runs = []
    for _ in range(2):
        ledger = wmc_ledger_factory()
        ledger.load_banks([{"bank_id": "A", "name": "A", "market": "HK"}])
        ledger.load_accounts([
            {"account": "N", "bank_id": "A", "type": "asset", "currency": "HKD",
             "allow_overdraft": True},
            {"account": "C", "bank_id": "A", "type": "liability", "currency": "HKD"}])
        runs.append(ledger.settle([Instruction("T-1", "transfer", "N", "C",
                                               Money("5.00", "HKD"))]).to_json())
    assert runs[0] == runs[1]
'''


@pytest.fixture(autouse=True)
def _no_database_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WMC_TEST_DB", raising=False)


def test_a_bank_test_file_gets_the_fixtures_on_sqlite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bank=BANK_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["wmc-ledger: test ledgers on SQLite (a database file per*"])


def test_in_memory_sqlite_by_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bank=BANK_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--wmc-db", "sqlite://")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["wmc-ledger: test ledgers on SQLite (an in-memory database*"])


def test_a_conftest_overrides_the_settings(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('''
import pytest

@pytest.fixture
def wmc_settings(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('[quota]\\nindividual = "500.00"\\nper_channel_when_two_channels = "250.00"\\n')
    return path
''')
    pytester.makepyfile(test_quota='''
from moneyed import Money
from wmc_ledger import Instruction

def test_quota_from_the_bank_settings(wmc_world, wmc_ledger):
    li = wmc_world.investor("LI", direction="southbound",
                            home=wmc_world.bank("GZB", market="CN"),
                            partner=wmc_world.bank("HKB", market="HK"))
    wmc_world.deposit(li.remittance_account, Money("1000.00", "CNY"))
    batch = wmc_ledger.settle([Instruction("R-1", "remit", li.remittance_account,
                                           li.investment_account, Money("600.00", "CNY"),
                                           investor_id="LI")])
    assert batch.codes == {"R-1": "quota_exceeded_individual"}
''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_an_unsupported_database_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bank=BANK_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--wmc-db", "mysql://x@localhost/db")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*expected sqlite or a postgresql+psycopg:// URL*"])


def test_the_readme_example_runs(pytester: pytest.Pytester) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API and pytest plugin", 1)[1].split("\n## ", 1)[0]
    [example] = [b for b in re.findall(r"```python\n(.*?)```", section, re.S) if "def test_" in b]
    pytester.makepyfile(test_readme=example)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


@pytest.mark.postgres
def test_on_postgresql_each_ledger_is_a_schema_dropped_afterwards(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _pg_answers():
        pytest.skip("PostgreSQL does not answer")
    admin = create_engine(PG_ADMIN_URL)

    def databases() -> set[str]:
        with admin.connect() as conn:
            return set(conn.execute(text(
                "SELECT datname FROM pg_database WHERE datname LIKE 'wmc_test_%'")).scalars())

    before = databases()
    pytester.makepyfile(test_bank=BANK_TESTS)
    monkeypatch.setenv("WMC_TEST_DB", PG_ADMIN_URL)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["wmc-ledger: test ledgers on PostgreSQL * (a schema per*"])
    assert databases() == before
    admin.dispose()
