"""Stored batches read back: ``wmc settle show`` prints the same report the run printed, and
``wmc settle list`` lists every batch with its state.

The report is rebuilt from the batch's rows (counts, rejections, duplicates, positions,
obligations) and from the ledger's own entries of the batch (gross payments), so the two cannot
disagree. A batch's state is ``settled``, ``reverted`` (a later batch reverts it:
``reversed_by``) or ``reversal`` (it reverts ``reverses``), read from ``batch_reversals``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, text

from ledger.errors import NotFound
from settlement.engine import gross_payments
from settlement.netting import Obligation, Position
from settlement.report import BatchReport, DuplicateRow, MovedDate, RejectionRow


def load_report(conn: Connection, batch_id: str) -> BatchReport:
    row = conn.execute(text(
        "SELECT file_name, file_sha256, instructions, accepted, rejected, duplicates, seconds, "
        "first_seq, last_seq FROM batches WHERE batch_id = :b"
    ), {"b": batch_id}).first()
    if row is None:
        raise NotFound(f"batch {batch_id!r} does not exist")
    rejections = tuple(
        RejectionRow(r[0], int(r[1]), r[2], r[3]) for r in conn.execute(text(
            "SELECT instruction_id, line, code, message FROM batch_rejections "
            "WHERE batch_id = :b ORDER BY line"), {"b": batch_id})
    )
    positions = tuple(
        Position(r[0], r[1], int(r[2])) for r in conn.execute(text(
            "SELECT bank_id, currency, net FROM batch_positions WHERE batch_id = :b "
            "ORDER BY currency, bank_id"), {"b": batch_id})
    )
    obligations = tuple(
        Obligation(r[0], r[1], r[2], int(r[3]), dt.date.fromisoformat(r[4]))
        for r in conn.execute(text(
            "SELECT payer, payee, currency, amount, value_date FROM batch_obligations "
            "WHERE batch_id = :b ORDER BY currency, value_date, payer, payee"), {"b": batch_id})
    )
    moved = tuple(
        MovedDate(r[0], r[1], dt.date.fromisoformat(r[2]), dt.date.fromisoformat(r[3]), r[4])
        for r in conn.execute(text(
            "SELECT instruction_id, market, requested, value_date, reason FROM batch_moved_dates "
            "WHERE batch_id = :b ORDER BY position"), {"b": batch_id})
    )
    duplicates = tuple(
        DuplicateRow(r[0], int(r[1]), r[2], r[3], r[4]) for r in conn.execute(text(
            "SELECT instruction_id, line, of_status, of_batch_id, of_code FROM batch_duplicates "
            "WHERE batch_id = :b ORDER BY line"), {"b": batch_id})
    )
    return BatchReport(
        batch_id=batch_id, file_name=row[0], file_sha256=row[1], instructions=int(row[2]),
        accepted=int(row[3]), rejected=int(row[4]), duplicates=int(row[5]),
        rejections=rejections, positions=positions, obligations=obligations,
        gross_payments=tuple(gross_payments(conn, int(row[7]), int(row[8]))),
        moved_dates=moved,
        seconds=float(row[6]),
        duplicates_detail=duplicates,
    )


def list_batches(conn: Connection) -> list[dict[str, object]]:
    return [dict(r._mapping) for r in conn.execute(text(
        "SELECT batch_id, file_name, committed_at, instructions, accepted, rejected, duplicates "
        "FROM batches ORDER BY batch_id"))]


@dataclass(frozen=True, slots=True)
class BatchSummary:
    batch_id: str
    file_name: str
    file_sha256: str
    committed_at: str
    instructions: int
    accepted: int
    rejected: int
    duplicates: int
    reverses: str | None
    reversed_by: str | None

    @property
    def state(self) -> str:
        if self.reverses is not None:
            return "reversal"
        return "settled" if self.reversed_by is None else "reverted"


def batch_summaries(conn: Connection) -> list[BatchSummary]:
    """Every stored batch, oldest first (batch ids are sequential)."""
    return [
        BatchSummary(r[0], r[1], r[2], str(r[3]), int(r[4]), int(r[5]), int(r[6]), int(r[7]),
                     r[8], r[9])
        for r in conn.execute(text(
            "SELECT b.batch_id, b.file_name, b.file_sha256, b.committed_at, b.instructions, "
            "b.accepted, b.rejected, b.duplicates, o.batch_id, r.reversal_batch_id "
            "FROM batches b LEFT JOIN batch_reversals o ON o.reversal_batch_id = b.batch_id "
            "LEFT JOIN batch_reversals r ON r.batch_id = b.batch_id ORDER BY b.batch_id"))
    ]
