"""wmc-ledger's public Python API and pytest plugin.

Everything a bank's integration tests and a back office's scripts need is importable from here;
the names in ``__all__`` and their signatures are the API's promise (``tests/test_api_stability.py``
lists them, and a change to them is recorded in the README's changelog). The ``wmc`` command is
a thin layer over the same :class:`Ledger`. The pytest plugin (fixtures ``wmc_ledger``,
``wmc_clock``, ``wmc_world``, ...) is :mod:`wmc_ledger.testing`, registered as ``pytest11``.

>>> from moneyed import Money
>>> from wmc_ledger import FixedClock, Ledger
>>> ledger = Ledger.open("sqlite://", clock=FixedClock("2025-03-03T18:00:00+08:00")).init()
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ledger.checkpoint import Checkpoint, CheckpointNotWritten, ProofCheck
from ledger.errors import (
    AmountError,
    BatchRolledBack,
    ConflictError,
    DatabaseError,
    InputError,
    IntegrityError,
    LedgerError,
    NotFound,
    Problem,
    UnknownCurrency,
)
from settlement.settings import Settings, load_settings
from wmc_ledger.api import KINDS, AtomicBatchRolledBack, Ledger, check_proof, keygen
from wmc_ledger.clock import Clock, FixedClock
from wmc_ledger.values import (
    AggregateQuota,
    AuditResult,
    Balance,
    Batch,
    BatchSummary,
    Break,
    ConversionResult,
    CurrencyTotal,
    Duplicate,
    Entry,
    GrossPayment,
    Instruction,
    InvestorQuota,
    JournalEntry,
    JournalPage,
    JournalTransfer,
    LoadResult,
    MovedDate,
    Obligation,
    Position,
    PostResult,
    QuotaReport,
    Reconciliation,
    Register,
    RegisterLine,
    Rejection,
    RevertResult,
    Transfer,
    TranslatedBalance,
    TrialBalance,
)

try:
    __version__ = version("wmc-ledger")
except PackageNotFoundError:  # pragma: no cover - running from a tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "KINDS",
    "AggregateQuota",
    "AmountError",
    "AtomicBatchRolledBack",
    "AuditResult",
    "Balance",
    "Batch",
    "BatchRolledBack",
    "BatchSummary",
    "Break",
    "Checkpoint",
    "CheckpointNotWritten",
    "Clock",
    "ConflictError",
    "ConversionResult",
    "CurrencyTotal",
    "DatabaseError",
    "Duplicate",
    "Entry",
    "FixedClock",
    "GrossPayment",
    "InputError",
    "Instruction",
    "IntegrityError",
    "InvestorQuota",
    "JournalEntry",
    "JournalPage",
    "JournalTransfer",
    "Ledger",
    "LedgerError",
    "LoadResult",
    "MovedDate",
    "NotFound",
    "Obligation",
    "Position",
    "PostResult",
    "Problem",
    "ProofCheck",
    "QuotaReport",
    "Reconciliation",
    "Register",
    "RegisterLine",
    "Rejection",
    "RevertResult",
    "Settings",
    "Transfer",
    "TranslatedBalance",
    "TrialBalance",
    "UnknownCurrency",
    "check_proof",
    "keygen",
    "load_settings",
]
