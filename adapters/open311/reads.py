"""What the GET endpoints show: kanal's categories as services, and reports as service
requests without personal data (no text, no typed address, no reporter, points snapped
to the public grid, confidential reports left out)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, func, select

from core import tracking
from core.cases import CLOSED
from core.models import Attachment, Report
from core.photos import PUBLIC_TYPES
from core.publiclist import round_point
from core.reports import unit_names, wib

report_t = Report.__table__
attachment_t = Attachment.__table__
WINDOW = timedelta(days=90)
LIMIT = 1000
GROUP = "Cepat Respon Masyarakat"


def service(category: dict[str, Any]) -> dict[str, Any]:
    return {"service_code": category["id"],
            "service_name": category.get("id_name") or category["id"],
            "description": category.get("en_name") or category.get("id_name") or "",
            "metadata": False, "type": "realtime",
            "keywords": ", ".join(category.get("aliases") or []),
            "group": category.get("group") or GROUP}


def definition(category: dict[str, Any]) -> dict[str, Any]:
    return {"service_code": category["id"], "attributes": []}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _point(row) -> tuple[float | None, float | None]:
    """The report's point snapped to the public grid, as /laporan shows it
    (``core.publiclist.round_point``): one rounding for every public answer."""
    return round_point(row.lat, row.lon) or (None, None)


def _photos(conn: Connection, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = conn.execute(select(attachment_t.c.report_id, func.min(attachment_t.c.id))
                        .where(attachment_t.c.report_id.in_(ids),
                               attachment_t.c.media_type.in_(sorted(PUBLIC_TYPES)))
                        .group_by(attachment_t.c.report_id))
    return {r[0]: r[1] for r in rows}


def _address(row, areas) -> str | None:
    """Kelurahan, kecamatan, kota from the boundaries: never the address the citizen typed."""
    if not row.kelurahan_code:
        return None
    parts = [f"Kelurahan {row.kelurahan_name}" if row.kelurahan_name else None]
    place = areas.place_for(row.kelurahan_code) if areas is not None else None
    if place is not None:
        parts += [f"Kecamatan {place.kecamatan_name}" if place.kecamatan_name else None,
                  place.kota_name]
    return ", ".join(p for p in parts if p) or None


def service_requests(conn: Connection, rows: list, *, categories: dict[str, str],
                     areas: Any, base_url: str) -> list[dict[str, Any]]:
    names = unit_names(conn, [r.unit_id for r in rows])
    photos = _photos(conn, [r.id for r in rows])
    out = []
    for r in rows:
        shown = tracking.display(r.tracking_id)
        closed = r.status in CLOSED
        category = categories.get(r.category, r.category) if r.category else None
        photo = photos.get(r.id)
        out.append({
            "service_request_id": shown,
            "status": "closed" if closed else "open",
            "status_notes": r.status,
            "service_name": category,
            "service_code": r.category,
            # the category's name: the citizen's own text may hold a phone number
            "description": category,
            "agency_responsible": names.get(r.unit_id, r.unit_id) if r.unit_id else None,
            "service_notice": f"{base_url}/lacak/{shown}",
            "requested_datetime": wib(_utc(r.created_at)),
            "updated_datetime": wib(_utc(r.updated_at)),
            "expected_datetime": (wib(_utc(r.resolution_due_at))
                                  if r.resolution_due_at is not None and not closed else None),
            "address": _address(r, areas),
            "address_id": None,
            "zipcode": None,
            "lat": _point(r)[0],
            "long": _point(r)[1],
            "media_url": (f"{base_url}/api/v1/reports/{r.tracking_id}/photos/{photo}"
                          if photo is not None else None),
        })
    return out


def one(conn: Connection, compact: str) -> list:
    """The report with that tracking ID, unless it is confidential."""
    return conn.execute(select(report_t).where(report_t.c.tracking_id == compact,
                                               report_t.c.confidential.is_(False))).all()


def search(conn: Connection, *, ids: list[str] | None = None, codes: list[str] | None = None,
           start: datetime | None = None, end: datetime | None = None,
           status: set[str] | None = None, limit: int | None = None) -> list:
    """Newest first. ``ids`` wins over every other filter, as the spec says."""
    query = select(report_t).where(report_t.c.confidential.is_(False))
    if ids is not None:
        query = query.where(report_t.c.tracking_id.in_(ids))
    else:
        if codes:
            query = query.where(report_t.c.category.in_(codes))
        if start is not None:
            query = query.where(report_t.c.created_at >= start)
        if end is not None:
            query = query.where(report_t.c.created_at <= end)
        if status == {"open"}:
            query = query.where(report_t.c.status.not_in(sorted(CLOSED)))
        elif status == {"closed"}:
            query = query.where(report_t.c.status.in_(sorted(CLOSED)))
    query = query.order_by(report_t.c.created_at.desc(), report_t.c.id.desc()).limit(limit or LIMIT)
    return conn.execute(query).all()
