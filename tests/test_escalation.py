"""Missed deadlines (core.escalation): flagged, counted late against the holding unit,
escalated one level up, exactly once per case and deadline, also with two processes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, update

from core import reports, tracking
from core.db import make_engine, writing
from core.escalation import escalate_due, flagged, late_by_unit, overdue
from core.hookspecs import hookimpl
from core.models import CaseEvent, Report, SlaBreach
from core.unit import Escalation
from core.units import sync_units
from gateway.scheduler import build_scheduler, escalation_job, escalation_round
from tests import concurrency_worker
from tests.clock import Clock
from tests.conftest import FIXTURES
from tests.test_cli_parsing import invoke
from tests.test_concurrency import run_two

report_t = Report.__table__
breach_t = SlaBreach.__table__
event_t = CaseEvent.__table__

T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 08:00 WIB
ALFA = "kelurahan-31.71.01.1001"
SATU = "kecamatan-31.71.01"
KOTA = "kota-31.71"
SUDIN = "sudin-bina-marga-31.71"
DINAS = "dinas-bina-marga"


def tid(n: int) -> str:
    """A valid tracking ID of its own for each number."""
    return tracking.generate(lambda space: n)


@pytest.fixture
def engine(settings):
    engine = make_engine(settings.database_url)
    sync_units(engine, settings)
    yield engine
    engine.dispose()


def add_case(engine, n: int, *, unit_id: str | None = ALFA, clock: str | None = "first_response",
             due: datetime | None = T0 + timedelta(hours=24), status: str = "Menunggu") -> int:
    """A case as core.cases leaves it: its unit, its running clock and that deadline."""
    with writing(engine) as conn:
        return conn.execute(insert(report_t).values(
            tracking_id=tid(n), status=status, channel="fake",
            official_channel="jaki", created_at=T0, updated_at=T0, unit_id=unit_id,
            sla_clock=clock, sla_due_at=due).returning(report_t.c.id)).scalar_one()


def run(engine, now: datetime, **kw) -> list[Escalation]:
    with writing(engine) as conn:
        return escalate_due(conn, now, **kw)


def case(engine, report_id: int):
    with engine.connect() as conn:
        return conn.execute(select(report_t).where(report_t.c.id == report_id)).one()


def events(engine, report_id: int | None = None, kind: str = "escalated") -> list:
    stmt = select(event_t).where(event_t.c.kind == kind).order_by(event_t.c.id)
    if report_id is not None:
        stmt = stmt.where(event_t.c.report_id == report_id)
    with engine.connect() as conn:
        return conn.execute(stmt).all()


def breaches(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(breach_t).order_by(breach_t.c.id)).all()


def is_flagged(engine, report_id: int) -> bool:
    with engine.connect() as conn:
        return flagged(conn, report_id)


def test_a_kelurahan_case_past_its_first_response_goes_to_its_kecamatan_once(engine):
    rid = add_case(engine, 1)
    due = T0 + timedelta(hours=24)
    assert run(engine, due - timedelta(seconds=1)) == []
    assert not is_flagged(engine, rid)

    [e] = run(engine, due)
    assert e == Escalation(report_id=rid, tracking_id=tid(1),
                           clock="first_response", due_at=due, status="Menunggu",
                           unit_id=ALFA, escalated_to=SATU, at=due)
    assert run(engine, due + timedelta(hours=1)) == []  # once, however often it runs

    row = case(engine, rid)
    assert (row.unit_id, row.escalated_unit_id, row.status) == (ALFA, SATU, "Menunggu")
    [ev] = events(engine, rid)
    assert (ev.public, ev.status, ev.from_status, ev.unit_id, ev.actor) == (
        True, "Menunggu", "Menunggu", SATU, None)
    assert ev.note == ("Batas waktu tanggapan terlewati; laporan dieskalasi ke "
                       "Kecamatan Satu")
    [b] = breaches(engine)
    assert (b.report_id, b.clock, b.unit_id, b.escalated_to) == (
        rid, "first_response", ALFA, SATU)
    assert is_flagged(engine, rid)


def test_a_sudin_case_goes_to_its_dinas(engine):
    rid = add_case(engine, 2, unit_id=SUDIN, clock="hop", status="Proses")
    [e] = run(engine, T0 + timedelta(days=2))
    assert (e.unit_id, e.escalated_to, e.clock, e.status) == (SUDIN, DINAS, "hop", "Proses")
    assert case(engine, rid).escalated_unit_id == DINAS
    assert events(engine, rid)[0].note == (
        "Batas waktu koordinasi terlewati; laporan dieskalasi ke Dinas Bina Marga")


def test_a_case_at_the_top_is_flagged_and_stays(engine):
    rid = add_case(engine, 3, unit_id=KOTA, clock="resolution", status="Proses")
    [e] = run(engine, T0 + timedelta(days=2))
    assert (e.unit_id, e.escalated_to) == (KOTA, None)
    row = case(engine, rid)
    assert (row.unit_id, row.escalated_unit_id) == (KOTA, None)
    [ev] = events(engine, rid)
    assert (ev.note, ev.unit_id) == (
        "Batas waktu penyelesaian terlewati; laporan ditandai terlambat", None)
    assert is_flagged(engine, rid)
    assert run(engine, T0 + timedelta(days=3)) == []


def test_a_new_deadline_missed_escalates_once_more_one_level_further(engine):
    rid = add_case(engine, 4)
    first_due = T0 + timedelta(hours=24)
    [first] = run(engine, first_due)
    assert first.escalated_to == SATU
    # the case moved on (core.cases): a new clock with its own deadline
    second_due = first_due + timedelta(days=3)
    with writing(engine) as conn:
        conn.execute(update(report_t).where(report_t.c.id == rid)
                     .values(sla_clock="hop", sla_due_at=second_due))
    assert not is_flagged(engine, rid)  # the new deadline has not passed
    assert run(engine, second_due - timedelta(minutes=1)) == []
    [second] = run(engine, second_due)
    assert (second.clock, second.due_at, second.unit_id, second.escalated_to) == (
        "hop", second_due, ALFA, KOTA)
    assert run(engine, second_due + timedelta(days=1)) == []
    assert case(engine, rid).escalated_unit_id == KOTA
    assert len(events(engine, rid)) == 2 and len(breaches(engine)) == 2
    # and at the top a third miss leaves the case with the kota, flagged
    third_due = second_due + timedelta(days=3)
    with writing(engine) as conn:
        conn.execute(update(report_t).where(report_t.c.id == rid).values(sla_due_at=third_due))
    [third] = run(engine, third_due)
    assert third.escalated_to is None and case(engine, rid).escalated_unit_id == KOTA


def test_a_case_handed_to_another_unit_escalates_from_its_new_holder(engine):
    rid = add_case(engine, 5)
    run(engine, T0 + timedelta(hours=24))
    due = T0 + timedelta(days=4)
    with writing(engine) as conn:  # disposed to the suku dinas; the old escalation stays
        conn.execute(update(report_t).where(report_t.c.id == rid)
                     .values(unit_id=SUDIN, sla_clock="hop", sla_due_at=due))
    [e] = run(engine, due)
    assert (e.unit_id, e.escalated_to) == (SUDIN, DINAS)


@pytest.mark.parametrize("status, clock, due", [
    ("Selesai", None, None),
    ("Ditolak", None, T0),  # a deadline left behind by a closed case is not a running clock
    ("Menunggu Verifikasi", None, T0),
    ("Proses", "resolution", None),
], ids=["closed", "rejected", "verifying", "no-deadline"])
def test_cases_without_a_running_clock_never_escalate(engine, status, clock, due):
    rid = add_case(engine, 6, status=status, clock=clock, due=due)
    assert run(engine, T0 + timedelta(days=365)) == []
    assert events(engine) == [] and breaches(engine) == []
    assert not is_flagged(engine, rid)


def test_a_case_with_no_unit_is_flagged_and_counted_without_one(engine):
    rid = add_case(engine, 7, unit_id=None)
    [e] = run(engine, T0 + timedelta(days=2))
    assert (e.unit_id, e.escalated_to) == (None, None)
    assert is_flagged(engine, rid)
    with engine.connect() as conn:
        assert late_by_unit(conn, T0, T0 + timedelta(days=2)) == {None: 1}


def test_the_batch_limit_leaves_the_rest_for_the_next_call(engine):
    ids = [add_case(engine, 10 + i, due=T0 + timedelta(hours=i)) for i in range(5)]
    now = T0 + timedelta(days=1)
    first = run(engine, now, limit=2)
    assert [e.report_id for e in first] == ids[:2]  # oldest deadline first
    assert [e.report_id for e in run(engine, now, limit=10)] == ids[2:]
    assert run(engine, now) == []


class Watcher:
    def __init__(self):
        self.seen: list[Escalation] = []

    @hookimpl
    def kanal_case_escalated(self, escalation, work):
        self.seen.append(escalation)
        work.add_case_event("supervisor_alerted", note="Pengawas diberi tahu", public=False)
        work.notify_reporter("escalated", {"unit": escalation.escalated_to})


def test_the_hook_is_called_once_with_the_escalation_and_its_work_is_written(engine):
    from gateway.plugins import get_plugin_manager

    watcher = Watcher()
    pm = get_plugin_manager(extra=(watcher,))
    rid = add_case(engine, 20)
    sent = []
    due = T0 + timedelta(hours=24)
    for _ in range(2):
        run(engine, due, hook=pm.hook,
            on_notices=lambda conn, report_id, notices, now: sent.append(
                (report_id, notices, now)))
    [e] = watcher.seen
    assert (e.report_id, e.unit_id, e.escalated_to, e.due_at) == (rid, ALFA, SATU, due)
    [alert] = events(engine, rid, kind="supervisor_alerted")
    assert (alert.public, alert.note) == (False, "Pengawas diberi tahu")
    [(report_id, [notice], at)] = sent
    assert (report_id, notice.kind, notice.details, at) == (rid, "escalated", {"unit": SATU},
                                                            due)


def test_late_by_unit_counts_against_the_unit_that_held_the_case(engine):
    add_case(engine, 30, due=T0 + timedelta(hours=1))
    add_case(engine, 31, due=T0 + timedelta(hours=2))
    add_case(engine, 32, unit_id=SUDIN, due=T0 + timedelta(days=1))
    late = add_case(engine, 33, unit_id=SUDIN, due=T0 + timedelta(days=8))
    run(engine, T0 + timedelta(days=9))
    # the case the kecamatan now sees is still counted against the kelurahan
    with engine.connect() as conn:
        assert late_by_unit(conn, T0, T0 + timedelta(days=7)) == {ALFA: 2, SUDIN: 1}
        assert late_by_unit(conn, T0 + timedelta(days=8), T0 + timedelta(days=9)) == {SUDIN: 1}
        assert late_by_unit(conn, T0 + timedelta(hours=1), T0 + timedelta(hours=2)) == {ALFA: 1}
        assert late_by_unit(conn, T0 - timedelta(days=1), T0) == {}
        queue = conn.execute(select(report_t.c.id).where(overdue())).scalars().all()
    assert late in queue and len(queue) == 4


def test_the_scheduler_job_escalates_on_the_simulated_clock(make_kanal, settings, caplog):
    caplog.set_level("INFO", logger="gateway.scheduler")
    clock = Clock(T0)
    watcher = Watcher()
    kanal = make_kanal(clock=clock, extra_plugins=(watcher,))
    sync_units(kanal.engine, settings)
    rid = add_case(kanal.engine, 40)
    clock.advance(24 * 3600 - 1)
    escalation_job(kanal)
    assert watcher.seen == []
    clock.advance(1)
    escalation_job(kanal)
    clock.advance(3600)
    escalation_job(kanal)
    assert [(e.report_id, e.at) for e in watcher.seen] == [(rid, T0 + timedelta(hours=24))]
    assert len(events(kanal.engine, rid)) == 1
    [line] = [r.getMessage() for r in caplog.records if "deadline" in r.getMessage()]
    assert line == (f"report {tid(40)} missed its first_response deadline "
                    f"(2026-12-01T01:00:00+00:00) held by {ALFA}; escalated to {SATU}")


def test_escalation_round_runs_batch_after_batch(make_kanal, settings, monkeypatch):
    monkeypatch.setattr("gateway.scheduler.ESCALATION_BATCH", 2)
    kanal = make_kanal(clock=Clock(T0 + timedelta(days=2)))
    sync_units(kanal.engine, settings)
    ids = [add_case(kanal.engine, 50 + i) for i in range(5)]
    assert sorted(e.report_id for e in escalation_round(kanal)) == ids
    assert escalation_round(kanal) == []


def test_the_scheduler_runs_the_job_every_configured_interval(make_kanal, settings):
    kanal = make_kanal(settings=settings.model_copy(update={"escalation_seconds": 15.0}))
    scheduler = build_scheduler(kanal)
    job = scheduler.get_job("sla-escalation")
    assert job is not None and job.func is escalation_job
    assert job.trigger.interval == timedelta(seconds=15)


def test_two_processes_at_once_escalate_each_case_once(engine, settings, tmp_path):
    n = 30
    ids = [add_case(engine, 100 + i, due=T0 + timedelta(minutes=i)) for i in range(n)]
    now = (T0 + timedelta(days=1)).isoformat()
    url = settings.database_url
    (_, a), (_, b) = run_two(concurrency_worker.escalate, (url, str(tmp_path), 1, now),
                             (url, str(tmp_path), 2, now))
    assert not set(a) & set(b)
    assert sorted(a + b) == sorted(tid(100 + i) for i in range(n))
    assert len(breaches(engine)) == n
    with engine.connect() as conn:
        per_case = conn.execute(
            select(event_t.c.report_id, event_t.c.kind, func.count())
            .group_by(event_t.c.report_id, event_t.c.kind)).all()
    assert sorted(per_case) == sorted((rid, kind, 1) for rid in ids
                                      for kind in ("escalated", "hook_seen"))


def test_kanal_cases_escalate_runs_one_round_now_and_prints_it(engine, database_url, tmp_path):
    env = {"KANAL_DATABASE_URL": database_url, "KANAL_JAKI_API_KEY": "k",
           "KANAL_CONFIG": str(FIXTURES / "channels.yaml"),
           "KANAL_DATA_DIR": str(tmp_path / "data")}
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    add_case(engine, 60, unit_id=SUDIN, clock="hop", due=due, status="Proses")
    add_case(engine, 61, due=datetime.now(UTC) + timedelta(hours=1))  # not yet
    result = invoke("cases", "escalate", "--json", env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{
        "tracking_id": tid(60), "clock": "hop", "due_at": reports.wib(due),
        "status": "Proses", "unit": SUDIN, "escalated_to": DINAS}]
    again = invoke("cases", "escalate", env=env)
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[-1] == "0 case(s) escalated"
    assert len(events(engine)) == 1
