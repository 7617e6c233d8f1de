"""SMS and WhatsApp through Twilio (official channel 6): one adapter, one channel each."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from pydantic import ValidationError

from adapters.sms.payloads import MalformedForm, TwilioMessage, TwilioStatus, parse_form
from adapters.sms.settings import SmsSettings
from core.db import writing
from core.adapter import Adapter, InboxRecord, NormalizeError
from core.canonical import InboundMessage, Location, MediaRef, Sender
from core.hookspecs import hookimpl
from core.identity import phone_e164

if TYPE_CHECKING:
    import httpx
    from fastapi import Request, Response
    from twilio.http import HttpClient
    from twilio.rest import Client

    from core.canonical import OutboundMessage, SendResult

log = logging.getLogger(__name__)


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
        handle = phone_e164(m.From)
        return InboundMessage(
            channel=self.channel_id,
            official_channel=self.official.id,
            external_id=m.MessageSid,
            text=m.Body,
            sender=Sender("phone", handle, m.ProfileName) if handle else None,
            received_at=item.received_at,
            location=location,
            media=[MediaRef(x.url, x.content_type) for x in m.media],
        )

    def record_status(self, status: TwilioStatus) -> None:
        from core.outbox import record_delivery

        with writing(self.runtime.engine) as conn:
            found = record_delivery(conn, self.channel_id, status.MessageSid, status.delivery)
        if status.ErrorCode:
            log.warning("channel %s: message %s is %s, Twilio error %s", self.channel_id,
                        status.MessageSid, status.MessageStatus, status.ErrorCode)
        if not found:
            log.info("channel %s: status %s for a message not (yet) recorded: %s",
                     self.channel_id, status.MessageStatus, status.MessageSid)

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
        from adapters.sms.outbound import send_message

        return send_message(self.client, self.settings, message, self.status_callback_url())

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


@hookimpl
def kanal_register_adapters(register):
    register(SmsAdapter)
