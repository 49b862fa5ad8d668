"""Statements: reading camt.053 and MT940, refusing bad files, writing them back."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import AmountError, InputError, UnknownCurrency
from settlement.statements import (
    Statement,
    StatementEntry,
    detect_format,
    read_statement,
    read_statements,
    write_camt053,
    write_mt940,
)

DATA = Path(__file__).parent / "data" / "statements"
CAMT = DATA / "worked_example.camt053.xml"
MT940 = DATA / "worked_example.mt940"
DAY = date(2025, 3, 3)


def _entry(
    amount: int, e2e: str | None, bank_ref: str, description: str = "", reversal: bool = False
) -> StatementEntry:
    return StatementEntry(amount, "HKD", DAY, DAY, e2e, bank_ref, reversal, description)


WORKED_EXAMPLE = Statement(
    account="012-345678-001",
    currency="HKD",
    opening=100_000_000,
    closing=101_299_742,
    opening_date=DAY,
    closing_date=DAY,
    entries=(
        _entry(52_920_000, "E2E-001", "BR2503030001", "Fund settlement from bank B"),
        _entry(-52_920_000, "E2E-002", "BR2503030002", "Fund settlement to bank C"),
        _entry(1_314_742, "E2E-005", "BR2503030003", "FX cover CNY 12345.00"),
        _entry(-15_000, None, "BR2503030004", "CHATS transfer fee"),
    ),
)


def _problems(exc: pytest.ExceptionInfo[InputError]) -> str:
    return str(exc.value)


# --- the worked example, in both formats ------------------------------------------------------


@pytest.mark.parametrize("path", [CAMT, MT940], ids=["camt053", "mt940"])
def test_worked_example_reads_the_same_from_both_formats(path: Path) -> None:
    stmt = read_statement(path)
    assert stmt == WORKED_EXAMPLE
    assert stmt.source == str(path)
    assert stmt.format == ("camt.053" if path == CAMT else "mt940")
    assert stmt.opening + stmt.entries_total == stmt.closing


def test_entries_know_their_line() -> None:
    assert [e.line for e in read_statement(MT940).entries] == [5, 7, 9, 11]
    assert [e.line for e in read_statement(CAMT).entries] == [40, 55, 70, 85]


def test_bytes_and_a_name() -> None:
    stmt = read_statement(MT940.read_bytes(), name="today.sta")
    assert stmt.source == "today.sta"
    assert stmt == WORKED_EXAMPLE


def test_detect_format() -> None:
    assert detect_format(CAMT.read_bytes()) == "camt.053"
    assert detect_format(MT940.read_bytes()) == "mt940"
    assert detect_format(b"{1:F01BANKHKHHAXXX0000000000}{2:O940}{4:\n:20:X\n") == "mt940"
    with pytest.raises(InputError, match=r"camt\.052/053/054 XML document or an MT940/MT942"):
        detect_format(b"date,amount\n2025-03-03,1.00\n", name="x.csv")


# --- camt.053 specifics ------------------------------------------------------------------------


def test_camt_is_namespace_agnostic() -> None:
    text = CAMT.read_text()
    for replacement in (
        'xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.13"',
        "",
    ):
        other = text.replace('xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"', replacement)
        assert read_statement(other.encode()) == WORKED_EXAMPLE


def test_camt_namespace_and_message_must_agree() -> None:
    text = CAMT.read_text().replace("camt.053.001.02", "camt.052.001.02")
    with pytest.raises(
        InputError, match=r"field 'Document/BkToCstmrStmt': the message of a camt.052 document"
    ):
        read_statement(text.encode(), name="report.xml")


def test_camt_variants_iban_prcd_datetime_pending_ustrd() -> None:
    text = (
        CAMT.read_text()
        .replace(
            "<Othr>\n            <Id>012-345678-001</Id>\n          </Othr>",
            "<IBAN>HK12ABCD0123456789012</IBAN>",
        )
        .replace("<Cd>OPBD</Cd>", "<Cd>PRCD</Cd>")
        .replace(
            "<BookgDt><Dt>2025-03-03</Dt></BookgDt>",
            "<BookgDt><DtTm>2025-03-04T09:30:00+08:00</DtTm></BookgDt>",
        )
        .replace(
            "<Ntry>",
            '<Ntry>\n<Amt Ccy="HKD">99.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>PDNG</Cd></Sts>'
            "<BookgDt><Dt>2025-03-03</Dt></BookgDt><ValDt><Dt>2025-03-03</Dt></ValDt></Ntry>\n<Ntry>",
            1,
        )
    )
    stmt = read_statement(text.encode())
    assert stmt.account == "HK12ABCD0123456789012"
    assert len(stmt.entries) == 4  # the pending entry is not part of the booked balance
    assert {e.booking_date for e in stmt.entries} == {date(2025, 3, 4)}
    assert stmt.entries[0].description == "Fund settlement from bank B"  # from RmtInf/Ustrd


def test_camt_reversal_takes_its_sign_from_cdtdbtind() -> None:
    # The bank gives back 529,200.00 it had debited: CRDT + RvslInd true, a credit (+).
    text = (
        CAMT.read_text()
        .replace(
            "<CdtDbtInd>DBIT</CdtDbtInd>\n        <Sts>BOOK</Sts>",
            "<CdtDbtInd>CRDT</CdtDbtInd>\n        <RvslInd>true</RvslInd>\n        <Sts>BOOK</Sts>",
            1,
        )
        .replace("1012997.42", "2071397.42")
    )
    stmt = read_statement(text.encode())
    assert stmt.entries[1].amount == 52_920_000
    assert stmt.entries[1].reversal is True


def test_camt_batch_booking_without_detail_amounts_is_refused() -> None:
    text = CAMT.read_text().replace(
        "<TxDtls>\n            <Refs><EndToEndId>E2E-002</EndToEndId></Refs>\n          </TxDtls>",
        "<TxDtls><Refs><EndToEndId>E2E-002</EndToEndId></Refs></TxDtls>"
        "<TxDtls><Refs><EndToEndId>E2E-003</EndToEndId></Refs></TxDtls>",
    )
    with pytest.raises(InputError, match=r"Stmt/Ntry\[2\]/NtryDtls/TxDtls\[1\]/Amt': an amount"):
        read_statement(text.encode(), name="batch.xml")


# --- MT940 specifics ---------------------------------------------------------------------------


def test_mt940_envelope_crlf_and_wrapped_details() -> None:
    text = MT940.read_text().replace(
        ":86:Fund settlement from bank B",
        ":86:Fund settlement from ba\nnk B",
    )
    wrapped = "{1:F01BANKHKHHAXXX0000000000}{2:O9401200250303BANKHKHHAXXX}{4:\n" + text + "-}\n"
    stmt = read_statement(wrapped.replace("\n", "\r\n").encode())
    assert stmt == WORKED_EXAMPLE


def test_mt940_reversal_marks() -> None:
    # RD: reversal of a debit, money back in (+); RC: reversal of a credit (-).
    text = (
        MT940.read_text()
        .replace("2503030303D529200,00NTRFE2E-002", "2503030303RD529200,00NTRFE2E-002")
        .replace("2503030303C13147,42NTRFE2E-005", "2503030303RC13147,42NTRFE2E-005")
        .replace(":62F:C250303HKD1012997,42", ":62F:C250303HKD2045102,58")
        .replace(":64:C250303HKD1012997,42\n", "")
    )
    stmt = read_statement(text.encode())
    assert [(e.amount, e.reversal) for e in stmt.entries] == [
        (52_920_000, False),
        (52_920_000, True),
        (-1_314_742, True),
        (-15_000, False),
    ]


def test_mt940_entry_date_across_the_year_end() -> None:
    text = MT940.read_text().replace(
        ":61:2503030303C529200,00NTRFE2E-001", ":61:2412310102C529200,00NTRFE2E-001"
    )
    entry = read_statement(text.encode()).entries[0]
    assert (entry.value_date, entry.booking_date) == (date(2024, 12, 31), date(2025, 1, 2))


def test_mt940_long_customer_reference_is_kept_whole_with_a_warning() -> None:
    text = MT940.read_text().replace("NTRFE2E-001//", "NTRFE2E-001-LONGER-THAN-16//")
    stmt = read_statement(text.encode(), name="x.sta")
    assert stmt.entries[0].end_to_end_id == "E2E-001-LONGER-THAN-16"
    assert stmt.entries[0].bank_ref == "BR2503030001"
    assert [str(w) for w in stmt.warnings] == [
        "x.sta:5: field ':61: customer reference': a customer reference of at most 16 "
        "characters (SWIFT); kept whole: 'E2E-001-LONGER-THAN-16'"
    ]


def test_mt940_two_statements_in_one_file_need_read_statements() -> None:
    text = MT940.read_text()
    with pytest.raises(InputError, match=r"x.sta:0: field 'statement': one statement in the file, "
                       r"found 2: MT940 statement of account 012-345678-001 on 2025-03-03"):
        read_statement((text + text).encode(), name="x.sta")
    assert read_statements((text + text).encode()) == (WORKED_EXAMPLE, WORKED_EXAMPLE)


# --- refusals: each names the file and the line or element -------------------------------------


def test_broken_xml() -> None:
    text = CAMT.read_text().replace("</Acct>", "</Account>")
    with pytest.raises(InputError) as exc:
        read_statement(text.encode(), name="broken.xml")
    assert exc.value.problems[0].file == "broken.xml"
    assert exc.value.problems[0].line == 21
    assert "well-formed XML (mismatched tag" in _problems(exc)


@pytest.mark.parametrize(
    "path", [DATA / "billion_laughs.camt053.xml", DATA / "external_entity.camt053.xml"]
)
def test_dtds_and_entities_are_refused(path: Path) -> None:
    with pytest.raises(InputError) as exc:
        read_statement(path)
    (problem,) = exc.value.problems
    assert problem.file == str(path)
    assert problem.line == 2
    assert "DTDs, entity declarations and external entities are refused" in problem.expected


def test_oversize_is_refused_before_parsing() -> None:
    with pytest.raises(InputError, match=r"big.xml:0: field 'size': a statement of at most 1000"):
        read_statement(CAMT.read_bytes(), name="big.xml", max_bytes=1000)
    with pytest.raises(InputError, match="at most 1000 bytes"):
        read_statement(CAMT, max_bytes=1000)


def test_missing_file() -> None:
    with pytest.raises(InputError, match="field 'file': an existing, readable file"):
        read_statement(DATA / "no-such-file.xml")


def test_truncated_mt940() -> None:
    path = DATA / "truncated.mt940"
    with pytest.raises(InputError) as exc:
        read_statement(path)
    assert f"{path}:7: field ':62F:': a closing balance :62F:" in _problems(exc)
    assert "truncated" in _problems(exc)


def test_statement_that_does_not_add_up_says_by_how_much() -> None:
    mt = MT940.read_text().replace(":62F:C250303HKD1012997,42", ":62F:C250303HKD1012997,43")
    with pytest.raises(InputError) as exc:
        read_statement(mt.encode(), name="off.sta")
    assert "off.sta:13: field ':62F: amount'" in _problems(exc)
    assert "it is off by 0.01 HKD" in _problems(exc)

    xml = CAMT.read_text().replace('<Amt Ccy="HKD">150.00</Amt>', '<Amt Ccy="HKD">149.00</Amt>')
    with pytest.raises(InputError) as exc:
        read_statement(xml.encode(), name="off.xml")
    assert "off.xml:30: field 'Stmt/Bal[2]/Amt'" in _problems(exc)
    assert "= 1012998.42 HKD to equal the closing balance 1012997.42 HKD" in _problems(exc)
    assert "it is off by -1.00 HKD" in _problems(exc)


def test_unknown_currency() -> None:
    mt = MT940.read_text().replace("HKD", "XYZ")
    with pytest.raises(InputError) as exc:
        read_statement(mt.encode(), name="x.sta")
    assert "x.sta:4: field ':60F: currency': unknown currency 'XYZ'" in _problems(exc)

    xml = CAMT.read_text().replace("<Ccy>HKD</Ccy>", "<Ccy>XYZ</Ccy>")
    with pytest.raises(InputError, match=r"x.xml:20: field 'Stmt/Acct/Ccy': unknown currency"):
        read_statement(xml.encode(), name="x.xml")


def test_cnh_is_refused_unless_mapped_to_cny() -> None:
    mt = MT940.read_text().replace("HKD", "CNH")
    xml = CAMT.read_text().replace("HKD", "CNH")
    with pytest.raises(InputError) as exc:
        read_statement(mt.encode(), name="cnh.sta")
    assert "cnh.sta:4: field ':60F: currency'" in _problems(exc)
    assert "CNH is the offshore RMB market label" in _problems(exc)
    with pytest.raises(InputError, match=r"cnh.xml:20: field 'Stmt/Acct/Ccy'.*cnh_as_cny"):
        read_statement(xml.encode(), name="cnh.xml")

    cny = dataclasses.replace(
        WORKED_EXAMPLE,
        currency="CNY",
        entries=tuple(dataclasses.replace(e, currency="CNY") for e in WORKED_EXAMPLE.entries),
    )
    assert read_statement(mt.encode(), cnh_as_cny=True) == cny
    assert read_statement(xml.encode(), cnh_as_cny=True) == cny


def test_over_precise_amounts() -> None:
    mt = MT940.read_text().replace("D150,00NCHG", "D150,005NCHG")
    with pytest.raises(InputError) as exc:
        read_statement(mt.encode(), name="x.sta")
    assert (
        "x.sta:11: field ':61: amount': an amount with at most 2 decimals for HKD, got '150,005'"
        in _problems(exc)
    )
    xml = CAMT.read_text().replace('<Amt Ccy="HKD">150.00</Amt>', '<Amt Ccy="HKD">150.005</Amt>')
    with pytest.raises(
        InputError,
        match=r"x.xml:86: field 'Stmt/Ntry\[4\]/Amt': an amount in HKD \('150.005' has 3 decimals",
    ):
        read_statement(xml.encode(), name="x.xml")


def test_every_problem_is_listed_at_once() -> None:
    xml = (
        CAMT.read_text()
        .replace('<Amt Ccy="HKD">150.00</Amt>', '<Amt Ccy="HKD">1.5.0</Amt>')
        .replace(
            "<CdtDbtInd>CRDT</CdtDbtInd>\n        <Sts>",
            "<CdtDbtInd>CR</CdtDbtInd>\n        <Sts>",
            1,
        )
        .replace("<ValDt><Dt>2025-03-03</Dt></ValDt>", "<ValDt><Dt>2025-02-30</Dt></ValDt>", 1)
    )
    with pytest.raises(InputError) as exc:
        read_statement(xml.encode(), name="x.xml")
    fields = [p.field for p in exc.value.problems]
    assert fields == ["Stmt/Ntry[1]/CdtDbtInd", "Stmt/Ntry[1]/ValDt/Dt", "Stmt/Ntry[4]/Amt"]


def test_bad_mt940_lines_are_named() -> None:
    mt = (
        MT940.read_text()
        .replace(":61:2503030303D529200,00", ":61:2513300303D529200,00")
        .replace(":60F:C250303HKD1000000,00", ":60F:C250303HKD1000000,00 junk")
    )
    with pytest.raises(InputError) as exc:
        read_statement(mt.encode(), name="x.sta")
    assert [(p.line, p.field) for p in exc.value.problems] == [(4, ":60F:"), (7, ":61:")]


def test_a_statement_must_add_up_and_hold_ints() -> None:
    with pytest.raises(InputError, match=r"it is off by 1\.00 HKD"):
        dataclasses.replace(WORKED_EXAMPLE, closing=WORKED_EXAMPLE.closing + 100)
    with pytest.raises(AmountError):
        _entry(1.5, None, "X")  # type: ignore[arg-type]
    with pytest.raises(UnknownCurrency):
        StatementEntry(1, "CNH", DAY, DAY, None, None)


# --- writing -----------------------------------------------------------------------------------


def test_worked_example_round_trips_through_both_writers() -> None:
    assert read_statement(write_camt053(WORKED_EXAMPLE)) == WORKED_EXAMPLE
    assert read_statement(write_mt940(WORKED_EXAMPLE).encode()) == WORKED_EXAMPLE
    assert read_statement(write_mt940(WORKED_EXAMPLE).encode()).format == "mt940"


def test_mt940_writer_refuses_what_mt940_cannot_carry() -> None:
    long_ref = dataclasses.replace(
        WORKED_EXAMPLE,
        entries=(
            _entry(1, "A-REFERENCE-OF-MORE-THAN-16", "B"),
            _entry(-1, "NONREF", "B2", "two\nlines"),
        ),
        opening=0,
        closing=0,
    )
    with pytest.raises(InputError) as exc:
        write_mt940(long_ref)
    assert [p.field for p in exc.value.problems] == [
        "end_to_end_id",
        "end_to_end_id",
        "description",
    ]


_REF = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=16).filter(
    lambda r: r.upper() not in ("NONREF", "NOTPROVIDED") and "//" not in r
)
_WORD = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,()/+'?",
    min_size=1,
    max_size=12,
)


@st.composite
def statements(draw: st.DrawFn) -> Statement:
    code = draw(st.sampled_from(["MOP", "HKD", "CNY", "USD"]))
    start = draw(st.dates(min_value=date(2001, 1, 1), max_value=date(2098, 12, 1)))
    entries = []
    for _ in range(draw(st.integers(0, 8))):
        value = start + timedelta(days=draw(st.integers(-3, 3)))
        booked = value + timedelta(days=draw(st.integers(-5, 5)))
        words = draw(st.lists(_WORD, max_size=20))
        entries.append(
            StatementEntry(
                amount=draw(st.integers(-(10**13), 10**13)),
                currency=code,
                booking_date=booked,
                value_date=value,
                end_to_end_id=draw(st.none() | _REF),
                bank_ref=draw(st.none() | _REF),
                reversal=draw(st.booleans()),
                description=" ".join(words),
            )
        )
    opening = draw(st.integers(-(10**13), 10**13))
    return Statement(
        account=draw(st.sampled_from(["012-345678-001", "HK12ABCD0123456789012", "MO-BNU-7"])),
        currency=code,
        opening=opening,
        closing=opening + sum(e.amount for e in entries),
        opening_date=start,
        closing_date=start + timedelta(days=draw(st.integers(0, 3))),
        entries=tuple(entries),
    )


@settings(max_examples=60, deadline=None)
@given(statements())
def test_round_trip(stmt: Statement) -> None:
    from_camt = read_statement(write_camt053(stmt), name="rt.xml")
    from_mt940 = read_statement(write_mt940(stmt).encode(), name="rt.sta")
    assert from_camt == stmt
    assert from_mt940 == stmt
    assert [e.line for e in from_mt940.entries] == sorted({e.line for e in from_mt940.entries})
