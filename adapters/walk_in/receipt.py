"""The printable receipt of a walk-in complaint, and what the clerk must know on it: the
SMS number to text ``STATUS <id>`` to (only when an SMS channel runs), and whether the
citizen who asked to be notified will be, and if not, why."""

from __future__ import annotations

from datetime import timedelta, timezone

import phonenumbers
import segno
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select

from adapters.walk_in.payloads import CONTENT_TYPE, WalkInInbox
from core import rating, reports, tracking
from core.adapter import staff_only
from core.identity import contact_senders
from core.models import InboxItem, OutboxItem, Report
from core.staff import Staff

router = APIRouter(include_in_schema=False)
WIB = timezone(timedelta(hours=7), "WIB")
report_t, inbox_t, outbox_t = Report.__table__, InboxItem.__table__, OutboxItem.__table__


def sms_number(adapters) -> str | None:
    """The number citizens text ``STATUS <id>`` to, as they would dial it (0811-1272-206):
    the first running SMS channel's own number, if any."""
    for adapter in adapters.values():
        number = getattr(adapter.settings, "number", None)
        if adapter.sender_kind == "phone" and isinstance(number, str) and \
                number.startswith("+"):
            parsed = phonenumbers.parse(number, "ID")
            return phonenumbers.format_number(parsed,
                                              phonenumbers.PhoneNumberFormat.NATIONAL)
    return None


def qr_data_uri(url: str) -> str:
    return segno.make(url, error="m").svg_data_uri(scale=4, border=2)


def not_notified(conn, adapters, report_id: int) -> list[dict[str, str]]:
    """For each contact the citizen consented to be notified on and to which nothing was
    queued: its kind (phone, email) and why (no such channel runs, or it sent STOP)."""
    payload = conn.execute(select(inbox_t.c.payload).where(
        inbox_t.c.report_id == report_id, inbox_t.c.content_type == CONTENT_TYPE)
        .order_by(inbox_t.c.id).limit(1)).scalar()
    if payload is None:
        return []
    kept = WalkInInbox.model_validate_json(payload)
    contact = kept.report.contact
    if not kept.consent or contact is None:
        return []
    queued = set(conn.execute(select(outbox_t.c.recipient)
                              .where(outbox_t.c.report_id == report_id)).scalars())
    running = {a.sender_kind for a in adapters.values() if not a.replies_inline}
    return [{"kind": s.kind, "why": "opted_out" if s.kind in running else "no_channel"}
            for s in contact_senders(contact.phone, contact.email) if s.handle not in queued]


@router.get("/staff/walk-in/receipt/{tracking_id}")
async def receipt(request: Request, tracking_id: str,
                  account: Staff = staff_only("counter", "admin", "supervisor")) -> Response:
    kanal = request.app.state.kanal
    try:
        compact = tracking.normalize(tracking_id)
    except tracking.InvalidTrackingID:
        compact = None

    def load():
        if compact is None:
            return None, None, []
        with kanal.engine.connect() as conn:
            view = reports.public_report(conn, compact, categories=kanal.category_names,
                                         areas=kanal.case_engine)
            row = conn.execute(select(report_t.c.id, report_t.c.created_at)
                               .where(report_t.c.tracking_id == compact)).first()
            if view is None or row is None:
                return None, None, []
            return view, row.created_at, not_notified(conn, kanal.adapters, row.id)

    view, created, unsent = await run_in_threadpool(load)
    if view is None:
        return kanal.staff_page(request, "staff_lookup.html", {
            "value": tracking_id, "error": "not_found", "view": None}, status_code=404)
    shown = tracking.display(compact)
    base = kanal.settings.public_base_url.rstrip("/") or str(request.base_url).rstrip("/")
    url = f"{base}/lacak/{shown}"
    when = created.astimezone(WIB) if created.tzinfo else created.replace(
        tzinfo=timezone.utc).astimezone(WIB)
    return kanal.staff_page(request, "walk_in_receipt.html", {
        "tracking_id": shown, "view": view, "url": url, "qr": qr_data_uri(url),
        # the citizen's own link to rate the result (core.rating): on the paper only
        "rating_link": rating.rating_link(base, kanal.rating_prompts.secret, compact),
        "sms_number": sms_number(kanal.adapters), "not_notified": unsent,
        "when": when.strftime("%d/%m/%Y %H:%M") + " WIB"})
