"""Direct messages: ``GET /2/dm_events`` (user context) read back to the last event seen,
one inbox payload per MessageCreate event (external id ``dm:<event id>``), answered by DM.
Where the app's access tier refuses them, the channel's health says so."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from adapters.twitter.inbound import TWEET_ID, newer, parse_time
from core.adapter import CredentialsRejected, Envelope, InboxRecord, NormalizeError
from core.canonical import InboundMessage, Sender

if TYPE_CHECKING:
    from adapters.twitter.plugin import TwitterAdapter

CONTENT_TYPE = "application/vnd.x.dm-event+json"
PREFIX = "dm:"
# https://docs.x.com/x-api/direct-messages/get-dm-events
DM_FIELDS = ["id", "event_type", "text", "sender_id", "created_at", "dm_conversation_id"]


def fetch(adapter: TwitterAdapter, after: str | None) -> tuple[list[dict], str | None]:
    """MessageCreate events newer than ``after`` (newest first, page by page), with their
    senders, and the newest event id. Raises CredentialsRejected when X refuses."""
    s = adapter.settings
    events: list[dict] = []
    newest, token = None, None
    # no cursor yet: read back first_poll_hours, as for mentions
    cutoff = None if after else adapter.now() - timedelta(hours=s.first_poll_hours)
    for _ in range(s.max_pages):
        page = adapter.call(lambda c: c.get_direct_message_events(
            event_types="MessageCreate", dm_event_fields=DM_FIELDS, expansions=["sender_id"],
            user_fields=["name", "username"], max_results=100, pagination_token=token))
        users = {u.get("id"): u for u in (page.get("includes") or {}).get("users") or []}
        reached = False
        for event in page.get("data") or []:
            event_id = str(event.get("id", ""))
            if not TWEET_ID.match(event_id):
                continue
            if after is not None and int(event_id) <= int(after):
                reached = True
                break
            newest = newer(newest, event_id)
            sent_at = parse_time(event.get("created_at"))
            if cutoff is not None and (sent_at is None or sent_at < cutoff):
                continue
            events.append({"event": event, "users": [users[event["sender_id"]]]
                           if event.get("sender_id") in users else []})
        token = (page.get("meta") or {}).get("next_token")
        if reached or not token:
            break
    return events, newest


def envelopes(channel_id: str, bundles: list[dict]) -> list[Envelope]:
    return [Envelope(channel_id, PREFIX + str(b["event"]["id"]), json.dumps(
        b, ensure_ascii=False, separators=(",", ":")).encode(), content_type=CONTENT_TYPE,
        received_at=parse_time(b["event"].get("created_at"))) for b in bundles]


def poll(adapter: TwitterAdapter, after: str | None) -> tuple[list[Envelope], str | None]:
    """The envelopes and the next DM cursor; a refusal becomes the channel's poll warning
    (mentions go on)."""
    if not adapter.settings.can_reply:
        adapter.poll_warning = ("direct messages: not read without the account's access "
                                "token (ACCESS_TOKEN / ACCESS_TOKEN_SECRET)")
        return [], after
    try:
        bundles, newest = fetch(adapter, after)
    except CredentialsRejected as exc:
        adapter.poll_warning = f"direct messages: not allowed for this app's X access ({exc})"
        return [], after
    return envelopes(adapter.channel_id, bundles), newer(after, newest)


def from_webhook(event: dict[str, Any], users: dict[str, Any]) -> dict | None:
    """An Account Activity ``direct_message_events`` item as the poller's bundle."""
    create = event.get("message_create") or {}
    event_id, sender = str(event.get("id", "")), str(create.get("sender_id", ""))
    if event.get("type") != "message_create" or not (TWEET_ID.match(event_id)
                                                      and TWEET_ID.match(sender)):
        return None
    user = users.get(sender) or {}
    return {"event": {"id": event_id, "event_type": "MessageCreate", "sender_id": sender,
                      "text": (create.get("message_data") or {}).get("text", "")},
            "users": [{"id": sender, "name": user.get("name"),
                       "username": user.get("screen_name")}] if user else []}


def to_message(adapter: TwitterAdapter, item: InboxRecord) -> InboundMessage:
    try:
        bundle = json.loads(item.payload)
        event = bundle["event"]
        event_id, sender = str(event["id"]), str(event["sender_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise NormalizeError(f"not a kanal DM payload: {type(exc).__name__}: {exc}") from exc
    base = dict(channel=adapter.channel_id, official_channel=adapter.official.id,
                external_id=PREFIX + event_id, received_at=parse_time(event.get("created_at")))
    if sender == adapter.settings.user_id:
        return InboundMessage(text="", intent="ignore", intent_arg="our own DM", **base)
    text = str(event.get("text") or "").strip()
    if not text:
        raise NormalizeError("a direct message without text")
    user = (bundle.get("users") or [{}])[0]
    name = user.get("name")
    if user.get("username"):
        name = f"{name} (@{user['username']})" if name else f"@{user['username']}"
    return InboundMessage(text=text, sender=Sender("twitter", sender, name or None), **base)
