"""The LAPOR! 1708 channel (official channel 8): complaints the national SP4N-LAPOR!
disposes to the province, polled from its API; each status change and officer's note
pushed back as a follow-up; and, where the city does that, reports of other channels
forwarded to LAPOR! (docs/lapor.md)."""

from __future__ import annotations

import functools
from typing import Any

from adapters.lapor.settings import LaporSettings
from core.adapter import (
    Adapter, Check, ConnectionTest, CredentialsRejected, Envelope, InboxRecord, NotReady,
    RateLimited,
)
from core.canonical import InboundMessage, MediaRef, OutboundMessage, SendResult
from core.hookspecs import hookimpl
from core.models import utcnow
from core.settings import resolve


class LaporAdapter(Adapter):
    name = "lapor"
    sender_kind = "lapor"
    Settings = LaporSettings
    requires = ("httpx",)
    secrets = ("token",)
    polls = True
    # the citizen rates the result on LAPOR! itself
    rates = False
    takes_replies = False
    send_rate_per_second = 5.0
    settings: LaporSettings

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        self._client = None
        self._more = False
        self._pages = 0

    @property
    def poll_interval_seconds(self) -> float:  # type: ignore[override]
        return self.settings.poll_interval_seconds

    def now(self):
        return getattr(self.runtime, "clock", utcnow)()

    @functools.cached_property
    def mapping(self):
        from adapters.lapor import mapping
        from core.cases import STATUSES

        return mapping.load(resolve(self.settings.mapping), statuses=STATUSES,
                            categories=[c["id"] for c in self.runtime.categories()])

    @functools.cached_property
    def category_index(self):
        from core.categories import CategoryIndex

        return CategoryIndex(self.runtime.categories(), self.mapping.categories)

    @property
    def client(self):
        if self._client is None:
            from adapters.lapor.client import LaporClient

            self._client = LaporClient(self.settings, self.mapping)
        return self._client

    def check(self) -> str | None:
        from adapters.lapor.mapping import MappingError

        try:
            self.mapping
        except MappingError as exc:
            return NotReady("invalid_file", setting="mapping", detail=str(exc))
        return None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def test_connection(self) -> ConnectionTest:
        """Read the first list page of the agency with the token."""
        from adapters.lapor import inbound
        from adapters.lapor.client import LaporError
        from adapters.lapor.mapping import MappingError

        try:
            self.mapping
        except MappingError as exc:
            return ConnectionTest([Check("mapping", False, str(exc))])
        try:
            items, _, _ = inbound.fetch_page(
                self, inbound.first_since(self.now(), self.settings.first_poll_hours), 1)
        except CredentialsRejected as exc:
            return ConnectionTest([Check("token", False, f"{exc}: ask the LAPOR! admin for "
                                         "the agency's token (KANAL_LAPOR_TOKEN)")])
        except (LaporError, ValueError) as exc:
            return ConnectionTest([Check("list", False, str(exc))])
        return ConnectionTest([Check("list", True, f"agency {self.settings.agency_id}: "
                                     f"{len(items)} complaints on the first page")])

    def poll(self, cursor: str | None) -> tuple[list[Envelope], str | None] | None:
        """One page of the agency's list. While pages remain the cursor names the next
        one (``poll_again``); after the last it holds the API's cursor."""
        from adapters.lapor import inbound
        from adapters.lapor.client import Throttled

        since, page = inbound.read_cursor(cursor)
        if since is None:
            since = inbound.first_since(self.now(), self.settings.first_poll_hours)
        try:
            items, next_page, api_cursor = inbound.fetch_page(self, since, page)
            found = inbound.envelopes(self, items)
        except Throttled as exc:
            self._more, self._pages = False, 0
            raise RateLimited(exc.until, str(exc)) from exc
        except BaseException:
            self._more, self._pages = False, 0  # the round ends here
            raise
        self._pages += 1
        try:
            following = int(next_page) if next_page not in (None, "", False) else None
        except (TypeError, ValueError):
            following = None
        if following is not None and following > page:
            self._more = self._pages < self.settings.max_pages
            return found, inbound.write_cursor(since, following)
        self._more = False
        return found, inbound.write_cursor(str(api_cursor) if api_cursor not in (None, "")
                                           else since)

    def poll_again(self, envelopes: list[Envelope]) -> bool:
        more, self._more = self._more, False
        if not more:
            self._pages = 0
        return more

    def normalize(self, item: InboxRecord) -> InboundMessage:
        from adapters.lapor.inbound import to_message

        return to_message(self, item)

    def outbox_body(self, conn, report, kind: str, text: str,
                    details: dict[str, Any]) -> str | None:
        from adapters.lapor.outbound import follow_up_body

        return follow_up_body(self, conn, report, kind, text, details)

    @property
    def forwards(self) -> bool:
        return self.settings.forward

    def forward_body(self, conn, report) -> str:
        from adapters.lapor.outbound import forward_body

        return forward_body(self, conn, report)

    def send(self, message: OutboundMessage) -> SendResult:
        from adapters.lapor.outbound import send

        return send(self, message)

    def fetch_media(self, ref: MediaRef) -> bytes:
        """An attachment, from the API's host (with the token) or ``media_hosts``."""
        from urllib.parse import urlsplit

        from core import remote

        own = urlsplit(ref.url).hostname == urlsplit(self.settings.base_url).hostname
        return remote.fetch(self.client.http, ref.url, allowlist=self.settings.hosts,
                            max_bytes=self.runtime.settings.max_photo_bytes,  # type: ignore[attr-defined]
                            headers=self.client.auth_header if own else None,
                            allow_http=self.settings.base_url.startswith("http://"))


@hookimpl
def kanal_register_adapters(register):
    register(LaporAdapter)
