"""SMS and WhatsApp through Twilio (official channel 6): one adapter, one channel each."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy import select

from adapters.sms.payloads import (
    WHATSAPP, MalformedForm, TwilioMessage, TwilioStatus, parse_form,
)
from adapters.sms.settings import SmsSettings
from core.db import writing
from core.adapter import Adapter, ConnectionTest, InboxRecord, NormalizeError
from core.canonical import InboundMessage, Location, MediaRef, Sender
from core.hookspecs import hookimpl
from core.identity import phone_e164
from core.models import InboxItem

if TYPE_CHECKING:
    import httpx
    from fastapi import Request, Response
    from twilio.http import HttpClient
    from twilio.rest import Client

    from core.canonical import OutboundMessage, SendResult

log = logging.getLogger(__name__)
BSUID_KIND = "whatsapp_bsuid"
inbox_t = InboxItem.__table__


class SmsAdapter(Adapter):
    name = "sms"
    sender_kind = "phone"
    Settings = SmsSettings
    requires = ("twilio", "httpx")
    secrets = ("auth_token",)
    keywords = True
    replies_inline = False
    # Twilio queues what a sender cannot send at once; a channel may set a lower rate
    send_rate_per_second = 250.0
    settings: SmsSettings

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        # tests and embedders may set these before the first send / fetch
        self.http_client: HttpClient | None = None
        self.media_client: httpx.Client | None = None
        self._client: Client | None = None
        self._lock = threading.Lock()

    # -- inbound -----------------------------------------------------------------------

    async def webhook(self, request: Request) -> Response | None:
        from adapters.sms.inbound import handle

        return await handle(self, request)

    def normalize(self, item: InboxRecord) -> InboundMessage:
        try:
            m = TwilioMessage.from_params(parse_form(item.payload))
        except (MalformedForm, ValidationError) as exc:
            raise NormalizeError(f"not a Twilio message: {exc}") from exc
        location = None
        if m.Latitude is not None and m.Longitude is not None:
            place = ", ".join(p for p in (m.Label, m.Address) if p) or None
            location = Location(lat=m.Latitude, lon=m.Longitude, address=place)
        if not m.Body and not m.media and location is None:
            raise NormalizeError(f"empty message (type {m.MessageType or 'unknown'})")
        handles = senders(m)
        sender = handles[0] if handles else None
        # a WhatsApp message on an SMS number's webhook is answered on WhatsApp
        reply_address = (WHATSAPP + sender.handle if sender and m.by_whatsapp
                         and not self.settings.whatsapp else None)
        return InboundMessage(
            channel=self.channel_id,
            official_channel=self.official.id,
            external_id=m.MessageSid,
            text=m.Body,
            sender=sender,
            also_known_as=handles[1:],
            reply_address=reply_address,
            received_at=item.received_at,
            location=location,
            media=[MediaRef(x.url, x.content_type) for x in m.media],
        )

    def answered_from(self, reply_to: str | None) -> str:
        """The WhatsApp sender an answer on WhatsApp goes out from: the address the
        citizen wrote to, else the channel's own number on WhatsApp."""
        if self.settings.whatsapp:
            return self.settings.number
        if reply_to:
            with self.runtime.engine.connect() as conn:
                payload = conn.execute(select(inbox_t.c.payload).where(
                    inbox_t.c.channel == self.channel_id,
                    inbox_t.c.external_id == reply_to)).scalar()
            to = parse_form(payload).get("To", "") if payload else ""
            if to.lower().startswith(WHATSAPP) and (number := phone_e164(to)):
                return WHATSAPP + number
        return WHATSAPP + self.settings.number

    def record_status(self, status: TwilioStatus) -> None:
        from core.outbox import record_delivery, record_refusal

        with writing(self.runtime.engine) as conn:
            found = record_delivery(conn, self.channel_id, status.MessageSid, status.delivery)
            if status.ErrorCode and status.delivery == "failed":
                record_refusal(conn, self.channel_id, status.MessageSid, status.refusal)
        if status.ErrorCode:
            log.warning("channel %s: message %s is %s, Twilio error %s", self.channel_id,
                        status.MessageSid, status.MessageStatus, status.ErrorCode)
        if not found:
            log.info("channel %s: status %s for a message not (yet) recorded: %s",
                     self.channel_id, status.MessageStatus, status.MessageSid)

    def test_connection(self) -> ConnectionTest:
        """Fetch the account, and look the SMS number up among its numbers."""
        from adapters.sms import conntest

        return conntest.run(self.settings, self.http_client)

    # -- outbound ----------------------------------------------------------------------

    @property
    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                from adapters.sms.outbound import build_client

                self._client = build_client(self.settings, self.http_client)
            return self._client

    def status_callback_url(self) -> str | None:
        base = self.runtime.settings.public_base_url.rstrip("/")
        return f"{base}/webhooks/{self.channel_id}" if base else None

    def send(self, message: OutboundMessage) -> SendResult:
        from adapters.sms.outbound import recipient, send_message

        to = recipient(self.settings, message.recipient)
        sender = (self.answered_from(message.reply_to) if to.startswith(WHATSAPP)
                  else self.settings.number)
        return send_message(self.client, message, to=to, from_=sender,
                            status_callback=self.status_callback_url())

    def fetch_media(self, ref: MediaRef) -> bytes:
        from adapters.sms import media

        with self._lock:
            if self.media_client is None:
                import httpx

                self.media_client = httpx.Client(timeout=self.settings.timeout_seconds)
        return media.fetch(
            self.media_client, ref.url,
            auth=(self.settings.account_sid, self.settings.auth_token),
            allowlist=self.settings.media_hosts,
            max_bytes=self.runtime.settings.max_photo_bytes,
            allow_http=self.settings.api_base.startswith("http://"))


def senders(m: TwilioMessage) -> list[Sender]:
    """Who wrote: the phone number (SMS and WhatsApp share it), and on WhatsApp the
    business-scoped user id, which is the only handle when WhatsApp withholds the number.
    Nothing but a phone number string becomes a phone."""
    out = []
    if (phone := phone_e164(m.From)) is not None:
        out.append(Sender("phone", phone, m.ProfileName))
    if (bsuid := m.bsuid) is not None:
        out.append(Sender(BSUID_KIND, bsuid, m.ProfileName))
    return out


@hookimpl
def kanal_register_adapters(register):
    register(SmsAdapter)
