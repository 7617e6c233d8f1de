"""Telling the citizen: every status change of their case, and the notes officers send
from the case page, on the channel they reported through (docs/cases.md).

A notice goes where the report's acknowledgement went: the outbox items that
``core.replies.answer`` wrote for the report's first message say on which channel, to
which address (a WhatsApp reply address, a Telegram chat) and onto which message an
email threads, and include the contacts a walk-in citizen consented to be told on. So
the rules of who gets an answer live in one place. Channels that answer inline (the JAKI
app, the web form) had no such item: the JAKI app is told through its status callback
when the channel has one (``Adapter.pushes_notices``), and a report with nobody to tell
gets an internal case event saying so, as does a handle that said STOP.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from core import tracking
from core.cases import EWS, wib_date
from core.hookspecs import hookimpl
from core.models import CaseEvent, OutboxItem, Report, ReporterIdentity
from core.replies import Outbound, compose, write_outbound
from core.unit import Notice

report_t = Report.__table__
outbox_t = OutboxItem.__table__
identity_t = ReporterIdentity.__table__
event_t = CaseEvent.__table__

# the message kind a notice is kept as on the report (a plugin's own kind: itself)
MESSAGE_KINDS = {"status_changed": "status", "case_note": "note"}


class CitizenNotices:
    """Built-in plugin ``citizen_notices``: a notice to the reporter on every status
    change. Blocking it (KANAL_DISABLE_PLUGINS) stops the status notices; an officer's
    note still goes out."""

    @hookimpl
    def kanal_status_changed(self, change, work):
        work.notify_reporter("status_changed", {
            "tracking_id": change.tracking_id, "status": change.new_status,
            "old_status": change.old_status, "action": change.action, "note": change.note,
            "unit": change.unit_name, "at": change.at.isoformat(),
            "due": (wib_date(change.due_at)
                    if change.new_status == EWS and change.due_at is not None else None),
        })


@dataclass(frozen=True, slots=True)
class Address:
    """Where one notice goes: a channel, the address on it, the message it threads onto;
    ``callback`` for an inline channel's status callback (JSON, no opt-out of its own)."""

    channel: str
    recipient: str
    reply_to: str | None = None
    callback: bool = False


def addresses(pipeline, conn: Connection, report) -> list[Address]:
    """Where the report's acknowledgement went, in the order it was written; the status
    callback of an inline channel that has one."""
    rows = conn.execute(
        select(outbox_t.c.channel, outbox_t.c.recipient, outbox_t.c.reply_to)
        .where(outbox_t.c.report_id == report.id, outbox_t.c.kind == "ack")
        .order_by(outbox_t.c.id)).all()
    found = list(dict.fromkeys(Address(r.channel, r.recipient, r.reply_to) for r in rows))
    adapter = pipeline.adapters.get(report.channel)
    if adapter is not None and adapter.replies_inline and adapter.pushes_notices:
        found.insert(0, Address(report.channel, tracking.display(report.tracking_id),
                                callback=True))
    return found


def _stopped(pipeline, conn: Connection, found: list[Address]) -> set[Address]:
    """The addresses whose handle said STOP. An address may carry a prefix before the
    handle (``whatsapp:+62…``); the handle's kind is the channel's sender kind, or, for a
    channel not running now, the one the identity was first seen on."""
    wanted = {a: {a.recipient, a.recipient.partition(":")[2] or a.recipient}
              for a in found if not a.callback}
    if not wanted:
        return set()
    rows = conn.execute(select(identity_t.c.kind, identity_t.c.handle, identity_t.c.channel)
                        .where(identity_t.c.handle.in_(set().union(*wanted.values())),
                               identity_t.c.opted_out)).all()
    out = set()
    for address, handles in wanted.items():
        adapter = pipeline.adapters.get(address.channel)
        kind = adapter.sender_kind if adapter is not None else None
        if any(r.handle in handles and (r.kind == kind or r.channel == address.channel)
               for r in rows):
            out.add(address)
    return out


def callback_body(report, notice: Notice, now: datetime) -> str:
    """The JSON a status callback posts: what the app needs to tell its user."""
    details = notice.details
    note = details.get("text") if notice.kind == "case_note" else details.get("note")
    return json.dumps({
        "tracking_id": tracking.display(report.tracking_id), "status": report.status,
        "note": note, "at": details.get("at") or now.isoformat(), "kind": notice.kind,
    }, ensure_ascii=False, separators=(",", ":"))


def deliver_notices(pipeline, conn: Connection, report_id: int, notices: list[Notice],
                    now: datetime) -> None:
    """Queue each notice to every address of the report's reporter: an outbound message
    on the report and an outbox item (``core.cases.Cases.deliver``, in the transaction
    of the change). A skipped address is an internal case event (``notice_skipped``)."""
    report = conn.execute(select(report_t).where(report_t.c.id == report_id)).first()
    if report is None or not notices:
        return
    found = addresses(pipeline, conn, report)
    stopped = _stopped(pipeline, conn, found)
    sends: list[Outbound] = []
    skipped: list[str] = []
    for notice in notices:
        if not found:
            skipped.append(f"{notice.kind}: no way to reach the reporter on "
                           f"{report.channel} (anonymous, or answered inline only)")
        for address in found:
            if address in stopped:
                skipped.append(f"{notice.kind}: the reporter opted out (STOP) on "
                               f"{address.channel}")
                continue
            adapter = pipeline.adapters.get(address.channel)
            text = compose(pipeline, adapter, notice.kind, report, notice.details)
            if not text:
                skipped.append(f"{notice.kind}: no text for this notice")
                continue
            if address.callback:
                body = callback_body(report, notice, now)
            else:
                body = adapter.outbox_body(conn, report, notice.kind, text,
                                           notice.details) if adapter is not None else None
            sends.append(Outbound(
                address.channel, address.recipient, text, notice.kind,
                MESSAGE_KINDS.get(notice.kind, notice.kind), report.id,
                reply_to=address.reply_to, body=body))
    write_outbound(conn, sends, now)
    if skipped:
        conn.execute(insert(event_t), [{
            "report_id": report.id, "kind": "notice_skipped", "status": report.status,
            "note": None, "actor": None, "public": False, "unit_id": report.unit_id,
            "detail": why, "created_at": now,
        } for why in skipped])
