"""Replies over SMTP (a real aiosmtpd server), threading of the citizen's answers, loop
protection, bounces and forwards, with mail read from a real Dovecot."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from core import tracking
from core.models import InboxItem, Message, OutboxItem, Report, ReporterIdentity
from tests.adapters.email.test_imap import count, mail, rows

TESTDATA = Path(__file__).parent / "testdata"
inbox_t, report_t, message_t = InboxItem.__table__, Report.__table__, Message.__table__
outbox_t, identity_t = OutboxItem.__table__, ReporterIdentity.__table__


def intake(kanal, mailbox, *raws: bytes) -> int:
    for raw in raws:
        mailbox.deliver(raw)
    return kanal.poll_channel("email")


def send_all(kanal) -> int:
    sent = 0
    while (n := kanal.dispatcher.run_once()):
        sent += n
    return sent


def only_report(kanal):
    [report] = rows(kanal, report_t)
    return report


def test_ack_is_a_threaded_reply_with_the_tracking_id(email_kanal, mailbox, smtp_server):
    intake(email_kanal, mailbox, mail(1, subject="Jalan rusak di Kebon Jeruk",
                                      headers={"References": "<earlier@example.com>"}))
    report = only_report(email_kanal)
    shown = tracking.display(report.tracking_id)
    assert send_all(email_kanal) == 1
    [ack] = smtp_server.sink.wait_for(1)
    mail_from, rcpts, _ = smtp_server.sink.mails[0]
    assert (mail_from, rcpts) == ("dki@jakarta.go.id", ["warga@example.com"])
    assert ack["Subject"] == f"[Laporan {shown}] Re: Jalan rusak di Kebon Jeruk"
    assert ack["From"].addresses[0].addr_spec == "dki@jakarta.go.id"
    assert ack["In-Reply-To"] == "<m1@example.com>"
    assert ack["References"] == "<earlier@example.com> <m1@example.com>"
    assert ack["Auto-Submitted"] == "auto-replied"
    message_id = ack["Message-ID"].strip("<>")
    assert message_id.endswith("@jakarta.go.id") and report.tracking_id in message_id
    body = ack.get_content()
    assert f"Laporan Anda diterima, nomor {shown}" in body  # Bahasa Indonesia first
    assert f"Report received, number {shown}" in body  # and an English line
    [out] = rows(email_kanal, message_t, message_t.c.direction == "out")
    assert (out.delivery, out.external_id, out.report_id) == ("sent", message_id, report.id)


def test_a_retry_sends_the_same_message_id(email_kanal, mailbox, smtp_server):
    intake(email_kanal, mailbox, mail(1))
    [item] = rows(email_kanal, outbox_t)
    adapter = email_kanal.adapters["email"]
    from core.canonical import OutboundMessage

    message = OutboundMessage(outbox_id=item.id, channel="email", recipient=item.recipient,
                              text=item.text, kind=item.kind, tracking_id="Z5YKRHTHQ",
                              reply_to=item.reply_to)
    first = adapter.send(message).provider_message_id
    assert adapter.send(message).provider_message_id == first
    assert [m["Message-ID"] for m in smtp_server.sink.wait_for(2)] == [f"<{first}>"] * 2


def test_reply_by_subject_id_lands_on_the_report(email_kanal, mailbox, smtp_server):
    intake(email_kanal, mailbox, mail(1))
    report = only_report(email_kanal)
    shown = tracking.display(report.tracking_id)
    # a new mail (no In-Reply-To), the ID only in the subject kanal's ack gave it
    intake(email_kanal, mailbox, mail(2, subject=f"Re: [Laporan {shown}] Re: Laporan 1",
                                      body="Sudah seminggu belum diperbaiki."))
    assert only_report(email_kanal).id == report.id
    send_all(email_kanal)
    _, follow_up = smtp_server.sink.wait_for(2)
    assert follow_up["Subject"] == f"[Laporan {shown}] Re: Laporan 1"
    assert f"Tambahan untuk laporan {shown} diterima" in follow_up.get_content()
    assert follow_up["In-Reply-To"] == "<m2@example.com>"


def test_reply_by_references_to_our_ack(email_kanal, mailbox, smtp_server):
    intake(email_kanal, mailbox, mail(1))
    send_all(email_kanal)
    [ack] = smtp_server.sink.wait_for(1)
    # the citizen's client answers our ack; the subject was edited and has no ID
    intake(email_kanal, mailbox, mail(2, subject="foto tambahan", body="Ini fotonya.",
                                      headers={"In-Reply-To": ack["Message-ID"],
                                               "References": ack["Message-ID"]}))
    report = only_report(email_kanal)
    inbound = rows(email_kanal, message_t, message_t.c.direction == "in")
    assert [m.report_id for m in inbound] == [report.id, report.id]
    assert inbound[1].kind == "follow_up"


def test_tracking_id_in_the_body_threads_only_for_the_same_sender(email_kanal, mailbox):
    intake(email_kanal, mailbox, mail(1))
    shown = tracking.display(only_report(email_kanal).tracking_id)
    body = f"Menanyakan laporan {shown}, kapan diperbaiki?"
    intake(email_kanal, mailbox, mail(2, subject="Pertanyaan", body=body),
           mail(3, subject="Pertanyaan", body=body, sender="orang.lain@example.net"))
    reports = rows(email_kanal, report_t)
    assert len(reports) == 2  # the other sender's mail is a report of its own
    inbound = rows(email_kanal, message_t, message_t.c.direction == "in")
    assert [m.report_id for m in inbound] == [reports[0].id, reports[0].id, reports[1].id]


@pytest.mark.parametrize("name", [
    "auto_reply.eml", "precedence_bulk.eml", "mailing_list.eml", "mailer_daemon.eml",
    "no_reply_sender.eml", "own_address.eml",
])
def test_loop_protection_takes_the_mail_but_sends_no_ack(email_kanal, mailbox, smtp_server,
                                                         name):
    assert intake(email_kanal, mailbox, (TESTDATA / name).read_bytes()) == 1
    [item] = rows(email_kanal, inbox_t)
    assert item.status == "processed"  # kept, and a report when it is one
    assert rows(email_kanal, outbox_t) == []
    assert send_all(email_kanal) == 0 and smtp_server.sink.mails == []


def test_auto_submitted_no_is_answered(email_kanal, mailbox, smtp_server):
    intake(email_kanal, mailbox, (TESTDATA / "auto_submitted_no.eml").read_bytes())
    assert send_all(email_kanal) == 1
    assert len(smtp_server.sink.wait_for(1)) == 1


def test_per_sender_ack_limit_ends_a_loop_with_an_autoresponder(email_kanal_factory,
                                                               mailbox, smtp_server):
    # an autoresponder that sets none of the headers answers every ack with a new mail
    kanal = email_kanal_factory(max_acks_per_hour=3)
    raws = [mail(n, sender="robot@example.org", subject="Terima kasih atas email Anda")
            for n in range(6)]
    assert intake(kanal, mailbox, *raws) == 6
    assert count(kanal, report_t) == 6  # every mail is taken
    assert send_all(kanal) == 3  # but only three get an answer this hour
    assert {rcpts[0] for _, rcpts, _ in smtp_server.sink.mails} == {"robot@example.org"}
    intake(kanal, mailbox, mail(9, sender="warga@example.com"))
    assert send_all(kanal) == 1  # other senders are not held up


def dsn_for(message_id: str, action: str = "failed") -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n"
        "To: dki@jakarta.go.id\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0700\r\nMessage-ID: <dsn-1@mx.example.com>\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; warga@example.com\r\nAction: {action}\r\n"
        "Status: 5.1.1\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: dki@jakarta.go.id\r\nMessage-ID: <{message_id}>\r\n"
        "Subject: [Laporan] Re: Laporan 1\r\n\r\n--B--\r\n").encode()


def test_bounce_marks_our_ack_failed(email_kanal, mailbox, smtp_server):
    intake(email_kanal, mailbox, mail(1))
    send_all(email_kanal)
    [ack] = smtp_server.sink.wait_for(1)
    assert intake(email_kanal, mailbox, dsn_for(ack["Message-ID"].strip("<>"))) == 1
    report = only_report(email_kanal)  # no report for the bounce
    [out] = rows(email_kanal, message_t, message_t.c.direction == "out")
    assert out.delivery == "failed"
    bounce = rows(email_kanal, message_t, message_t.c.kind == "delivery_report")
    assert [b.report_id for b in bounce] == [report.id]  # kept on the report
    assert [i.status for i in rows(email_kanal, inbox_t)] == ["processed", "processed"]
    assert send_all(email_kanal) == 0  # a bounce is never answered
    assert count(email_kanal, identity_t) == 1  # the mailer-daemon is no reporter


def test_bounce_for_a_mail_we_never_sent_is_kept_and_ignored(email_kanal, mailbox):
    assert intake(email_kanal, mailbox, dsn_for("someone-else@example.org")) == 1
    [item] = rows(email_kanal, inbox_t)
    assert item.status == "processed" and item.report_id is None
    assert count(email_kanal, report_t) == 0 and rows(email_kanal, outbox_t) == []


def test_delay_notice_does_not_mark_the_ack_failed(email_kanal, mailbox, smtp_server):
    intake(email_kanal, mailbox, mail(1))
    send_all(email_kanal)
    [ack] = smtp_server.sink.wait_for(1)
    intake(email_kanal, mailbox, dsn_for(ack["Message-ID"].strip("<>"), action="delayed"))
    [out] = rows(email_kanal, message_t, message_t.c.direction == "out")
    assert out.delivery == "sent"


def test_oversized_mail_tells_the_sender_the_limit(email_kanal_factory, mailbox, smtp_server):
    kanal = email_kanal_factory(max_bytes=200_000)
    assert intake(kanal, mailbox, mail(9, body="x" * 300_000)) == 1
    [item] = rows(kanal, inbox_t)
    assert item.status == "quarantined" and "over the limit of 200000" in item.error
    assert send_all(kanal) == 1
    [notice] = smtp_server.sink.wait_for(1)
    assert notice["To"].addresses[0].addr_spec == "warga@example.com"
    assert notice["Subject"] == "Re: Laporan 9"
    assert notice["In-Reply-To"] == "<m9@example.com>"
    body = notice.get_content()
    assert "melebihi batas 0.2 MB" in body and "over the 0.2 MB limit" in body
    assert count(kanal, report_t) == 0


def test_oversized_auto_reply_gets_no_notice(email_kanal_factory, mailbox):
    kanal = email_kanal_factory(max_bytes=200_000)
    intake(kanal, mailbox, mail(9, body="x" * 300_000,
                                headers={"Auto-Submitted": "auto-generated"}))
    assert rows(kanal, inbox_t)[0].status == "quarantined"
    assert rows(kanal, outbox_t) == []


FORWARD = (
    "From: Petugas Kelurahan <petugas@kelurahan.jakarta.go.id>\r\n"
    "To: dki@jakarta.go.id\r\nSubject: Fwd: Lampu jalan mati\r\n"
    "Date: Tue, 24 Nov 2026 11:00:00 +0700\r\nMessage-ID: <fwd-1@jakarta.go.id>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "Mohon ditindaklanjuti.\r\n\r\n---------- Forwarded message ---------\r\n"
    "From: Siti Aminah <siti.aminah@example.com>\r\nDate: Mon, 23 Nov 2026\r\n"
    "Subject: Lampu jalan mati\r\n\r\nLampu jalan di Jl. Kemuning mati sejak Senin.\r\n"
).encode()


def test_staff_forward_is_a_new_report_of_the_original_sender(email_kanal, mailbox,
                                                              smtp_server):
    assert intake(email_kanal, mailbox, FORWARD) == 1
    report = only_report(email_kanal)
    [identity] = rows(email_kanal, identity_t)
    assert identity.handle == "siti.aminah@example.com"
    assert identity.reporter_id == report.reporter_id
    send_all(email_kanal)
    [ack] = smtp_server.sink.wait_for(1)
    assert ack["To"].addresses[0].addr_spec == "siti.aminah@example.com"
    assert ack["Subject"].endswith("Re: Lampu jalan mati")


def test_recipient_refused_for_good_fails_at_once(email_kanal, mailbox, smtp_server):
    intake(email_kanal, mailbox, mail(1, sender="unknown@example.com"))
    assert send_all(email_kanal) == 1
    [item] = rows(email_kanal, outbox_t)
    assert item.status == "dead" and "550" in item.last_error
    [out] = rows(email_kanal, message_t, message_t.c.direction == "out")
    assert out.delivery == "failed"


def test_recipient_deferred_is_retried(email_kanal, mailbox, smtp_server):
    intake(email_kanal, mailbox, mail(1, sender="full@example.com"))
    assert send_all(email_kanal) == 1
    [item] = rows(email_kanal, outbox_t)
    assert item.status == "pending" and item.attempts == 1 and "451" in item.last_error


def test_smtp_server_down_is_retried(email_kanal_factory, mailbox, smtp_server):
    from tests.adapters.email.dovecot import free_port

    kanal = email_kanal_factory(smtp_port=free_port())  # nothing listens there
    intake(kanal, mailbox, mail(1))
    assert send_all(kanal) == 1
    [item] = rows(kanal, outbox_t)
    assert item.status == "pending" and "cannot reach SMTP server" in item.last_error


def test_channel_without_smtp_host_is_disabled(email_kanal_factory):
    status = email_kanal_factory(smtp_host="").channel("email")
    assert status.state == "disabled" and "KANAL_SMTP_HOST" in status.reason


def test_tls_is_verified_by_default(email_kanal):
    import ssl

    context = email_kanal.adapters["email"].settings.ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_move_to_moves_mail_only_after_it_is_committed(email_kanal_factory, mailbox):
    kanal = email_kanal_factory(move_to="Processed")
    assert intake(kanal, mailbox, mail(1), mail(2)) == 2
    client = mailbox.client()
    try:
        client.select_folder("INBOX", readonly=True)
        assert len(client.search(["ALL"])) == 2  # moved on the next poll, not this one
    finally:
        client.logout()
    assert intake(kanal, mailbox, mail(3)) == 1
    client = mailbox.client()
    try:
        client.select_folder("INBOX", readonly=True)
        left = client.search(["ALL"])
        client.select_folder("Processed", readonly=True)
        moved = client.search(["ALL"])
    finally:
        client.logout()
    assert (len(left), len(moved)) == (1, 2)
    assert kanal.poll_channel("email") == 0
    assert count(kanal, report_t) == 3 and count(kanal, inbox_t) == 3


def test_outbound_message_rows_record_what_was_sent(email_kanal, mailbox, smtp_server):
    intake(email_kanal, mailbox, mail(1))
    send_all(email_kanal)
    with email_kanal.engine.connect() as conn:
        item = conn.execute(select(outbox_t)).one()
    assert item.status == "sent" and item.provider_message_id.startswith("kanal.")
