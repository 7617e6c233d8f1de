"""sendMessage, with Bot API errors mapped to the dispatcher's retry classes; the buttons
of a rating request, and the answer to a press of one (answerCallbackQuery)."""

from __future__ import annotations

import datetime as dt
import logging
import warnings

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.error import (BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter,
                            TelegramError)

from adapters.telegram.bot import BotRunner
from core.adapter import PermanentSendError, RetryLater
from core.canonical import OutboundMessage, SendResult

log = logging.getLogger(__name__)

# Telegram's limit for one text message, and for the text a button press is answered with
MAX_TEXT = 4096
MAX_CALLBACK_TEXT = 200
# the external id of a button press (adapters.telegram.inbound): its answers go to
# answerCallbackQuery as well
CALLBACK_PREFIX = "cb:"


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


def rating_keyboard(message: OutboundMessage) -> InlineKeyboardMarkup | None:
    """Buttons 1 to 5 under a rating request; a press comes back as a callback_query
    ``rate:<tracking id>:<score>`` (adapters.telegram.inbound)."""
    if message.kind != "rating_request" or not message.tracking_id:
        return None
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(str(n), callback_data=f"rate:{message.tracking_id}:{n}")
        for n in range(1, 6)]])


async def _answer_press(bot: Bot, reply_to: str | None, text: str) -> None:
    """Stop the pressed button's spinner and show the answer. Best effort: a press
    older than Telegram keeps (or a retry of this item) cannot be answered, and the
    message that follows says the same."""
    if not (reply_to or "").startswith(CALLBACK_PREFIX):
        return
    short = text if len(text) <= MAX_CALLBACK_TEXT else text[:MAX_CALLBACK_TEXT - 1] + "…"
    try:
        await bot.answer_callback_query(reply_to[len(CALLBACK_PREFIX):], text=short)
    except TelegramError as exc:
        log.info("callback query not answered: %s", exc)


def send_text(runner: BotRunner, message: OutboundMessage) -> SendResult:
    try:
        chat_id = int(message.recipient)
    except ValueError:
        raise PermanentSendError(f"not a Telegram chat id: {message.recipient!r}") from None
    text = message.text if len(message.text) <= MAX_TEXT else message.text[:MAX_TEXT - 1] + "…"
    quoted = _quoted(message.reply_to, chat_id)

    keyboard = rating_keyboard(message)

    async def call(bot: Bot):
        await _answer_press(bot, message.reply_to, text)
        return await bot.send_message(chat_id=chat_id, text=text, reply_parameters=quoted,
                                      reply_markup=keyboard)

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
