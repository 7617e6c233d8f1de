"""Follow-ups out (``tindak lanjut``) and reports forwarded to LAPOR!.

The follow-up's JSON is written when kanal queues it (``Adapter.outbox_body``), so it
carries the status of that moment, mapped to LAPOR!'s; its ``id`` is added when it is
sent: the outbox item's, the same on every retry, so LAPOR! keeps one follow-up however
often a timeout makes kanal send it again.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select, update

from adapters.lapor import mapping as m
from adapters.lapor.client import Refused, Throttled
from core import tracking
from core.adapter import PermanentSendError, RetryLater
from core.canonical import OutboundMessage, SendResult
from core.cases import SELESAI
from core.forwarding import KIND as FORWARD
from core.models import CaseEvent, Report
from core.proofs import public_proofs
from core.reports import public_photos

if TYPE_CHECKING:
    from adapters.lapor.plugin import LaporAdapter

report_t = Report.__table__
event_t = CaseEvent.__table__


def idempotency_key(message: OutboundMessage) -> str:
    """The same for every attempt at one outbox item, and unlike any other item's."""
    tid = tracking.display(message.tracking_id) if message.tracking_id else "kanal"
    return f"{tid}-{message.outbox_id}"


def follow_up_body(adapter: LaporAdapter, conn: Connection, report: Any, kind: str,
                   text: str, details: dict[str, Any]) -> str:
    mp = adapter.mapping
    status = details.get("status") if kind == "status_changed" else None
    status = status or getattr(report, "status", None)
    body: dict[str, Any] = {}
    m.put(body, mp.follow_up.status, mp.status(status))
    m.put(body, mp.follow_up.text, text)
    m.put(body, mp.follow_up.attachments, _proofs(adapter, conn, report, status))
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _proofs(adapter: LaporAdapter, conn: Connection, report: Any, status: str | None
            ) -> list[dict[str, Any]]:
    """The photos proving the fix, with a verified resolution; never for a confidential
    report (its photos are not public, so LAPOR! could not read the links)."""
    base = adapter.runtime.settings.public_base_url.rstrip("/")
    if status != SELESAI or not base or getattr(report, "confidential", False):
        return []
    mp = adapter.mapping
    tid = tracking.display(report.tracking_id)
    out = []
    for p in public_proofs(conn, report.id, SELESAI):
        item: dict[str, Any] = {}
        m.put(item, mp.follow_up.attachment_url, f"{base}/api/v1/reports/{tid}/proof/{p.id}")
        m.put(item, mp.follow_up.attachment_type, p.media_type)
        out.append(item)
    return out


def send(adapter: LaporAdapter, message: OutboundMessage) -> SendResult:
    if message.kind == FORWARD:
        return forward(adapter, message)
    mp = adapter.mapping
    try:
        body = json.loads(message.text)
        if not isinstance(body, dict):
            raise ValueError("not an object")
    except ValueError as exc:  # queued before the channel was LAPOR!'s: cannot be sent
        raise PermanentSendError(f"the outbox item is not a LAPOR! follow-up: {exc}") from exc
    key = idempotency_key(message)
    m.put(body, mp.follow_up.id, key)
    url = adapter.client.url(mp.paths.follow_up, message.recipient)
    _post(adapter, url, body, f"LAPOR! complaint {message.recipient}")
    return SendResult(provider_message_id=key)


def _post(adapter: LaporAdapter, url: str, body: dict, what: str) -> Any:
    try:
        return adapter.client.call("POST", url, now=adapter.now(), json=body)[1]
    except Throttled as exc:
        raise RetryLater(max((exc.until - adapter.now()).total_seconds(), 1.0), str(exc)
                         ) from exc
    except Refused as exc:
        if exc.status == 404:
            raise PermanentSendError(f"{what} is unknown to LAPOR! (HTTP 404)") from exc
        raise PermanentSendError(str(exc)) from exc


# -- the reverse direction --------------------------------------------------------------

def forward_body(adapter: LaporAdapter, conn: Connection, report: Any) -> str:
    """The complaint kanal posts for a report of another channel: what the reporter
    wrote, where, the public photos, and the reporter only when the deployment says so."""
    from core.models import Message, ReporterIdentity

    c = adapter.mapping.complaint
    message_t, identity_t = Message.__table__, ReporterIdentity.__table__
    first = conn.execute(select(message_t.c.subject, message_t.c.text)
                         .where(message_t.c.report_id == report.id,
                                message_t.c.direction == "in")
                         .order_by(message_t.c.id).limit(1)).first()
    body: dict[str, Any] = {}
    tid = tracking.display(report.tracking_id)
    m.put(body, c.title, (first.subject if first and first.subject else None)
          or f"Laporan {tid}")
    m.put(body, c.text, (first.text if first else "") or "")
    m.put(body, c.category, report.category)
    if report.lat is not None and report.lon is not None:
        m.put(body, c.lat, report.lat)
        m.put(body, c.lon, report.lon)
    if report.address:
        m.put(body, c.address, report.address)
    m.put(body, c.attachments, [] if report.confidential else _photos(adapter, conn, report))
    m.put(body, c.confidential, bool(report.confidential))
    contact = adapter.settings.forward_reporter_contact and report.reporter_id is not None
    m.put(body, c.anonymous, not contact)
    if contact:
        from core.models import Reporter

        person = conn.execute(select(Reporter.__table__.c.display_name).where(
            Reporter.__table__.c.id == report.reporter_id)).first()
        handles = dict(conn.execute(select(identity_t.c.kind, identity_t.c.handle).where(
            identity_t.c.reporter_id == report.reporter_id)).all())
        m.put(body, c.reporter_name, person.display_name if person else None)
        m.put(body, c.reporter_phone, handles.get("phone") or handles.get("web:phone"))
        m.put(body, c.reporter_email, handles.get("email") or handles.get("web:email"))
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)


def _photos(adapter: LaporAdapter, conn: Connection, report: Any) -> list[dict[str, Any]]:
    """The public photos of the report, as links LAPOR! can read."""
    base = adapter.runtime.settings.public_base_url.rstrip("/")
    if not base:
        return []
    out = []
    for photo in public_photos(conn, report.id, report.tracking_id):
        item: dict[str, Any] = {}
        m.put(item, adapter.mapping.complaint.attachment_url, base + photo["url"])
        m.put(item, adapter.mapping.complaint.attachment_type, photo["media_type"])
        out.append(item)
    return out


def forward(adapter: LaporAdapter, message: OutboundMessage) -> SendResult:
    """POST the complaint, keep the tracking ID LAPOR! gives it on the report."""
    mp = adapter.mapping
    try:
        body = json.loads(message.text)
    except ValueError as exc:
        raise PermanentSendError(f"the outbox item is not a LAPOR! complaint: {exc}") from exc
    key = idempotency_key(message)
    m.put(body, mp.create.id, key)
    answer = _post(adapter, adapter.client.url(mp.paths.create), body, "the forwarded report")
    lapor_id = m.get(answer, mp.create.tracking_id)
    if lapor_id is None or not str(lapor_id).strip():
        raise PermanentSendError(f"LAPOR! answered without a tracking ID at "
                                 f"{mp.create.tracking_id!r} (check the mapping)")
    lapor_id = str(lapor_id).strip()[:64]
    record_forwarded(adapter, message, lapor_id)
    return SendResult(provider_message_id=lapor_id)


def record_forwarded(adapter: LaporAdapter, message: OutboundMessage, lapor_id: str) -> None:
    from core.db import writing

    now = adapter.now()
    with writing(adapter.runtime.engine) as conn:
        row = conn.execute(select(report_t.c.id, report_t.c.status, report_t.c.unit_id)
                           .where(report_t.c.tracking_id == message.tracking_id)).first()
        if row is None:
            return
        conn.execute(update(report_t).where(report_t.c.id == row.id)
                     .values(external_ref=lapor_id, updated_at=now))
        conn.execute(insert(event_t).values(
            report_id=row.id, kind="forwarded", status=row.status,
            note=f"Diteruskan ke LAPOR! dengan nomor {lapor_id}", actor=None, public=True,
            unit_id=row.unit_id, detail=f"LAPOR! tracking ID {lapor_id}", created_at=now))
