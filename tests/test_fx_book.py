"""Rates in the database and the rate book: fx.book (loading, round trips, lookups, caching)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from fx.book import (
    PEG_AS_OF,
    FastRate,
    RateBook,
    load_rates,
    load_rates_file,
    stored_quotes,
    utc_text,
)
from fx.conversion import Rounding, convert
from fx.quotes import (
    NoRate,
    Quote,
    RateError,
    StaleRate,
    check_fresh,
    dealt_rate,
    latest_quotes,
    make_quote,
    peg_quote,
    resolve,
)
from ledger.db import transaction
from ledger.errors import ConflictError, InputError
from ledger.refdata import LoadResult

HKT = timezone(timedelta(hours=8))
T0 = datetime(2025, 3, 3, 9, 15, tzinfo=HKT)  # a Monday
HEADER = "base,quote,bid,ask,as_of,source,book\n"
GOOD_ROWS = [
    "CNY,HKD,1.0584,1.0688,2025-03-03T09:15:00+08:00,BOC,default",
    "USD,HKD,7.7700,7.7900,2025-03-03T09:15:00+08:00,HKMA,default",
    "CNY,HKD,1.0590,1.0694,2025-03-04T09:15:00+08:00,BOC,default",
    "CNY,HKD,1.0600,1.0700,2025-03-03T09:15:00+08:00,BOC,CNH",
]


def write_csv(tmp_path: Path, rows: list[str], name: str = "rates.csv",
              header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text(header + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def write_jsonl(tmp_path: Path, rows: list[str], name: str = "rates.jsonl") -> Path:
    keys = HEADER.strip().split(",")
    lines = []
    for row in rows:
        obj: dict[str, object] = dict(zip(keys, row.split(","), strict=True))
        # JSON numbers for the rates: read as their literal text, never as floats.
        lines.append(json.dumps(obj).replace(f'"{obj["bid"]}"', str(obj["bid"]), 1))
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load(engine: Engine, path: Path) -> LoadResult:
    return transaction(engine, lambda c: load_rates_file(c, path))


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM fx_rates")).scalar_one())


def all_quotes(engine: Engine) -> list[Quote]:
    with engine.connect() as conn:
        return stored_quotes(conn)


# --- loading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("writer", [write_csv, write_jsonl], ids=["csv", "jsonl"])
def test_load_rates_file_and_reload_is_a_no_op(
    engine: Engine, tmp_path: Path, writer: object
) -> None:
    path = writer(tmp_path, GOOD_ROWS)  # type: ignore[operator]
    assert load(engine, path) == LoadResult("rates", 4, 4, 0)
    quotes = all_quotes(engine)
    assert [(q.book, q.pair, q.bid, q.ask, q.as_of, q.source) for q in quotes] == [
        ("CNH", ("CNY", "HKD"), Decimal("1.0600"), Decimal("1.0700"), T0, "BOC"),
        ("default", ("CNY", "HKD"), Decimal("1.0584"), Decimal("1.0688"), T0, "BOC"),
        ("default", ("CNY", "HKD"), Decimal("1.0590"), Decimal("1.0694"),
         T0 + timedelta(days=1), "BOC"),
        ("default", ("USD", "HKD"), Decimal("7.7700"), Decimal("7.7900"), T0, "HKMA"),
    ]
    assert str(quotes[1].bid) == "1.0584" and str(quotes[3].ask) == "7.7900"  # digits kept
    assert load(engine, path) == LoadResult("rates", 4, 0, 4)
    assert count(engine) == 4


def test_optional_columns_default(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path, ["CNY,HKD,1.0584,1.0688,2025-03-03T09:15:00+08:00"],
                     header="base,quote,bid,ask,as_of\n")
    assert load(engine, path).inserted == 1
    (q,) = all_quotes(engine)
    assert (q.book, q.source) == ("default", "")


def test_the_same_rate_written_otherwise_is_the_same_row(engine: Engine, tmp_path: Path) -> None:
    load(engine, write_csv(tmp_path, GOOD_ROWS[:1]))
    same = write_csv(tmp_path, ["CNY,HKD,1.05840,1.0688,2025-03-03T01:15:00+00:00,BOC,default"],
                     name="same.csv")
    assert load(engine, same) == LoadResult("rates", 1, 0, 1)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT as_of, as_of_utc, bid FROM fx_rates")).one()
    assert tuple(stored) == ("2025-03-03T09:15:00+08:00", "2025-03-03T01:15:00.000000Z", "1.0584")


def test_same_key_other_content_is_a_conflict_naming_both(engine: Engine, tmp_path: Path) -> None:
    load(engine, write_csv(tmp_path, GOOD_ROWS))
    changed = write_csv(
        tmp_path,
        ["USD,HKD,7.7800,7.8000,2025-03-04T09:15:00+08:00,HKMA,default",  # new: not loaded
         "CNY,HKD,1.0585,1.0688,2025-03-03T09:15:00+08:00,BOC,default"],
        name="changed.csv",
    )
    with pytest.raises(ConflictError) as info:
        load(engine, changed)
    message = str(info.value)
    assert "default CNY/HKD" in message and "2025-03-03T09:15:00+08:00" in message
    assert "stored bid 1.0584 ask 1.0688" in message
    assert f"{changed}:3 has bid 1.0585 ask 1.0688" in message
    assert count(engine) == 4


def test_a_conflict_inside_one_file(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path, [GOOD_ROWS[0], GOOD_ROWS[0].replace(",BOC,", ",ICBC,")])
    with pytest.raises(ConflictError, match=r"rates\.csv:3 has .*'ICBC' but .*rates\.csv:2 has"):
        load(engine, path)
    assert count(engine) == 0


BAD_ROWS = [
    ("ask below bid", "CNY,HKD,1.0688,1.0584,2025-03-03T09:15:00+08:00,BOC,default", "ask",
     "expected ask >= bid"),
    ("zero", "CNY,HKD,0,1.0688,2025-03-03T09:15:00+08:00,BOC,default", "bid", "greater than zero"),
    ("negative", "CNY,HKD,-1.0584,1.0688,2025-03-03T09:15:00+08:00,BOC,default", "bid",
     "no sign"),
    ("exponent", "CNY,HKD,1.0584,1.0688e0,2025-03-03T09:15:00+08:00,BOC,default", "ask",
     "exponent"),
    ("no offset", "CNY,HKD,1.0584,1.0688,2025-03-03T09:15:00,BOC,default", "as_of",
     "UTC offset"),
    ("unknown currency", "XAU,HKD,1.0584,1.0688,2025-03-03T09:15:00+08:00,BOC,default", "base",
     "unknown currency 'XAU'"),
    ("CNH as a currency", "CNY,CNH,1.0584,1.0688,2025-03-03T09:15:00+08:00,BOC,default", "quote",
     "CNH names a rate book"),
    ("too many decimals", "CNY,HKD,1.0584000000000000000000000001,1.0688,"
     "2025-03-03T09:15:00+08:00,BOC,default", "bid", "at most 18 decimals"),
]


@pytest.mark.parametrize(("row", "field", "expected"), [b[1:] for b in BAD_ROWS],
                         ids=[b[0] for b in BAD_ROWS])
@pytest.mark.parametrize("writer", [write_csv, write_jsonl], ids=["csv", "jsonl"])
def test_a_bad_row_refuses_the_whole_file(
    engine: Engine, tmp_path: Path, writer: object, row: str, field: str, expected: str
) -> None:
    path = writer(tmp_path, [GOOD_ROWS[0], row])  # type: ignore[operator]
    with pytest.raises(InputError) as info:
        load(engine, path)
    problems = info.value.problems
    line = 3 if path.suffix == ".csv" else 2  # a CSV's first line is its header
    assert [(p.file, p.line, p.field) for p in problems] == [(str(path), line, field)]
    assert str(problems[0]).startswith(f"{path}:{line}: field '{field}': ")
    assert expected in problems[0].expected
    assert count(engine) == 0


def test_an_unknown_column_refuses_the_file(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path, [GOOD_ROWS[0] + ",0.01"], header=HEADER.strip() + ",spread\n")
    with pytest.raises(InputError) as info:
        load(engine, path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:1: field 'spread': no such column (unknown column)"
    ]
    jsonl = tmp_path / "rates.jsonl"
    jsonl.write_text('{"base": "CNY", "quote": "HKD", "bid": 1.0584, "ask": 1.0688, '
                     '"as_of": "2025-03-03T09:15:00+08:00", "mid": 1.0636}\n')
    with pytest.raises(InputError, match=r"rates\.jsonl:1: field 'mid': no such field"):
        load(engine, jsonl)
    assert count(engine) == 0


def test_every_problem_is_listed(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path, [
        "CNH,HKD,0,1e0,2025-03-03,BOC,default",
        GOOD_ROWS[0],
        "CNY,HKD,1.0584,,2025-03-03T09:15:00+08:00,BOC,default",
    ])
    with pytest.raises(InputError) as info:
        load(engine, path)
    assert [(p.line, p.field) for p in info.value.problems] == [
        (2, "base"), (2, "bid"), (2, "ask"), (2, "as_of"), (4, "ask"),
    ]
    assert count(engine) == 0


def test_a_missing_required_column(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path, ["CNY,HKD,1.0584,2025-03-03T09:15:00+08:00"],
                     header="base,quote,bid,as_of\n")
    with pytest.raises(InputError, match=r"rates\.csv:1: field 'ask': a required column"):
        load(engine, path)


# --- exact storage ------------------------------------------------------------------------------


def test_rates_round_trip_exactly(engine: Engine) -> None:
    # The loader takes up to 18 decimals (fx.quotes.MAX_RATE_DECIMALS): that many come back.
    rows = [
        {"base": "CNY", "quote": "HKD", "bid": "1.058400000000000001",
         "ask": Decimal("1.068800000000000000"), "as_of": "2025-03-03T09:15:00.000001+08:00"},
        {"base": "USD", "quote": "CNY", "bid": Decimal("0.000000123"), "ask": "123456789012.5",
         "as_of": T0, "book": "tiny"},
    ]
    transaction(engine, lambda c: load_rates(c, rows))
    with engine.connect() as conn:
        raw = conn.execute(text("SELECT bid, ask, as_of FROM fx_rates ORDER BY book")).all()
    assert [tuple(r) for r in raw] == [
        ("1.058400000000000001", "1.068800000000000000", "2025-03-03T09:15:00.000001+08:00"),
        ("0.000000123", "123456789012.5", "2025-03-03T09:15:00+08:00"),
    ]
    first, second = sorted(all_quotes(engine), key=lambda q: q.book)
    assert first.bid == Decimal("1.058400000000000001")
    assert str(first.ask) == "1.068800000000000000"
    assert first.as_of == T0 + timedelta(microseconds=1)
    assert second.bid.as_tuple() == Decimal("0.000000123").as_tuple()


def test_the_rate_columns_are_text_and_lose_nothing(engine: Engine) -> None:
    # Beyond what the loader accepts, the storage itself keeps every digit (no float, no
    # NUMERIC read back as float) on both databases.
    long = "1.0584000000000000000000000001"
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO fx_rates (book, base, quote, as_of_utc, as_of, bid, ask, source) "
                 "VALUES ('x', 'CNY', 'HKD', :u, :a, :b, :b, '')"),
            {"u": utc_text(T0), "a": T0.isoformat(), "b": long},
        )
    with engine.connect() as conn:
        bid = conn.execute(text("SELECT bid FROM fx_rates")).scalar_one()
    assert bid == long and Decimal(bid) == Decimal(long) != Decimal("1.0584")


def test_load_rates_from_python_values_reports_every_bad_row(engine: Engine) -> None:
    good = make_quote("CNY", "HKD", "1.0584", "1.0688", T0, "BOC")
    rows: list[Quote | dict[str, object]] = [
        good,
        {"base": "CNY", "quote": "HKD", "bid": 1.0584, "ask": "1.0688", "as_of": T0},
        {"base": "CNH", "quote": "HKD", "bid": "1", "ask": "1", "as_of": T0},
    ]
    with pytest.raises(InputError) as info:
        transaction(engine, lambda c: load_rates(c, rows))
    assert [(p.file, p.line, p.field) for p in info.value.problems] == [
        ("rates", 2, "bid"), ("rates", 3, "base"),
    ]
    assert transaction(engine, lambda c: load_rates(c, [good])).inserted == 1
    assert transaction(engine, lambda c: load_rates(c, [good])).unchanged == 1


def test_stored_rates_are_append_only(engine: Engine) -> None:
    transaction(engine, lambda c: load_rates(c, [make_quote("CNY", "HKD", "1", "1.1", T0)]))
    for sql in ("UPDATE fx_rates SET bid = '2'", "DELETE FROM fx_rates"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))
    assert [q.bid for q in all_quotes(engine)] == [Decimal("1")]


def test_rate_book_loads_the_books_asked_for(engine: Engine, tmp_path: Path) -> None:
    load(engine, write_csv(tmp_path, GOOD_ROWS))
    with engine.connect() as conn:
        assert RateBook.load(conn).books == {"default", "CNH"}
        cnh = RateBook.load(conn, ["CNH"])
        assert RateBook.load(conn, []).books == frozenset()
    assert len(cnh) == 1
    assert cnh.rate_for("CNY", "HKD", at=T0, book="CNH").factor == Fraction("1.06")
    with pytest.raises(NoRate):
        cnh.rate_for("CNY", "HKD", at=T0, book="default")


# --- lookups ------------------------------------------------------------------------------------

CNY_HKD = make_quote("CNY", "HKD", "1.0584", "1.0688", T0, "BOC")
CNY_HKD_2 = make_quote("CNY", "HKD", "1.0590", "1.0694", T0 + timedelta(hours=3), "BOC")
USD_HKD = make_quote("USD", "HKD", "7.7700", "7.7900", T0, "HKMA")
USD_CNY = make_quote("USD", "CNY", "7.1000", "7.2000", T0, "PBOC")


def test_quote_at_is_the_latest_at_or_before() -> None:
    book = RateBook([CNY_HKD_2, CNY_HKD])
    assert book.quote_at("default", "CNY", "HKD", T0 - timedelta(microseconds=1)) is None
    assert book.quote_at("default", "CNY", "HKD", T0) is CNY_HKD
    assert book.quote_at("default", "CNY", "HKD", CNY_HKD_2.as_of - timedelta(seconds=1)) is CNY_HKD
    assert book.quote_at("default", "CNY", "HKD", CNY_HKD_2.as_of) is CNY_HKD_2
    # The same instant in another offset.
    assert book.quote_at("default", "CNY", "HKD", CNY_HKD_2.as_of.astimezone(UTC)) \
        is CNY_HKD_2
    assert book.quote_at("default", "HKD", "CNY", T0) is None
    assert book.quote_at("CNH", "CNY", "HKD", T0) is None


def test_direct_inverse_and_crosses() -> None:
    book = RateBook([CNY_HKD, USD_HKD])
    at = T0 + timedelta(hours=1)
    assert book.rate_for("CNY", "HKD", at=at).factor == Fraction("1.0584")
    assert book.rate_for("HKD", "CNY", at=at).factor == 1 / Fraction("1.0688")
    cross = book.rate_for("CNY", "MOP", at=at)
    assert cross.factor == Fraction("1.090152")
    assert [(leg.quote.pair, leg.side) for leg in cross.legs] == [
        (("CNY", "HKD"), "bid"), (("HKD", "MOP"), "bid"),
    ]
    assert cross.legs[1].quote.source == "peg" and cross.legs[1].quote.as_of == PEG_AS_OF
    assert book.rate_for("USD", "CNY", at=at).factor == Fraction("7.77") / Fraction("1.0688")
    # USD as the pivot when HKD has no legs.
    usd = RateBook([USD_CNY, make_quote("USD", "MOP", "8.00", "8.05", T0)])
    assert usd.rate_for("CNY", "MOP", at=at).factor == 1 / Fraction("7.2") * Fraction("8")


def test_cny_to_mop_worked_example() -> None:
    book = RateBook([CNY_HKD])
    conv = book.convert(10_000_000, "CNY", "MOP", at=T0 + timedelta(hours=1))
    assert conv.buy_amount == 10_901_520  # MOP 109,015.20, not 109,020.00
    assert conv == convert(10_000_000, book.rate_for("CNY", "MOP", at=T0))


def test_a_quote_from_the_future_is_not_used() -> None:
    book = RateBook([CNY_HKD, CNY_HKD_2])
    assert book.rate_for("CNY", "HKD", at=CNY_HKD_2.as_of - timedelta(microseconds=1)).factor \
        == Fraction("1.0584")
    with pytest.raises(NoRate, match="CNY/HKD"):
        book.rate_for("CNY", "HKD", at=T0 - timedelta(seconds=1))


def test_stale_after_one_business_day_naming_pair_and_time() -> None:
    book = RateBook([CNY_HKD])
    assert book.rate_for("CNY", "HKD", at=T0 + timedelta(days=1)).factor == Fraction("1.0584")
    with pytest.raises(StaleRate) as info:
        book.rate_for("CNY", "HKD", at=T0 + timedelta(days=1, microseconds=1))
    assert "CNY/HKD" in str(info.value) and "2025-03-03T09:15:00+08:00" in str(info.value)
    # A cross is stale when a leg is; the peg leg never is.
    with pytest.raises(StaleRate, match="CNY/HKD"):
        book.rate_for("CNY", "MOP", at=T0 + timedelta(days=2))
    # Two business days where the book allows them; a calendar of the caller's.
    assert book.rate_for("CNY", "HKD", at=T0 + timedelta(days=2),
                         staleness_business_days=2).factor == Fraction("1.0584")

    def every_other_day(day: date) -> date:
        return day + timedelta(days=2)

    assert book.rate_for("CNY", "HKD", at=T0 + timedelta(days=2),
                         next_business_day=every_other_day).factor == Fraction("1.0584")


def test_a_friday_rate_lasts_until_monday() -> None:
    friday = make_quote("CNY", "HKD", "1.0584", "1.0688", T0 + timedelta(days=4))
    book = RateBook([friday])
    assert book.rate_for("CNY", "HKD", at=T0 + timedelta(days=7)).factor == Fraction("1.0584")
    with pytest.raises(StaleRate):
        book.rate_for("CNY", "HKD", at=T0 + timedelta(days=7, seconds=1))


def test_no_rate_names_the_pair_and_book() -> None:
    with pytest.raises(NoRate) as info:
        RateBook([CNY_HKD]).rate_for("USD", "CNY", at=T0, book="default")
    assert "USD/CNY" in str(info.value) and "'default'" in str(info.value)
    with pytest.raises(NoRate):
        RateBook([CNY_HKD]).rate_for("CNY", "HKD", at=T0, book="CNH")


def test_the_peg() -> None:
    book = RateBook([])
    a_year_later = T0 + timedelta(days=365)
    assert book.rate_for("HKD", "MOP", at=a_year_later).factor == Fraction("1.03")
    assert book.rate_for("MOP", "HKD", at=a_year_later).factor == 1 / Fraction("1.03")
    spread = (Decimal("1.0250"), Decimal("1.0350"))
    assert book.rate_for("HKD", "MOP", at=T0, peg=spread).factor == Fraction("1.025")
    assert book.rate_for("MOP", "HKD", at=T0, peg=spread).factor == 1 / Fraction("1.035")
    assert book.rate_for("MOP", "HKD", at=T0, peg=spread).mid_factor == 1 / Fraction("1.03")
    with pytest.raises(NoRate):
        book.rate_for("HKD", "MOP", at=T0, peg=None)
    # A quote the bank loaded into the book wins over the setting (and can go stale).
    loaded = RateBook([make_quote("MOP", "HKD", "0.9700", "0.9720", T0, "BNU")])
    assert loaded.rate_for("HKD", "MOP", at=T0).factor == 1 / Fraction("0.972")
    assert loaded.rate_for("HKD", "MOP", at=T0 - timedelta(seconds=1)).factor == Fraction("1.03")
    with pytest.raises(StaleRate):
        loaded.rate_for("HKD", "MOP", at=T0 + timedelta(days=3))


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        RateBook([CNY_HKD]).rate_for("CNY", "HKD", at=datetime(2025, 3, 3, 10))


def test_adding_quotes_invalidates_the_cache() -> None:
    book = RateBook([CNY_HKD])
    at = T0 + timedelta(hours=5)
    assert book.rate_for("CNY", "MOP", at=at).factor == Fraction("1.090152")
    book.add([CNY_HKD_2])
    assert book.rate_for("CNY", "MOP", at=at).factor == Fraction("1.0590") * Fraction("1.03")
    assert len(book) == 2 and list(book.quotes("default")) == [CNY_HKD, CNY_HKD_2]


# --- the cache gives what a fresh resolution gives ----------------------------------------------

PAIRS = [("CNY", "HKD"), ("HKD", "CNY"), ("USD", "HKD"), ("USD", "CNY"), ("HKD", "MOP"),
         ("USD", "MOP"), ("CNY", "MOP")]
CURRENCIES = ["CNY", "HKD", "MOP", "USD"]
OFFSETS = [UTC, HKT, timezone(timedelta(hours=-5))]


@st.composite
def quote_sets(draw: st.DrawFn) -> list[Quote]:
    quotes = {}
    for _ in range(draw(st.integers(0, 24))):
        base, quote = draw(st.sampled_from(PAIRS))
        minute = draw(st.integers(0, 6 * 24 * 60))
        bid = Decimal(draw(st.integers(50, 900))) / 100
        ask = bid + Decimal(draw(st.integers(0, 20))) / 1000
        as_of = (T0 + timedelta(minutes=minute)).astimezone(draw(st.sampled_from(OFFSETS)))
        quotes[(base, quote, as_of)] = Quote("default", base, quote, bid, ask, as_of, "test")
    return list(quotes.values())


def reference(quotes: list[Quote], sell: str, buy: str, at: datetime, days: int) -> object:
    """The rate from first principles: no index, no cache."""
    try:
        latest = latest_quotes(quotes, at, "default")
        if ("HKD", "MOP") not in latest and ("MOP", "HKD") not in latest:
            latest[("HKD", "MOP")] = peg_quote(at)
        rate = resolve(sell, buy, latest)
        for leg in rate.legs:
            if leg.quote.source != "peg":
                check_fresh(leg.quote, at, business_days=days)
    except (NoRate, StaleRate) as exc:
        return type(exc)
    return rate.factor, rate.mid_factor, [
        (leg.quote.pair, leg.side, leg.quote.as_of) for leg in rate.legs
        if leg.quote.source != "peg"
    ]


@settings(max_examples=200, deadline=None)
@given(
    quotes=quote_sets(),
    queries=st.lists(
        st.tuples(st.sampled_from(CURRENCIES), st.sampled_from(CURRENCIES),
                  st.integers(-60, 8 * 24 * 60), st.sampled_from(OFFSETS)),
        min_size=1, max_size=30,
    ),
    days=st.integers(0, 2),
)
def test_cached_lookups_agree_with_a_fresh_resolution(
    quotes: list[Quote], queries: list[tuple[str, str, int, timezone]], days: int
) -> None:
    book = RateBook(quotes)
    view = book.view("default", staleness_business_days=days)
    for sell, buy, minute, tz in queries:
        if sell == buy:
            continue
        at = (T0 + timedelta(minutes=minute)).astimezone(tz)
        expected = reference(quotes, sell, buy, at, days)
        try:
            rate = view.rate_for(sell, buy, at)
        except (NoRate, StaleRate) as exc:
            assert expected is type(exc), (sell, buy, at)
            continue
        got = (rate.factor, rate.mid_factor, [
            (leg.quote.pair, leg.side, leg.quote.as_of) for leg in rate.legs
            if leg.quote.source != "peg"
        ])
        assert got == expected, (sell, buy, at)


@given(
    amount=st.integers(1, 10**13),
    bid=st.integers(1, 10**8),
    extra=st.integers(0, 10**6),
    places=st.integers(0, 8),
    pair=st.sampled_from([("CNY", "HKD"), ("HKD", "CNY"), ("CNY", "MOP"), ("MOP", "USD")]),
    mode=st.sampled_from(Rounding),
)
def test_the_fast_conversion_is_exactly_convert(
    amount: int, bid: int, extra: int, places: int, pair: tuple[str, str], mode: Rounding
) -> None:
    scale = Decimal(10) ** -places
    quote = Quote("default", "CNY", "HKD", bid * scale, (bid + extra) * scale, T0)
    other = Quote("default", "USD", "HKD", Decimal("7.77"), Decimal("7.79"), T0)
    view = RateBook([quote, other]).view()
    rate = view.rate_for(*pair, T0)
    expected = convert(amount, rate, mode)
    assert view.convert(amount, *pair, T0, mode) == expected
    assert view.fast_rate(*pair, T0).amounts(amount, mode) == (
        expected.buy_amount, expected.mid_amount, expected.spread, expected.rounding)


def test_a_dealt_rate_is_kept_and_equal_rates_share_it() -> None:
    kept = FastRate.dealt("HKD", "CNY", Decimal("0.9400"))
    assert FastRate.dealt("HKD", "CNY", Decimal("0.94")) is kept
    assert kept == FastRate.of(dealt_rate("HKD", "CNY", Decimal("0.94")))
    other = FastRate.dealt("HKD", "CNY", Decimal("0.9401"))
    assert other == FastRate.of(dealt_rate("HKD", "CNY", Decimal("0.9401"))) != kept
    assert FastRate.dealt("CNY", "HKD", Decimal("0.94")).rate.sell == "CNY"


@pytest.mark.parametrize("rate", [Decimal("sNaN"), Decimal("NaN"), Decimal("Infinity"),
                                  Decimal("0"), Decimal("-1.2"), 0.94])
def test_a_bad_dealt_rate_is_refused_by_name(rate: object) -> None:
    with pytest.raises(RateError, match="rate"):
        FastRate.dealt("HKD", "CNY", rate)  # type: ignore[arg-type]
