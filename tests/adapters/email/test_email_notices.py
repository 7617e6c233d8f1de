"""Status notices by email through a real SMTP server: the notice threads onto the
citizen's mail as the acknowledgement did, Indonesian first with an English line; a
recipient the server refuses for good leaves the notice dead after one attempt."""

from __future__ import annotations

from sqlalchemy import select

from core import tracking
from core.cases import ActionRequest
from core.models import OutboxItem, Report
from tests.adapters.email.test_imap import mail
from tests.adapters.email.test_replies import intake, send_all
from tests.casework import DINAS, set_up

outbox_t, report_t = OutboxItem.__table__, Report.__table__


def reported(kanal, mailbox, smtp_server) -> str:
    intake(kanal, mailbox, mail(1, subject="Jalan rusak di Kebon Jeruk"))
    assert send_all(kanal) == 1
    smtp_server.sink.wait_for(1)
    with kanal.engine.connect() as conn:
        return conn.execute(select(report_t.c.tracking_id)).scalar_one()


def test_a_status_change_is_a_threaded_reply(email_kanal, mailbox, smtp_server):
    compact = reported(email_kanal, mailbox, smtp_server)
    shown = tracking.display(compact)
    accounts = set_up(email_kanal)
    email_kanal.act_on_case(accounts["verifikator"], compact,
                            ActionRequest("coordinate", unit=DINAS))
    assert send_all(email_kanal) == 1
    ack, notice = smtp_server.sink.wait_for(2)
    _, rcpts, _ = smtp_server.sink.mails[1]
    assert rcpts == ["warga@example.com"]
    assert notice["In-Reply-To"] == ack["In-Reply-To"] == "<m1@example.com>"
    assert notice["Subject"] == f"[Laporan {shown}] Re: Jalan rusak di Kebon Jeruk"
    assert notice["Message-ID"] != ack["Message-ID"]
    body = notice.get_content()
    assert f"Laporan {shown}: Dikoordinasikan dengan Dinas Bina Marga." in body
    assert f"Report {shown} was handed to Dinas Bina Marga." in body  # the English line


def test_a_refused_recipient_leaves_the_notice_dead_at_once(email_kanal, mailbox):
    intake(email_kanal, mailbox, mail(1, sender="unknown@example.com"))  # the sink refuses
    send_all(email_kanal)
    with email_kanal.engine.connect() as conn:
        compact = conn.execute(select(report_t.c.tracking_id)).scalar_one()
    accounts = set_up(email_kanal)
    email_kanal.act_on_case(accounts["verifikator"], compact,
                            ActionRequest("coordinate", unit=DINAS))
    assert send_all(email_kanal) == 1
    with email_kanal.engine.connect() as conn:
        [item] = conn.execute(select(outbox_t).where(
            outbox_t.c.kind == "status_changed")).all()
    assert (item.status, item.attempts, item.recipient) == ("dead", 1, "unknown@example.com")
    assert "recipient refused" in item.last_error and "550" in item.last_error
