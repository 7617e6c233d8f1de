"""Webhook deliveries in: the verify handshake, the signature, routing each entry to the
channel of its page or account, and one event -> InboundMessage."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ValidationError

from adapters.facebook.payloads import (
    COMMENT, CONTENT_TYPE, METADATA, OBJECTS, Delivery, split,
)
from adapters.facebook.mentions import MENTION, enrich
from core.adapter import Envelope, InboxRecord, NormalizeError
from core.canonical import InboundMessage, Location, MediaRef, Sender
from core.errors import ApiError

if TYPE_CHECKING:
    from adapters.facebook.plugin import MetaAdapter

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Hub-Signature-256"


def verify(adapter: MetaAdapter, request: Request) -> PlainTextResponse:
    """The subscription handshake: ``hub.challenge`` back when the token matches
    (https://developers.facebook.com/docs/graph-api/webhooks/getting-started#verification-requests)."""
    q = request.query_params
    token = q.get("hub.verify_token") or ""
    if q.get("hub.mode") != "subscribe" or not hmac.compare_digest(
            token.encode(), adapter.settings.verify_token.encode()):
        raise ApiError(403, "bad_verify_token",
                       "hub.mode must be subscribe and hub.verify_token the configured one")
    return PlainTextResponse(q.get("hub.challenge") or "")


def check_signature(body: bytes, header: str | None, secret: str) -> None:
    if not header:
        raise ApiError(403, "missing_signature", f"the {SIGNATURE_HEADER} header is missing")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(header.strip().lower().encode(), expected.encode()):
        raise ApiError(403, "bad_signature", f"the {SIGNATURE_HEADER} header does not match")


def siblings(adapter: MetaAdapter) -> dict[tuple[str, str], MetaAdapter]:
    """(platform, account id) -> the ready channel of it, among the channels that share
    this one's app secret: the entries of one callback URL may be for any of them."""
    from adapters.facebook.plugin import MetaAdapter

    found = {}
    for other in adapter.runtime.adapters.values():
        if isinstance(other, MetaAdapter) and hmac.compare_digest(
                other.settings.app_secret.encode(), adapter.settings.app_secret.encode()):
            found.setdefault((other.settings.platform, other.settings.account_id), other)
    return found


async def receive(adapter: MetaAdapter, request: Request) -> JSONResponse:
    """One delivery: 403 before parsing on a missing or bad signature, 400 for a body that
    is not a webhook delivery, else 200 once every event is committed."""
    body = await request.body()
    check_signature(body, request.headers.get(SIGNATURE_HEADER), adapter.settings.app_secret)
    try:
        delivery = Delivery.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ApiError(400, "malformed_delivery", f"not a Meta webhook delivery: "
                       f"{where + ': ' if where else ''}{first['msg']}") from None
    platform = OBJECTS.get(delivery.object)
    if platform is None:
        log.warning("channel %s: webhook object %r not taken", adapter.channel_id,
                    delivery.object)
        return JSONResponse({"ok": True, "stored": 0})
    events, skipped = split(delivery)
    for why in skipped:
        log.info("channel %s: left out %s", adapter.channel_id, why)
    routes = siblings(adapter)
    envelopes = []
    for event in events:
        target = routes.get((platform, event.account_id))
        if target is None:
            log.warning("channel %s: an entry for %s %s, which no channel with this app "
                        "secret has; not stored", adapter.channel_id, delivery.object,
                        event.account_id)
            continue
        body = event.payload
        if event.external_id.startswith(MENTION):
            body = await asyncio.to_thread(enrich, target.graph, body, event.external_id)
        envelopes.append(Envelope(target.channel_id, event.external_id, body,
                                  content_type=CONTENT_TYPE))
    results = await asyncio.gather(*(adapter.runtime.ingest(e) for e in envelopes))
    return JSONResponse({"ok": True, "stored": len(results)})


def _when(ms_or_s: Any) -> datetime | None:
    if not isinstance(ms_or_s, (int, float)) or isinstance(ms_or_s, bool):
        return None
    seconds = ms_or_s / 1000 if ms_or_s > 10 ** 11 else ms_or_s
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None  # the delivery's own time is kept instead


def _attachments(message: dict[str, Any]) -> tuple[list[MediaRef], Location | None, list[str]]:
    media, location, others = [], None, []
    for a in message.get("attachments") or []:
        if not isinstance(a, dict):
            continue
        kind, payload = a.get("type"), a.get("payload") or {}
        if kind == "image" and isinstance(payload.get("url"), str):
            media.append(MediaRef(payload["url"], None))
        elif kind == "location" and isinstance(payload.get("coordinates"), dict):
            c = payload["coordinates"]
            if isinstance(c.get("lat"), (int, float)) and isinstance(c.get("long"), (int, float)):
                location = Location(lat=float(c["lat"]), lon=float(c["long"]),
                                    address=a.get("title") or None)
        else:
            others.append(str(kind))
    return media, location, others


def _base(adapter: MetaAdapter, item: InboxRecord, **kw: Any) -> InboundMessage:
    return InboundMessage(channel=adapter.channel_id, official_channel=adapter.official.id,
                          external_id=item.external_id, **kw)


def _messaging(adapter: MetaAdapter, item: InboxRecord, e: dict[str, Any]) -> InboundMessage:
    sender_id = str((e.get("sender") or {}).get("id") or "")
    if not sender_id.isdigit():
        raise NormalizeError("messaging event without a numeric sender id")
    kind = adapter.sender_kind_of
    when = _when(e.get("timestamp"))
    message = e.get("message")
    if isinstance(message, dict) and (message.get("is_echo")
                                      or sender_id == adapter.settings.account_id):
        # what the account sent comes back as an echo: ours carry our metadata (or a mid
        # kanal recorded, which the pipeline recognises); the rest staff typed in Meta's
        # inbox, recorded on the citizen's report
        text = message.get("text") or ""
        citizen = str((e.get("recipient") or {}).get("id") or "")
        if str(message.get("metadata") or "").startswith(METADATA) or not (
                citizen.isdigit() and text.strip()):
            return _base(adapter, item, text=text, intent="ignore",
                         intent_arg="an echo of a message kanal sent", received_at=when)
        return _base(adapter, item, text=text, sender=Sender(kind, citizen),
                     intent="staff_reply", received_at=when)
    if isinstance(e.get("postback"), dict):
        p = e["postback"]
        text = p.get("title") or p.get("payload") or ""
        if not str(text).strip():
            raise NormalizeError("a postback without a title or payload")
        return _base(adapter, item, text=str(text), sender=Sender(kind, sender_id),
                     received_at=when, extra={"postback": p.get("payload")})
    if not isinstance(message, dict):
        raise NormalizeError("a messaging event without a message")
    media, location, others = _attachments(message)
    text = message.get("text") or ""
    if not (text.strip() or media or location):
        raise NormalizeError("unsupported message: "
                             + (", ".join(others) or "no text or attachment"))
    refs = []
    reply_to = message.get("reply_to")
    if isinstance(reply_to, dict) and reply_to.get("mid"):
        refs.append(str(reply_to["mid"]))
    return _base(adapter, item, text=text, sender=Sender(kind, sender_id), received_at=when,
                 location=location, media=media, thread_refs=refs)


def _comment(adapter: MetaAdapter, item: InboxRecord, field: str, v: dict[str, Any],
             entry_time: Any) -> InboundMessage:
    author = v.get("from") or {}
    author_id = str(author.get("id") or "")
    if not author_id.isdigit():
        raise NormalizeError(f"{field} change without a numeric author id")
    own = author_id == adapter.settings.account_id
    verb = v.get("verb", "add")
    external = item.external_id
    original = external.split(":edited:")[0].removesuffix(":removed")
    when = _when(v.get("created_time")) or _when(entry_time)
    text = v.get("message") if field == "feed" else v.get("text")
    if own:
        # the page's own comments, our public replies among them
        return _base(adapter, item, text=text or "", intent="ignore",
                     intent_arg="a comment by the account itself", received_at=when)
    if verb == "remove":
        # kept in the inbox as a record; the report stays as it was
        return _base(adapter, item, text="", intent="ignore",
                     intent_arg=f"{original} removed on {adapter.settings.platform}",
                     received_at=when)
    media = [MediaRef(v["photo"], None)] if isinstance(v.get("photo"), str) else []
    if not ((text or "").strip() or media):
        raise NormalizeError(f"a {field} change without text or photo")
    sender = Sender(adapter.sender_kind_of, author_id,
                    author.get("name") or author.get("username") or None)
    if verb == "edited":
        return _base(adapter, item, text=text or "", sender=sender, received_at=when,
                     thread_refs=[original], intent="edit")
    refs = []
    parent = v.get("parent_id")
    if field == "feed" and parent and parent != v.get("post_id"):
        refs.append(COMMENT + str(parent))
    elif field == "comments" and parent:
        refs.append(COMMENT + str(parent))
    return _base(adapter, item, text=text or "", sender=sender, received_at=when, media=media,
                 thread_refs=refs, extra={"post_id": v.get("post_id")
                                          or (v.get("media") or {}).get("id")})


def _mention(adapter: MetaAdapter, item: InboxRecord, data: dict[str, Any]) -> InboundMessage:
    fetched = data.get("fetched")
    if not isinstance(fetched, dict):
        raise NormalizeError("an Instagram mention whose text Graph did not give: "
                             f"{data.get('fetch_error') or 'no answer'}")
    text = fetched.get("text") or fetched.get("caption") or ""
    if not text.strip():
        raise NormalizeError("an Instagram mention without text")
    author = fetched.get("from") if isinstance(fetched.get("from"), dict) else {}
    username = fetched.get("username") or author.get("username")
    author_id = str(author.get("id") or "")
    # a mention in a caption names only the author's username
    sender = (Sender("instagram", author_id, username) if author_id.isdigit()
              else Sender("instagram_username", username.lower()) if username else None)
    if sender is not None and sender.handle == adapter.settings.account_id:
        return _base(adapter, item, text=text, intent="ignore",
                     intent_arg="a mention by the account itself")
    return _base(adapter, item, text=text, sender=sender,
                 received_at=_when(data.get("entry_time")),
                 extra={"permalink": fetched.get("permalink")
                        or (fetched.get("media") or {}).get("permalink")})


def to_message(adapter: MetaAdapter, item: InboxRecord) -> InboundMessage:
    try:
        data = json.loads(item.payload)
    except ValueError as exc:
        raise NormalizeError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("event"), dict):
        raise NormalizeError("not a Meta webhook event")
    field, event = data.get("field"), data["event"]
    if field in ("messaging", "messages"):
        return _messaging(adapter, item, event)
    if field in ("feed", "comments"):
        return _comment(adapter, item, field, event, data.get("entry_time"))
    if field == "mentions":
        return _mention(adapter, item, data)
    raise NormalizeError(f"unsupported Meta field: {field}")

