"""``wmc report quota``: each investor's net usage per channel and the aggregate per direction.

Amounts are CNY. An investor on two channels has a row per channel, and each row's ``used`` and
``remaining`` are that channel's (its per-channel quota, within the individual quota).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from ledger.money import format_amount
from settlement.settings import Settings


def quota_report(conn: Connection, settings: Settings, *,
                 investor: str | None = None) -> dict[str, Any]:
    q = settings.quota
    where = " WHERE i.investor_id = :inv" if investor else ""
    rows = conn.execute(text(
        "SELECT i.investor_id, i.direction, i.channel, COALESCE(u.remitted_out, 0), "
        "COALESCE(u.remitted_back, 0), COALESCE(u.used, 0), "
        "(SELECT count(*) FROM investors j WHERE j.investor_id = i.investor_id) "
        "FROM investors i LEFT JOIN quota_usage u "
        "ON u.investor_id = i.investor_id AND u.channel = i.channel"
        f"{where} ORDER BY i.investor_id, i.channel"
    ), {"inv": investor} if investor else {}).all()
    totals: dict[str, int] = {}
    for r in rows:
        totals[r[0]] = totals.get(r[0], 0) + int(r[5])
    investors = []
    for inv, direction, channel, out, back, used, channels in rows:
        limit = q.per_channel_when_two_channels if int(channels) > 1 else q.individual
        remaining = max(0, min(limit - int(used), q.individual - totals[inv]))
        investors.append({
            "investor_id": inv, "direction": direction, "channel": channel,
            "remitted_out": format_amount(int(out), "CNY"),
            "remitted_back": format_amount(int(back), "CNY"),
            "used": format_amount(int(used), "CNY"),
            "remaining": format_amount(remaining, "CNY"),
        })
    aggregate = [
        {"direction": d, "used": format_amount(int(u), "CNY"),
         "remaining": format_amount(max(0, q.aggregate_per_direction - int(u)), "CNY")}
        for d, u in conn.execute(text(
            "SELECT direction, used FROM aggregate_quota ORDER BY direction DESC"))
    ]
    return {"investors": investors, "aggregate": aggregate}
