"""The ``email`` channel: citizen mail from an IMAP mailbox (receive side).

Each poll connects, reads the mail after the cursor (UIDVALIDITY:last UID) with
``BODY.PEEK[]`` and hands it over; the gateway commits it to the inbox before it saves the
new cursor, so an outage or a crash re-reads mail rather than losing it, and the inbox's
unique (channel, Message-ID) keeps a re-read from doubling anything. An IMAP or socket
error propagates: the poll fails, and the next one reconnects and backfills.
"""

from __future__ import annotations

from email import message_from_bytes, policy

from adapters.email import imap
from adapters.email.parse import MalformedMail, parse_mail, thread_keys
from adapters.email.settings import EmailSettings
from core.adapter import Adapter, Envelope, InboxRecord, NormalizeError, PermanentSendError
from core.canonical import InboundMessage, OutboundMessage, Sender, SendResult
from core.hookspecs import hookimpl


class EmailAdapter(Adapter):
    name = "email"
    sender_kind = "email"
    Settings = EmailSettings
    requires = ("imapclient",)
    secrets = ("imap_password", "smtp_password")
    replies_inline = False
    keywords = False
    polls = True

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.poll_interval_seconds = self.settings.poll_interval_seconds

    def send(self, message: OutboundMessage) -> SendResult:
        # SMTP replies are the next part of this channel; until then an ack is marked
        # failed at once with this reason instead of being retried for hours
        raise PermanentSendError("email replies (SMTP) are not built yet")

    def check(self) -> str | None:
        s = self.settings
        if not s.imap_host:
            return "imap_host is not set (KANAL_IMAP_HOST)"
        if not s.imap_user:
            return "imap_user is not set (KANAL_IMAP_USER)"
        return None

    def poll(self, cursor: str | None) -> tuple[list[Envelope], str | None]:
        with imap.connect(self.settings) as client:
            mails, next_cursor = imap.read_new(client, self.settings,
                                               imap.Cursor.parse(cursor))
        envelopes = [Envelope(self.channel_id, m.external_id, m.payload,
                              content_type=m.content_type, received_at=m.internal_date)
                     for m in mails]
        return envelopes, str(next_cursor)

    def normalize(self, item: InboxRecord) -> InboundMessage:
        if item.content_type == imap.OVERSIZE_TYPE:
            limits = imap.oversize(item.payload)
            size, limit = limits if limits else (0, self.settings.max_bytes)
            sender = self._sender_of(item.payload)
            raise NormalizeError(f"mail of {size} bytes is over the limit of {limit}"
                                 + (f" (from {sender})" if sender else ""))
        try:
            parsed = parse_mail(item.payload,
                                max_attachment_bytes=self.runtime.settings.max_photo_bytes)
        except MalformedMail as exc:
            raise NormalizeError(f"malformed mail: {exc}") from exc
        attachments = [self.runtime.store.put(a.data, a.media_type, a.filename)
                       for a in parsed.attachments]
        return InboundMessage(
            channel=self.channel_id, official_channel=self.official.id,
            external_id=item.external_id, text=parsed.text, subject=parsed.subject or None,
            sender=Sender("email", parsed.from_address, parsed.from_name),
            received_at=parsed.date or item.received_at, thread_refs=thread_keys(parsed),
            attachments=attachments,
        )

    @staticmethod
    def _sender_of(payload: bytes) -> str | None:
        try:
            return str(message_from_bytes(payload, policy=policy.default).get("From") or "")
        except Exception:
            return None


@hookimpl
def kanal_register_adapters(register):
    register(EmailAdapter)
