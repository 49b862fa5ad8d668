"""The audit's checks of the scheme's state: quota usage recomputed from what was posted.

``quota_usage`` and ``aggregate_quota`` move with every remittance, so the events log does not
cover them (``ledger.records``); instead :func:`quota_check` replays every posted ``remit`` and
``repatriate`` entry in sequence order through the same :class:`~settlement.rules.QuotaBook` the
engine judges with (a batch reverted gives back, at its reversal, exactly what the replay saw it
change, as ``settlement.revert`` does), and compares the result with the stored rows:
resetting an investor's usage (which would free quota) or the aggregate is found and named.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from ledger.audit import ExtraCheck
from ledger.money import format_amount
from ledger.records import table_exists
from settlement.rules import Link, QuotaBook, QuotaLimits
from settlement.settings import Settings


def quota_check(settings: Settings) -> ExtraCheck:
    """An audit check of quota usage under ``settings``' net-usage floor."""

    def check(conn: Connection) -> Iterable[str]:
        return verify_quota(conn, settings)

    return check


def verify_quota(conn: Connection, settings: Settings) -> list[str]:
    links = {str(r[4]): Link(*r) for r in conn.exec_driver_sql(
        "SELECT investor_id, channel, direction, remittance_account, investment_account "
        "FROM investors")}
    q = settings.quota
    book = QuotaBook(QuotaLimits(q.individual, q.per_channel_when_two_channels,
                                 q.aggregate_per_direction, q.net_usage_floor_zero), {}, {}, {})
    problems: list[str] = []
    changes: dict[str, Changes] = {}  # batch id -> what its remittances changed
    for step in _steps(conn):
        if step[0] == "revert":
            _give_back(book, changes.get(str(step[1]), ({}, {})))
        else:
            _replay(book, links, step, changes, problems)
    stored = {(str(r[0]), str(r[1])): (int(r[2]), int(r[3]), int(r[4]))
              for r in conn.exec_driver_sql(
                  "SELECT investor_id, channel, remitted_out, remitted_back, used "
                  "FROM quota_usage")}
    for key in sorted(stored.keys() | book.usage.keys()):
        want = tuple(book.usage.get(key, (0, 0, 0)))
        have = stored.get(key, (0, 0, 0))
        if have != want:
            problems.append(
                f"quota usage of investor {key[0]} on {key[1]}: stored out/back/used "
                f"{'/'.join(format_amount(v, 'CNY') for v in have)} CNY, the remittances posted "
                f"give {'/'.join(format_amount(v, 'CNY') for v in want)} CNY")
    aggregate = {str(r[0]): int(r[1]) for r in conn.exec_driver_sql(
        "SELECT direction, used FROM aggregate_quota")}
    for direction in sorted(aggregate.keys() | book.aggregate.keys()):
        want_used, have_used = book.aggregate.get(direction, 0), aggregate.get(direction, 0)
        if want_used != have_used:
            problems.append(
                f"aggregate quota {direction}: stored {format_amount(have_used, 'CNY')} CNY, "
                f"the remittances posted give {format_amount(want_used, 'CNY')} CNY")
    return problems


#: A remittance posted (seq, kind, batch, amount, payer account, payee account), or a batch
#: reverted at the first seq of its reversal: ("revert", the reverted batch's quota changes).
Step = tuple[object, ...]
#: What a batch changed: (investor, channel) -> [out, back, used], and direction -> used.
Changes = tuple[dict[tuple[str, str], list[int]], dict[str, int]]


def _steps(conn: Connection) -> list[Step]:
    """The remittances in seq order (a split one, through a transit account, as one: the payer
    of its first leg, the payee of its last), with each revert of a batch at its place."""
    steps: list[Step] = []
    for seq, kind, batch, amount, debit, credit in conn.execution_options(
            yield_per=20_000).exec_driver_sql(
            "SELECT e.seq, e.kind, e.batch_id, t.amount, d.code, c.code FROM entries e "
            "JOIN transfers t ON t.entry_seq = e.seq "
            "JOIN accounts d ON d.id = t.debit_account_id "
            "JOIN accounts c ON c.id = t.credit_account_id "
            "WHERE e.kind IN ('remit', 'repatriate') ORDER BY e.seq, t.id"):
        if steps and steps[-1][0] == seq:
            steps[-1] = (*steps[-1][:5], credit)
            continue
        steps.append((seq, kind, batch, int(amount), debit, credit))
    # A revert gives back at the first seq of its reversal batch, before that batch's entries.
    order = [((int(str(s[0])), 1), s) for s in steps]
    if table_exists(conn, "batch_reversals"):
        order += [((int(first_seq), 0), ("revert", str(original))) for original, first_seq in
                  conn.exec_driver_sql(
                      "SELECT r.batch_id, b.first_seq FROM batch_reversals r "
                      "JOIN batches b ON b.batch_id = r.reversal_batch_id")]
    order.sort(key=lambda pair: pair[0])
    return [step for _, step in order]


def _replay(book: QuotaBook, links: dict[str, Link], step: Step,
            changes: dict[str, Changes], problems: list[str]) -> None:
    seq, kind, batch, amount, debit, credit = step
    investment = credit if kind == "remit" else debit
    link = links.get(str(investment))
    if link is None:
        problems.append(f"entry at seq {seq}: a {kind} to or from {investment}, which is no "
                        "investor's investment account")
        return
    key = (link.investor_id, link.channel)
    before = list(book.usage.get(key, (0, 0, 0)))
    agg_before = book.aggregate.get(link.direction, 0)
    if kind == "remit":
        book.remit(link, int(str(amount)))
    else:
        book.repatriate(link, int(str(amount)))
    usage, aggregate = changes.setdefault(str(batch), ({}, {}))
    change = usage.setdefault(key, [0, 0, 0])
    for i, value in enumerate(book.usage[key]):
        change[i] += value - before[i]
    aggregate[link.direction] = (aggregate.get(link.direction, 0)
                                 + book.aggregate[link.direction] - agg_before)


def _give_back(book: QuotaBook, changed: Changes) -> None:
    """A revert gives back exactly what the reverted batch changed (see settlement.revert)."""
    usage, aggregate = changed
    for key, change in usage.items():
        row = book.usage.setdefault(key, [0, 0, 0])
        for i, value in enumerate(change):
            row[i] -= value
    for direction, used in aggregate.items():
        book.aggregate[direction] = book.aggregate.get(direction, 0) - used
