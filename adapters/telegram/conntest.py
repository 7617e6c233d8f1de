"""The Telegram channel's connection test: ``getMe`` with the channel's token (on a
runner of its own, so that a running channel's cached bot cannot answer for a token
revoked since), then ``getWebhookInfo``: in webhook mode the webhook must point at kanal,
in polling mode there must be none (Telegram refuses getUpdates while one is set)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from telegram.error import InvalidToken, TelegramError, TimedOut

from adapters.telegram.bot import BotRunner
from core import connection
from core.adapter import Check, ConnectionTest

if TYPE_CHECKING:
    from adapters.telegram.plugin import TelegramAdapter

REFUSED = ("Telegram refused the bot token: copy it again from @BotFather (/mybots, "
           "API Token), or /revoke there and set the new one")


def run(adapter: TelegramAdapter) -> ConnectionTest:
    s = adapter.settings
    seconds = connection.timeout(s.request_timeout_seconds)
    runner = BotRunner(s.bot_token, s.api_base, timeout=seconds)
    secrets = (s.bot_token, s.secret_token)

    async def me(bot):  # the runner's first call is getMe (Bot.initialize)
        return bot.bot

    async def webhook_info(bot):
        return await bot.get_webhook_info()

    try:
        try:
            user = runner.run(me)
        except Exception as exc:
            return ConnectionTest([Check("bot token", False, connection.redact(
                _failure(exc, s.api_base, seconds), secrets))])
        checks = [Check("bot token", True, f"the token belongs to @{user.username}")]
        if s.mode == "webhook":
            checks.append(Check("secret_token", True, "set") if s.secret_token else Check(
                "secret_token", False, "secret_token is not set: webhook mode needs one "
                "(KANAL_TELEGRAM_SECRET_TOKEN), given to setWebhook too"))
        try:
            info = runner.run(webhook_info)
        except Exception as exc:
            checks.append(Check("webhook", False, connection.redact(
                "getWebhookInfo failed: " + _failure(exc, s.api_base, seconds), secrets)))
        else:
            checks.append(_webhook(adapter, info))
        return ConnectionTest(checks)
    finally:
        runner.close()


def _failure(exc: Exception, api_base: str, seconds: float) -> str:
    if isinstance(exc, InvalidToken):
        return REFUSED
    # PTB raises TimedOut, or NetworkError from httpx's error, when no answer came (a
    # NetworkError without a cause is an HTTP answer: a 500 or 502 of the Bot API)
    if isinstance(exc, (TimedOut, OSError)) or isinstance(exc.__cause__, (httpx.HTTPError,
                                                                            OSError)):
        return connection.unreachable("the Bot API", api_base, exc, seconds)
    if isinstance(exc, TelegramError):
        return f"the Bot API answered: {exc.message}; try again later"
    return f"{type(exc).__name__}: {exc}"


def _webhook(adapter: TelegramAdapter, info) -> Check:
    base = adapter.runtime.settings.public_base_url.rstrip("/")  # type: ignore[attr-defined]
    expected = f"{base}/webhooks/{adapter.channel_id}" if base else None
    if adapter.settings.mode == "polling":
        if info.url:
            return Check("webhook", False,
                         f"a webhook is set ({info.url}): Telegram refuses getUpdates while "
                         "it is; call deleteWebhook, or switch the channel to webhook mode")
        return Check("webhook", True, "no webhook is set, as polling needs")
    if not info.url:
        return Check("webhook", False,
                     "Telegram has no webhook for this bot: call setWebhook with url="
                     f"{expected or '<KANAL_PUBLIC_BASE_URL>/webhooks/' + adapter.channel_id}"
                     " and the channel's secret_token (adapters/telegram/README.md)")
    if expected and info.url != expected:
        return Check("webhook", False,
                     f"the webhook points at {info.url}, not at {expected}: call setWebhook "
                     "again with kanal's URL")
    if info.last_error_message and info.pending_update_count:
        return Check("webhook", False,
                     f"Telegram cannot deliver to {info.url} ({info.pending_update_count} "
                     f"updates waiting): {info.last_error_message}")
    return Check("webhook", True, f"set to {info.url}")
