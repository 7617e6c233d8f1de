"""Unit performance (core.performance) against cases with known timelines: each case is
driven through the real case engine with a simulated clock, missed deadlines go through
core.escalation.escalate_due, and the expected figures are worked out from the plan."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core import performance, period
from core.db import writing
from core.escalation import escalate_due, late_by_unit
from core.rating import rate
from core.workcal import WIB
from tests.casework import (
    DINAS, KECAMATAN, KELURAHAN, SUDIN, case, report_in_alfa, request, set_up,
)
from tests.clock import Clock

KOTA = "kota-31.71"


def wib(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=WIB).astimezone(timezone.utc)


@pytest.fixture
def kanal(make_kanal):
    return make_kanal(clock=Clock(wib(10, 30, 10)))


class Plan:
    """Moves the clock to each step's time and takes the step."""

    def __init__(self, kanal, accounts):
        self.kanal, self.accounts = kanal, accounts

    def at(self, when: datetime) -> None:
        assert when >= self.kanal.clock.now, "the plan goes forward in time"
        self.kanal.clock.now = when

    def new(self, when: datetime) -> str:
        self.at(when)
        return report_in_alfa(self.kanal)

    def act(self, when: datetime, who: str, compact: str, action: str, **fields) -> None:
        self.at(when)
        self.kanal.act_on_case(self.accounts[who], compact, request(action, fields))

    def escalate(self, when: datetime) -> set[str]:
        self.at(when)
        with writing(self.kanal.engine) as conn:
            return {e.tracking_id for e in escalate_due(conn, when)}

    def rate(self, when: datetime, compact: str, score: int) -> None:
        self.at(when)
        with writing(self.kanal.engine) as conn:
            rate(self.kanal.cases, conn, case(self.kanal, compact), score, None, "web", when)

    def done(self, who_start: str, compact: str, start: datetime, resolve: datetime) -> None:
        self.act(start, who_start, compact, "start")
        self.act(resolve, who_start, compact, "resolve", proof=True)
        self.act(resolve + timedelta(minutes=30), "verifikator", compact, "verify")


@pytest.fixture
def plan(kanal):
    """The timeline below; returns the cases by letter. All in kelurahan Alfa."""
    p = Plan(kanal, set_up(kanal))
    c = {}
    c["F"] = p.new(wib(10, 30, 10))  # Friday: its first response is due Saturday 10:00
    assert p.escalate(wib(10, 31, 12)) == {c["F"]}  # late in October, against Alfa
    c["A"] = p.new(wib(11, 2, 9))
    p.act(wib(11, 2, 9, 30), "lurah", c["F"], "coordinate", unit=DINAS)
    p.act(wib(11, 2, 10), "binamarga", c["F"], "dispose", unit=SUDIN)
    p.done("sudinbm", c["F"], wib(11, 2, 10, 30), wib(11, 2, 11))
    p.rate(wib(11, 2, 12), c["F"], 4)
    p.done("lurah", c["A"], wib(11, 2, 13), wib(11, 2, 14))
    p.rate(wib(11, 2, 15), c["A"], 5)
    c["C"] = p.new(wib(11, 3, 9))
    p.act(wib(11, 3, 10), "lurah", c["C"], "start")
    c["B"] = p.new(wib(11, 4, 9))
    p.act(wib(11, 4, 9, 30), "lurah", c["B"], "coordinate", unit=DINAS)  # hop due Nov 9
    b_due = case(kanal, c["B"]).sla_due_at.replace(tzinfo=timezone.utc)
    assert wib(11, 9, 0) < b_due < wib(11, 11, 9), "B's hop is due 3 working days on"
    assert p.escalate(b_due + timedelta(hours=1)) == {c["B"]}  # late against the dinas
    p.act(b_due + timedelta(hours=2), "binamarga", c["B"], "dispose", unit=SUDIN)
    p.act(b_due + timedelta(hours=3), "sudinbm", c["B"], "start")
    p.act(b_due + timedelta(hours=4), "sudinbm", c["B"], "ews", due="2027-01-15",
          reason="Pengaspalan")
    c["E"] = p.new(wib(11, 12, 9))
    p.act(wib(11, 12, 9, 30), "lurah", c["E"], "reject", reason="Bukan kewenangan")
    c["D"] = p.new(wib(11, 16, 9))  # never answered
    assert p.escalate(wib(11, 17, 10)) == {c["D"]}
    c_due = case(kanal, c["C"]).resolution_due_at.replace(tzinfo=timezone.utc)
    assert wib(11, 17, 10) < c_due < wib(11, 27, 9), "C's resolution is due in between"
    assert p.escalate(c_due + timedelta(hours=1)) == {c["C"]}
    p.act(wib(11, 27, 10), "lurah", c["C"], "resolve", proof=True)
    p.act(wib(11, 27, 10, 30), "verifikator", c["C"], "verify")
    p.rate(wib(11, 27, 11), c["C"], 1)
    c["G"] = p.new(wib(11, 30, 23, 30))  # November in WIB
    c["H"] = p.new(wib(12, 1, 5))  # December in WIB, still November 30 in UTC
    p.act(wib(12, 1, 9), "lurah", c["G"], "start")
    p.at(wib(12, 2, 9))
    return c


def figures(kanal, kind: str, kind_of_period: str, at: str) -> dict[str, dict]:
    with kanal.engine.connect() as conn:
        rows = performance.compute(conn, kind, period.parse(kind_of_period, at, kanal.clock()),
                                   kanal.clock())
    return {f.unit_id: f.as_dict() for f in rows}


def expect(received=0, resolved=0, on_time=0, late=0, open_past_sla=0, first=(),
           resolution=(), ratings=()) -> dict:
    """The figures as the plan makes them: averages from the hours listed."""
    def avg(values, digits=2):
        return round(sum(values) / len(values), digits) if values else None
    return {"received": received, "resolved": resolved, "on_time": on_time, "late": late,
            "open_past_sla": open_past_sla, "avg_first_response_hours": avg(first),
            "avg_resolution_hours": avg(resolution), "avg_rating": avg(ratings),
            "on_time_rate": round(on_time / resolved, 4) if resolved else None}


def only(got: dict, unit_id: str) -> dict:
    row = dict(got[unit_id])
    for key in ("unit_id", "unit_name", "kind"):
        row.pop(key)
    return row


# November, by the plan: received A C B E D G; resolved A F (on time) and C (late); late D
# and C (Alfa) and B (the dinas); open past the SLA at its end D; first responses A 4 h,
# F 71.5 h, C 1 h, B 0.5 h, E 0.5 h; resolutions A 5 h, F 73 h, C 577 h; ratings 5, 4, 1
AREA_NOVEMBER = dict(received=6, resolved=3, on_time=2, open_past_sla=1,
                     first=(4, 71.5, 1, 0.5, 0.5), resolution=(5, 73, 577), ratings=(5, 4, 1))
# the dinas and its suku dinas held F and B: F resolved on time, B in EWS until January
DINAS_NOVEMBER = dict(received=2, resolved=1, on_time=1, first=(71.5, 0.5), resolution=(73,),
                      ratings=(4,))


def test_the_figures_of_a_month_match_the_plan(kanal, plan):
    got = figures(kanal, "kelurahan", "month", "2026-11")
    assert only(got, KELURAHAN) == expect(late=2, **AREA_NOVEMBER)
    assert only(got, "kelurahan-31.72.01.1002") == expect()
    assert only(figures(kanal, "kecamatan", "month", "2026-11"), KECAMATAN) == expect(
        **AREA_NOVEMBER)
    assert only(figures(kanal, "kota", "month", "2026-11"), KOTA) == expect(**AREA_NOVEMBER)
    assert only(figures(kanal, "dinas", "month", "2026-11"), DINAS) == expect(
        late=1, **DINAS_NOVEMBER)
    assert only(figures(kanal, "sudin", "month", "2026-11"), SUDIN) == expect(**DINAS_NOVEMBER)


def test_late_is_what_escalation_counts(kanal, plan):
    start, end = wib(11, 1, 0), wib(12, 1, 0)
    with kanal.engine.connect() as conn:
        counted = late_by_unit(conn, start, end)
    assert counted == {KELURAHAN: 2, DINAS: 1}
    for kind, unit_id in (("kelurahan", KELURAHAN), ("dinas", DINAS)):
        assert figures(kanal, kind, "month", "2026-11")[unit_id]["late"] == counted[unit_id]


def test_other_periods_and_the_wib_month_boundary(kanal, plan):
    october = only(figures(kanal, "kelurahan", "month", "2026-10"), KELURAHAN)
    assert october == expect(received=1, late=1, open_past_sla=1)  # F, past due on Oct 31
    # December so far (the period runs: open past the SLA now): H received; G answered
    # at 09:00 after 9.5 hours; D and H (first response due Dec 2 05:00) past their SLA
    december = only(figures(kanal, "kelurahan", "month", "2026-12"), KELURAHAN)
    assert december == expect(received=1, open_past_sla=2, first=(9.5,))
    assert figures(kanal, "dinas", "month", "2026-12")[DINAS]["received"] == 0
    week = only(figures(kanal, "kelurahan", "week", "2026-W45"), KELURAHAN)  # Nov 2-8
    assert (week["received"], week["resolved"], week["on_time"]) == (3, 2, 2)
    year = only(figures(kanal, "kelurahan", "year", "2026"), KELURAHAN)
    assert (year["received"], year["resolved"], year["late"]) == (8, 3, 3)


def test_the_ranking_by_on_time_rate(kanal, plan):
    with kanal.engine.connect() as conn:
        rows = performance.compute(conn, "kelurahan", period.parse("month", "2026-11",
                                   kanal.clock()), kanal.clock())
    ranked = performance.ranking(rows)
    assert ranked[0].rank == 1 and ranked[0].figures.unit_id == KELURAHAN
    assert ranked[0].as_dict()["on_time_rate"] == round(2 / 3, 4)
    assert all(r.rank is None for r in ranked[1:])  # nothing resolved: unranked, last
    assert len(ranked) == len(rows)


def test_ranking_ties_share_a_rank():
    make = performance.Figures
    rows = [make("a", "A", "kota", resolved=4, on_time=2), make("b", "B", "kota"),
            make("c", "C", "kota", resolved=2, on_time=1),
            make("d", "D", "kota", resolved=5, on_time=5)]
    ranked = performance.ranking(rows)
    assert [(r.rank, r.figures.unit_id) for r in ranked] == [
        (1, "d"), (2, "a"), (2, "c"), (None, "b")]
    assert [f.unit_id for f in performance.sort(rows, "on_time_rate", True)] == [
        "d", "a", "c", "b"]
