"""Read models of a report: the public, PII-free view and the staff view."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from core import tracking
from core.photos import PUBLIC_TYPES
from core.models import (
    Attachment, CaseEvent, InboxItem, Message, Report, Reporter, ReporterIdentity, Unit,
)
from core.proofs import public_proofs

WIB = ZoneInfo("Asia/Jakarta")
report_t = Report.__table__
event_t = CaseEvent.__table__
message_t = Message.__table__
attachment_t = Attachment.__table__
unit_t = Unit.__table__


def unit_names(conn: Connection, ids) -> dict[str, str]:
    ids = sorted({i for i in ids if i})
    if not ids:
        return {}
    return {r.id: r.name for r in conn.execute(
        select(unit_t.c.id, unit_t.c.name).where(unit_t.c.id.in_(ids)))}


def wib(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(WIB).isoformat(timespec="seconds")


def _load(conn: Connection, compact: str):
    return conn.execute(select(report_t).where(report_t.c.tracking_id == compact)).first()


def public_photos(conn: Connection, report_id: int, compact: str) -> list[dict[str, Any]]:
    """The reporter's photos the public may see, with their paths under /api/v1 (the
    caller leaves them out for a confidential report)."""
    return [
        {"id": a.id, "media_type": a.media_type,
         "url": f"/api/v1/reports/{compact}/photos/{a.id}"}
        for a in conn.execute(select(attachment_t.c.id, attachment_t.c.media_type)
                              .where(attachment_t.c.report_id == report_id,
                                     attachment_t.c.media_type.in_(sorted(PUBLIC_TYPES)))
                              .order_by(attachment_t.c.id))]


def public_report(conn: Connection, compact: str, *, categories: dict[str, str] | None = None,
                  areas: Any = None, reveal: bool = False) -> dict[str, Any] | None:
    """The public view: no reporter identity, no message text, no handles. A confidential
    report (LAPOR!'s "rahasia") shows no photos and no officers' notes either, unless
    ``reveal`` (the staff view built on it)."""
    r = _load(conn, compact)
    if r is None:
        return None
    hidden = bool(r.confidential) and not reveal
    timeline: list[dict[str, Any]] = [{
        "at": wib(r.created_at), "kind": "received", "status": "Menunggu",
        "note": "Laporan diterima", "unit": None,
    }]
    events = conn.execute(select(event_t).where(event_t.c.report_id == r.id,
                                                event_t.c.public.is_(True))
                          .order_by(event_t.c.id)).all()
    names = unit_names(conn, [r.unit_id, *(e.unit_id for e in events)])
    for e in events:
        # the unit, never the officer: staff names stay off public pages
        timeline.append({"at": wib(e.created_at), "kind": e.kind, "status": e.status,
                         "note": None if hidden else e.note,
                         "unit": ({"id": e.unit_id, "name": names.get(e.unit_id, e.unit_id)}
                                  if e.unit_id else None)})
    for m in conn.execute(select(message_t.c.created_at).where(
            message_t.c.report_id == r.id, message_t.c.kind == "follow_up")
            .order_by(message_t.c.id)):
        timeline.append({"at": wib(m.created_at), "kind": "follow_up", "status": None,
                         "note": "Pelapor menambahkan keterangan", "unit": None})
    timeline.sort(key=lambda item: item["at"] or "")
    photos = [] if hidden else public_photos(conn, r.id, compact)

    def area(code: str | None, name: str | None) -> dict[str, Any] | None:
        return {"code": code, "name": name} if code else None

    kecamatan_name = kota_name = None
    if areas is not None and r.kelurahan_code:
        place = areas.place_for(r.kelurahan_code)
        if place is not None:
            kecamatan_name, kota_name = place.kecamatan_name, place.kota_name
    return {
        "tracking_id": tracking.display(r.tracking_id),
        "status": r.status,
        "confidential": bool(r.confidential),
        "category": ({"id": r.category, "name": (categories or {}).get(r.category, r.category)}
                     if r.category else None),
        "official_channel": r.official_channel,
        "kelurahan": area(r.kelurahan_code, r.kelurahan_name),
        "kecamatan": area(r.kecamatan_code, kecamatan_name),
        "kota": area(r.kota_code, kota_name),
        "created_at": wib(r.created_at),
        "updated_at": wib(r.updated_at),
        "unit": ({"id": r.unit_id, "name": names.get(r.unit_id, r.unit_id)}
                 if r.unit_id else None),
        "timeline": timeline,
        "photos": photos,
        # what proves the fix, for everyone (EXIF removed when served)
        "proof_photos": [
            {"id": p.id, "media_type": p.media_type,
             "url": f"/api/v1/reports/{compact}/proof/{p.id}"}
            for p in ([] if hidden else public_proofs(conn, r.id, r.status))],
        "rating": ({"score": r.rating, "at": wib(r.rated_at)} if r.rating else None),
    }


def proof_photo(conn: Connection, compact: str, photo_id: int):
    """A proof photo of that report, while the public may see it (``public_proofs``)."""
    r = conn.execute(select(report_t.c.id, report_t.c.status)
                     .where(report_t.c.tracking_id == compact,
                            report_t.c.confidential.is_(False))).first()
    if r is None:
        return None
    return next((p for p in public_proofs(conn, r.id, r.status) if p.id == photo_id), None)


def photo(conn: Connection, compact: str, attachment_id: int):
    """The attachment row if it belongs to that report and the report is not
    confidential."""
    return conn.execute(
        select(attachment_t.c.sha256, attachment_t.c.media_type)
        .join(report_t, report_t.c.id == attachment_t.c.report_id)
        .where(report_t.c.tracking_id == compact, attachment_t.c.id == attachment_id,
               report_t.c.confidential.is_(False))
    ).first()


def staff_report(conn: Connection, compact: str, *, categories: dict[str, str] | None = None,
                 areas: Any = None) -> dict[str, Any] | None:
    """Everything about a report, for staff tools (contains personal data): the public
    view (named as it names them), the client's own category name, the reporter and the
    messages."""
    r = _load(conn, compact)
    if r is None:
        return None
    reporter = None
    if r.reporter_id is not None:
        person = conn.execute(select(Reporter.__table__).where(
            Reporter.__table__.c.id == r.reporter_id)).first()
        ids = conn.execute(select(ReporterIdentity.__table__.c.kind,
                                  ReporterIdentity.__table__.c.handle)
                           .where(ReporterIdentity.__table__.c.reporter_id == r.reporter_id)
                           ).all()
        reporter = {"id": r.reporter_id, "name": person.display_name if person else None,
                    "identities": [{"kind": k, "handle": h} for k, h in ids]}
    messages = [{
        "id": m.id, "direction": m.direction, "kind": m.kind, "channel": m.channel,
        "external_id": m.external_id, "subject": m.subject, "text": m.text,
        "delivery": m.delivery, "created_at": wib(m.created_at),
    } for m in conn.execute(select(message_t).where(message_t.c.report_id == r.id)
                            .order_by(message_t.c.id))]
    base = public_report(conn, compact, categories=categories, areas=areas,
                         reveal=True) or {}
    return {
        **base,
        "source_category": r.source_category,
        "id": r.id, "channel": r.channel, "queue": r.queue, "sla_due_at": wib(r.sla_due_at),
        "sla_clock": r.sla_clock, "resolution_due_at": wib(r.resolution_due_at),
        "escalated_unit_id": r.escalated_unit_id,
        "first_response_at": wib(r.first_response_at), "resolved_at": wib(r.resolved_at),
        "closed_at": wib(r.closed_at), "rating_comment": r.rating_comment,
        "reopened_at": wib(r.reopened_at), "external_ref": r.external_ref,
        "location": {"lat": r.lat, "lon": r.lon, "address": r.address},
        "reporter": reporter, "messages": messages,
        "inbox_ids": [i for (i,) in conn.execute(select(InboxItem.__table__.c.id).where(
            InboxItem.__table__.c.report_id == r.id))],
    }
