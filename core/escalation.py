"""Missed deadlines (issue 12, "SLA and escalation"): a case whose running clock
(``report.sla_clock``) passed its deadline (``sla_due_at``) is flagged, counted late
against the unit that held it, and escalated one level up (kelurahan -> kecamatan ->
kota, sudin -> dinas: ``core.units.escalation_parent``).

Exactly once per case and deadline, with any number of processes: the ``sla_breach`` row
of (report, clock, deadline) is the claim, inserted with ``ON CONFLICT DO NOTHING``, and
only the transaction whose insert took effect escalates. A conflicting insert waits for
the other transaction and then does nothing; it never aborts the caller's transaction
(which a plain INSERT catching ``IntegrityError`` would do on PostgreSQL). See docs/sla.md,
"Escalation"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, ColumnElement, and_, exists, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.cases import flush
from core.models import CaseEvent, Report, SlaBreach, as_utc
from core.unit import CaseWork, Escalation, Notice
from core.units import escalation_parent, unit

report_t = Report.__table__
breach_t = SlaBreach.__table__
event_t = CaseEvent.__table__

# what the public timeline says was missed, by clock
MISSED = {
    "first_response": "Batas waktu tanggapan terlewati",
    "hop": "Batas waktu koordinasi terlewati",
    "resolution": "Batas waktu penyelesaian terlewati",
    "ews": "Batas waktu penanganan lanjutan (EWS) terlewati",
}
MISSED_OTHER = "Batas waktu terlewati"

# (conn, report_id, notices, now): delivers what hooks queued with work.notify_reporter
NoticeSender = Callable[[Connection, int, list[Notice], datetime], None]


def _current_breach() -> ColumnElement[bool]:
    return exists().where(breach_t.c.report_id == report_t.c.id,
                          breach_t.c.clock == report_t.c.sla_clock,
                          breach_t.c.due_at == report_t.c.sla_due_at)


def overdue() -> ColumnElement[bool]:
    """For a query on ``report``: the case missed the deadline of the clock that runs now
    (a breach exists for it). The officer queue sorts and marks by it; no column needed."""
    return and_(report_t.c.sla_clock.is_not(None), _current_breach())


def flagged(conn: Connection, report_id: int) -> bool:
    """Whether the case is overdue on its current deadline (see ``overdue``)."""
    return conn.execute(select(report_t.c.id).where(report_t.c.id == report_id, overdue())
                        ).first() is not None


def late_by_unit(conn: Connection, start: datetime, end: datetime) -> dict[str | None, int]:
    """Missed deadlines by the unit that held the case, for deadlines in [start, end).
    The key is None for cases that had no unit (triage)."""
    rows = conn.execute(
        select(breach_t.c.unit_id, func.count())
        .where(breach_t.c.due_at >= start, breach_t.c.due_at < end)
        .group_by(breach_t.c.unit_id))
    return {unit_id: n for unit_id, n in rows}


def _insert(conn: Connection):
    dialect = {"postgresql": postgresql, "sqlite": sqlite}.get(conn.dialect.name)
    if dialect is None:
        raise RuntimeError(f"escalation needs SQLite or PostgreSQL, not {conn.dialect.name}")
    return dialect.insert


def _target(conn: Connection, holder: str | None, escalated: str | None) -> str | None:
    """The next level above where the case stands: above its earlier escalation when that
    is on the holder's own path up (a second missed deadline goes one further), else
    above the holder (the case moved to another unit since). None at the top."""
    if holder is None:
        return None
    path, at = [], holder
    while (at := escalation_parent(conn, at)) is not None:
        path.append(at)
    if escalated in path:
        return escalation_parent(conn, escalated)
    return path[0] if path else None


def _note(clock: str, to_name: str | None) -> str:
    missed = MISSED.get(clock, MISSED_OTHER)
    if to_name is None:
        return f"{missed}; laporan ditandai terlambat"
    return f"{missed}; laporan dieskalasi ke {to_name}"


def _due(conn: Connection, now: datetime, limit: int) -> list:
    stmt = (select(report_t.c.id, report_t.c.tracking_id, report_t.c.status,
                   report_t.c.unit_id, report_t.c.escalated_unit_id, report_t.c.sla_clock,
                   report_t.c.sla_due_at)
            .where(report_t.c.sla_clock.is_not(None), report_t.c.sla_due_at <= now,
                   ~_current_breach())
            .order_by(report_t.c.sla_due_at, report_t.c.id).limit(limit))
    if conn.dialect.name == "postgresql":
        # a case in the middle of a transition (core.cases locks its row) waits for the
        # next round, when its clock may have changed; SQLite holds the write lock already
        stmt = stmt.with_for_update(of=report_t, skip_locked=True)
    return sorted(conn.execute(stmt), key=lambda r: r.id)  # one lock order for everyone


def escalate_due(conn: Connection, now: datetime, *, hook=None, limit: int = 500,
                 on_notices: NoticeSender | None = None) -> list[Escalation]:
    """Escalate up to ``limit`` cases whose deadline passed by ``now``, in the caller's
    (writing) transaction; the escalations this call made, oldest deadline first.

    For each: the ``sla_breach`` row (counted late against ``unit_id``), the case's
    ``escalated_unit_id`` set to the next level (left as it is at the top, where the case
    stays flagged), a public ``escalated`` case event, then ``hook.kanal_case_escalated``
    with a ``CaseWork`` whose case events are written here. ``on_notices`` is given the
    notices the hooks queued (``work.notify_reporter``), in this transaction; without it
    they are logged as not sent (``core.notify`` provides the sender)."""
    candidates = _due(conn, now, limit)
    if not candidates:
        return []
    targets = {r.id: _target(conn, r.unit_id, r.escalated_unit_id) for r in candidates}
    ins = _insert(conn)
    claimed = conn.execute(
        ins(breach_t).values([{
            "report_id": r.id, "clock": r.sla_clock, "due_at": r.sla_due_at,
            "unit_id": r.unit_id, "escalated_to": targets[r.id], "detected_at": now,
        } for r in candidates])
        .on_conflict_do_nothing(index_elements=["report_id", "clock", "due_at"])
        .returning(breach_t.c.report_id)).scalars().all()
    claimed = set(claimed)
    done = []
    for r in sorted((r for r in candidates if r.id in claimed),
                    key=lambda r: (as_utc(r.sla_due_at), r.id)):
        done.append(_escalate(conn, r, targets[r.id], now, hook, on_notices))
    return done


def _escalate(conn: Connection, r, target: str | None, now: datetime, hook,
              on_notices: NoticeSender | None) -> Escalation:
    if target is not None:
        conn.execute(update(report_t).where(report_t.c.id == r.id)
                     .values(escalated_unit_id=target, updated_at=now))
    to_name = unit(conn, target).name if target is not None else None
    conn.execute(insert(event_t).values(
        report_id=r.id, kind="escalated", status=r.status, from_status=r.status,
        note=_note(r.sla_clock, to_name), public=True, unit_id=target, created_at=now))
    escalation = Escalation(report_id=r.id, tracking_id=r.tracking_id, clock=r.sla_clock,
                            due_at=as_utc(r.sla_due_at), status=r.status, unit_id=r.unit_id,
                            escalated_to=target, at=now)
    if hook is not None:
        work = CaseWork(now=now, report_id=r.id)
        hook.kanal_case_escalated(escalation=escalation, work=work)
        flush(conn, work, on_notices)
    return escalation
