"""Forwarding a report to an outside system that also takes complaints: LAPOR!, for a
matter that belongs to a national body (docs/lapor.md, "The reverse direction").

A supervisor asks, on the case page or with ``kanal cases forward``; the channel's adapter
writes what to post (``Adapter.forward_body``) and the outbox posts it with its retries;
the adapter keeps the ID the system answers as the report's ``external_ref`` and adds a
public case event saying where the report went. The case itself stays where it is: the
city closes it (Ditolak with the reason, or Selesai) as it sees fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, insert, select

from core import audit
from core.errors import ApiError
from core.models import CaseEvent, OutboxItem, Report

KIND = "forward"
ROLES = ("supervisor",)
report_t = Report.__table__
outbox_t = OutboxItem.__table__
event_t = CaseEvent.__table__


def _queued(conn: Connection, report_id: int) -> set[str]:
    """The channels the report was sent or is being sent to."""
    return set(conn.execute(select(outbox_t.c.channel).where(
        outbox_t.c.report_id == report_id, outbox_t.c.kind == KIND,
        outbox_t.c.status.in_(("pending", "sent")))).scalars())


def why_not(conn: Connection, adapters: Mapping, report, channel_id: str) -> str | None:
    """Why the report cannot be forwarded through ``channel_id`` now, or None."""
    adapter = adapters.get(channel_id)
    if adapter is None or not adapter.forwards:
        return f"channel {channel_id} is not running or does not forward reports"
    if report.channel == channel_id:
        return f"the report came from {channel_id}"
    if report.external_ref:
        return f"the report is held elsewhere already ({report.external_ref})"
    if channel_id in _queued(conn, report.id):
        return f"the report was forwarded to {channel_id} already"
    return None


def targets(conn: Connection, adapters: Mapping, report, role: str) -> list[dict[str, str]]:
    """Where this account may forward the report now (id and name), for the case page."""
    if role not in ROLES:
        return []
    return [{"id": cid, "name": a.official.name} for cid, a in sorted(adapters.items())
            if a.forwards and why_not(conn, adapters, report, cid) is None]


def forward(conn: Connection, adapters: Mapping, actor: str, role: str, compact: str,
            channel_id: str, now: datetime) -> int:
    """Queue the report for ``channel_id``: the outbox item's id. ApiError 403 for an
    account that may not, 404 for no such report, 409 when it cannot go there now."""
    if role not in ROLES:
        raise ApiError(403, "forbidden", "only a supervisor forwards reports")
    report = conn.execute(select(report_t).where(report_t.c.tracking_id == compact)
                          .with_for_update()).first()
    if report is None:
        raise ApiError(404, "not_found", "no report has that tracking ID")
    reason = why_not(conn, adapters, report, channel_id)
    if reason is not None:
        raise ApiError(409, "cannot_forward", reason)
    adapter = adapters[channel_id]
    body = adapter.forward_body(conn, report)
    item = conn.execute(insert(outbox_t).values(
        channel=channel_id, report_id=report.id, message_id=None, recipient=channel_id,
        kind=KIND, text=body, reply_to=None, status="pending", attempts=0,
        next_attempt_at=now, created_at=now)).inserted_primary_key[0]
    conn.execute(insert(event_t).values(
        report_id=report.id, kind="forward_requested", status=report.status, note=None,
        actor=actor[:64], public=False, unit_id=report.unit_id,
        detail=f"to {adapter.official.name} ({channel_id})", created_at=now))
    audit.record(conn, actor, "forward", channel=channel_id, new=compact, now=now)
    return item
