"""Facebook Pages and Instagram accounts through one Meta app (official channels 3 and 5):
webhooks in, the Graph API out. One channel per page or account."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from adapters.facebook.settings import MetaSettings
from core.adapter import Adapter, ConnectionTest, InboxRecord
from core.canonical import InboundMessage, MediaRef, OutboundMessage, SendResult
from core.hookspecs import hookimpl

if TYPE_CHECKING:
    import httpx
    from fastapi import Request, Response

    from adapters.facebook.outbound import Graph

log = logging.getLogger(__name__)


class MetaAdapter(Adapter):
    name = "facebook"
    # Page- and Instagram-scoped ids: each platform its own kind (sender_kind_of)
    sender_kind = "facebook"
    Settings = MetaSettings
    requires = ("httpx",)
    secrets = ("app_secret", "verify_token", "page_access_token")
    keywords = True
    replies_inline = False
    # the Send API allows about 250 requests a second per page; stay well below it
    send_rate_per_second = 20.0
    settings: MetaSettings
    # no payloads are polled: the poller checks the page token (debug_token) at start
    # and daily, and its failures show on the channel's health
    polls = True
    poll_interval_seconds = 86400.0

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        # tests and embedders may set this before the first Graph call
        self.transport: httpx.BaseTransport | None = None
        self._graph: Graph | None = None
        self._lock = threading.Lock()

    @property
    def sender_kind_of(self) -> str:
        return self.settings.platform

    @property
    def graph(self) -> Graph:
        with self._lock:
            if self._graph is None:
                from adapters.facebook.outbound import Graph

                self._graph = Graph(self.settings, self.transport)
            return self._graph

    def close(self) -> None:
        with self._lock:
            graph, self._graph = self._graph, None
        if graph is not None:
            graph.close()

    # -- inbound -----------------------------------------------------------------------

    async def webhook(self, request: Request) -> Response | None:
        from adapters.facebook import inbound

        if request.method == "GET":
            return inbound.verify(self, request)
        return await inbound.receive(self, request)

    def now(self) -> datetime:
        clock = getattr(self.runtime, "clock", None)
        return clock() if clock else datetime.now(UTC)

    def poll(self, cursor: str | None) -> None:
        from adapters.facebook.token import judge, read_token
        from core.db import writing
        from core.health import record_credential_expiry

        now = self.now()
        info = read_token(self.graph)
        if info.valid:  # before judging: an expiry within the week is shown too
            with writing(self.runtime.engine) as conn:
                record_credential_expiry(conn, self.channel_id, info.expires_at, now=now)
        expires = judge(info, now)
        log.info("channel %s: page token valid, %s", self.channel_id,
                 f"expires {expires:%Y-%m-%d}" if expires else "does not expire")
        return None

    def test_connection(self) -> ConnectionTest:
        """debug_token: valid, a page token, the permissions kanal needs, the expiry."""
        from adapters.facebook import conntest

        return conntest.run(self.settings, self.transport, now=self.now())

    def normalize(self, item: InboxRecord) -> InboundMessage:
        from adapters.facebook.inbound import to_message

        return to_message(self, item)

    # -- outbound ----------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> SendResult:
        from adapters.facebook.outbound import send

        return send(self.graph, message)

    def fetch_media(self, ref: MediaRef) -> bytes:
        """An attachment from Meta's CDN: no token (the URL is signed), allowlisted
        hosts on every hop, the photo size cap."""
        from core import remote

        s = self.settings
        return remote.fetch(self.graph.client, ref.url, allowlist=s.media_hosts,
                            max_bytes=self.runtime.settings.max_photo_bytes,  # type: ignore[attr-defined]
                            allow_http=s.graph_base.startswith("http://"))


@hookimpl
def kanal_register_adapters(register):
    register(MetaAdapter)
