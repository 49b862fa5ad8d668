"""The scheme's rules as published: the eligibility table, partners, investor eligibility.

Each published rule is tried with a product it admits and one it refuses (pure, against the
default table); then through a batch (codes and messages as a bank sees them), on load
(partners, dates), on old files, and on a database upgraded to migration 0007 with data in it.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text

from ledger.db import WRITE_OPTION, make_engine, transaction
from ledger.errors import ConflictError, InputError
from ledger.migrate import _config as migration_config
from ledger.migrate import upgrade
from ledger.refdata import load_file
from settlement.refdata import PRODUCT_COLUMNS
from settlement.refdata import load_file as load_scheme_file
from settlement.rules import (
    EligibilityRule,
    Link,
    ProductInfo,
    investor_eligibility,
    product_eligibility,
)
from settlement.settings import load_settings
from tests.settlement_builders import (
    INVESTORS,
    build_world,
    codes,
    ins,
    settings_with,
    settle,
    write_csv,
)

README = Path(__file__).parent.parent / "README.md"
RULES = load_settings().eligibility.rules


def product(direction: str, market: str, product_type: str, risk: str = "R2", *,
            currency: str = "CNY", category: str | None = None, complex: bool | None = None,
            domicile: str | None = None, authorisation: str | None = None) -> ProductInfo:
    return ProductInfo("P", currency, risk, direction, "P-ACC", product_type, category, complex,
                       domicile, authorisation, market)


def hk_fund(risk: str, **kw: object) -> ProductInfo:
    attrs: dict[str, object] = {"complex": False, "domicile": "HK", "authorisation": "SFC",
                                "currency": "HKD"}
    attrs.update(kw)
    return product("southbound", "HK", "public_fund", risk, **attrs)  # type: ignore[arg-type]


# (what, the product, its direction, None if eligible else a fragment of the refusal)
CASES = [
    ("NB RMB deposit", product("northbound", "CN", "deposit", "R1"), None),
    ("NB HKD deposit", product("northbound", "CN", "deposit", "R1", currency="HKD"),
     "rule northbound_rmb_deposits: currency HKD is not CNY"),
    ("NB WMP R3", product("northbound", "CN", "wealth_management", "R3",
                          category="fixed_income"), None),
    ("NB WMP R4", product("northbound", "CN", "wealth_management", "R4"),
     "rule northbound_wealth_management_r1_r3: risk R4 is above R3"),
    ("NB cash-management WMP", product("northbound", "CN", "wealth_management", "R1",
                                       category="cash_management"),
     "rule northbound_wealth_management_r1_r3: category cash_management is excluded"),
    ("NB public fund R4", product("northbound", "CN", "public_fund", "R4", category="equity"),
     None),
    ("NB public fund R5", product("northbound", "CN", "public_fund", "R5"),
     "rule northbound_public_funds_r1_r4: risk R5 is above R4"),
    ("NB commodity futures fund", product("northbound", "CN", "public_fund", "R3",
                                          category="commodity_futures"),
     "rule northbound_public_funds_r1_r4: category commodity_futures is excluded"),
    ("NB structured product", product("northbound", "CN", "structured_product", "R3"),
     "no rule of the eligibility table admits a structured_product sold in CN"),
    ("NB bond", product("northbound", "CN", "bond", "R2"),
     "no rule of the eligibility table admits a bond sold in CN"),
    ("SB HK deposit", product("southbound", "HK", "deposit", "R1", currency="HKD"), None),
    ("SB HK non-complex bond", product("southbound", "HK", "bond", "R3", complex=False), None),
    ("SB HK complex bond", product("southbound", "HK", "bond", "R3", complex=True),
     "rule southbound_hk_non_complex_bonds: the product is complex"),
    ("SB HK bond, complexity unstated", product("southbound", "HK", "bond", "R3"),
     "rule southbound_hk_non_complex_bonds: the product is not stated non-complex"),
    ("SB HK fund R4", hk_fund("R4"), None),
    ("SB HK fund R5", hk_fund("R5", category="equity"),
     "rule southbound_hk_funds_up_to_medium_high: risk R5 is above R4; rule "
     "southbound_hk_greater_china_equity_funds_high: category equity is not "
     "greater_china_equity"),
    ("SB HK Greater China equity fund R5", hk_fund("R5", category="greater_china_equity"),
     None),
    ("SB HK fund domiciled in LU", hk_fund("R3", domicile="LU"),
     "rule southbound_hk_funds_up_to_medium_high: domicile LU is not HK"),
    ("SB HK fund not SFC-authorised", hk_fund("R3", authorisation=None),
     "rule southbound_hk_funds_up_to_medium_high: authorisation not stated is not SFC"),
    ("SB HK complex fund", hk_fund("R3", complex=True),
     "rule southbound_hk_funds_up_to_medium_high: the product is complex"),
    ("SB MO deposit", product("southbound", "MO", "deposit", "R1", currency="MOP"), None),
    ("SB MO non-complex bond", product("southbound", "MO", "bond", "R2", currency="MOP",
                                       complex=False), None),
    ("SB MO AMCM fund R4", product("southbound", "MO", "public_fund", "R4", currency="HKD",
                                   complex=False, authorisation="AMCM"), None),
    ("SB MO SFC-only fund", product("southbound", "MO", "public_fund", "R3", currency="HKD",
                                    complex=False, domicile="HK", authorisation="SFC"),
     "rule southbound_mo_funds_up_to_medium_high: authorisation SFC is not AMCM"),
    ("SB wealth management product", product("southbound", "HK", "wealth_management", "R2"),
     "no rule of the eligibility table admits a wealth_management sold in HK"),
]


@pytest.mark.parametrize(("case", "info", "refusal"), CASES, ids=[c[0] for c in CASES])
def test_each_published_rule_admits_and_refuses(case: str, info: ProductInfo,
                                                refusal: str | None) -> None:
    got = product_eligibility(info, info.direction, RULES)
    if refusal is None:
        assert got is None, got
    else:
        assert got is not None, f"{case} was admitted"
        assert got[0] == "product_not_eligible"
        assert refusal in got[1], got[1]
        assert got[1].startswith(f"product {info.describe()} is not eligible {info.direction}")


def test_a_rule_speaks_only_for_its_direction_and_sellers() -> None:
    # An RMB deposit of a Hong Kong bank is no Northbound product, whatever its attributes.
    assert product_eligibility(product("northbound", "HK", "deposit", "R1"), "northbound",
                               RULES) is not None
    # With no table at all, nothing is eligible.
    assert product_eligibility(product("northbound", "CN", "deposit", "R1"), "northbound",
                               ()) is not None


def _conditions(r: EligibilityRule) -> str:
    out = []
    if r.currencies:
        out.append("currency " + " or ".join(sorted(r.currencies)))
    out.append(f"risk R1-{r.max_risk}" if r.max_risk != "R5" else "any risk")
    if r.categories:
        out.append("category " + " or ".join(sorted(r.categories)))
    if r.exclude_categories:
        out.append("not " + " or ".join(sorted(r.exclude_categories)))
    if r.non_complex:
        out.append("non-complex")
    if r.domiciles:
        out.append("domiciled in " + " or ".join(sorted(r.domiciles)))
    if r.authorisations:
        out.append("authorised by " + " or ".join(sorted(r.authorisations)))
    return ", ".join(out)


def test_the_default_table_is_the_readme_table() -> None:
    readme = README.read_text(encoding="utf-8")
    documented = re.findall(r"^\| `([a-z0-9_]+)` \| (?:north|south)bound \|.*$", readme, re.M)
    assert documented == [r.name for r in RULES]
    for r in RULES:
        row = (f"| `{r.name}` | {r.direction} | {' '.join(sorted(r.seller_markets)) or 'any'} "
               f"| `{r.product_type}` | {_conditions(r)} |")
        assert row in readme, f"README lacks: {row}"
        assert r.source, r.name


def test_a_settings_file_replaces_the_table(tmp_path: Path) -> None:
    s = settings_with(tmp_path, '''
[[eligibility.rules]]
name = "only_deposits"
direction = "northbound"
product_type = "deposit"
source = "a bank's own, narrower policy"
''')
    assert [r.name for r in s.eligibility.rules] == ["only_deposits"]
    assert s.quota == load_settings().quota


@pytest.mark.parametrize(("body", "expected"), [
    ('name = "x"\ndirection = "northbound"\nproduct_type = "deposit"\nsource = "s"\n'
     'max_risk = "R9"', "rule 'x': max_risk one of R1, R2, R3, R4, R5"),
    ('name = "x"\ndirection = "northbound"\nproduct_type = "fund"\nsource = "s"',
     "rule 'x': product_type one of deposit"),
    ('name = "x"\ndirection = "northbound"\nproduct_type = "deposit"', "rule 1: source"),
    ('name = "x"\ndirection = "northbound"\nproduct_type = "deposit"\nsource = "s"\n'
     'colour = "red"', "no such rule key 'colour'"),
    ('name = "x"\ndirection = "northbound"\nproduct_type = "deposit"\nsource = "s"\n'
     'currencies = ["XXX"]', "rule 'x': a list of currency codes"),
])
def test_a_bad_rule_refuses_the_file(tmp_path: Path, body: str, expected: str) -> None:
    with pytest.raises(InputError) as err:
        settings_with(tmp_path, f"[[eligibility.rules]]\n{body}\n")
    assert "eligibility.rules" in str(err.value) and expected in str(err.value)


def test_a_rule_name_is_used_once(tmp_path: Path) -> None:
    rule = 'name = "x"\ndirection = "northbound"\nproduct_type = "deposit"\nsource = "s"\n'
    with pytest.raises(InputError, match="'x' is repeated"):
        settings_with(tmp_path, f"[[eligibility.rules]]\n{rule}[[eligibility.rules]]\n{rule}")


# -- investor eligibility (pure) ------------------------------------------------------------------


def test_investor_eligibility_dates_are_inclusive() -> None:
    link = Link("S9", "bank", "southbound", "R", "I", dt.date(2025, 3, 1), dt.date(2025, 3, 31))
    assert investor_eligibility(link, dt.date(2025, 3, 1)) is None
    assert investor_eligibility(link, dt.date(2025, 3, 31)) is None
    before = investor_eligibility(link, dt.date(2025, 2, 28))
    assert before == ("investor_not_eligible",
                      "investor S9 on bank is eligible from 2025-03-01, not on 2025-02-28")
    after = investor_eligibility(link, dt.date(2025, 4, 1))
    assert after == ("investor_not_eligible",
                     "investor S9 on bank was eligible until 2025-03-31, not on 2025-04-01")
    assert investor_eligibility(Link("S9", "bank", "southbound", "R", "I"),
                                dt.date(1999, 1, 1)) is None


# -- through a batch ------------------------------------------------------------------------------


EXTRA_ACCOUNTS = [
    ("S3-REM", "C", "CNY"), ("S3-INV", "A", "CNY"),
    ("FUND-NB-WMP-R4", "C", "CNY"), ("FUND-NB-CMDTY", "C", "CNY"), ("FUND-NB-CASH", "C", "CNY"),
    ("FUND-SB-R5", "A", "HKD"), ("FUND-SB-GCE-R5", "A", "HKD"), ("FUND-SB-BOND", "A", "HKD"),
]
EXTRA_PRODUCTS = [
    {"product": "NB-WMP-R4", "currency": "CNY", "risk": "R4", "direction": "northbound",
     "account": "FUND-NB-WMP-R4", "product_type": "wealth_management"},
    {"product": "NB-CMDTY", "currency": "CNY", "risk": "R3", "direction": "northbound",
     "account": "FUND-NB-CMDTY", "product_type": "public_fund", "category": "commodity_futures"},
    {"product": "NB-CASH", "currency": "CNY", "risk": "R1", "direction": "northbound",
     "account": "FUND-NB-CASH", "product_type": "wealth_management",
     "category": "cash_management"},
    {"product": "SB-R5", "currency": "HKD", "risk": "R5", "direction": "southbound",
     "account": "FUND-SB-R5", "product_type": "public_fund", "category": "equity",
     "complex": "false", "domicile": "HK", "authorisation": "SFC"},
    {"product": "SB-GCE-R5", "currency": "HKD", "risk": "R5", "direction": "southbound",
     "account": "FUND-SB-GCE-R5", "product_type": "public_fund",
     "category": "greater_china_equity", "complex": "false", "domicile": "HK",
     "authorisation": "SFC"},
    {"product": "SB-BOND", "currency": "HKD", "risk": "R2", "direction": "southbound",
     "account": "FUND-SB-BOND", "product_type": "bond", "complex": "true"},
]


def _load(engine: Engine, kind: str, path: Path) -> None:
    def work(conn: object) -> None:
        if kind in ("banks", "accounts"):
            load_file(conn, kind, path)  # type: ignore[arg-type]
        else:
            load_scheme_file(conn, kind, path)  # type: ignore[arg-type]

    transaction(engine, work)


def _accounts_file(tmp: Path, rows: list[tuple[str, str, str]], name: str) -> Path:
    return write_csv(tmp / name, [
        {"account": a, "bank_id": b, "type": "liability", "currency": c, "name": a,
         "allow_overdraft": "false"} for a, b, c in rows])


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Engine:
    build_world(engine, tmp_path)
    _load(engine, "accounts", _accounts_file(tmp_path, EXTRA_ACCOUNTS, "extra_accounts.csv"))
    _load(engine, "products", write_csv(tmp_path / "extra_products.csv", EXTRA_PRODUCTS,
                                        list(PRODUCT_COLUMNS)))
    _load(engine, "investors", write_csv(tmp_path / "s3.csv", [
        {"investor_id": "S3", "direction": "southbound", "remittance_account": "S3-REM",
         "investment_account": "S3-INV", "channel": "bank", "eligible_from": "2025-03-04",
         "eligible_until": "2025-03-31"}]))
    return engine


def test_a_batch_refuses_what_the_rules_refuse(world: Engine, tmp_path: Path) -> None:
    fund = [ins("F1", "transfer", "B-NOSTRO-CNY", "N1-REM", "100.00", "CNY"),
            ins("F2", "remit", "N1-REM", "N1-INV", "100.00", "CNY", investor_id="N1"),
            ins("F3", "transfer", "C-NOSTRO-CNY", "S1-REM", "100.00", "CNY"),
            ins("F4", "remit", "S1-REM", "S1-INV", "100.00", "CNY", investor_id="S1"),
            ins("F5", "convert", "S1-INV", "S1-INV-HKD", "100.00", "CNY")]
    nb = {"investor_id": "N1"}
    sb = {"investor_id": "S1"}
    report = settle(world, tmp_path, [*fund,
        ins("P1", "subscribe", "N1-INV", "FUND-NB-WMP-R4", "1.00", "CNY", product="NB-WMP-R4",
            **nb),
        ins("P2", "subscribe", "N1-INV", "FUND-NB-CMDTY", "1.00", "CNY", product="NB-CMDTY",
            **nb),
        ins("P3", "subscribe", "N1-INV", "FUND-NB-CASH", "1.00", "CNY", product="NB-CASH",
            **nb),
        ins("P4", "subscribe", "S1-INV-HKD", "FUND-SB-R5", "1.00", "HKD", product="SB-R5",
            **sb),
        ins("P5", "subscribe", "S1-INV-HKD", "FUND-SB-GCE-R5", "1.00", "HKD",
            product="SB-GCE-R5", **sb),
        ins("P6", "subscribe", "S1-INV-HKD", "FUND-SB-BOND", "1.00", "HKD", product="SB-BOND",
            **sb),
        ins("P7", "subscribe", "N1-INV", "FUND-NB-CNY", "1.00", "CNY", product="NB-FUND", **nb),
        ins("P8", "subscribe", "S1-INV-HKD", "FUND-SB-HKD", "1.00", "HKD", product="SB-FUND",
            **sb),
    ])
    assert codes(report) == {p: "product_not_eligible" for p in ("P1", "P2", "P3", "P4", "P6")}
    messages = {r.instruction_id: r.message for r in report.rejections}
    assert messages["P1"] == (
        "product NB-WMP-R4 (wealth_management, R4) is not eligible northbound: "
        "rule northbound_wealth_management_r1_r3: risk R4 is above R3")
    assert "rule northbound_public_funds_r1_r4: category commodity_futures is excluded" \
        in messages["P2"]
    assert "category cash_management is excluded" in messages["P3"]
    assert "southbound_hk_greater_china_equity_funds_high: category equity is not " \
        "greater_china_equity" in messages["P4"]
    assert "rule southbound_hk_non_complex_bonds: the product is complex" in messages["P6"]


def test_a_direction_mismatch_names_both(world: Engine, tmp_path: Path) -> None:
    report = settle(world, tmp_path, [
        ins("P1", "subscribe", "N1-INV", "FUND-SB-CNY", "1.00", "CNY", product="SB-CNY",
            investor_id="N1")])
    assert [(r.code, r.message) for r in report.rejections] == [(
        "product_not_eligible", "product SB-CNY is sold southbound, not to northbound investor "
                                "N1")]


def test_investor_eligibility_on_remit_and_subscribe(world: Engine, tmp_path: Path) -> None:
    report = settle(world, tmp_path, [
        ins("F1", "transfer", "C-NOSTRO-CNY", "S3-REM", "1000.00", "CNY"),
        # Monday 3 March: before S3's attested eligibility.
        ins("E1", "remit", "S3-REM", "S3-INV", "100.00", "CNY", investor_id="S3"),
        ins("E2", "remit", "S3-REM", "S3-INV", "100.00", "CNY", "2025-03-04", investor_id="S3"),
        ins("E3", "subscribe", "S3-INV", "FUND-SB-CNY", "10.00", "CNY", "2025-03-03",
            investor_id="S3", product="SB-CNY"),
        ins("E4", "subscribe", "S3-INV", "FUND-SB-CNY", "10.00", "CNY", "2025-03-04",
            investor_id="S3", product="SB-CNY"),
        ins("E5", "remit", "S3-REM", "S3-INV", "100.00", "CNY", "2025-04-01", investor_id="S3"),
        # Money may always come home, eligible or not.
        ins("E6", "repatriate", "S3-INV", "S3-REM", "50.00", "CNY", "2025-04-01",
            investor_id="S3"),
    ])
    assert codes(report) == {"E1": "investor_not_eligible", "E3": "investor_not_eligible",
                             "E5": "investor_not_eligible"}
    messages = {r.instruction_id: r.message for r in report.rejections}
    assert messages["E1"] == ("investor S3 on bank is eligible from 2025-03-04, not on "
                              "2025-03-03")
    assert messages["E5"] == ("investor S3 on bank was eligible until 2025-03-31, not on "
                              "2025-04-01")


def test_closed_loop_comes_before_investor_eligibility(world: Engine, tmp_path: Path) -> None:
    report = settle(world, tmp_path, [
        ins("F1", "transfer", "C-NOSTRO-CNY", "S3-REM", "1000.00", "CNY"),
        ins("E1", "remit", "S3-REM", "S1-INV", "100.00", "CNY", investor_id="S3")])
    assert codes(report) == {"E1": "closed_loop_violation"}


# -- partners, on load ----------------------------------------------------------------------------


def _refused(engine: Engine, tmp: Path, rows: list[dict[str, str]]) -> str:
    with pytest.raises(InputError) as err:
        _load(engine, "investors", write_csv(tmp / "bad_investors.csv", rows))
    return str(err.value)


def _investor(iid: str, rem: str, inv: str, channel: str = "bank",
              direction: str = "southbound", **extra: str) -> dict[str, str]:
    row = {"investor_id": iid, "direction": direction, "remittance_account": rem,
           "investment_account": inv, "channel": channel, "eligible_from": "",
           "eligible_until": ""}
    row.update(extra)
    return row


@pytest.fixture
def partners(engine: Engine, tmp_path: Path) -> Engine:
    build_world(engine, tmp_path)
    _load(engine, "accounts", _accounts_file(tmp_path, [
        ("X-REM-C", "C", "CNY"), ("X-INV-A", "A", "CNY"), ("X-REM-D", "D", "CNY"),
        ("X-INV-E", "E", "CNY"), ("X-INV-C", "C", "CNY"), ("X-REM-B", "B", "CNY")],
        "partner_accounts.csv"))
    return engine


def test_a_broker_channel_investor_needs_securities_firms(partners: Engine,
                                                          tmp_path: Path) -> None:
    msg = _refused(partners, tmp_path, [_investor("X", "X-REM-C", "X-INV-A", "broker")])
    assert "bad_investors.csv:2: field 'remittance_account': an account at a securities_firm" \
        in msg
    assert "X-REM-C is at a bank" in msg and "field 'investment_account'" in msg


def test_a_bank_channel_investor_needs_banks(partners: Engine, tmp_path: Path) -> None:
    msg = _refused(partners, tmp_path, [_investor("X", "X-REM-D", "X-INV-E")])
    assert "an account at a bank (a bank-channel investor is paired bank to bank), X-REM-D is " \
           "at a securities_firm" in msg


def test_securities_firms_pair_across_the_border(partners: Engine, tmp_path: Path) -> None:
    _load(partners, "investors", write_csv(tmp_path / "ok.csv", [
        _investor("X", "X-REM-D", "X-INV-E", "broker")]))


def test_the_pair_crosses_the_border_in_the_direction(partners: Engine, tmp_path: Path) -> None:
    msg = _refused(partners, tmp_path, [_investor("X", "X-REM-C", "X-INV-C")])
    assert "field 'investment_account': an account at a partner (across the border) " \
           "institution for a southbound investor, X-INV-C is in CN" in msg
    msg = _refused(partners, tmp_path, [
        _investor("Y", "X-REM-C", "X-INV-A", direction="northbound")])
    assert "an account at a home institution for a northbound investor, X-REM-C is in CN" in msg


def test_a_remittance_account_is_dedicated(partners: Engine, tmp_path: Path) -> None:
    # S1's remittance account, stored already, named by another investor.
    msg = _refused(partners, tmp_path, [_investor("X", "S1-REM", "X-INV-A")])
    assert "field 'remittance_account': an account of one investor and channel only; S1-REM " \
           "is already S1/bank's" in msg


def test_eligibility_dates_are_checked_on_load(partners: Engine, tmp_path: Path) -> None:
    msg = _refused(partners, tmp_path, [_investor("X", "X-REM-C", "X-INV-A",
                                                  eligible_from="2025-04-01",
                                                  eligible_until="2025-03-01")])
    assert "field 'eligible_until': a date on or after eligible_from (2025-04-01), got " \
           "2025-03-01" in msg
    msg = _refused(partners, tmp_path, [_investor("X", "X-REM-C", "X-INV-A",
                                                  eligible_from="1 April")])
    assert "field 'eligible_from': a date YYYY-MM-DD, got '1 April'" in msg


def test_product_columns_are_parsed(partners: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad_products.csv", [{
        "product": "X", "currency": "CNY", "risk": "R1", "direction": "northbound",
        "account": "FUND-NB-CNY", "product_type": "fund", "category": "Commodity Futures",
        "complex": "maybe", "domicile": "hk", "authorisation": "sfc"}])
    with pytest.raises(InputError) as err:
        _load(partners, "products", path)
    msg = str(err.value)
    for field in ("product_type", "category", "complex", "domicile", "authorisation"):
        assert f"bad_products.csv:2: field '{field}'" in msg


# -- old files ------------------------------------------------------------------------------------


def test_files_without_the_new_columns_still_load(engine: Engine, tmp_path: Path) -> None:
    banks = tmp_path / "banks.csv"
    banks.write_text("bank_id,name,market\nA,Bank A,HK\nC,Bank C,CN\n", encoding="utf-8")
    accounts = _accounts_file(tmp_path, [("S-REM", "C", "CNY"), ("S-INV", "A", "CNY"),
                                         ("FUND", "C", "CNY")], "accounts.csv")
    investors = tmp_path / "investors.csv"
    investors.write_text("investor_id,direction,remittance_account,investment_account,channel\n"
                         "S,southbound,S-REM,S-INV,bank\n", encoding="utf-8")
    products = tmp_path / "products.csv"
    products.write_text("product,currency,risk,direction,account\nNB,CNY,R4,northbound,FUND\n",
                        encoding="utf-8")
    for kind, path in (("banks", banks), ("accounts", accounts), ("investors", investors),
                       ("products", products)):
        _load(engine, kind, path)
        _load(engine, kind, path)  # and again: a no-op
    with engine.connect() as conn:
        assert conn.execute(text("SELECT kind FROM banks ORDER BY bank_id")).all() == [
            ("bank",), ("bank",)]
        assert conn.execute(text(
            "SELECT product_type, category, complex, domicile, authorisation FROM products"
        )).one() == (None, None, None, None, None)
        assert conn.execute(text(
            "SELECT eligible_from, eligible_until FROM investors")).one() == (None, None)


def test_a_load_completes_what_a_stored_row_left_unstated(engine: Engine,
                                                          tmp_path: Path) -> None:
    build_world(engine, tmp_path)
    with engine.begin() as conn:  # as a database upgraded to 0007 holds them: nothing stated
        conn.execute(text("UPDATE products SET product_type = NULL, complex = NULL, "
                          "domicile = NULL, authorisation = NULL"))
    sb_fund = {"product": "SB-FUND", "currency": "HKD", "risk": "R3",
               "direction": "southbound", "account": "FUND-SB-HKD"}
    old_file = write_csv(tmp_path / "old.csv", [sb_fund])
    typed = write_csv(tmp_path / "typed.csv", [{
        **sb_fund, "product_type": "public_fund", "complex": "false", "domicile": "HK",
        "authorisation": "SFC"}])
    report = settle(engine, tmp_path, [
        ins("T1", "subscribe", "S1-INV-HKD", "FUND-SB-HKD", "1.00", "HKD", investor_id="S1",
            product="SB-FUND")], name="before.csv")
    assert codes(report) == {"T1": "product_not_eligible"}

    def load(path: Path) -> tuple[int, int, int]:
        out: list[tuple[int, int, int]] = []
        transaction(engine, lambda c: out.append(
            (lambda r: (r.inserted, r.unchanged, r.completed))(
                load_scheme_file(c, "products", path))))
        return out[0]

    assert load(typed) == (0, 1, 1)
    assert load(typed) == (0, 1, 0)  # the same file again: a no-op
    assert load(old_file) == (0, 1, 0)  # a file that says less: a no-op too
    with pytest.raises(ConflictError, match="SB-FUND exists with different content"):
        load(write_csv(tmp_path / "changed.csv", [{**sb_fund, "domicile": "LU"}]))
    with engine.connect() as conn:
        assert conn.execute(text(
            "SELECT product_type, complex, domicile, authorisation FROM products "
            "WHERE product = 'SB-FUND'")).one() == ("public_fund", False, "HK", "SFC")


def test_an_investor_row_of_the_test_world_keeps_its_meaning() -> None:
    assert all("eligible_from" not in r for r in INVESTORS)


# -- migration 0007 on a database with data -------------------------------------------------------


def test_migration_0007_upgrades_a_database_with_data(db_url: str) -> None:
    eng = make_engine(db_url)
    try:
        upgrade(eng, "0006")  # the revision before 0007
        with eng.begin() as conn:
            conn.execute(text("INSERT INTO banks (bank_id, name, market) VALUES "
                              "('A', 'Bank A', 'HK'), ('C', 'Bank C', 'CN')"))
            conn.execute(text(
                "INSERT INTO accounts (code, bank_id, type, currency, name, allow_overdraft, "
                "closed, debits_posted, credits_posted) VALUES "
                "('S-REM', 'C', 'liability', 'CNY', 'r', false, false, 0, 0), "
                "('S-INV', 'A', 'liability', 'CNY', 'i', false, false, 0, 0), "
                "('FUND', 'C', 'liability', 'CNY', 'f', false, false, 0, 0)"))
            conn.execute(text(
                "INSERT INTO investors (investor_id, channel, direction, remittance_account, "
                "investment_account) VALUES ('S', 'bank', 'southbound', 'S-REM', 'S-INV')"))
            conn.execute(text(
                "INSERT INTO products (product, currency, risk, direction, account) VALUES "
                "('NB', 'CNY', 'R2', 'northbound', 'FUND')"))
        upgrade(eng)
        with eng.connect() as conn:
            assert conn.execute(text("SELECT bank_id, kind FROM banks ORDER BY bank_id")).all() \
                == [("A", "bank"), ("C", "bank")]
            assert conn.execute(text(
                "SELECT product, product_type, category, complex, domicile, authorisation "
                "FROM products")).all() == [("NB", None, None, None, None, None)]
            assert conn.execute(text(
                "SELECT investor_id, eligible_from, eligible_until FROM investors")).all() == [
                ("S", None, None)]
        # The database refuses what the files would: an unknown kind or product type.
        for bad in ("INSERT INTO banks (bank_id, name, market, kind) VALUES "
                    "('Z', 'Z', 'HK', 'insurer')",
                    "UPDATE products SET product_type = 'fund'"):
            with pytest.raises(Exception, match=r"(?i)check"), eng.begin() as conn:
                conn.execute(text(bad))
        # And back: the downgrade keeps the rows, the upgrade gives them their defaults again.
        cfg = migration_config()
        with eng.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0006")
        with eng.connect() as conn:
            assert conn.execute(text("SELECT * FROM banks ORDER BY bank_id")).all() == [
                ("A", "Bank A", "HK"), ("C", "Bank C", "CN")]
        upgrade(eng)
        with eng.connect() as conn:
            assert conn.execute(text("SELECT kind FROM banks")).scalars().all() == ["bank"] * 2
    finally:
        eng.dispose()
