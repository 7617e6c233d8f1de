"""sendMessage, with Bot API errors mapped to the dispatcher's retry classes."""

from __future__ import annotations

import datetime as dt
import warnings

from telegram import Bot, ReplyParameters
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter

from adapters.telegram.bot import BotRunner
from core.adapter import PermanentSendError, RetryLater
from core.canonical import OutboundMessage, SendResult

# Telegram's limit for one text message
MAX_TEXT = 4096


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the int form will become timedelta
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def message_id(chat_id: int | str, message_id: int) -> str:
    """Our id of a Telegram message: message ids are only unique within one chat."""
    return f"{chat_id}:{message_id}"


def _quoted(reply_to: str | None, chat_id: int) -> ReplyParameters | None:
    """The citizen's message an answer quotes, when it was in the same chat."""
    chat, _, number = (reply_to or "").partition(":")
    if chat != str(chat_id) or not number.isdigit():
        return None
    return ReplyParameters(message_id=int(number), allow_sending_without_reply=True)


def send_text(runner: BotRunner, message: OutboundMessage) -> SendResult:
    try:
        chat_id = int(message.recipient)
    except ValueError:
        raise PermanentSendError(f"not a Telegram chat id: {message.recipient!r}") from None
    text = message.text if len(message.text) <= MAX_TEXT else message.text[:MAX_TEXT - 1] + "…"
    quoted = _quoted(message.reply_to, chat_id)

    async def call(bot: Bot):
        return await bot.send_message(chat_id=chat_id, text=text, reply_parameters=quoted)

    try:
        sent = runner.run(call)
    except RetryAfter as exc:
        raise RetryLater(retry_seconds(exc), f"Telegram flood control: {exc}") from exc
    except InvalidToken:
        raise  # the bot's configuration, not this message: keep it for when it is fixed
    except (BadRequest, Forbidden, ChatMigrated) as exc:
        # chat not found, bot blocked by the user, a group turned supergroup
        raise PermanentSendError(f"{type(exc).__name__}: {exc}") from exc
    # NetworkError, TimedOut and anything else: transient, the dispatcher retries
    return SendResult(provider_message_id=message_id(chat_id, sent.message_id))
