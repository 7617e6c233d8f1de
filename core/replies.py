"""What the pipeline answers, and the requests that are not reports: STATUS, STOP, MULAI,
/start, a rating of a finished report. Answers go through the outbox, or are recorded as
given inline (JAKI, web)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from core import keywords, rating, tracking
from core.bulk import insert_rows
from core.db import allocate_ids
from core.outbox import record_delivery
from core.models import MediaJob, Message, OutboxItem, Report, ReporterIdentity
from core.unit import NewReport
from core.work import Work

report_t = Report.__table__
message_t = Message.__table__
outbox_t = OutboxItem.__table__
identity_t = ReporterIdentity.__table__
media_t = MediaJob.__table__
log = logging.getLogger(__name__)


def claim_ratings(conn: Connection, work: list[Work], now: datetime) -> None:
    """Find the report each rating rates: the one a Telegram button names, or the sender's
    finished report (``core.rating.reply_target``). A digit from a sender with none is an
    ordinary message again ("3" may start a report), so this runs before threading."""
    for w in work:
        if w.intent != "rating":
            continue
        named = w.message.extra.get("rate_tracking_id")
        row = (rating.find(conn, named) if named
               else rating.reply_target(conn, w.reporter_id, now))
        if row is None and not named:
            w.message.intent, w.message.intent_arg = "report", None
            continue
        w.target_row = row
        if row is not None and w.reporter_id is not None and row.reporter_id == w.reporter_id:
            # someone else's press of a forwarded button stays off that report
            w.target = (row.id, row.tracking_id, row.status)


def _rate(cases, conn: Connection, w: Work, now: datetime) -> None:
    reply = keywords.rating_reply(w.message.intent_arg)
    if w.target_row is None or reply is None:
        w.reply, w.reply_details = "rating_refused", {"reason": "not_found"}
        return
    if w.target is None:  # not the reporter's report (claim_ratings)
        w.reply, w.reply_details = "rating_refused", {"reason": "not_reporter"}
        return
    score, comment = reply
    try:
        done = rating.rate(cases, conn, w.target_row, score, comment, w.message.channel, now,
                           reporter_id=w.reporter_id)
    except rating.RatingRefused as exc:
        w.reply, w.reply_details = "rating_refused", {"reason": exc.error}
        return
    status = conn.execute(select(report_t.c.status)
                          .where(report_t.c.id == done.report_id)).scalar_one()
    w.target = (done.report_id, done.tracking_id, status)
    w.reply, w.reply_details = "rating_thanks", {"score": score, "reopened": done.reopened}


def handle_requests(conn: Connection, work: list[Work], now: datetime, cases=None) -> None:
    """Look up what STATUS asks for, flag opt-outs, take ratings (``cases`` reopens a
    case rated badly); decide each request's answer."""
    asked: dict[Work, str | None] = {}
    for w in work:
        if w.intent == "rating":
            _rate(cases, conn, w, now)
        elif w.intent == "status":
            arg = w.message.intent_arg
            if not arg:
                w.reply = "status_help"
                continue
            try:
                asked[w] = tracking.normalize(arg)
            except tracking.InvalidTrackingID:
                w.reply = "status_mistyped"
        elif w.intent in ("opt_out", "opt_in"):
            sender = w.message.sender
            if sender is not None:
                out = w.intent == "opt_out"
                conn.execute(update(identity_t).where(
                    identity_t.c.kind == sender.kind, identity_t.c.handle == sender.handle,
                ).values(opted_out=out, opted_out_at=now if out else None))
            w.reply = f"{w.intent}_ack"
        elif w.intent == "start":
            w.reply = "greeting"
        elif w.intent == "delivery_report":
            # kept on the report of the message that failed, never answered
            failed = record_delivery(conn, w.message.channel, w.message.intent_arg or "",
                                     str(w.message.extra.get("status") or "failed"))
            if failed is not None and failed.report_id is not None:
                report = conn.execute(select(report_t.c.tracking_id, report_t.c.status)
                                      .where(report_t.c.id == failed.report_id)).first()
                w.target = (failed.report_id, report.tracking_id, report.status)
    if asked:
        found = {row.tracking_id: (row.id, row.tracking_id, row.status) for row in conn.execute(
            select(report_t.c.id, report_t.c.tracking_id, report_t.c.status)
            .where(report_t.c.tracking_id.in_(sorted(set(asked.values())))))}
        for w, compact in asked.items():
            w.target = found.get(compact)
            # the public tracking page shows the same to anyone holding the number
            w.reply = "status_reply" if w.target else "status_unknown"


def compose(pipeline, adapter, kind: str, report, details: dict | None = None) -> str | None:
    """The text of one answer, in the process's language and, below it, in the channel's
    second language when it has one."""
    languages = [pipeline.language]
    if adapter is not None and not adapter.takes_replies:
        details = {**(details or {}), "replies": False}
    second = getattr(adapter, "second_language", None)  # None: the channel is not running
    if second and second != pipeline.language:
        languages.append(second)
    texts = [pipeline.hook.kanal_format_outbound(kind=kind, report=report, language=lang,
                                                 details=details or {})
             for lang in languages]
    if not texts[0]:
        return None
    return "\n\n".join(t for t in texts if t)


def notify(pipeline, conn: Connection, row, notice, now: datetime) -> bool:
    """Queue the notice an adapter asked for when it quarantined a payload (a mail over
    the size limit): no report, no message, only an outbox item to the sender."""
    adapter = pipeline.adapters[row.channel]
    text = compose(pipeline, adapter, notice.kind, None, notice.details)
    if not text or adapter.replies_inline:
        return False
    insert_rows(conn, outbox_t, [{
        "channel": row.channel, "report_id": None, "message_id": None,
        "recipient": notice.recipient, "kind": notice.kind, "text": text,
        "reply_to": row.external_id, "status": "pending", "attempts": 0,
        "next_attempt_at": now, "created_at": now,
    }])
    return True


def _channel_for(pipeline, kind: str) -> str | None:
    """The first running channel that sends to handles of ``kind`` ("phone", "email")."""
    return next((name for name, a in pipeline.adapters.items()
                 if a.sender_kind == kind and not a.replies_inline), None)


def _opted_out(conn: Connection, contacts: list) -> set[tuple[str, str]]:
    """The (kind, handle) pairs among ``contacts`` that said STOP."""
    if not contacts:
        return set()
    rows = conn.execute(select(identity_t.c.kind, identity_t.c.handle).where(
        identity_t.c.handle.in_({c.handle for c in contacts}), identity_t.c.opted_out))
    return {(r.kind, r.handle) for r in rows}


def answer(pipeline, conn: Connection, work: list[Work], now: datetime) -> None:
    """Write each answer: an outbound message on its report (when there is one) and an
    outbox item, or, for channels that answer in the HTTP response, the record of that.
    Contacts the message asks to notify get the same answer on their own channel."""
    sends: list[Outbound] = []
    stopped = _opted_out(conn, [c for w in work if w.reply for c in w.message.notify])
    for w in work:
        if w.reply is None:
            continue
        adapter = pipeline.adapters[w.message.channel]
        if w.message.no_reply:
            log.info("inbox %s not answered: %s", w.row.id, w.message.no_reply)
            continue
        tid, status = w.tracking
        report = None
        if tid is not None:
            report = w.report or NewReport(
                id=w.report_id, tracking_id=tid, status=status, channel=w.message.channel,
                official_channel=w.message.official_channel, created_at=now)
        inline = adapter.replies_inline
        if inline or w.message.sender is not None:  # else nobody to answer
            text = compose(pipeline, adapter, w.reply, report, w.reply_details)
            if text:
                handle = None if inline else (w.message.reply_address
                                              or w.message.sender.handle)
                body = None if inline else adapter.outbox_body(
                    conn, report, w.reply, text, w.reply_details or {})
                # a reply threads onto the message it answers
                sends.append(Outbound(w.message.channel, handle, text, w.reply, w.reply,
                                      w.report_id, reply_to=w.message.external_id,
                                      inline=inline, body=body))
        for contact in w.message.notify:
            via = _channel_for(pipeline, contact.kind)
            if via is None or (contact.kind, contact.handle) in stopped:
                log.info("inbox %s: no %s channel running or the contact opted out; "
                         "not notified", w.row.id, contact.kind)
                continue
            text = compose(pipeline, pipeline.adapters[via], w.reply, report, w.reply_details)
            if text:  # a notification starts afresh, unless on the channel it answers
                sends.append(Outbound(via, contact.handle, text, w.reply, w.reply,
                                      w.report_id, reply_to=w.message.external_id
                                      if via == w.message.channel else None))
    write_outbound(conn, sends, now)


@dataclass(slots=True)
class Outbound:
    """One answer or notice to write: its message on the report, when there is a report,
    and its outbox item, unless the channel answered inline. ``body`` is what the outbox
    sends when that is not the text (the JSON of a status callback)."""

    channel: str
    recipient: str | None
    text: str
    kind: str  # the outbox item's: ack, status_changed, ...
    message_kind: str  # the message's: ack, status, note, ...
    report_id: int | None
    reply_to: str | None = None
    inline: bool = False
    body: str | None = None


def write_outbound(conn: Connection, sends: list[Outbound], now: datetime) -> None:
    """The messages and outbox items of ``sends``, in two bulk inserts each."""
    on_reports = [s for s in sends if s.report_id is not None]
    ids = allocate_ids(conn, message_t, len(on_reports))
    insert_rows(conn, message_t, [{
        "id": i, "report_id": s.report_id, "direction": "out", "channel": s.channel,
        "external_id": None, "inbox_id": None, "reporter_id": None, "kind": s.message_kind,
        "subject": None, "text": s.text, "thread_refs": None, "created_at": now,
        "delivery": "delivered_inline" if s.inline else "queued",
        "sent_at": now if s.inline else None,
    } for i, s in zip(ids, on_reports)])
    message_ids = {id(s): i for i, s in zip(ids, on_reports)}
    insert_rows(conn, outbox_t, [{
        "channel": s.channel, "report_id": s.report_id, "message_id": message_ids.get(id(s)),
        "recipient": s.recipient, "kind": s.kind,
        "text": s.body if s.body is not None else s.text, "reply_to": s.reply_to,
        "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
    } for s in sends if not s.inline])


def queue_media(conn: Connection, work: list[Work], now: datetime) -> None:
    """One download job per provider-held file; fetched after the acknowledgement."""
    insert_rows(conn, media_t, [{
        "channel": w.message.channel, "message_id": w.message_id, "report_id": w.report_id,
        "url": ref.url, "media_type": ref.media_type, "status": "pending", "attempts": 0,
        "next_attempt_at": now, "created_at": now,
    } for w in work if w.message_id is not None for ref in w.message.media])
