"""The audit's checks of the scheme's state: quota usage recomputed from what was posted.

``quota_usage`` and ``aggregate_quota`` move with every remittance, so the events log does not
cover them (``ledger.records``); instead :func:`quota_check` replays every posted ``remit`` and
``repatriate`` entry in sequence order through the same :class:`~settlement.rules.QuotaBook` the
engine judges with, and compares the result with the stored rows: resetting an investor's usage
(which would free quota) or the aggregate is found and named.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from ledger.audit import ExtraCheck
from ledger.money import format_amount
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
    rows = conn.execution_options(yield_per=20_000).exec_driver_sql(
        "SELECT e.seq, e.kind, t.amount, d.code, c.code FROM entries e "
        "JOIN transfers t ON t.entry_seq = e.seq "
        "JOIN accounts d ON d.id = t.debit_account_id "
        "JOIN accounts c ON c.id = t.credit_account_id "
        "WHERE e.kind IN ('remit', 'repatriate') ORDER BY e.seq, t.id")
    problems: list[str] = []
    # A split remittance (two value dates) is two transfers through a transit account: the
    # payer of its first leg and the payee of its last name the investor's pair.
    entry: list[object] | None = None
    for seq, kind, amount, debit, credit in [*rows, (None, None, 0, None, None)]:
        if entry is not None and seq == entry[0]:
            entry[4] = credit
            continue
        if entry is not None:
            _replay(book, links, entry, problems)
        entry = [seq, kind, int(amount), debit, credit]
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


def _replay(book: QuotaBook, links: dict[str, Link], entry: list[object],
            problems: list[str]) -> None:
    seq, kind, amount, debit, credit = entry
    investment = credit if kind == "remit" else debit
    link = links.get(str(investment))
    if link is None:
        problems.append(f"entry at seq {seq}: a {kind} to or from {investment}, which is no "
                        "investor's investment account")
        return
    if kind == "remit":
        book.remit(link, int(str(amount)))
    else:
        book.repatriate(link, int(str(amount)))
