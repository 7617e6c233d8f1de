"""What citizens ask on conversational channels (STATUS, STOP, MULAI, /start), edits,
media fetched after the acknowledgement, and the outbox's failure handling; through
FakeChannel and the real pipeline on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core import tracking
from core.adapter import PermanentSendError, RetryLater
from core.models import (
    Attachment, InboxItem, MediaJob, Message, OutboxItem, Report, ReporterIdentity,
)
from core.outbox import record_delivery, retry
from tests.adapters.web.helpers import png


def count(kanal, table, *where) -> int:
    with kanal.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table.__table__).where(*where)
                            ).scalar_one()


def first_report(kanal, fake) -> str:
    fake.push("Lampu jalan mati", sender="warga-1", id="m-report")
    kanal.poll_channel("fake")
    kanal.dispatcher.run_once()
    fake.sent.clear()
    with kanal.engine.connect() as conn:
        return conn.execute(select(Report.__table__.c.tracking_id)).scalar_one()


def replies(kanal, fake) -> list[tuple[str, str]]:
    kanal.dispatcher.run_once()
    return [(m.kind, m.text) for m in fake.sent]


@pytest.mark.parametrize("template,sender", [
    ("STATUS {d}", "warga-1"), ("cek {lower}", "warga-1"), ("/status {c}", "orang-lain"),
], ids=["status-own", "cek-lowercase", "slash-status-anyone"])
def test_status_request_answers_with_the_status_and_opens_nothing(kanal, fake, template,
                                                                   sender):
    compact = first_report(kanal, fake)
    d = tracking.display(compact)
    fake.push(template.format(d=d, lower=d.lower(), c=compact), sender=sender)
    kanal.poll_channel("fake")
    [(kind, text)] = replies(kanal, fake)
    assert kind == "status_reply" and d in text and "Menunggu" in text
    assert count(kanal, Report) == 1
    assert count(kanal, Message, Message.__table__.c.kind == "status_query") == 1


@pytest.mark.parametrize("text,kind", [
    ("STATUS 2222-2222-2", "status_unknown"), ("STATUS 2222-2222-3", "status_mistyped"),
    ("STATUS", "status_help"),
], ids=["unknown", "mistyped", "no-number"])
def test_status_request_problems_get_a_clear_answer(kanal, fake, text, kind):
    if kind == "status_unknown":
        text = f"STATUS {tracking.display(tracking.generate())}"
    fake.push(text, sender="warga-1")
    kanal.poll_channel("fake")
    [(got, _)] = replies(kanal, fake)
    assert got == kind
    assert count(kanal, Report) == 0
    assert count(kanal, InboxItem, InboxItem.__table__.c.status == "processed") == 1


def test_stop_and_mulai_flag_the_handle(kanal, fake):
    fake.push("STOP", sender="warga-2")
    kanal.poll_channel("fake")
    with kanal.engine.connect() as conn:
        ident = conn.execute(select(ReporterIdentity.__table__)).one()
    assert ident.handle == "warga-2" and ident.opted_out and ident.opted_out_at is not None
    fake.push("Mulai", sender="warga-2")
    kanal.poll_channel("fake")
    with kanal.engine.connect() as conn:
        assert conn.execute(select(ReporterIdentity.__table__.c.opted_out)).scalar_one() is False
    assert [k for k, _ in replies(kanal, fake)] == ["opt_out_ack", "opt_in_ack"]
    assert count(kanal, Report) == 0


def test_start_is_greeted(kanal, fake):
    fake.push("/start", sender="warga-3")
    kanal.poll_channel("fake")
    [(kind, text)] = replies(kanal, fake)
    assert kind == "greeting" and "/status" in text


def test_an_edit_is_appended_to_the_report_of_the_message_it_edits(kanal, fake):
    compact = first_report(kanal, fake)
    fake.push("Lampu jalan mati sejak kemarin", sender="warga-1", edit_of="m-report")
    kanal.poll_channel("fake")
    assert count(kanal, Report) == 1
    with kanal.engine.connect() as conn:
        edit = conn.execute(select(Message.__table__).where(
            Message.__table__.c.kind == "edit")).one()
        rid = conn.execute(select(Report.__table__.c.id)).scalar_one()
    assert edit.report_id == rid and edit.text.endswith("sejak kemarin")
    assert replies(kanal, fake) == []  # edits are not answered
    assert compact


def test_an_edit_of_an_unknown_message_is_kept_not_made_a_report(kanal, fake):
    fake.push("diubah", sender="warga-1", edit_of="never-seen")
    kanal.poll_channel("fake")
    assert count(kanal, Report) == 0
    with kanal.engine.connect() as conn:
        row = conn.execute(select(InboxItem.__table__)).one()
    assert row.status == "quarantined" and "never received" in row.error


def test_media_is_fetched_after_the_ack_and_attached(kanal, fake, client):
    fake.files["https://provider.example/m/1"] = png()
    fake.push("Sampah menumpuk", sender="warga-1",
              media=[{"url": "https://provider.example/m/1", "type": "image/png"}])
    kanal.poll_channel("fake")
    assert kanal.media.run_once() == 1
    with kanal.engine.connect() as conn:
        compact = conn.execute(select(Report.__table__.c.tracking_id)).scalar_one()
        job = conn.execute(select(MediaJob.__table__)).one()
    assert job.status == "done" and job.attachment_id
    view = client.get(f"/api/v1/reports/{compact}").json()
    [photo] = view["photos"]
    served = client.get(photo["url"])  # the public copy (no metadata) of the same picture
    from io import BytesIO

    from PIL import Image

    assert served.headers["content-type"] == "image/png"
    assert (Image.open(BytesIO(served.content)).convert("RGB").tobytes()
            == Image.open(BytesIO(png())).convert("RGB").tobytes())
    with kanal.engine.connect() as conn:
        sha = conn.execute(select(Attachment.__table__.c.sha256)).scalar_one()
    assert kanal.store.open(sha) == png()  # the stored file is the one downloaded


def test_a_failing_download_is_retried_then_given_up_and_the_message_kept(kanal, fake):
    now = [kanal.clock()]
    kanal.media.clock = lambda: now[0]
    fake.push("Banjir", sender="warga-1", media=[{"url": "https://provider.example/gone"}])
    kanal.poll_channel("fake")
    for _ in range(kanal.media.max_attempts):
        now[0] += timedelta(days=1)
        assert kanal.media.run_once() == 1
    with kanal.engine.connect() as conn:
        job = conn.execute(select(MediaJob.__table__)).one()
    assert (job.status, job.attempts) == ("failed", kanal.media.max_attempts)
    assert "no file" in job.last_error
    assert count(kanal, Report) == 1 and count(kanal, Message) >= 1


def test_media_that_is_not_media_is_refused_at_once(kanal, fake):
    fake.files["https://provider.example/x"] = b"#!/bin/sh\nrm -rf /\n"
    fake.push("Lihat", sender="warga-1", media=[{"url": "https://provider.example/x"}])
    kanal.poll_channel("fake")
    kanal.media.run_once()
    with kanal.engine.connect() as conn:
        job = conn.execute(select(MediaJob.__table__)).one()
    assert (job.status, job.attempts) == ("failed", 1)


class TestSendFailures:
    def test_retry_after_is_respected(self, kanal, fake):
        fake.push("a", sender="warga-1")
        kanal.poll_channel("fake")
        now = [kanal.clock() + timedelta(seconds=1)]
        kanal.dispatcher.clock = lambda: now[0]
        kanal.dispatcher.jitter = lambda: 0.0
        fake.fail_sends(1, RetryLater(600))
        assert kanal.dispatcher.run_once() == 1
        now[0] += timedelta(seconds=300)
        assert kanal.dispatcher.run_once() == 0  # the provider said 600 s
        now[0] += timedelta(seconds=301)
        assert kanal.dispatcher.run_once() == 1
        assert len(fake.sent) == 1

    def test_a_permanent_failure_is_dead_at_once_and_can_be_retried(self, kanal, fake):
        fake.push("a", sender="warga-1")
        kanal.poll_channel("fake")
        fake.fail_sends(1, PermanentSendError("chat not found"))
        kanal.dispatcher.run_once()
        with kanal.engine.connect() as conn:
            out = conn.execute(select(OutboxItem.__table__)).one()
        assert (out.status, out.attempts) == ("dead", 1)
        with kanal.engine.begin() as conn:
            assert retry(conn) == 1
        assert kanal.dispatcher.run_once() == 1
        assert len(fake.sent) == 1

    def test_delivery_reports_are_recorded(self, kanal, fake):
        fake.push("a", sender="warga-1")
        kanal.poll_channel("fake")
        kanal.dispatcher.run_once()
        with kanal.engine.begin() as conn:
            out = conn.execute(select(OutboxItem.__table__)).one()
            assert record_delivery(conn, "fake", out.provider_message_id, "delivered")
            assert not record_delivery(conn, "fake", "unknown-id", "delivered")
        with kanal.engine.connect() as conn:
            msg = conn.execute(select(Message.__table__).where(
                Message.__table__.c.direction == "out")).one()
        assert msg.delivery == "delivered"


class TestJoiningMessages:
    """WhatsApp and Telegram send a photo or a shared location as messages of their own."""

    def test_a_location_alone_joins_the_report_and_routes_it(self, kanal, fake):
        fake.push("Pohon tumbang", sender="warga-1")
        kanal.poll_channel("fake")
        fake.push("", sender="warga-1", lat=-6.205, lon=106.805)
        kanal.poll_channel("fake")
        with kanal.engine.connect() as conn:
            [r] = conn.execute(select(Report.__table__)).all()
        assert (r.kelurahan_code, r.queue, r.lat) == (
            "31.71.01.1001", "kelurahan:31.71.01.1001", -6.205)
        kanal.dispatcher.run_once()
        assert [m.kind for m in fake.sent] == ["ack", "follow_up_ack"]

    def test_a_photo_alone_joins_the_report(self, kanal, fake):
        fake.files["https://provider.example/p"] = png()
        fake.push("Sampah", sender="warga-1")
        kanal.poll_channel("fake")
        fake.push("", sender="warga-1", media=[{"url": "https://provider.example/p"}])
        kanal.poll_channel("fake")
        kanal.media.run_once()
        assert count(kanal, Report) == 1
        with kanal.engine.connect() as conn:
            job = conn.execute(select(MediaJob.__table__)).one()
            rid = conn.execute(select(Report.__table__.c.id)).scalar_one()
        assert job.report_id == rid and job.status == "done"

    def test_a_second_complaint_with_text_is_a_report_of_its_own(self, kanal, fake):
        fake.push("Sampah", sender="warga-1")
        kanal.poll_channel("fake")
        fake.push("Lampu mati juga", sender="warga-1", lat=-6.205, lon=106.805)
        kanal.poll_channel("fake")
        assert count(kanal, Report) == 2

    def test_after_the_window_a_location_opens_a_report(self, kanal, fake):
        fake.push("Sampah", sender="warga-1")
        kanal.poll_channel("fake")
        later = kanal.clock() + timedelta(minutes=11)
        kanal.pipeline.clock = lambda: later
        fake.push("", sender="warga-1", lat=-6.205, lon=106.805)
        kanal.poll_channel("fake")
        assert count(kanal, Report) == 2

    def test_someone_elses_location_does_not_join(self, kanal, fake):
        fake.push("Sampah", sender="warga-1")
        kanal.poll_channel("fake")
        fake.push("", sender="warga-2", lat=-6.205, lon=106.805)
        kanal.poll_channel("fake")
        assert count(kanal, Report) == 2


def test_delivery_reports_only_move_forward(kanal, fake):
    fake.push("a", sender="warga-1")
    kanal.poll_channel("fake")
    kanal.dispatcher.run_once()
    with kanal.engine.connect() as conn:
        sid = conn.execute(select(OutboxItem.__table__.c.provider_message_id)).scalar_one()
    for status in ("delivered", "sent", "read", "delivered"):
        with kanal.engine.begin() as conn:
            record_delivery(conn, "fake", sid, status)
    with kanal.engine.connect() as conn:
        assert conn.execute(select(Message.__table__.c.delivery).where(
            Message.__table__.c.direction == "out")).scalar_one() == "read"


def test_the_send_rate_is_set_per_channel(make_kanal, settings, tmp_path):
    import yaml
    from tests.conftest import FIXTURES
    data = yaml.safe_load((FIXTURES / "channels.yaml").read_text())
    for channel in data["channels"]:
        if channel["id"] == "fake":
            channel["send_rate_per_second"] = 2
    path = tmp_path / "channels.yaml"
    path.write_text(yaml.safe_dump(data))
    kanal = make_kanal(settings=settings.model_copy(update={"config": path}))
    fake = kanal.adapters["fake"]
    assert fake.send_rate == 2 and kanal.adapters["fake2"].send_rate == 1000.0
    for i in range(5):
        fake.push(f"laporan {i}", sender=f"w{i}")
    kanal.poll_channel("fake")
    assert kanal.dispatcher.run_once() == 2  # the burst; the rest waits for tokens
    assert len(fake.sent) == 2
