"""Unit performance (issue 14): per unit and period, the figures the city reads, from the
case events and the report columns the case engine keeps in step with them. Which case
counts for which unit, and each figure, are defined in docs/performance.md."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import (
    Connection, Float, and_, case, cast, exists, func, literal, or_, select, true,
)

from core.cases import RULES, SELESAI, VERIFIKASI
from core.models import CaseEvent, Report, SlaBreach, Unit
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


def relevant(start: datetime, end: datetime):
    """For a query on ``report``: the reports any figure of [start, end) may count. Every
    one of them was open at some time in the period, or was rated in it: a case closes
    after its arrivals, first response, resolution and after the cut of "open past the
    SLA" (docs/performance.md), so ``closed_at`` and ``rated_at`` bound them all, and
    PostgreSQL reads them with one bitmap over three index ranges."""
    r = report_t.c
    return and_(r.created_at < end,
                or_(r.closed_at.is_(None), r.closed_at >= start,
                    _within(r.rated_at, start, end)))


def _rel(conn: Connection, start: datetime, end: datetime, cut: datetime):
    """The relevant reports with what each adds to the figures (computed once a report),
    materialized on PostgreSQL. ``open_cut``: open at the cut; ``past_now``: its deadline
    as it stands now lies before the cut."""
    r = report_t.c
    resolved = and_(r.status.in_(RESOLVED), _within(r.resolved_at, start, end))
    answered = _within(r.first_response_at, start, end)
    rated = and_(_within(r.rated_at, start, end), r.rating.is_not(None))

    def flag(cond):
        return case((cond, 1), else_=0)

    rel = select(
        r.id, r.kelurahan_code, r.kecamatan_code, r.kota_code, r.unit_id,
        flag(_within(r.created_at, start, end)).label("came"),
        flag(resolved).label("resolved"),
        flag(and_(resolved, r.resolved_at <= r.resolution_due_at)).label("on_time"),
        flag(and_(r.created_at < cut, or_(r.resolved_at.is_(None), r.resolved_at >= cut),
                  or_(r.closed_at.is_(None), r.closed_at >= cut))).label("open_cut"),
        flag(func.coalesce(r.sla_due_at, r.resolution_due_at) < cut).label("past_now"),
        case((answered, _seconds(conn, r.first_response_at, r.created_at))).label("first_s"),
        case((resolved, _seconds(conn, r.resolved_at, r.created_at))).label("res_s"),
        case((rated, cast(r.rating, Float))).label("rating"),
    ).where(relevant(start, end)).cte("rel")
    return rel.prefix_with("MATERIALIZED") if conn.dialect.name == "postgresql" else rel


def _missed_running(rel, cut: datetime):
    """Of the cases open at ``cut`` whose deadline as it stands now does not lie before
    it, those that missed a deadline before ``cut`` (an ``sla_breach``) whose clock no
    transition stopped before ``cut``."""
    b, e = breach_t.c, event_t.c
    moved = exists().where(e.report_id == b.report_id, e.kind.in_(TRANSITIONS),
                           e.created_at > b.due_at, e.created_at < cut)
    return (select(b.report_id).join(rel, rel.c.id == b.report_id)
            .where(rel.c.open_cut == 1, rel.c.past_now == 0, b.due_at < cut, ~moved)
            .group_by(b.report_id).subquery("missed"))


def _holders(conn: Connection, kind: str, rel, start: datetime, end: datetime):
    """(report_id, unit_id, came) of the units of ``kind`` that held a relevant case
    before ``end`` (its arrival events), ``came`` when one arrival was in the period. On
    PostgreSQL a LATERAL join, so that each case's few events are read from the index
    (ix_case_event_holder) instead of a scan of all events."""
    e = event_t.c
    units = select(unit_t.c.id).where(unit_t.c.kind == kind)
    came = func.max(case((_within(e.created_at, start, end), 1), else_=0)).label("came")
    if conn.dialect.name == "postgresql":
        per_case = (select(e.unit_id.label("unit_id"), e.created_at.label("at"))
                    .where(e.report_id == rel.c.id, e.kind.in_(ARRIVALS),
                           e.created_at < end).lateral("arrived"))
        # a case only ever moves away from its area units: one a dinas, biro or suku
        # dinas ever held is with one now (core.cases), so the others need no look
        moved = select(unit_t.c.id).where(unit_t.c.kind.not_in(tuple(AREA_CODES)))
        at = per_case.c.at
        return (select(rel.c.id.label("report_id"), per_case.c.unit_id,
                       func.max(case((_within(at, start, end), 1), else_=0)).label("came"))
                .select_from(rel.join(per_case, true()))
                .where(rel.c.unit_id.in_(moved), per_case.c.unit_id.in_(units))
                .group_by(rel.c.id, per_case.c.unit_id).subquery("held"))
    return (select(e.report_id.label("report_id"), e.unit_id.label("unit_id"), came)
            .join(rel, rel.c.id == e.report_id)
            .where(e.kind.in_(ARRIVALS), e.created_at < end, e.unit_id.in_(units))
            .group_by(e.report_id, e.unit_id).subquery("held"))


def compute(conn: Connection, kind: str, period: Period, now: datetime) -> list[Figures]:
    """The figures of every unit of ``kind`` in ``period`` (all units of the kind, the
    active ones also with zeros), in the units' order. ``now`` caps the period's end for
    "open past the SLA" of a period still running."""
    if kind not in KINDS:
        raise ValueError(f"unknown unit kind {kind!r}")
    start, end = period.start, period.end
    cut = min(end, now)
    if conn.dialect.name == "postgresql":
        # for this transaction: compiling the query costs more than running it, and its
        # joins of some 10^5 cases hash in memory instead of sorting
        conn.exec_driver_sql("SET LOCAL jit = off")
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
    rel = _rel(conn, start, end, cut)
    missed = _missed_running(rel, cut)
    with_missed = rel.outerjoin(missed, missed.c.report_id == rel.c.id)
    if kind in AREA_CODES:  # by the report's code: one row a report
        code = rel.c[AREA_CODES[kind].name]
        unit_id, came = (literal(f"{kind}-") + code).label("unit_id"), rel.c.came
        source, where = with_missed, code.is_not(None)
    else:
        held = _holders(conn, kind, rel, start, end)
        unit_id, came = held.c.unit_id, held.c.came
        source, where = held.join(with_missed, rel.c.id == held.c.report_id), true()
    open_past = case((and_(rel.c.open_cut == 1, or_(
        rel.c.past_now == 1, missed.c.report_id.is_not(None))), 1), else_=0)
    stmt = (select(
        unit_id, func.sum(came).label("received"),
        func.sum(rel.c.resolved).label("resolved"), func.sum(rel.c.on_time).label("on_time"),
        func.sum(open_past).label("open_past_sla"),
        func.avg(rel.c.first_s).label("first_response_s"),
        func.avg(rel.c.res_s).label("resolution_s"), func.avg(rel.c.rating).label("rating"))
        .select_from(source).where(where).group_by(unit_id))
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
                "received": int(row.received or 0), "resolved": int(row.resolved or 0),
                "on_time": int(row.on_time or 0), "open_past_sla": int(row.open_past_sla or 0),
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
