"""The Telegram channel: a bot, fed by webhook (secret token) or by getUpdates polling."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.telegram.settings import TelegramSettings
from core.adapter import Adapter, ConnectionTest, Envelope, InboxRecord, NotReady
from core.canonical import InboundMessage, MediaRef, OutboundMessage, SendResult
from core.hookspecs import hookimpl
from core.ratelimit import RateLimiter

if TYPE_CHECKING:
    from fastapi import Request, Response

    from adapters.telegram.bot import BotRunner


class TelegramAdapter(Adapter):
    name = "telegram"
    sender_kind = "telegram"
    Settings = TelegramSettings
    requires = ("telegram",)
    secrets = ("bot_token", "secret_token")
    keywords = True
    replies_inline = False
    # Telegram allows about 30 messages a second per bot
    send_rate_per_second = 25.0
    settings: TelegramSettings

    @property
    def polls(self) -> bool:  # type: ignore[override]
        return self.settings.mode == "polling"

    @property
    def poll_interval_seconds(self) -> float:  # type: ignore[override]
        return self.settings.poll_interval_seconds

    def check(self) -> str | None:
        if self.settings.mode == "webhook" and not self.settings.secret_token:
            return NotReady("setting_required_in_mode", setting="secret_token", mode="webhook")
        return None

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        from adapters.telegram.bot import BotRunner

        s = self.settings
        # no thread and no connection until the first Bot API call
        self.bot: BotRunner = BotRunner(s.bot_token, s.api_base,
                                        timeout=s.request_timeout_seconds)
        # "please write text" at most once per chat in 10 minutes, however many stickers
        self.notices = RateLimiter(per_minute=0.1, burst=1)

    def test_connection(self) -> ConnectionTest:
        """getMe with the token, the secret_token in webhook mode, getWebhookInfo."""
        from adapters.telegram import conntest

        return conntest.run(self)

    def close(self) -> None:
        """Stop the private event loop and close the Bot's HTTP clients."""
        self.bot.close()

    # -- inbound -----------------------------------------------------------------------

    async def webhook(self, request: Request) -> Response | None:
        if request.method != "POST" or self.settings.mode != "webhook":
            return None
        from adapters.telegram.inbound import receive

        return await receive(self, request)

    def poll(self, cursor: str | None) -> tuple[list[Envelope], str | None] | None:
        if not self.polls:
            return None
        from adapters.telegram.inbound import polled

        offset = int(cursor) if cursor else None
        updates = self.bot.updates_request

        async def call(bot):
            # timeout=0: a short poll; the scheduler's interval paces the calls
            await bot.get_updates(offset=offset, timeout=0)
            return updates.last_updates()

        envelopes, last = polled(self.channel_id, self.bot.run(call))
        # the offset confirms everything before it; the runtime stores it only after the
        # envelopes are committed, so a crash between the two repeats the poll
        if last is None:
            return envelopes, cursor
        return envelopes, str(max(last + 1, offset or 0))

    def normalize(self, item: InboxRecord) -> InboundMessage:
        from adapters.telegram.inbound import to_message

        return to_message(self, item)

    # -- outbound ----------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> SendResult:
        from adapters.telegram.outbound import send_text

        return send_text(self.bot, message)

    def fetch_media(self, ref: MediaRef) -> bytes:
        from adapters.telegram.media import fetch

        limit = self.runtime.settings.max_photo_bytes  # type: ignore[attr-defined]
        return fetch(self.bot, ref.url, limit)


@hookimpl
def kanal_register_adapters(register):
    register(TelegramAdapter)
