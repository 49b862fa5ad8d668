"""The batch generator: files in the CONTRACT.md formats, the promised mix, and outcomes that hold.

The replay at the end is a small, independent reading of CONTRACT.md's checks (common checks,
pairing, quota, eligibility, funds, conversions priced by ``fx``): every row the generator did not
plant must break no rule, and every planted row must break exactly the rule ``expected.csv``
names, whatever order an engine checks the rules in.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from benchmarks.generate import GeneratedFiles, generate, main
from fx.conversion import convert
from fx.quotes import Quote, check_rate_fresh, dealt_rate, latest_quotes, make_quote, resolve
from ledger.errors import Problem
from ledger.files import Field, Schema, read_rows
from ledger.money import parse_amount
from ledger.refdata import ACCOUNT_SCHEMA, BANK_SCHEMA, read_file

N = 2_000
SEED = 7

# The columns as CONTRACT.md lists them (written out here, not imported from the generator).
CONTRACT_COLUMNS = {
    "banks": ["bank_id", "name", "market", "kind"],
    "accounts": ["account", "bank_id", "type", "currency", "name", "allow_overdraft"],
    "investors": ["investor_id", "direction", "remittance_account", "investment_account",
                  "channel"],
    "products": ["product", "currency", "risk", "direction", "account", "product_type",
                 "category", "complex", "domicile", "authorisation"],
    "rates": ["base", "quote", "bid", "ask", "as_of", "source", "book"],
}
INSTRUCTION_COLUMNS = [
    "instruction_id", "kind", "debit_account", "credit_account", "amount", "currency",
    "value_date", "investor_id", "product", "rate", "book", "reference", "submitted_at",
]
INSTRUCTION_REQUIRED = INSTRUCTION_COLUMNS[:7]
TWO_DECIMALS = re.compile(r"[0-9]+\.[0-9]{2}")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def instruction_rows(files: GeneratedFiles) -> list[dict[str, str]]:
    """Every row of the instructions file, missing JSONL fields as empty strings."""
    if files.instructions.suffix == ".csv":
        return read_csv(files.instructions)
    with files.instructions.open(encoding="utf-8") as fh:
        return [{c: json.loads(line).get(c, "") for c in INSTRUCTION_COLUMNS} for line in fh]


@pytest.fixture(scope="module")
def csv_files(tmp_path_factory: pytest.TempPathFactory) -> GeneratedFiles:
    return generate(N, tmp_path_factory.mktemp("csv"), seed=SEED)


@pytest.fixture(scope="module")
def jsonl_files(tmp_path_factory: pytest.TempPathFactory) -> GeneratedFiles:
    return generate(N, tmp_path_factory.mktemp("jsonl"), seed=SEED, fmt="jsonl")


@pytest.fixture(scope="module")
def rows(csv_files: GeneratedFiles) -> list[dict[str, str]]:
    return instruction_rows(csv_files)


@pytest.fixture(scope="module")
def expected(csv_files: GeneratedFiles) -> dict[str, str]:
    """instruction_id -> expected code (a duplicate's id maps to "duplicate")."""
    return {r["instruction_id"]: r["code"] for r in read_csv(csv_files.expected)}


def day_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [r for r in rows if r["instruction_id"].startswith("I")]


# -- formats ---------------------------------------------------------------------------------


def test_reference_files_have_the_contract_columns(csv_files: GeneratedFiles) -> None:
    for name, columns in CONTRACT_COLUMNS.items():
        path: Path = getattr(csv_files, name)
        with path.open(newline="", encoding="utf-8") as fh:
            assert next(csv.reader(fh)) == columns, name


def test_instruction_columns_match_the_contract(
    csv_files: GeneratedFiles, jsonl_files: GeneratedFiles
) -> None:
    with csv_files.instructions.open(newline="", encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == INSTRUCTION_COLUMNS
    with jsonl_files.instructions.open(encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            assert set(obj) <= set(INSTRUCTION_COLUMNS)
            assert set(INSTRUCTION_REQUIRED) <= set(obj)
            assert all(isinstance(v, str) for v in obj.values())  # amounts are strings


def test_reference_files_load_with_the_ledger_readers(csv_files: GeneratedFiles) -> None:
    assert len(read_file(csv_files.banks, BANK_SCHEMA)) == csv_files.bank_count
    accounts = read_file(csv_files.accounts, ACCOUNT_SCHEMA)
    assert len(accounts) == csv_files.account_count >= 10_000
    assert len({r["account"] for _, r in accounts}) == len(accounts)
    for r in read_csv(csv_files.rates):
        make_quote(r["base"], r["quote"], r["bid"], r["ask"], r["as_of"], r["source"], r["book"])


def test_every_value_is_well_formed(rows: list[dict[str, str]]) -> None:
    for r in rows:
        assert TWO_DECIMALS.fullmatch(r["amount"]), r
        assert parse_amount(r["amount"], r["currency"]) > 0
        assert r["value_date"] == "2025-03-03"
        at = datetime.fromisoformat(r["submitted_at"])
        assert at.utcoffset() == timedelta(hours=8)
        assert r["submitted_at"].endswith("+08:00")
        if r["rate"]:
            assert Decimal(r["rate"]) > 0


def test_instructions_parse_with_the_ledger_file_reader(
    csv_files: GeneratedFiles, jsonl_files: GeneratedFiles
) -> None:
    schema = Schema(tuple(Field(c, required=c in INSTRUCTION_REQUIRED)
                          for c in INSTRUCTION_COLUMNS))
    for files in (csv_files, jsonl_files):
        problems: list[Problem] = []
        count = sum(1 for _ in read_rows(files.instructions, schema, problems))
        assert problems == []
        assert count == files.instruction_count


# -- the batch -------------------------------------------------------------------------------


def test_counts_and_scale(csv_files: GeneratedFiles, rows: list[dict[str, str]]) -> None:
    assert csv_files.investor_count >= 1_000
    assert len(read_csv(csv_files.investors)) == csv_files.investor_rows
    assert len(rows) == csv_files.instruction_count == csv_files.funding_count + N
    assert sum(csv_files.kinds.values()) == N
    assert Counter(r["kind"] for r in day_rows(rows)) == csv_files.kinds
    banks = {r["market"] for r in read_csv(csv_files.banks)}
    assert banks == {"MO", "HK", "CN"}


def test_the_funding_block_comes_first_from_each_banks_nostro(
    csv_files: GeneratedFiles, rows: list[dict[str, str]]
) -> None:
    accounts = {r["account"]: r for r in read_csv(csv_files.accounts)}
    funding = rows[: csv_files.funding_count]
    assert all(r["instruction_id"].startswith("F") for r in funding)
    assert all(r["instruction_id"].startswith("I") for r in rows[csv_files.funding_count :])
    for r in funding:
        debit, credit = accounts[r["debit_account"]], accounts[r["credit_account"]]
        assert r["kind"] == "transfer"
        assert (debit["type"], debit["allow_overdraft"]) == ("asset", "true")
        assert debit["bank_id"] == credit["bank_id"]
        assert debit["currency"] == credit["currency"] == r["currency"]
        assert "-INV-" not in r["credit_account"]  # principal reaches investment accounts by remit


def test_the_mix_is_roughly_as_promised(rows: list[dict[str, str]]) -> None:
    kinds = Counter(r["kind"] for r in day_rows(rows))
    share = {k: v / N for k, v in kinds.items()}
    assert set(kinds) == {"transfer", "fee", "subscribe", "redeem", "remit", "repatriate",
                          "convert"}
    assert share["transfer"] + share["fee"] + share["subscribe"] + share["redeem"] == (
        pytest.approx(0.60, abs=0.05))
    assert share["remit"] + share["repatriate"] == pytest.approx(0.25, abs=0.05)
    assert share["convert"] == pytest.approx(0.15, abs=0.04)
    converts = [r for r in day_rows(rows) if r["kind"] == "convert"]
    assert 0 < sum(1 for r in converts if r["rate"]) < len(converts) / 4  # a few dealt rates


def test_planted_rejections_are_a_controlled_share(
    csv_files: GeneratedFiles, expected: dict[str, str]
) -> None:
    codes = Counter(c for c in expected.values() if c != "duplicate")
    assert codes == csv_files.planted
    assert 0.01 * N <= sum(codes.values()) <= 0.03 * N
    assert {"insufficient_funds", "closed_loop_violation", "quota_exceeded_individual",
            "product_not_eligible", "unknown_account", "currency_mismatch"} <= set(codes)


def test_ids_are_unique_except_the_planted_duplicates(
    csv_files: GeneratedFiles, rows: list[dict[str, str]], expected: dict[str, str]
) -> None:
    by_id: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_id.setdefault(r["instruction_id"], []).append(r)
    repeated = {i: rs for i, rs in by_id.items() if len(rs) > 1}
    assert len(repeated) == csv_files.duplicate_count >= 2
    for iid, copies in repeated.items():
        assert len(copies) == 2 and copies[0] == copies[1]
        assert expected[iid] == "duplicate"


def test_the_same_seed_gives_the_same_bytes(tmp_path: Path, csv_files: GeneratedFiles) -> None:
    again = generate(N, tmp_path / "again", seed=SEED)
    for name in ("banks", "accounts", "investors", "products", "rates", "instructions",
                 "expected"):
        path: Path = getattr(csv_files, name)
        assert path.read_bytes() == getattr(again, name).read_bytes(), name
    other = generate(N, tmp_path / "other", seed=SEED + 1)
    assert other.instructions.read_bytes() != csv_files.instructions.read_bytes()


def test_jsonl_and_csv_carry_the_same_rows(
    csv_files: GeneratedFiles, jsonl_files: GeneratedFiles, rows: list[dict[str, str]]
) -> None:
    assert instruction_rows(jsonl_files) == rows
    assert jsonl_files.expected.read_text().replace("\n", "") != ""
    # the same rows, one line earlier in JSONL (no header)
    shifted = [(r["instruction_id"], int(r["line"]) - 1) for r in read_csv(csv_files.expected)]
    assert shifted == [(r["instruction_id"], int(r["line"])) for r in read_csv(
        jsonl_files.expected)]


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["300", str(tmp_path), "--seed", "3", "--format", "jsonl", "--day",
                 "2025-03-04", "--rejections", "0.05", "--accounts", "2000",
                 "--investors", "50"]) == 0
    assert "instructions" in capsys.readouterr().err
    first = json.loads((tmp_path / "instructions.jsonl").read_text().splitlines()[0])
    assert first["value_date"] == "2025-03-04"
    with pytest.raises(SystemExit):
        main(["10", str(tmp_path), "--rejections", "1.5"])


# -- replay: every row's outcome is the one expected ------------------------------------------


@dataclass
class Replay:
    """A minimal reading of CONTRACT.md's checks, enough to say which rules a row breaks."""

    accounts: dict[str, dict[str, str]]
    products: dict[str, dict[str, str]]
    quotes: list[Quote]
    channels: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    balances: dict[str, int] = field(default_factory=dict)
    used: dict[tuple[str, str], int] = field(default_factory=dict)

    def owner_stems(self, investor: str) -> set[str]:
        out = set()
        for row in self.channels.get(investor, {}).values():
            out |= {row["remittance_account"].rsplit("-", 1)[0],
                    row["investment_account"].rsplit("-", 1)[0]}
        return out

    def limit_codes(self, investor: str, channel: str, amount: int) -> set[str]:
        codes = set()
        mine = self.used.get((investor, channel), 0)
        total = sum(self.used.get((investor, c), 0) for c in self.channels[investor])
        if len(self.channels[investor]) > 1 and mine + amount > 1_500_000_00:
            codes.add("quota_exceeded_channel")
        if total + amount > 3_000_000_00:
            codes.add("quota_exceeded_individual")
        return codes

    def broken(self, r: dict[str, str]) -> set[str]:
        debit, credit, kind = r["debit_account"], r["credit_account"], r["kind"]
        if debit not in self.accounts or credit not in self.accounts:
            return {"unknown_account"}
        codes = set()
        amount = parse_amount(r["amount"], r["currency"])
        d, c = self.accounts[debit], self.accounts[credit]
        if debit == credit:
            codes.add("accounts_must_be_different")
        if kind == "convert":
            if d["currency"] != r["currency"] or c["currency"] == d["currency"]:
                codes.add("currency_mismatch")
        elif d["currency"] != r["currency"] or c["currency"] != r["currency"]:
            codes.add("currency_mismatch")
        investor = r["investor_id"]
        if kind in ("remit", "repatriate", "subscribe", "redeem", "convert"):
            if investor not in self.channels:
                return codes | {"unknown_investor"}
            if r["currency"] != "CNY" and kind in ("remit", "repatriate"):
                codes.add("not_rmb")
        if kind in ("remit", "repatriate"):
            pair = (debit, credit) if kind == "remit" else (credit, debit)
            channel = next((ch for ch, row in self.channels[investor].items()
                            if (row["remittance_account"], row["investment_account"]) == pair),
                           None)
            if channel is None:
                codes.add("closed_loop_violation")
            elif kind == "remit":
                codes |= self.limit_codes(investor, channel, amount)
        if kind in ("subscribe", "redeem"):
            p = self.products[r["product"]]
            mine = debit if kind == "subscribe" else credit
            assert p["account"] == (credit if kind == "subscribe" else debit)
            assert mine.rsplit("-", 1)[0] in self.owner_stems(investor)
            direction = next(iter(self.channels[investor].values()))["direction"]
            if p["direction"] != direction:
                codes.add("product_not_eligible")
        if kind == "convert":
            assert d["bank_id"] == c["bank_id"]
            assert debit.rsplit("-", 1)[0] in self.owner_stems(investor)
        if d["allow_overdraft"] != "true" and self.balances.get(debit, 0) < amount:
            codes.add("insufficient_funds")
        return codes

    def apply(self, r: dict[str, str]) -> None:
        debit, credit, kind = r["debit_account"], r["credit_account"], r["kind"]
        amount = parse_amount(r["amount"], r["currency"])
        credited = amount
        if kind == "convert":
            sell, buy = self.accounts[debit]["currency"], self.accounts[credit]["currency"]
            at = datetime.fromisoformat(r["submitted_at"])
            if r["rate"]:
                rate = dealt_rate(sell, buy, Decimal(r["rate"]))
            else:
                rate = resolve(sell, buy, latest_quotes(self.quotes, at, r["book"] or "default"))
                check_rate_fresh(rate, at)
            credited = convert(amount, rate).buy_amount
        self.balances[debit] = self.balances.get(debit, 0) - amount
        self.balances[credit] = self.balances.get(credit, 0) + credited
        if kind in ("remit", "repatriate"):
            investor = r["investor_id"]
            pair = (debit, credit) if kind == "remit" else (credit, debit)
            channel = next(ch for ch, row in self.channels[investor].items()
                           if (row["remittance_account"], row["investment_account"]) == pair)
            key = (investor, channel)
            delta = amount if kind == "remit" else -amount
            self.used[key] = max(0, self.used.get(key, 0) + delta)  # the default floor policy


def replay(files: GeneratedFiles) -> Iterator[tuple[dict[str, str], set[str] | None]]:
    state = Replay(
        accounts={r["account"]: r for r in read_csv(files.accounts)},
        products={r["product"]: r for r in read_csv(files.products)},
        quotes=[make_quote(r["base"], r["quote"], r["bid"], r["ask"], r["as_of"], r["source"],
                           r["book"]) for r in read_csv(files.rates)],
    )
    for r in read_csv(files.investors):
        state.channels.setdefault(r["investor_id"], {})[r["channel"]] = r
    seen: dict[str, dict[str, str]] = {}
    for r in instruction_rows(files):
        iid = r["instruction_id"]
        if iid in seen:
            assert seen[iid] == r
            yield r, None  # a duplicate
            continue
        seen[iid] = r
        codes = state.broken(r)
        if not codes:
            state.apply(r)
        yield r, codes


def test_replay_every_row_has_its_expected_outcome(
    csv_files: GeneratedFiles, expected: dict[str, str]
) -> None:
    outcomes: Counter[str] = Counter()
    for r, codes in replay(csv_files):
        want = expected.get(r["instruction_id"])
        if codes is None:
            assert want == "duplicate"
            outcomes["duplicate"] += 1
        elif want is None or want == "duplicate":
            assert codes == set(), r
            outcomes["accepted"] += 1
        else:
            assert codes == {want}, r  # exactly the planted rule, nothing else
            outcomes[want] += 1
    assert outcomes["accepted"] == csv_files.accepted_count
    assert outcomes["duplicate"] == csv_files.duplicate_count


def test_a_few_investors_fill_their_quota(csv_files: GeneratedFiles) -> None:
    quota_rows = [r for r, codes in replay(csv_files)
                  if codes and codes & {"quota_exceeded_individual", "quota_exceeded_channel"}]
    assert 1 <= len({r["investor_id"] for r in quota_rows}) < csv_files.investor_count / 10
