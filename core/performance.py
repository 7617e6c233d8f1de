"""Unit performance (issue 14): per unit and period, the figures the city reads, from the
case events and the report columns the case engine keeps in step with them. Which case
counts for which unit, and each figure, are defined in docs/performance.md."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import (
    Connection, Float, and_, case, cast, exists, func, literal, or_, select, union, union_all,
)

from core.cases import RULES, SELESAI, VERIFIKASI
from core.models import CaseEvent, Report, SlaBreach, Unit, as_utc
from core.period import Period
from core.units import KINDS, list_units

report_t = Report.__table__
event_t = CaseEvent.__table__
breach_t = SlaBreach.__table__
unit_t = Unit.__table__

# the events that bring a case to a unit (the case engine's routing, coordinate, dispose)
ARRIVALS = ("opened", "located", "coordinate", "dispose")
RESOLVED = (VERIFIKASI, SELESAI)
# the events that stop or change a case's clock
TRANSITIONS = tuple(a for a in RULES if a != "note") + ("reopen",)
# area units also hold the cases of their area, by the report's codes
AREA_CODES = {"kelurahan": report_t.c.kelurahan_code, "kecamatan": report_t.c.kecamatan_code,
              "kota": report_t.c.kota_code}
COLUMNS = ("received", "resolved", "on_time", "late", "open_past_sla",
           "avg_first_response_hours", "avg_resolution_hours", "avg_rating", "on_time_rate")


@dataclass(frozen=True, slots=True)
class Figures:
    unit_id: str
    unit_name: str
    kind: str
    received: int = 0
    resolved: int = 0
    on_time: int = 0
    late: int = 0
    open_past_sla: int = 0
    avg_first_response_hours: float | None = None
    avg_resolution_hours: float | None = None
    avg_rating: float | None = None

    @property
    def on_time_rate(self) -> float | None:
        """Resolved on time / resolved, None without resolutions."""
        return round(self.on_time / self.resolved, 4) if self.resolved else None

    def as_dict(self) -> dict:
        return {**asdict(self), "on_time_rate": self.on_time_rate}


def _seconds(conn: Connection, later, earlier):
    if conn.dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _within(col, start: datetime, end: datetime):
    return and_(col >= start, col < end)


def relevant(start: datetime, end: datetime, cut: datetime):
    """The ids of the reports any figure of [start, end) may count (each part is an index
    range): received, resolved, first response, rated in the period, or open at ``cut``."""
    r, e = report_t.c, event_t.c
    return union(
        select(r.id).where(_within(r.created_at, start, end)),
        select(r.id).where(_within(r.resolved_at, start, end)),
        select(r.id).where(_within(r.first_response_at, start, end)),
        select(r.id).where(_within(r.rated_at, start, end)),
        # open now; resolved or closed only after the cut
        select(r.id).where(r.closed_at.is_(None), r.resolved_at.is_(None), r.created_at < cut),
        select(r.id).where(r.resolved_at >= cut, r.created_at < cut),
        select(r.id).where(r.closed_at >= cut, r.resolved_at.is_(None), r.created_at < cut),
        select(e.report_id).where(_within(e.created_at, start, end), e.kind.in_(ARRIVALS)),
    ).subquery("rel")


def _missed_running(cut: datetime):
    """The case missed a deadline before ``cut`` (an ``sla_breach``) and no transition
    stopped that clock before ``cut``."""
    b, e = breach_t.c, event_t.c
    moved = exists().where(e.report_id == b.report_id, e.kind.in_(TRANSITIONS),
                           e.created_at > b.due_at, e.created_at < cut)
    return exists().where(b.report_id == report_t.c.id, b.due_at < cut, ~moved)


def _holders(kind: str, rel, start: datetime, end: datetime):
    """(report_id, unit_id, received): every unit of ``kind`` that held a relevant case
    before ``end``, and whether it came to the unit in the period."""
    r, e = report_t.c, event_t.c
    came = case((and_(e.kind.in_(ARRIVALS), _within(e.created_at, start, end)), 1), else_=0)
    parts = [select(e.report_id.label("report_id"), e.unit_id.label("unit_id"),
                    came.label("came"))
             .join(rel, rel.c.id == e.report_id)
             .where(e.unit_id.in_(select(unit_t.c.id).where(unit_t.c.kind == kind)),
                    e.kind != "escalated", e.created_at < end)]
    if kind in AREA_CODES:
        code = AREA_CODES[kind]
        parts.append(select(r.id.label("report_id"), (literal(f"{kind}-") + code).label("unit_id"),
                            case((_within(r.created_at, start, end), 1), else_=0).label("came"))
                     .join(rel, rel.c.id == r.id).where(code.is_not(None)))
    both = union_all(*parts).subquery("held_any")
    return (select(both.c.report_id, both.c.unit_id, func.max(both.c.came).label("came"))
            .group_by(both.c.report_id, both.c.unit_id).subquery("held"))


def compute(conn: Connection, kind: str, period: Period, now: datetime) -> list[Figures]:
    """The figures of every unit of ``kind`` in ``period`` (all units of the kind, the
    active ones also with zeros), in the units' order. ``now`` caps the period's end for
    "open past the SLA" of a period still running."""
    if kind not in KINDS:
        raise ValueError(f"unknown unit kind {kind!r}")
    start, end = period.start, period.end
    cut = min(end, now)
    rel = relevant(start, end, cut)
    held = _holders(kind, rel, start, end)
    r = report_t.c
    resolved = and_(r.status.in_(RESOLVED), _within(r.resolved_at, start, end))
    answered = _within(r.first_response_at, start, end)
    rated = and_(_within(r.rated_at, start, end), r.rating.is_not(None))
    open_past = and_(r.created_at < cut,
                     or_(r.resolved_at.is_(None), r.resolved_at >= cut),
                     or_(r.closed_at.is_(None), r.closed_at >= cut),
                     or_(func.coalesce(r.sla_due_at, r.resolution_due_at) < cut,
                         _missed_running(cut)))

    def count(cond):
        return func.count().filter(cond)

    stmt = (select(
        held.c.unit_id,
        func.sum(held.c.came).label("received"),
        count(resolved).label("resolved"),
        count(and_(resolved, r.resolved_at <= r.resolution_due_at)).label("on_time"),
        count(open_past).label("open_past_sla"),
        func.avg(case((answered, _seconds(conn, r.first_response_at, r.created_at)))
                 ).label("first_response_s"),
        func.avg(case((resolved, _seconds(conn, r.resolved_at, r.created_at)))
                 ).label("resolution_s"),
        func.avg(case((rated, cast(r.rating, Float)))).label("rating"))
        .select_from(held.join(report_t, report_t.c.id == held.c.report_id))
        .group_by(held.c.unit_id))
    rows = {row.unit_id: row for row in conn.execute(stmt)}
    late = late_by_unit(conn, kind, start, end)
    out = []
    for u in list_units(conn, kind):
        row = rows.get(u.id)
        if row is None and not late.get(u.id) and not u.active:
            continue
        out.append(Figures(
            u.id, u.name, u.kind, late=late.get(u.id, 0),
            **({} if row is None else {
                "received": int(row.received or 0), "resolved": row.resolved,
                "on_time": row.on_time, "open_past_sla": row.open_past_sla,
                "avg_first_response_hours": _hours(row.first_response_s),
                "avg_resolution_hours": _hours(row.resolution_s),
                "avg_rating": None if row.rating is None else round(float(row.rating), 2)})))
    return out


def late_by_unit(conn: Connection, kind: str, start: datetime, end: datetime) -> dict:
    """Missed deadlines in [start, end) by the unit of ``kind`` that held the case
    (``core.escalation.late_by_unit`` for one kind of unit)."""
    b = breach_t.c
    rows = conn.execute(
        select(b.unit_id, func.count()).where(
            _within(b.due_at, start, end),
            b.unit_id.in_(select(unit_t.c.id).where(unit_t.c.kind == kind)))
        .group_by(b.unit_id))
    return {unit_id: n for unit_id, n in rows}


def _hours(seconds) -> float | None:
    return None if seconds is None else round(float(seconds) / 3600, 2)


@dataclass(frozen=True, slots=True)
class Ranked:
    rank: int | None  # None: nothing resolved in the period, so no rate
    figures: Figures

    def as_dict(self) -> dict:
        f = self.figures
        return {"rank": self.rank, "unit_id": f.unit_id, "unit_name": f.unit_name,
                "kind": f.kind, "resolved": f.resolved, "on_time": f.on_time,
                "on_time_rate": f.on_time_rate}


def ranking(figures: list[Figures]) -> list[Ranked]:
    """Units by on-time rate, highest first (ties share a rank: 1, 2, 2, 4), then by more
    resolved and by name; units with nothing resolved last, unranked."""
    rated = sorted((f for f in figures if f.resolved),
                   key=lambda f: (-f.on_time_rate, -f.resolved, f.unit_name, f.unit_id))
    out, rank, last = [], 0, None
    for i, f in enumerate(rated, 1):
        if f.on_time_rate != last:
            rank, last = i, f.on_time_rate
        out.append(Ranked(rank, f))
    out += [Ranked(None, f) for f in figures if not f.resolved]
    return out


def sort(figures: list[Figures], key: str | None, descending: bool) -> list[Figures]:
    """Sorted by one of ``COLUMNS`` or ``unit_name``; units without the figure last."""
    if key not in COLUMNS:
        return sorted(figures, key=lambda f: f.unit_name, reverse=descending)
    by_name = sorted(figures, key=lambda f: f.unit_name)
    known = [f for f in by_name if getattr(f, key) is not None]
    # stable: equal figures stay in name order either way
    return sorted(known, key=lambda f: getattr(f, key), reverse=descending) + [
        f for f in by_name if getattr(f, key) is None]
