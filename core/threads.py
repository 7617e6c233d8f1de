"""Which report a message belongs to, and what a late location does to it.

A message joins a report of its own reporter when it names the report's tracking ID, when
it refers to an earlier message of that report (email In-Reply-To, a Telegram edit), or
when it carries only a photo or a location and follows the reporter's report on the same
channel within a few minutes (WhatsApp and Telegram send those as separate messages).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from core import tracking
from core.canonical import Location
from core.models import Message, Report
from core.unit import NewReport, UnitOfWork
from core.work import Work

report_t = Report.__table__
message_t = Message.__table__
# a photo or a location sent this soon after a report belongs to it
JOIN_WINDOW = timedelta(minutes=10)
_COLS = (report_t.c.id, report_t.c.tracking_id, report_t.c.status, report_t.c.reporter_id,
         report_t.c.lat, report_t.c.channel, report_t.c.official_channel, report_t.c.created_at,
         report_t.c.category)


def thread(conn: Connection, work: list[Work], now: datetime) -> None:
    """Set ``target`` (and ``target_row``) of each message that joins an existing report."""
    mentioned: dict[Work, list[str]] = {}
    for w in work:
        if w.reporter_id is None:
            continue
        text = " ".join(filter(None, (w.message.subject, w.message.text)))
        ids = list(tracking.find_in_text(text))
        refs = [r for r in w.message.thread_refs if r]
        if ids or refs:
            mentioned[w] = ids + refs
    found: dict[str, tuple] = {}
    wanted = sorted({t for ids in mentioned.values() for t in ids})
    for chunk in _chunks(wanted, 400):
        for row in conn.execute(select(*_COLS).where(report_t.c.tracking_id.in_(chunk))):
            found[row.tracking_id] = row
    by_ref: dict[tuple[str, str], tuple] = {}
    refs = sorted({r for w in mentioned for r in w.message.thread_refs if r})
    for chunk in _chunks(refs, 400):
        for row in conn.execute(
            select(message_t.c.channel.label("via"), message_t.c.external_id, *_COLS)
            .join(report_t, report_t.c.id == message_t.c.report_id)
            .where(message_t.c.external_id.in_(chunk))
        ):
            by_ref[(row.via, row.external_id)] = row
    for w, ids in mentioned.items():
        for ref in ids:
            hit = found.get(ref) or by_ref.get((w.message.channel, ref))
            if hit is not None and hit.reporter_id == w.reporter_id:
                _join(w, hit)
                break
    _join_attachments(conn, [w for w in work if w.target is None and _only_attachments(w)],
                      now)


def staff_replies(conn: Connection, work: list[Work]) -> None:
    """A message the channel's own account sent outside kanal (a reply staff typed in
    the provider's inbox, which the provider echoes) joins the latest report of the
    citizen it went to on that channel; one kanal sent itself, recorded under the same
    provider id, joins nothing (it is already on its report)."""
    for w in work:
        m = w.message
        if w.reporter_id is None or conn.execute(select(message_t.c.id).where(
                message_t.c.channel == m.channel, message_t.c.direction == "out",
                message_t.c.external_id == m.external_id)).first():
            continue
        row = conn.execute(select(*_COLS).where(
            report_t.c.reporter_id == w.reporter_id, report_t.c.channel == m.channel)
            .order_by(report_t.c.created_at.desc(), report_t.c.id.desc())).first()
        if row is not None:
            _join(w, row)


def _only_attachments(w: Work) -> bool:
    m = w.message
    has_point = m.location is not None and m.location.has_point
    return (w.reporter_id is not None and w.intent == "report" and not (m.text or "").strip()
            and bool(m.media or m.attachments or has_point))


def _join_attachments(conn: Connection, work: list[Work], now: datetime) -> None:
    if not work:
        return
    latest: dict[tuple[int, str], tuple] = {}
    rows = conn.execute(
        select(*_COLS).where(report_t.c.reporter_id.in_({w.reporter_id for w in work}),
                             report_t.c.channel.in_({w.message.channel for w in work}),
                             report_t.c.created_at >= now - JOIN_WINDOW)
        .order_by(report_t.c.id))
    for row in rows:
        latest[(row.reporter_id, row.channel)] = row
    for w in work:
        row = latest.get((w.reporter_id, w.message.channel))
        if row is not None:
            _join(w, row)


def _join(w: Work, row) -> None:
    w.target = (row.id, row.tracking_id, row.status)
    w.target_row = row


def relocate(pipeline, conn: Connection, work: list[Work], now: datetime,
             uow: UnitOfWork) -> None:
    """A report that had no location gets the first one a later message brings: located
    like a new report, then handed to ``kanal_report_located`` (the case engine routes it
    out of triage)."""
    done: set[int] = set()
    for w in work:
        row = w.target_row
        where = w.message.location
        if (row is None or row.lat is not None or row.id in done or where is None
                or not where.has_point or w.intent != "report"):
            continue
        done.add(row.id)
        located = merge_location(pipeline.hook.kanal_locate(message=w.message), where)
        report = NewReport(
            id=row.id, tracking_id=row.tracking_id, status=row.status, channel=row.channel,
            official_channel=row.official_channel, created_at=row.created_at,
            category=row.category, reporter_id=row.reporter_id, lat=located.lat, lon=located.lon,
            address=located.address, kelurahan_code=located.kelurahan_code)
        pipeline.hook.kanal_report_located(report=report, message=w.message, uow=uow)
        values = {name: getattr(report, name) for name in
                  ("lat", "lon", "address", *NewReport.MUTABLE)}
        values.pop("sla_due_at")  # the clock started when the report came in
        values.pop("sla_clock")
        conn.execute(update(report_t).where(report_t.c.id == row.id)
                     .values(updated_at=now, **values))
        w.target = (row.id, row.tracking_id, report.status)


def merge_location(found: Location | None, given: Location | None) -> Location | None:
    """A plugin's answer, with the citizen's point and address kept where it has none."""
    if found is None or given is None:
        return found or given
    return Location(
        lat=found.lat if found.lat is not None else given.lat,
        lon=found.lon if found.lon is not None else given.lon,
        address=found.address or given.address,
        kelurahan_code=found.kelurahan_code or given.kelurahan_code,
    )


def _chunks(items: Sequence, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]
