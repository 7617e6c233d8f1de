"""The city website channel (official channel 7): the /lapor form and its JSON endpoint."""

from __future__ import annotations

from fastapi import APIRouter

from adapters.web import form, inbound
from adapters.web.payloads import WebInbox
from core.adapter import Adapter, InboxRecord, read_payload
from core.canonical import InboundMessage, Location
from core.hookspecs import hookimpl
from core.identity import contact_senders
from core.ratelimit import RateLimiter


class WebAdapter(Adapter):
    name = "web"
    sender_kind = "web"
    # the receipt page is the acknowledgement
    replies_inline = True

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        settings = self.runtime.settings
        self.limiter = RateLimiter(settings.web_rate_per_minute, settings.web_rate_burst)

    @classmethod
    def router(cls) -> APIRouter:
        router = APIRouter()
        router.include_router(form.router)
        router.include_router(inbound.router)
        return router

    def normalize(self, item: InboxRecord) -> InboundMessage:
        wrapped = read_payload(WebInbox, item, "web inbox")
        r = wrapped.report
        senders = []
        if r.contact is not None:
            # typed into a public form and never verified: kept apart from SMS/email handles
            senders = contact_senders(r.contact.phone, r.contact.email, name=r.contact.name,
                                      prefix="web-")
        location = None
        if r.location is not None:
            location = Location(lat=r.location.lat, lon=r.location.lon,
                                address=r.location.address)
        return InboundMessage(
            channel=self.channel_id,
            official_channel=self.official.id,
            external_id=item.external_id,
            text=r.text,
            sender=senders[0] if senders else None,
            also_known_as=senders[1:],
            received_at=item.received_at,
            category=r.category,
            location=location,
            attachments=[p.as_file() for p in wrapped.photos],
            extra={"source": wrapped.source},
        )


@hookimpl
def kanal_register_adapters(register):
    register(WebAdapter)
