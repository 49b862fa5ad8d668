"""The public API's promise, written down: every public name of ``wmc_ledger`` and of its
pytest plugin ``wmc_ledger.testing``, with its signature, compared with the golden list below.

Changing the public API is a conscious act, in three edits that this test enforces:

1. update ``GOLDEN`` (the failure message prints the new listing);
2. add a revision to ``REVISIONS`` with the new listing's SHA-256 (the message prints it too);
3. add a line ``API revision N: what changed`` to the changelog in README.md.

The README's "Python API and pytest plugin" section must also name every public name.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import wmc_ledger
import wmc_ledger.testing

README = Path(__file__).parent.parent / "README.md"


def signature(prefix: str, obj: Any, indent: str) -> list[str]:
    """``prefix`` and the signature of ``obj``: one line if it is short, else a parameter a
    line (so that a change shows as a one-line diff)."""
    try:
        sig = inspect.signature(obj)
    except ValueError:  # exceptions built on Exception's C constructor
        return [f"{indent}{prefix}(...)"]
    line = f"{indent}{prefix}{sig}"
    if len(line) <= 96:
        return [line]
    params: list[str] = []
    kinds = [p.kind for p in sig.parameters.values()]
    for i, p in enumerate(sig.parameters.values()):
        if p.kind is p.KEYWORD_ONLY and p.VAR_POSITIONAL not in kinds[:i] and (
                i == 0 or kinds[i - 1] is not p.KEYWORD_ONLY):
            params.append("*")
        params.append(str(p))
        if p.kind is p.POSITIONAL_ONLY and (i + 1 == len(kinds)
                                            or kinds[i + 1] is not p.POSITIONAL_ONLY):
            params.append("/")
    annotation = sig.return_annotation
    returns = ("" if annotation is inspect.Signature.empty
               else f" -> {annotation!r}" if isinstance(annotation, str)
               else f" -> {inspect.formatannotation(annotation)}")
    return [f"{indent}{prefix}(", *(f"{indent}    {p}," for p in params), f"{indent}){returns}"]


def describe(module: ModuleType, names: list[str]) -> list[str]:
    """The public names of ``module``: classes with their constructor and public members,
    functions with their signature, other values with their repr."""
    lines = []
    for name in sorted(names):
        obj = getattr(module, name)
        if inspect.isclass(obj):
            bases = ", ".join(b.__name__ for b in obj.__bases__)
            lines.append(f"class {name}({bases})")
            lines += signature("__init__", obj, "    ")
            for attr in sorted(vars(obj)):
                if attr.startswith("_"):
                    continue
                member = inspect.getattr_static(obj, attr)
                if isinstance(member, property):
                    lines.append(f"    {attr}: property")
                elif isinstance(member, classmethod | staticmethod):
                    kind = type(member).__name__
                    lines += signature(f"{kind} {attr}", member.__func__, "    ")
                elif inspect.isfunction(member):
                    lines += signature(f"def {attr}", member, "    ")
                elif inspect.ismemberdescriptor(member):
                    lines.append(f"    {attr}: field")
                else:
                    lines.append(f"    {attr} = {member!r}")
        elif inspect.isfunction(obj):
            lines += signature(f"def {name}", obj, "")
        else:
            lines.append(f"{name} = {obj!r}")
    return lines


def fixture_names() -> list[str]:
    return sorted(n for n, obj in vars(wmc_ledger.testing).items()
                  if n.startswith("wmc_") and callable(obj))


def listing() -> str:
    testing = wmc_ledger.testing
    lines = ["# wmc_ledger", *describe(wmc_ledger, list(wmc_ledger.__all__)),
             "# wmc_ledger.testing", *describe(testing, list(testing.__all__)),
             "# fixtures", *fixture_names(),
             "# options", "--wmc-db URL", f"env {testing.ENV_VAR}"]
    return "\n".join(lines) + "\n"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


GOLDEN = r'''
# wmc_ledger
class AggregateQuota(object)
    __init__(direction: 'str', used: 'Money', remaining: 'Money') -> None
    direction: field
    remaining: field
    def to_dict(self) -> 'dict[str, str]'
    used: field
class AmountError(LedgerError, ValueError)
    __init__(...)
class AtomicBatchRolledBack(BatchRolledBack)
    __init__(batch: 'Batch', message: 'str') -> 'None'
class AuditResult(object)
    __init__(
        entries: 'int',
        transfers: 'int',
        problems: 'tuple[str, ...]' = (),
        events: 'int' = 0,
    ) -> None
    entries: field
    events: field
    ok: property
    problems: field
    transfers: field
class Balance(object)
    __init__(
        account: 'str',
        bank_id: 'str',
        currency: 'str',
        type: 'str',
        debits: 'Money',
        credits: 'Money',
        balance: 'Money',
    ) -> None
    account: field
    balance: field
    bank_id: field
    credits: field
    currency: field
    debits: field
    def to_dict(self) -> 'dict[str, str]'
    type: field
class Batch(object)
    __init__(
        batch_id: 'str',
        file_sha256: 'str',
        instructions: 'int',
        accepted: 'int',
        rejected: 'int',
        duplicates: 'int',
        rejections: 'tuple[Rejection, ...]' = (),
        positions: 'tuple[Position, ...]' = (),
        obligations: 'tuple[Obligation, ...]' = (),
        gross_payments: 'tuple[GrossPayment, ...]' = (),
        moved_dates: 'tuple[MovedDate, ...]' = (),
        duplicates_detail: 'tuple[Duplicate, ...]' = (),
        committed: 'bool' = True,
    ) -> None
    accepted: field
    batch_id: field
    codes: property
    committed: field
    duplicates: field
    duplicates_detail: field
    file_sha256: field
    gross_payments: field
    instructions: field
    moved_dates: field
    def obligation(self, payer: 'str', payee: 'str', currency: 'str') -> 'Money'
    obligations: field
    def position(self, bank_id: 'str', currency: 'str') -> 'Money'
    positions: field
    rejected: field
    rejections: field
    status: property
    def to_dict(self) -> 'dict[str, Any]'
    def to_json(self) -> 'str'
class BatchRolledBack(LedgerError)
    __init__(...)
    exit_code = 1
class BatchSummary(object)
    __init__(
        batch_id: 'str',
        file_name: 'str',
        file_sha256: 'str',
        committed_at: 'str',
        instructions: 'int',
        accepted: 'int',
        rejected: 'int',
        duplicates: 'int',
        state: 'str',
        reverses: 'str | None' = None,
        reversed_by: 'str | None' = None,
    ) -> None
    accepted: field
    batch_id: field
    committed_at: field
    duplicates: field
    file_name: field
    file_sha256: field
    instructions: field
    rejected: field
    reversed_by: field
    reverses: field
    state: field
    def to_dict(self) -> 'dict[str, Any]'
class Break(object)
    __init__(
        type: 'str',
        amount: 'Money',
        statement_ref: 'str | None',
        ledger_ref: 'str | None',
        value_date: 'dt.date',
        end_to_end_id: 'str | None' = None,
        ledger_entry_id: 'str | None' = None,
        detail: 'str' = '',
    ) -> None
    amount: field
    detail: field
    end_to_end_id: field
    ledger_entry_id: field
    ledger_ref: field
    statement_ref: field
    def to_dict(self) -> 'dict[str, Any]'
    type: field
    value_date: field
class Checkpoint(object)
    __init__(
        ledger_id: 'str',
        last_seq: 'int',
        last_transfer_id: 'int',
        entries_size: 'int',
        entries_root: 'bytes',
        events_size: 'int',
        events_root: 'bytes',
        root: 'bytes',
        created_at: 'str',
        key_id: 'str',
        signature: 'bytes',
        version: 'int' = 1,
    ) -> None
    created_at: field
    entries_root: field
    entries_size: field
    events_root: field
    events_size: field
    key_id: field
    last_seq: field
    last_transfer_id: field
    ledger_id: field
    def log_root(self, log: "Literal['entries', 'events']") -> 'bytes'
    root: field
    signature: field
    def size(self, log: "Literal['entries', 'events']") -> 'int'
    def statement(self) -> 'dict[str, Any]'
    def to_dict(self) -> 'dict[str, Any]'
    def to_json(self) -> 'str'
    version: field
class CheckpointNotWritten(LedgerError)
    __init__(message: 'str', batch: 'Any' = None) -> 'None'
    exit_code = 3
Clock = collections.abc.Callable[[], datetime.datetime]
class ConflictError(LedgerError)
    __init__(...)
class ConversionResult(object)
    __init__(
        entry_id: 'str',
        code: 'str',
        message: 'str',
        sold: 'Money',
        bought: 'Money | None' = None,
        spread: 'Money | None' = None,
        rounding: 'Money | None' = None,
        rate: 'Decimal | None' = None,
    ) -> None
    bought: field
    code: field
    entry_id: field
    message: field
    ok: property
    rate: field
    rounding: field
    sold: field
    spread: field
class CurrencyTotal(object)
    __init__(currency: 'str', debits: 'Money', credits: 'Money') -> None
    credits: field
    currency: field
    debits: field
    def to_dict(self) -> 'dict[str, str]'
class DatabaseError(LedgerError)
    __init__(...)
class Duplicate(object)
    __init__(
        instruction_id: 'str',
        line: 'int',
        duplicate_of: 'str',
        batch_id: 'str | None',
        code: 'str | None' = None,
    ) -> None
    batch_id: field
    code: field
    duplicate_of: field
    instruction_id: field
    line: field
    def to_dict(self) -> 'dict[str, Any]'
class Entry(object)
    __init__(
        id: 'str',
        transfers: 'tuple[Transfer, ...]',
        value_date: 'dt.date | None' = None,
        kind: 'str' = 'transfer',
        meta: 'Mapping[str, str] | None' = None,
        reverses: 'str | None' = None,
    ) -> None
    id: field
    kind: field
    meta: field
    reverses: field
    transfers: field
    value_date: field
class FixedClock(object)
    __init__(
        start: 'dt.datetime | str' = datetime.datetime(2025, 3, 3, 18, 0, tzinfo=datetime.timezone(datetime.timedelta(seconds=28800), 'UTC+08:00')),
        *,
        tick: 'dt.timedelta' = datetime.timedelta(0),
    ) -> 'None'
    def advance(
        self,
        delta: 'dt.timedelta | None' = None,
        *,
        days: 'int' = 0,
        hours: 'int' = 0,
        minutes: 'int' = 0,
        seconds: 'int' = 0,
    ) -> 'dt.datetime'
    now: property
    def set(self, at: 'dt.datetime | str') -> 'dt.datetime'
    today: property
class GrossPayment(object)
    __init__(
        instruction_id: 'str',
        payer: 'str',
        payee: 'str',
        amount: 'Money',
        value_date: 'dt.date',
    ) -> None
    amount: field
    instruction_id: field
    payee: field
    payer: field
    def to_dict(self) -> 'dict[str, str]'
    value_date: field
class InputError(LedgerError)
    __init__(problems: 'list[Problem] | str') -> 'None'
class Instruction(object)
    __init__(
        instruction_id: 'str',
        kind: 'str',
        debit_account: 'str',
        credit_account: 'str',
        amount: 'Money',
        value_date: 'dt.date | str | None' = None,
        investor_id: 'str | None' = None,
        product: 'str | None' = None,
        rate: 'Decimal | str | None' = None,
        book: 'str | None' = None,
        reference: 'str | None' = None,
        submitted_at: 'dt.datetime | str | None' = None,
    ) -> None
    amount: field
    book: field
    credit_account: field
    debit_account: field
    instruction_id: field
    investor_id: field
    kind: field
    product: field
    rate: field
    reference: field
    submitted_at: field
    def to_row(self, default_value_date: 'dt.date | None' = None) -> 'dict[str, str]'
    value_date: field
class IntegrityError(LedgerError)
    __init__(...)
    exit_code = 3
class InvestorQuota(object)
    __init__(
        investor_id: 'str',
        direction: 'str',
        channel: 'str',
        remitted_out: 'Money',
        remitted_back: 'Money',
        used: 'Money',
        remaining: 'Money',
    ) -> None
    channel: field
    direction: field
    investor_id: field
    remaining: field
    remitted_back: field
    remitted_out: field
    def to_dict(self) -> 'dict[str, str]'
    used: field
class JournalEntry(object)
    __init__(
        seq: 'int',
        entry_id: 'str',
        kind: 'str',
        value_date: 'dt.date',
        batch_id: 'str | None',
        reverses: 'str | None',
        posted_at: 'str',
        transfers: 'tuple[JournalTransfer, ...]',
    ) -> None
    batch_id: field
    entry_id: field
    kind: field
    posted_at: field
    reverses: field
    seq: field
    def to_dict(self) -> 'dict[str, Any]'
    transfers: field
    value_date: field
class JournalPage(object)
    __init__(entries: 'tuple[JournalEntry, ...]', next_after: 'str | None') -> None
    entries: field
    next_after: field
    def to_dict(self) -> 'dict[str, Any]'
class JournalTransfer(object)
    __init__(
        transfer_id: 'int',
        debit: 'str',
        credit: 'str',
        amount: 'Money',
        value_date: 'dt.date',
        reference: 'str | None',
    ) -> None
    amount: field
    credit: field
    debit: field
    reference: field
    def to_dict(self) -> 'dict[str, Any]'
    transfer_id: field
    value_date: field
KINDS = ('banks', 'accounts', 'investors', 'products', 'rates')
class Ledger(object)
    __init__(
        engine: 'Engine',
        *,
        clock: 'Clock | None' = None,
        settings: 'Settings | str | os.PathLike[str] | None' = None,
    ) -> 'None'
    def audit(self) -> 'AuditResult'
    def balance(self, account: 'str', *, as_of: 'dt.date | str | None' = None) -> 'Money'
    def balances(
        self,
        *,
        as_of: 'dt.date | str | None' = None,
        bank: 'str | None' = None,
        account: 'str | None' = None,
        hide_zero: 'bool' = False,
        hide_unused_ledger_accounts: 'bool' = False,
    ) -> 'list[Balance]'
    def balances_in(
        self,
        currency: 'str',
        *,
        at_rate_of: 'dt.date | str',
        book: 'str' = 'default',
        as_of: 'dt.date | str | None' = None,
        bank: 'str | None' = None,
        account: 'str | None' = None,
    ) -> 'list[TranslatedBalance]'
    def batch(self, batch_id: 'str') -> 'Batch'
    def batch_list(self) -> 'list[BatchSummary]'
    def batches(self) -> 'list[str]'
    def checkpoint(
        self,
        key: 'str | os.PathLike[str]',
        *,
        out: 'str | os.PathLike[str] | None' = None,
    ) -> 'Checkpoint'
    clock: property
    def close(self) -> 'None'
    def close_account(self, account: 'str') -> 'None'
    def convert(
        self,
        entry_id: 'str',
        debit_account: 'str',
        credit_account: 'str',
        amount: 'Money',
        *,
        at: 'dt.datetime | str | None' = None,
        book: 'str' = 'default',
        rate: 'Decimal | str | None' = None,
        value_date: 'dt.date | str | None' = None,
        reference: 'str | None' = None,
    ) -> 'ConversionResult'
    def create_roles(
        self,
        *,
        owner_role: 'str' = 'wmc_owner',
        app_role: 'str' = 'wmc_app',
    ) -> 'list[str]'
    engine: property
    def entries(
        self,
        *,
        account: 'str | None' = None,
        bank: 'str | None' = None,
        batch: 'str | None' = None,
        entry_id: 'str | None' = None,
        reference: 'str | None' = None,
        kind: 'str | None' = None,
        date_from: 'dt.date | str | None' = None,
        date_to: 'dt.date | str | None' = None,
        min_amount: 'Money | Decimal | str | None' = None,
        max_amount: 'Money | Decimal | str | None' = None,
        limit: 'int' = 100,
        after: 'str | None' = None,
        order: 'str' = 'newest',
    ) -> 'JournalPage'
    def init(self) -> 'Ledger'
    def load(self, kind: 'str', source: 'Source') -> 'LoadResult'
    def load_accounts(self, source: 'Source') -> 'LoadResult'
    def load_banks(self, source: 'Source') -> 'LoadResult'
    def load_investors(self, source: 'Source') -> 'LoadResult'
    def load_products(self, source: 'Source') -> 'LoadResult'
    def load_rates(self, source: 'Source') -> 'LoadResult'
    classmethod open(
        cls,
        url: 'str' = 'sqlite:///wmc.db',
        *,
        clock: 'Clock | None' = None,
        settings: 'Settings | str | os.PathLike[str] | None' = None,
    ) -> 'Ledger'
    def post(self, entries: 'Iterable[Entry]') -> 'list[PostResult]'
    def prove(
        self,
        entry_id: 'str',
        checkpoint: 'str | os.PathLike[str]',
        *,
        public_key: 'str | os.PathLike[str] | None' = None,
    ) -> 'dict[str, Any]'
    def quota(self, *, investor: 'str | None' = None) -> 'QuotaReport'
    def reconcile(
        self,
        statement: 'str | os.PathLike[str] | bytes',
        *,
        account: 'str',
        name: 'str | None' = None,
        force: 'bool' = False,
    ) -> 'Reconciliation'
    def reconcile_all(
        self,
        statement: 'str | os.PathLike[str] | bytes',
        *,
        account: 'str | None' = None,
        name: 'str | None' = None,
    ) -> 'list[Reconciliation]'
    def register(
        self,
        account: 'str',
        *,
        date_from: 'dt.date | str | None' = None,
        date_to: 'dt.date | str | None' = None,
    ) -> 'Register'
    def reverse(
        self,
        entry_id: 'str',
        *,
        new_id: 'str | None' = None,
        value_date: 'dt.date | str | None' = None,
    ) -> 'PostResult'
    def revert(self, batch_id: 'str', *, id_prefix: 'str' = 'REV-') -> 'RevertResult'
    settings: property
    def settle(
        self,
        instructions: 'str | os.PathLike[str] | Iterable[Instruction | Mapping[str, Any]]',
        *,
        atomic: 'bool' = False,
        name: 'str' = 'instructions',
        progress: 'Callable[[int], None] | None' = None,
    ) -> 'Batch'
    def transfer(
        self,
        entry_id: 'str',
        debit: 'str',
        credit: 'str',
        amount: 'Money',
        *,
        value_date: 'dt.date | str | None' = None,
        reference: 'str | None' = None,
        kind: 'str' = 'transfer',
        meta: 'Mapping[str, str] | None' = None,
    ) -> 'PostResult'
    def trial_balance(self, *, as_of: 'dt.date | str | None' = None) -> 'TrialBalance'
    url: property
    def verify_checkpoint(
        self,
        checkpoint: 'str | os.PathLike[str]',
        public_key: 'str | os.PathLike[str]',
    ) -> 'list[str]'
class LedgerError(Exception)
    __init__(...)
    exit_code = 2
class LoadResult(object)
    __init__(
        kind: 'str',
        rows: 'int',
        inserted: 'int',
        unchanged: 'int',
        completed: 'int' = 0,
    ) -> None
    completed: field
    inserted: field
    kind: field
    rows: field
    unchanged: field
class MovedDate(object)
    __init__(
        instruction_id: 'str',
        market: 'str',
        requested: 'dt.date',
        value_date: 'dt.date',
        reason: 'str',
    ) -> None
    instruction_id: field
    market: field
    reason: field
    requested: field
    def to_dict(self) -> 'dict[str, str]'
    value_date: field
class NotFound(LedgerError)
    __init__(...)
class Obligation(object)
    __init__(payer: 'str', payee: 'str', amount: 'Money', value_date: 'dt.date') -> None
    amount: field
    payee: field
    payer: field
    def to_dict(self) -> 'dict[str, str]'
    value_date: field
class Position(object)
    __init__(bank_id: 'str', net: 'Money') -> None
    bank_id: field
    net: field
    def to_dict(self) -> 'dict[str, str]'
class PostResult(object)
    __init__(entry_id: 'str', code: 'str', message: 'str' = '') -> None
    code: field
    entry_id: field
    message: field
    ok: property
class Problem(object)
    __init__(file: 'str', line: 'int', field: 'str', expected: 'str') -> None
    expected: field
    field: field
    file: field
    line: field
class ProofCheck(object)
    __init__(
        entry_id: 'str | None',
        seq: 'int | None',
        record: 'bytes | None',
        problems: 'tuple[str, ...]',
        fields: 'Mapping[str, Any] | None' = None,
        checkpoint: 'Checkpoint | None' = None,
    ) -> None
    checkpoint: field
    entry_id: field
    fields: field
    ok: property
    problems: field
    record: field
    seq: field
class QuotaReport(object)
    __init__(
        investors: 'tuple[InvestorQuota, ...]',
        aggregate: 'tuple[AggregateQuota, ...]',
    ) -> None
    aggregate: field
    def direction(self, direction: 'str') -> 'AggregateQuota'
    classmethod from_dict(cls, data: 'Mapping[str, Any]') -> 'QuotaReport'
    def investor(self, investor_id: 'str', channel: 'str' = 'bank') -> 'InvestorQuota'
    investors: field
    def to_dict(self) -> 'dict[str, Any]'
class Reconciliation(object)
    __init__(
        account: 'str',
        currency: 'str',
        matched: 'int',
        breaks: 'tuple[Break, ...]',
        ledger_opening: 'Money',
        statement_opening: 'Money',
        ledger_closing: 'Money',
        statement_closing: 'Money',
        statement_account: 'str' = '',
        period_start: 'dt.date | None' = None,
        period_end: 'dt.date | None' = None,
        statement_format: 'str' = '',
        statement_id: 'str' = '',
        warnings: 'tuple[str, ...]' = (),
    ) -> None
    account: field
    break_types: property
    breaks: field
    currency: field
    difference: property
    ledger_closing: field
    ledger_opening: field
    matched: field
    period_end: field
    period_start: field
    reconciled: property
    statement_account: field
    statement_closing: field
    statement_format: field
    statement_id: field
    statement_opening: field
    def to_dict(self) -> 'dict[str, Any]'
    warnings: field
class Register(object)
    __init__(
        account: 'str',
        bank_id: 'str',
        currency: 'str',
        type: 'str',
        date_from: 'dt.date | None',
        date_to: 'dt.date | None',
        opening: 'Money',
        closing: 'Money',
        lines: 'tuple[RegisterLine, ...]',
    ) -> None
    account: field
    bank_id: field
    closing: field
    currency: field
    date_from: field
    date_to: field
    lines: field
    opening: field
    def to_dict(self) -> 'dict[str, Any]'
    type: field
class RegisterLine(object)
    __init__(
        value_date: 'dt.date',
        entry_id: 'str',
        kind: 'str',
        transfer_id: 'int',
        counterparty: 'str',
        debit: 'Money',
        credit: 'Money',
        balance: 'Money',
        reference: 'str | None',
    ) -> None
    balance: field
    counterparty: field
    credit: field
    debit: field
    entry_id: field
    kind: field
    reference: field
    def to_dict(self) -> 'dict[str, Any]'
    transfer_id: field
    value_date: field
class Rejection(object)
    __init__(instruction_id: 'str', line: 'int', code: 'str', message: 'str') -> None
    code: field
    instruction_id: field
    line: field
    message: field
    def to_dict(self) -> 'dict[str, Any]'
class RevertResult(object)
    __init__(
        batch_id: 'str',
        code: 'str',
        message: 'str',
        reversal: 'Batch | None' = None,
    ) -> None
    batch_id: field
    code: field
    message: field
    ok: property
    reversal: field
    def to_dict(self) -> 'dict[str, Any]'
class Settings(object)
    __init__(
        quota: 'QuotaSettings',
        cutoffs: 'CutoffSettings',
        fx: 'FxSettings',
        reconciliation: 'ReconciliationSettings',
        calendar: 'CalendarSettings',
        eligibility: 'EligibilitySettings',
        input: 'InputSettings' = InputSettings(value_date_window_days=3650),
        audit: 'AuditSettings' = AuditSettings(checkpoint_dir=None, checkpoint_key=None),
        sources: 'tuple[str, ...]' = (),
        ledger: 'LedgerSettings' = LedgerSettings(currencies=('MOP', 'HKD', 'CNY', 'USD')),
    ) -> None
    audit: field
    calendar: field
    cutoffs: field
    eligibility: field
    fx: field
    input: field
    ledger: field
    quota: field
    reconciliation: field
    sources: field
class Transfer(object)
    __init__(
        debit: 'str',
        credit: 'str',
        amount: 'Money',
        value_date: 'dt.date | None' = None,
        reference: 'str | None' = None,
    ) -> None
    amount: field
    credit: field
    debit: field
    reference: field
    value_date: field
class TranslatedBalance(object)
    __init__(balance: 'Balance', rate: 'Fraction', converted: 'Money') -> None
    balance: field
    converted: field
    rate: field
    rate_text: property
    def to_dict(self) -> 'dict[str, str]'
class TrialBalance(object)
    __init__(currencies: 'tuple[CurrencyTotal, ...]', accounts: 'tuple[Balance, ...]') -> None
    accounts: field
    balanced: property
    currencies: field
    def to_dict(self) -> 'dict[str, Any]'
class UnknownCurrency(LedgerError, ValueError)
    __init__(...)
def check_proof(
    proof: 'str | os.PathLike[str] | Mapping[str, Any]',
    public_key: 'str | os.PathLike[str]',
) -> 'ProofCheck'
def keygen(directory: 'str | os.PathLike[str]') -> 'tuple[Path, Path]'
def load_settings(path: 'str | Path | None' = None) -> 'Settings'
# wmc_ledger.testing
class BankBuilder(object)
    __init__(world: 'ScenarioBuilder', bank_id: 'str', market: 'str', name: 'str') -> 'None'
    def account(
        self,
        code: 'str',
        currency: 'str',
        *,
        type: 'str' = 'liability',
        overdraft: 'bool' = False,
        name: 'str' = '',
    ) -> 'str'
    def customer(self, who: 'str', currency: 'str') -> 'str'
    def income(self, currency: 'str', what: 'str' = 'FEES') -> 'str'
    def nostro(self, currency: 'str') -> 'str'
class Databases(object)
    __init__(url: 'str | None', base_dir: 'Callable[[], Path]') -> 'None'
    def close(self) -> 'None'
    def describe(self) -> 'str'
    def fresh(self) -> 'tuple[str, Callable[[], None]]'
ENV_VAR = 'WMC_TEST_DB'
class InvestorBuilder(object)
    __init__(
        world: 'ScenarioBuilder',
        investor_id: 'str',
        direction: 'str',
        channel: 'str',
        home: 'BankBuilder',
        partner: 'BankBuilder',
        remittance_account: 'str',
        investment_account: 'str',
    ) -> 'None'
    def home_account(self, currency: 'str') -> 'str'
    def investment(self, currency: 'str') -> 'str'
LedgerFactory = collections.abc.Callable[..., wmc_ledger.api.Ledger]
class ScenarioBuilder(object)
    __init__(ledger: 'Ledger') -> 'None'
    def bank(
        self,
        bank_id: 'str',
        *,
        market: 'str',
        name: 'str | None' = None,
        kind: 'str' = 'bank',
    ) -> 'BankBuilder'
    def deposit(
        self,
        account: 'str',
        amount: 'Money',
        *,
        value_date: 'dt.date | str | None' = None,
        entry_id: 'str | None' = None,
    ) -> 'PostResult'
    def investor(
        self,
        investor_id: 'str',
        *,
        direction: 'str',
        home: 'BankBuilder | str',
        partner: 'BankBuilder | str',
        channel: 'str' = 'bank',
        remittance_account: 'str | None' = None,
        investment_account: 'str | None' = None,
        eligible_from: 'str | None' = None,
        eligible_until: 'str | None' = None,
    ) -> 'InvestorBuilder'
    def product(
        self,
        product: 'str',
        *,
        bank: 'BankBuilder | str',
        currency: 'str',
        risk: 'str',
        direction: 'str',
        account: 'str | None' = None,
        product_type: 'str' = 'public_fund',
        category: 'str | None' = None,
        complex: 'bool | None' = None,
        domicile: 'str | None' = None,
        authorisation: 'str | None' = None,
    ) -> 'str'
    def rates(
        self,
        quotes: 'Mapping[str, tuple[str | Decimal, str | Decimal]]',
        *,
        as_of: 'dt.datetime | str | None' = None,
        book: 'str' = 'default',
        source: 'str' = 'scenario',
    ) -> 'None'
    def statement(
        self,
        account: 'str',
        *,
        day: 'dt.date | str',
        opening: 'Money',
        lines: 'Sequence[tuple[str | None, Money]]',
        fmt: 'str' = 'camt.053',
        statement_account: 'str | None' = None,
    ) -> 'bytes'
# fixtures
wmc_clock
wmc_databases
wmc_ledger
wmc_ledger_factory
wmc_settings
wmc_world
# options
--wmc-db URL
env WMC_TEST_DB
'''  # noqa: E501

#: API revision -> SHA-256 of GOLDEN at that revision. Add one per change of the public API.
REVISIONS = {
    1: "6d74fb920b1491a7c3d39bcb2787eca268330e4173bd08e38df94cde51112cf2",
    2: "55e83a3d875d164df396bcbe86d635ec66e125d2080cfe9d44c16a7537e057a4",
    3: "e810ec1a6d26b13a48c27816f03247e7d1146cb8ac3f70ed461395e7bd7b1486",
}


def test_the_public_api_is_the_golden_one() -> None:
    actual = listing()
    assert actual == GOLDEN.lstrip("\n"), (
        "The public API changed. If that is meant, set GOLDEN to the listing below, add "
        f"revision {max(REVISIONS) + 1}: {digest(actual)!r} to REVISIONS and a line "
        f"'API revision {max(REVISIONS) + 1}: ...' to the README's changelog.\n\n{actual}"
    )


def test_each_revision_of_the_golden_list_is_in_the_changelog() -> None:
    latest = max(REVISIONS)
    assert digest(GOLDEN.lstrip("\n")) == REVISIONS[latest], (
        f"GOLDEN changed: record it as revision {latest + 1}: {digest(GOLDEN.lstrip(chr(10)))!r}"
        " in REVISIONS, with a changelog line in README.md")
    changelog = README.read_text(encoding="utf-8").split("## Changelog", 1)[1]
    for revision in REVISIONS:
        assert f"API revision {revision}:" in changelog, (
            f"README.md's changelog has no line for 'API revision {revision}:'")


def test_every_public_name_is_documented_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"## Python API and pytest plugin\n(.*?)\n## ", text, re.S)
    assert match, "README.md has no '## Python API and pytest plugin' section"
    section = match.group(1)
    names = [*wmc_ledger.__all__, *wmc_ledger.testing.__all__, *fixture_names(), "--wmc-db",
             wmc_ledger.testing.ENV_VAR]
    missing = [n for n in names if n not in section]
    assert not missing, f"not documented in the README's API section: {missing}"


def test_the_package_is_typed() -> None:
    assert (Path(wmc_ledger.__file__).parent / "py.typed").is_file()
    assert wmc_ledger.__version__
