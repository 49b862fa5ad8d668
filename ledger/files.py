"""Reading input files: CSV with a header row, or JSON Lines with the same field names.

The format is chosen by the extension (``.csv``, ``.jsonl``). Rows are streamed, never read whole.
Each row is parsed field by field by a :class:`Schema`; every problem found is collected as a
:class:`~ledger.errors.Problem` naming the file, the line and the field, so a caller can refuse a
whole file listing all its errors at once. No float is ever made: JSON numbers arrive as their
literal text and are parsed like CSV strings.

Every text field of every reader goes through :func:`clean_text`: trimmed of surrounding
whitespace, then refused if it holds anything that is not printable (control characters and
so ANSI escapes, NUL, bidi overrides and other format characters, lone surrogates, line and
paragraph separators) or is longer than its column. A JSON Lines row is a flat object of
strings, numbers, booleans and nulls; any nesting (however deep) is a problem of that line,
never a ``RecursionError``. Timestamps have one form, :data:`TIMESTAMP_FORM`, and dates one,
``YYYY-MM-DD``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ledger.errors import InputError, LedgerError, Problem

Parser = Callable[[str], Any]

#: The longest text of a field whose column has no narrower bound (names, sources, notes).
MAX_TEXT: Final = 256
#: The one accepted timestamp form: ISO 8601 extended, with a "T" and an offset.
TIMESTAMP_FORM: Final = "YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM"
_TIMESTAMP_RE: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?[+-][0-9]{2}:[0-9]{2}"
)
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ALLOWED_TEXT: Final = ("printable characters (no control characters or escapes, bidi "
                        "overrides, format characters or surrogates)")


def clean_text(text: str, limit: int | None = MAX_TEXT) -> str:
    """``text`` trimmed, if it is printable and at most ``limit`` characters; else ValueError
    saying what is allowed. The one normalisation of every text field of every reader.
    ``limit=None``: the field's own parser bounds it (an amount names its largest value)."""
    if not isinstance(text, str):
        raise ValueError(f"a text value, got {type(text).__name__}")
    text = text.strip()
    if limit is not None and len(text) > limit:
        raise ValueError(f"at most {limit} characters, got {len(text)}")
    # str.isprintable is False for Cc (controls, ESC, NUL), Cf (bidi overrides U+202A..U+202E
    # and U+2066..U+2069, zero-width characters), Cs (surrogates), Co, Cn, Zl, Zp and every
    # space but U+0020: one C call for the usual ASCII identifier.
    if not text.isprintable():
        raise ValueError(f"{_ALLOWED_TEXT}, got {text!r}")
    return text


def parse_timestamp(text: str) -> dt.datetime:
    """An aware timestamp in :data:`TIMESTAMP_FORM` exactly; ValueError naming the form."""
    if isinstance(text, str) and _TIMESTAMP_RE.fullmatch(text):
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            pass
    shown = text if isinstance(text, str) else type(text).__name__
    raise ValueError(f"a timestamp with its UTC offset, {TIMESTAMP_FORM} like "
                     f"2025-03-03T09:15:00+08:00, got {shown!r}")


def parse_date(text: str) -> dt.date:
    """A date ``YYYY-MM-DD`` exactly (``date.fromisoformat`` also takes ``20250303``)."""
    if isinstance(text, str) and _DATE_RE.fullmatch(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"a date YYYY-MM-DD, got {text!r}")


def date_window(around: dt.date, days: int) -> tuple[dt.date, dt.date]:
    """The dates at most ``days`` from ``around``, clipped to the calendar's ends."""
    lo = around.toordinal() - days
    hi = around.toordinal() + days
    return (dt.date.fromordinal(max(lo, dt.date.min.toordinal())),
            dt.date.fromordinal(min(hi, dt.date.max.toordinal() - 1)))


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    parse: Parser = str
    required: bool = False
    default: Any = None
    limit: int = MAX_TEXT  # the column's length: longer text is refused, never cut


@dataclass(frozen=True, slots=True)
class Schema:
    fields: tuple[Field, ...]

    @property
    def names(self) -> set[str]:
        return {f.name for f in self.fields}


def _literal(value: Any) -> str:
    # json.loads(parse_float=str, parse_int=str) leaves numbers as text; bools and null remain.
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    raise ValueError(_FLAT)


_FLAT: Final = "a flat JSON object: each value a string, number, boolean or null"


def duplicate_columns(name: str, header: list[str]) -> list[Problem]:
    """A column named twice in a CSV header: which of the two values would count?"""
    return [Problem(name, 1, col, "one column of this name (duplicate column)")
            for col in _repeated(header)]


def _repeated(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    twice = []
    for n in names:
        if n in seen:
            twice.append(n)
        seen.add(n)
    return twice


def undecodable_lines(path: Path) -> list[Problem]:
    """Every line of ``path`` that is not UTF-8, by number (read again, in bytes, only when
    decoding the file has failed)."""
    name = str(path)
    out = []
    with path.open("rb") as fh:
        for line, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                out.append(Problem(name, line, "text", f"UTF-8 text ({exc.reason})"))
    return out or [Problem(name, 0, "file", "UTF-8 text")]


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _DuplicateKey(_repeated(k for k, _ in pairs)[0])
    return out


class _DuplicateKey(ValueError):
    pass


class CsvReader:
    """``csv.reader(fh)`` (excel dialect), with the same records and ``line_num``, faster for
    the usual line.

    A line without a quote, and no longer than the csv module's field limit, is one record
    whatever the dialect's other rules: it is split on commas, which is what the csv module
    makes of it. Any other line goes to a ``csv.reader`` (with the lines a quoted field
    runs on to), so quoting, embedded newlines and errors are the csv module's own. Open the
    file with ``newline=""``, as for the csv module.
    """

    def __init__(self, fh: Iterator[str]) -> None:
        self._fh = fh
        self._held: str | None = None
        self.line_num = 0  # the last line read, as csv.reader's
        self._reader = csv.reader(self._feed())
        self._records = self._read()

    def __iter__(self) -> Iterator[list[str]]:
        return self._records

    def __next__(self) -> list[str]:
        return next(self._records)

    def _feed(self) -> Iterator[str]:
        """The csv module's lines: the one held back for it, then the file's next ones."""
        while True:
            line = self._held
            if line is None:
                line = next(self._fh, None)
                if line is None:
                    return
            else:
                self._held = None
            self.line_num += 1
            yield line

    def _read(self) -> Iterator[list[str]]:
        reader, limit = self._reader, csv.field_size_limit()
        for line in self._fh:
            if '"' in line or len(line) > limit:
                self._held = line
                yield next(reader)
                continue
            self.line_num += 1
            text = line.rstrip("\r\n")
            yield text.split(",") if text else []


def iter_raw(path: Path) -> Iterator[tuple[int, dict[str, str] | Problem]]:
    """Yield ``(line, {column: text})`` per data row, or a Problem for a row that cannot be read.

    A missing or unknown column is checked by :func:`read_rows`, which knows the schema.
    """
    name = str(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as fh:  # a BOM is not a column name
            reader = CsvReader(fh)
            try:
                header = next(reader)
            except StopIteration:
                yield 1, Problem(name, 1, "header", "a header row")
                return
            except csv.Error as exc:  # a header over the csv module's field limit, say
                yield 1, Problem(name, 1, "header", f"a CSV header row ({exc})")
                return
            header = [h.strip() for h in header]
            if not any(header):
                yield 1, Problem(name, 1, "header", "a header row (the first line is blank)")
                return
            for problem in duplicate_columns(name, header):
                yield 1, problem
            yield 1, {"__header__": ",".join(header)}
            try:
                for row in reader:
                    line = reader.line_num
                    if not row or row == [""]:
                        continue
                    if len(row) != len(header):
                        yield line, Problem(
                            name, line, "row", f"{len(header)} values, got {len(row)}"
                        )
                        continue
                    yield line, dict(zip(header, row, strict=True))
            except csv.Error as exc:  # a field over the csv module's limit, say: stop there
                yield reader.line_num, Problem(name, reader.line_num, "row", f"a CSV row ({exc})")
    elif suffix == ".jsonl":
        with path.open(encoding="utf-8") as fh:
            for line, text in enumerate(fh, start=1):
                if not text.strip():
                    continue
                try:
                    obj = json.loads(text, parse_float=str, parse_int=str,
                                     object_pairs_hook=_unique_keys)
                except json.JSONDecodeError as exc:
                    yield line, Problem(name, line, "json", f"a JSON object ({exc.msg})")
                    continue
                except RecursionError:  # the decoder's own depth check, deep below any row
                    yield line, Problem(name, line, "json", _FLAT)
                    continue
                except _DuplicateKey as exc:
                    yield line, Problem(name, line, str(exc), "one value (duplicate field)")
                    continue
                if not isinstance(obj, dict):
                    yield line, Problem(name, line, "json", "a JSON object")
                    continue
                out: dict[str, str] = {}
                bad = False
                for key, value in obj.items():
                    if not key.isprintable() or len(key) > MAX_TEXT:
                        yield line, Problem(name, line, ascii(key)[1:-1][:MAX_TEXT],
                                            f"a field name of {_ALLOWED_TEXT}")
                        bad = True
                        continue
                    try:
                        out[key] = _literal(value)
                    except ValueError as exc:
                        yield line, Problem(name, line, key, str(exc))
                        bad = True
                if not bad:
                    yield line, out
    else:
        raise InputError([Problem(name, 0, "file", "a .csv or .jsonl file")])


def read_rows(
    path: str | Path, schema: Schema, problems: list[Problem]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Stream parsed rows; append every problem to ``problems`` and skip the rows that have one.

    The caller decides what to do with the problems (usually: refuse the whole file).
    """
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputError([Problem(name, 0, "file", "an existing, readable file")])
    known = schema.names
    required = [f.name for f in schema.fields if f.required]
    absent: set[str] = set()  # required columns missing from a CSV header: reported once
    try:
        for line, raw in iter_raw(path):
            if isinstance(raw, Problem):
                problems.append(raw)
                continue
            if "__header__" in raw:
                columns = raw["__header__"].split(",")
                for col in columns:
                    if col not in known:
                        problems.append(Problem(name, 1, col, "no such column (unknown column)"))
                for col in required:
                    if col not in columns:
                        problems.append(Problem(name, 1, col, "a required column (missing)"))
                        absent.add(col)
                continue
            parsed, ok = _parse_row(name, line, raw, schema, known, absent, problems)
            if ok and not absent:  # rows without a required column are checked, never handed out
                yield line, parsed
    except UnicodeDecodeError:
        raise InputError(undecodable_lines(path)) from None


def _parse_row(
    name: str,
    line: int,
    raw: Mapping[str, str],
    schema: Schema,
    known: set[str],
    absent: set[str],
    problems: list[Problem],
) -> tuple[dict[str, Any], bool]:
    ok = True
    for key in raw:
        if key not in known:
            if name.endswith(".csv"):
                continue  # already reported once, on the header line
            problems.append(Problem(name, line, key, "no such field (unknown field)"))
            ok = False
    out: dict[str, Any] = {}
    for f in schema.fields:
        try:
            text = clean_text(raw.get(f.name, ""), f.limit)
        except ValueError as exc:
            problems.append(Problem(name, line, f.name, str(exc)))
            ok = False
            continue
        if text == "":
            if f.required and f.name not in absent:
                problems.append(Problem(name, line, f.name, "a value (required)"))
                ok = False
            out[f.name] = f.default
            continue
        try:
            out[f.name] = f.parse(text)
        except (LedgerError, ValueError) as exc:
            problems.append(Problem(name, line, f.name, str(exc)))
            ok = False
    return out, ok


# -- common field parsers ----------------------------------------------------------------------


def parse_bool(text: str) -> bool:
    low = text.lower()
    if low in ("true", "1", "yes"):
        return True
    if low in ("false", "0", "no"):
        return False
    raise ValueError(f"true or false, got {text!r}")


def one_of(*choices: str) -> Parser:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"one of {', '.join(choices)}, got {text!r}")
        return text

    return parse
