"""A settled batch's report: what was posted, what was rejected and why, what each bank owes.

Pure values; ``to_dict`` renders the JSON object of ``wmc settle run --format json`` with every
amount a string carrying exactly its currency's minor digits, in a deterministic order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.money import format_amount
from settlement.netting import Obligation, Position


@dataclass(frozen=True, slots=True)
class RejectionRow:
    instruction_id: str
    line: int
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"instruction_id": self.instruction_id, "line": self.line, "code": self.code,
                "message": self.message}


@dataclass(frozen=True, slots=True)
class DuplicateRow:
    """An instruction counted as a ``duplicate``: its id was judged before with the same
    content. ``of_status`` says how: ``posted`` (in batch ``of_batch``; ``None`` when posted
    outside any batch) or ``rejected`` (in batch ``of_batch``, with ``of_code``, which stands)."""

    instruction_id: str
    line: int
    of_status: str
    of_batch: str | None
    of_code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"instruction_id": self.instruction_id, "line": self.line,
                "duplicate_of": self.of_status, "batch_id": self.of_batch,
                "code": self.of_code}

    def describe(self) -> str:
        """What it duplicates, for people: ``posted in batch B00000001``."""
        where = f"in batch {self.of_batch}" if self.of_batch else "outside any batch"
        if self.of_status == "rejected":
            return f"rejected {where} with code {self.of_code}"
        return f"posted {where}"


@dataclass(frozen=True, slots=True)
class GrossPayment:
    instruction_id: str
    payer: str
    payee: str
    currency: str
    amount: int
    value_date: dt.date

    def to_dict(self) -> dict[str, Any]:
        return {"instruction_id": self.instruction_id, "payer": self.payer, "payee": self.payee,
                "currency": self.currency, "amount": format_amount(self.amount, self.currency),
                "value_date": self.value_date.isoformat()}


@dataclass(frozen=True, slots=True)
class MovedDate:
    instruction_id: str
    market: str
    requested: dt.date
    value_date: dt.date
    reason: str  # "holiday" or "cutoff"

    def to_dict(self) -> dict[str, Any]:
        return {"instruction_id": self.instruction_id, "market": self.market,
                "requested": self.requested.isoformat(),
                "value_date": self.value_date.isoformat(), "reason": self.reason}


@dataclass(frozen=True, slots=True)
class BatchReport:
    batch_id: str
    file_name: str
    file_sha256: str
    instructions: int
    accepted: int
    rejected: int
    duplicates: int
    rejections: tuple[RejectionRow, ...]
    positions: tuple[Position, ...]
    obligations: tuple[Obligation, ...]
    gross_payments: Sequence[GrossPayment]
    moved_dates: tuple[MovedDate, ...] = field(default=())
    seconds: float = 0.0
    committed: bool = True
    duplicates_detail: tuple[DuplicateRow, ...] = ()

    @property
    def status(self) -> str:
        """``committed``, or ``rolled_back`` (an ``--atomic`` batch with rejections)."""
        return "committed" if self.committed else "rolled_back"

    def to_dict(self) -> dict[str, Any]:
        """The JSON object; a rolled-back batch has no ``batch_id`` (``null``): it does not
        exist."""
        return {
            "batch_id": self.batch_id if self.committed else None,
            "status": self.status,
            "file_sha256": self.file_sha256,
            "instructions": self.instructions,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "duplicates_detail": [d.to_dict() for d in self.duplicates_detail],
            "rejections": [r.to_dict() for r in self.rejections],
            "positions": [p.as_json() for p in self.positions],
            "obligations": [o.as_json() for o in self.obligations],
            "gross_payments": [g.to_dict() for g in self.gross_payments],
            "moved_dates": [m.to_dict() for m in self.moved_dates],
        }
