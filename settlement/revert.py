"""Reverting a settled batch whole: ``wmc settle revert BATCH_ID``.

Guarantees:

- **One new batch.** Every entry of the batch is reversed by an entry ``{prefix}{id}`` built by
  the one reversal rule (:func:`ledger.corrections.batch_reversal_entries`) and posted through
  the ordinary poster, in one transaction: either all of them post, or nothing is written and
  the revert is refused with a code.
- **Quota given back exactly.** The batch's own changes to each investor's quota usage and to
  each direction's aggregate, recorded with it (``batch_quota_changes``,
  ``batch_aggregate_changes``), are subtracted: under the net-usage floor a repatriation's
  effect depends on the usage before it, so it is the recorded change that is undone, never a
  recomputation.
- **Positions and obligations.** The reversal moves every amount of the batch back, so its
  multilateral positions are the batch's negated and its bilateral obligations the batch's
  with payer and payee swapped (same value dates); they are stored as the reversal batch's.
- **Idempotent.** A batch is reverted once (``batch_reversals``); reverting it again is
  ``duplicate`` and returns the same reversal batch.
- **Refusals** (codes, nothing written): ``is_a_reversal`` (the batch reverts another),
  ``entry_already_reversed`` (one of its entries was corrected alone: the batch is no longer
  whole), ``later_batch_depends`` (a reversal would overdraw an account, or take a quota usage
  below zero, because later entries spent what the batch brought), or the poster's own code
  for an entry (e.g. ``account_closed``, ``exists_with_different_content`` for a taken id).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from ledger.corrections import batch_reversal_entries
from ledger.db import is_postgres
from ledger.errors import LedgerError, NotFound
from ledger.posting import Poster, post_with
from ledger.records import record_batch
from settlement.batches import load_report
from settlement.report import BatchReport

DEPENDS = "later_batch_depends"


@dataclass(frozen=True, slots=True)
class RevertOutcome:
    batch_id: str
    code: str  # ok, duplicate, or the refusal's code
    message: str
    reversal: BatchReport | None  # the reversal batch (ok and duplicate)


class RevertRefused(LedgerError):
    """Raised inside the transaction to roll a refused revert back; carries its outcome."""

    exit_code = 1

    def __init__(self, outcome: RevertOutcome) -> None:
        self.outcome = outcome
        super().__init__(f"batch {outcome.batch_id} not reverted: {outcome.code}: "
                         f"{outcome.message}")


def revert_batch(conn: Connection, batch_id: str, *, id_prefix: str, posted_at: str,
                 floor_zero: bool = True) -> RevertOutcome:
    """Revert ``batch_id`` in the caller's transaction (see the module docstring).

    A refusal found before anything is written is returned; one found while posting raises
    :class:`RevertRefused` so that the caller's transaction rolls back. ``floor_zero`` is the
    net-usage floor setting: under it, a usage given back below zero is refused.
    """
    row = conn.execute(text(
        "SELECT file_name, file_sha256, first_seq, last_seq FROM batches WHERE batch_id = :b"
    ), {"b": batch_id}).first()
    if row is None:
        raise NotFound(f"batch {batch_id!r} does not exist")
    if not id_prefix:
        raise LedgerError("id prefix: expected a non-empty prefix for the reversing entries")
    done = conn.execute(text(
        "SELECT reversal_batch_id FROM batch_reversals WHERE batch_id = :b"), {"b": batch_id}
    ).scalar()
    if done is not None:
        return RevertOutcome(batch_id, "duplicate", f"already reverted by batch {done}",
                             load_report(conn, done))
    reverted = conn.execute(text(
        "SELECT batch_id FROM batch_reversals WHERE reversal_batch_id = :b"), {"b": batch_id}
    ).scalar()
    if reverted is not None:
        return RevertOutcome(batch_id, "is_a_reversal",
                             f"batch {batch_id} reverts batch {reverted}", None)
    first_seq, last_seq = int(row[2]), int(row[3])
    corrected = conn.execute(text(
        "SELECT e.id FROM entries e JOIN entries r ON r.reverses = e.seq "
        "WHERE e.seq BETWEEN :a AND :b AND e.batch_id = :batch ORDER BY e.seq LIMIT 1"
    ), {"a": first_seq, "b": last_seq, "batch": batch_id}).scalar()
    if corrected is not None:
        return RevertOutcome(batch_id, "entry_already_reversed",
                             f"entry {corrected!r} of the batch is reversed already", None)
    quota = [(str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in conn.execute(text(
        "SELECT investor_id, channel, remitted_out, remitted_back, used "
        "FROM batch_quota_changes WHERE batch_id = :b ORDER BY investor_id, channel"
    ), {"b": batch_id})]
    if not quota and conn.execute(text(
        "SELECT 1 FROM entries WHERE seq BETWEEN :a AND :b AND batch_id = :batch "
        "AND kind IN ('remit', 'repatriate') LIMIT 1"
    ), {"a": first_seq, "b": last_seq, "batch": batch_id}).first() is not None:
        return RevertOutcome(batch_id, "quota_changes_not_recorded",
                             "the batch moved quota before its changes were recorded "
                             "(settled before migration 0008)", None)

    with Poster(conn, posted_at=posted_at) as poster:  # holds the ledger head: names the batch
        count = conn.execute(text("SELECT count(*) FROM batches")).scalar_one()
        new_id = poster.batch_id = f"B{int(count) + 1:08d}"
        specs = batch_reversal_entries(conn, batch_id, first_seq, last_seq,
                                       id_prefix=id_prefix)
        results = post_with(poster, specs)
        for r in results:
            if r.code != "ok":
                code = DEPENDS if r.code == "insufficient_funds" else r.code
                raise RevertRefused(RevertOutcome(batch_id, code,
                                                  f"{r.entry_id}: {r.code}: {r.message}", None))
        poster.close()
        new_first, new_last = poster.first_seq, poster.seq
    _give_back_quota(conn, batch_id, quota, floor_zero)
    _store(conn, batch_id, new_id, row[0], row[1], len(specs), new_first, new_last, posted_at)
    return RevertOutcome(batch_id, "ok", f"reverted by batch {new_id}",
                         load_report(conn, new_id))


def _give_back_quota(conn: Connection, batch_id: str,
                     quota: list[tuple[str, str, int, int, int]], floor_zero: bool) -> None:
    for investor, channel, out, back, used in quota:
        current = conn.execute(text(
            "SELECT remitted_out, remitted_back, used FROM quota_usage "
            "WHERE investor_id = :i AND channel = :c"), {"i": investor, "c": channel}).one()
        after = [int(current[0]) - out, int(current[1]) - back, int(current[2]) - used]
        if min(after[:2]) < 0 or (floor_zero and after[2] < 0):
            raise RevertRefused(RevertOutcome(
                batch_id, DEPENDS, f"investor {investor} on {channel}: giving back the batch's "
                "quota would take its usage below zero (later batches depend on it)", None))
        conn.execute(text(
            "UPDATE quota_usage SET remitted_out = :o, remitted_back = :b, used = :u "
            "WHERE investor_id = :i AND channel = :c"),
            {"o": after[0], "b": after[1], "u": after[2], "i": investor, "c": channel})
    conn.execute(text(
        "UPDATE aggregate_quota SET used = used - (SELECT c.used FROM batch_aggregate_changes c "
        "WHERE c.batch_id = :b AND c.direction = aggregate_quota.direction) "
        "WHERE direction IN (SELECT direction FROM batch_aggregate_changes WHERE batch_id = :b)"
    ), {"b": batch_id})


def _store(conn: Connection, batch_id: str, new_id: str, file_name: str, sha: str, count: int,
           first_seq: int, last_seq: int, posted_at: str) -> None:
    m = "%s" if is_postgres(conn) else "?"
    conn.exec_driver_sql(
        "INSERT INTO batches (batch_id, file_name, file_sha256, committed_at, instructions, "
        f"accepted, rejected, duplicates, seconds, first_seq, last_seq) VALUES "
        f"({', '.join([m] * 11)})",
        (new_id, f"revert of {batch_id} ({file_name})", sha, posted_at, count, count, 0, 0,
         "0.000", first_seq, last_seq))
    conn.execute(text(
        "INSERT INTO batch_reversals (batch_id, reversal_batch_id) VALUES (:b, :n)"),
        {"b": batch_id, "n": new_id})
    conn.execute(text(
        "INSERT INTO batch_positions (batch_id, bank_id, currency, net) "
        "SELECT :n, bank_id, currency, -net FROM batch_positions WHERE batch_id = :b"),
        {"b": batch_id, "n": new_id})
    conn.execute(text(
        "INSERT INTO batch_obligations (batch_id, payer, payee, currency, value_date, amount) "
        "SELECT :n, payee, payer, currency, value_date, amount FROM batch_obligations "
        "WHERE batch_id = :b"), {"b": batch_id, "n": new_id})
    # The revert's own quota changes are recorded as any batch's: the original's, negated.
    conn.execute(text(
        "INSERT INTO batch_quota_changes (batch_id, investor_id, channel, remitted_out, "
        "remitted_back, used) SELECT :n, investor_id, channel, -remitted_out, -remitted_back, "
        "-used FROM batch_quota_changes WHERE batch_id = :b"), {"b": batch_id, "n": new_id})
    conn.execute(text(
        "INSERT INTO batch_aggregate_changes (batch_id, direction, used) "
        "SELECT :n, direction, -used FROM batch_aggregate_changes WHERE batch_id = :b"),
        {"b": batch_id, "n": new_id})
    record_batch(conn, new_id)

