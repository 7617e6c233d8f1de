"""The X (Twitter) channel: mentions and direct messages of one account, polled with
tweepy (API v2) or pushed by the Account Activity webhook, answered by reply tweet or DM."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from adapters.twitter.settings import TwitterSettings
from core.adapter import Adapter, ConnectionTest, Envelope, InboxRecord
from core.canonical import InboundMessage, MediaRef, OutboundMessage, SendResult
from core.hookspecs import hookimpl
from core.models import utcnow

if TYPE_CHECKING:
    from fastapi import Request, Response


class TwitterAdapter(Adapter):
    name = "twitter"
    sender_kind = "twitter"
    Settings = TwitterSettings
    requires = ("tweepy",)
    secrets = ("bearer_token", "consumer_key", "consumer_secret", "access_token",
               "access_token_secret")
    keywords = True
    polls = True
    # POST /2/tweets allows 100 per 15 minutes per user: a burst of replies goes out at
    # once, and X's 429 (x-rate-limit-reset) holds the rest back through RetryLater
    send_rate_per_second = 1.0
    settings: TwitterSettings

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        from adapters.twitter.client import build_client

        self.client = build_client(self.settings)

    @property
    def poll_interval_seconds(self) -> float:  # type: ignore[override]
        return self.settings.poll_interval_seconds

    def now(self):
        return getattr(self.runtime, "clock", utcnow)()

    def call(self, fn: Callable[[Any], Any]) -> Any:
        """``fn(client)``, with tweepy's errors as kanal's (RateLimited, ...)."""
        from adapters.twitter.client import mapped

        try:
            return fn(self.client)
        except Exception as exc:
            kanal_exc = mapped(exc, self.now())
            if kanal_exc is exc:
                raise
            raise kanal_exc from exc

    def test_connection(self) -> ConnectionTest:
        """Read the account with the bearer token, and in user context when replies can."""
        from adapters.twitter import conntest

        return conntest.run(self.settings)

    def close(self) -> None:
        self.client.session.close()
        if getattr(self, "_media_client", None) is not None:
            self._media_client.close()

    def poll(self, cursor: str | None) -> tuple[list[Envelope], str | None] | None:
        from adapters.twitter import dms
        from adapters.twitter.inbound import envelopes, fetch_mentions, newer, read_cursor

        self.poll_warning = None
        since, dm_after = read_cursor(cursor)
        bundles, newest = fetch_mentions(self, since)
        found = envelopes(self.channel_id, bundles)
        if self.settings.direct_messages:
            more, dm_after = dms.poll(self, dm_after)
            found += more
        # the cursor is stored by the runtime only after the envelopes are committed
        return found, write_cursor(newer(since, newest), dm_after)

    async def webhook(self, request: Request) -> Response | None:
        from adapters.twitter.webhook import crc, receive

        if request.method == "GET":
            return crc(self, request)
        return await receive(self, request)

    def normalize(self, item: InboxRecord) -> InboundMessage:
        from adapters.twitter import dms
        from adapters.twitter.inbound import to_message

        if item.external_id.startswith(dms.PREFIX):
            return dms.to_message(self, item)
        return to_message(self, item)

    def send(self, message: OutboundMessage) -> SendResult:
        from adapters.twitter.outbound import send_reply

        return send_reply(self, message, self.now())

    def fetch_media(self, ref: MediaRef) -> bytes:
        """A photo of a mention, from X's media hosts only (on every redirect hop)."""
        import httpx

        from core import remote

        if getattr(self, "_media_client", None) is None:
            self._media_client = httpx.Client(timeout=self.settings.request_timeout_seconds)
        return remote.fetch(self._media_client, ref.url, allowlist=self.settings.media_hosts,
                            max_bytes=self.runtime.settings.max_photo_bytes,  # type: ignore[attr-defined]
                            allow_http=self.settings.api_base.startswith("http://"))


def write_cursor(since: str | None, dm_after: str | None) -> str | None:
    """A bare tweet id while only mentions are read; both ids once DMs are."""
    if dm_after is None:
        return since
    return json.dumps({"mentions": since, "dms": dm_after}, separators=(",", ":"))


@hookimpl
def kanal_register_adapters(register):
    register(TwitterAdapter)
