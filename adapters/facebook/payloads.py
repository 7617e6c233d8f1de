"""Meta's webhook deliveries, cut into one event each: the shape the inbox keeps.

A delivery is ``{"object": "page"|"instagram", "entry": [{"id", "time", "messaging": [...],
"changes": [{"field", "value"}]}]}``
(https://developers.facebook.com/docs/graph-api/webhooks/getting-started#event-notifications).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CONTENT_TYPE = "application/vnd.meta.webhook-event+json"
OBJECTS = {"page": "facebook", "instagram": "instagram"}
# prefixes of our external ids for what is answered by a private reply
COMMENT, POST = "comment:", "post:"
# what kanal's Send API messages carry as metadata, so their echoes are known as ours
METADATA = "kanal:"


class Change(BaseModel):
    model_config = ConfigDict(extra="allow")
    field: str
    value: Any = None


class Entry(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    time: int | None = None
    messaging: list[dict[str, Any]] = Field(default_factory=list)
    changes: list[Change] = Field(default_factory=list)


class Delivery(BaseModel):
    model_config = ConfigDict(extra="allow")
    object: str
    entry: list[Entry]


@dataclass(slots=True)
class Event:
    """One message, postback or change of one entry, with the id it is kept under."""

    account_id: str
    external_id: str
    payload: bytes


class Skipped(Exception):
    """An event kanal does not take (a read receipt, a field nobody asked for)."""


def _item(obj: str, entry: Entry, field: str, event: dict[str, Any]) -> bytes:
    return json.dumps({"object": obj, "entry_id": entry.id, "entry_time": entry.time,
                       "field": field, "event": event},
                      ensure_ascii=False, separators=(",", ":")).encode()


def messaging_id(event: dict[str, Any]) -> str:
    for key in ("message", "postback"):
        part = event.get(key)
        if isinstance(part, dict) and isinstance(part.get("mid"), str) and part["mid"]:
            return part["mid"]
    if isinstance(event.get("postback"), dict):
        # postbacks before Graph v8 carry no mid
        sender = (event.get("sender") or {}).get("id")
        return f"postback:{sender}:{event.get('timestamp')}"
    raise Skipped("a messaging event that is no message or postback "
                  f"({', '.join(k for k in event if k not in ('sender', 'recipient', 'timestamp'))})")


def change_id(entry: Entry, change: Change) -> str:
    v = change.value if isinstance(change.value, dict) else {}
    if change.field == "feed":
        item, verb = v.get("item"), v.get("verb")
        if item == "comment" and v.get("comment_id"):
            base = COMMENT + str(v["comment_id"])
        elif item in ("post", "status", "photo") and v.get("post_id"):
            base = POST + str(v["post_id"])
        else:
            raise Skipped(f"feed item {item!r}")
        if verb == "add":
            return base
        if verb == "edited":
            return f"{base}:edited:{entry.time}"
        if verb == "remove":
            return f"{base}:removed"
        raise Skipped(f"feed verb {verb!r}")
    if change.field == "comments" and v.get("id"):
        return COMMENT + str(v["id"])
    if change.field == "mentions" and v.get("media_id"):
        return f"mention:{v['media_id']}:{v.get('comment_id') or ''}"
    if change.field == "messages" and isinstance(change.value, dict):
        return messaging_id(change.value)
    raise Skipped(f"field {change.field!r}")


def split(delivery: Delivery) -> tuple[list[Event], list[str]]:
    """The delivery's events, and why each event left out was left out."""
    events, skipped = [], []
    for entry in delivery.entry:
        for event in entry.messaging:
            try:
                events.append(Event(entry.id, messaging_id(event),
                                    _item(delivery.object, entry, "messaging", event)))
            except Skipped as why:
                skipped.append(str(why))
        for change in entry.changes:
            try:
                external_id = change_id(entry, change)
            except Skipped as why:
                skipped.append(str(why))
                continue
            event = change.value if isinstance(change.value, dict) else {}
            events.append(Event(entry.id, external_id,
                                _item(delivery.object, entry, change.field, event)))
    return events, skipped
