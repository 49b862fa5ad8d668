"""ledger.files.CsvReader: the csv module's records and line numbers, whatever the text."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from ledger.files import CsvReader


def _read(make: type, text: str) -> list[object]:
    reader = make(io.StringIO(text, newline=""))
    out: list[object] = []
    try:
        for row in reader:
            out.append((reader.line_num, row))
    except csv.Error as exc:
        out.append(("error", reader.line_num, str(exc)))
    return out


@given(st.text(alphabet=st.sampled_from(['a', 'b', ' ', ',', '"', '\n', '\r', '\x00', 'é']),
               max_size=60))
def test_the_same_records_and_line_numbers_as_csv_reader(text: str) -> None:
    assert _read(CsvReader, text) == _read(csv.reader, text)  # type: ignore[arg-type]


def test_a_field_over_the_csv_modules_limit_is_the_csv_modules_error() -> None:
    limit = csv.field_size_limit()
    text = f"a,b\n{'x' * (limit + 1)},c\nd,e\n"
    got = _read(CsvReader, text)
    assert got == _read(csv.reader, text)  # type: ignore[arg-type]
    assert got[-1][0] == "error"  # type: ignore[index]


def test_quoted_fields_may_hold_commas_quotes_and_newlines() -> None:
    text = 'id,note\r\n1,"a, ""b""\r\nc"\r\n2,plain\r\n'
    assert _read(CsvReader, text) == [(1, ["id", "note"]), (3, ["1", 'a, "b"\r\nc']),
                                       (4, ["2", "plain"])]
