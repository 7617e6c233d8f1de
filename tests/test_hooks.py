"""One test per hook in core/hookspecs.py, each through the real pipeline: a plugin object is
added with ``make_kanal(extra_plugins=...)`` and a FakeChannel message is pushed and polled.
tests/test_plugins.py checks that every hook has its ``test_hook_<name>`` here."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from core import reports, tracking
from core.canonical import Location
from core.db import writing
from core.hookspecs import hookimpl
from core.models import CaseEvent, InboxItem, Message, Report
from gateway.app import create_app
from tests.plugins import spool_channel

report_t = Report.__table__
message_t = Message.__table__
event_t = CaseEvent.__table__

IN_ALFA = {"lat": -6.205, "lon": 106.805}  # kelurahan 31.71.01.1001 "Alfa"
IN_BARU = {"lat": -6.215, "lon": 106.835}  # kelurahan 31.72.01.1002 "Baru"


def tracking_id_of(kanal, external_id: str, channel: str = "fake") -> str:
    """The compact tracking ID of the report an inbound message belongs to."""
    with kanal.engine.connect() as conn:
        return conn.execute(
            select(report_t.c.tracking_id)
            .join(message_t, message_t.c.report_id == report_t.c.id)
            .where(message_t.c.channel == channel, message_t.c.external_id == external_id,
                   message_t.c.direction == "in")
        ).scalar_one()


def public_view(kanal, compact: str) -> dict:
    """``GET /api/v1/reports/{tracking_id}``, as a citizen sees it."""
    with TestClient(create_app(kanal=kanal, run_workers=False)) as client:
        r = client.get(f"/api/v1/reports/{tracking.display(compact)}")
    assert r.status_code == 200, r.text
    return r.json()


def staff_view(kanal, compact: str) -> dict:
    with kanal.engine.connect() as conn:
        return reports.staff_report(conn, compact)


def submit(kanal, text: str, **fields) -> str:
    """Push one message into the fake channel and run the pipeline; its tracking ID."""
    external_id = kanal.adapters["fake"].push(text, **fields)
    assert kanal.poll_channel("fake") == 1
    return tracking_id_of(kanal, external_id)


# -- kanal_register_adapters ------------------------------------------------------------


def write_channels(path, channels: list[dict]):
    path.write_text(yaml.safe_dump({
        "official_channels": [{"id": "test", "number": None, "name": "Test channel"}],
        "channels": channels,
    }), encoding="utf-8")
    return path


def test_hook_kanal_register_adapters(make_kanal, settings, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    config = write_channels(tmp_path / "channels.yaml", [{
        "id": "spool", "official_channel": "test", "adapter": "spool",
        "settings": {"directory": str(spool), "token": "${KANAL_SPOOL_TOKEN}"},
    }])
    kanal = make_kanal(settings=settings.model_copy(update={"config": config}),
                       extra_plugins=(spool_channel,), env={"KANAL_SPOOL_TOKEN": "s3cret"})

    assert kanal.registry.get("spool") is spool_channel.SpoolAdapter
    assert {"jaki", "web", "fake", "spool"} <= set(kanal.registry.names())
    status = kanal.channel("spool")
    assert (status.state, status.reason) == ("ready", "")
    assert isinstance(kanal.adapters["spool"], spool_channel.SpoolAdapter)
    assert kanal.adapters["spool"].settings.token == "s3cret"

    (spool / "inbound.jsonl").write_text(
        json.dumps({"id": "s-1", "from": "ani", "text": "Sampah menumpuk di pasar"}) + "\n"
        + "not json\n", encoding="utf-8")
    assert kanal.poll_channel("spool") == 2
    assert kanal.poll_channel("spool") == 0  # the cursor moved past both lines
    inbox_t = InboxItem.__table__
    with kanal.engine.connect() as conn:
        states = conn.execute(select(inbox_t.c.external_id, inbox_t.c.status, inbox_t.c.error)
                              .order_by(inbox_t.c.id)).all()
    assert [s[:2] for s in states] == [("s-1", "processed"), ("line-2", "quarantined")]
    assert states[1].error.startswith("NormalizeError: not a spool line")
    compact = tracking_id_of(kanal, "s-1", channel="spool")
    assert public_view(kanal, compact)["official_channel"] == "test"

    assert kanal.dispatcher.run_once() == 1
    sent = [json.loads(line) for line in (spool / "sent.jsonl").read_text().splitlines()]
    assert [(s["to"], s["tracking_id"]) for s in sent] == [("ani", compact)]
    assert tracking.display(compact) in sent[0]["text"]


# -- kanal_classify ---------------------------------------------------------------------


class KeywordClassifier:
    @hookimpl
    def kanal_classify(self, message):
        text = message.text.lower()
        if "banjir" in text:
            return "banjir"
        return None


class CatchAll:
    """Registered before KeywordClassifier, so pluggy asks it last."""

    @hookimpl
    def kanal_classify(self, message):
        return "lainnya"


@pytest.mark.parametrize(("text", "given", "expected"), [
    ("Banjir setinggi lutut di gang", None, "banjir"),
    ("Lampu jalan mati", None, "lainnya"),
    ("Banjir lagi, tapi kategori dari aplikasi", "sampah", "sampah"),
], ids=["classified", "next-plugin-answers", "adapter-category-wins"])
def test_hook_kanal_classify(make_kanal, text, given, expected):
    kanal = make_kanal(extra_plugins=(CatchAll(), KeywordClassifier()))
    fields = {"category": given} if given else {}
    compact = submit(kanal, text, **fields)

    view = public_view(kanal, compact)
    names = {c["id"]: c["id_name"] for c in kanal.categories()}
    assert view["category"] == {"id": expected, "name": names[expected]}
    # the case engine, which runs after classification, starts the first-response clock
    staff = staff_view(kanal, compact)
    due = datetime.fromisoformat(staff["sla_due_at"]) - datetime.fromisoformat(
        staff["created_at"])
    assert due.total_seconds() / 3600 == 24


# -- kanal_locate -----------------------------------------------------------------------


class Gazetteer:
    """Knows landmarks the boundaries cannot: a name in the text gives the kelurahan."""

    LANDMARKS = {"monas": "31.71.01.1001"}

    def __init__(self):
        self.asked = []

    @hookimpl
    def kanal_locate(self, message):
        self.asked.append(message.external_id)
        for landmark, code in self.LANDMARKS.items():
            if landmark in message.text.lower():
                given = message.location or Location()
                return Location(given.lat, given.lon, given.address, code)
        return None  # let the next plugin (the built-in case engine) try


@pytest.mark.parametrize(("text", "where", "kelurahan", "queue"), [
    ("Lampu mati dekat Monas", {}, {"code": "31.71.01.1001", "name": "Alfa"},
     "kelurahan:31.71.01.1001"),
    ("Trotoar rusak dekat Monas", IN_BARU, {"code": "31.71.01.1001", "name": "Alfa"},
     "kelurahan:31.71.01.1001"),
    ("Trotoar rusak", IN_BARU, {"code": "31.72.01.1002", "name": "Baru"},
     "kelurahan:31.72.01.1002"),
    ("Ada masalah", {}, None, "triage"),
], ids=["landmark", "landmark-beats-point", "falls-through-to-boundaries", "nowhere"])
def test_hook_kanal_locate(make_kanal, text, where, kelurahan, queue):
    gazetteer = Gazetteer()
    kanal = make_kanal(extra_plugins=(gazetteer,))
    compact = submit(kanal, text, **where)

    assert len(gazetteer.asked) == 1
    view = public_view(kanal, compact)
    assert view["kelurahan"] == kelurahan
    staff = staff_view(kanal, compact)
    assert staff["queue"] == queue
    # the point the citizen gave is kept, whoever chose the kelurahan
    assert (staff["location"]["lat"], staff["location"]["lon"]) == (
        where.get("lat"), where.get("lon"))


# -- kanal_report_created ---------------------------------------------------------------


class Handover:
    def __init__(self):
        self.seen = []

    @hookimpl
    def kanal_report_created(self, report, message, uow):
        self.seen.append((report.id, report.tracking_id, report.queue, message.text))
        if "pohon" in message.text.lower():
            report.queue = "dinas-pertamanan"
            uow.add_case_event(report, "forwarded", note="Diteruskan ke Dinas Pertamanan")
            uow.add_case_event(report, "staff_note", note="cek gergaji", public=False)


def test_hook_kanal_report_created(make_kanal):
    handover = Handover()
    kanal = make_kanal(extra_plugins=(handover,))
    compact = submit(kanal, "Pohon tumbang menutup jalan", **IN_ALFA)

    staff = staff_view(kanal, compact)
    assert handover.seen == [(staff["id"], compact, "kelurahan:31.71.01.1001",
                              "Pohon tumbang menutup jalan")]
    assert staff["queue"] == "dinas-pertamanan"
    timeline = [(e["kind"], e["note"]) for e in public_view(kanal, compact)["timeline"]]
    assert timeline == [
        ("received", "Laporan diterima"),
        ("opened", "Laporan diteruskan ke Kelurahan Alfa"),
        ("forwarded", "Diteruskan ke Dinas Pertamanan"),
    ]
    with kanal.engine.connect() as conn:
        hidden = conn.execute(select(event_t.c.kind, event_t.c.note)
                              .where(event_t.c.public.is_(False))).all()
    assert [tuple(h) for h in hidden] == [("staff_note", "cek gergaji")]

    # a report nobody changes is not written twice, and its events still land
    other = submit(kanal, "Sampah", **IN_ALFA)
    assert staff_view(kanal, other)["queue"] == "kelurahan:31.71.01.1001"
    assert len(handover.seen) == 2


class EarlyRouter:
    @hookimpl
    def kanal_report_created(self, report):
        report.queue = "dinas-pertamanan"


def test_report_created_plugins_run_after_the_case_engine(make_kanal):
    """The case engine opens the case first (tryfirst), so a plain plugin's routing stays."""
    kanal = make_kanal(extra_plugins=(EarlyRouter(),))
    compact = submit(kanal, "Pohon tumbang", **IN_ALFA)
    assert staff_view(kanal, compact)["queue"] == "dinas-pertamanan"


# -- kanal_report_located -------------------------------------------------------------


class LocatedWatcher:
    def __init__(self):
        self.seen = []

    @hookimpl
    def kanal_report_located(self, report, message, uow):
        self.seen.append((report.tracking_id, report.kelurahan_code, report.queue))
        uow.add_case_event(report, "geo_checked", note="Lokasi diperiksa", public=False)


def test_hook_kanal_report_located(make_kanal):
    watcher = LocatedWatcher()
    kanal = make_kanal(extra_plugins=(watcher,))
    compact = submit(kanal, "Pohon tumbang menutup jalan", sender="budi")
    assert staff_view(kanal, compact)["queue"] == "triage"
    # the location comes in a message of its own, as WhatsApp and Telegram send it
    kanal.adapters["fake"].push("", sender="budi", **IN_ALFA)
    kanal.poll_channel("fake")

    assert watcher.seen == [(compact, "31.71.01.1001", "kelurahan:31.71.01.1001")]
    staff = staff_view(kanal, compact)
    assert staff["queue"] == "kelurahan:31.71.01.1001"
    assert staff["location"]["lat"] == IN_ALFA["lat"]
    timeline = [(e["kind"], e["note"]) for e in public_view(kanal, compact)["timeline"]]
    assert ("located", "Lokasi diterima, laporan diteruskan ke Kelurahan Alfa") in timeline
    with kanal.engine.connect() as conn:
        assert conn.execute(select(Report.__table__.c.id)).all() and len(
            conn.execute(select(Report.__table__.c.id)).all()) == 1


# -- kanal_format_outbound --------------------------------------------------------------


class ShortTexts:
    def __init__(self):
        self.calls = []

    @hookimpl
    def kanal_format_outbound(self, kind, report, language):
        self.calls.append((kind, language))
        if kind != "ack":
            return None  # the built-in texts answer instead
        return f"Laporan {tracking.display(report.tracking_id)} diterima."


def test_hook_kanal_format_outbound(make_kanal):
    texts = ShortTexts()
    kanal = make_kanal(extra_plugins=(texts,))
    fake = kanal.adapters["fake"]
    compact = submit(kanal, "Jalan berlubang", sender="budi")
    display = tracking.display(compact)

    assert kanal.dispatcher.run_once() == 1
    assert [(m.kind, m.recipient, m.tracking_id, m.text) for m in fake.sent] == [
        ("ack", "budi", compact, f"Laporan {display} diterima."),
    ]

    assert submit(kanal, f"Tambahan untuk {display}: makin parah", sender="budi") == compact
    assert kanal.dispatcher.run_once() == 1
    follow_up = fake.sent[1]
    assert follow_up.kind == "follow_up_ack"
    assert follow_up.text.startswith(f"Tambahan untuk laporan {display}")
    assert texts.calls == [("ack", "id"), ("follow_up_ack", "id")]
    # what was sent is also the outbound message on the report
    outbound = [m["text"] for m in staff_view(kanal, compact)["messages"]
                if m["direction"] == "out"]
    assert outbound == [m.text for m in fake.sent]


# -- kanal_status_changed ---------------------------------------------------------------


def test_hook_kanal_status_changed(make_kanal):
    from core.cases import ActionRequest
    from tests.casework import DINAS, report_in_alfa, set_up

    seen = []

    class Watcher:
        @hookimpl
        def kanal_status_changed(self, change, work):
            seen.append(change)
            work.add_case_event("watched", note=None, public=False)

    kanal = make_kanal(extra_plugins=(Watcher(),))
    accounts = set_up(kanal)
    compact = report_in_alfa(kanal)
    kanal.act_on_case(accounts["lurah"], compact, ActionRequest("coordinate", unit=DINAS))
    kanal.act_on_case(accounts["binamarga"], compact, ActionRequest("note", reason="Segera"))
    [change] = seen  # a note changes no status
    assert (change.tracking_id, change.action, change.old_status, change.new_status) == (
        compact, "coordinate", "Menunggu", "Koordinasi")
    assert (change.unit_id, change.unit_name) == (DINAS, "Dinas Bina Marga")
    assert change.note == "Dikoordinasikan dengan Dinas Bina Marga"
    assert change.actor == "ptg-lurah" and change.due_at is not None
    with kanal.engine.connect() as conn:
        kinds = [k for (k,) in conn.execute(select(event_t.c.kind).where(
            event_t.c.report_id == change.report_id).order_by(event_t.c.id))]
    assert kinds == ["opened", "coordinate", "watched", "note"]


# -- kanal_case_escalated ---------------------------------------------------------------


class EscalationWatcher:
    def __init__(self):
        self.seen = []

    @hookimpl
    def kanal_case_escalated(self, escalation, work):
        self.seen.append(escalation)
        work.add_case_event("supervisor_review", note="Ditinjau oleh pengawas")


def test_hook_kanal_case_escalated(make_kanal, settings):
    from core.units import sync_units
    from gateway.scheduler import escalation_job
    from tests.clock import Clock

    clock = Clock(datetime(2026, 11, 30, 1, 0, tzinfo=UTC))
    watcher = EscalationWatcher()
    kanal = make_kanal(clock=clock, extra_plugins=(watcher,))
    sync_units(kanal.engine, settings)
    compact = submit(kanal, "Jalan berlubang", sender="budi", **IN_ALFA)
    due = clock.now + timedelta(hours=24)
    with writing(kanal.engine) as conn:  # the case as core.cases opens it
        conn.execute(update(report_t).where(report_t.c.tracking_id == compact).values(
            unit_id="kelurahan-31.71.01.1001", sla_clock="first_response", sla_due_at=due))
    clock.advance(24 * 3600)
    escalation_job(kanal)
    clock.advance(600)
    escalation_job(kanal)  # once per case and deadline

    [e] = watcher.seen
    assert (e.tracking_id, e.clock, e.due_at, e.status, e.unit_id, e.escalated_to, e.at) == (
        compact, "first_response", due, "Menunggu", "kelurahan-31.71.01.1001",
        "kecamatan-31.71.01", due)
    timeline = [(t["kind"], t["note"]) for t in public_view(kanal, compact)["timeline"]]
    assert timeline[-2:] == [
        ("escalated", "Batas waktu tanggapan terlewati; laporan dieskalasi ke Kecamatan Satu"),
        ("supervisor_review", "Ditinjau oleh pengawas")]
