"""Settings of the ledger: one TOML file over documented defaults.

What this module guarantees:

* The defaults live in ``settlement/data/settings.default.toml``, every key commented there.
  :func:`load_settings` reads them, then a user's file over them key by key: the user's file
  needs only the keys it changes.
* The result is a frozen :class:`Settings` whose values are already typed and checked: amounts
  are ``int`` minor units of CNY, rates ``Decimal``, cut-offs ``datetime.time`` (local UTC+8).
* No float is ever made. Amounts and rates are quoted decimal strings in the file, parsed
  exactly (``ledger.money.parse_amount``); a TOML float is refused with a message saying to quote
  it (the parser's floats are intercepted as text, never converted).
* A bad file is refused whole: an unknown key, a value of the wrong kind or out of range, or
  invalid TOML raises :class:`~ledger.errors.InputError` listing every :class:`Problem` found,
  each naming the file, the line (0 where it cannot be told) and the key as ``section.key``.
* Reading the two files is the only I/O.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time
from decimal import (
    Decimal,
)
from pathlib import Path
from typing import Any, Final

from fx.conversion import Rounding
from ledger.errors import InputError, LedgerError, Problem, UnknownCurrency
from ledger.money import CURRENCIES, DEFAULT_CURRENCIES, currency, format_amount, parse_amount
from settlement.rules import PRODUCT_TYPES, RISKS, EligibilityRule

DEFAULT_SETTINGS_FILE: Final = Path(__file__).resolve().parent / "data" / "settings.default.toml"

#: The currency of every quota amount.
QUOTA_CURRENCY: Final = "CNY"

#: Rounding modes a rate book may name: those the FX module implements (fx.conversion.Rounding):
#: half_even, half_up, and floor (toward the bank: the customer never gets more than exact).
ROUNDING_MODES: Final = tuple(mode.value for mode in Rounding)

BLOCK_DEAL_POLICIES: Final = ("residue", "allocate")


# -- the typed settings --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuotaSettings:
    """Quotas in CNY minor units (net basis)."""

    individual: int
    per_channel_when_two_channels: int
    aggregate_per_direction: int
    net_usage_floor_zero: bool


@dataclass(frozen=True, slots=True)
class CutoffSettings:
    """Cut-off per payment route (the currency of the leg), local time UTC+8."""

    cny: time
    hkd: time
    mop: time
    usd: time

    def for_currency(self, code: str) -> time:
        """The cut-off of the route of ``code`` (``CNY`` is the RMB route)."""
        if code not in ("CNY", "HKD", "MOP", "USD"):
            raise UnknownCurrency(f"no cut-off for currency {code!r}")
        value: time = getattr(self, code.lower())
        return value


@dataclass(frozen=True, slots=True)
class BookSettings:
    """The rules of one rate book, defaults of ``[fx]`` already applied."""

    rounding: str
    staleness_business_days: int


@dataclass(frozen=True, slots=True)
class FxSettings:
    staleness_business_days: int
    rounding: str
    peg_bid: Decimal
    peg_ask: Decimal
    block_deal_policy: str
    #: Books with an override, sorted by name; any other book follows the defaults above.
    books: tuple[tuple[str, BookSettings], ...] = ()

    def book(self, name: str) -> BookSettings:
        for book_name, settings in self.books:
            if book_name == name:
                return settings
        return BookSettings(self.rounding, self.staleness_business_days)

    def rounding_for(self, book: str) -> str:
        """The rounding mode name of ``book`` (a key of :data:`ROUNDING_MODES`)."""
        return self.book(book).rounding

    def staleness_for(self, book: str) -> int:
        """How many business days a rate of ``book`` stays usable."""
        return self.book(book).staleness_business_days


@dataclass(frozen=True, slots=True)
class ReconciliationSettings:
    date_tolerance_days: int
    cnh_as_cny: bool
    statement_max_bytes: int
    #: Statement account id (camt ``Acct/Id``, MT940 ``:25:``) -> the ledger account it is
    #: the statement of, where the two are not written alike; sorted pairs.
    statement_accounts: tuple[tuple[str, str], ...] = ()
    #: The most XML elements one statement file may hold (memory and time stay bounded).
    statement_max_elements: int = 2_000_000

    def statement_account_of(self, statement_account: str) -> str | None:
        """The ledger account mapped to ``statement_account``, if any."""
        return dict(self.statement_accounts).get(statement_account)


@dataclass(frozen=True, slots=True)
class LedgerSettings:
    #: The ISO 4217 currencies the ledger carries; a statement or file in another is refused.
    currencies: tuple[str, ...] = DEFAULT_CURRENCIES


@dataclass(frozen=True, slots=True)
class CalendarSettings:
    #: A day-override CSV for ``settlement.calendars.read_day_overrides``; ``None``: none.
    overrides: Path | None


@dataclass(frozen=True, slots=True)
class InputSettings:
    #: A value date or ``submitted_at`` more than this many days from the batch's clock is an
    #: input error of its line.
    value_date_window_days: int = 3650


@dataclass(frozen=True, slots=True)
class EligibilitySettings:
    #: The eligibility table: a product is eligible for a direction when one rule admits it.
    rules: tuple[EligibilityRule, ...]


@dataclass(frozen=True, slots=True)
class AuditSettings:
    #: Where a signed checkpoint ``checkpoint-<last_seq>.json`` is written after every committed
    #: batch; ``None``: none is written.
    checkpoint_dir: Path | None = None
    #: The Ed25519 private key (PEM, ``wmc audit keygen``) that signs them.
    checkpoint_key: Path | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    quota: QuotaSettings
    cutoffs: CutoffSettings
    fx: FxSettings
    reconciliation: ReconciliationSettings
    calendar: CalendarSettings
    eligibility: EligibilitySettings
    input: InputSettings = InputSettings()
    audit: AuditSettings = AuditSettings()
    #: The files read, defaults first.
    sources: tuple[str, ...] = ()
    ledger: LedgerSettings = LedgerSettings()


# -- value parsers: raw TOML value -> typed value, or ValueError("what was expected") -------------


@dataclass(frozen=True, slots=True)
class _FloatLiteral:
    """A TOML float, kept as its text so that no float is ever made."""

    text: str


_DECIMAL_RE: Final = re.compile(r"^\d+(?:\.\d+)?$")
_TIME_RE: Final = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")

_Parser = Callable[[Any, Path], Any]


def _kind(value: Any) -> str:
    if isinstance(value, _FloatLiteral):
        return f"the float {value.text}"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a table"
    return f"{type(value).__name__} {value!r}"


def _amount(value: Any, _base: Path) -> int:
    example = '"3000000.00"'
    if isinstance(value, _FloatLiteral):
        raise ValueError(
            f"a quoted decimal string in major units such as {example}, got the float "
            f'{value.text}: floats are not exact, quote it ("{value.text}")'
        )
    if not isinstance(value, str):
        raise ValueError(
            f"a quoted decimal string in major units such as {example}, got {_kind(value)}"
        )
    try:
        minor = parse_amount(value, QUOTA_CURRENCY)
    except LedgerError as exc:
        raise ValueError(f"an amount of {QUOTA_CURRENCY} such as {example}: {exc}") from None
    if minor <= 0:
        raise ValueError(f"an amount above zero, got {value!r}")
    return minor


def _rate(value: Any, _base: Path) -> Decimal:
    if isinstance(value, _FloatLiteral):
        raise ValueError(
            f'a quoted decimal rate such as "1.03", got the float {value.text}: '
            f'floats are not exact, quote it ("{value.text}")'
        )
    if not isinstance(value, str) or not _DECIMAL_RE.match(value):
        raise ValueError(f'a quoted decimal rate such as "1.03", got {_kind(value)}')
    rate = Decimal(value)
    if rate <= 0:
        raise ValueError(f"a rate above zero, got {value!r}")
    return rate


def _bool(value: Any, _base: Path) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"true or false (unquoted), got {_kind(value)}")
    return value


def _count(minimum: int, maximum: int | None = None) -> _Parser:
    def parse(value: Any, _base: Path) -> int:
        if type(value) is not int:
            raise ValueError(f"a whole number (at least {minimum}), got {_kind(value)}")
        if value < minimum:
            raise ValueError(f"a whole number of at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ValueError(f"a whole number of at most {maximum}, got {value}")
        return value

    return parse


def _currencies(value: Any, _base: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(
            f'a non-empty list of ISO 4217 codes such as ["MOP", "HKD"], got {_kind(value)}'
        )
    codes: list[str] = []
    for code in value:
        try:
            currency(code)
        except UnknownCurrency as exc:
            raise ValueError(f"ISO 4217 codes ({exc})") from None
        if code in codes:
            raise ValueError(f"each currency once, got {code} twice")
        codes.append(code)
    return tuple(codes)


def _time(value: Any, _base: Path) -> time:
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise ValueError('a local time (UTC+8) without offset, such as "19:30"')
        return value
    if isinstance(value, str):
        m = _TIME_RE.match(value)
        if m:
            return time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
    raise ValueError(f'a time "HH:MM" (00:00-23:59) such as "19:30", got {_kind(value)}')


def _choice(*choices: str) -> _Parser:
    def parse(value: Any, _base: Path) -> str:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"one of {', '.join(choices)}, got {_kind(value)}")
        return value

    return parse


def _account_map(value: Any, _base: Path) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise ValueError('a table of statement account id = "ledger account", such as '
                         f'{{ "HK33HKB0001" = "HKB-NOSTRO-HKD" }}, got {_kind(value)}')
    for key, account in value.items():
        if not isinstance(account, str) or not account.strip() or not key.strip():
            raise ValueError(f'a ledger account code (quoted text) for statement account '
                             f'{key!r}, got {_kind(account)}')
    return tuple(sorted((k.strip(), v.strip()) for k, v in value.items()))


def _path(value: Any, base: Path) -> Path | None:
    if not isinstance(value, str):
        raise ValueError(f'a quoted file path, or "" for none, got {_kind(value)}')
    if value == "":
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


_ROUNDING: Final = _choice(*ROUNDING_MODES)

_NAME_RE: Final = re.compile(r"^[a-z][a-z0-9_]*$")
_CODE_RE: Final = re.compile(r"^[A-Z][A-Z0-9_]*$")
_MARKETS: Final = ("MO", "HK", "CN")
_RULE_KEYS: Final = ("name", "direction", "product_type", "source", "seller_markets",
                     "currencies", "max_risk", "categories", "exclude_categories", "non_complex",
                     "domiciles", "authorisations")


def _words(value: Any, what: str, check: Callable[[str], bool]) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and check(v) for v in value):
        raise ValueError(f"a list of {what}, got {_kind(value)}")
    return frozenset(value)


def _rule(index: int, value: Any) -> EligibilityRule:
    where = f"rule {index + 1}"
    if not isinstance(value, dict):
        raise ValueError(f"{where}: a table of rule keys, got {_kind(value)}")
    unknown = sorted(set(value) - set(_RULE_KEYS))
    if unknown:
        raise ValueError(f"{where}: no such rule key {unknown[0]!r} (keys: "
                         f"{', '.join(_RULE_KEYS)})")
    for key in ("name", "direction", "product_type", "source"):
        if not isinstance(value.get(key), str) or not value[key]:
            raise ValueError(f"{where}: {key} (a non-empty string) is required")
    name = value["name"]
    where = f"rule {name!r}"
    if not _NAME_RE.match(name):
        raise ValueError(f"{where}: a snake_case name")
    if value["direction"] not in ("northbound", "southbound"):
        raise ValueError(f"{where}: direction northbound or southbound, got "
                         f"{value['direction']!r}")
    if value["product_type"] not in PRODUCT_TYPES:
        raise ValueError(f"{where}: product_type one of {', '.join(PRODUCT_TYPES)}, got "
                         f"{value['product_type']!r}")
    if value.get("max_risk", "R5") not in RISKS:
        raise ValueError(f"{where}: max_risk one of {', '.join(RISKS)}, got "
                         f"{_kind(value.get('max_risk'))}")
    if not isinstance(value.get("non_complex", False), bool):
        raise ValueError(f"{where}: non_complex true or false")
    try:
        lists = {
            "seller_markets": _words(value.get("seller_markets", []), "markets MO, HK, CN",
                                     lambda v: v in _MARKETS),
            "currencies": _words(value.get("currencies", []), "currency codes",
                                 lambda v: v in CURRENCIES),
            "categories": _words(value.get("categories", []), "snake_case categories",
                                 lambda v: bool(_NAME_RE.match(v))),
            "exclude_categories": _words(value.get("exclude_categories", []),
                                         "snake_case categories",
                                         lambda v: bool(_NAME_RE.match(v))),
            "domiciles": _words(value.get("domiciles", []), "two-letter codes such as HK",
                                lambda v: len(v) == 2 and bool(_CODE_RE.match(v))),
            "authorisations": _words(value.get("authorisations", []),
                                     "upper-case names such as SFC",
                                     lambda v: bool(_CODE_RE.match(v))),
        }
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    return EligibilityRule(
        name=name, direction=value["direction"], product_type=value["product_type"],
        source=value["source"], max_risk=value.get("max_risk", "R5"),
        non_complex=value.get("non_complex", False), **lists,
    )


def _eligibility_rules(value: Any, _base: Path) -> tuple[EligibilityRule, ...]:
    if not isinstance(value, list):
        raise ValueError(f"an array of tables [[eligibility.rules]], got {_kind(value)}")
    rules = tuple(_rule(i, v) for i, v in enumerate(value))
    names = [r.name for r in rules]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"rule names used once each; {repeated[0]!r} is repeated")
    return rules


# Every key of the file, as "section.key", and how its value is read.
_SCHEMA: Final[dict[str, _Parser]] = {
    "quota.individual": _amount,
    "quota.per_channel_when_two_channels": _amount,
    "quota.aggregate_per_direction": _amount,
    "quota.net_usage_floor_zero": _bool,
    "cutoffs.cny": _time,
    "cutoffs.hkd": _time,
    "cutoffs.mop": _time,
    "cutoffs.usd": _time,
    "fx.staleness_business_days": _count(0),
    "fx.rounding": _ROUNDING,
    "fx.peg_bid": _rate,
    "fx.peg_ask": _rate,
    "fx.block_deal_policy": _choice(*BLOCK_DEAL_POLICIES),
    "reconciliation.date_tolerance_days": _count(0),
    "reconciliation.cnh_as_cny": _bool,
    "reconciliation.statement_max_bytes": _count(1),
    "reconciliation.statement_accounts": _account_map,
    "reconciliation.statement_max_elements": _count(1),
    "calendar.overrides": _path,
    "audit.checkpoint_dir": _path,
    "audit.checkpoint_key": _path,
    "input.value_date_window_days": _count(0, maximum=36_500),
    "ledger.currencies": _currencies,
    "eligibility.rules": _eligibility_rules,
}
# Keys of a book's table, [fx.books.NAME].
_BOOK_SCHEMA: Final[dict[str, _Parser]] = {
    "rounding": _ROUNDING,
    "staleness_business_days": _count(0),
}
_BOOKS_PREFIX: Final = "fx.books."
_TABLES: Final = frozenset(k.rsplit(".", 1)[0] for k in _SCHEMA) | {"fx.books"}


# -- reading a file -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Value:
    raw: Any
    file: str
    line: int
    base: Path


_TABLE_LINE_RE: Final = re.compile(r"^\s*\[\s*([A-Za-z0-9_\-. ]+?)\s*\]\s*(?:#.*)?$")
_KEY_LINE_RE: Final = re.compile(r"^\s*([A-Za-z0-9_\-]+(?:\s*\.\s*[A-Za-z0-9_\-]+)*)\s*=")
_TOML_AT_LINE_RE: Final = re.compile(r"at line (\d+)")


def _key_lines(text: str) -> dict[str, int]:
    """Where each ``section.key`` (and each table) is written: a best-effort scan of the text.

    ``tomllib`` gives no positions; bare keys and ``[table]`` headers cover every file this
    module documents. A key the scan cannot place (quoted keys, inline tables) is reported on
    line 0.
    """
    lines: dict[str, int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        m = _TABLE_LINE_RE.match(line)
        if m:
            table = re.sub(r"\s+", "", m.group(1))
            lines.setdefault(table, number)
            continue
        m = _KEY_LINE_RE.match(line)
        if m:
            key = re.sub(r"\s+", "", m.group(1))
            lines.setdefault(f"{table}.{key}" if table else key, number)
    return lines


def _read(path: Path, problems: list[Problem]) -> dict[str, _Value]:
    """The file's values flattened to ``{"section.key": _Value}``; problems appended."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(Problem(name, 0, "file", "an existing, readable settings file"))
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(name, 0, "file", f"a readable UTF-8 TOML file ({exc})"))
        return {}
    try:
        doc = tomllib.loads(text, parse_float=_FloatLiteral)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_AT_LINE_RE.search(str(exc))
        problems.append(Problem(name, int(m.group(1)) if m else 0, "toml", f"valid TOML ({exc})"))
        return {}
    except RecursionError:  # tomllib recurses per nested array or inline table
        deep = next((i for i, ln in enumerate(text.splitlines(), start=1)
                     if ln.count("[") + ln.count("{") > 100), 0)
        problems.append(Problem(name, deep, "toml", "TOML values nested a few levels at most"))
        return {}
    lines = _key_lines(text)
    base = path.resolve().parent
    flat: dict[str, _Value] = {}

    def walk(table: Mapping[str, Any], prefix: str) -> None:
        for key, value in table.items():
            full = f"{prefix}{key}"
            if isinstance(value, dict) and (full in _TABLES or full.startswith(_BOOKS_PREFIX)):
                walk(value, f"{full}.")
            else:
                flat[full] = _Value(value, name, lines.get(full, 0), base)

    walk(doc, "")
    return flat


def _parse_all(values: Mapping[str, _Value], problems: list[Problem]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for key, v in values.items():
        parser = _SCHEMA.get(key)
        if parser is None and key.startswith(_BOOKS_PREFIX):
            book, _, book_key = key[len(_BOOKS_PREFIX) :].partition(".")
            parser = _BOOK_SCHEMA.get(book_key) if book else None
            if not book_key:
                problems.append(Problem(v.file, v.line, key, f"a table [{key}] of book settings"))
                continue
        if parser is None:
            expected = (
                f"a table [{key}], got {_kind(v.raw)}"
                if key in _TABLES
                else "no such setting (unknown key)"
            )
            problems.append(Problem(v.file, v.line, key, expected))
            continue
        try:
            parsed[key] = parser(v.raw, v.base)
        except ValueError as exc:
            problems.append(Problem(v.file, v.line, key, str(exc)))
    return parsed


def load_settings(path: str | Path | None = None) -> Settings:
    """The defaults, with the settings file at ``path`` (if any) merged over them.

    Raises :class:`~ledger.errors.InputError` listing every problem of the file(s).
    """
    problems: list[Problem] = []
    values = _read(DEFAULT_SETTINGS_FILE, problems)
    sources = [str(DEFAULT_SETTINGS_FILE)]
    if path is not None:
        values.update(_read(Path(path), problems))
        sources.append(str(path))
    if problems:
        raise InputError(problems)
    parsed = _parse_all(values, problems)
    if problems:
        raise InputError(sorted(problems, key=lambda p: (p.file != sources[0], p.file, p.line)))
    _check_consistency(values, parsed, problems)
    if problems:
        raise InputError(problems)
    return _build(parsed, tuple(sources))


def _check_consistency(
    values: Mapping[str, _Value], parsed: Mapping[str, Any], problems: list[Problem]
) -> None:
    def refuse(first: str, second: str, expected_first: str, expected_second: str) -> None:
        # Name the key the user's file set (the defaults agree with each other).
        key, expected = (first, expected_first)
        if values[second].file != str(DEFAULT_SETTINGS_FILE) and (
            values[first].file == str(DEFAULT_SETTINGS_FILE)
        ):
            key, expected = (second, expected_second)
        problems.append(Problem(values[key].file, values[key].line, key, expected))

    bid, ask = parsed["fx.peg_bid"], parsed["fx.peg_ask"]
    if bid > ask:
        refuse(
            "fx.peg_bid",
            "fx.peg_ask",
            f"at most fx.peg_ask ({ask}): a bid above the ask",
            f"at least fx.peg_bid ({bid}): an ask below the bid",
        )
    if (parsed["audit.checkpoint_dir"] is None) != (parsed["audit.checkpoint_key"] is None):
        refuse(
            "audit.checkpoint_dir",
            "audit.checkpoint_key",
            '"" (none), or also set audit.checkpoint_key: checkpoints are signed',
            '"" (none), or also set audit.checkpoint_dir: where the checkpoints go',
        )
    channel = parsed["quota.per_channel_when_two_channels"]
    individual = parsed["quota.individual"]
    if channel > individual:
        refuse(
            "quota.per_channel_when_two_channels",
            "quota.individual",
            f"at most quota.individual ({format_amount(individual, QUOTA_CURRENCY)})",
            "at least quota.per_channel_when_two_channels "
            f"({format_amount(channel, QUOTA_CURRENCY)})",
        )


def _build(p: Mapping[str, Any], sources: tuple[str, ...]) -> Settings:
    fx_rounding: str = p["fx.rounding"]
    fx_staleness: int = p["fx.staleness_business_days"]
    book_values: dict[str, dict[str, Any]] = {}
    for key, value in p.items():
        if key.startswith(_BOOKS_PREFIX):
            book, _, book_key = key[len(_BOOKS_PREFIX) :].partition(".")
            book_values.setdefault(book, {})[book_key] = value
    books = tuple(
        (
            name,
            BookSettings(
                rounding=kv.get("rounding", fx_rounding),
                staleness_business_days=kv.get("staleness_business_days", fx_staleness),
            ),
        )
        for name, kv in sorted(book_values.items())
    )
    return Settings(
        quota=QuotaSettings(
            individual=p["quota.individual"],
            per_channel_when_two_channels=p["quota.per_channel_when_two_channels"],
            aggregate_per_direction=p["quota.aggregate_per_direction"],
            net_usage_floor_zero=p["quota.net_usage_floor_zero"],
        ),
        cutoffs=CutoffSettings(
            cny=p["cutoffs.cny"], hkd=p["cutoffs.hkd"], mop=p["cutoffs.mop"], usd=p["cutoffs.usd"]
        ),
        fx=FxSettings(
            staleness_business_days=fx_staleness,
            rounding=fx_rounding,
            peg_bid=p["fx.peg_bid"],
            peg_ask=p["fx.peg_ask"],
            block_deal_policy=p["fx.block_deal_policy"],
            books=books,
        ),
        reconciliation=ReconciliationSettings(
            date_tolerance_days=p["reconciliation.date_tolerance_days"],
            cnh_as_cny=p["reconciliation.cnh_as_cny"],
            statement_max_bytes=p["reconciliation.statement_max_bytes"],
            statement_accounts=p["reconciliation.statement_accounts"],
            statement_max_elements=p["reconciliation.statement_max_elements"],
        ),
        calendar=CalendarSettings(overrides=p["calendar.overrides"]),
        audit=AuditSettings(checkpoint_dir=p["audit.checkpoint_dir"],
                            checkpoint_key=p["audit.checkpoint_key"]),
        input=InputSettings(value_date_window_days=p["input.value_date_window_days"]),
        eligibility=EligibilitySettings(rules=p["eligibility.rules"]),
        sources=sources,
        ledger=LedgerSettings(currencies=p["ledger.currencies"]),
    )
