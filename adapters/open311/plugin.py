"""Open311 GeoReport v2 (an extra channel, like Telegram): other apps file reports with
``POST /open311/v2/requests.{json,xml}`` and read services and requests without personal
data (docs/open311.md)."""

from __future__ import annotations

import threading

from core.adapter import Adapter, InboxRecord, read_payload
from core.canonical import InboundMessage, Location, MediaRef
from core.hookspecs import hookimpl
from core.identity import contact_senders

from adapters.open311.payloads import Open311Inbox
from adapters.open311.settings import Open311Settings


class Open311Adapter(Adapter):
    name = "open311"
    sender_kind = "open311"
    Settings = Open311Settings
    secrets = ("api_keys",)
    # the answer to the POST carries the tracking ID; later news is read with GET
    replies_inline = True
    rates = False
    takes_replies = False
    settings: Open311Settings

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.http_client = None  # tests may set it before the first fetch
        self._lock = threading.Lock()

    @classmethod
    def router(cls):
        from adapters.open311.routes import router

        return router

    def close(self) -> None:
        if self.http_client is not None:
            self.http_client.close()

    def fetch_media(self, ref: MediaRef) -> bytes:
        """A media_url on one of ``media_hosts``: https, redirects checked, size capped."""
        from core import remote

        with self._lock:
            if self.http_client is None:
                import httpx

                self.http_client = httpx.Client(timeout=20.0)
        limit = self.runtime.settings.max_photo_bytes  # type: ignore[attr-defined]
        return remote.fetch(self.http_client, ref.url, allowlist=self.settings.hosts,
                            max_bytes=limit)

    def normalize(self, item: InboxRecord) -> InboundMessage:
        wrapped = read_payload(Open311Inbox, item, "Open311 inbox")
        r = wrapped.request
        name = " ".join(p for p in (r.first_name, r.last_name) if p) or None
        # typed into another app and never verified: kept apart like the website form's
        senders = contact_senders(r.phone, r.email, name=name, prefix="web-")
        text = r.description or ""
        if r.media_url and not wrapped.fetch_media:
            text = f"{text}\n\nmedia_url: {r.media_url}".strip()
        if not text:
            names = {c["id"]: c.get("id_name") or c["id"] for c in self.runtime.categories()}
            text = names.get(r.service_code, r.service_code)
        location = None
        if r.lat is not None or r.address_string:
            location = Location(lat=r.lat, lon=r.long, address=r.address_string)
        return InboundMessage(
            channel=self.channel_id,
            official_channel=self.official.id,
            external_id=item.external_id,
            text=text,
            sender=senders[0] if senders else None,
            also_known_as=senders[1:],
            received_at=item.received_at,
            category=r.service_code,
            location=location,
            media=[MediaRef(r.media_url)] if r.media_url and wrapped.fetch_media else [],
            extra={"client": wrapped.client},
        )


@hookimpl
def kanal_register_adapters(register):
    register(Open311Adapter)
