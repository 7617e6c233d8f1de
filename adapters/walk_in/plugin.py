"""Walk-in counters (official channels 9-13): Pendopo Balai Kota, the Kantor Walikota and
Bupati, the Inspektorat, the Kantor Kecamatan and Kelurahan. Counter staff type the
complaint in at ``/staff/walk-in``; the printed receipt is the acknowledgement, and a
citizen who gave a phone or email and consented also gets it by SMS or email."""

from __future__ import annotations

from fastapi import APIRouter

from adapters.walk_in import form, receipt
from adapters.walk_in.payloads import WalkInInbox
from core.adapter import Adapter, InboxRecord, read_payload
from core.canonical import InboundMessage, Location, Sender
from core.hookspecs import hookimpl
from core.identity import contact_senders


class WalkInAdapter(Adapter):
    name = "walk_in"
    sender_kind = "counter"
    # the receipt is the acknowledgement
    replies_inline = True

    @classmethod
    def router(cls) -> APIRouter:
        router = APIRouter(include_in_schema=False)
        router.include_router(form.router)
        router.include_router(receipt.router)
        return router

    def normalize(self, item: InboxRecord) -> InboundMessage:
        kept = read_payload(WalkInInbox, item, "walk-in")
        r = kept.report
        contact = r.contact
        # told to a clerk, never verified: kept apart from the SMS and email handles
        senders = contact_senders(contact.phone, contact.email, name=contact.name,
                                  prefix="counter-") if contact else []
        notify = []
        if kept.consent and contact is not None:
            notify = [Sender(s.kind.removeprefix("counter-"), s.handle, s.display_name)
                      for s in senders]
        area = kept.office_area
        code = kept.kelurahan_code
        if code is None and area and area.count(".") == 3:
            code = area  # a kelurahan's counter: its own kelurahan
        address = r.location.address if r.location else None
        return InboundMessage(
            channel=self.channel_id, official_channel=self.official.id,
            external_id=item.external_id, text=r.text, category=r.category,
            sender=senders[0] if senders else None, also_known_as=senders[1:],
            received_at=item.received_at,
            location=Location(address=address, kelurahan_code=code,
                              area_code=None if code else area),
            attachments=[f.as_file() for f in kept.files], notify=notify,
            extra={"office_id": kept.office_id, "clerk": kept.clerk},
        )


@hookimpl
def kanal_register_adapters(register):
    register(WalkInAdapter)
