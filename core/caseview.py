"""What the officer screen and the staff API read about cases: a unit's queue by SLA risk
and one case with what the account may see and do. Queries only; no web code.

``queue`` is the one list of cases for staff: ``/staff/cases``, ``GET /staff/api/cases``
and ``kanal cases list`` all call it. Its order is the SLA risk: a missed deadline first
(the oldest miss on top), then the nearest deadline, then the cases with no clock running.
The officer's filter on its unit (``unit_id`` or ``escalated_unit_id``) uses the indexes
``ix_report_unit_due`` and ``ix_report_escalated_due`` (unit, deadline), one per side of
the OR (PostgreSQL plans a bitmap OR of the two; the few rows found are then sorted).

Personal data (docs/cases.md, "The officer screen"): supervisors and admins see the
reporter's name and handles; officers see the messages, the photos and the name, with the
handles masked (``+62812****789``): they write to the citizen through the case's ``note``
action, which goes out on the citizen's own channel, not from their own phone.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, Row, or_, select

from core import cases, tracking
from core.errors import ApiError
from core.models import CaseEvent, Report, Unit, as_utc, utcnow
from core.proofs import proof_rows, proof_t
from core.reports import staff_report, unit_names, wib
from core.staff import Staff
from core.workcal import WIB

report_t = Report.__table__
event_t = CaseEvent.__table__
unit_t = Unit.__table__
QUEUE_ROLES = frozenset({"officer", "supervisor", "admin"})
FULL_PII_ROLES = frozenset({"supervisor", "admin"})
MAX_LIMIT = 200
ALL = "all"  # the status filter for every case, closed ones too
AREA_CODE = re.compile(r"\d{2}\.\d{2}(\.\d{2}(\.\d{4})?)?")


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One case of a queue. Times are aware UTC; ``as_dict`` gives them in WIB (ISO 8601)."""

    tracking_id: str  # as shown: JK7Q-M4XA-9
    compact: str  # as stored and in URLs of the staff routes
    status: str
    category: str | None
    kelurahan_code: str | None
    kelurahan_name: str | None
    unit_id: str | None
    unit_name: str | None
    channel: str
    official_channel: str
    created_at: datetime
    due_at: datetime | None
    sla_clock: str | None
    overdue: bool
    escalated: bool
    escalated_unit_id: str | None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(created_at=wib(self.created_at), due_at=wib(self.due_at))
        return out


def _may_queue(staff: Staff | None) -> None:
    if staff is None:
        return
    if staff.role not in QUEUE_ROLES:
        raise ApiError(403, "not_allowed", f"the {staff.role} role has no case queue")
    if staff.role == "officer" and staff.unit_id is None:
        raise ApiError(403, "not_allowed",
                       "this officer account has no unit (kanal staff add --unit)")


def _held_by(unit_id: str):
    return or_(report_t.c.unit_id == unit_id, report_t.c.escalated_unit_id == unit_id)


def _area(code: str):
    if not AREA_CODE.fullmatch(code):
        raise ApiError(422, "invalid_field", f"{code!r} is not a kota (31.71), kecamatan "
                       "(31.71.01) or kelurahan (31.71.01.1001) code", field="area")
    column = {5: report_t.c.kota_code, 8: report_t.c.kecamatan_code}.get(
        len(code), report_t.c.kelurahan_code)
    return column == code


def _statuses(status: str | None):
    if status is None:
        return report_t.c.status.in_(cases.OPEN)
    if status == ALL:
        return None
    if status not in cases.STATUSES:
        raise ApiError(422, "invalid_field", f"unknown status {status!r}; statuses: "
                       f"{', '.join(cases.STATUSES)} or {ALL}", field="status")
    return report_t.c.status == status


def queue(conn: Connection, staff: Staff | None, *, status: str | None = None,
          category: str | None = None, area: str | None = None, channel: str | None = None,
          since: datetime | None = None, until: datetime | None = None,
          unit: str | None = None, limit: int = 50, offset: int = 0,
          now: datetime | None = None) -> list[QueueRow]:
    """The cases ``staff`` may see, by SLA risk (see the module docstring).

    ``staff``: an officer sees the cases its unit holds or that were escalated to it; a
    supervisor or an admin sees all, or those of ``unit``. ``None`` is a trusted caller
    (the CLI) and sees all. Other roles, an officer without a unit, or an officer asking
    for another unit's queue: ApiError 403.
    ``status``: a status of ``core.cases.STATUSES``, ``"all"``, or None for the open ones.
    ``area``: a kota, kecamatan or kelurahan code (``31.71``, ``31.71.01``,
    ``31.71.01.1001``). ``channel``: the channel id or the official channel.
    ``since``/``until``: the report's creation time, ``since <= created_at < until``
    (``day_bounds`` turns a WIB date into them). ``limit`` is at most 200.
    Bad values: ApiError 422 with the ``field``."""
    _may_queue(staff)
    if staff is not None and staff.role == "officer":
        if unit is not None and unit != staff.unit_id:
            raise ApiError(403, "not_allowed", "an officer sees its own unit's queue only",
                           field="unit")
        unit = staff.unit_id
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise ApiError(422, "invalid_field", f"limit is 1-{MAX_LIMIT} and offset >= 0",
                       field="limit")
    now = now or utcnow()
    # in UTC: SQLite keeps times as naive UTC text and would compare a WIB time as it is
    since, until = (t.astimezone(timezone.utc) if t is not None else None
                    for t in (since, until))
    where = [c for c in (
        _statuses(status),
        _held_by(unit) if unit else None,
        report_t.c.category == category if category else None,
        _area(area) if area else None,
        or_(report_t.c.channel == channel, report_t.c.official_channel == channel)
        if channel else None,
        report_t.c.created_at >= since if since is not None else None,
        report_t.c.created_at < until if until is not None else None,
    ) if c is not None]
    stmt = (select(report_t, unit_t.c.name.label("unit_name"))
            .outerjoin(unit_t, unit_t.c.id == report_t.c.unit_id)
            .where(*where)
            .order_by(report_t.c.sla_due_at.asc().nulls_last(), report_t.c.id)
            .limit(limit).offset(offset))
    return [_row(r, now) for r in conn.execute(stmt)]


def _row(r: Row, now: datetime) -> QueueRow:
    due = as_utc(r.sla_due_at)
    return QueueRow(
        tracking_id=tracking.display(r.tracking_id), compact=r.tracking_id, status=r.status,
        category=r.category, kelurahan_code=r.kelurahan_code, kelurahan_name=r.kelurahan_name,
        unit_id=r.unit_id, unit_name=r.unit_name, channel=r.channel,
        official_channel=r.official_channel, created_at=as_utc(r.created_at), due_at=due,
        sla_clock=r.sla_clock, overdue=due is not None and due < now,
        escalated=r.escalated_unit_id is not None, escalated_unit_id=r.escalated_unit_id)


def day_bounds(value: str | None, field: str, *, end: bool = False) -> datetime | None:
    """A ``YYYY-MM-DD`` date of a filter as a time: the start of that day in WIB, or with
    ``end`` the start of the next day (``until`` excludes it). Empty: None."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ApiError(422, "invalid_field", f"{text!r} is not a date (YYYY-MM-DD)",
                       field=field) from None
    return datetime.combine(day + timedelta(days=1 if end else 0), time(0), WIB)


# -- one case ------------------------------------------------------------------------


def mask_handle(handle: str | None) -> str | None:
    """A phone number or an email as an officer sees it: enough to recognise, not to
    call. ``+6281234567789`` -> ``+62812****789``, ``budi@mail.id`` -> ``b***@mail.id``."""
    if not handle:
        return handle
    if "@" in handle:
        name, _, domain = handle.partition("@")
        return f"{name[:1]}***@{domain}"
    if len(handle) <= 6:
        return "****"
    return f"{handle[:6]}****{handle[-3:]}"


def _timeline(conn: Connection, r: dict, report_id: int) -> list[dict]:
    """Every case event, internal ones too, with the actor and the staff-only detail."""
    events = conn.execute(select(event_t).where(event_t.c.report_id == report_id)
                          .order_by(event_t.c.id)).all()
    names = unit_names(conn, [e.unit_id for e in events])
    items = [{"at": r["created_at"], "kind": "received", "status": "Menunggu",
              "note": "Laporan diterima", "detail": None, "actor": None, "public": True,
              "unit": None}]
    items += [{"at": wib(e.created_at), "kind": e.kind, "status": e.status,
               "from_status": e.from_status, "note": e.note, "detail": e.detail,
               "actor": e.actor, "public": e.public,
               "unit": {"id": e.unit_id, "name": names.get(e.unit_id, e.unit_id)}
               if e.unit_id else None} for e in events]
    items += [{"at": m["created_at"], "kind": "follow_up", "status": None,
               "note": "Pelapor menambahkan keterangan", "detail": m["text"], "actor": None,
               "public": True, "unit": None}
              for m in r["messages"] if m["kind"] == "follow_up" and m["direction"] == "in"]
    return sorted(items, key=lambda item: item["at"] or "")


def _proofs(conn: Connection, compact: str, report_id: int) -> list[dict]:
    rows = proof_rows(conn, report_id)
    last = rows[-1].event_id if rows else None
    return [{"id": p.id, "event_id": p.event_id, "media_type": p.media_type,
             "filename": p.filename, "uploaded_by": p.uploaded_by, "at": wib(p.created_at),
             "taken_at": wib(p.taken_at), "lat": p.lat, "lon": p.lon,
             "latest": p.event_id == last, "findings": list(p.findings or []),
             "url": f"/staff/cases/{compact}/proof/{p.id}"} for p in rows]


def _case_row(conn: Connection, staff: Staff, compact: str) -> Row:
    row = conn.execute(select(report_t).where(report_t.c.tracking_id == compact)).first()
    if row is None:
        raise ApiError(404, "not_found", f"no case {tracking.display(compact)}")
    if not cases.may_see(staff, row):
        raise ApiError(403, "not_allowed", "this case is not held by your unit")
    return row


def proof_file(conn: Connection, staff: Staff, compact: str, photo_id: int) -> Row:
    """(sha256, media_type) of a proof photo of a case the account may see; else 404/403."""
    row = _case_row(conn, staff, compact)
    proof = conn.execute(select(proof_t.c.sha256, proof_t.c.media_type).where(
        proof_t.c.id == photo_id, proof_t.c.report_id == row.id)).first()
    if proof is None:
        raise ApiError(404, "not_found", f"no proof photo {photo_id} of this case")
    return proof


def case_detail(conn: Connection, staff: Staff, compact: str, *,
                categories: dict[str, str] | None = None, areas: Any = None,
                now: datetime | None = None) -> dict[str, Any]:
    """One case for the case page and ``GET /staff/api/cases/{id}``: ``report`` (the staff
    view of ``core.reports.staff_report``, handles masked unless ``pii`` is ``"full"``),
    ``timeline`` (internal events too), ``proofs`` (each with its ``findings``),
    ``actions`` (what this account may do now), ``pii`` ("full" or "masked"), ``overdue``,
    ``unit_kind`` (of the account's unit). ApiError 404 for no such case, 403 for a case
    the account may not see."""
    row = _case_row(conn, staff, compact)
    report = staff_report(conn, compact, categories=categories, areas=areas)
    pii = "full" if staff.role in FULL_PII_ROLES else "masked"
    if pii == "masked" and report["reporter"] is not None:
        report["reporter"] = {**report["reporter"], "identities": [
            {**i, "handle": mask_handle(i["handle"])}
            for i in report["reporter"]["identities"]]}
    kind = cases.unit_kind(conn, staff.unit_id)
    due = as_utc(row.sla_due_at)
    return {
        "report": report, "compact": compact, "row": row, "pii": pii, "unit_kind": kind,
        "timeline": _timeline(conn, report, row.id),
        "proofs": _proofs(conn, compact, row.id),
        "actions": cases.actions_for(staff, kind, row),
        "overdue": due is not None and due < (now or utcnow()),
        "due_at": due,
    }


def form_units(conn: Connection, case: Row, dinas_for, sudin_for) -> dict[str, Any]:
    """The choices of the coordinate and dispose forms: the active dinas and biro (the
    default is the category's dinas, ``dinas_for(conn, category)``), and the active suku
    dinas of the dinas holding the case (the default its sudin in the report's kota,
    ``sudin_for(conn, dinas_id, kota_code)``)."""
    dinas = conn.execute(select(unit_t.c.id, unit_t.c.name).where(
        unit_t.c.kind.in_(sorted(cases.DINAS_KINDS)), unit_t.c.active.is_(True))
        .order_by(unit_t.c.name)).all()
    sudin = []
    if case.unit_id:
        sudin = conn.execute(select(unit_t.c.id, unit_t.c.name, unit_t.c.kota_code).where(
            unit_t.c.kind == "sudin", unit_t.c.parent_id == case.unit_id,
            unit_t.c.active.is_(True)).order_by(unit_t.c.kota_code, unit_t.c.name)).all()
    return {
        "dinas": dinas, "dinas_default": dinas_for(conn, case.category),
        "sudin": sudin, "sudin_default": sudin_for(conn, case.unit_id, case.kota_code)
        if case.unit_id and case.kota_code else None,
    }
