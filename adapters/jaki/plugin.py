"""The JAKI app channel (official channel 1)."""

from __future__ import annotations

import functools
import threading

from core.adapter import Adapter, InboxRecord, NotReady, PermanentSendError, read_payload
from core.canonical import InboundMessage, Location, OutboundMessage, Sender, SendResult
from core.categories import CategoryError, CategoryIndex, load_mapping
from core.hookspecs import hookimpl
from core.identity import contact_senders
from core.settings import resolve

from adapters.jaki.inbound import router
from adapters.jaki.payloads import JakiInbox
from adapters.jaki.settings import JakiSettings


class JakiAdapter(Adapter):
    name = "jaki"
    sender_kind = "jaki"
    Settings = JakiSettings
    secrets = ("api_keys", "status_callback_secret")
    replies_inline = True
    settings: JakiSettings

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        # tests and embedders may set it before the first send
        self.http_client = None
        self._lock = threading.Lock()

    @classmethod
    def router(cls):
        return router

    @property
    def pushes_notices(self) -> bool:
        """The app is told of later news only when it gave kanal a status callback."""
        return self.settings.status_callback_url is not None

    def send(self, message: OutboundMessage) -> SendResult:
        """POST one notice's JSON to the status callback (adapters/jaki/callback.py)."""
        from adapters.jaki import callback

        url = self.settings.status_callback_url
        if url is None:  # unset since the notice was queued
            raise PermanentSendError("the channel has no status_callback_url any more")
        with self._lock:
            if self.http_client is None:
                import httpx

                self.http_client = httpx.Client(
                    timeout=self.settings.status_callback_timeout_seconds)
        return callback.post(self.http_client, str(url), self.settings.status_callback_secret,
                             message)

    def close(self) -> None:
        if self.http_client is not None:
            self.http_client.close()

    @functools.cached_property
    def category_index(self) -> CategoryIndex:
        """kanal's categories by every name they go by, the channel's own mapping first."""
        known = self.runtime.categories()
        path = self.settings.category_map
        mapping = (load_mapping(resolve(path), [c["id"] for c in known])
                   if path is not None else {})
        return CategoryIndex(known, mapping)

    def check(self) -> str | None:
        try:
            self.category_index
        except CategoryError as exc:
            return NotReady("invalid_file", setting="category_map", detail=str(exc))
        return None

    def normalize(self, item: InboxRecord) -> InboundMessage:
        wrapped = read_payload(JakiInbox, item, "JAKI inbox")
        r = wrapped.report
        who = r.reporter
        sender = None
        aka: list[Sender] = []
        if who is not None and who.app_user_id:
            sender = Sender(f"jaki:{wrapped.client}", who.app_user_id, who.name)
            # the app verifies phone and email at sign-up, so they identify the person
            aka = contact_senders(who.phone, who.email, name=who.name)
        location = None
        if r.location is not None and (r.location.lat is not None or r.location.address):
            location = Location(lat=r.location.lat, lon=r.location.lon,
                                address=r.location.address)
        category, source_category = self.category_index.resolve(r.category)
        return InboundMessage(
            channel=self.channel_id,
            official_channel=self.official.id,
            external_id=item.external_id,
            text=r.text,
            sender=sender,
            also_known_as=aka,
            received_at=r.reported_at or item.received_at,
            category=category,
            source_category=source_category,
            location=location,
            attachments=[p.as_file() for p in wrapped.photos],
        )


@hookimpl
def kanal_register_adapters(register):
    register(JakiAdapter)
