"""Telling the citizen (core/notify.py): each status change and each officer's note goes
to the reporter where the acknowledgement went, through the outbox; STOP is honoured and
a notice nobody can receive is recorded. Cases move through the real
``Kanal.act_on_case`` (tests.casework), reports arrive on FakeChannel; the real
providers' channels have their own tests (tests/adapters/*/test_*_notices.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core import tracking
from core.cases import ActionRequest
from core.messages import OutboundTexts
from core.models import CaseEvent, Message, OutboxItem
from core.reports import public_report
from core.unit import NewReport
from tests.casework import (  # noqa: F401 (accounts, clock, kanal: fixtures)
    DINAS, PATH, START, accounts, case, clock, drive, kanal, report_in_alfa, request, set_up,
)
from tests.helpers import drain

outbox_t, message_t, event_t = OutboxItem.__table__, Message.__table__, CaseEvent.__table__
# what the Indonesian text of the change to each status says, beside the tracking ID
SAYS = {
    "Koordinasi": "Dikoordinasikan dengan Dinas Bina Marga. Status: Koordinasi",
    "Disposisi": "Didisposisikan ke Suku Dinas Bina Marga",
    "Proses": "Sedang ditangani oleh Suku Dinas Bina Marga",
    "EWS": "Perkiraan selesai 24-12-2099: Perlu pengaspalan ulang. Status: EWS",
    "Menunggu Verifikasi": "menunggu verifikasi. Status: Menunggu Verifikasi",
    # the rating request stands in for the Selesai notice (core.rating)
    "Selesai": "selesai. Balas nilai 1-5",
    "Ditolak": "tidak dapat ditindaklanjuti. Ditolak: Bukan kewenangan Pemprov DKI.",
}


# the statuses the path of tests.casework.PATH to each status passes through
PASSES = {"Selesai": ["Koordinasi", "Disposisi", "Proses", "Menunggu Verifikasi", "Selesai"],
          "EWS": ["Koordinasi", "Disposisi", "Proses", "EWS"], "Ditolak": ["Ditolak"]}


def outbox(kanal, *where):
    with kanal.engine.connect() as conn:
        return conn.execute(select(outbox_t).where(*where).order_by(outbox_t.c.id)).all()


def skips(kanal):
    with kanal.engine.connect() as conn:
        return conn.execute(select(event_t).where(event_t.c.kind == "notice_skipped")
                            .order_by(event_t.c.id)).all()


def reported(kanal, sender: str = "user-1") -> str:
    """A report from ``sender`` on FakeChannel, its acknowledgement sent; the compact id."""
    compact = report_in_alfa(kanal, sender=sender)
    drain(kanal)
    kanal.adapters["fake"].sent.clear()
    return compact


def step_by_step(kanal, accounts, compact: str, status: str):
    """Each step of the path to ``status``, with what the reporter was sent after it."""
    for name, action, fields in PATH[status]:
        kanal.clock.now += timedelta(minutes=5)
        kanal.act_on_case(accounts[name], compact, request(action, fields))
        drain(kanal)
        sent = list(kanal.adapters["fake"].sent)
        kanal.adapters["fake"].sent.clear()
        yield case(kanal, compact).status, sent


@pytest.mark.parametrize("status", ["Selesai", "EWS", "Ditolak"])
def test_every_status_change_sends_one_message_to_the_reporter(kanal, accounts, status):
    compact = reported(kanal)
    shown = tracking.display(compact)
    [complaint] = [m for m in _messages(kanal) if m.direction == "in"]
    steps = list(step_by_step(kanal, accounts, compact, status))
    assert [s for s, _ in steps] == PASSES[status]
    for reached, sent in steps:
        [one] = sent
        kind = "rating_request" if reached == "Selesai" else "status_changed"
        assert (one.kind, one.recipient, one.channel) == (kind, "user-1", "fake")
        assert one.text.startswith(f"Laporan {shown}") and SAYS[reached] in one.text, one.text
        assert one.text.endswith(f"/lacak/{shown}")
        assert one.reply_to == complaint.external_id  # threads onto the complaint
    items = outbox(kanal, outbox_t.c.kind.in_(["status_changed", "rating_request"]))
    assert [i.status for i in items] == ["sent"] * len(steps)
    kept = {m.id: m for m in _messages(kanal)}
    assert all(kept[i.message_id].kind == ("status" if i.kind == "status_changed" else i.kind)
               and kept[i.message_id].text == i.text
               and kept[i.message_id].delivery == "sent" for i in items)
    assert skips(kanal) == []


def _messages(kanal):
    with kanal.engine.connect() as conn:
        return conn.execute(select(message_t).order_by(message_t.c.id)).all()


def test_an_officers_note_reaches_the_citizen(kanal, accounts):
    compact = reported(kanal)
    fake = kanal.adapters["fake"]
    kanal.act_on_case(accounts["lurah"], compact,
                      ActionRequest("note", reason="Mohon kirim foto lokasi yang lebih jelas."))
    drain(kanal)
    [one] = fake.sent
    assert one.kind == "case_note" and one.recipient == "user-1"
    assert one.text == (f"Pesan petugas untuk laporan {tracking.display(compact)}: "
                        "Mohon kirim foto lokasi yang lebih jelas.")
    [item] = outbox(kanal, outbox_t.c.kind == "case_note")
    [kept] = [m for m in _messages(kanal) if m.id == item.message_id]
    assert (kept.direction, kept.kind, kept.channel) == ("out", "note", "fake")
    assert case(kanal, compact).status == "Menunggu"


def test_a_reporter_who_said_stop_is_not_told_and_the_skip_is_recorded(kanal, accounts):
    compact = reported(kanal)
    fake = kanal.adapters["fake"]
    fake.push("STOP", sender="user-1")
    kanal.poll_channel("fake")
    drain(kanal)
    fake.sent.clear()
    kanal.act_on_case(accounts["lurah"], compact, ActionRequest("start"))
    kanal.act_on_case(accounts["lurah"], compact, ActionRequest("note", reason="Halo"))
    assert drain(kanal) == 0 and fake.sent == []
    assert outbox(kanal, outbox_t.c.kind.in_(["status_changed", "case_note"])) == []
    first, second = skips(kanal)
    assert not first.public and first.note is None and first.status == "Proses"
    assert first.detail == "status_changed: the reporter opted out (STOP) on fake"
    assert second.detail == "case_note: the reporter opted out (STOP) on fake"
    with kanal.engine.connect() as conn:
        timeline = public_report(conn, compact)["timeline"]
    assert "notice_skipped" not in str(timeline) and "opted out" not in str(timeline)

    fake.push("MULAI", sender="user-1")
    kanal.poll_channel("fake")
    drain(kanal)
    fake.sent.clear()
    kanal.act_on_case(accounts["lurah"], compact,
                      ActionRequest("ews", due="2099-01-31", reason="Menunggu material"))
    drain(kanal)
    assert [m.kind for m in fake.sent] == ["status_changed"]


def test_another_handle_saying_stop_does_not_silence_this_reporter(kanal, accounts):
    compact = reported(kanal, sender="user-1")
    kanal.adapters["fake"].push("STOP", sender="user-2")
    kanal.poll_channel("fake")
    drain(kanal)
    kanal.adapters["fake"].sent.clear()
    kanal.act_on_case(accounts["lurah"], compact, ActionRequest("start"))
    drain(kanal)
    assert [m.recipient for m in kanal.adapters["fake"].sent] == ["user-1"]


@pytest.mark.parametrize("contact", [None, {"name": "Sari", "phone": "081234567890"}],
                         ids=["anonymous", "with-contact"])
def test_a_web_form_report_has_nobody_to_tell_and_says_so(kanal, client, accounts,
                                                          contact):
    body = {"text": "Lampu jalan mati di Alfa", "category": "lampu-jalan",
            "location": {"lat": -6.205, "lon": 106.805}}
    if contact:
        body["contact"] = contact
    r = client.post("/api/v1/web/reports", json=body)
    assert r.status_code == 201, r.text
    compact = tracking.normalize(r.json()["tracking_id"])
    kanal.act_on_case(accounts["lurah"], compact, ActionRequest("coordinate", unit=DINAS))
    assert outbox(kanal) == []
    [skip] = skips(kanal)
    assert skip.detail.startswith("status_changed: no way to reach the reporter on web")
    assert not skip.public


def test_an_anonymous_message_has_nobody_to_tell(kanal, accounts):
    compact = report_in_alfa(kanal, sender=None)
    kanal.act_on_case(accounts["lurah"], compact, ActionRequest("start"))
    assert outbox(kanal, outbox_t.c.kind == "status_changed") == []
    [skip] = skips(kanal)
    assert "no way to reach the reporter on fake" in skip.detail


def test_the_status_notices_can_be_blocked_by_name(make_kanal, settings, clock):
    kanal = make_kanal(settings=settings.model_copy(
        update={"disable_plugins": ["citizen_notices"]}), clock=clock)
    assert kanal.pm.get_plugin("citizen_notices") is None
    accounts = set_up(kanal)
    compact = reported(kanal)
    kanal.act_on_case(accounts["lurah"], compact, ActionRequest("start"))
    kanal.act_on_case(accounts["lurah"], compact, ActionRequest("note", reason="Halo"))
    drain(kanal)
    assert [m.kind for m in kanal.adapters["fake"].sent] == ["case_note"]


def test_the_whole_path_leaves_one_notice_per_change(kanal, accounts):
    compact = reported(kanal)
    drive(kanal, accounts, compact, "Selesai")
    items = outbox(kanal, outbox_t.c.kind.in_(["status_changed", "rating_request"]))
    assert len(items) == len(PATH["Selesai"]) and {i.recipient for i in items} == {"user-1"}
    assert items[-1].kind == "rating_request"  # in place of the Selesai notice


# -- the texts -------------------------------------------------------------------------

REPORT = NewReport(id=1, tracking_id="JK7QM4XA9", channel="sms", official_channel="sms",
                   created_at=START, status="Koordinasi")
TEXTS = [
    ("coordinate", "Koordinasi", {"note": "Dikoordinasikan dengan Dinas Bina Marga",
                                  "unit": "Dinas Bina Marga"},
     "Laporan JK7Q-M4XA-9: Dikoordinasikan dengan Dinas Bina Marga. Status: Koordinasi. "
     "Rincian: https://lapor.jakarta.go.id/lacak/JK7Q-M4XA-9",
     "Report JK7Q-M4XA-9 was handed to Dinas Bina Marga. Status: Koordinasi. "
     "Details: https://lapor.jakarta.go.id/lacak/JK7Q-M4XA-9"),
    ("ews", "EWS", {"note": "Perkiraan selesai 24-12-2026: Menunggu material",
                    "due": "24-12-2026"},
     "Laporan JK7Q-M4XA-9: Perkiraan selesai 24-12-2026: Menunggu material. Status: EWS. "
     "Rincian: https://lapor.jakarta.go.id/lacak/JK7Q-M4XA-9",
     "Report JK7Q-M4XA-9 takes longer: expected done by 24-12-2026. "
     "Details: https://lapor.jakarta.go.id/lacak/JK7Q-M4XA-9"),
    ("verify", "Selesai", {"note": "Penanganan terverifikasi, laporan selesai"},
     # a case rated already (the rating request says it otherwise, core.rating)
     "Laporan JK7Q-M4XA-9 selesai ditangani. "
     "Rincian: https://lapor.jakarta.go.id/lacak/JK7Q-M4XA-9",
     "Report JK7Q-M4XA-9 is resolved. "
     "Details: https://lapor.jakarta.go.id/lacak/JK7Q-M4XA-9"),
    ("reject", "Ditolak", {"note": "Ditolak: Duplikat laporan JK7Q-M4XA-8."},
     "Laporan JK7Q-M4XA-9 tidak dapat ditindaklanjuti. Ditolak: Duplikat laporan "
     "JK7Q-M4XA-8. Rincian: https://lapor.jakarta.go.id/lacak/JK7Q-M4XA-9",
     "Report JK7Q-M4XA-9 cannot be taken up. Ditolak: Duplikat laporan JK7Q-M4XA-8. "
     "Details: https://lapor.jakarta.go.id/lacak/JK7Q-M4XA-9"),
    ("reopen", "Proses", {},
     "Laporan JK7Q-M4XA-9 kini berstatus Proses. "
     "Rincian: https://lapor.jakarta.go.id/lacak/JK7Q-M4XA-9",
     "Report JK7Q-M4XA-9 is now Proses. Details: https://lapor.jakarta.go.id/lacak/JK7Q-M4XA-9"),
    ("start", "Proses", {"note": "Sedang ditangani oleh petugas"},  # no unit: the note
     "Laporan JK7Q-M4XA-9: Sedang ditangani oleh petugas. Status: Proses. "
     "Rincian: https://lapor.jakarta.go.id/lacak/JK7Q-M4XA-9",
     "Report JK7Q-M4XA-9: Sedang ditangani oleh petugas. Status: Proses. "
     "Details: https://lapor.jakarta.go.id/lacak/JK7Q-M4XA-9"),
]


@pytest.mark.parametrize(("action", "status", "details", "id_text", "en_text"), TEXTS,
                         ids=[t[0] for t in TEXTS])
def test_status_texts_in_both_languages(action, status, details, id_text, en_text):
    texts = OutboundTexts("https://lapor.jakarta.go.id")
    report = NewReport(**{**{f: getattr(REPORT, f) for f in
                             ("id", "tracking_id", "channel", "official_channel",
                              "created_at")}, "status": status})
    full = {**details, "status": status, "action": action}
    assert texts.kanal_format_outbound("status_changed", report, "id", full) == id_text
    assert texts.kanal_format_outbound("status_changed", report, "en", full) == en_text
    if action in ("coordinate", "verify", "reopen"):  # no officer's words: one SMS
        assert len(id_text) <= 160


def test_case_note_texts():
    texts = OutboundTexts("")
    details = {"text": "Petugas akan datang besok pagi."}
    assert texts.kanal_format_outbound("case_note", REPORT, "id", details) == (
        "Pesan petugas untuk laporan JK7Q-M4XA-9: Petugas akan datang besok pagi.")
    assert texts.kanal_format_outbound("case_note", REPORT, "en", details) == (
        "A message from the officer on report JK7Q-M4XA-9: Petugas akan datang besok pagi.")
