"""Revision 0009 (``batch_duplicates``) upgrades a ledger that holds batches: the old batches
read back as before, with no duplicates listed, and the new table is append-only."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.db import make_engine
from ledger.migrate import current_revision, head_revision, upgrade
from settlement.batches import load_report

OLD_BATCH = (
    "INSERT INTO batches (batch_id, file_name, file_sha256, committed_at, instructions, "
    "accepted, rejected, duplicates, seconds, first_seq, last_seq) VALUES ('B00000001', "
    "'day.csv', :sha, '2025-03-03T18:00:00+08:00', 2, 0, 1, 1, '0.010', 1, 0)"
)


def test_0009_upgrades_a_ledger_with_batches(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0004")
        with engine.begin() as conn:
            conn.execute(text(OLD_BATCH), {"sha": "0" * 64})
            conn.execute(text(
                "INSERT INTO batch_rejections (batch_id, line, instruction_id, code, message) "
                "VALUES ('B00000001', 2, 'I1', 'unknown_account', 'account X does not exist')"))
        upgrade(engine)
        assert current_revision(engine) == head_revision() == "0009"
        with engine.connect() as conn:
            report = load_report(conn, "B00000001")
        assert (report.duplicates, report.duplicates_detail) == (1, ())  # not known then
        assert [r.code for r in report.rejections] == ["unknown_account"]
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO batch_duplicates (batch_id, line, instruction_id, of_status, "
                "of_batch_id, of_code) VALUES ('B00000001', 3, 'I1', 'rejected', "
                "'B00000001', 'unknown_account')"))
        with engine.connect() as conn:
            assert load_report(conn, "B00000001").duplicates_detail[0].describe() == (
                "rejected in batch B00000001 with code unknown_account")
        for sql in ("UPDATE batch_duplicates SET line = 4", "DELETE FROM batch_duplicates",
                    "INSERT INTO batch_duplicates (batch_id, line, instruction_id, of_status) "
                    "VALUES ('B00000001', 5, 'I9', 'lost')"):
            with pytest.raises(DBAPIError), engine.begin() as conn:
                conn.execute(text(sql))
    finally:
        engine.dispose()
