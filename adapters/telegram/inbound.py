"""Updates in: the webhook's checks, getUpdates results, and Update -> InboundMessage."""

from __future__ import annotations

import hmac
import json
import re
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse
from telegram import Message, Update
from telegram.constants import ChatType

from adapters.telegram.media import file_ref
from adapters.telegram.outbound import CALLBACK_PREFIX, message_id
from core.adapter import Envelope, InboxRecord, NormalizeError, Notice
from core import tracking
from core.canonical import InboundMessage, Location, MediaRef, Sender
from core.errors import ApiError

if TYPE_CHECKING:
    from adapters.telegram.plugin import TelegramAdapter

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
CONTENT_TYPE = "application/vnd.telegram.update+json"


# the buttons of a rating request (adapters.telegram.outbound.rating_keyboard)
RATE_BUTTON = re.compile(r"^rate:(?P<tid>[0-9A-Za-z]{9}):(?P<score>[1-5])$")

# the Bot API's integers fit in 52 bits (https://core.telegram.org/bots/api#chat); ids are
# inbox and message keys, so anything else is refused rather than stored
MAX_ID = 2 ** 53


def _id(value: Any, *, signed: bool = False) -> int | None:
    """``value`` when it is a Telegram id: an integer below 2**53 (non-negative unless
    ``signed``; group chats have negative ids)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    low = 1 - MAX_ID if signed else 0
    return value if low <= value < MAX_ID else None


def update_id_of(data: Any) -> int | None:
    """The update's id, a non-negative integer of at most 53 bits."""
    return _id(data.get("update_id")) if isinstance(data, dict) else None


def envelope(channel_id: str, update_id: int, payload: bytes) -> Envelope:
    # update_id is what Telegram redelivers under; it is the inbox key
    return Envelope(channel_id, str(update_id), payload, content_type=CONTENT_TYPE)


def check_secret(request: Request, secret: str | None) -> None:
    presented = request.headers.get(SECRET_HEADER)
    if not presented:
        raise ApiError(403, "missing_secret", f"the {SECRET_HEADER} header is missing")
    if secret is None or not hmac.compare_digest(presented.encode(), secret.encode()):
        raise ApiError(403, "bad_secret", f"the {SECRET_HEADER} header does not match")


async def receive(adapter: TelegramAdapter, request: Request) -> JSONResponse:
    """One webhook delivery: 403 before reading anything on a bad secret, 400 for a body
    that is not an Update, else 200 once the update is committed (also for a redelivery
    or a kept-but-unreadable update, so Telegram stops sending it)."""
    check_secret(request, adapter.settings.secret_token)
    body = await request.body()
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed_update", "the request body is not valid JSON")
    update_id = update_id_of(data)
    if update_id is None:
        raise ApiError(400, "malformed_update", "the body must be a JSON object with an "
                       "update_id that is a non-negative integer of at most 53 bits")
    await adapter.runtime.ingest(envelope(adapter.channel_id, update_id, body))
    return JSONResponse({"ok": True})


def polled(channel_id: str, raw_updates: list[Any]) -> tuple[list[Envelope], int | None]:
    """Envelopes for the getUpdates result, and the highest update_id seen."""
    envelopes, last = [], None
    for data in raw_updates:
        update_id = update_id_of(data)
        if update_id is None:
            continue
        envelopes.append(envelope(channel_id, update_id, json.dumps(
            data, ensure_ascii=False, separators=(",", ":")).encode()))
        last = update_id if last is None else max(last, update_id)
    return envelopes, last


def _kind(data: dict[str, Any]) -> str:
    return next((k for k in data if k != "update_id"), "empty")


def _location(msg: Message) -> Location | None:
    if msg.venue is not None:
        place = ", ".join(filter(None, (msg.venue.title, msg.venue.address)))
        return Location(lat=msg.venue.location.latitude, lon=msg.venue.location.longitude,
                        address=place or None)
    if msg.location is not None:
        return Location(lat=msg.location.latitude, lon=msg.location.longitude)
    return None


def _media(msg: Message) -> list[MediaRef]:
    if msg.photo:
        largest = max(msg.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return [MediaRef(url=file_ref(largest.file_id), media_type="image/jpeg")]
    doc = msg.document
    if doc is not None and (doc.mime_type or "").startswith("image/"):
        return [MediaRef(url=file_ref(doc.file_id), media_type=doc.mime_type)]
    return []


def _what(msg: Message) -> str:
    attachment = msg.effective_attachment
    return type(attachment).__name__.lower() if attachment else "service message"


def _button(adapter: TelegramAdapter, update: Update) -> InboundMessage:
    """A press of a rating button: a rating by whoever pressed it (``from.id``), which
    the pipeline takes only from the report's reporter (core.replies.claim_ratings)."""
    query = update.callback_query
    match = RATE_BUTTON.match(query.data or "")
    if match is None or _id(query.from_user.id) is None:
        raise NormalizeError(f"unsupported Telegram callback_query: data {query.data!r}")
    try:
        compact = tracking.normalize(match.group("tid"))
    except tracking.InvalidTrackingID:
        raise NormalizeError(f"callback_query names no tracking id: {query.data!r}") from None
    score = match.group("score")
    return InboundMessage(
        channel=adapter.channel_id, official_channel=adapter.official.id,
        external_id=f"{CALLBACK_PREFIX}{query.id}", text=score,
        sender=Sender("telegram", str(query.from_user.id), query.from_user.full_name or None),
        intent="rating", intent_arg=score,
        extra={"update_id": update.update_id, "rate_tracking_id": compact})


def to_message(adapter: TelegramAdapter, item: InboxRecord) -> InboundMessage:
    try:
        data = json.loads(item.payload)
    except ValueError as exc:
        raise NormalizeError(f"not JSON: {exc}") from exc
    if update_id_of(data) is None:
        raise NormalizeError("not a Telegram Update: no integer update_id")
    try:
        update = Update.de_json(data, None)
    except Exception as exc:  # PTB's own checks of the object's shape
        raise NormalizeError(f"not a Telegram Update: {type(exc).__name__}: {exc}") from exc
    if update.callback_query is not None:
        return _button(adapter, update)
    msg = update.message or update.edited_message
    if msg is None:
        raise NormalizeError(f"unsupported Telegram update: {_kind(data)}")
    chat = msg.chat
    if _id(chat.id, signed=True) is None or _id(msg.message_id) is None:
        raise NormalizeError("chat id or message id is not a Telegram id (an integer of at "
                             "most 53 bits)")
    if chat.type != ChatType.PRIVATE:
        raise NormalizeError(f"message from a {chat.type} chat; only private chats are read")
    edited = update.message is None
    text = msg.text or msg.caption or ""
    own_id = message_id(chat.id, msg.message_id)
    sender = Sender("telegram", str(chat.id),
                    (msg.from_user.full_name if msg.from_user else chat.full_name) or None)
    if edited and not text.strip():
        # a live location moves by editing its message, every few seconds for hours:
        # taken and let go, not quarantined (the first position was kept)
        return InboundMessage(
            channel=adapter.channel_id, official_channel=adapter.official.id,
            external_id=own_id, text="", sender=sender, intent="ignore",
            intent_arg="a live location update", extra={"update_id": update.update_id})
    # an edited caption must not attach the same photo again
    media, location = ([] if edited else _media(msg)), _location(msg)
    if not (text.strip() or media or location):
        # kept for staff (a voice note may hold a complaint), and the citizen is told
        told = adapter.notices.take(str(chat.id)) == 0
        raise NormalizeError(f"unsupported Telegram message: {_what(msg)}",
                             notice=Notice(str(chat.id), "unsupported_message", {})
                             if told else None)
    refs = [own_id] if edited else []
    if not edited and msg.reply_to_message is not None:
        refs.append(message_id(chat.id, msg.reply_to_message.message_id))
    return InboundMessage(
        channel=adapter.channel_id,
        official_channel=adapter.official.id,
        external_id=own_id,
        text=text,
        sender=sender,
        received_at=(msg.edit_date if edited else None) or msg.date,
        location=location,
        media=media,
        thread_refs=refs,
        intent="edit" if edited else "report",
        extra={"update_id": update.update_id},
    )

