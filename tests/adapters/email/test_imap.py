"""The email channel against a real Dovecot: mail delivered with dovecot-lda becomes
reports through ``Kanal.poll_channel`` (the poll/cursor path)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.db import writing
from core.health import get_cursor, set_cursor
from core.models import Attachment, InboxItem, Message, Report, ReporterIdentity

TESTDATA = Path(__file__).parent / "testdata"
inbox_t, report_t, message_t = InboxItem.__table__, Report.__table__, Message.__table__
identity_t, attachment_t = ReporterIdentity.__table__, Attachment.__table__


def mail(n: int | str, *, sender: str = "warga@example.com", subject: str | None = None,
         body: str | None = None, message_id: str | None = "auto",
         headers: dict[str, str] | None = None) -> bytes:
    lines = [f"From: Warga {n} <{sender}>", "To: dki@jakarta.go.id",
             "Date: Tue, 24 Nov 2026 09:15:00 +0700",
             f"Subject: {subject or f'Laporan {n}'}"]
    if message_id == "auto":
        message_id = f"m{n}@example.com"
    if message_id:
        lines.append(f"Message-ID: <{message_id}>")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "",
              body or f"Jalan rusak nomor {n} di Kebon Jeruk."]
    return ("\r\n".join(lines) + "\r\n").encode()


def rows(kanal, table, *where):
    with kanal.engine.connect() as conn:
        return conn.execute(select(table).where(*where).order_by(table.c.id)).all()


def count(kanal, table) -> int:
    with kanal.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def cursor(kanal) -> str | None:
    with kanal.engine.connect() as conn:
        return get_cursor(conn, "email")


@pytest.mark.parametrize("name, expected", [
    pytest.param("plain", "Jalan rusak nomor 1", id="plain-text"),
    pytest.param("html_only.eml", "Sampah menumpuk di Jl. Kebon Jeruk.", id="html-only"),
], )
def test_mail_becomes_report(email_kanal, mailbox, name, expected):
    raw = mail(1) if name == "plain" else (TESTDATA / name).read_bytes()
    mailbox.deliver(raw)
    assert email_kanal.poll_channel("email") == 1
    [report] = rows(email_kanal, report_t)
    [message] = rows(email_kanal, message_t, message_t.c.direction == "in")
    assert message.report_id == report.id and expected in message.text
    assert message.channel == "email" and message.subject
    [identity] = rows(email_kanal, identity_t)
    assert identity.kind == "email" and "@example.com" in identity.handle.lower()
    assert report.official_channel == "email-dki"


def test_attachment_is_stored(email_kanal, mailbox):
    mailbox.deliver((TESTDATA / "attachment_pdf.eml").read_bytes())
    assert email_kanal.poll_channel("email") == 1
    [att] = rows(email_kanal, attachment_t)
    assert att.media_type == "application/pdf"
    assert email_kanal.store.exists(att.sha256)


@pytest.mark.parametrize("bad", [
    pytest.param((TESTDATA / "malformed_no_from.eml").read_bytes(), id="malformed-no-from"),
    pytest.param(mail(9, body="x" * 300_000), id="oversize"),
])
def test_bad_mail_is_quarantined_and_next_mail_processed(email_kanal_factory, mailbox, bad):
    kanal = email_kanal_factory(max_bytes=200_000)
    mailbox.deliver(bad)
    mailbox.deliver(mail(2))
    assert kanal.poll_channel("email") == 2
    quarantined, processed = rows(kanal, inbox_t)
    assert quarantined.status == "quarantined" and processed.status == "processed"
    if len(bad) > 200_000:
        assert "mail of" in quarantined.error and "over the limit of 200000" in quarantined.error
        assert b"Subject: Laporan 9" in quarantined.payload  # the headers are kept
        assert len(quarantined.payload) < 10_000
    else:
        assert "malformed" in quarantined.error and quarantined.payload == bad
    assert count(kanal, report_t) == 1


def test_duplicate_message_id_gives_one_report(email_kanal, mailbox):
    mailbox.deliver(mail(1))
    mailbox.deliver(mail(1))
    assert email_kanal.poll_channel("email") == 2
    assert count(email_kanal, report_t) == 1 and count(email_kanal, inbox_t) == 1


def test_mail_without_message_id_gets_uid_id(email_kanal, mailbox):
    mailbox.deliver(mail(1, message_id=None))
    email_kanal.poll_channel("email")
    [item] = rows(email_kanal, inbox_t)
    assert item.external_id.startswith("uid:") and item.external_id.endswith(":1")
    assert count(email_kanal, report_t) == 1


def test_cursor_advances_and_second_poll_takes_only_new_mail(email_kanal, mailbox):
    assert email_kanal.poll_channel("email") == 0
    validity = cursor(email_kanal).split(":")[0]
    assert cursor(email_kanal) == f"{validity}:0"
    mailbox.deliver(mail(1))
    mailbox.deliver(mail(2))
    assert email_kanal.poll_channel("email") == 2
    assert cursor(email_kanal) == f"{validity}:2"
    assert email_kanal.poll_channel("email") == 0  # "3:*" still returns UID 2: filtered
    mailbox.deliver(mail(3))
    assert email_kanal.poll_channel("email") == 1
    assert cursor(email_kanal) == f"{validity}:3" and count(email_kanal, report_t) == 3


def test_uidvalidity_change_resyncs_without_doubles(email_kanal, mailbox):
    for n in (1, 2):
        mailbox.deliver(mail(n))
    email_kanal.poll_channel("email")
    validity = cursor(email_kanal).split(":")[0]
    with writing(email_kanal.engine) as conn:  # as if the mailbox had been recreated
        set_cursor(conn, "email", f"{int(validity) + 1}:999")
    mailbox.deliver(mail(3))
    assert email_kanal.poll_channel("email") == 3  # everything re-read from UID 1
    assert cursor(email_kanal) == f"{validity}:3"
    assert count(email_kanal, inbox_t) == 3 and count(email_kanal, report_t) == 3


def test_mail_is_never_marked_seen(email_kanal, mailbox):
    mailbox.deliver(mail(1))
    mailbox.deliver(mail(2, body="x" * 300_000))
    email_kanal.poll_channel("email")
    client = mailbox.client()
    try:
        client.select_folder("INBOX", readonly=True)
        flags = client.get_flags(client.search(["ALL"]))
    finally:
        client.logout()
    assert len(flags) == 2
    assert all(b"\\Seen" not in f for f in flags.values())


def test_outage_backfills_exactly_once(email_kanal, mailbox):
    mailbox.deliver(mail(1))
    assert email_kanal.poll_channel("email") == 1
    before = cursor(email_kanal)
    mailbox.server.stop()
    try:
        with pytest.raises(OSError):  # ConnectionRefusedError
            email_kanal.poll_channel("email")
        assert cursor(email_kanal) == before
        for n in (2, 3, 4):  # dovecot-lda delivers with the server down
            mailbox.deliver(mail(n))
    finally:
        mailbox.server.start()
    assert email_kanal.poll_channel("email") == 3
    assert email_kanal.poll_channel("email") == 0
    assert count(email_kanal, report_t) == 4 and count(email_kanal, inbox_t) == 4


def test_reply_threads_onto_earlier_report(email_kanal, mailbox):
    mailbox.deliver(mail(1))
    email_kanal.poll_channel("email")
    mailbox.deliver(mail(2, subject="Re: Laporan 1", body="Masih rusak.",
                         headers={"In-Reply-To": "<m1@example.com>",
                                  "References": "<m1@example.com>"}))
    assert email_kanal.poll_channel("email") == 1
    [report] = rows(email_kanal, report_t)
    messages = rows(email_kanal, message_t, message_t.c.direction == "in")
    assert [m.report_id for m in messages] == [report.id, report.id]


def test_channel_without_imap_host_is_disabled(email_kanal_factory):
    kanal = email_kanal_factory(imap_host="")
    status = kanal.channel("email")
    assert status.state == "disabled" and "imap_host" in status.reason


def test_one_poll_drains_a_backlog_larger_than_max_per_poll(email_kanal_factory, mailbox):
    kanal = email_kanal_factory(max_per_poll=2)
    for n in range(5):
        mailbox.deliver(mail(n))
    assert kanal.poll_channel("email") == 5  # three IMAP rounds of at most 2
    assert cursor(kanal).endswith(":5") and count(kanal, report_t) == 5


@pytest.mark.parametrize("name", [
    "plain_text", "html_only", "multipart_alternative", "charset_utf8", "charset_iso_8859_1",
    "charset_windows_1252", "quoted_printable", "base64_body", "rfc2047_subject",
    "inline_image", "attachment_pdf",
])
def test_named_mails_arrive_through_dovecot_as_parsed(email_kanal, mailbox, name):
    """Each case of test_parse.py, end to end: what Dovecot hands over is what the parser
    reads (the exact texts are checked there)."""
    from adapters.email.parse import parse_mail

    raw = (TESTDATA / f"{name}.eml").read_bytes()
    expected = parse_mail(raw, max_attachment_bytes=256 * 1024)
    mailbox.deliver(raw)
    assert email_kanal.poll_channel("email") == 1
    [message] = rows(email_kanal, message_t, message_t.c.direction == "in")
    assert message.text == expected.text and message.subject == (expected.subject or None)
    stored = rows(email_kanal, attachment_t)
    assert [a.media_type for a in stored] == [a.media_type for a in expected.attachments]
    assert count(email_kanal, report_t) == 1


def test_a_poll_holds_about_max_poll_bytes_of_mail(email_kanal_factory, mailbox, monkeypatch):
    from adapters.email import imap

    reads = []
    real = imap.read_new

    def counted(*args, **kw):
        mails, cursor, more = real(*args, **kw)
        reads.append((len(mails), sum(len(m.payload) for m in mails), more))
        return mails, cursor, more

    monkeypatch.setattr(imap, "read_new", counted)
    kanal = email_kanal_factory(max_poll_bytes=2500)
    for n in range(5):
        mailbox.deliver(mail(n, body=f"Jalan rusak nomor {n}. " + "x" * 900))
    assert kanal.poll_channel("email") == 5 and count(kanal, report_t) == 5
    assert len(reads) >= 3  # drained in several reads, none much over the budget
    assert all(size <= 2500 + 1500 for _, size, _ in reads)
    assert [more for *_, more in reads][-1] is False
    big = mail(9, body="y" * 5000)  # a mail over the budget still gets through alone
    mailbox.deliver(big)
    assert kanal.poll_channel("email") == 1


@pytest.mark.parametrize("forged", ["<uid:{validity}:2>", "uid:{validity}:2"],
                         ids=["in-brackets", "bare"])
def test_a_message_id_cannot_take_the_key_of_a_mail_without_one(email_kanal, mailbox, forged):
    """The fallback key of a mail without a Message-ID is ``uid:<validity>:<uid>``, and UIDs
    are sequential: a sender must not be able to claim the next one and have that mail
    dropped as a duplicate."""
    email_kanal.poll_channel("email")
    validity = cursor(email_kanal).split(":")[0]
    raw = mail(1, message_id=None).replace(
        b"MIME-Version", f"Message-ID: {forged.format(validity=validity)}\r\nMIME-Version"
        .encode())
    mailbox.deliver(raw)
    mailbox.deliver(mail(2, message_id=None))
    assert email_kanal.poll_channel("email") == 2
    assert count(email_kanal, inbox_t) == 2 and count(email_kanal, report_t) == 2


@pytest.mark.parametrize("value, key", [
    ("<m1@example.com>", "m1@example.com"),
    ("  <CAF=abc+1@mail.gmail.com>  ", "CAF=abc+1@mail.gmail.com"),
    ("m1@example.com", "m1@example.com"),  # no brackets, as some mailers write it
    ("<x@y> <z@w>", "x@y"),
    ("<uid:123:2>", None),  # no @: could be the key of a mail without a Message-ID
    ("uid:123:2", None),
    ("<a:1@b>", "a:1@b"),
    ("<a b@c>", None),
    ("<a\x00b@c>", None),  # NUL: PostgreSQL cannot store it
    ("<ä@example.com>", None),
    ("<" + "a" * 250 + "@example.com>", None),
    ("", None),
], ids=["plain", "gmail", "bare", "two-ids", "uid-key-bracketed", "uid-key-bare", "colon",
        "space", "nul", "non-ascii", "too-long", "empty"])
def test_message_id_shape(value, key):
    from adapters.email.imap import message_id

    raw = "Message-ID: ".encode() + value.encode("utf-8") + b"\r\n\r\n"
    assert message_id(raw) == key
