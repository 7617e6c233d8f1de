"""The ``email`` channel: citizen mail from an IMAP mailbox, replies over SMTP.

Each poll connects, reads the mail after the cursor (UIDVALIDITY:last UID) with
``BODY.PEEK[]`` and hands it over; the gateway commits it to the inbox before it saves the
new cursor, so an outage or a crash re-reads mail rather than losing it, and the inbox's
unique (channel, Message-ID) keeps a re-read from doubling anything. An IMAP or socket
error propagates: the poll fails, and the next one reconnects and backfills. Between
polls, ``watch`` waits in IMAP IDLE and asks for a poll as soon as mail arrives.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from email import policy
from email.parser import BytesHeaderParser

from sqlalchemy import func, select

from adapters.email import imap, smtp
from adapters.email.loops import AckLimiter, should_acknowledge
from adapters.email.parse import (
    MalformedMail, ParsedMail, header, ids, parse_mail, thread_keys,
)
from adapters.email.settings import EmailSettings
from core.adapter import (
    Adapter, ConnectionTest, Envelope, InboxRecord, NormalizeError, Notice, NotReady,
    PermanentSendError,
)
from core.canonical import InboundMessage, OutboundMessage, Sender, SendResult
from core.hookspecs import hookimpl
from core.models import InboxItem
from core.outbox import backoff

log = logging.getLogger(__name__)
inbox_t = InboxItem.__table__
# enough of a stored mail to read its headers
HEADER_BYTES = 64 * 1024


class EmailAdapter(Adapter):
    name = "email"
    sender_kind = "email"
    Settings = EmailSettings
    requires = ("imapclient",)
    secrets = ("imap_password", "smtp_password")
    second_language = "en"
    polls = True

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        s: EmailSettings = self.settings
        self.poll_interval_seconds = s.poll_interval_seconds
        self._more = False  # the last poll left mail waiting
        self.watches = s.idle
        self.acks = AckLimiter(s.max_acks_per_hour)
        self.own_addresses = {s.address, *s.own_addresses}
        if s.imap_user and "@" in s.imap_user:
            self.own_addresses.add(s.imap_user)
        if s.smtp_user and "@" in s.smtp_user:
            self.own_addresses.add(s.smtp_user)

    def check(self) -> str | None:
        s = self.settings
        if not s.imap_host:
            return NotReady("setting_missing", setting="imap_host", env="KANAL_IMAP_HOST")
        if not s.imap_user:
            return NotReady("setting_missing", setting="imap_user", env="KANAL_IMAP_USER")
        if not s.smtp_host:
            return NotReady("setting_missing_no_ack", setting="smtp_host",
                            env="KANAL_SMTP_HOST")
        return None

    def test_connection(self) -> ConnectionTest:
        """IMAP login and mailbox, SMTP greeting and login: one check each."""
        from adapters.email import conntest

        return conntest.run(self.settings)

    # -- receive -----------------------------------------------------------------------

    def poll(self, cursor: str | None) -> tuple[list[Envelope], str | None]:
        committed = imap.Cursor.parse(cursor)
        with imap.connect(self.settings) as client:
            moved = imap.move_committed(client, self.settings, committed)
            if moved:
                log.info("%s: moved %d processed mails to %s", self.channel_id, moved,
                         self.settings.move_to)
            mails, next_cursor, self._more = imap.read_new(client, self.settings, committed)
        envelopes = [Envelope(self.channel_id, m.external_id, m.payload,
                              content_type=m.content_type, received_at=m.internal_date)
                     for m in mails]
        return envelopes, str(next_cursor)

    def poll_again(self, envelopes: list[Envelope]) -> bool:
        return self._more

    def watch(self, wake: Callable[[], None], stop: threading.Event) -> None:
        """IMAP IDLE on the mailbox, reconnecting with back-off and jitter; every
        (re)connection asks for a poll too, for whatever came while it was away."""
        failures = 0
        while not stop.is_set():
            try:
                with imap.connect(self.settings) as client:
                    if not client.has_capability("IDLE"):
                        log.warning("%s: the IMAP server has no IDLE; polling only",
                                    self.channel_id)
                        return
                    client.select_folder(self.settings.mailbox, readonly=True)
                    failures = 0
                    wake()
                    imap.idle(client, stop, wake,
                              renew_seconds=self.settings.idle_renew_seconds)
            except Exception as exc:
                failures += 1
                delay = backoff(failures, 1.0, 300.0, random.random).total_seconds()
                log.warning("%s: IMAP IDLE connection lost (%s: %s); reconnecting in %.1f s",
                            self.channel_id, type(exc).__name__, exc, delay)
                stop.wait(delay)

    def normalize(self, item: InboxRecord) -> InboundMessage:
        if item.content_type == imap.OVERSIZE_TYPE:
            raise self._too_large(item)
        try:
            parsed = parse_mail(item.payload,
                                max_attachment_bytes=self.runtime.settings.max_photo_bytes)
        except MalformedMail as exc:
            raise NormalizeError(f"malformed mail: {exc}") from exc
        if parsed.is_dsn:
            return InboundMessage(
                channel=self.channel_id, official_channel=self.official.id,
                external_id=item.external_id, text=parsed.text,
                subject=parsed.subject or None, received_at=parsed.date or item.received_at,
                intent="delivery_report", intent_arg=parsed.dsn_original_message_id,
                extra={"status": parsed.dsn_action or "failed"})
        address, name, refs = parsed.from_address, parsed.from_name, thread_keys(parsed)
        if parsed.is_forward and parsed.forwarded_from:
            # staff forwarding a citizen's mail: a new report of the citizen's
            address, name, refs = parsed.forwarded_from, parsed.forwarded_from_name, []
        attachments = [self.runtime.store.put(a.data, a.media_type, a.filename)
                       for a in parsed.attachments]
        return InboundMessage(
            channel=self.channel_id, official_channel=self.official.id,
            external_id=item.external_id, text=parsed.text, subject=parsed.subject or None,
            sender=Sender("email", address, name),
            received_at=parsed.date or item.received_at, thread_refs=refs,
            attachments=attachments, no_reply=self._no_reply(parsed, address),
        )

    def _no_reply(self, parsed: ParsedMail, address: str) -> str | None:
        """Why this mail must not be acknowledged (loop protection), or None."""
        ok, reason = should_acknowledge(parsed, own_addresses=self.own_addresses,
                                        address=address)
        if not ok:
            return reason
        if not self.acks.allow(address):
            return f"over {self.settings.max_acks_per_hour} acknowledgements an hour"
        return None

    def _too_large(self, item: InboxRecord) -> NormalizeError:
        limits = imap.oversize(item.payload)
        size, limit = limits if limits else (0, self.settings.max_bytes)
        reason = f"mail of {size} bytes is over the limit of {limit}"
        try:
            parsed = parse_mail(item.payload, max_attachment_bytes=1)
        except MalformedMail:
            return NormalizeError(reason)
        reason += f" (from {parsed.from_address})"
        if self._no_reply(parsed, parsed.from_address) is not None:
            return NormalizeError(reason)
        return NormalizeError(reason, notice=Notice(parsed.from_address, "too_large",
                                                    {"size": size, "limit": limit}))

    # -- reply -------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> SendResult:
        domain = self.settings.address.rpartition("@")[2] or "localhost"
        message_id = smtp.message_id_for(message, domain)
        try:
            mail = smtp.build(self.settings, message, self._original(message.reply_to),
                              message_id)
        except (ValueError, TypeError) as exc:  # an address no mail can go to
            raise PermanentSendError(f"cannot write the mail: {exc}") from exc
        smtp.deliver(self.settings, mail)
        return SendResult(provider_message_id=message_id)

    def _original(self, external_id: str | None) -> smtp.Original | None:
        """Subject, Message-ID and References of the mail being answered, read from its
        raw copy in the inbox."""
        if not external_id:
            return None
        with self.runtime.engine.connect() as conn:
            head = conn.execute(
                select(func.substr(inbox_t.c.payload, 1, HEADER_BYTES))
                .where(inbox_t.c.channel == self.channel_id,
                       inbox_t.c.external_id == external_id)).scalar()
        if head is None:
            return None
        if head.startswith(imap.OVERSIZE_MARKER):
            head = head[head.find(b"\r\n") + 2:]
        headers = BytesHeaderParser(policy=policy.default).parsebytes(bytes(head))
        mid = next(iter(ids(header(headers, "Message-ID"))), None)
        refs = ids(header(headers, "References")) or ids(header(headers, "In-Reply-To"))
        return smtp.Original(header(headers, "Subject") or "",
                             None if external_id.startswith("uid:") else mid, refs)


@hookimpl
def kanal_register_adapters(register):
    register(EmailAdapter)
