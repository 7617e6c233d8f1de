"""The real pipeline, driven through FakeChannel on both databases."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core import inbox, tracking
from core.adapter import Envelope
from core.models import CaseEvent, InboxItem, Message, OutboxItem, Report, ReporterIdentity

ALFA = {"lat": -6.205, "lon": 106.805}


def count(kanal, table, *where) -> int:
    with kanal.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table.__table__).where(*where)
                            ).scalar_one()


def report_of(kanal, compact):
    with kanal.engine.connect() as conn:
        return conn.execute(select(Report.__table__).where(
            Report.__table__.c.tracking_id == compact)).one()


def only_report(kanal):
    with kanal.engine.connect() as conn:
        return conn.execute(select(Report.__table__)).one()


def test_new_message_becomes_a_routed_report_with_an_ack(kanal, fake):
    fake.push("Jalan berlubang di depan sekolah", sender="warga-1", category="jalan-rusak",
              **ALFA)
    assert kanal.poll_channel("fake") == 1
    r = only_report(kanal)
    assert tracking.is_valid(r.tracking_id)
    assert (r.status, r.category, r.channel, r.official_channel) == (
        "Menunggu", "jalan-rusak", "fake", "test")
    assert (r.kelurahan_code, r.kelurahan_name, r.kecamatan_code, r.kota_code) == (
        "31.71.01.1001", "Alfa", "31.71.01", "31.71")
    assert r.queue == "kelurahan:31.71.01.1001"
    assert r.sla_due_at is not None
    assert count(kanal, CaseEvent, CaseEvent.__table__.c.kind == "opened") == 1
    assert count(kanal, OutboxItem) == 1
    assert kanal.dispatcher.run_once() == 1
    [sent] = fake.sent
    assert sent.recipient == "warga-1"
    assert tracking.display(r.tracking_id) in sent.text
    with kanal.engine.connect() as conn:
        out = conn.execute(select(OutboxItem.__table__)).one()
        msg = conn.execute(select(Message.__table__).where(
            Message.__table__.c.direction == "out")).one()
    assert (out.status, out.attempts, out.provider_message_id) == ("sent", 1, f"fake-out-{out.id}")
    assert msg.delivery == "sent"


def test_without_location_the_case_goes_to_triage(kanal, fake):
    fake.push("Ada pungli", sender="warga-1")
    kanal.poll_channel("fake")
    r = only_report(kanal)
    assert r.queue == "triage" and r.kelurahan_code is None


def test_redelivery_gives_one_report(kanal, fake):
    fake.push("Sampah menumpuk", id="same")
    fake.push("Sampah menumpuk", id="same")
    kanal.poll_channel("fake")
    fake.push("Sampah menumpuk", id="same")
    kanal.poll_channel("fake")
    assert count(kanal, Report) == 1
    assert count(kanal, InboxItem) == 1


def test_same_external_id_on_two_channels_is_two_reports(kanal):
    kanal.adapters["fake"].push("a", id="x")
    kanal.adapters["fake2"].push("b", id="x")
    kanal.poll_channel("fake")
    kanal.poll_channel("fake2")
    assert count(kanal, Report) == 2


@pytest.mark.parametrize("template", ["Bagaimana laporan {d}?", "{lower} bagaimana?", "Tambahan: {c}"],
                         ids=["display", "lowercase", "compact"])
def test_follow_up_is_appended_to_the_reporters_report(kanal, fake, template):
    fake.push("Lampu jalan mati", sender="warga-1")
    kanal.poll_channel("fake")
    first = only_report(kanal)
    d = tracking.display(first.tracking_id)
    fake.push(template.format(d=d, lower=d.lower(), c=first.tracking_id), sender="warga-1")
    kanal.poll_channel("fake")
    assert count(kanal, Report) == 1
    assert count(kanal, Message, Message.__table__.c.kind == "follow_up") == 1
    kanal.dispatcher.run_once()
    assert [m.kind for m in fake.sent] == ["ack", "follow_up_ack"]
    assert d in fake.sent[1].text


def test_someone_else_quoting_a_tracking_id_opens_a_new_report(kanal, fake):
    fake.push("Lampu jalan mati", sender="warga-1")
    kanal.poll_channel("fake")
    first = only_report(kanal)
    fake.push(f"Sudah diperbaiki? {tracking.display(first.tracking_id)}", sender="orang-lain")
    kanal.poll_channel("fake")
    assert count(kanal, Report) == 2


def test_follow_up_in_the_same_batch_as_its_report_needs_the_id_first(kanal, fake):
    # both in one poll: the second cannot know the ID yet, so it is a report of its own
    fake.push("Banjir", sender="warga-1")
    fake.push("Banjir makin tinggi", sender="warga-1")
    kanal.poll_channel("fake")
    assert count(kanal, Report) == 2
    # but it is the same reporter
    with kanal.engine.connect() as conn:
        reporters = conn.execute(select(Report.__table__.c.reporter_id)).scalars().all()
    assert len(set(reporters)) == 1


def test_thread_reference_to_an_earlier_message_is_a_follow_up(kanal, fake):
    fake.push("Pohon tumbang", sender="warga-1", id="msg-1")
    kanal.poll_channel("fake")
    fake.push("Masih belum ditangani", sender="warga-1", refs=["msg-1"])
    kanal.poll_channel("fake")
    assert count(kanal, Report) == 1


def test_a_bad_payload_is_quarantined_and_does_not_block_the_rest(kanal, fake):
    with kanal.engine.begin() as conn:
        inbox.write(conn, [Envelope("fake", "broken", b'{"id": "broken"}'),
                           Envelope("fake", "ok", json.dumps({"id": "ok", "text": "hi"}).encode())])
    assert kanal.replay() == 2
    with kanal.engine.connect() as conn:
        rows = {r.external_id: r for r in conn.execute(select(InboxItem.__table__))}
    assert rows["broken"].status == "quarantined"
    assert "text" in rows["broken"].error and rows["broken"].payload == b'{"id": "broken"}'
    assert rows["ok"].status == "processed" and rows["ok"].report_id is not None


class Grumpy:
    """A plugin that fails on one message."""

    from core.hookspecs import hookimpl

    @hookimpl
    def kanal_classify(self, message):
        if "meledak" in message.text:
            raise RuntimeError("classifier crashed")
        return None


def test_a_failing_plugin_quarantines_only_its_message(make_kanal):
    kanal = make_kanal(extra_plugins=(Grumpy(),))
    fake = kanal.adapters["fake"]
    for text in ("Sampah", "Trafo meledak", "Banjir"):
        fake.push(text, sender="w")
    kanal.poll_channel("fake")
    assert count(kanal, Report) == 2
    with kanal.engine.connect() as conn:
        bad = conn.execute(select(InboxItem.__table__).where(
            InboxItem.__table__.c.status == "quarantined")).one()
    assert b"meledak" in bad.payload and "classifier crashed" in bad.error
    assert bad.attempts == 1


def test_payloads_of_a_channel_that_is_not_running_wait(kanal):
    with kanal.engine.begin() as conn:
        inbox.write(conn, [Envelope("not-built", "t1", b"{}")])
    assert kanal.replay() == 0
    assert count(kanal, InboxItem, InboxItem.__table__.c.status == "pending") == 1


def test_crash_between_inbox_commit_and_report_is_recovered_at_start_up(make_kanal, fake,
                                                                         kanal):
    from fastapi.testclient import TestClient

    from gateway.app import create_app

    def crash(ids):
        raise SystemExit("power cut")

    kanal.ingestor.after_inbox_commit = crash
    fake.push("Saluran mampet", sender="warga-9")
    with pytest.raises(SystemExit):
        kanal.poll_channel("fake")
    assert count(kanal, InboxItem, InboxItem.__table__.c.status == "pending") == 1
    assert count(kanal, Report) == 0
    assert kanal.engine.url  # the cursor did not move either
    with kanal.engine.connect() as conn:
        from core.health import get_cursor
        assert get_cursor(conn, "fake") is None

    restarted = make_kanal()
    with TestClient(create_app(kanal=restarted)):
        pass  # start-up replays the inbox
    assert count(restarted, Report) == 1
    assert count(restarted, InboxItem, InboxItem.__table__.c.status == "processed") == 1


def test_cursor_moves_only_after_commit(kanal, fake):
    fake.push("a")
    kanal.poll_channel("fake")
    with kanal.engine.connect() as conn:
        from core.health import get_cursor
        assert get_cursor(conn, "fake") == "1"


def test_identities_are_recorded_per_channel_kind(kanal, fake):
    fake.push("a", sender="warga-1", name="Budi")
    kanal.poll_channel("fake")
    with kanal.engine.connect() as conn:
        ident = conn.execute(select(ReporterIdentity.__table__)).one()
    assert (ident.kind, ident.handle, ident.channel) == ("fake", "warga-1", "fake")


def test_many_messages_in_one_batch(kanal, fake):
    for i in range(300):
        fake.push(f"laporan {i}", sender=f"w{i % 50}", **(ALFA if i % 2 else {}))
    kanal.poll_channel("fake")
    assert count(kanal, Report) == 300
    with kanal.engine.connect() as conn:
        tids = conn.execute(select(Report.__table__.c.tracking_id)).scalars().all()
    assert len(set(tids)) == 300
    assert count(kanal, ReporterIdentity) == 50
    assert count(kanal, Report, Report.__table__.c.queue == "triage") == 150


class TestDispatcher:
    def test_failed_sends_are_retried_with_backoff_then_sent(self, kanal, fake):
        fake.push("a", sender="warga-1")
        kanal.poll_channel("fake")
        now = [kanal.clock() + timedelta(seconds=1)]
        kanal.dispatcher.clock = lambda: now[0]
        fake.fail_sends(2)
        assert kanal.dispatcher.run_once() == 1  # fails
        assert kanal.dispatcher.run_once() == 0  # backing off
        now[0] += timedelta(hours=1)
        assert kanal.dispatcher.run_once() == 1  # fails again
        now[0] += timedelta(hours=2)
        assert kanal.dispatcher.run_once() == 1  # sent
        with kanal.engine.connect() as conn:
            out = conn.execute(select(OutboxItem.__table__)).one()
        assert (out.status, out.attempts) == ("sent", 3)
        assert len(fake.sent) == 1

    def test_gives_up_after_max_attempts(self, kanal, fake):
        now = [kanal.clock()]
        kanal.dispatcher.clock = lambda: now[0]
        kanal.dispatcher.max_attempts = 3
        fake.push("a", sender="warga-1")
        kanal.poll_channel("fake")
        fake.fail_sends(10)
        for _ in range(5):
            kanal.dispatcher.run_once()
            now[0] += timedelta(days=1)
        with kanal.engine.connect() as conn:
            out = conn.execute(select(OutboxItem.__table__)).one()
            msg = conn.execute(select(Message.__table__).where(
                Message.__table__.c.direction == "out")).one()
            from core.models import ChannelState
            state = conn.execute(select(ChannelState.__table__)).one()
        assert (out.status, out.attempts) == ("dead", 3)
        assert "fake provider is down" in out.last_error
        assert msg.delivery == "failed"
        assert state.health == "failing"

    def test_backoff_grows_and_is_capped(self, kanal):
        d = kanal.dispatcher
        d.jitter = lambda: 1.0
        assert d.backoff(1) < d.backoff(2) < d.backoff(3)
        assert d.backoff(50).total_seconds() == d.max_delay


def test_a_late_location_keeps_the_reports_category(kanal, fake):
    fake.push("Pohon tumbang menutup jalan", sender="budi", category="pohon-tumbang")
    kanal.poll_channel("fake")
    assert only_report(kanal).category == "pohon-tumbang"
    # the location comes in a message of its own, as WhatsApp and Telegram send it
    fake.push("", sender="budi", lat=-6.205, lon=106.805)
    kanal.poll_channel("fake")
    r = only_report(kanal)
    assert r.kelurahan_code == "31.71.01.1001" and r.category == "pohon-tumbang"
